"""The demo service the README's first command runs."""

from __future__ import annotations

import pytest

from asgi_core.testing import Client, LifespanManager
from examples.demo import app, broker

pytestmark = pytest.mark.anyio


async def test_demo_serves_its_routes_and_health_while_the_broker_is_up() -> None:
    async with LifespanManager(app) as lifespan:
        client = Client(app, state=lifespan.state)
        assert (await client.get("/hello?name=you")).text == "hello, you\n"
        assert (await client.get("/health")).status_code == 204
        assert (await client.get("/ready")).status_code == 204
        assert (await client.get("/docs.json")).json()["info"]["title"] == "Demo service"
        async with client.websocket("/ws") as session:
            await session.send_text("ping")
            assert await session.receive_text() == "ping"
    assert not broker.connected
    assert (await Client(app).get("/ready")).status_code == 503
