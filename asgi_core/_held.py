"""A context manager entered and exited in a task of its own.

Why: a startup step is bounded by a time limit, which is a cancel scope around the step. If a
user's lifespan opens a task group (a trio nursery, an anyio task group) in ``__aenter__`` and
closes it in ``__aexit__``, our limit around either call would interleave with that scope, and
both libraries refuse that ("cancel scope stack corrupted"). So the context is entered, held and
exited by a task of its own, and the time limits wrap only our *waiting* for it.

The task is shielded: a cancellation of the code around the group (the server cancelling the
lifespan task) does not interrupt the user's ``__aexit__``. It stops only when we cancel it, after
its enter or exit took longer than allowed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgi_core._concurrency import new_event

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from asgi_core._concurrency import TaskGroup

__all__ = ["Held"]


class Held:
    """``await Held.enter(group, context)``, later ``await held.exit(error)``."""

    def __init__(self, context: AbstractAsyncContextManager[Any]) -> None:
        self.context = context
        self.value: Any = None
        self._error: Exception | None = None
        self._exit_with: BaseException | None = None
        self._entered = new_event()
        self._release = new_event()
        self._done = new_event()
        self._cancel: Any = None
        self.exited = False

    @classmethod
    async def enter(cls, group: TaskGroup, context: AbstractAsyncContextManager[Any]) -> Held:
        """Enter ``context`` in a new task of ``group``; return once it is entered, or raise."""
        held = cls(context)
        held._cancel = group.start_soon(held._run, shielded=True)
        try:
            await held._entered.wait()
        except BaseException:  # our time limit ran out, or we were cancelled: stop entering
            held._cancel()
            raise
        if held._error is not None:
            raise held._error
        return held

    async def exit(self, error: BaseException | None) -> None:
        """Exit the context (with ``error`` as the exception in flight, if any), or raise."""
        self.exited = True
        self._exit_with = error
        self._release.set()
        try:
            await self._done.wait()
        except BaseException:
            self._cancel()
            raise
        if self._error is not None:
            raise self._error

    async def _run(self) -> None:
        try:
            try:
                self.value = await self.context.__aenter__()
            finally:
                self._entered.set()
            await self._release.wait()
            error = self._exit_with
            traceback = error.__traceback__ if error is not None else None
            await self.context.__aexit__(type(error) if error else None, error, traceback)
        except Exception as exc:  # reported by enter() or exit(), in the waiting task
            self._error = exc
        finally:
            self._entered.set()
            self._done.set()
