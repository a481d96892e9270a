"""``/docs.json`` of a FastStream broker lists what FastStream's own generator lists for it.

For Redis, NATS, RabbitMQ and Kafka brokers (no broker running: docs need no connection), on
the installed FastStream generation, our document is compared with FastStream's own document of
the same broker (0.7: its 3.0.0; 0.5: its 2.6.0, read through the 2.6.0 meaning of each key):
every channel, operation, message and payload schema is there, with the same schemas.
"""

from __future__ import annotations

import importlib
import json
import logging
import sys
from typing import Any
from urllib.parse import unquote

import pytest
from pydantic import BaseModel

from asgi_core import AsgiFastStream, AsgiResponse, MissingExtraError
from asgi_core.asyncapi import build_document, mount_asyncapi
from asgi_core.handlers import Request, get
from asgi_core.testing import Client
from tests.faststream.conftest import FASTSTREAM, check, ours, resolve

pytestmark = pytest.mark.anyio

BROKERS = {
    "redis": ("faststream.redis", "RedisBroker", "TestRedisBroker"),
    "nats": ("faststream.nats", "NatsBroker", "TestNatsBroker"),
    "rabbit": ("faststream.rabbit", "RabbitBroker", "TestRabbitBroker"),
    "kafka": ("faststream.kafka", "KafkaBroker", "TestKafkaBroker"),
}
# FastStream's brokers and TestBrokers run on asyncio only (their clients are asyncio libraries)
ASYNCIO_ONLY = pytest.mark.parametrize(
    "anyio_backend", ["asyncio"], ids=["asyncio-only-faststream-testbroker"]
)


class Item(BaseModel):
    sku: str
    quantity: int


class Order(BaseModel):
    id: int
    items: list[Item]


class Event(BaseModel):
    kind: str


def make_broker(kind: str) -> Any:
    """A broker with a subscriber taking ``Order`` whose ``Event`` result is published, and a
    subscriber of two plain fields."""
    module_name, broker_name, _ = BROKERS[kind]
    broker = getattr(importlib.import_module(module_name), broker_name)()

    async def handle_order(order: Order) -> Event:
        """Takes new orders."""
        return Event(kind="created")

    async def handle_payment(amount: float, currency: str) -> None:
        pass

    # registered by calls, not decorators: the broker is Any here, which mypy can't follow
    broker.subscriber("orders")(broker.publisher("events")(handle_order))
    broker.subscriber("payments")(handle_payment)
    return broker


@get(description="Says hello.")
async def hello(request: Request) -> AsgiResponse:
    return AsgiResponse(b"hello")


def make_app(broker: Any) -> AsgiFastStream:
    return AsgiFastStream(
        broker,
        asgi_routes=[("/hello", hello)],
        title="Orders",
        version="2.0.0",
        description="Takes orders.",
        contact={"name": "Ops", "email": "ops@example.com"},
        license={"name": "MIT"},
        tags=[{"name": "orders"}],
        identifier="urn:example:orders",
    )


def faststream_document(broker: Any) -> dict[str, Any]:
    """FastStream's own document of ``broker``: 3.0.0 on 0.7, 2.6.0 on 0.5 (all 0.5 makes)."""
    if FASTSTREAM >= (0, 6):
        from faststream.specification import AsyncAPI  # type: ignore[import-not-found,unused-ignore]

        document: dict[str, Any] = (
            AsyncAPI(broker, schema_version="3.0.0").to_specification().to_jsonable()
        )
        return document
    from faststream import FastStream
    from faststream.asyncapi import get_app_schema  # type: ignore[import-not-found,unused-ignore]

    generated: dict[str, Any] = get_app_schema(FastStream(broker)).to_jsonable()
    return generated


def payload_of(document: dict[str, Any], message: dict[str, Any]) -> Any:
    while "$ref" in message:
        message = resolve(document, message["$ref"])
    payload = message["payload"]
    return resolve(document, payload["$ref"]) if "$ref" in payload else payload


def operations(document: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(channel name, action, payload schema as JSON) for each broker operation."""
    found = set()
    if document["asyncapi"].startswith("2."):  # FastStream 0.5: subscribe = its subscriber
        actions = {"subscribe": "receive", "publish": "send"}
        for name, channel in document["channels"].items():
            for key, action in actions.items():
                if key in channel:
                    payload = payload_of(document, channel[key]["message"])
                    found.add((name, action, json.dumps(payload, sort_keys=True)))
        return found
    for operation in document["operations"].values():
        if "http" in operation.get("bindings", {}):
            continue
        channel = unquote(operation["channel"]["$ref"].rsplit("/", 1)[-1]).replace("~1", "/")
        for message in operation["messages"]:
            payload = payload_of(document, resolve(document, message["$ref"]))
            found.add((channel, operation["action"], json.dumps(payload, sort_keys=True)))
    return found


# -- the document ---------------------------------------------------------------------------------


def test_asyncapi_brokers_document_has_what_faststream_lists(kind: str) -> None:
    broker = make_broker(kind)
    document = ours(make_app(broker))
    theirs = faststream_document(broker)
    assert document["asyncapi"] == "3.0.0"
    assert operations(document) == operations(theirs)
    assert len(operations(document)) == 3  # orders and payments received, events sent
    assert document["components"]["schemas"] == theirs["components"]["schemas"]
    assert {"Order", "Item", "Event"} <= set(document["components"]["schemas"])
    assert set(theirs["components"]["messages"]) <= set(document["components"]["messages"])
    assert set(theirs["channels"]) <= set(document["channels"])
    if FASTSTREAM >= (0, 6):  # 3.0.0 on both sides: the same objects under the same names
        for section in ("channels", "operations"):
            for name, value in theirs[section].items():
                assert document[section][name] == value, (section, name)
    addresses = {channel.get("address") for channel in document["channels"].values()}
    assert {"orders", "events", "payments", "/hello"} <= addresses
    (server,) = document["servers"].values()
    assert server["protocol"] == next(iter(theirs["servers"].values()))["protocol"]


def test_asyncapi_brokers_subscriber_payload_is_the_pydantic_schema(kind: str) -> None:
    document = ours(make_app(make_broker(kind)))
    by_action = {(c, a): json.loads(p) for c, a, p in operations(document)}
    order = next(p for (c, a), p in by_action.items() if a == "receive" and c.startswith("orders"))
    assert order["title"] == "Order" and set(order["properties"]) == {"id", "items"}
    event = next(p for (c, a), p in by_action.items() if a == "send")
    assert event["title"] == "Event"


def test_asyncapi_brokers_metadata_and_http_routes_are_ours(kind: str) -> None:
    document = ours(make_app(make_broker(kind)))
    assert document["id"] == "urn:example:orders"
    assert document["info"] == {
        "title": "Orders",
        "version": "2.0.0",
        "description": "Takes orders.",
        "contact": {"name": "Ops", "email": "ops@example.com"},
        "license": {"name": "MIT"},
        "tags": [{"name": "orders"}],
    }
    assert document["channels"]["http_hello"]["address"] == "/hello"
    assert document["operations"]["http_hello_get"]["bindings"]["http"]["method"] == "GET"
    assert list(document["channels"])[-1] == "http_hello"  # broker channels are listed first


def other_shapes(shape: str) -> Any:
    """Brokers beyond one topic each: security, several URLs, wildcards, exchanges, streams."""
    import ssl

    async def take(order: Order) -> None:
        pass

    async def answer(order: Order) -> Event:
        return Event(kind="x")

    if shape == "kafka-sasl-several-topics":
        from faststream.kafka import KafkaBroker
        from faststream.security import SASLPlaintext

        context = ssl.create_default_context()
        security = SASLPlaintext(username="u", password="p", ssl_context=context)
        broker: Any = KafkaBroker("kafka:9092", security=security)
        broker.subscriber("a", "b")(take)
        broker.publisher("out")(broker.subscriber("in")(answer))
    elif shape == "nats-wildcards-two-servers":
        from faststream.nats import NatsBroker

        broker = NatsBroker(["nats://a:4222", "nats://b:4222"])
        broker.subscriber("orders.*")(take)
        broker.subscriber("orders.>", queue="workers")(answer)
    elif shape == "redis-list-stream-pattern":
        from faststream.redis import ListSub, RedisBroker, StreamSub

        broker = RedisBroker("redis://redis:6379/2")
        broker.subscriber(list=ListSub("jobs"))(take)
        broker.subscriber(stream=StreamSub("events", group="g", consumer="c"))(answer)
        broker.subscriber(channel="logs.*")(take)
    else:
        from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue

        broker = RabbitBroker()
        exchange = RabbitExchange("orders-ex", type=ExchangeType.TOPIC)
        broker.subscriber(RabbitQueue("q1", routing_key="order.*"), exchange)(take)
        broker.publisher("order.created", exchange=exchange)(broker.subscriber("q2")(answer))
    return broker


@pytest.mark.parametrize(
    "shape",
    [
        "kafka-sasl-several-topics",
        "nats-wildcards-two-servers",
        "redis-list-stream-pattern",
        "rabbit-topic-exchange",
    ],
)
def test_asyncapi_brokers_other_broker_shapes_are_listed_and_valid(shape: str) -> None:
    broker = other_shapes(shape)
    document = ours(make_app(broker))
    theirs = faststream_document(broker)
    assert operations(document) == operations(theirs)
    assert len(document["servers"]) == len(theirs["servers"])
    assert set(theirs["channels"]) <= set(document["channels"])


def test_asyncapi_brokers_server_never_shows_credentials() -> None:
    from faststream.rabbit import RabbitBroker

    document = ours(make_app(RabbitBroker("amqp://admin:s3cret@rabbit.example:5672/vh")))
    assert "s3cret" not in json.dumps(document)
    assert document["servers"]["development"]["host"] == "rabbit.example:5672"


def test_asyncapi_brokers_several_brokers_keep_every_name_unique() -> None:
    extra = importlib.import_module("asgi_core_extras.faststream._asyncapi")
    redis, kafka, redis_again = make_broker("redis"), make_broker("kafka"), make_broker("redis")
    document = build_document(AsgiFastStream())
    extra.add_brokers(document, [redis, kafka, redis_again])
    check(document)
    assert len(document["operations"]) == 3 * 3
    assert len(document["channels"]) == 3 * 3
    assert "orders:HandleOrder" in document["channels"]
    assert "orders:HandleOrder_2" in document["channels"]
    assert len(document["servers"]) == 2  # the two Redis brokers share localhost:6379
    assert {"Order", "Item", "Event"} == {
        name for name in document["components"]["schemas"] if not name.startswith("Handle")
    }  # equal schemas are shared, not copied


def test_asyncapi_brokers_detection_walks_the_mro_without_importing_faststream() -> None:
    from faststream.redis import RedisBroker

    class MyBroker(RedisBroker):  # defined here: only a base class is FastStream's
        pass

    assert MyBroker.__module__ == __name__
    broker = MyBroker()

    @broker.subscriber("orders")
    async def handle_order(order: Order) -> None:
        pass

    assert "orders:HandleOrder" in ours(make_app(broker))["channels"]


def test_asyncapi_brokers_a_look_alike_module_name_keeps_the_duck_typed_protocol() -> None:
    class Described:
        async def start(self) -> None:
            pass

        async def close(self) -> None:
            pass

        def asyncapi_channels(self) -> list[dict[str, Any]]:
            return [{"name": "handle", "address": "orders", "action": "receive"}]

    Described.__module__ = "faststreamer.brokers"  # not FastStream's, though it starts alike
    document = ours(make_app(Described()))
    assert document["channels"]["handle"]["address"] == "orders"


def test_asyncapi_brokers_a_missing_extras_package_names_the_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class NotInstalled:  # finds no asgi_core_extras, as an install of asgi_core alone would
        @staticmethod
        def find_spec(name: str, *args: object) -> None:
            if name.partition(".")[0] == "asgi_core_extras":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    for name in [m for m in sys.modules if m.partition(".")[0] == "asgi_core_extras"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [NotInstalled(), *sys.meta_path])
    with pytest.raises(MissingExtraError, match=r"pip install 'asgi-core\[faststream\]'"):
        build_document(make_app(make_broker("redis")))


# -- served lazily, rebuilt, failing alone --------------------------------------------------------


async def test_asyncapi_brokers_late_subscribers_appear_and_the_cache_follows(kind: str) -> None:
    broker = make_broker(kind)
    app = make_app(broker)
    docs = mount_asyncapi(app, "/docs")

    async def handle_refund(order: Order) -> None:
        pass

    broker.subscriber("refunds")(handle_refund)  # after the app and docs, before a request

    assert docs.builds == 0
    first = (await Client(app).get("/docs.json")).json()
    assert "refunds" in {c.get("address") for c in first["channels"].values()}
    await Client(app).get("/docs")
    assert docs.builds == 1

    async def handle_return(order: Order) -> None:
        pass

    broker.subscriber("returns")(handle_return)  # after the first request

    second = (await Client(app).get("/docs.json")).json()
    assert "returns" in {c.get("address") for c in second["channels"].values()}
    assert docs.builds == 2
    check(second)
    app.set_broker(make_broker("redis" if kind != "redis" else "nats"))
    third = (await Client(app).get("/docs.json")).json()
    assert "returns" not in {c.get("address") for c in third["channels"].values()}
    assert docs.builds == 3


async def test_asyncapi_brokers_generator_failure_is_a_500_that_leaks_nothing(
    kind: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = make_broker(kind)
    subscribers = broker.subscribers if FASTSTREAM >= (0, 6) else broker._subscribers.values()
    subscriber = next(iter(subscribers))

    def schema() -> Any:
        raise RuntimeError("secret-token in the generator")

    monkeypatch.setattr(subscriber, "schema", schema)  # FastStream's generator calls it
    app = make_app(broker)
    mount_asyncapi(app, "/docs")
    caplog.set_level(logging.ERROR)
    for target in ("/docs.json", "/docs"):
        caplog.clear()
        response = await Client(app).get(target)
        assert (response.status_code, response.text) == (500, "Internal Server Error")
        (logged,) = [r for r in caplog.records if r.exc_info]  # once, with a traceback
        assert logged.name == "asgi_core.handlers"
        assert "secret-token" in caplog.text and "in schema" in caplog.text
        assert "FastStream's AsyncAPI generator raised RuntimeError" in caplog.text
    assert (await Client(app).get("/hello")).text == "hello"  # the rest keeps serving
    monkeypatch.undo()
    assert (await Client(app).get("/docs.json")).status_code == 200  # and the docs recover


@ASYNCIO_ONLY
async def test_asyncapi_brokers_docs_of_a_started_broker_leave_it_as_it_was(kind: str) -> None:
    module_name, _, test_broker_name = BROKERS[kind]
    broker = make_broker(kind)
    app = make_app(broker)
    mount_asyncapi(app, "/docs")
    async with getattr(importlib.import_module(module_name), test_broker_name)(broker) as running:
        parts = list(
            [*broker.subscribers, *broker.publishers]
            if FASTSTREAM >= (0, 6)
            else [*broker._subscribers.values(), *broker._publishers.values()]
        )
        before = [{k: id(v) for k, v in vars(p).items()} for p in parts]
        response = await Client(app).get("/docs.json")
        assert response.status_code == 200
        check(response.json())
        # 0.5's generator would set every subscriber up again (a new in-flight lock on each)
        assert [{k: id(v) for k, v in vars(p).items()} for p in parts] == before
        await running.publish(Order(id=1, items=[]), "orders")
