"""Try it out under FastStream's TestBrokers: a POST to ``/docs/try`` reaches the subscriber.

Each broker FastStream 0.5.31 and 0.7 both have (redis, nats, rabbit, kafka) runs inside its
``Test*Broker``, which patches the broker in place: the route publishes through the real broker
object, and the TestBroker delivers to the subscriber in process.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from pydantic import BaseModel

from asgi_core import AsgiFastStream, get
from asgi_core.asyncapi import mount_asyncapi
from asgi_core.responses import JSONResponse
from asgi_core.testing import Client

pytestmark = [
    pytest.mark.anyio,
    # FastStream's brokers and TestBrokers run on asyncio only (their clients are asyncio
    # libraries), so these tests run on asyncio alone; the id says so in every test name.
    pytest.mark.parametrize("anyio_backend", ["asyncio"], ids=["asyncio-only-faststream-brokers"]),
]

BROKERS = {
    "redis": ("faststream.redis", "RedisBroker", "TestRedisBroker"),
    "nats": ("faststream.nats", "NatsBroker", "TestNatsBroker"),
    "rabbit": ("faststream.rabbit", "RabbitBroker", "TestRabbitBroker"),
    "kafka": ("faststream.kafka", "KafkaBroker", "TestKafkaBroker"),
}


class Order(BaseModel):
    id: int
    item: str


def new_broker(kind: str) -> Any:
    module_name, broker_name, _ = BROKERS[kind]
    return getattr(importlib.import_module(module_name), broker_name)()


@asynccontextmanager
async def under_test(*brokers: Any) -> AsyncIterator[None]:
    """Every broker inside its own TestBroker."""
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as stack:
        for broker in brokers:
            kind = next(k for k, v in BROKERS.items() if type(broker).__name__ == v[1])
            module_name, _, test_name = BROKERS[kind]
            test_broker = getattr(importlib.import_module(module_name), test_name)
            await stack.enter_async_context(test_broker(broker))
        yield


def body(channel: str, payload: object) -> dict[str, Any]:
    """What FastStream's try-it-out page plugin sends."""
    return {"channelName": channel, "message": {"message": payload}, "options": {}}


def app_for(broker: Any) -> tuple[AsgiFastStream, list[Order]]:
    received: list[Order] = []

    async def handle_order(order: Order) -> None:
        received.append(order)

    broker.subscriber("orders")(handle_order)

    @get
    async def hello(request: Any) -> JSONResponse:
        return JSONResponse("hello")

    app = AsgiFastStream(broker, asgi_routes=[("/hello", hello)])
    mount_asyncapi(app, "/docs", try_it_out=True)
    return app, received


@pytest.mark.parametrize("kind", sorted(BROKERS))
async def test_try_it_out_delivers_the_payload_to_the_subscriber(kind: str) -> None:
    app, received = app_for(new_broker(kind))
    client = Client(app)
    document = (await client.get("/docs.json")).json()
    channel_id = next(k for k, c in document["channels"].items() if c["address"] == "orders")
    async with under_test(app.broker):
        response = await client.post("/docs/try", json=body(channel_id, {"id": 1, "item": "tea"}))
    assert response.status_code == 200, response.text
    assert response.json() == {"published": channel_id, "address": "orders"}
    assert received == [Order(id=1, item="tea")]


@pytest.mark.parametrize("name", ["orders", "orders:SomethingElse"])
async def test_try_it_out_finds_the_channel_by_address_or_id_prefix(name: str) -> None:
    app, received = app_for(new_broker("redis"))
    async with under_test(app.broker):
        response = await Client(app).post("/docs/try", json=body(name, {"id": 2, "item": "jam"}))
    assert response.status_code == 200, response.text
    assert response.json()["address"] == "orders"
    assert received == [Order(id=2, item="jam")]


async def test_try_it_out_publishes_to_a_redis_list_or_stream_as_its_binding_says() -> None:
    broker = new_broker("redis")
    got: list[tuple[str, str]] = []

    async def job(text: str) -> None:
        got.append(("list", text))

    broker.subscriber(list="jobs")(job)

    async def event(text: str) -> None:
        got.append(("stream", text))

    broker.subscriber(stream="events")(event)

    app = AsgiFastStream(broker)
    mount_asyncapi(app, "/docs", try_it_out=True)
    async with under_test(broker):
        for channel in ("jobs", "events"):
            response = await Client(app).post("/docs/try", json=body(channel, f"to {channel}"))
            assert response.status_code == 200, response.text
    assert got == [("list", "to jobs"), ("stream", "to events")]


async def test_try_it_out_with_several_brokers_publishes_through_the_owner() -> None:
    redis, nats = new_broker("redis"), new_broker("nats")
    got: list[str] = []

    async def on_redis(text: str) -> None:
        got.append(f"redis {text}")

    redis.subscriber("orders")(on_redis)

    async def on_nats(text: str) -> None:
        got.append(f"nats {text}")

    nats.subscriber("events")(on_nats)

    app = AsgiFastStream(redis)
    app.add_broker(nats)
    mount_asyncapi(app, "/docs", try_it_out=True)
    async with under_test(redis, nats):
        for channel in ("events", "orders"):
            response = await Client(app).post("/docs/try", json=body(channel, "hi"))
            assert response.status_code == 200, response.text
    assert got == ["nats hi", "redis hi"]


@pytest.mark.parametrize("name", ["nowhere", "/hello", "http_hello"])
async def test_try_it_out_refuses_a_channel_that_is_no_broker_channel(name: str) -> None:
    app, received = app_for(new_broker("redis"))
    client = Client(app)
    document = (await client.get("/docs.json")).json()
    assert any(c["address"] == "/hello" for c in document["channels"].values())  # an HTTP one
    async with under_test(app.broker):
        response = await client.post("/docs/try", json=body(name, {"id": 3, "item": "x"}))
    assert response.status_code == 404
    details = response.json()["details"]
    assert details.startswith(f"no broker channel {name!r} in the document; the channels: ")
    assert "orders" in details
    assert received == []


async def test_try_it_out_sees_a_subscriber_added_after_the_first_request() -> None:
    broker = new_broker("redis")
    app, _ = app_for(broker)
    client = Client(app)
    assert (await client.post("/docs/try", json=body("late", "x"))).status_code == 404
    got: list[str] = []

    async def late(text: str) -> None:
        got.append(text)

    broker.subscriber("late")(late)

    async with under_test(broker):
        assert (await client.post("/docs/try", json=body("late", "now"))).status_code == 200
    assert got == ["now"]


async def test_try_it_out_answers_503_and_logs_when_the_broker_cannot_publish(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, _ = app_for(new_broker("redis"))
    # not started and not under a TestBroker: FastStream refuses to publish
    with caplog.at_level(logging.ERROR, logger="asgi_core.asyncapi"):
        response = await Client(app).post("/docs/try", json=body("orders", {"id": 4, "item": "y"}))
    assert response.status_code == 503
    assert response.json() == {
        "details": "the broker could not publish the message; see the server log"
    }
    assert [r.getMessage() for r in caplog.records] == [
        "try it out: publishing to 'orders' (orders) failed"
    ]
    assert caplog.records[0].exc_info is not None
