"""What a lifespan cycle keeps from the last one, and what it must not (``_lifecycle.py``).

The steps of a stage of parameterless ``async def`` hooks are reused from cycle to cycle, and
each broker's start/close steps are built once per broker and place. Reuse must never change
what runs: a hook added, removed or replaced between cycles (through the decorator or the list
itself), run options that changed, a broker method replaced (FastStream's ``TestBroker``, a
mock) or a broker added are all seen by the next cycle, and step names stay right.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pytest

from asgi_core import AsgiFastStream
from asgi_core.exceptions import HookError
from tests.harness import communicate, lifespan_scope

pytestmark = pytest.mark.anyio


async def cycle(app: AsgiFastStream) -> list[str]:
    """One lifespan cycle; the types of the two replies."""
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put({"type": "lifespan.startup"})
        first = await comm.get()
        if first["type"] != "lifespan.startup.complete":
            await comm.wait_done()
            return [first["type"]]
        await comm.put({"type": "lifespan.shutdown"})
        second = await comm.get()
        await comm.wait_done()
    return [first["type"], second["type"]]


async def state_of_a_cycle(app: AsgiFastStream) -> dict[str, Any]:
    """One lifespan cycle that completes; the lifespan state its scope held after startup."""
    state: dict[str, Any] = {}
    async with communicate(app, lifespan_scope(state)) as comm:
        await comm.put({"type": "lifespan.startup"})
        assert (await comm.get())["type"] == "lifespan.startup.complete"
        seen = dict(state)
        await comm.put({"type": "lifespan.shutdown"})
        assert (await comm.get())["type"] == "lifespan.shutdown.complete"
        await comm.wait_done()
    return seen


def hook(log: list[str], name: str) -> Any:
    async def run() -> None:
        log.append(name)

    run.__qualname__ = name
    return run


class Broker:
    def __init__(self, log: list[str], name: str = "broker") -> None:
        self.log, self.name = log, name

    async def start(self) -> None:
        self.log.append(f"start {self.name}")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")


async def test_lifecycle_hooks_added_removed_or_replaced_between_cycles_are_seen() -> None:
    log: list[str] = []
    app = AsgiFastStream(Broker(log), on_startup=[hook(log, "a")], on_shutdown=[hook(log, "z")])
    assert await cycle(app) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert log == ["a", "start broker", "z", "stop broker"]

    app.on_startup(hook(log, "b"))  # the decorator
    app.hooks.after_startup.append(hook(log, "c"))  # the list itself
    app.hooks.on_shutdown[0] = hook(log, "y")  # replaced in place
    log.clear()
    await cycle(app)
    assert log == ["a", "b", "start broker", "c", "y", "stop broker"]

    del app.hooks.on_startup[0]
    app.hooks.after_startup.clear()
    log.clear()
    await cycle(app)
    assert log == ["b", "start broker", "y", "stop broker"]


# every way of changing a hook list, and the on_startup hooks it leaves of [a, b]
MUTATIONS: dict[str, tuple[Any, list[str]]] = {
    "append": (lambda hooks, c: hooks.append(c), ["a", "b", "c"]),
    "extend": (lambda hooks, c: hooks.extend([c]), ["a", "b", "c"]),
    "+=": (lambda hooks, c: hooks.__iadd__([c]), ["a", "b", "c"]),
    "insert": (lambda hooks, c: hooks.insert(0, c), ["c", "a", "b"]),
    "item": (lambda hooks, c: hooks.__setitem__(1, c), ["a", "c"]),
    "slice": (lambda hooks, c: hooks.__setitem__(slice(0, 1), [c, c]), ["c", "c", "b"]),
    "del": (lambda hooks, c: hooks.__delitem__(0), ["b"]),
    "pop": (lambda hooks, c: hooks.pop(), ["a"]),
    "remove": (lambda hooks, c: hooks.remove(hooks[0]), ["b"]),
    "clear": (lambda hooks, c: hooks.clear(), []),
    "sort": (lambda hooks, c: hooks.sort(key=lambda f: f.__qualname__, reverse=True), ["b", "a"]),
    "reverse": (lambda hooks, c: hooks.reverse(), ["b", "a"]),
    "*=": (lambda hooks, c: hooks.__imul__(2), ["a", "b", "a", "b"]),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
async def test_lifecycle_every_change_of_a_hook_list_is_seen_by_the_next_cycle(
    mutation: str,
) -> None:
    # the plan of a cycle is kept until a hook list changes: each change must drop it
    log: list[str] = []
    app = AsgiFastStream(on_startup=[hook(log, "a"), hook(log, "b")])
    await cycle(app)
    assert log == ["a", "b"]
    change, expected = MUTATIONS[mutation]
    change(app.hooks.on_startup, hook(log, "c"))
    log.clear()
    await cycle(app)
    assert log == expected


async def test_lifecycle_a_hook_list_assigned_in_place_of_another_is_seen_and_checked() -> None:
    log: list[str] = []
    app = AsgiFastStream(on_startup=[hook(log, "a")])
    await cycle(app)
    app.hooks.on_startup = [hook(log, "b")]
    log.clear()
    await cycle(app)
    assert log == ["b"]
    app.hooks.on_startup.append(hook(log, "c"))  # the assigned list is watched as well
    log.clear()
    await cycle(app)
    assert log == ["b", "c"]
    with pytest.raises(TypeError, match="on_startup hooks must be callable, not 42"):
        app.hooks.on_startup = [42]  # type: ignore[list-item]
    with pytest.raises(TypeError, match="after_startup hooks must be callable, not None"):
        app.hooks.after_startup.extend([hook(log, "d"), None])  # type: ignore[list-item]
    assert app.hooks.after_startup == []  # a rejected item leaves the list as it was
    log.clear()
    await cycle(app)
    assert log == ["b", "c"]


async def test_lifecycle_hook_registered_during_a_run_waits_for_the_next_run() -> None:
    log: list[str] = []
    app = AsgiFastStream(Broker(log))

    @app.on_startup
    async def register_more() -> None:
        app.on_shutdown(hook(log, "late"))

    await cycle(app)
    assert "late" not in log  # the hooks of a run are fixed when it begins
    log.clear()
    await cycle(app)
    assert log == ["start broker", "late", "stop broker"]


async def test_lifecycle_hook_with_parameters_gets_the_run_options_of_each_cycle() -> None:
    seen: list[object] = []

    async def plain() -> None:
        seen.append("plain")

    async def with_option(region: str = "none") -> None:
        seen.append(region)

    app = AsgiFastStream(Broker([]), on_startup=[plain, with_option])
    app.run_options = {"region": "eu"}
    await cycle(app)
    app.run_options = {"region": "us"}
    await cycle(app)
    assert seen == ["plain", "eu", "plain", "us"]


async def test_lifecycle_broker_methods_replaced_between_cycles_are_the_ones_called() -> None:
    log: list[str] = []
    broker = Broker(log)
    app = AsgiFastStream(broker)
    await cycle(app)

    async def fake_start() -> None:  # what TestBroker and mocks do to a broker object
        log.append("fake start")

    async def fake_stop() -> None:
        log.append("fake stop")

    broker.start = fake_start  # type: ignore[method-assign]
    broker.stop = fake_stop  # type: ignore[method-assign]
    log.clear()
    await cycle(app)
    assert log == ["fake start", "fake stop"]


async def test_lifecycle_broker_added_between_cycles_is_started_and_named_by_its_place() -> None:
    log: list[str] = []
    first, second = Broker(log, "one"), Broker(log, "two")
    app = AsgiFastStream(first)
    await cycle(app)
    assert log == ["start one", "stop one"]

    app.add_broker(second)

    def failing(name: str) -> Any:
        async def stop() -> None:
            raise ConnectionError(f"{name} did not stop")

        return stop

    first.stop = failing("one")  # type: ignore[method-assign]
    second.stop = failing("two")  # type: ignore[method-assign]
    log.clear()
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put({"type": "lifespan.startup"})
        assert (await comm.get())["type"] == "lifespan.startup.complete"
        await comm.put({"type": "lifespan.shutdown"})
        reply = await comm.get()
        await comm.wait_done()
    assert log == ["start one", "start two"]
    assert reply["type"] == "lifespan.shutdown.failed"
    assert isinstance(comm.error, HookError)
    # numbered now that there are two, in the order they are stopped
    assert comm.error.step == "broker.stop() of Broker #2, broker.stop() of Broker #1"


async def test_lifecycle_broker_added_by_a_hook_in_one_cycle_is_started_once_in_each_next() -> None:
    """The record keeps its startup list from cycle to cycle while the plan stays: the cycle
    whose hook changed the broker list changed that list, and the next cycles neither run the
    edited list twice nor lose the added broker."""
    log: list[str] = []
    added = Broker(log, "two")
    adding = [True]

    async def add() -> None:
        if adding:
            adding.clear()
            app.add_broker(added)

    app = AsgiFastStream(Broker(log, "one"), on_startup=[add], after_startup=[hook(log, "up")])
    for _ in range(3):
        log.clear()
        assert await cycle(app) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        assert log == ["start one", "start two", "up", "stop two", "stop one"]


async def test_lifecycle_broker_replaced_by_set_broker_between_cycles_is_the_one_started() -> None:
    log: list[str] = []
    app = AsgiFastStream(Broker(log, "old"))
    await cycle(app)
    app.set_broker(Broker(log, "new"))
    log.clear()
    await cycle(app)
    assert log == ["start new", "stop new"]


# -- the run record, renewed from cycle to cycle ---------------------------------------------------


async def test_lifecycle_lifespan_state_of_a_cycle_never_reaches_the_next() -> None:
    """A cycle's record is renewed for the next one: what its lifespan yielded goes with it."""
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    yields: list[dict[str, Any] | None] = [{"pool": "first"}, None]

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[dict[str, Any] | None]:
        yield yields.pop(0)

    app = AsgiFastStream(Broker([]), lifespan=lifespan)
    assert [await state_of_a_cycle(app) for _ in range(2)] == [{"pool": "first"}, {}]


async def test_lifecycle_a_lifespan_given_or_taken_away_between_cycles_is_seen() -> None:
    """The run's contexts follow the app's settings of each cycle, and so does the state."""
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    log: list[str] = []

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[dict[str, Any]]:
        log.append("enter")
        yield {"pool": "open"}
        log.append("exit")

    app = AsgiFastStream(Broker(log))
    states = []
    for given in (None, lifespan, None, lifespan):
        app.lifespan_context = given
        states.append(await state_of_a_cycle(app))
    assert states == [{}, {"pool": "open"}, {}, {"pool": "open"}]
    cycle_log = ["start broker", "stop broker"]
    with_lifespan = ["enter", "start broker", "stop broker", "exit"]
    assert log == [*cycle_log, *with_lifespan, *cycle_log, *with_lifespan]


async def test_lifecycle_a_failed_cycle_leaves_nothing_to_the_next() -> None:
    log: list[str] = []
    failures = [RuntimeError("first cycle only")]

    async def flaky() -> None:
        if failures:
            raise failures.pop()
        log.append("flaky")

    app = AsgiFastStream(Broker(log), on_startup=[flaky], on_shutdown=[hook(log, "z")])
    assert await cycle(app) == ["lifespan.startup.failed"]
    assert log == [] and not app.running
    assert await cycle(app) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert log == ["flaky", "start broker", "z", "stop broker"]


async def test_lifecycle_a_record_its_driver_still_holds_is_never_renewed() -> None:
    """A failed startup's driver is still sending ``startup.failed`` when a second lifespan
    scope of the same app starts: that scope gets a record of its own, so the first driver,
    ending, neither stops the second run nor closes anything of it."""
    import anyio

    log: list[str] = []
    calls = 0

    async def fails_the_first_time() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("first scope's startup")

    app = AsgiFastStream(Broker(log), on_startup=[fails_the_first_time])
    failed_sent, go_on = anyio.Event(), anyio.Event()
    first_error: list[BaseException] = []

    async def first_send(message: MutableMapping[str, Any]) -> None:
        assert message["type"] == "lifespan.startup.failed"
        failed_sent.set()
        await go_on.wait()

    async def first_receive() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def first_scope() -> None:
        try:
            await app(lifespan_scope(), first_receive, first_send)
        except RuntimeError as exc:
            first_error.append(exc)

    async with anyio.create_task_group() as group:
        group.start_soon(first_scope)
        await failed_sent.wait()
        async with communicate(app, lifespan_scope()) as second:
            await second.put({"type": "lifespan.startup"})
            assert (await second.get())["type"] == "lifespan.startup.complete"
            go_on.set()  # the first driver ends now, its startup failed
            await anyio.wait_all_tasks_blocked()
            assert app.running and log == ["start broker"]  # the second run goes on
            await second.put({"type": "lifespan.shutdown"})
            assert (await second.get())["type"] == "lifespan.shutdown.complete"
            await second.wait_done()
    assert [str(e) for e in first_error] == ["first scope's startup"]
    assert log == ["start broker", "stop broker"]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_lifecycle_a_finished_run_holds_no_reference_to_its_task() -> None:
    """The record and its watch stay with the application; the task that ran them does not
    (nor, with it, its context variables or an exception it ended with)."""
    import asyncio
    import gc
    import weakref

    app = AsgiFastStream(Broker([]), on_startup=[hook([], "a")])
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message["type"])

    task = asyncio.ensure_future(app(lifespan_scope(), receive, send))  # the task it runs in
    await task
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    gone = weakref.ref(task)
    del task
    await asyncio.sleep(0)  # asyncio's loop lets go of the callback that woke us with it
    gc.collect()
    assert gone() is None

    starting = asyncio.ensure_future(app.start())  # start() and stop() in tasks of their own
    await starting
    await asyncio.ensure_future(app.stop())
    gone = weakref.ref(starting)
    del starting
    await asyncio.sleep(0)
    gc.collect()
    assert gone() is None


def test_lifecycle_cycles_on_new_event_loops_and_libraries_are_each_bounded() -> None:
    """One app, its lifespan run on one asyncio loop, then trio, then a new asyncio loop: each
    run watches its own loop (a watch kept from a closed loop would never fire)."""
    import asyncio

    import trio

    log: list[str] = []
    app = AsgiFastStream(Broker(log), startup_timeout=0.2)
    asyncio.run(cycle(app))
    trio.run(cycle, app)

    @app.after_startup
    async def hang() -> None:
        await asyncio.Event().wait()

    async def bounded_cycle() -> list[str]:
        return await asyncio.wait_for(cycle(app), 10)  # a hang fails here, not forever

    assert asyncio.run(bounded_cycle()) == ["lifespan.startup.failed"]
    assert log == ["start broker", "stop broker"] * 3


def test_lifecycle_a_failed_trio_start_after_an_asyncio_cycle_closes_exactly_what_started() -> None:
    """Which brokers started is read from the watch on asyncio, from the step recorded on trio:
    a watch kept from an asyncio cycle says nothing about a trio run of the same record."""
    import asyncio

    import trio

    log: list[str] = []
    first, second = Broker(log, "one"), Broker(log, "two")
    app = AsgiFastStream(first)
    app.add_broker(second)
    asyncio.run(cycle(app))
    assert log == ["start one", "start two", "stop two", "stop one"]

    async def refuse() -> None:
        log.append("start two refused")
        raise ConnectionError("two is down")

    second.start = refuse  # type: ignore[method-assign]
    log.clear()
    assert trio.run(cycle, app) == ["lifespan.startup.failed"]
    # the brokers whose start() was called, in reverse (the failed one may be half started)
    assert log == ["start one", "start two refused", "stop two", "stop one"]
