"""The only module that knows asyncio and trio.

Core code awaits ``receive``, ``send`` and user hooks, which run on whatever loop the server runs;
the few things that need the library itself (time limits, shielding cleanup from cancellation)
live here. Neither library is imported at import time: trio is used only when the caller is
already running inside trio (so it is already in ``sys.modules``), asyncio otherwise.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

__all__ = ["DeadlineExceeded", "current_library", "run_bounded"]

T = TypeVar("T")


class DeadlineExceeded(Exception):
    """``run_bounded``'s own time limit ran out (a ``TimeoutError`` the step raised is not this)."""


def current_library() -> Literal["asyncio", "trio"]:
    """Name the async library running the current task (trio only if trio is running it)."""
    trio = sys.modules.get("trio")
    if trio is not None and trio.lowlevel.in_trio_task():
        return "trio"
    return "asyncio"


async def run_bounded(
    step: Callable[[], Awaitable[T]], timeout: float | None, *, shield: bool = False
) -> T:
    """Await ``step()``; raise ``DeadlineExceeded`` if it takes more than ``timeout`` seconds.

    ``shield=True`` keeps an outer cancellation from interrupting it (cleanup that must run while
    the caller is being cancelled). On trio that takes a shielded cancel scope, since every await
    inside a cancelled scope is cancelled again; on asyncio a cancellation is delivered once, so
    awaits after catching it already run, and nothing more is needed.
    """
    if current_library() == "trio":
        return await _trio_bounded(step, timeout, shield)
    if timeout is None:
        return await step()
    return await _asyncio_bounded(step, timeout)


async def _trio_bounded(step: Callable[[], Awaitable[T]], timeout: float | None, shield: bool) -> T:
    import trio

    with trio.CancelScope(shield=shield) as scope:
        if timeout is not None:
            scope.deadline = trio.current_time() + timeout
        return await step()
    raise DeadlineExceeded(timeout)


if sys.version_info >= (3, 11):

    async def _asyncio_bounded(step: Callable[[], Awaitable[T]], timeout: float) -> T:
        import asyncio

        limit = asyncio.timeout(timeout)
        try:
            async with limit:
                return await step()
        except TimeoutError:
            if limit.expired():
                raise DeadlineExceeded(timeout) from None
            raise

else:  # pragma: no cover - Python 3.10: no asyncio.timeout, so the step runs in its own task

    async def _asyncio_bounded(step: Callable[[], Awaitable[T]], timeout: float) -> T:
        import asyncio

        task = asyncio.ensure_future(step())
        try:
            done, _ = await asyncio.wait((task,), timeout=timeout)
        except BaseException:
            task.cancel()
            raise
        if not done:
            task.cancel()
            await asyncio.wait((task,))
            raise DeadlineExceeded(timeout)
        return task.result()
