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

``stop_requests`` (for ``Application.run()``) waits for SIGINT/SIGTERM or ``exit()``: the signal
handling is ``_concurrency/_signals.py``'s, the ``exit()`` part an exit handler.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from typing import IO, TYPE_CHECKING

from asgi_core._concurrency._signals import StopWaiter, signal_stop_requests

if TYPE_CHECKING:
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


@contextlib.asynccontextmanager
async def stop_requests() -> AsyncIterator[StopWaiter]:
    """Within the block, SIGINT, SIGTERM and ``exit()`` are stop requests; ``wait()`` for one.

    The signals are the running library's business (``_concurrency/_signals.py``); ``exit()``
    reaches the waiter through this process's exit handlers.
    """
    async with signal_stop_requests() as waiter:
        with exit_handler(waiter.request_from_any_thread):
            yield waiter
