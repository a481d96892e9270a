"""A context manager entered and exited in a detached task of its own.

Why: a startup step is bounded by a time limit, which is a cancel scope around the step. If a
user's lifespan opens a task group (a trio nursery, an anyio task group) in ``__aenter__`` and
closes it in ``__aexit__``, our limit around either call would interleave with that scope, and
both libraries refuse that ("cancel scope stack corrupted"). So the context is entered, held and
exited by a task of its own, and the time limits wrap only our *waiting* for it.

The task is detached (``spawn_detached``): it belongs to no cancel scope or task group of the
caller, so ``enter`` and ``exit`` may be awaited from different tasks and scopes (``start()`` in
one, ``stop()`` in another), and a cancellation of the caller does not interrupt the user's
``__aexit__``. It stops only when we cancel it (its enter or exit took longer than allowed, or
``close`` finds it still running), or when the loop itself shuts down; then the context is exited
with that cancellation in flight, as ``async with`` would.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgi_core._concurrency import (
    DeadlineExceeded,
    is_cancellation,
    new_event,
    run_bounded,
    spawn_detached,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractAsyncContextManager

__all__ = ["Held"]


class Held:
    """``held = await Held.enter(context)``, later ``await held.exit(error)``, then ``close()``."""

    def __init__(self, context: AbstractAsyncContextManager[Any]) -> None:
        self.context = context
        self.value: Any = None
        self._error: BaseException | None = None
        self._exit_with: BaseException | None = None
        self._entered = new_event()
        self._release = new_event()
        self._done = new_event()
        self._cancel: Callable[[], object] = _not_started
        self._cancelled = False
        self.exited = False

    @classmethod
    async def enter(cls, context: AbstractAsyncContextManager[Any]) -> Held:
        """Enter ``context`` in a detached task; return once it is entered, or raise."""
        held = cls(context)
        held._cancel = spawn_detached(held._run)
        try:
            await held._entered.wait()
        except BaseException:  # our time limit ran out, or we were cancelled: stop entering
            held._cancel()
            raise
        held._raise_error("entered")
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
        self._raise_error("exited")

    async def close(self, timeout: float | None) -> None:
        """Cancel the task if it still runs and wait for it (shielded, at most ``timeout``)."""
        if self._done.is_set():
            return
        self._cancel()
        try:
            await run_bounded(self._done.wait, timeout, shield=True)
        except DeadlineExceeded:
            pass  # it ignores its cancellation; it ends when it ends, nobody waits for it

    def _raise_error(self, what: str) -> None:
        if self._error is not None:
            raise self._error
        if self._cancelled:
            raise RuntimeError(
                f"{self.context!r} was cancelled before it {what}: the event loop is shutting "
                "down; start and stop the application before the loop ends"
            )

    async def _run(self) -> None:
        try:
            try:
                self.value = await self.context.__aenter__()
            finally:
                self._entered.set()
            try:
                await self._release.wait()
            except BaseException as cancelled:  # the loop is ending: exit as async with would
                await self.context.__aexit__(type(cancelled), cancelled, cancelled.__traceback__)
                raise
            error = self._exit_with
            traceback = error.__traceback__ if error is not None else None
            await self.context.__aexit__(type(error) if error else None, error, traceback)
        except BaseException as exc:  # a detached task never raises: the waiting task does
            if is_cancellation(exc):
                self._cancelled = True
            else:
                self._error = exc
        finally:
            self._entered.set()
            self._done.set()


def _not_started() -> None:
    """The canceller of a ``Held`` whose task has not been spawned yet."""
