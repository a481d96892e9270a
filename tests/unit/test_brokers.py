"""Several brokers: order, exactly once, a failure in the middle, health and docs of every one.

Plain duck-typed brokers (async ``start``/``stop``/``ping``), on asyncio and trio; the same
scenarios with real FastStream brokers are in ``tests/faststream/test_brokers_faststream.py``.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from asgi_core import Application, AsgiFastStream, HookError
from asgi_core.asyncapi import build_document
from asgi_core.exceptions import ConfigError
from asgi_core.health import make_ping_asgi
from asgi_core.testing import Client, LifespanManager

pytestmark = pytest.mark.anyio


class Broker:
    """Records ``start``/``stop`` in ``log``; ``fail`` names the method that raises."""

    def __init__(self, name: str, log: list[str], fail: str = "", healthy: bool = True) -> None:
        self.name, self.log, self.fail, self.healthy = name, log, fail, healthy
        self.pings = 0

    async def start(self) -> None:
        self.log.append(f"start {self.name}")
        if self.fail == "start":
            raise ConnectionError(f"{self.name} is down")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        if self.fail == "stop":
            raise ConnectionError(f"{self.name} did not stop")

    async def ping(self, timeout: float | None) -> bool:
        self.pings += 1
        return self.healthy

    def asyncapi_servers(self) -> dict[str, Any]:
        return {self.name: {"host": f"{self.name}.example:6379", "protocol": "redis"}}


class OtherBroker(Broker):
    """A second broker class, so that step names can be told apart by class too."""


def three(log: list[str], **fail: str) -> list[Broker]:
    return [
        Broker("a", log, fail.get("a", "")),
        OtherBroker("b", log, fail.get("b", "")),
        Broker("c", log, fail.get("c", "")),
    ]


def app_with(brokers: list[Any], **kwargs: Any) -> AsgiFastStream:
    app = AsgiFastStream(brokers[0], **kwargs)
    for broker in brokers[1:]:
        app.add_broker(broker)
    return app


async def test_brokers_start_in_order_and_stop_in_reverse_each_exactly_once() -> None:
    log: list[str] = []
    app = app_with(three(log))
    app.on_startup(lambda: log.append("on_startup"))
    app.after_startup(lambda: log.append("after_startup"))
    app.on_shutdown(lambda: log.append("on_shutdown"))
    app.after_shutdown(lambda: log.append("after_shutdown"))
    async with LifespanManager(app):
        assert log == ["on_startup", "start a", "start b", "start c", "after_startup"]
    assert log[5:] == ["on_shutdown", "stop c", "stop b", "stop a", "after_shutdown"]
    await app.stop()  # already stopped: nothing runs twice
    assert len(log) == 10


async def test_brokers_failure_in_the_middle_names_it_and_stops_those_that_started() -> None:
    log: list[str] = []
    a, b, c = three(log, b="start")
    app = Application(a)
    app.add_broker(b)
    app.add_broker(c)
    with pytest.raises(ConnectionError, match="b is down") as caught:
        await app.start()
    # b's start() was called, so b is stopped too; c never started
    assert log == ["start a", "start b", "stop b", "stop a"]
    # Python 3.11+: a note names the step (3.10 has no notes; the server's message says it)
    notes = getattr(caught.value, "__notes__", None)
    if notes is not None:
        assert "asgi_core: startup failed in broker.start() of OtherBroker #2" in notes
    assert not app.running


async def startup_failed_text(app: AsgiFastStream) -> str:
    """The ``lifespan.startup.failed`` message ``app`` sends a server (then it re-raises)."""
    inbox: list[dict[str, Any]] = [{"type": "lifespan.startup"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    with pytest.raises(ConnectionError):  # re-raised after lifespan.startup.failed
        await app(scope, receive, send)  # type: ignore[arg-type]
    assert [message["type"] for message in sent] == ["lifespan.startup.failed"]
    text: str = sent[0]["message"]
    return text


async def test_brokers_failure_in_the_middle_reaches_the_server_as_startup_failed() -> None:
    log: list[str] = []
    text = await startup_failed_text(app_with(three(log, b="start")))
    assert text.startswith("startup failed in broker.start() of OtherBroker #2:")
    assert "ConnectionError: b is down" in text
    assert log == ["start a", "start b", "stop b", "stop a"]


async def test_brokers_a_failing_stop_does_not_keep_the_others_from_stopping() -> None:
    log: list[str] = []
    app = Application()
    for broker in three(log, b="stop", c="stop"):
        app.add_broker(broker)
    await app.start()
    with pytest.raises(HookError) as caught:
        await app.stop()
    assert log[3:] == ["stop c", "stop b", "stop a"]
    assert caught.value.step == "broker.stop() of Broker #3, broker.stop() of OtherBroker #2"


async def test_brokers_single_broker_step_is_named_as_before() -> None:
    text = await startup_failed_text(AsgiFastStream(Broker("a", [], "start")))
    assert text.startswith("startup failed in broker.start() of Broker:")


def test_brokers_are_listed_in_order_and_broker_is_the_first() -> None:
    log: list[str] = []
    a, b, c = three(log)
    app = app_with([a, b, c])
    assert app.brokers == (a, b, c) and app.broker is a
    assert app.context["broker"] is a
    assert repr(app) == "<AsgiFastStream 'FastStream' brokers=[Broker, OtherBroker, Broker]>"
    assert Application().brokers == () and Application().broker is None


def test_brokers_the_same_broker_twice_is_a_config_error() -> None:
    broker = Broker("a", [])
    app = Application(broker)
    with pytest.raises(ConfigError, match=r"was already added to <Application .*\(broker #1\)"):
        app.add_broker(broker)
    with pytest.raises(TypeError, match="add_broker needs a broker, not None"):
        app.add_broker(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="has no start"):
        app.add_broker(object())  # type: ignore[arg-type]
    assert app.brokers == (broker,)


def test_brokers_set_broker_replaces_the_first_and_keeps_the_others() -> None:
    log: list[str] = []
    a, b, c = three(log)
    app = app_with([a, b])
    app.set_broker(c)
    assert app.brokers == (c, b) and app.context["broker"] is c
    app.broker = a  # the seed's attribute, assigned: the same as set_broker
    assert app.brokers == (a, b)
    with pytest.raises(ConfigError, match=r"is broker #2 of .* already; set_broker replaces"):
        app.set_broker(b)
    app.set_broker(None)
    assert list(app.brokers) == [b]
    empty = Application()
    empty.set_broker(a)
    assert empty.brokers == (a,)


class NoPingBroker:
    async def start(self) -> None: ...

    async def close(self) -> None: ...


@pytest.mark.parametrize("second", ["with ping", "without ping"])
@pytest.mark.parametrize("call", ["AsgiFastStream", "Application"])
def test_brokers_two_positional_brokers_are_a_config_error_saying_how(
    call: str, second: str
) -> None:
    cls: Any = {"AsgiFastStream": AsgiFastStream, "Application": Application}[call]
    first = Broker("a", [])
    other: Any = Broker("b", []) if second == "with ping" else NoPingBroker()
    parameter = "asgi_routes" if call == "AsgiFastStream" else "logger"
    with pytest.raises(ConfigError) as caught:
        cls(first, other)
    text = str(caught.value)
    assert f"the second positional parameter is {parameter}" in text
    assert "app.add_broker(other)" in text and "from_app(FastStream(b1, b2)" in text


def test_brokers_a_logger_adapter_or_routes_are_not_taken_for_a_broker() -> None:
    adapter = logging.LoggerAdapter(logging.getLogger("x"), {})
    assert Application(None, adapter).logger is adapter
    assert list(AsgiFastStream(None, [("/x", Client)]).routes)  # type: ignore[list-item]


async def test_brokers_added_in_an_on_startup_hook_start_after_the_others() -> None:
    log: list[str] = []
    a, b, c = three(log)
    app = app_with([a, b])
    app.on_startup(lambda: app.add_broker(c))
    async with app:
        assert log == ["start a", "start b", "start c"]
    assert log[3:] == ["stop c", "stop b", "stop a"]


@pytest.mark.parametrize("through", ["start", "lifespan"])
async def test_brokers_the_list_an_on_startup_hook_leaves_is_the_one_started(through: str) -> None:
    """Replaced, removed or added in an on_startup hook, after one cycle with the old list: the
    steps already planned for the brokers are replaced, and only the new list starts and
    stops (on the lifespan path too, whose steps are reused from cycle to cycle)."""
    log: list[str] = []
    a, b, c = three(log)
    app = app_with([a, b])

    async def run() -> None:
        if through == "start":
            async with app:
                pass
        else:
            async with LifespanManager(app):
                pass

    await run()  # the plan of [a, b] is made and kept
    assert log == ["start a", "start b", "stop b", "stop a"]
    change = app.on_startup(lambda: app.set_broker(c))  # [c, b]
    log.clear()
    await run()
    assert log == ["start c", "start b", "stop b", "stop c"]
    app.hooks.on_startup.remove(change)
    app.on_startup(lambda: app.set_broker(None))  # [b]
    log.clear()
    await run()
    assert log == ["start b", "stop b"]


@pytest.mark.parametrize("through", ["start", "lifespan"])
async def test_brokers_an_app_without_one_starts_the_one_an_on_startup_hook_adds(
    through: str,
) -> None:
    log: list[str] = []
    a, b, _ = three(log)
    app = AsgiFastStream()
    app.on_startup(lambda: app.add_broker(a) if not app.brokers else None)
    if through == "start":
        async with app:
            assert log == ["start a"]
    else:
        async with LifespanManager(app):
            assert log == ["start a"]
    assert log == ["start a", "stop a"]
    # with none, the brokers' turn still comes: an after_startup hook cannot add one
    empty = Application()
    empty.after_startup(lambda: empty.add_broker(b))
    with pytest.raises(RuntimeError, match=r"add_broker\(\) called on .* after its brokers"):
        await empty.start()
    assert empty.brokers == () and log == ["start a", "stop a"]
    empty.hooks.after_startup.clear()
    empty.add_broker(b)  # the failed start undid itself: the list may change again
    async with empty:
        assert log[2:] == ["start b"]


async def test_brokers_a_failed_start_closes_exactly_the_brokers_whose_start_was_called() -> None:
    log: list[str] = []
    app = app_with(three(log, b="start"))
    with pytest.raises(ConnectionError, match="b is down"):
        await app.start()
    assert log == ["start a", "start b", "stop b", "stop a"]  # c never started: not closed
    log.clear()
    app.on_startup(lambda: app.set_broker(Broker("d", log)))  # the next run: [d, b, c]
    with pytest.raises(ConnectionError, match="b is down"):
        await app.start()
    assert log == ["start d", "start b", "stop b", "stop d"]


async def test_brokers_cannot_change_once_they_started() -> None:
    log: list[str] = []
    a, b, c = three(log)
    app = Application(a)
    app.after_startup(lambda: app.add_broker(b))
    with pytest.raises(RuntimeError, match=r"add_broker\(\) called on .* after its brokers were"):
        await app.start()
    assert log == ["start a", "stop a"]
    app = Application(a)
    async with app:
        with pytest.raises(RuntimeError, match=r"set_broker\(\) called on"):
            app.set_broker(c)
    app.add_broker(b)  # stopped: changes are allowed again, for the next start
    assert app.brokers == (a, b)


async def test_brokers_from_app_copies_every_broker_in_order() -> None:
    log: list[str] = []
    a, b, c = three(log)
    original = Application(a)
    original.add_broker(b)
    original.add_broker(c)
    copy = AsgiFastStream.from_app(original, [])
    assert copy.brokers == (a, b, c)
    copy.add_broker(Broker("d", log))  # a copy: the original keeps its three
    assert len(original.brokers) == 3
    async with LifespanManager(copy):
        pass
    starts = ["start a", "start b", "start c", "start d"]
    assert log == [*starts, "stop d", "stop c", "stop b", "stop a"]


async def test_brokers_ping_is_healthy_only_if_every_broker_is() -> None:
    log: list[str] = []
    a, b, c = three(log)
    client = Client(make_ping_asgi(a, b, c, timeout=1.0))
    assert (await client.get("/")).status_code == 204
    assert (a.pings, b.pings, c.pings) == (1, 1, 1)
    b.healthy = False
    assert (await client.get("/")).status_code == 500
    assert (a.pings, b.pings, c.pings) == (2, 2, 1)  # the first failure answers
    b.healthy = True
    assert (await client.get("/")).status_code == 204


async def test_brokers_ping_logs_name_the_failing_broker_by_place(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []
    a, b = Broker("a", log), Broker("b", log, healthy=False)
    with caplog.at_level(logging.WARNING, logger="asgi_core.health"):
        await Client(make_ping_asgi(a, b)).get("/")
    assert [r.getMessage() for r in caplog.records] == [
        "health check failing: Broker #2.ping() returned False"
    ]


async def test_brokers_ping_keeps_faststreams_positional_signature() -> None:
    broker = Broker("a", [], healthy=True)
    route = make_ping_asgi(broker, 2.5, False, "Is the broker up?")
    assert route.route_info[1:3] == (False, "Is the broker up?")
    assert (await Client(route).get("/")).status_code == 204
    with pytest.raises(TypeError, match=r"'timeout' twice, by position and by keyword"):
        make_ping_asgi(broker, 2.5, timeout=1.0)
    with pytest.raises(TypeError, match=r"takes the brokers first, then timeout"):
        make_ping_asgi(broker, 2.5, Broker("b", []))
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        make_ping_asgi(broker, Broker("b", []), timeout=0)


def test_brokers_docs_list_every_broker() -> None:
    log: list[str] = []
    a, b, _ = three(log)
    document = build_document(app_with([a, b]))
    assert set(document["servers"]) == {"a", "b"}
