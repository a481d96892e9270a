"""The one watchdog timer behind every lifespan step's time limit (``_concurrency/_watchdog.py``
and ``_phases.py``).

A phase costs one timer however many steps it has, yet each step keeps its own limit, counted
from its own start: a hung step among fast ones is cancelled and named, the fast ones are not,
and a phase whose steps together take longer than one limit still completes.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import anyio
import pytest

from asgi_core import AsgiFastStream, HookTimeoutError
from asgi_core._brokers import BrokerList
from asgi_core._concurrency import DeadlineExceeded, run_bounded
from asgi_core._lifecycle import Lifecycle
from asgi_core._steps import Failure, Step
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


def step(call: Callable[[], Awaitable[object]], name: str, timed: bool = True) -> Step:
    return Step(call, name, timed=timed)


async def run_stage(stage: str, steps: list[Step], timeout: float) -> list[tuple[str, type]]:
    """Run ``steps`` as a lifecycle's startup (it stops at the first failure) or its shutdown
    (shielded; every step runs), on the watchdog's loop; each failing step's name and error."""
    plan: Any = SimpleNamespace(
        startup=tuple(steps), at=len(steps), pairs=(), shutdown=tuple(steps)
    )
    caller: Any = None  # no hooks to call: the steps are given
    lifecycle = Lifecycle(BrokerList(None), caller)
    lifecycle.renew(plan, None, {}, timeout, timeout, None)
    if stage == "startup":
        failure = await lifecycle.startup()
        failures: tuple[Failure, ...] = () if failure is None else (failure,)
    else:
        lifecycle.started = True
        failures = await lifecycle.shutdown()
    return [(failure.step, type(failure.error)) for failure in failures]


TIMED_OUT = HookTimeoutError


@pytest.mark.parametrize("without_anyio", [False, True])
async def test_watchdog_stages_report_exactly_the_step_that_overran(
    anyio_backend: str, without_anyio: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if without_anyio:
        if anyio_backend != "asyncio":
            pytest.skip("anyio only changes the asyncio path")
        monkeypatch.delitem(sys.modules, "anyio")  # a server loop with no anyio anywhere
        monkeypatch.delitem(sys.modules, "anyio._backends._asyncio", raising=False)
    events: list[str] = []
    steps = [
        step(recorder(events, "a"), "a"),
        step(hang_forever, "slow"),
        step(recorder(events, "b", 0.01), "b"),
        step(recorder(events, "untimed", 0.3), "untimed", timed=False),  # bounds itself
        step(recorder(events, "c"), "c"),
    ]
    with anyio.fail_after(GUARD):
        assert await run_stage("shutdown", steps, 0.1) == [("slow", TIMED_OUT)]
    assert events == [
        *("a began", "a ended", "b began", "b ended"),
        *("untimed began", "untimed ended", "c began", "c ended"),
    ]
    with anyio.fail_after(GUARD):
        assert await run_stage("startup", steps, 0.1) == [("slow", TIMED_OUT)]
    assert events[8:] == ["a began", "a ended"]  # and nothing ran after it


@pytest.mark.parametrize("stage", ["startup", "shutdown"])
async def test_watchdog_still_bounds_a_hung_step_that_follows_a_long_untimed_one(
    stage: str,
) -> None:
    # the timer fires while the untimed step runs (it must not cancel it) and has to be armed
    # again for the hung step after it, or that step would run its full 5 s
    events: list[str] = []
    steps = [step(recorder(events, "untimed", 0.35), "untimed", timed=False)]
    steps.append(step(hang_forever, "hung"))
    with anyio.fail_after(HUNG - 1):  # well before the hung step would end by itself
        assert await run_stage(stage, steps, 0.1) == [("hung", TIMED_OUT)]
    assert events == ["untimed began", "untimed ended"]


async def test_watchdog_cancels_every_hung_step_of_a_phase_not_only_the_first() -> None:
    """The timer goes on looking after it cancelled a step: a second hung step is bounded too
    (a stage alone: no other time limit on the loop arms the timer again)."""
    steps = [step(hang_forever, "first"), step(hang_forever, "second")]
    with anyio.fail_after(HUNG - 1):  # well before either would end by itself
        failures = await run_stage("shutdown", steps, 0.1)
    assert failures == [("first", TIMED_OUT), ("second", TIMED_OUT)]


@pytest.mark.parametrize("stage", ["startup", "shutdown"])
@pytest.mark.parametrize("last", [False, True])
async def test_watchdog_takes_back_a_cancellation_a_step_swallowed(
    anyio_backend: str, stage: str, last: bool
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

    steps = [step(swallower, "swallower")]
    if not last:
        steps += [step(hang_forever, "hung"), step(recorder(events, "c"), "c")]
    with anyio.fail_after(GUARD):
        failures = await run_stage(stage, steps, 0.1)
        await anyio.sleep(0)  # not cancelled: the next await runs
    assert failures == ([] if last else [("hung", TIMED_OUT)])
    ran_on = [] if last or stage == "startup" else ["c began", "c ended"]
    assert events == ["swallowed", *ran_on]
    if anyio_backend == "asyncio" and sys.version_info >= (3, 11):
        import asyncio

        task = asyncio.current_task()
        assert task is not None
        if stage == "shutdown" and await anyio_keeps_a_swallowed_cancellation_counted():
            # a shielded shutdown under an anyio scope is cancelled through anyio's scope, and
            # older anyio (4.4, the lowest tested) takes its own cancellation back only when
            # the scope caught it; newer versions take back every one they made
            task.uncancel()
        assert task.cancelling() == 0  # our cancellations taken back


async def anyio_keeps_a_swallowed_cancellation_counted() -> bool:
    """Whether an anyio cancel scope whose cancellation a step swallowed leaves the asyncio
    task's cancel count raised (older anyio does); the count is put back."""
    import asyncio

    if sys.version_info < (3, 11):  # no count to keep
        return False

    task = asyncio.current_task()
    assert task is not None
    before = task.cancelling()
    with anyio.CancelScope() as scope:
        scope.cancel()
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            pass  # swallowed, as the step under test does
    kept = task.cancelling() > before
    while task.cancelling() > before:
        task.uncancel()
    return kept


async def test_watchdog_leaves_an_outer_cancellation_alone() -> None:
    events: list[str] = []
    failures: list[tuple[str, type]] = []
    with anyio.move_on_after(0.05) as outer:
        failures = await run_stage("startup", [step(recorder(events, "long", 5), "long")], 10)
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


async def test_watchdog_single_calls_reuse_finished_watches_and_each_is_bounded(
    anyio_backend: str,
) -> None:
    """Bounded calls one after another, and several at once, each get their own limit: a
    watch a finished call left for the next one bounds that call, not the last one's task."""
    import weakref

    with anyio.fail_after(GUARD):
        for _ in range(3):
            assert await run_bounded(_answer, 1.0) == 42
            with pytest.raises(DeadlineExceeded):
                await run_bounded(hang_forever, 0.05)
        results: list[object] = []

        async def one(timeout: float, hangs: bool) -> None:
            try:
                results.append(await run_bounded(hang_forever if hangs else _answer, timeout))
            except DeadlineExceeded:
                results.append(f"timed out after {timeout}")

        async with anyio.create_task_group() as group:
            for timeout, hangs in ((0.05, True), (5.0, False), (0.1, True), (5.0, False)):
                group.start_soon(one, timeout, hangs)
        assert sorted(map(str, results)) == [
            "42",
            "42",
            "timed out after 0.05",
            "timed out after 0.1",
        ]
    if anyio_backend == "asyncio":  # a spare watch holds no task
        import asyncio
        import gc

        async def call_in_a_task() -> None:
            await run_bounded(_answer, 1.0)

        task = asyncio.ensure_future(call_in_a_task())
        await task
        gone = weakref.ref(task)
        del task
        await asyncio.sleep(0)
        gc.collect()
        assert gone() is None


async def test_watchdog_single_call_that_swallows_the_cancellation_and_raises(
    anyio_backend: str,
) -> None:
    """A bounded call that catches our cancellation and raises something else: that error
    reaches the caller, and the task is not left cancelled."""
    if anyio_backend != "asyncio":
        pytest.skip("asyncio's cancel count")
    import asyncio

    async def swallows_and_raises() -> None:
        try:
            await asyncio.sleep(HUNG)
        except asyncio.CancelledError:
            raise ValueError("gave up") from None

    with anyio.fail_after(GUARD):
        with pytest.raises(ValueError, match="gave up"):
            await asyncio.ensure_future(run_bounded(swallows_and_raises, 0.05))  # a plain task
        if sys.version_info >= (3, 11):
            probe = asyncio.ensure_future(_cancel_count_after(swallows_and_raises))
            assert await probe == 0  # our cancellation taken back
        await asyncio.sleep(0)  # the next await runs


async def _cancel_count_after(call: Callable[[], Awaitable[None]]) -> int:
    import asyncio

    try:
        await run_bounded(call, 0.05)
    except ValueError:
        pass
    task = asyncio.current_task()
    assert task is not None
    if sys.version_info < (3, 11):  # pragma: no cover - no count to read
        return 0
    return task.cancelling()


async def test_watchdog_shielded_phase_outside_anyio_scopes_runs_every_step_then_cancels(
    anyio_backend: str,
) -> None:
    """anyio imported, but the task is a plain asyncio one (a server's lifespan task)."""
    if anyio_backend != "asyncio":
        pytest.skip("a plain asyncio task")
    import asyncio

    events: list[str] = []
    steps = [
        step(recorder(events, "first", 0.2), "first"),
        step(recorder(events, "second", 0.01), "second"),
    ]
    task = asyncio.ensure_future(run_stage("shutdown", steps, 10))
    await asyncio.sleep(0.05)  # "first" is running
    task.cancel()
    with anyio.fail_after(GUARD), pytest.raises(asyncio.CancelledError):
        await task
    assert events == ["first began", "second began", "second ended"]  # first was interrupted


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
        self.reads = 0  # of the clock

    def time(self) -> float:
        self.reads += 1
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
    first = step(hang_forever, "hung")
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
    second = step(hang_forever, "hung")
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
    watch.step = step(hang_forever, "untimed", timed=False)
    for at in (0.125, 5.0, 50.0):
        _look(watch, loop, at)
    assert task.cancels == 0
    assert loop.due[-1] == 50.125  # still looking, for the timed step after it
    watch.step = step(hang_forever, "hung")
    _look(watch, loop, 50.25)
    _look(watch, loop, 51.25)
    assert task.cancels == 1
    watch.close()


def test_watchdog_timer_bounds_a_single_call_from_its_exact_start() -> None:
    """``watched`` (every health probe): the call began when its watch did."""
    from asgi_core._concurrency import _watchdog

    loop = _Loop()
    loop.now = 3.0
    task = _Task(loop)
    watch = _watchdog._Watch(task, 1.0, exact=True)  # what watched() does
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
        watch.step = step(hang_forever, "hung")
        _look(watch, loop, begins + 0.125)
        _look(watch, loop, begins + 1.125)
    assert scope_cancels == [1.125, 11.125]
    assert task.cancels == 0 and task.pending == 0
    watch.close()


def test_watchdog_timer_a_phase_begun_while_the_timer_looks_soon_enough_reads_no_clock() -> None:
    """A phase's steps are counted from the looks: beginning one arms the timer only if it
    would look too late for the phase's limit, and reads the clock only then."""
    from asgi_core._concurrency import _watchdog

    loop = _Loop()
    first, _ = _watch_on(loop, 8.0)  # unarmed: armed to look in 1 s, after a clock read
    assert loop.due == [1.0] and loop.reads == 1
    second = _watchdog._Watch(_Task(loop), 8.0)  # the timer looks within 1 s anyway
    third = _watchdog._Watch(_Task(loop), 16.0)  # ... which is soon enough for 2 s looks
    assert loop.due == [1.0] and loop.reads == 1
    fourth = _watchdog._Watch(_Task(loop), 4.0)  # needs a look within 0.5 s: armed sooner
    assert loop.due == [1.0, 0.5] and loop.reads == 2
    _look(first, loop, 0.5)  # re-armed 0.5 s ahead, for the shortest limit running
    assert loop.due[-1] == 1.0
    reads = loop.reads
    fifth = _watchdog._Watch(_Task(loop), 4.0)
    assert loop.due[-1] == 1.0 and loop.reads == reads
    for watch in (first, second, third, fourth, fifth):
        watch.close()
    _look(first, loop, 1.0)  # nothing left to look after: unarmed
    sixth = _watchdog._Watch(_Task(loop), 8.0)
    assert loop.due[-1] == 2.0 and loop.reads == reads + 2  # the look, then arming again
    sixth.close()


async def test_watchdog_task_lookup_finds_the_current_task(anyio_backend: str) -> None:
    """``task_lookup``'s ``get(running_loop())`` is ``asyncio.current_task()`` in every task
    (on CPython 3.10 and 3.11 read from asyncio's own dict, without its Python frame)."""
    if anyio_backend != "asyncio":
        pytest.skip("asyncio's tasks")
    import asyncio

    from asgi_core._concurrency._watchdog import task_lookup

    get, running_loop = task_lookup()

    async def found() -> bool:
        return get(running_loop()) is asyncio.current_task()

    assert await found()
    assert all(await asyncio.gather(*(asyncio.ensure_future(found()) for _ in range(3))))


async def test_watchdog_anyio_scope_is_read_from_anyios_task_table(anyio_backend: str) -> None:
    if anyio_backend != "asyncio":
        pytest.skip("anyio's asyncio backend")
    import asyncio

    from asgi_core._concurrency._phases import under_an_anyio_scope

    with anyio.CancelScope():
        assert under_an_anyio_scope(asyncio.current_task())
    seen: list[bool] = []

    async def plain() -> None:
        seen.append(under_an_anyio_scope(asyncio.current_task()))

    await asyncio.ensure_future(plain())  # a plain task while anyio's table holds others
    async with anyio.create_task_group() as group:

        async def child() -> None:
            seen.append(under_an_anyio_scope(asyncio.current_task()))

        group.start_soon(child)
    assert seen == [False, True]


@pytest.mark.parametrize("shape", ["unknown", "dict"])
def test_watchdog_anyio_task_table_of_another_shape(
    shape: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from asgi_core._concurrency import _phases

    backend = SimpleNamespace()
    monkeypatch.setitem(sys.modules, _phases.ANYIO_ON_ASYNCIO, backend)
    monkeypatch.setattr(_phases, "_TABLE", None)
    monkeypatch.setattr(_phases, "_KEY", _phases._itself)
    task, other = object(), object()
    if shape == "unknown":  # anything unexpected counts as enclosed: the shielded path
        backend._task_states = [task]
        assert _phases.under_an_anyio_scope(other)
    else:  # a plain dict of task states, looked up by the task itself
        backend._task_states = {task: SimpleNamespace(cancel_scope=object())}
        assert _phases.under_an_anyio_scope(task)
        assert not _phases.under_an_anyio_scope(other)
        backend._task_states.clear()
        assert not _phases.under_an_anyio_scope(task)


async def test_watchdog_finds_the_running_task_without_asking_asyncio_for_the_loop(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On CPython 3.10 and 3.11 ``asyncio.get_running_loop()`` makes a getpid() system call:
    a lifespan cycle and a bounded call on asyncio's own loop ask the loop instead
    (``_Dog.here``), and still bound the task that runs them."""
    if anyio_backend != "asyncio" or sys.version_info >= (3, 12):
        pytest.skip("asyncio's loop on CPython 3.10 and 3.11")
    import asyncio

    from asgi_core._concurrency import _watchdog

    get, running_loop = _watchdog.task_lookup()
    asked: list[object] = []

    def counted() -> object:
        asked.append(None)
        return running_loop()

    app = AsgiFastStream(Broker(), on_startup=[recorder([], "start")])

    async def cycle() -> list[str]:
        inbox = iter([STARTUP, SHUTDOWN])
        sent: list[str] = []

        async def receive() -> dict[str, Any]:
            return next(inbox)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message["type"])

        await app(lifespan_scope(), receive, send)  # type: ignore[arg-type]
        return sent

    await cycle()  # the record and its watch, and the dog of this loop, exist
    await run_bounded(_noop, 5.0)
    monkeypatch.setattr(_watchdog, "TASK_LOOKUP", (get, counted))
    assert await cycle() == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    await run_bounded(_noop, 5.0)
    assert asked == []
    with pytest.raises(DeadlineExceeded):
        await run_bounded(hang_forever, 0.1)
    assert asyncio.current_task() is not None  # the task bounded was this one, not another's


def test_watchdog_a_loop_running_in_another_thread_is_not_taken_for_this_ones() -> None:
    """The last loop's dog runs in another thread: a bounded call here still bounds this
    thread's task, on this thread's loop."""
    import asyncio
    import threading

    from asgi_core._concurrency import _watchdog

    ready, done = threading.Event(), threading.Event()

    async def other() -> None:
        await run_bounded(_noop, 5.0)  # the module's dog is now this loop's
        ready.set()
        while not done.is_set():
            await asyncio.sleep(0.01)

    thread = threading.Thread(target=asyncio.run, args=(other(),))
    thread.start()
    try:
        assert ready.wait(GUARD)
        other_dog = _watchdog._dog

        async def here() -> bool:
            try:
                await run_bounded(hang_forever, 0.1)
            except DeadlineExceeded:
                return _watchdog._dog is not other_dog
            return False

        assert asyncio.run(asyncio.wait_for(here(), GUARD))
    finally:
        done.set()
        thread.join(GUARD)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="os.fork")
def test_watchdog_a_child_forked_inside_a_running_loop_bounds_its_own_loops_calls() -> None:
    """The forked child inherits the parent's loop, marked as running in its thread: its dogs
    ask asyncio again there (``_forked``), so the child's own loop bounds the child's calls."""
    import asyncio
    import os

    async def fork_here() -> int:
        await run_bounded(_noop, 5.0)  # the dog of the parent's loop exists
        pid = os.fork()
        if pid == 0:  # the child: a loop of its own, in the same thread
            import signal

            signal.alarm(GUARD)  # a broken watchdog kills the child instead of hanging it

            async def child() -> None:
                await run_bounded(hang_forever, 0.1)

            try:
                asyncio.new_event_loop().run_until_complete(child())
            except DeadlineExceeded:
                os._exit(0)
            except BaseException:
                os._exit(2)
            os._exit(1)
        _, status = os.waitpid(pid, 0)
        return status

    with warnings.catch_warnings():  # 3.12+ warns of a fork while other threads run
        warnings.simplefilter("ignore", DeprecationWarning)
        status = asyncio.run(fork_here())
    assert os.waitstatus_to_exitcode(status) == 0


async def _noop() -> None:
    return None
