"""The README's "Operations endpoints" service, run as written, through asgi_core.testing."""

from __future__ import annotations

import pytest

from asgi_core import AsgiFastStream, AsgiResponse
from asgi_core.handlers import JSONResponse, Request, get, post
from asgi_core.health import make_ping_asgi, make_ready_asgi
from asgi_core.testing import Client, LifespanManager

pytestmark = pytest.mark.anyio


class Broker:
    """Stands in for a FastStream broker: start, stop and ping."""

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def ping(self, timeout: float | None) -> bool:
        return True


broker = Broker()

# -- as in the README ------------------------------------------------------------------------------


@get(description="Greets whoever asks.")
async def hello(request: Request) -> AsgiResponse:
    return JSONResponse({"hello": request.query_params.get("name", "world")})


@post(max_body_size=64 * 1024)
async def orders(request: Request) -> AsgiResponse:
    order = await request.json()  # invalid JSON -> 400, too big -> 413
    return JSONResponse({"accepted": order["id"]}, status_code=202)


app = AsgiFastStream(
    broker,
    asgi_routes=[
        ("/health", make_ping_asgi(broker, timeout=2.0)),
        ("/hello", hello),
        ("/orders", orders),
    ],
    asyncapi_path="/docs",
    title="Orders",
    version="1.0.0",
)
app.mount("/ready", make_ready_asgi(app, include_in_schema=False))

# -- and its test, also as in the README ----------------------------------------------------------


async def test_handlers_readme_service() -> None:
    async with LifespanManager(app) as manager:
        client = Client(manager.app)
        assert (await client.get("/health")).status_code == 204
        assert (await client.get("/ready")).status_code == 204
        assert (await client.get("/hello?name=ann")).json() == {"hello": "ann"}
        response = await client.post("/orders", json={"id": 7})
        assert (response.status_code, response.json()) == (202, {"accepted": 7})
        document = (await client.get("/docs.json")).json()
        assert document["info"]["title"] == "Orders"
        assert sorted(document["channels"]) == ["http_health", "http_hello", "http_orders"]
        assert "Orders" in (await client.get("/docs")).text
    assert (await Client(app).get("/ready")).status_code == 503
