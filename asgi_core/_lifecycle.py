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

from asgi_core._brokers import broker_closer, labels
from asgi_core._concurrency import DeadlineExceeded, run_bounded
from asgi_core._held import Held
from asgi_core._hooks import Hooks, describe
from asgi_core.exceptions import HookError, HookTimeoutError

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from asgi_core._hooks import HookCaller

__all__ = ["Failure", "Lifecycle", "broker_closer", "error_for", "format_failures"]


class Step(NamedTuple):
    """One step: its name in messages, what to await, and whether our time limit applies."""

    name: str
    call: Callable[[], Awaitable[object]]
    timed: bool = True  # False: the step bounds itself (the mounted apps, app by app)


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
        step = "startup"
        try:
            for step, call, timed in self._startup_steps():
                await self._bounded("startup", step, call, timed)
        except Exception as error:
            _annotate(error, f"asgi_core: startup failed in {step}")
            return Failure(step, error, tuple(await self._cleanup(error)))
        except BaseException as error:  # cancelled or interrupted: undo, then let it through
            await self._cleanup(error)
            raise
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
            yield Step(f"lifespan context {describe(self._lifespan)} (enter)", self._enter_lifespan)
        for hook in self._hooks.on_startup:
            yield self._hook_step("on_startup", hook, self._options)
        brokers = list(self._brokers())
        self.brokers_fixed = True
        for label, broker in zip(labels(brokers), brokers, strict=True):
            start = functools.partial(self._start_broker, label, broker)
            yield Step(f"broker.start() of {label}", start)
        for hook in self._hooks.after_startup:
            yield self._hook_step("after_startup", hook)
        if self._mounted is not None:
            yield Step("lifespans of mounted apps (startup)", self._enter_mounted, timed=False)

    def _shutdown_steps(self, error: BaseException | None) -> Iterator[Step]:
        hooks = self.started  # after a failed startup only what started is undone
        if self._mounted_held is not None:
            held = self._mounted_held
            exit_mounted = functools.partial(held.exit, error)
            yield Step("lifespans of mounted apps (shutdown)", exit_mounted, timed=False)
        for hook in self._hooks.on_shutdown if hooks else ():
            yield self._hook_step("on_shutdown", hook)
        for label, broker in reversed(self._started_brokers):
            closer = broker_closer(broker)
            yield Step(f"broker.{closer.__name__}() of {label}", closer)
        for hook in self._hooks.after_shutdown if hooks else ():
            yield self._hook_step("after_shutdown", hook)
        if self._lifespan_held is not None:
            name = f"lifespan context {describe(self._lifespan)} (exit)"
            yield Step(name, functools.partial(self._lifespan_held.exit, error))

    def _hook_step(
        self, stage: str, hook: Callable[..., object], options: Mapping[str, object] | None = None
    ) -> Step:
        name = f"{stage} hook {describe(hook)}"
        call = functools.partial(self._caller.call, hook, options or {}, name=name)
        return Step(name, call)

    async def _enter_lifespan(self) -> None:
        assert self._lifespan is not None  # only yielded as a step when there is one
        name = f"lifespan context {describe(self._lifespan)}"
        context = self._caller.lifespan(self._lifespan, self._options, name=name)
        if not hasattr(context, "__aenter__") or not hasattr(context, "__aexit__"):
            raise TypeError(
                f"lifespan must return an async context manager (decorate it with "
                f"@contextlib.asynccontextmanager), but {name} returned {context!r}"
            )
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
        self._mounted_held = await Held.enter(self._mounted(self.state))

    async def _start_broker(self, label: str, broker: Any) -> None:
        self._started_brokers.append((label, broker))  # a broker whose start() ran gets closed
        await broker.start()

    async def _bounded(
        self,
        stage: str,
        step: str,
        call: Callable[[], Awaitable[object]],
        timed: bool,
        shield: bool = False,
    ) -> None:
        timeout = self._timeouts[stage] if timed else None
        try:
            await run_bounded(call, timeout, shield=shield)
        except DeadlineExceeded:
            raise HookTimeoutError(
                f"{stage} step {step} did not finish within {timeout:g} s and was cancelled; "
                f"make it finish sooner or raise the limit with {stage}_timeout=SECONDS",
                stage=stage,
                step=step,
            ) from None

    async def _cleanup(self, error: BaseException | None) -> list[Failure]:
        failures: list[Failure] = []
        interrupted: BaseException | None = None
        for step, call, timed in self._shutdown_steps(error):
            try:
                await self._bounded("shutdown", step, call, timed, shield=True)
            except Exception as exc:
                _annotate(exc, f"asgi_core: shutdown failed in {step}")
                failures.append(Failure(step, exc))
            except BaseException as exc:  # keep undoing; the interruption goes on afterwards
                interrupted = interrupted or exc
        self._started_brokers = []
        self.brokers_fixed = False
        if interrupted is not None:
            raise interrupted
        return failures


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
