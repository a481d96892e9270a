"""ONE timer per asyncio loop behind every time limit: lifespan phases and single calls.

A per-step cancel scope or ``asyncio.timeout`` costs a timer per step (several microseconds each
on asyncio, far more than a no-op hook), and even reading the clock at each step's start costs
more than awaiting a no-op hook. Here a step only stores itself as its phase's current step
(``watch.step = step``; the lifecycle's stage loop does it). One timer per event loop (``_Dog``)
looks at every running phase every ``timeout / LOOKS`` seconds: a current step it has not seen
before started since its last look, and is counted from this look; one it has seen for
``timeout`` seconds has overrun and is cancelled. So any number of fast steps costs no timer and
no clock read of their own, and a hung step is cancelled at least ``timeout`` and at most
``timeout * (1 + 1/LOOKS)`` seconds after it began. A single bounded call (``watched``: every
health probe) is counted from its exact start. An untimed step is looked at, never cancelled.
The timer is ``loop.call_at`` and the cancellation ``task.cancel()`` (taken back with
``uncancel()``, as ``asyncio.timeout`` does), or an anyio cancel scope's ``cancel()``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from asgi_core._concurrency._library import DeadlineExceeded

__all__ = ["LOOKS", "watched"]

_INF = float("inf")
LOOKS = 8  # looks per time limit: a hung step is cancelled at most 1/8 of its limit late
_LOOK = 1 / LOOKS
_COUNTED = sys.version_info >= (3, 11)  # tasks count cancellations (cancelling, uncancel)

T = TypeVar("T")


class _Current(Protocol):
    """What the timer needs of a phase's current step: whether it may cancel it."""

    @property
    def timed(self) -> bool: ...


class _Dog:
    """The one timer of an asyncio loop: it looks after every phase running on that loop.

    While any phase runs, it looks every ``timeout / LOOKS`` seconds (the shortest limit of
    those running), and at a step's deadline if that comes first: a current step not seen
    before is counted from this look, one seen for its whole limit is cancelled. With no phase
    left it stays unarmed. A phase starting while the timer is armed early enough costs no
    timer at all.
    """

    __slots__ = ("at", "clock", "handle", "loop", "watches")

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        # asyncio's own loop.time() is time.monotonic() behind a Python frame: skip the frame
        base = getattr(sys.modules.get("asyncio"), "BaseEventLoop", None)
        plain = base is not None and getattr(type(loop), "time", None) is base.time
        self.clock: Callable[[], float] = time.monotonic if plain else loop.time
        self.watches: set[_Watch] = set()
        self.handle: Any = None
        self.at = _INF

    def arm(self, deadline: float) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.handle = self.loop.call_at(deadline, self._check)
        self.at = deadline

    def _check(self) -> None:
        self.handle = None
        self.at = _INF
        now = self.clock()
        upcoming = _INF
        for watch in list(self.watches):
            step = watch.step
            timeout = watch.timeout
            if step is not watch.seen:  # began since the last look: counted from now
                watch.seen = step
                watch.seen_at = now
                deadline = now + timeout
            else:
                deadline = watch.seen_at + timeout
                if deadline <= now:
                    if step.timed:
                        watch.fire()  # and goes on looking, for the steps after it
                    deadline = _INF  # fired, or untimed: looked at until the next one begins
            due = now + timeout * _LOOK
            if deadline < due:
                due = deadline
            if due < upcoming:
                upcoming = due
        if upcoming != _INF:
            self.arm(upcoming)


_dog: _Dog | None = None  # the last loop's; a phase keeps a reference to its own


def _dog_for(loop: Any) -> _Dog:
    global _dog
    dog = _dog
    if dog is None or dog.loop is not loop:
        dog = _dog = _Dog(loop)
    return dog


class _Begun:
    """The current step of a phase before its first step, and the call ``watched`` bounds."""

    timed = True


_BEGUN = _Begun()


class _Watch:
    """One asyncio phase under its loop's ``_Dog``: cancels the current step once it overran.

    ``step`` is the phase's current step (set by the stage loop as each one starts); ``seen``
    and ``seen_at`` are the step the timer saw last and when it first saw it.
    """

    __slots__ = (
        "cancel",
        "cancelling",
        "dog",
        "fired",
        "seen",
        "seen_at",
        "step",
        "task",
        "timeout",
    )
    step: _Current
    seen: _Current

    def __init__(
        self, task: Any, timeout: float | None, cancel: Callable[[], object] | None = None
    ) -> None:
        loop = task.get_loop()
        dog = _dog
        if dog is None or dog.loop is not loop:
            dog = _dog_for(loop)
        self.dog = dog
        self.task = task
        self.cancel = cancel  # None: task.cancel (looked up when it fires, if ever)
        self.renew(timeout)

    def renew(self, timeout: float | None) -> None:
        """Watch (again) a phase of ``timeout`` that begins now (None: not watched)."""
        self.fired = False
        if timeout is None:
            self.timeout = _INF
            return
        self.timeout = timeout
        # the count asyncio.timeout compares with: a cancellation of our own is taken back
        self.cancelling = self.task.cancelling() if _COUNTED else 0
        dog = self.dog
        dog.watches.add(self)
        # what watched() bounds begins now, exactly; a phase's first step replaces it
        self.step = self.seen = _BEGUN
        self.seen_at = now = dog.clock()
        # arm the timer unless it will look soon enough anyway
        look = now + timeout * _LOOK
        if look < dog.at:
            dog.arm(look)

    def fire(self) -> None:
        self.seen_at = _INF  # once per step
        if self.cancel is not None:  # a scope's cancel(): the scope takes its cancellation
            self.fired = True
            self.cancel()
            return
        if self.fired:  # the last cancellation was swallowed by its step: taken back first
            self.claim()
        self.fired = True
        self.task.cancel()

    def claim(self) -> bool:
        """After the timer fired: whether the cancellation in flight is only ours."""
        self.fired = False
        if _COUNTED:
            return bool(self.task.uncancel() <= self.cancelling)
        return True  # pragma: no cover - Python 3.10 does not count cancellations

    def close(self) -> None:
        self.dog.watches.discard(self)


async def watched(
    call: Callable[..., Awaitable[T]], timeout: float, args: tuple[object, ...] = ()
) -> T:
    """On asyncio: ``await call(*args)``; ``DeadlineExceeded`` after ``timeout`` s (loop timer).

    This bounds every health probe: asyncio is read from ``sys.modules`` (it runs us, so it is
    there), cheaper than an import statement per call.
    """
    asyncio = sys.modules["asyncio"]
    watch = _Watch(asyncio.current_task(), timeout)  # armed: the call starts now
    try:
        result = await call(*args)
    except asyncio.CancelledError:
        if watch.fired and watch.claim():
            raise DeadlineExceeded(timeout) from None
        raise
    finally:
        watch.dog.watches.discard(watch)  # watch.close(), written out
    if watch.fired:  # it swallowed our cancellation and returned: take it back
        watch.claim()
    return result
