"""A mailbox and a task group with the same behaviour on asyncio and trio.

* ``Mailbox``: an unbounded queue with one reader at a time; ``put`` never blocks.
* ``open_task_group()``: ``async with open_task_group() as group: group.start_soon(fn)`` runs
  ``fn()`` beside the body. Leaving the block waits for every task; if the body raised, the
  tasks are cancelled first. ``cancel()`` cancels every task (and, on trio, the rest of the
  body, as a nursery does). Tasks are expected to catch their own ``Exception``s; the group
  only waits for them.

The backend is chosen once, when the group is opened: ``_TrioTaskGroup`` wraps a nursery,
``_AsyncioTaskGroup`` keeps a list of asyncio tasks; neither knows the other.
"""

from __future__ import annotations

import collections
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from asgi_core._concurrency import Event, current_library, new_event

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["Mailbox", "TaskGroup", "open_task_group"]

T = TypeVar("T")


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


class TaskGroup(Protocol):
    """What both backends offer; ``open_task_group()`` gives the running library's."""

    async def __aenter__(self) -> TaskGroup: ...

    def start_soon(
        self, fn: Callable[[], Awaitable[object]], *, shielded: bool = False
    ) -> Callable[[], object]:
        """Run ``fn()`` in a new task; return a callable that cancels just that task.

        ``shielded=True``: a cancellation of the code around the group does not reach the task;
        only the returned callable or ``cancel()`` stop it (asyncio tasks are never reached by
        an outer cancellation in the first place).
        """
        ...

    def cancel(self) -> None: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...


def open_task_group() -> TaskGroup:
    """A task group for the running library (enter it with ``async with``)."""
    return _TrioTaskGroup() if current_library() == "trio" else _AsyncioTaskGroup()


class _TrioTaskGroup:
    def __init__(self) -> None:
        import trio

        self._trio = trio
        self._manager = trio.open_nursery()
        self._nursery: Any = None
        self._scopes: list[Any] = []

    async def __aenter__(self) -> TaskGroup:
        self._nursery = await self._manager.__aenter__()
        return self

    def start_soon(
        self, fn: Callable[[], Awaitable[object]], *, shielded: bool = False
    ) -> Callable[[], object]:
        scope = self._trio.CancelScope(shield=shielded)
        self._scopes.append(scope)

        async def run_in_scope() -> None:
            with scope:
                await fn()

        self._nursery.start_soon(run_in_scope)
        return scope.cancel

    def cancel(self) -> None:
        for scope in self._scopes:
            scope.cancel()
        self._nursery.cancel_scope.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return bool(await self._manager.__aexit__(exc_type, exc, tb))


class _AsyncioTaskGroup:
    def __init__(self) -> None:
        import asyncio

        self._asyncio = asyncio
        self._tasks: list[asyncio.Future[None]] = []

    async def __aenter__(self) -> TaskGroup:
        return self

    def start_soon(
        self, fn: Callable[[], Awaitable[object]], *, shielded: bool = False
    ) -> Callable[[], object]:
        async def run() -> None:
            await fn()

        task = self._asyncio.ensure_future(run())
        self._tasks.append(task)
        return task.cancel

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is not None:
            self.cancel()
        while self._tasks:
            pending = [task for task in self._tasks if not task.done()]
            if not pending:
                break
            try:
                await self._asyncio.wait(pending)
            except BaseException:  # cancelled while waiting: cancel the tasks, wait, then go on
                self.cancel()
                await self._asyncio.wait(pending)
                raise
        for task in self._tasks:
            error = None if task.cancelled() else task.exception()
            if error is not None and exc is None:
                raise error
        return False
