"""A phase of steps run one after another, each bounded in time by ONE watchdog for the phase.

Rules:

* ``run_steps(steps, timeout, failed)`` awaits ``step.call()`` for each step in order. A step with
  ``timed`` set that runs longer than ``timeout`` seconds (counted from its own start) is
  cancelled, and ``failed(step, DeadlineExceeded(timeout))`` reports exactly that step. A step
  that raises an ``Exception`` is reported with it. ``failed`` returns whether to go on with the
  next step (a startup stops at its first failure; a cleanup runs every step).
* ``shield=True`` (cleanup): an outer cancellation does not interrupt the steps; it is raised
  after the last one. Without it, an outer cancellation propagates at once.
* An untimed step (it bounds itself) is never cancelled by the watchdog.
* ``run_steps`` returns what the next phase run by the *same task* may pass as ``resume``: it then
  reuses this phase's watch (a lifespan cycle's shutdown after its startup, in the driver's task).

How: on asyncio each step becomes the phase's current step under a ``_watchdog._Watch`` (the one
timer per loop looks at it, see ``_watchdog.py``). When the phase is shielded and an anyio
cancel scope encloses the task, the steps run in one shielded anyio cancel scope (anyio
re-delivers an outer cancellation on every await, so a bare loop would not be shielded) and the
watchdog cancels that scope. On trio the steps run in one cancel scope whose deadline is moved
at each step's start (trio keeps deadlines itself; there is no callback to re-arm). After a
cancelled step, the next steps run in a fresh scope.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

from asgi_core._concurrency._library import DeadlineExceeded, current_library
from asgi_core._concurrency._watchdog import _COUNTED, _INF, _Current, _Watch

__all__ = ["TimedStep", "run_steps"]


class TimedStep(_Current, Protocol):
    """What ``run_steps`` needs of a step: what to await and whether the watchdog bounds it."""

    @property
    def call(self) -> Callable[[], Awaitable[object]]: ...


S = TypeVar("S", bound=TimedStep)


async def run_steps(
    steps: Iterable[S],
    timeout: float | None,
    failed: Callable[[S, Exception], bool],
    *,
    shield: bool = False,
    resume: object = None,
) -> object:
    """Run ``steps`` in order under one watchdog; see the module docstring.

    Returns what the next phase of the same task may pass as ``resume`` to reuse this phase's
    watch (on asyncio; None otherwise): a lifespan cycle's shutdown is run by the task that ran
    its startup, and then skips looking the task up and making a watch. Pass ``resume`` only
    from that same task.
    """
    if type(resume) is _Watch:  # the next phase of the task that ran the last one
        watch = resume
        task = watch.task
        watch.renew(timeout)
    else:
        if "trio" in sys.modules and current_library() == "trio":  # no probe without trio
            await _scoped_steps(_trio_scope, iter(steps), timeout, failed, shield, DeadlineExceeded)
            return None
        task = sys.modules["asyncio"].current_task()  # it runs us: no import per phase
        assert task is not None  # awaited by a task
        watch = _Watch(task, timeout)
    if shield and "anyio" in sys.modules and _under_an_anyio_scope(task):
        watch.close()
        anyio = sys.modules["anyio"]
        await _scoped_steps(
            _anyio_scope(anyio), iter(steps), timeout, failed, shield, DeadlineExceeded
        )
        return None
    # The asyncio loop, written here rather than in a coroutine of its own: one frame less per
    # phase, and a lifespan cycle has two. A step only becomes the watch's current one (an
    # unbounded phase's watch is not watched: the store is all it costs).
    cancelled = _CANCELLED or _cancelled_error()
    interrupted: BaseException | None = None
    try:
        for step in steps:
            watch.step = step
            try:
                await step.call()
            except cancelled as exc:
                if watch.fired and watch.claim():
                    if failed(step, DeadlineExceeded(timeout)):
                        continue
                    break
                if not shield:
                    raise
                interrupted = interrupted or exc
                # not taken back: our own count starts above it
                watch.cancelling = task.cancelling() if _COUNTED else 0
            except Exception as exc:
                if not failed(step, exc):
                    break
            except BaseException as exc:
                if not shield:
                    raise
                interrupted = interrupted or exc
    finally:
        # watch.close(), written out; a cancellation of ours that a step swallowed (it
        # returned instead) is taken back here, or by the timer before it fires again
        if watch.fired:
            watch.claim()
        watch.dog.watches.discard(watch)
    if interrupted is not None:
        raise interrupted
    return watch


_CANCELLED: type[BaseException] | None = None


def _cancelled_error() -> type[BaseException]:
    """``asyncio.CancelledError`` (asyncio runs us: it is in ``sys.modules``)."""
    global _CANCELLED
    if _CANCELLED is None:
        _CANCELLED = sys.modules["asyncio"].CancelledError
    return _CANCELLED


def _under_an_anyio_scope(task: object) -> bool:
    """Whether an anyio cancel scope encloses the current asyncio task.

    Only then is an outer cancellation re-delivered on every await, so that only anyio's own
    shield keeps it out of the cleanup steps; a task no anyio scope encloses (a server's
    lifespan task under uvicorn, even with anyio imported by someone) gets plain asyncio's
    single delivery, and the cheaper loop below shields it. anyio keeps no public record of
    this: its asyncio backend's task table is read, and anything unexpected there counts as
    "enclosed" (the safe side).
    """
    backend = sys.modules.get("anyio._backends._asyncio")
    if backend is None:  # anyio never ran on asyncio: no scope of it anywhere
        return False
    states = getattr(backend, "_task_states", None)
    if states is None or not hasattr(states, "get"):
        return True
    state = states.get(task)
    return state is not None and getattr(state, "cancel_scope", True) is not None


Begin = Callable[[TimedStep], None]  # a step starts now
ScopeMaker = Callable[[bool, float | None], tuple[Any, Begin, Callable[[], None]]]


def _trio_scope(shield: bool, timeout: float | None) -> tuple[Any, Begin, Callable[[], None]]:
    """A trio cancel scope, what a step calls at its start (moves the deadline), and a no-op."""
    import trio

    scope = trio.CancelScope(shield=shield)
    current_time = trio.current_time

    def begin(step: TimedStep) -> None:
        scope.deadline = current_time() + timeout if step.timed else _INF  # type: ignore[operator]

    return scope, (_nothing if timeout is None else begin), _closed


def _anyio_scope(anyio: Any) -> ScopeMaker:
    """A shielded anyio cancel scope that the one watchdog timer cancels."""

    def make(shield: bool, timeout: float | None) -> tuple[Any, Begin, Callable[[], None]]:
        import asyncio

        scope = anyio.CancelScope(shield=shield)
        if timeout is None:
            return scope, _nothing, _closed
        watch = _Watch(asyncio.current_task(), timeout, scope.cancel)

        def begin(step: TimedStep) -> None:
            watch.step = step

        return scope, begin, watch.close

    return make


def _nothing(step: TimedStep) -> None:
    return None


def _closed() -> None:
    return None


async def _scoped_steps(
    make_scope: ScopeMaker,
    steps: Any,
    timeout: float | None,
    failed: Callable[[S, Exception], bool],
    shield: bool,
    deadline_exceeded: type[Exception],
) -> None:
    """Steps inside one cancel scope; after a step overran, the rest in a fresh one."""
    interrupted: BaseException | None = None
    step: S | None = None
    while True:
        scope, begin, close = make_scope(shield, timeout)
        reopen = False
        try:
            with scope:
                for step in steps:
                    begin(step)
                    try:
                        await step.call()
                    except Exception as exc:
                        if not failed(step, exc):
                            return
                    except BaseException as exc:
                        if not shield or scope.cancel_called:  # ours: the scope takes it
                            raise
                        interrupted = interrupted or exc
                    step = None
                    if scope.cancel_called:  # the step swallowed our cancellation: done, but
                        reopen = True  # this scope stays cancelled; the rest get a fresh one
                        break
        finally:
            close()
        if scope.cancelled_caught and step is not None:
            reopen = True
            if not failed(step, deadline_exceeded(timeout)):
                return
        if not reopen:
            break
    if interrupted is not None:
        raise interrupted
