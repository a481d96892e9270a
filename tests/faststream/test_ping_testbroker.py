"""``asgi_core.make_ping_asgi`` under FastStream's TestBrokers answers as FastStream's own does.

For each broker (redis, nats, rabbit, kafka), inside its ``Test*Broker``, both routes are asked
in the same test: FastStream's ``faststream.asgi.make_ping_asgi`` (the behaviour to match) and
ours. The TestBroker replaces ``broker.ping`` after the routes were built, and so does each
unhealthy case, so these tests also check that our route looks ``broker.ping`` up per request.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any
from unittest import mock

import pytest

import asgi_core
from asgi_core.testing import Client

pytestmark = [
    pytest.mark.anyio,
    # FastStream's brokers and TestBrokers run on asyncio only (their clients are asyncio
    # libraries), so these tests run on asyncio alone; the id says so in every test name.
    pytest.mark.parametrize("anyio_backend", ["asyncio"], ids=["asyncio-only-faststream-brokers"]),
]

# (module, broker class, TestBroker class) for each broker FastStream 0.5.31 and 0.7 both have.
BROKERS = {
    "redis": ("faststream.redis", "RedisBroker", "TestRedisBroker"),
    "nats": ("faststream.nats", "NatsBroker", "TestNatsBroker"),
    "rabbit": ("faststream.rabbit", "RabbitBroker", "TestRabbitBroker"),
    "kafka": ("faststream.kafka", "KafkaBroker", "TestKafkaBroker"),
}


@asynccontextmanager
async def under_test_broker(kind: str) -> AsyncIterator[Any]:
    """A new broker of ``kind`` with one subscriber, inside its FastStream TestBroker."""
    module_name, broker_name, test_broker_name = BROKERS[kind]
    module = importlib.import_module(module_name)
    broker = getattr(module, broker_name)()

    async def handle(body: str) -> None: ...

    broker.subscriber("orders")(handle)
    async with getattr(module, test_broker_name)(broker):
        yield broker


async def statuses(broker: Any, **ping_kwargs: Any) -> tuple[int, int]:
    """``(FastStream's status, ours)`` for GET on each route built for ``broker``."""
    from faststream.asgi import make_ping_asgi as faststream_ping

    theirs = await Client(faststream_ping(broker, **ping_kwargs)).get("/health")
    ours = await Client(asgi_core.make_ping_asgi(broker, **ping_kwargs)).get("/health")
    return theirs.status_code, ours.status_code


def routes_built_before(broker: Any) -> tuple[Callable[..., Any], Callable[..., Any]]:
    from faststream.asgi import make_ping_asgi as faststream_ping

    return faststream_ping(broker), asgi_core.make_ping_asgi(broker)


@pytest.mark.parametrize("kind", sorted(BROKERS))
async def test_ping_under_test_broker_is_healthy_like_faststream(kind: str) -> None:
    async with under_test_broker(kind) as broker:
        assert await statuses(broker) == (204, 204)


@pytest.mark.parametrize("kind", sorted(BROKERS))
async def test_ping_route_built_before_the_test_broker_follows_its_ping(kind: str) -> None:
    module_name, broker_name, test_broker_name = BROKERS[kind]
    module = importlib.import_module(module_name)
    broker = getattr(module, broker_name)()
    theirs, ours = routes_built_before(broker)  # the TestBroker patches ping afterwards
    async with getattr(module, test_broker_name)(broker):
        statuses = (
            (await Client(theirs).get("/")).status_code,
            (await Client(ours).get("/")).status_code,
        )
    assert statuses == (204, 204)


@pytest.mark.parametrize("kind", sorted(BROKERS))
async def test_ping_replaced_later_with_a_failing_one_is_unhealthy_like_faststream(
    kind: str,
) -> None:
    async with under_test_broker(kind) as broker:
        theirs, ours = routes_built_before(broker)
        with mock.patch.object(broker, "ping", mock.AsyncMock(return_value=False)) as ping:
            got = (
                (await Client(theirs).get("/")).status_code,
                (await Client(ours).get("/")).status_code,
            )
        assert got == (500, 500)
        assert ping.await_count == 2  # each route called the replacement, once per request


@pytest.mark.parametrize("kind", sorted(BROKERS))
async def test_ping_that_raises_is_unhealthy_like_faststream(kind: str) -> None:
    async with under_test_broker(kind) as broker:
        failing = mock.AsyncMock(side_effect=ConnectionError("broker went away"))
        with mock.patch.object(broker, "ping", failing):
            assert await statuses(broker) == (500, 500)


@pytest.mark.parametrize("kind", sorted(BROKERS))
async def test_ping_passes_the_timeout_like_faststream(kind: str) -> None:
    async with under_test_broker(kind) as broker:
        with mock.patch.object(broker, "ping", mock.AsyncMock(return_value=True)) as ping:
            assert await statuses(broker, timeout=2.5) == (204, 204)
        assert ping.await_args_list == [mock.call(2.5), mock.call(2.5)]


@pytest.mark.parametrize("kind", sorted(BROKERS))
async def test_ping_recovers_when_the_broker_answers_again_like_faststream(kind: str) -> None:
    async with under_test_broker(kind) as broker:
        theirs, ours = routes_built_before(broker)
        answers = mock.AsyncMock(side_effect=[False, False, True, True])
        with mock.patch.object(broker, "ping", answers):
            down = [(await Client(route).get("/")).status_code for route in (theirs, ours)]
            up = [(await Client(route).get("/")).status_code for route in (theirs, ours)]
        assert (down, up) == ([500, 500], [204, 204])
