"""Several real FastStream brokers in one app, under their TestBrokers (0.5.31 and 0.7).

A Redis and a NATS broker, each with a subscriber: both start (in order) and handle messages,
a failure of the second stops the first, ``/health`` covers both and ``/docs.json`` lists both.
FastStream's brokers and TestBrokers run on asyncio only (their clients are asyncio libraries),
so these tests do too; their ids say so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any
from unittest import mock

import pytest
from faststream.nats import NatsBroker, TestNatsBroker
from faststream.redis import RedisBroker, TestRedisBroker

from asgi_core import AsgiFastStream, make_ping_asgi
from asgi_core._brokers import broker_closer
from asgi_core.testing import Client, LifespanManager
from tests.faststream.conftest import check

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("anyio_backend", ["asyncio"], ids=["asyncio-only-faststream-brokers"]),
]


def two_brokers(handled: list[str]) -> tuple[RedisBroker, NatsBroker]:
    redis, nats = RedisBroker(), NatsBroker()

    @redis.subscriber("orders")
    async def on_order(body: str) -> None:
        handled.append(f"redis {body}")

    @nats.subscriber("events")
    async def on_event(body: str) -> None:
        handled.append(f"nats {body}")

    return redis, nats


@asynccontextmanager
async def under_test_brokers(redis: RedisBroker, nats: NatsBroker) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(TestRedisBroker(redis))
        await stack.enter_async_context(TestNatsBroker(nats))
        yield


def recording(broker: Any, log: list[str], name: str, **start: Any) -> mock._patch[Any]:
    """Patch ``broker.start`` to log (and do what ``start`` says, e.g. raise)."""
    real = broker.start

    async def start_() -> Any:
        log.append(f"start {name}")
        if "side_effect" in start:
            raise start["side_effect"]
        return await real()

    return mock.patch.object(broker, "start", start_)


def closing(broker: Any, log: list[str], name: str) -> mock._patch[Any]:
    real = broker_closer(broker)  # 0.7: stop, 0.5: close (under a TestBroker, its mock)
    method = "stop" if callable(getattr(broker, "stop", None)) else "close"

    async def close_() -> Any:
        log.append(f"stop {name}")
        return await real()

    return mock.patch.object(broker, method, close_)


async def test_brokers_faststream_both_start_in_order_handle_messages_and_stop_in_reverse() -> None:
    handled: list[str] = []
    log: list[str] = []
    redis, nats = two_brokers(handled)
    app = AsgiFastStream(redis)
    app.add_broker(nats)
    async with under_test_brokers(redis, nats):
        with (
            recording(redis, log, "redis"),
            recording(nats, log, "nats"),
            closing(redis, log, "redis"),
            closing(nats, log, "nats"),
        ):
            async with LifespanManager(app):
                assert log == ["start redis", "start nats"]
                await redis.publish("order-1", "orders")
                await nats.publish("event-1", "events")
            assert log[2:] == ["stop nats", "stop redis"]
    assert handled == ["redis order-1", "nats event-1"]


async def test_brokers_faststream_a_failing_second_broker_stops_the_first() -> None:
    log: list[str] = []
    redis, nats = two_brokers([])
    app = AsgiFastStream(redis)
    app.add_broker(nats)
    down = ConnectionError("nats is down")
    async with under_test_brokers(redis, nats):
        with (
            recording(redis, log, "redis"),
            recording(nats, log, "nats", side_effect=down),
            closing(redis, log, "redis"),
            closing(nats, log, "nats"),
        ):
            with pytest.raises(ConnectionError, match="nats is down") as caught:
                await app.start()
    assert log == ["start redis", "start nats", "stop nats", "stop redis"]
    notes = getattr(caught.value, "__notes__", None)  # Python 3.11+
    if notes is not None:
        assert "asgi_core: startup failed in broker.start() of NatsBroker #2" in notes


async def test_brokers_faststream_health_covers_every_broker() -> None:
    redis, nats = two_brokers([])
    route = make_ping_asgi(redis, nats, timeout=1.0)  # built before the TestBrokers patch ping
    async with under_test_brokers(redis, nats):
        assert (await Client(route).get("/")).status_code == 204
        with mock.patch.object(nats, "ping", mock.AsyncMock(return_value=False)) as ping:
            assert (await Client(route).get("/")).status_code == 500
        assert ping.await_args_list == [mock.call(1.0)]
        with mock.patch.object(redis, "ping", mock.AsyncMock(side_effect=OSError("gone"))):
            assert (await Client(route).get("/")).status_code == 500
        assert (await Client(route).get("/")).status_code == 204


async def test_brokers_faststream_docs_list_both_brokers() -> None:
    redis, nats = two_brokers([])
    app = AsgiFastStream(redis, asyncapi_path="/docs")
    document = (await Client(app).get("/docs.json")).json()
    assert {c["address"] for c in document["channels"].values()} == {"orders"}
    app.add_broker(nats)  # the document follows: rebuilt with the second broker
    document = (await Client(app).get("/docs.json")).json()
    check(document)
    assert {c["address"] for c in document["channels"].values()} == {"orders", "events"}
    protocols = sorted(server["protocol"] for server in document["servers"].values())
    assert protocols == ["nats", "redis"]
