"""The only module that knows asyncio and trio.

Core code awaits ``receive``, ``send`` and user hooks, which run on whatever loop the server runs;
the few things that need the library itself (time limits, shielding cleanup from cancellation)
live here. Neither library is imported at import time: trio is used only when the caller is
already running inside trio (so it is already in ``sys.modules``), asyncio otherwise.
"""

from __future__ import annotations

import collections
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

if TYPE_CHECKING:
    from types import TracebackType

__all__ = [
    "DeadlineExceeded",
    "Event",
    "Mailbox",
    "TaskGroup",
    "current_library",
    "is_cancellation",
    "new_event",
    "run_bounded",
    "spawn_detached",
]

T = TypeVar("T")


class DeadlineExceeded(Exception):
    """``run_bounded``'s own time limit ran out (a ``TimeoutError`` the step raised is not this)."""


def current_library() -> Literal["asyncio", "trio"]:
    """Name the async library running the current task (trio only if trio is running it)."""
    trio = sys.modules.get("trio")
    if trio is None:
        return "asyncio"
    probe = _trio_probe
    if probe[0] is not trio:
        probe = _probe_for(trio)
    return "trio" if probe[1]() else "asyncio"


def _probe_for(trio: Any) -> tuple[object, Callable[[], bool]]:
    """``trio.lowlevel.in_trio_task`` (trio 0.29+), or the same test built for an older trio.

    Before 0.29, ``trio.lowlevel.current_task()`` raising ``RuntimeError`` outside a trio task
    is the test. The probe is cached per trio module: this runs on every request of some routes.
    """
    global _trio_probe
    in_trio_task = getattr(trio.lowlevel, "in_trio_task", None)
    if in_trio_task is None:
        current_task = trio.lowlevel.current_task

        def in_trio_task() -> bool:
            try:
                current_task()
            except RuntimeError:
                return False
            return True

    _trio_probe = (trio, in_trio_task)
    return _trio_probe


_trio_probe: tuple[object, Callable[[], bool]] = (None, bool)


async def run_bounded(
    step: Callable[[], Awaitable[T]], timeout: float | None, *, shield: bool = False
) -> T:
    """Await ``step()``; raise ``DeadlineExceeded`` if it takes more than ``timeout`` seconds.

    ``shield=True`` keeps an outer cancellation from interrupting it (cleanup that must run while
    the caller is being cancelled). On trio that takes a shielded cancel scope, since every await
    inside a cancelled scope is cancelled again. Plain asyncio delivers a cancellation once, so
    awaits after catching it already run; but when anyio is loaded (a server or a framework
    around us uses its task groups), its cancel scopes re-deliver cancellation on every await
    under asyncio too, so its shielded scope is used.
    """
    anyio = sys.modules.get("anyio")
    if shield and anyio is not None:
        with anyio.CancelScope(shield=True) as scope:
            if timeout is not None:
                scope.deadline = anyio.current_time() + timeout
            return await step()
        raise DeadlineExceeded(timeout)
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


# -- events, mailboxes, task groups (sub-app lifespans, asgi_core.testing) ------------------------
#
# Three small primitives with the same behaviour on both libraries: an event, a mailbox (an
# unbounded queue with one reader at a time), and a task group whose tasks run beside the caller
# until the group is left. Tasks are expected to catch their own ``Exception``s; the group only
# waits for them, or cancels them if the body raised.


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


class Mailbox(Generic[T]):
    """An unbounded queue: ``put`` never blocks, ``get`` waits for an item."""

    def __init__(self) -> None:
        self._items: collections.deque[T] = collections.deque()
        self._ready: Event | None = None

    def put(self, item: T) -> None:
        self._items.append(item)
        if self._ready is not None:
            self._ready.set()

    def __len__(self) -> int:
        return len(self._items)

    async def get(self) -> T:
        while not self._items:
            self._ready = new_event()  # one-shot events: a fresh one for every wait
            await self._ready.wait()
        return self._items.popleft()


class TaskGroup:
    """``async with TaskGroup() as group: group.start_soon(fn)``: runs ``fn()`` beside the body.

    Leaving the block waits for every task; if the body raised, the tasks are cancelled first.
    ``cancel()`` cancels every task (and, on trio, the rest of the body, as a nursery does).
    """

    def __init__(self) -> None:
        self._nursery_manager: Any = None
        self._nursery: Any = None
        self._tasks: list[Any] = []
        self._scopes: list[Any] = []

    async def __aenter__(self) -> TaskGroup:
        if current_library() == "trio":
            import trio

            self._nursery_manager = trio.open_nursery()
            self._nursery = await self._nursery_manager.__aenter__()
        return self

    def start_soon(
        self, fn: Callable[[], Awaitable[object]], *, shielded: bool = False
    ) -> Callable[[], object]:
        """Run ``fn()`` in a new task; return a callable that cancels just that task.

        ``shielded=True``: a cancellation of the code around the group does not reach the task;
        only the returned callable or ``cancel()`` stop it (asyncio tasks are never reached by
        an outer cancellation in the first place).
        """
        if self._nursery is not None:
            import trio

            scope = trio.CancelScope(shield=shielded)
            self._scopes.append(scope)

            async def run_in_scope() -> None:
                with scope:
                    await fn()

            self._nursery.start_soon(run_in_scope)
            return scope.cancel
        import asyncio

        async def run() -> None:
            await fn()

        task = asyncio.ensure_future(run())
        self._tasks.append(task)
        return task.cancel

    def cancel(self) -> None:
        for scope in self._scopes:
            scope.cancel()
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()
        for task in self._tasks:
            task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if self._nursery_manager is not None:
            return bool(await self._nursery_manager.__aexit__(exc_type, exc, tb))
        import asyncio

        if exc is not None:
            self.cancel()
        while self._tasks:
            pending = [task for task in self._tasks if not task.done()]
            if not pending:
                break
            try:
                await asyncio.wait(pending)
            except BaseException:  # cancelled while waiting: cancel the tasks, wait, then go on
                self.cancel()
                await asyncio.wait(pending)
                raise
        for task in self._tasks:
            error = None if task.cancelled() else task.exception()
            if error is not None and exc is None:
                raise error
        return False
