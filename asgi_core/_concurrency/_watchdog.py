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
``uncancel()``, as ``asyncio.timeout`` does), or an anyio cancel scope's ``cancel()``. A phase
that begins reads no clock unless the timer must be armed sooner than it is (``_Dog.span``).
"""

from __future__ import annotations

import sys
import time
from _thread import get_ident
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from asgi_core._concurrency._library import DeadlineExceeded

if TYPE_CHECKING:
    from weakref import WeakSet

__all__ = ["LOOKS", "TASK_LOOKUP", "task_lookup", "watched"]

_INF = float("inf")
LOOKS = 8  # looks per time limit: a hung step is cancelled at most 1/8 of its limit late
_LOOK = 1 / LOOKS
_COUNTED = sys.version_info >= (3, 11)  # tasks count cancellations (cancelling, uncancel)
_SPARES = 16  # watches of finished single calls a loop keeps for the next calls
# CPython 3.10 and 3.11's asyncio.get_running_loop() makes a getpid() system call every time (so
# that a forked child does not take its parent's loop for its own): ~0.2 us, more than a stage
_GETPID_PER_CALL = sys.version_info < (3, 12)

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
    timer and no clock read: ``span`` is how far ahead the timer was armed when it was (``at``
    is no later than ``span`` from any moment after that), so a phase whose looks may be
    ``span`` apart needs no clock to know the timer looks soon enough.
    """

    __slots__ = ("__weakref__", "at", "clock", "handle", "here", "loop", "span", "spare", "watches")

    def __init__(self, loop: Any) -> None:
        self.loop = loop
        # asyncio's own loop.time() is time.monotonic() behind a Python frame: skip the frame
        base = getattr(sys.modules.get("asyncio"), "BaseEventLoop", None)
        plain = base is not None and getattr(type(loop), "time", None) is base.time
        self.clock: Callable[[], float] = time.monotonic if plain else loop.time
        # Whether "loop._thread_id == get_ident()" tells that this loop runs the current code,
        # with no get_running_loop() and its system call: asyncio's own run_forever() sets
        # _thread_id to the thread running the loop, and back to None when it stops, and a
        # thread runs one loop at a time. Dropped in a forked child (_forked).
        self.here = (
            _GETPID_PER_CALL
            and base is not None
            and getattr(type(loop), "run_forever", None) is base.run_forever
        )
        if self.here:
            _drop_here_on_fork(self)
        self.watches: set[_Watch] = set()
        self.spare: list[_Watch] = []  # watches of finished single calls, for the next ones
        self.handle: Any = None
        self.at = _INF
        self.span = _INF  # unarmed

    def arm(self, deadline: float, now: float) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.handle = self.loop.call_at(deadline, self._check)
        self.at = deadline
        self.span = deadline - now

    def look_within(self, interval: float) -> None:
        """Make sure the timer looks within ``interval`` seconds from now."""
        now = self.clock()
        if now + interval < self.at:
            self.arm(now + interval, now)

    def _check(self) -> None:
        self.handle = None
        self.at = self.span = _INF
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
            self.arm(upcoming, now)


_dog: _Dog | None = None  # the last loop's; a phase keeps a reference to its own


def _dog_for(loop: Any) -> _Dog:
    global _dog
    dog = _dog
    if dog is None or dog.loop is not loop:
        dog = _dog = _Dog(loop)
    return dog


_HERE: WeakSet[_Dog] | None = None  # the dogs whose ``here`` a forked child drops


def _drop_here_on_fork(dog: _Dog) -> None:
    """Note ``dog`` among those whose ``here`` ``_forked`` drops in a child process."""
    global _HERE
    if _HERE is None:
        import os
        import weakref

        _HERE = weakref.WeakSet()
        os.register_at_fork(after_in_child=_forked)
    _HERE.add(dog)


def _forked() -> None:
    """In a child process just forked from this one: the parent's loops do not run here, though
    their ``_thread_id`` says they do (the forking thread's ident is the child's), so every dog
    made before asks asyncio again, and the next call makes a dog for the child's own loop."""
    global _dog
    for dog in list(_HERE or ()):
        dog.here = False
    _dog = None


class _Begun:
    """The current step of a phase before its first step, and the call ``watched`` bounds."""

    timed = True


_BEGUN = _Begun()
_UNSEEN = _Begun()  # what the timer saw of a phase that just began: no step yet


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
        self,
        task: Any,
        timeout: float | None,
        cancel: Callable[[], object] | None = None,
        exact: bool = False,
    ) -> None:
        """Watch ``task`` (None: the current task) for a phase of ``timeout`` that begins now
        (``exact``: see ``renew``)."""
        if task is None:
            get, running_loop = TASK_LOOKUP or task_lookup()
            loop = running_loop()
            task = get(loop)
        else:
            loop = task.get_loop()
        dog = _dog
        if dog is None or dog.loop is not loop:
            dog = _dog_for(loop)
        self.dog = dog
        self.cancel = cancel  # None: task.cancel (looked up when it fires, if ever)
        self.renew(timeout, task, exact)

    def renew(self, timeout: float | None, task: Any = None, exact: bool = False) -> bool:
        """Watch again, on ``task`` (None: the current task), a phase of ``timeout`` that
        begins now (None: not watched); False, and nothing changed, if the current task runs on
        another loop than this watch's: a watch for that loop is needed (``_Watch(None, ...)``).

        Its steps are counted from the first look that sees each, so the clock is read only
        if the timer might look later than ``timeout / LOOKS`` from now (it was armed further
        ahead, or not at all). ``exact``: a single call (``watched``), counted from now.
        """
        dog = self.dog
        if task is None:
            get, running_loop = TASK_LOOKUP or task_lookup()  # in C, once known
            loop = dog.loop
            # this loop runs us if it says so (dog.here), else if asyncio says so
            if not (dog.here and loop._thread_id == get_ident()) and running_loop() is not loop:
                return False
            task = get(loop)
        self.task = task
        self.fired = False
        if timeout is None:
            self.timeout = _INF
            return True
        self.timeout = timeout
        # the count asyncio.timeout compares with: a cancellation of our own is taken back
        self.cancelling = task.cancelling() if _COUNTED else 0
        dog.watches.add(self)
        self.step = _BEGUN  # the phase's first step replaces it
        if exact:  # the call starts now: counted from now, not from the timer's next look
            self.seen = _BEGUN
            self.seen_at = dog.clock()
        else:
            self.seen = _UNSEEN
        look = timeout * _LOOK
        if dog.span > look:  # the timer might look later than that: see, and arm it sooner
            dog.look_within(look)
        return True

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
    there), cheaper than an import statement per call, and the task found by ``task_lookup``
    on the loop that runs us (the last one's, if it says it runs in this thread: ``_Dog.here``).
    """
    get, running_loop = TASK_LOOKUP or task_lookup()
    dog = _dog
    if dog is None or not (dog.here and dog.loop._thread_id == get_ident()):  # as in renew
        loop = running_loop()
        if dog is None or dog.loop is not loop:
            dog = _dog_for(loop)
    task = get(dog.loop)
    spare = dog.spare
    if spare:  # a watch of a call that finished: building one costs more than the call
        watch = spare.pop()
        watch.renew(timeout, task, True)  # counted from now: the call starts now
    else:
        watch = _Watch(task, timeout, None, True)
    try:
        return await call(*args)
    except sys.modules["asyncio"].CancelledError:
        if watch.fired and watch.claim():
            raise DeadlineExceeded(timeout) from None
        raise
    finally:
        if watch.fired:  # it swallowed our cancellation (returned, or raised): take it back
            watch.claim()
        dog.watches.discard(watch)  # watch.close(), written out
        watch.task = None  # a spare holds no task
        if len(spare) < _SPARES:
            spare.append(watch)


TASK_LOOKUP: tuple[Callable[[Any], Any], Callable[[], Any]] | None = None
"""What ``task_lookup()`` returned, once it has run: read it first (``TASK_LOOKUP or
task_lookup()``), as a call costs a frame on every lifespan stage and health probe."""


def task_lookup() -> tuple[Callable[[Any], Any], Callable[[], Any]]:
    """``(get, running_loop)``: ``get(running_loop())`` is ``asyncio.current_task()``, in C.

    On CPython 3.10 and 3.11 ``asyncio.current_task`` is a Python function around a lookup in
    the dict of current tasks that asyncio's C tasks keep: one frame, some 1,500 machine
    instructions, 3% of a lifespan cycle. That dict is looked up directly there; elsewhere
    ``asyncio.current_task`` itself is used. Asked only while asyncio runs us.
    """
    global TASK_LOOKUP
    asyncio = sys.modules["asyncio"]
    current_task = asyncio.current_task
    tasks = getattr(asyncio.tasks, "_current_tasks", None)
    if hasattr(current_task, "__code__") and type(tasks) is dict:  # the Python function
        TASK_LOOKUP = tasks.get, asyncio.get_running_loop
    else:
        TASK_LOOKUP = current_task, asyncio.get_running_loop
    return TASK_LOOKUP
