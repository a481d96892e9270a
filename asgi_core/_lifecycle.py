"""One run of an application's lifecycle: what starts, in which order, and how it is undone.

Startup steps, in order; each is bounded by ``startup_timeout``:

1. enter the user ``lifespan`` context (it gets the run options it accepts; a yielded mapping
   becomes lifespan state);
2. the ``on_startup`` hooks (each gets the run options it accepts);
3. ``broker.start()`` of each broker, in order (the list as the ``on_startup`` hooks left it);
4. the ``after_startup`` hooks;
5. start the lifespans of mounted apps (``_sub_lifespans.py``; it bounds itself per app).

Shutdown steps, each bounded by ``shutdown_timeout`` and run even if an earlier one failed:

1. shut down the mounted apps' lifespans, if they started;
2. the ``on_shutdown`` hooks;
3. ``broker.stop()`` (or ``broker.close()``) of each broker whose ``start()`` was called, in
   reverse order;
4. the ``after_shutdown`` hooks;
5. exit the user ``lifespan`` context, if it was entered.

Contexts (the user lifespan, the mounted apps) are a run's ``contexts`` (``_contexts.py``),
entered and exited by steps in detached tasks of their own, so our time limits never
interleave with the scopes a user's lifespan opens, and nothing stays open in the caller:
``startup()`` and ``shutdown()`` may run in different tasks and cancel scopes. ``close()`` (or
leaving ``async with lifecycle``) cancels and awaits a context task still running after a
failed or interrupted exit. A run with no context holds no ``RunContexts`` and starts no
task. Hooks are called by the application's ``HookCaller`` (``_hooks.py``: run options, or
FastStream's DI). The steps themselves, what names them and what of them is reused from one
cycle to the next (``Plan``), are in ``_steps.py``.

How a stage runs: its steps are one list, awaited in order by the stage's own loop. On asyncio
each step becomes the current step of the stage's watch (``_concurrency._watchdog``: one timer
per loop looks at every running stage, so a step costs one store and no timer); on trio, and
for a shielded stage under an anyio cancel scope, the same list runs in a cancel scope
(``_concurrency._phases``). The brokers' steps are in the list from the start; a hook that
changes the broker list before their turn has them replaced in it (``brokers_changed``), so
the list read is the one the ``on_startup`` hooks left. A lifespan cycle renews the record the
last one's driver released (``renew``; a record is built only when there is none free), with
the startup list it ran while the plan is the same, and a cycle of parameterless ``async def``
hooks builds no step at all.

The first failing startup step stops the startup. What had already started is undone with the
same shutdown sequence minus the hooks: the shutdown hooks belong to a completed startup. After a
completed startup, ``shutdown()`` runs the whole sequence exactly once, however often it is
called. Cleanup is shielded from an outer cancellation (on trio), and a cancellation that arrives
during it lets the remaining steps run before it propagates.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from asgi_core._concurrency import DeadlineExceeded, current_library
from asgi_core._concurrency._phases import ANYIO_ON_ASYNCIO, run_scoped, under_an_anyio_scope
from asgi_core._concurrency._watchdog import _COUNTED, _Watch
from asgi_core._contexts import Mounted, RunContexts
from asgi_core._steps import Failure, Plan, Step, annotate, broker_steps
from asgi_core.exceptions import HookTimeoutError

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from asgi_core._brokers import BrokerList
    from asgi_core._hooks import HookCaller

__all__ = ["Lifecycle"]


class Lifecycle:
    """The steps of one start-to-stop run, and what of them has happened.

    Renewed for every run (``renew``), so it does little work until a step needs it: the steps
    of the hooks and brokers come ready from the application's ``Plan`` (fixed now: a hook
    registered during the run waits for the next one). Once the lifespan driver that ran it
    is done with it, it sets ``released``, and the application renews the same record for its
    next run instead of building one: building an object of this many fields costs CPython
    3.11 some 4,500 machine instructions, a tenth of a cycle. Its watch is kept too (each
    stage renews it on its own task, or builds one on another loop), without its task: the
    run's last stage, always a cleanup, lets go of it, so a finished run holds no task (nor
    its context variables, nor an exception it ended with). A record of ``start()`` and
    ``stop()`` is never released: the next run gets a new
    one, so a run still going somewhere never has its record renewed under it.
    """

    __slots__ = (
        "_at",
        "_brokers",
        "_caller",
        "_cleaning",
        "_current",
        "_failures",
        "_pairs",
        "_plan",
        "_shutdown_timeout",
        "_startup_timeout",
        "_steps",
        "_steps_of",
        "_watch",
        "contexts",
        "released",
        "started",
        "starting",
        "state",
        "stopped",
    )

    def __init__(self, brokers: BrokerList, caller: HookCaller) -> None:
        """A record no run holds yet (``released``): ``renew`` begins each run."""
        self._brokers = brokers
        self._caller = caller
        # renew leaves these be: each startup sets the first two before they are read, a
        # stage resets the flags in a finally, and only a context fills the state (renew
        # gives a run with contexts a new one).
        self._steps: list[Step] = []  # of the startup, once it began
        # the plan whose startup _steps holds (None: none yet, or a run with contexts made
        # it), so the next run of that plan copies nothing: a record runs one stage at a time
        self._steps_of: Plan | None = None
        self._at = 0  # where the brokers' steps begin in it
        self._cleaning = False
        self.starting = False  # startup() is running (perhaps in another task)
        self.state: dict[str, Any] = {}
        # the run's user lifespan and mounted apps, if it has either: close() has work then;
        # without them it has none, and the driver skips awaiting it
        self.contexts: RunContexts | None = None
        # The stages' watch (asyncio), kept from run to run (_Watch.renew): its step is the
        # step running. Each stage points it at the task running the stage (the lifespan driver's
        # for both, or start()'s, then stop()'s): stages of a record never overlap.
        self._watch: _Watch | None = None
        self.started = self.stopped = False
        self.released = True

    def renew(
        self,
        plan: Plan,
        lifespan: Callable[..., AbstractAsyncContextManager[Any]] | None,
        options: Mapping[str, object],
        startup_timeout: float | None,
        shutdown_timeout: float | None,
        mounted: Mounted | None,
    ) -> None:
        """Make this released record the record of a run that has not begun."""
        self._plan = plan
        self._pairs = plan.pairs  # the brokers of this run (brokers_changed may replace them)
        self._startup_timeout = startup_timeout
        self._shutdown_timeout = shutdown_timeout
        self._current: Step | None = None  # the startup step running, when no watch says it
        # of the stage running (startup, or a cleanup): a tuple, () until a step fails, so a
        # stage that fails nowhere allocates none
        self._failures: tuple[Failure, ...] = ()
        if lifespan is not None or mounted is not None:
            self.state = {}  # the last run's contexts may have filled it
            self.contexts = RunContexts(
                lifespan, mounted, self._caller, options, self.state, shutdown_timeout
            )
        elif self.contexts is not None:  # the last run's, closed by now
            self.contexts = None
            self.state = {}
        self.started = self.stopped = False
        self.released = False  # the driver that ran it is done with it: renew may follow

    async def __aenter__(self) -> Lifecycle:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Cancel and await each context task still running (``RunContexts.close``)."""
        if self.contexts is not None:
            await self.contexts.close()

    @property
    def running(self) -> bool:
        """Startup completed and shutdown has not begun."""
        return self.started and not self.stopped

    @property
    def brokers_fixed(self) -> bool:
        """The brokers' turn came in this run and they are not closed yet: the list stays."""
        if self._cleaning:
            return True
        if self.starting:
            return self._reached() >= self._at
        return self.running

    async def startup(self) -> Failure | None:
        """Run the startup steps; on failure undo what started and return the failure."""
        self.starting = True
        if self.contexts is None:  # the usual run
            plan = self._plan
            steps = self._steps
            if self._steps_of is not plan:  # a new plan: this record's list is another's
                steps = self._steps = [*plan.startup]
                self._steps_of = plan
            self._at = plan.at
        else:
            steps, self._at = self.contexts.startup_steps(self._plan)
            self._steps = steps
            self._steps_of = None
        timeout = self._startup_timeout
        try:
            if "trio" in sys.modules and current_library() == "trio":  # no probe without trio
                await run_scoped(self._recorded(steps), timeout, self._stop_at, False)
            else:
                # On asyncio: the stage's loop, written here (one frame per stage). A step
                # only becomes the watch's current one; the watchdog cancels one that overran.
                cancelled = _CANCELLED or _cancelled_error()
                watch = self._watch  # kept from the last stage, if that was on this loop
                if watch is None or not watch.renew(timeout):
                    self._watch = watch = _Watch(None, timeout)
                try:
                    for step in steps:
                        watch.step = step
                        # read as a slot, then called: CPython 3.11 specializes that, not a
                        # method lookup of a field (await step.call()); 70 instructions a step
                        call = step.call
                        try:
                            await call()
                        except cancelled:
                            if watch.fired and watch.claim():
                                self._stop_at(step, DeadlineExceeded(timeout))
                                break
                            raise
                        except Exception as exc:
                            self._stop_at(step, exc)
                            break
                finally:
                    # a cancellation of ours that a step swallowed (it returned instead) is
                    # taken back here, or by the timer before it fires again
                    if watch.fired:
                        watch.claim()
                    watch.dog.watches.discard(watch)  # watch.close(), written out
        except BaseException as error:  # cancelled or interrupted: undo, then let it through
            await self._cleanup(error)
            raise
        finally:
            self.starting = False
        if self._failures:
            failure = self._failures[0]
            annotate(failure.error, f"asgi_core: startup failed in {failure.step}")
            return failure._replace(cleanup=await self._cleanup(failure.error))
        self.started = True
        return None

    def shutdown(self) -> Awaitable[tuple[Failure, ...]]:
        """Run the shutdown steps once after a completed startup; return what failed.

        What to await (the cleanup itself, no coroutine around it: one frame less per cycle).
        """
        if not self.started or self.stopped:
            return _no_failures()
        self.stopped = True
        return self._cleanup(None)

    def brokers_changed(self) -> None:
        """The broker list changed during the startup, before the brokers' turn (they were not
        fixed yet): this run starts, and later closes, the brokers it holds now."""
        pairs = broker_steps(self._brokers)
        at = self._at
        # _steps is no longer its plan's startup, and that plan is not run again: its pairs
        # are not the broker list's memo any more (every change drops it; broker_steps just
        # built a new one), so the application plans the next run anew
        self._steps[at : at + len(self._pairs)] = [start for start, _ in pairs]
        self._pairs = pairs

    def _stop_at(self, step: Step, error: Exception) -> bool:
        """A startup step failed: keep the failure, run no further step."""
        name = step.name
        self._failures = (*self._failures, Failure(name, self._timed_out("startup", name, error)))
        return False

    def _keep_going(self, step: Step, error: Exception) -> bool:
        """A shutdown step failed: keep the failure, run the next step."""
        name = step.name
        error = self._timed_out("shutdown", name, error)
        annotate(error, f"asgi_core: shutdown failed in {name}")
        self._failures = (*self._failures, Failure(name, error))
        return True

    # -- the steps ---------------------------------------------------------------------------

    def _reached(self) -> int:
        """Where the startup is: the index of the step running, or of the last one that ran
        (-1: none yet). Asked only when the broker list would change, and after a failure."""
        watch = self._watch  # this run's while it holds a task; else (trio) the one recorded
        step = self._current if watch is None or watch.task is None else watch.step
        for index, candidate in enumerate(self._steps):
            if candidate is step:
                return index
        return -1

    def _recorded(self, steps: Iterable[Step]) -> Iterator[Step]:
        """``steps``, each recorded as the one running (no watch says it on trio)."""
        for step in steps:
            self._current = step
            yield step

    def _shutdown_steps(self, error: BaseException | None) -> list[Step]:
        """After a completed startup, the whole sequence; otherwise only what started is undone
        (the shutdown hooks belong to a completed startup). The usual run's is the plan's."""
        hooks = self.started
        pairs = self._pairs
        if hooks:
            steps = [*self._plan.shutdown_with(pairs)]
        else:  # the brokers whose start() was called, in reverse
            started = min(max(self._reached() - self._at + 1, 0), len(pairs))
            steps = [close for _, close in reversed(pairs[:started])]
        if self.contexts is not None:
            return self.contexts.with_exits(steps, error)
        return steps

    def _timed_out(self, stage: str, step: str, error: Exception) -> Exception:
        """``error``, or the ``HookTimeoutError`` naming ``step`` if the watchdog cancelled it."""
        if not isinstance(error, DeadlineExceeded):
            return error
        timeout = self._startup_timeout if stage == "startup" else self._shutdown_timeout
        return HookTimeoutError(
            f"{stage} step {step} did not finish within {timeout:g} s and was cancelled; "
            f"make it finish sooner or raise the limit with {stage}_timeout=SECONDS",
            stage=stage,
            step=step,
        )

    async def _cleanup(self, error: BaseException | None) -> tuple[Failure, ...]:
        """Run the shutdown steps (``_shutdown_steps``), every one even if an earlier failed.

        Shielded: an outer cancellation lets every step run, then propagates.
        """
        self._failures = ()
        plan = self._plan
        if self.started and self.contexts is None and self._pairs is plan.pairs:
            steps: list[Step] | tuple[Step, ...] = plan.shutdown  # the usual run's, ready
        else:
            steps = self._shutdown_steps(error)
        timeout = self._shutdown_timeout
        self._cleaning = True
        try:
            if "trio" in sys.modules and current_library() == "trio":  # no probe without trio
                await run_scoped(steps, timeout, self._keep_going, True)
                return self._failures
            watch = self._watch  # now on this task
            if watch is None or not watch.renew(timeout):
                self._watch = watch = _Watch(None, timeout)
            task = watch.task
            if ANYIO_ON_ASYNCIO in sys.modules and under_an_anyio_scope(task):
                # anyio re-delivers an outer cancellation on every await: its shield it is
                watch.close()
                await run_scoped(steps, timeout, self._keep_going, True)
                return self._failures
            # the stage's loop, shielded: an interruption is kept, and raised after the last
            cancelled = _CANCELLED or _cancelled_error()
            interrupted: BaseException | None = None
            try:
                for step in steps:
                    watch.step = step
                    call = step.call  # a slot read, then called (as in startup)
                    try:
                        await call()
                    except cancelled as exc:
                        if watch.fired and watch.claim():
                            self._keep_going(step, DeadlineExceeded(timeout))
                            continue
                        interrupted = interrupted or exc
                        # not taken back: our own count starts above it
                        watch.cancelling = task.cancelling() if _COUNTED else 0
                    except Exception as exc:
                        self._keep_going(step, exc)
                    except BaseException as exc:
                        interrupted = interrupted or exc
            finally:
                if watch.fired:
                    watch.claim()
                watch.dog.watches.discard(watch)  # watch.close(), written out
            if interrupted is not None:
                raise interrupted
        finally:
            self._cleaning = False
            if self._watch is not None:  # the run's last stage: its watch lets go of the task
                self._watch.task = None
        return self._failures


_CANCELLED: type[BaseException] | None = None


def _cancelled_error() -> type[BaseException]:
    """``asyncio.CancelledError`` (asyncio runs us: it is in ``sys.modules``)."""
    global _CANCELLED
    if _CANCELLED is None:
        _CANCELLED = sys.modules["asyncio"].CancelledError
    return _CANCELLED


async def _no_failures() -> tuple[Failure, ...]:
    return ()
