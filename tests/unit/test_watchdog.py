"""The one watchdog timer behind every lifespan step's time limit (``_concurrency/_watchdog.py``
and ``_phases.py``).

A phase costs one timer however many steps it has, yet each step keeps its own limit, counted
from its own start: a hung step among fast ones is cancelled and named, the fast ones are not,
and a phase whose steps together take longer than one limit still completes.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import anyio
import pytest

from asgi_core import AsgiFastStream, HookTimeoutError
from asgi_core._concurrency import DeadlineExceeded, run_bounded
from asgi_core._concurrency._phases import run_steps
from tests.harness import communicate, lifespan_scope

pytestmark = pytest.mark.anyio

STARTUP = {"type": "lifespan.startup"}
SHUTDOWN = {"type": "lifespan.shutdown"}
GUARD = 30  # seconds: a broken watchdog fails the test instead of hanging it
HUNG = 5  # seconds a "hung" step takes


class Broker:
    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


def recorder(events: list[str], name: str, seconds: float = 0) -> Callable[[], Awaitable[None]]:
    async def hook() -> None:
        events.append(f"{name} began")
        await anyio.sleep(seconds)
        events.append(f"{name} ended")

    hook.__qualname__ = name
    return hook


async def hang_forever() -> None:
    """Hangs, as far as a 0.1-0.2 s limit can tell; ends on its own so that a shielded phase
    under a broken watchdog fails the test instead of hanging it."""
    await anyio.sleep(HUNG)


async def test_watchdog_cancels_and_names_the_hung_startup_step_among_fast_ones() -> None:
    events: list[str] = []
    hooks = [recorder(events, "fast1"), recorder(events, "fast2"), hang_forever]
    app = AsgiFastStream(
        Broker(), startup_timeout=0.2, on_startup=hooks, after_startup=[recorder(events, "late")]
    )
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        reply = await comm.get(GUARD)
        await comm.wait_done(GUARD)
    assert reply["type"] == "lifespan.startup.failed"
    assert "on_startup hook" in reply["message"] and "hang_forever" in reply["message"]
    assert isinstance(comm.error, HookTimeoutError)
    assert comm.error.stage == "startup" and "hang_forever" in comm.error.step
    assert events == ["fast1 began", "fast1 ended", "fast2 began", "fast2 ended"]


async def test_watchdog_counts_each_step_from_its_own_start_not_the_phase_start() -> None:
    events: list[str] = []
    # 25 steps of 0.03 s: 0.75 s in all, more than the 0.3 s limit, none of them alone
    hooks = [recorder(events, f"step{n}", 0.03) for n in range(25)]
    app = AsgiFastStream(Broker(), startup_timeout=0.3, on_startup=hooks)
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        assert (await comm.get(GUARD))["type"] == "lifespan.startup.complete"
        await comm.put(SHUTDOWN)
        assert (await comm.get(GUARD))["type"] == "lifespan.shutdown.complete"
        await comm.wait_done(GUARD)
    assert comm.error is None
    assert events[-1] == "step24 ended"


async def test_watchdog_cancels_the_hung_shutdown_step_and_runs_the_ones_after_it() -> None:
    events: list[str] = []
    app = AsgiFastStream(
        Broker(),
        shutdown_timeout=0.2,
        on_shutdown=[recorder(events, "first"), hang_forever],
        after_shutdown=[recorder(events, "after")],
    )
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        assert (await comm.get(GUARD))["type"] == "lifespan.startup.complete"
        await comm.put(SHUTDOWN)
        reply = await comm.get(GUARD)
        await comm.wait_done(GUARD)
    assert reply["type"] == "lifespan.shutdown.failed"
    assert "on_shutdown hook" in reply["message"] and "hang_forever" in reply["message"]
    assert isinstance(comm.error, HookTimeoutError) and "hang_forever" in comm.error.step
    assert events == ["first began", "first ended", "after began", "after ended"]


class Step(NamedTuple):
    call: Callable[[], Awaitable[object]]
    timed: bool = True


def collect(into: list[tuple[Any, type[BaseException]]], keep_going: bool) -> Any:
    def failed(step: Step, error: Exception) -> bool:
        into.append((step, type(error)))
        return keep_going

    return failed


@pytest.mark.parametrize("shield", [False, True])
@pytest.mark.parametrize("without_anyio", [False, True])
async def test_watchdog_run_steps_reports_exactly_the_step_that_overran(
    anyio_backend: str, shield: bool, without_anyio: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if without_anyio:
        if anyio_backend != "asyncio":
            pytest.skip("anyio only changes the asyncio path")
        monkeypatch.delitem(sys.modules, "anyio")  # a server loop with no anyio anywhere
    events: list[str] = []
    slow = Step(hang_forever)
    steps = [
        Step(recorder(events, "a")),
        slow,
        Step(recorder(events, "b", 0.01)),
        Step(recorder(events, "untimed", 0.3), timed=False),  # bounds itself: never cancelled
        Step(recorder(events, "c")),
    ]
    failures: list[tuple[Any, type[BaseException]]] = []
    with anyio.fail_after(GUARD):
        await run_steps(steps, 0.1, collect(failures, keep_going=True), shield=shield)
    assert failures == [(slow, DeadlineExceeded)]
    assert events == [
        *("a began", "a ended", "b began", "b ended"),
        *("untimed began", "untimed ended", "c began", "c ended"),
    ]
    stopped: list[tuple[Any, type[BaseException]]] = []
    with anyio.fail_after(GUARD):
        await run_steps(steps, 0.1, collect(stopped, keep_going=False), shield=shield)
    assert stopped == [(slow, DeadlineExceeded)]  # and nothing ran after it
    assert events[8:] == ["a began", "a ended"]


@pytest.mark.parametrize("shield", [False, True])
async def test_watchdog_still_bounds_a_hung_step_that_follows_a_long_untimed_one(
    shield: bool,
) -> None:
    # the timer fires while the untimed step runs (it must not cancel it) and has to be armed
    # again for the hung step after it, or that step would run its full 5 s
    events: list[str] = []
    hung = Step(hang_forever)
    steps = [Step(recorder(events, "untimed", 0.35), timed=False), hung]
    failures: list[tuple[Any, type[BaseException]]] = []
    with anyio.fail_after(HUNG - 1):  # well before the hung step would end by itself
        await run_steps(steps, 0.1, collect(failures, keep_going=True), shield=shield)
    assert failures == [(hung, DeadlineExceeded)]
    assert events == ["untimed began", "untimed ended"]


@pytest.mark.parametrize("shield", [False, True])
async def test_watchdog_cancels_every_hung_step_of_a_phase_not_only_the_first(
    shield: bool,
) -> None:
    """The timer goes on looking after it cancelled a step: a second hung step is bounded too
    (run_steps alone: no other time limit on the loop arms the timer again)."""
    first, second = Step(hang_forever), Step(hang_forever)
    failures: list[tuple[Any, type[BaseException]]] = []
    with anyio.fail_after(HUNG - 1):  # well before either would end by itself
        await run_steps([first, second], 0.1, collect(failures, keep_going=True), shield=shield)
    assert failures == [(first, DeadlineExceeded), (second, DeadlineExceeded)]


@pytest.mark.parametrize("last", [False, True])
async def test_watchdog_takes_back_a_cancellation_a_step_swallowed(
    anyio_backend: str, last: bool
) -> None:
    """A step that catches our cancellation and returns is not reported; a hung step after it
    is still cancelled and named (not taken for an outer cancellation), and the task is not
    left cancelled."""
    events: list[str] = []

    async def swallower() -> None:
        try:
            await anyio.sleep(HUNG)
        except anyio.get_cancelled_exc_class():
            events.append("swallowed")

    hung = Step(hang_forever)
    steps = [Step(swallower)] if last else [Step(swallower), hung, Step(recorder(events, "c"))]
    failures: list[tuple[Any, type[BaseException]]] = []
    with anyio.fail_after(GUARD):
        await run_steps(steps, 0.1, collect(failures, keep_going=True))
        await anyio.sleep(0)  # not cancelled: the next await runs
    assert failures == ([] if last else [(hung, DeadlineExceeded)])
    assert events == (["swallowed"] if last else ["swallowed", "c began", "c ended"])
    if anyio_backend == "asyncio" and sys.version_info >= (3, 11):
        import asyncio

        task = asyncio.current_task()
        assert task is not None and task.cancelling() == 0  # our cancellations taken back


async def test_watchdog_leaves_an_outer_cancellation_alone() -> None:
    events: list[str] = []
    failures: list[tuple[Any, type[BaseException]]] = []
    with anyio.move_on_after(0.05) as outer:
        await run_steps([Step(recorder(events, "long", 5))], 10, collect(failures, keep_going=True))
    assert outer.cancelled_caught  # the outer scope's own cancellation, not a step failure
    assert failures == [] and events == ["long began"]


async def test_watchdog_bounds_run_bounded_and_takes_back_its_cancellation() -> None:
    with anyio.fail_after(GUARD):
        with pytest.raises(DeadlineExceeded):
            await run_bounded(hang_forever, 0.05)
        # the task is not left cancelled: the next await runs
        await anyio.sleep(0)
        assert await run_bounded(_answer, 0.05) == 42


async def _answer() -> int:
    await anyio.sleep(0)
    return 42


async def test_watchdog_shielded_phase_outside_anyio_scopes_runs_every_step_then_cancels(
    anyio_backend: str,
) -> None:
    """anyio imported, but the task is a plain asyncio one (a server's lifespan task)."""
    if anyio_backend != "asyncio":
        pytest.skip("a plain asyncio task")
    import asyncio

    events: list[str] = []
    failures: list[tuple[Any, type[BaseException]]] = []
    steps = [Step(recorder(events, "first", 0.2)), Step(recorder(events, "second", 0.01))]
    task = asyncio.ensure_future(
        run_steps(steps, 10, collect(failures, keep_going=True), shield=True)
    )
    await asyncio.sleep(0.05)  # "first" is running
    task.cancel()
    with anyio.fail_after(GUARD), pytest.raises(asyncio.CancelledError):
        await task
    assert events == ["first began", "second began", "second ended"]  # first was interrupted
    assert failures == []


async def test_watchdog_lifespan_in_a_plain_asyncio_task_bounds_both_stages_with_one_watch(
    anyio_backend: str,
) -> None:
    """A server's lifespan task (uvicorn's: no anyio scope): the shutdown reuses the startup's
    watch, and still cancels and names a hung step, then runs the steps after it."""
    if anyio_backend != "asyncio":
        pytest.skip("a plain asyncio task")
    import asyncio

    events: list[str] = []
    app = AsgiFastStream(
        Broker(),
        startup_timeout=5,
        shutdown_timeout=0.2,
        on_startup=[recorder(events, "start", 0.25)],  # longer than the shutdown limit: fine
        on_shutdown=[hang_forever],
        after_shutdown=[recorder(events, "after")],
    )
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "lifespan.startup.complete":
            await inbox.put(SHUTDOWN)

    await inbox.put(STARTUP)
    task = asyncio.ensure_future(app(lifespan_scope(), inbox.get, send))  # type: ignore[arg-type]
    with anyio.fail_after(HUNG - 1), pytest.raises(HookTimeoutError) as caught:
        await task
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.failed"]
    assert "hang_forever" in caught.value.step and caught.value.stage == "shutdown"
    assert events == ["start began", "start ended", "after began", "after ended"]


# -- the timer's looks, on a clock the test moves (no time measured) -------------------------------


class _Loop:
    """A loop whose clock the test sets; ``call_at`` only records when the timer is due."""

    def __init__(self) -> None:
        self.now = 0.0
        self.due: list[float] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None]) -> Any:
        self.due.append(when)
        return _Handle()


class _Handle:
    def cancel(self) -> None:
        return None


class _Task:
    """``cancels``: how often the watchdog cancelled it (``uncancel`` is 3.11+ only)."""

    def __init__(self, loop: _Loop) -> None:
        self.loop = loop
        self.cancels = 0
        self.pending = 0

    def get_loop(self) -> _Loop:
        return self.loop

    def cancelling(self) -> int:
        return self.pending

    def cancel(self) -> None:
        self.cancels += 1
        self.pending += 1

    def uncancel(self) -> int:
        self.pending -= 1
        return self.pending


def _watch_on(loop: _Loop, timeout: float) -> tuple[Any, _Task]:
    from asgi_core._concurrency import _watchdog

    task = _Task(loop)
    return _watchdog._Watch(task, timeout), task


def _look(watch: Any, loop: _Loop, at: float) -> None:
    loop.now = at
    watch.dog._check()


def test_watchdog_timer_counts_a_step_from_the_first_look_that_saw_it() -> None:
    from asgi_core._concurrency._watchdog import LOOKS

    loop = _Loop()
    watch, task = _watch_on(loop, 8.0)  # looks every 1 s
    assert loop.due == [8.0 / LOOKS]  # armed for its first look, not for a deadline
    first = Step(hang_forever)
    watch.step = first
    _look(watch, loop, 1.0)  # first seen here: it began at 0 < t <= 1
    _look(watch, loop, 8.5)  # 8.5 s after the phase began, but only 7.5 since it was seen
    assert task.cancels == 0 and not watch.fired
    assert loop.due[-1] == 9.0  # its deadline: 8 s after it was first seen
    _look(watch, loop, 9.0)
    assert task.cancels == 1 and watch.fired  # cancelled at most 1/LOOKS of the limit late
    watch.claim()
    _look(watch, loop, 20.0)
    assert task.cancels == 1  # fired once per step, however long it goes on
    second = Step(hang_forever)
    watch.step = second  # the next step gets a full limit of its own
    _look(watch, loop, 21.0)
    _look(watch, loop, 28.5)
    assert task.cancels == 1
    _look(watch, loop, 29.0)
    assert task.cancels == 2
    watch.close()


def test_watchdog_timer_never_cancels_an_untimed_step_and_keeps_looking() -> None:
    loop = _Loop()
    watch, task = _watch_on(loop, 1.0)
    watch.step = Step(hang_forever, timed=False)
    for at in (0.125, 5.0, 50.0):
        _look(watch, loop, at)
    assert task.cancels == 0
    assert loop.due[-1] == 50.125  # still looking, for the timed step after it
    watch.step = Step(hang_forever)
    _look(watch, loop, 50.25)
    _look(watch, loop, 51.25)
    assert task.cancels == 1
    watch.close()


def test_watchdog_timer_bounds_a_single_call_from_its_exact_start() -> None:
    """``watched`` (every health probe): the call began when its watch did."""
    loop = _Loop()
    loop.now = 3.0
    watch, task = _watch_on(loop, 1.0)
    _look(watch, loop, 3.125)
    _look(watch, loop, 3.99)
    assert task.cancels == 0
    _look(watch, loop, 4.0)
    assert task.cancels == 1
    watch.close()
    _look(watch, loop, 10.0)
    assert loop.due[-1] < 10.0  # no phase left: the timer is not armed again


def test_watchdog_timer_cancelling_a_scope_never_touches_the_task() -> None:
    """Under an anyio scope the timer cancels the scope; it takes back no task cancellation."""
    from asgi_core._concurrency import _watchdog

    loop = _Loop()
    task = _Task(loop)
    scope_cancels: list[float] = []
    watch = _watchdog._Watch(task, 1.0, lambda: scope_cancels.append(loop.now))
    for begins in (0.0, 10.0):  # two hung steps, one after the other, under the same watch
        watch.step = Step(hang_forever)
        _look(watch, loop, begins + 0.125)
        _look(watch, loop, begins + 1.125)
    assert scope_cancels == [1.125, 11.125]
    assert task.cancels == 0 and task.pending == 0
    watch.close()
