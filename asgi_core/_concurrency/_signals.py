"""Waiting for SIGINT or SIGTERM on asyncio and trio, with the library's own signal handling.

``signal_stop_requests()`` turns the two signals into stop requests while its block runs (only in
the main thread: elsewhere a signal can't be handled, and only ``request_from_any_thread`` asks
to stop). ``StopWaiter.wait()`` returns the first request's name: ``"SIGINT"``, ``"SIGTERM"``
or ``"exit()"``. No polling: asyncio's ``add_signal_handler``, trio's ``open_signal_receiver``.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable

from asgi_core._concurrency import current_library

__all__ = ["STOP_SIGNALS", "StopWaiter", "signal_stop_requests"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopWaiter:
    """``await waiter.wait()`` returns the first stop request's name."""

    def __init__(
        self,
        wait: Callable[[], Awaitable[object]],
        reason: list[str],
        request_from_any_thread: Callable[[], None],
    ) -> None:
        self._wait = wait
        self._reason = reason
        self.request_from_any_thread = request_from_any_thread  # a stop request named "exit()"

    async def wait(self) -> str:
        """Return what asked to stop: ``"SIGINT"``, ``"SIGTERM"`` or ``"exit()"``."""
        if not self._reason:
            await self._wait()
        return self._reason[0]


@contextlib.asynccontextmanager
async def signal_stop_requests() -> AsyncIterator[StopWaiter]:
    """Within the block, SIGINT and SIGTERM are stop requests; ``wait()`` for one.

    On asyncio the signals get their previous handlers back after the first request, so a
    second Ctrl+C interrupts a stop that hangs; on trio, when the block ends.
    """
    if current_library() == "trio":
        async with _trio_stop_requests() as waiter:
            yield waiter
    else:
        async with _asyncio_stop_requests() as waiter:
            yield waiter


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


@contextlib.asynccontextmanager
async def _asyncio_stop_requests() -> AsyncIterator[StopWaiter]:
    import asyncio

    loop = asyncio.get_running_loop()
    event = asyncio.Event()
    reason: list[str] = []
    installed: list[signal.Signals] = []

    def restore() -> None:
        while installed:
            loop.remove_signal_handler(installed.pop())

    def stop(why: str) -> None:
        if not reason:
            reason.append(why)
            event.set()
        restore()

    if _in_main_thread():
        for sig in STOP_SIGNALS:
            try:
                loop.add_signal_handler(sig, stop, sig.name)
            except NotImplementedError:  # pragma: no cover - Windows event loops
                break
            installed.append(sig)

    def from_any_thread() -> None:
        loop.call_soon_threadsafe(stop, "exit()")

    try:
        yield StopWaiter(event.wait, reason, from_any_thread)
    finally:
        restore()


@contextlib.asynccontextmanager
async def _trio_stop_requests() -> AsyncIterator[StopWaiter]:
    import trio

    token = trio.lowlevel.current_trio_token()
    event = trio.Event()
    reason: list[str] = []

    def stop(why: str) -> None:
        if not reason:
            reason.append(why)
            event.set()

    async def watch(receiver: AsyncIterator[int]) -> None:
        async for number in receiver:
            stop(signal.Signals(number).name)
            return

    def from_any_thread() -> None:
        try:
            token.run_sync_soon(stop, "exit()")
        except trio.RunFinishedError:  # pragma: no cover - the run is over already
            pass

    signals = trio.open_signal_receiver(*STOP_SIGNALS) if _in_main_thread() else None
    # The watcher must be gone before the receiver closes, so the nursery is inside it. What
    # the block raises is re-raised outside the nursery, unwrapped from an exception group.
    raised: BaseException | None = None
    with signals if signals is not None else contextlib.nullcontext() as receiver:
        async with trio.open_nursery() as nursery:
            if receiver is not None:
                nursery.start_soon(watch, receiver)
            try:
                yield StopWaiter(event.wait, reason, from_any_thread)
            except BaseException as exc:
                raised = exc
            finally:
                nursery.cancel_scope.cancel()
    if raised is not None:
        raise raised
