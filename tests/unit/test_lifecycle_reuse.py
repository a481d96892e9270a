"""What a lifespan cycle keeps from the last one, and what it must not (``_lifecycle.py``).

The steps of a stage of parameterless ``async def`` hooks are reused from cycle to cycle, and
each broker's start/close steps are built once per broker and place. Reuse must never change
what runs: a hook added, removed or replaced between cycles (through the decorator or the list
itself), run options that changed, a broker method replaced (FastStream's ``TestBroker``, a
mock) or a broker added are all seen by the next cycle, and step names stay right.
"""

from __future__ import annotations

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


async def test_lifecycle_broker_replaced_by_set_broker_between_cycles_is_the_one_started() -> None:
    log: list[str] = []
    app = AsgiFastStream(Broker(log, "old"))
    await cycle(app)
    app.set_broker(Broker(log, "new"))
    log.clear()
    await cycle(app)
    assert log == ["start new", "stop new"]
