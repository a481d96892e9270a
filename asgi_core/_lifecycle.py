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
(``_hooks.py``: run options, or FastStream's DI). A step names its broker by class, and by its
place when there are several (``broker.start() of RedisBroker #2``).

The first failing startup step stops the startup. What had already started is undone with the
same shutdown sequence minus the hooks: the shutdown hooks belong to a completed startup. After a
completed startup, ``shutdown()`` runs the whole sequence exactly once, however often it is
called. Cleanup is shielded from an outer cancellation (on trio), and a cancellation that arrives
during it lets the remaining steps run before it propagates.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from asgi_core._concurrency import DeadlineExceeded, watchdog
from asgi_core._hooks import Hooks, describe
from asgi_core.exceptions import HookError, HookTimeoutError

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from asgi_core._held import Held
    from asgi_core._hooks import Hook, HookCaller

__all__ = ["Failure", "Lifecycle", "error_for", "format_failures"]


_NO_OPTIONS: Mapping[str, object] = {}  # the hooks after on_startup get no run options


class Step(NamedTuple):
    """One step: what to await, whether our time limit applies, and what names it.

    The name (``on_startup hook app.connect``) is worked out only when a message needs it: the
    steps of every lifespan cycle are built anew, and most never fail.
    """

    call: Callable[[], Awaitable[object]]
    kind: str  # "on_startup hook", "broker.start() of", ...
    subject: object = None  # a hook or a lifespan factory (described), or a broker's label
    timed: bool = True  # False: the step bounds itself (the mounted apps, app by app)
    suffix: str = ""

    @property
    def name(self) -> str:
        subject = self.subject
        if subject is None:
            return self.kind
        what = subject if isinstance(subject, str) else describe(subject)
        return f"{self.kind} {what}{self.suffix}"


Mounted = Callable[[dict[str, Any]], "AbstractAsyncContextManager[Any]"]


class Failure(NamedTuple):
    """A step that raised (or timed out), and what undoing the startup then raised."""

    step: str
    error: Exception
    cleanup: tuple[Failure, ...] = ()


class Lifecycle:
    """The steps of one start-to-stop run, and what of them has happened."""

    def __init__(
        self,
        *,
        hooks: Hooks,
        brokers: Callable[[], Sequence[object]],
        caller: HookCaller,
        lifespan: Callable[..., AbstractAsyncContextManager[Any]] | None,
        options: Mapping[str, object],
        startup_timeout: float | None,
        shutdown_timeout: float | None,
        mounted: Mounted | None = None,
    ) -> None:
        self._hooks = hooks.copy()
        self._mounted = mounted
        self._brokers = brokers  # read when their step comes: on_startup hooks may add some
        self._caller = caller
        self._lifespan = lifespan
        self._options = dict(options)
        self._timeouts = {"startup": startup_timeout, "shutdown": shutdown_timeout}
        self._started_brokers: list[tuple[str, object]] = []  # (name, broker) start() called
        self.brokers_fixed = False  # the broker list was read and its brokers are not closed yet
        self._lifespan_held: Held | None = None
        self._mounted_held: Held | None = None
        self.state: dict[str, Any] = {}
        self.starting = False  # startup() is running (perhaps in another task)
        self.started = False
        self.stopped = False

    async def __aenter__(self) -> Lifecycle:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Cancel and await each context task still running (shielded, within shutdown_timeout).

        Every context was exited by now, or failed to exit in time.
        """
        for held in (self._mounted_held, self._lifespan_held):
            if held is not None:
                await held.close(self._timeouts["shutdown"])

    @property
    def running(self) -> bool:
        """Startup completed and shutdown has not begun."""
        return self.started and not self.stopped

    async def startup(self) -> Failure | None:
        """Run the startup steps; on failure undo what started and return the failure."""
        self.starting = True
        try:
            return await self._startup()
        finally:
            self.starting = False

    async def _startup(self) -> Failure | None:
        failed: list[tuple[str, Exception]] = []

        def stop_at(step: Step, error: Exception) -> bool:
            name = step.name
            failed.append((name, self._timed_out("startup", name, error)))
            return False

        try:
            steps = self._startup_steps()
            await watchdog().run_steps(steps, self._timeouts["startup"], stop_at)
        except BaseException as error:  # cancelled or interrupted: undo, then let it through
            await self._cleanup(error)
            raise
        if failed:
            step, reason = failed[0]
            _annotate(reason, f"asgi_core: startup failed in {step}")
            return Failure(step, reason, tuple(await self._cleanup(reason)))
        self.started = True
        return None

    async def shutdown(self) -> list[Failure]:
        """Run the shutdown steps once after a completed startup; return what failed."""
        if not self.started or self.stopped:
            return []
        self.stopped = True
        return await self._cleanup(None)

    # -- the steps ---------------------------------------------------------------------------

    def _startup_steps(self) -> Iterator[Step]:
        if self._lifespan is not None:
            yield Step(self._enter_lifespan, "lifespan context", self._lifespan, suffix=" (enter)")
        yield from self._hook_steps(self._hooks.on_startup, "on_startup hook", self._options)
        brokers = list(self._brokers())
        self.brokers_fixed = True
        for label, broker in zip(_labels(brokers), brokers, strict=True):
            start = functools.partial(self._start_broker, label, broker)
            yield Step(start, "broker.start() of", label)
        yield from self._hook_steps(self._hooks.after_startup, "after_startup hook")
        if self._mounted is not None:
            yield Step(self._enter_mounted, "lifespans of mounted apps (startup)", timed=False)

    def _shutdown_steps(self, error: BaseException | None) -> Iterator[Step]:
        hooks = self.started  # after a failed startup only what started is undone
        if self._mounted_held is not None:
            exit_mounted = functools.partial(self._mounted_held.exit, error)
            yield Step(exit_mounted, "lifespans of mounted apps (shutdown)", timed=False)
        if hooks:
            yield from self._hook_steps(self._hooks.on_shutdown, "on_shutdown hook")
        if self._started_brokers:
            from asgi_core._brokers import broker_closer  # loaded with the first broker

            for label, broker in reversed(self._started_brokers):
                closer = broker_closer(broker)
                yield Step(closer, f"broker.{closer.__name__}() of", label)
        if hooks:
            yield from self._hook_steps(self._hooks.after_shutdown, "after_shutdown hook")
        if self._lifespan_held is not None:
            exit_lifespan = functools.partial(self._lifespan_held.exit, error)
            yield Step(exit_lifespan, "lifespan context", self._lifespan, suffix=" (exit)")

    def _hook_steps(
        self, hooks: list[Hook], kind: str, options: Mapping[str, object] = _NO_OPTIONS
    ) -> Iterator[Step]:
        """The steps calling ``hooks``; a hook that is its own step is reused from cycle to cycle.

        (An ``async def`` without parameters: its step is the same whatever the run, and
        building it anew for each hook of each lifespan cycle cost more than the hook.)
        """
        reused = _OWN_STEPS[kind]
        make = self._caller.step
        for hook in hooks:
            found = reused.get(id(hook))
            if found is not None and found.subject is hook:
                yield found
                continue
            call = make(hook, options, kind)
            step = Step(call, kind, hook)
            if call is hook:
                if len(reused) >= _OWN_STEPS_SIZE:
                    reused.clear()
                reused[id(hook)] = step  # it holds the hook: the id is not reused meanwhile
            yield step

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

    async def _start_broker(self, label: str, broker: Any) -> None:
        self._started_brokers.append((label, broker))  # a broker whose start() ran gets closed
        await broker.start()

    def _timed_out(self, stage: str, step: str, error: Exception) -> Exception:
        """``error``, or the ``HookTimeoutError`` naming ``step`` if the watchdog cancelled it."""
        if not isinstance(error, DeadlineExceeded):
            return error
        timeout = self._timeouts[stage]
        return HookTimeoutError(
            f"{stage} step {step} did not finish within {timeout:g} s and was cancelled; "
            f"make it finish sooner or raise the limit with {stage}_timeout=SECONDS",
            stage=stage,
            step=step,
        )

    async def _cleanup(self, error: BaseException | None) -> list[Failure]:
        failures: list[Failure] = []

        def keep_going(step: Step, exc: Exception) -> bool:
            name = step.name
            exc = self._timed_out("shutdown", name, exc)
            _annotate(exc, f"asgi_core: shutdown failed in {name}")
            failures.append(Failure(name, exc))
            return True

        try:
            # shielded: an interruption lets every step run, then goes on
            await watchdog().run_steps(
                self._shutdown_steps(error), self._timeouts["shutdown"], keep_going, shield=True
            )
        finally:
            self._started_brokers = []
            self.brokers_fixed = False
        return failures


_OWN_STEPS_SIZE = 1024  # per stage; then it starts over (hooks are few, this is a bound)
_STAGES = ("on_startup", "after_startup", "on_shutdown", "after_shutdown")
_OWN_STEPS: dict[str, dict[int, Step]] = {f"{stage} hook": {} for stage in _STAGES}


def _labels(brokers: list[object]) -> list[str]:
    if not brokers:
        return []
    from asgi_core._brokers import labels  # loaded with the first broker

    return labels(brokers)


def format_failures(stage: str, failures: list[Failure] | tuple[Failure, ...]) -> str:
    """The text of a ``lifespan.*.failed`` message: each failing step and its exception chain."""
    import traceback

    parts = []
    for failure in failures:
        chain = "".join(traceback.format_exception(failure.error)).rstrip()
        parts.append(f"{stage} failed in {failure.step}:\n{chain}")
        if failure.cleanup:
            parts.append(format_failures("undoing the startup", failure.cleanup))
    return "\n\n".join(parts)


def error_for(stage: str, failures: list[Failure]) -> Exception:
    """What to raise for failed steps: the original exception, or one ``HookError`` for several."""
    if len(failures) == 1:
        return failures[0].error
    return HookError(
        f"{len(failures)} {stage} steps failed: " + "; ".join(f.step for f in failures),
        stage=stage,
        step=", ".join(f.step for f in failures),
        errors=tuple(f.error for f in failures),
    )


def _annotate(error: BaseException, note: str) -> None:
    """Name the failing step in the traceback of the original exception (Python 3.11+)."""
    add_note = getattr(error, "add_note", None)
    if add_note is not None and note not in getattr(error, "__notes__", ()):
        add_note(note)
