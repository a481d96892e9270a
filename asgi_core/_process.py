"""Per-process serving state: what ``exit()`` does, worker ids, and waiting for a stop request.

``exit()`` stops the service that runs the application, whoever started it:

* inside ``Application.run()`` it ends the run (the waiter below wakes up);
* under ``run()`` or ``asgi-core run``, the runner installs a handler that starts the server's
  graceful shutdown: uvicorn in this process stops serving; a worker process (gunicorn, uvicorn's
  own workers, the reloader's child) sends SIGTERM to its supervisor, which stops every worker;
* under a server someone else started (after a lifespan startup), it sends SIGTERM to the
  server's main process, which is how those servers are asked to shut down gracefully: the
  ``multiprocessing`` parent of a worker (hypercorn, granian, uvicorn's workers), else the
  current process. gunicorn forks its workers itself, so under gunicorn's own CLI the worker
  stops and gunicorn starts a new one.

Handlers are per process (a stack: the innermost run wins). Worker ids come from lock files in
a directory the runner creates: each worker locks the lowest free slot, and the operating system
releases it when the worker dies, so a replacement worker gets the same id.

This module also waits for SIGINT/SIGTERM or ``exit()`` on asyncio and trio (``stop_requests``,
for ``Application.run()``), with the library's own signal handling and no polling.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from asgi_core.application import Application

__all__ = [
    "claim_worker_slot",
    "exit_handler",
    "request_exit",
    "serving_process",
    "set_exit_handler",
    "stop_process",
    "stop_requests",
]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_handlers: list[Callable[[], None]] = []
_held_slots: list[IO[bytes]] = []


@contextlib.contextmanager
def exit_handler(handler: Callable[[], None]) -> Iterator[None]:
    """Make ``exit()`` call ``handler`` in this process while the block runs."""
    _handlers.append(handler)
    try:
        yield
    finally:
        _handlers.remove(handler)


def set_exit_handler(handler: Callable[[], None]) -> None:
    """Make ``exit()`` call ``handler`` for the rest of this process (a worker process)."""
    _handlers.insert(0, handler)


def request_exit(app: Application) -> None:
    """``Application.exit()``: stop the service ``app`` runs in (see the module docstring)."""
    if _handlers:
        _handlers[-1]()
    elif app.served_by_lifespan:
        stop_process(serving_process())


def serving_process() -> int:
    """The process to stop for a server someone else started: its supervisor if it has one.

    hypercorn and granian run the app in a ``multiprocessing`` worker whose SIGTERM ends only
    that worker (hypercorn without its shutdown hooks, granian then exits 1); their main process
    stops every worker gracefully. Without such a parent (uvicorn, or a gunicorn worker, which
    gunicorn forks itself) it is the current process.
    """
    import multiprocessing

    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        return parent.pid
    return os.getpid()


def stop_process(pid: int) -> None:
    """Ask process ``pid`` to shut down gracefully (SIGTERM; on Windows, CTRL+BREAK)."""
    if sys.platform == "win32":  # pragma: no cover - untested: no Windows runner
        if pid == os.getpid():
            signal.raise_signal(signal.SIGINT)
            return
        os.kill(pid, signal.CTRL_BREAK_EVENT)
        return
    os.kill(pid, signal.SIGTERM)


def _try_lock(handle: IO[bytes]) -> bool:
    if sys.platform == "win32":  # pragma: no cover - untested: no Windows runner
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def claim_worker_slot(directory: str) -> int:
    """Lock the lowest free slot in ``directory`` for the life of this process; its number.

    While a supervisor replaces workers more may be alive than it runs, so the number can
    exceed the worker count for a moment; it never repeats one held by a live worker.
    """
    slot = 0
    while True:
        handle = open(os.path.join(directory, f"worker-{slot}.lock"), "ab")
        if _try_lock(handle):
            _held_slots.append(handle)  # kept open: closing it would release the slot
            return slot
        handle.close()
        slot += 1


# -- waiting for SIGINT/SIGTERM or exit() ------------------------------------------------------


class _Waiter:
    def __init__(self, wait: Callable[[], Awaitable[object]], reason: list[str]) -> None:
        self._wait = wait
        self._reason = reason

    async def wait(self) -> str:
        """Return what asked to stop: ``"SIGINT"``, ``"SIGTERM"`` or ``"exit()"``."""
        if not self._reason:
            await self._wait()
        return self._reason[0]


@contextlib.asynccontextmanager
async def stop_requests() -> AsyncIterator[_Waiter]:
    """Within the block, SIGINT, SIGTERM and ``exit()`` are stop requests; ``wait()`` for one.

    On asyncio the signals get their previous handlers back after the first request, so a
    second Ctrl+C interrupts a stop that hangs; on trio, when the block ends.
    """
    from asgi_core._concurrency import current_library

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
async def _asyncio_stop_requests() -> AsyncIterator[_Waiter]:
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
    try:

        def from_any_thread() -> None:
            loop.call_soon_threadsafe(stop, "exit()")

        with exit_handler(from_any_thread):
            yield _Waiter(event.wait, reason)
    finally:
        restore()


@contextlib.asynccontextmanager
async def _trio_stop_requests() -> AsyncIterator[_Waiter]:
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
                with exit_handler(from_any_thread):
                    yield _Waiter(event.wait, reason)
            except BaseException as exc:
                raised = exc
            finally:
                nursery.cancel_scope.cancel()
    if raised is not None:
        raise raised
