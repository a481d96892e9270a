"""One run of an application's lifecycle: what starts, in which order, and how it is undone.

Startup steps, in order; each is bounded by ``startup_timeout``:

1. enter the user ``lifespan`` context (it gets the run options it accepts; a yielded mapping
   becomes lifespan state);
2. the ``on_startup`` hooks (each gets the run options it accepts);
3. ``broker.start()`` of each broker, in order (the list is read here: hooks may add brokers);
4. the ``after_startup`` hooks;
5. start the lifespans of mounted apps (``_sub_lifespans.py``; it bounds itself per app).

Shutdown steps, each bounded by ``shutdown_timeout`` and run even if an earlier one failed:

1. shut down the mounted apps' lifespans, if they started;
2. the ``on_shutdown`` hooks;
3. ``broker.stop()`` (or ``broker.close()``) of each broker whose ``start()`` was called, in
   reverse order;
4. the ``after_shutdown`` hooks;
5. exit the user ``lifespan`` context, if it was entered.

Contexts (the user lifespan, the mounted apps) are entered and exited in detached tasks of
their own (``_held.py``), so our time limits never interleave with the scopes a user's lifespan
opens, and nothing stays open in the caller: ``startup()`` and ``shutdown()`` may run in
different tasks and cancel scopes. ``close()`` (or leaving ``async with lifecycle``) cancels and
awaits a context task still running after a failed or interrupted exit. When there is no context
to hold, no task is started at all. Hooks are called by the application's ``HookCaller``
(``_hooks.py``: run options, or FastStream's DI). The steps themselves, what names them and
what of them is reused from one cycle to the next, are in ``_steps.py``; a ``Lifecycle`` is
built for every lifespan cycle, so it only gathers them.

The first failing startup step stops the startup. What had already started is undone with the
same shutdown sequence minus the hooks: the shutdown hooks belong to a completed startup. After a
completed startup, ``shutdown()`` runs the whole sequence exactly once, however often it is
called. Cleanup is shielded from an outer cancellation (on trio), and a cancellation that arrives
during it lets the remaining steps run before it propagates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from itertools import chain
from typing import TYPE_CHECKING, Any

from asgi_core._concurrency import DeadlineExceeded, phases
from asgi_core._hooks import Hooks, describe
from asgi_core._steps import (
    Exit,
    Failure,
    Step,
    Steps,
    annotate,
    broker_steps,
    hook_steps,
)
from asgi_core.exceptions import HookTimeoutError

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from asgi_core._brokers import BrokerList
    from asgi_core._held import Held
    from asgi_core._hooks import HookCaller

__all__ = ["Lifecycle", "Mounted"]


Mounted = Callable[[dict[str, Any]], "AbstractAsyncContextManager[Any]"]


class Lifecycle:
    """The steps of one start-to-stop run, and what of them has happened.

    Built for every lifespan cycle, so it does little work until a step needs it: the four hook
    stages become their steps here, once (``async def`` hooks without parameters reuse the steps
    of the last cycle: ``_steps.hook_steps``); brokers are read when their step comes.
    """

    __slots__ = (
        "_brokers",
        "_caller",
        "_failures",
        "_lifespan",
        "_lifespan_held",
        "_mounted",
        "_mounted_held",
        "_options",
        "_shutdown_timeout",
        "_started_brokers",
        "_startup_timeout",
        "_watch",
        "after_shutdown",
        "after_startup",
        "brokers_fixed",
        "holds_contexts",
        "on_shutdown",
        "on_startup",
        "started",
        "starting",
        "state",
        "stopped",
    )

    def __init__(
        self,
        hooks: Hooks,
        brokers: BrokerList,
        caller: HookCaller,
        lifespan: Callable[..., AbstractAsyncContextManager[Any]] | None,
        options: Mapping[str, object],
        startup_timeout: float | None,
        shutdown_timeout: float | None,
        mounted: Mounted | None = None,
        one_task: bool = False,
    ) -> None:
        # the hooks of this run, fixed now: later registrations wait for the next run
        self.on_startup, self.after_startup, self.on_shutdown, self.after_shutdown = hook_steps(
            hooks, caller, options
        )
        self._mounted = mounted
        self._brokers = brokers  # read when their step comes: on_startup hooks may add some
        self._caller = caller
        self._lifespan = lifespan
        self._options = options
        self._startup_timeout = startup_timeout
        self._shutdown_timeout = shutdown_timeout
        self._started_brokers: list[Step] = []  # the closing steps of the brokers started
        self._failures: list[Failure] = []  # of the stage running (startup, or a cleanup)
        self.brokers_fixed = False  # the broker list was read and its brokers are not closed yet
        self._lifespan_held: Held | None = None
        self._mounted_held: Held | None = None
        # a context was entered (the user lifespan, the mounted apps): close() has work then;
        # without one it has none, and the driver skips awaiting it
        self.holds_contexts = False
        self.state: dict[str, Any] = {}
        self.starting = False  # startup() is running (perhaps in another task)
        self.started = False
        self.stopped = False
        # One task runs every stage (the lifespan driver): the stages share one watch of the
        # time limits (``run_steps(resume=...)``); False: ``start()`` and ``stop()``, which may
        # be called from different tasks, get one each.
        self._watch: object = None if one_task else _NO_RESUME

    async def __aenter__(self) -> Lifecycle:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Cancel and await each context task still running (shielded, within shutdown_timeout).

        Every context was exited by now, or failed to exit in time.
        """
        if self._mounted_held is not None:
            await self._mounted_held.close(self._shutdown_timeout)
        if self._lifespan_held is not None:
            await self._lifespan_held.close(self._shutdown_timeout)

    @property
    def running(self) -> bool:
        """Startup completed and shutdown has not begun."""
        return self.started and not self.stopped

    async def startup(self) -> Failure | None:
        """Run the startup steps; on failure undo what started and return the failure."""
        self.starting = True
        try:
            watch = await (_RUN_STEPS or _run_steps())(
                self._startup_steps(), self._startup_timeout, self._stop_at, resume=self._watch
            )
            if self._watch is not _NO_RESUME:
                self._watch = watch
        except BaseException as error:  # cancelled or interrupted: undo, then let it through
            await self._cleanup(error)
            raise
        finally:
            self.starting = False
        if self._failures:
            failure = self._failures[0]
            annotate(failure.error, f"asgi_core: startup failed in {failure.step}")
            return failure._replace(cleanup=tuple(await self._cleanup(failure.error)))
        self.started = True
        return None

    def shutdown(self) -> Awaitable[list[Failure]]:
        """Run the shutdown steps once after a completed startup; return what failed.

        What to await (the cleanup itself, no coroutine around it: one frame less per cycle).
        """
        if not self.started or self.stopped:
            return _no_failures()
        self.stopped = True
        return self._cleanup(None)

    def _stop_at(self, step: Step, error: Exception) -> bool:
        """A startup step failed: keep the failure, run no further step."""
        name = step.name
        self._failures.append(Failure(name, self._timed_out("startup", name, error)))
        return False

    def _keep_going(self, step: Step, error: Exception) -> bool:
        """A shutdown step failed: keep the failure, run the next step."""
        name = step.name
        error = self._timed_out("shutdown", name, error)
        annotate(error, f"asgi_core: shutdown failed in {name}")
        self._failures.append(Failure(name, error))
        return True

    # -- the steps ---------------------------------------------------------------------------

    def _startup_steps(self) -> Iterator[Step]:
        """The startup steps in order; the broker list is read once the hooks before it ran.

        (A generator's body runs only when the runner comes to it: ``_broker_starts`` reads the
        list after the ``on_startup`` hooks.)
        """
        if self._lifespan is None and self._mounted is None:  # the usual run: no context
            return chain(self.on_startup, self._broker_starts(), self.after_startup)
        steps: list[Iterator[Step] | Steps] = [self.on_startup, self._broker_starts()]
        if self._lifespan is not None:
            enter = Step(
                self._enter_lifespan, "lifespan context", self._lifespan, suffix=" (enter)"
            )
            steps.insert(0, (enter,))
        steps.append(self.after_startup)
        if self._mounted is not None:
            mounted = Step(self._enter_mounted, "lifespans of mounted apps (startup)", timed=False)
            steps.append((mounted,))
        return chain.from_iterable(steps)

    def _broker_starts(self) -> Iterator[Step]:
        steps = broker_steps(self._brokers)
        self.brokers_fixed = True
        started = self._started_brokers
        for start, close in steps:
            # recorded as started before its step is handed out: the runner calls it at once,
            # and a broker whose start() ran gets closed
            started.append(close)
            yield start

    def _shutdown_steps(self, error: BaseException | None) -> Iterable[Step]:
        hooks = self.started  # after a failed startup only what started is undone
        if hooks and not self.holds_contexts:  # the usual run: no context to exit
            return chain(self.on_shutdown, reversed(self._started_brokers), self.after_shutdown)
        steps = [*self.on_shutdown] if hooks else []
        if self._mounted_held is not None:
            exit_mounted = Exit(self._mounted_held, error)
            steps.insert(0, Step(exit_mounted, "lifespans of mounted apps (shutdown)", timed=False))
        steps += reversed(self._started_brokers)
        if hooks:
            steps += self.after_shutdown
        if self._lifespan_held is not None:
            exit_lifespan = Exit(self._lifespan_held, error)
            steps.append(Step(exit_lifespan, "lifespan context", self._lifespan, suffix=" (exit)"))
        return steps

    async def _enter_lifespan(self) -> None:
        assert self._lifespan is not None  # only yielded as a step when there is one
        name = f"lifespan context {describe(self._lifespan)}"
        context = self._caller.lifespan(self._lifespan, self._options, name=name)
        if not hasattr(context, "__aenter__") or not hasattr(context, "__aexit__"):
            raise TypeError(
                f"lifespan must return an async context manager (decorate it with "
                f"@contextlib.asynccontextmanager), but {name} returned {context!r}"
            )
        from asgi_core._held import Held  # loaded with the first lifespan context

        self._lifespan_held = held = await Held.enter(context)
        self.holds_contexts = True
        value = held.value
        if value is None:
            return
        if not isinstance(value, Mapping):
            raise TypeError(
                f"{name} yielded {value!r}; yield nothing, or a mapping of lifespan state "
                "for request handlers"
            )
        self.state.update(value)

    async def _enter_mounted(self) -> None:
        assert self._mounted is not None  # only yielded as a step when there is one
        from asgi_core._held import Held  # loaded with the first mounted app

        self._mounted_held = await Held.enter(self._mounted(self.state))
        self.holds_contexts = True

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

    async def _cleanup(self, error: BaseException | None) -> list[Failure]:
        self._failures = []
        try:
            # shielded: an interruption lets every step run, then goes on
            watch = await (_RUN_STEPS or _run_steps())(
                self._shutdown_steps(error),
                self._shutdown_timeout,
                self._keep_going,
                shield=True,
                resume=self._watch,
            )
            if self._watch is not _NO_RESUME:
                self._watch = watch
        finally:
            self._started_brokers = []
            self.brokers_fixed = False
        return self._failures


_RUN_STEPS: Any = None
_NO_RESUME = object()  # never a watch: run_steps makes one for every stage


def _run_steps() -> Any:
    """``_phases.run_steps``, loaded by the first lifespan (``_concurrency.phases``)."""
    global _RUN_STEPS
    if _RUN_STEPS is None:
        _RUN_STEPS = phases().run_steps
    return _RUN_STEPS


async def _no_failures() -> list[Failure]:
    return []
