"""A phase of steps run one after another inside cancel scopes: trio, and shielded anyio.

On asyncio a lifespan stage runs in the lifecycle's own loop (``_lifecycle.py``) under one
``_watchdog._Watch``. Two cases need cancel scopes instead, and run here:

* trio keeps deadlines itself: the steps run in one cancel scope whose deadline is moved at each
  step's start (there is no callback to re-arm);
* a shielded phase (a cleanup) on asyncio when an anyio cancel scope encloses the task
  (``under_an_anyio_scope``): anyio re-delivers an outer cancellation on every await, so only its
  own shielded scope keeps the steps running; the watchdog cancels that scope.

Rules, as for the asyncio loop: ``run_scoped(steps, timeout, failed, shield)`` awaits
``step.call()`` for each step in order. A timed step that runs longer than ``timeout`` seconds
(counted from its own start) is cancelled, and ``failed(step, DeadlineExceeded(timeout))``
reports exactly that step; one that raises an ``Exception`` is reported with it. ``failed``
returns whether to go on (a startup stops at its first failure; a cleanup runs every step).
With ``shield`` an outer cancellation does not interrupt the steps; it is raised after the last
one. An untimed step (it bounds itself) is never cancelled. After a cancelled step, the next
steps run in a fresh scope.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

from asgi_core._concurrency._library import DeadlineExceeded, current_library
from asgi_core._concurrency._watchdog import _INF, _Current, _Watch

__all__ = ["ANYIO_ON_ASYNCIO", "TimedStep", "run_scoped", "under_an_anyio_scope"]

ANYIO_ON_ASYNCIO = "anyio._backends._asyncio"  # loaded once anyio ran on asyncio, not before


class TimedStep(_Current, Protocol):
    """What ``run_scoped`` needs of a step: what to await and whether the watchdog bounds it."""

    @property
    def call(self) -> Callable[[], Awaitable[object]]: ...


S = TypeVar("S", bound=TimedStep)


async def run_scoped(
    steps: Iterable[S], timeout: float | None, failed: Callable[[S, Exception], bool], shield: bool
) -> None:
    """Run ``steps`` in order inside cancel scopes; see the module docstring.

    On trio, and on asyncio for a shielded phase under an anyio cancel scope (``shield`` must
    then be True: unshielded phases on asyncio run in the lifecycle's own loop).
    """
    if "trio" in sys.modules and current_library() == "trio":
        make: ScopeMaker = _trio_scope
    else:
        make = _anyio_scope(sys.modules["anyio"])
    await _scoped_steps(make, iter(steps), timeout, failed, shield, DeadlineExceeded)


def under_an_anyio_scope(task: object) -> bool:
    """Whether an anyio cancel scope encloses the current asyncio task.

    Only then is an outer cancellation re-delivered on every await, so that only anyio's own
    shield keeps it out of the cleanup steps; a task no anyio scope encloses (a server's
    lifespan task under uvicorn, even with anyio imported by someone) gets plain asyncio's
    single delivery, and the lifecycle's plain loop shields it. anyio keeps no public record of
    this: its asyncio backend's table of task states is read (found once, ``_task_table``), and
    anything unexpected there counts as "enclosed" (the safe side).
    """
    table = _TABLE
    if table is None:
        backend = sys.modules.get(ANYIO_ON_ASYNCIO)
        if backend is None:  # anyio never ran on asyncio: no scope of it anywhere
            return False
        table = _task_table(backend)
        if table is None:
            return True
    if not table:  # no task anyio knows of (its table empties as they go)
        return False
    state = table.get(_KEY(task))
    return state is not None and getattr(state, "cancel_scope", True) is not None


def _itself(task: object) -> object:
    return task


_TABLE: dict[Any, Any] | None = None  # anyio's task states, by _KEY(task), once found
_KEY: Callable[[object], object] = _itself


def _task_table(backend: object) -> dict[Any, Any] | None:
    """anyio's task states as a dict (what its ``WeakKeyDictionary`` holds, by weak reference:
    read directly, its ``get`` is a Python call per lookup), or None if of another shape."""
    global _TABLE, _KEY
    import weakref

    states = getattr(backend, "_task_states", None)
    data = getattr(states, "data", None)  # a WeakKeyDictionary's own dict (not in typeshed)
    if type(states) is weakref.WeakKeyDictionary and type(data) is dict:
        _TABLE, _KEY = data, weakref.ref
    elif type(states) is dict:
        _TABLE, _KEY = states, _itself
    return _TABLE


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
