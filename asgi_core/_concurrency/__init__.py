"""The only package that knows asyncio and trio.

This module holds what ``import asgi_core`` needs (the library probe, time limits, events,
detached tasks); ``_tasks.py`` the mailbox and the task group (sub-app lifespans, the test
client), ``_signals.py`` waiting for SIGINT/SIGTERM while serving. Both load on first use.

Core code awaits ``receive``, ``send`` and user hooks, which run on whatever loop the server runs;
the few things that need the library itself (time limits, shielding cleanup from cancellation)
live here; ``_watchdog.py`` keeps one timer per asyncio loop for every time limit, and
``_phases.py`` runs a phase of steps (a lifespan stage) in cancel scopes, for trio and for a
shielded phase under anyio. Neither library is imported
at import time: trio is used only when the caller is already running inside trio (so it is
already in ``sys.modules``), asyncio otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from asgi_core._concurrency._library import DeadlineExceeded, current_library

__all__ = [
    "DeadlineExceeded",
    "Event",
    "current_library",
    "is_cancellation",
    "new_event",
    "run_bounded",
    "spawn_detached",
    "watchdog",
]

T = TypeVar("T")


def run_bounded(
    step: Callable[..., Awaitable[T]], timeout: float | None, *args: object, shield: bool = False
) -> Awaitable[T]:
    """Await ``step(*args)``; raise ``DeadlineExceeded`` if it takes more than ``timeout`` seconds.

    ``shield=True`` keeps an outer cancellation from interrupting it (cleanup that must run while
    the caller is being cancelled). On trio that takes a shielded cancel scope, since every await
    inside a cancelled scope is cancelled again. Plain asyncio delivers a cancellation once, so
    awaits after catching it already run; but when anyio is loaded (a server or a framework
    around us uses its task groups), its cancel scopes re-deliver cancellation on every await
    under asyncio too, so its shielded scope is used.

    Returns what to await: in the usual case the watched call itself, with no coroutine of its
    own around it (one frame less per health probe).
    """
    if not shield and timeout is not None and "trio" not in sys.modules:
        # the usual case, first: asyncio, bounded by the loop's one watchdog timer
        # (_watchdog.py), not a timer per call; this bounds every health probe and every
        # message the test client waits for
        return (_WATCHDOG or watchdog()).watched(step, timeout, args)  # type: ignore[no-any-return]
    return _bounded(step, timeout, shield, args)


async def _bounded(
    step: Callable[..., Awaitable[T]], timeout: float | None, shield: bool, args: tuple[object, ...]
) -> T:
    """``run_bounded`` under trio, shielded, or without a time limit."""
    anyio = sys.modules.get("anyio")
    if shield and anyio is not None:
        with anyio.CancelScope(shield=True) as scope:
            if timeout is not None:
                scope.deadline = anyio.current_time() + timeout
            return await step(*args)
        raise DeadlineExceeded(timeout)
    if current_library() == "trio":
        return await _trio_bounded(step, timeout, shield, args)
    if timeout is None:
        return await step(*args)
    return await (_WATCHDOG or watchdog()).watched(step, timeout, args)  # type: ignore[no-any-return]


async def _trio_bounded(
    step: Callable[..., Awaitable[T]], timeout: float | None, shield: bool, args: tuple[object, ...]
) -> T:
    import trio

    with trio.CancelScope(shield=shield) as scope:
        if timeout is not None:
            scope.deadline = trio.current_time() + timeout
        return await step(*args)
    raise DeadlineExceeded(timeout)


# -- events and detached tasks (the mailbox and the task group are in _tasks.py) ------------------


class Event(Protocol):
    """``asyncio.Event`` and ``trio.Event`` share this much."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    async def wait(self) -> object: ...


def new_event() -> Event:
    """A fresh event for the running library."""
    if current_library() == "trio":
        import trio

        return trio.Event()
    import asyncio

    return asyncio.Event()


def spawn_detached(fn: Callable[[], Awaitable[object]]) -> Callable[[], object]:
    """Run ``fn()`` in a task that belongs to no caller; return what cancels it.

    The task lives in no cancel scope and no task group of the caller, so it may be started from
    one task or scope and waited for from another, and an outer cancellation does not reach it.
    On trio it is a system task with a copy of the caller's context: ``fn`` must not raise (a
    system task that raises crashes the run); its cancellation is fine. On asyncio the task is
    kept referenced until it ends.
    """
    if current_library() == "trio":
        import contextvars

        import trio

        scope = trio.CancelScope()

        async def run_in_scope() -> None:
            with scope:
                await fn()

        trio.lowlevel.spawn_system_task(run_in_scope, context=contextvars.copy_context())
        return scope.cancel
    import asyncio

    async def run() -> None:
        await fn()

    task = asyncio.ensure_future(run())
    _detached.add(task)
    task.add_done_callback(_detached.discard)
    return task.cancel


_detached: set[Any] = set()  # asyncio keeps only weak references to running tasks


def is_cancellation(error: BaseException) -> bool:
    """Whether ``error`` is the running library's cancellation."""
    if current_library() == "trio":
        import trio

        kind: type[BaseException] = trio.Cancelled
    else:
        import asyncio

        kind = asyncio.CancelledError
    if isinstance(error, kind):
        return True
    split = getattr(error, "split", None)  # a group of cancellations (a nursery's) is one too
    return split is not None and isinstance(error, BaseException) and split(kind)[1] is None


_WATCHDOG: Any = None  # _watchdog.py once the first time limit needed it


def watchdog() -> Any:
    """``_watchdog.py`` (``watched``), loaded by the first time limit.

    Not by ``import asgi_core``: it is the biggest part of this package, and an app that is
    imported but never served (a CLI, a test collecting) never needs it.
    """
    global _WATCHDOG
    if _WATCHDOG is None:
        from asgi_core._concurrency import _watchdog

        _WATCHDOG = _watchdog
    return _WATCHDOG
