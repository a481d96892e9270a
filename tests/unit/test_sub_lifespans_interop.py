"""Lifespans across real Starlette and FastAPI apps: theirs in ours, and ours in theirs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse as StarletteJSON
from starlette.routing import Mount, Route

from asgi_core import AsgiFastStream, AsgiResponse
from asgi_core.asyncapi import mount_asyncapi
from asgi_core.exceptions import HookError
from asgi_core.handlers import Request, get
from asgi_core.testing import Client, LifespanManager

pytestmark = pytest.mark.anyio


class Broker:
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def start(self) -> None:
        self.log.append("broker started")

    async def close(self) -> None:
        self.log.append("broker closed")


def starlette_app(log: list[str], *, fail: bool = False) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        log.append("starlette started")
        if fail:
            raise RuntimeError("starlette cannot reach its database")
        yield {"web.db": "connected"}
        log.append("starlette stopped")

    async def where(request: StarletteRequest) -> StarletteJSON:
        return StarletteJSON(
            {
                "db": request.state._state.get("web.db"),
                "root_path": request.scope["root_path"],
                "path": request.url.path,
            }
        )

    return Starlette(routes=[Route("/where", where)], lifespan=lifespan)


async def test_interop_starlette_mounted_in_ours_starts_and_stops_with_us() -> None:
    log: list[str] = []
    app = AsgiFastStream(Broker(log), asgi_routes=[("/web", starlette_app(log))])
    async with LifespanManager(app) as lifespan:
        # mounted apps start last (our broker is up for them) and stop first
        assert log[:2] == ["broker started", "starlette started"]
        response = await Client(app, state=lifespan.state).get("/web/where")
        assert response.json() == {"db": "connected", "root_path": "/web", "path": "/web/where"}
    assert log[2:] == ["starlette stopped", "broker closed"]


async def test_interop_starlette_mounted_in_ours_sees_our_root_path() -> None:
    log: list[str] = []
    app = AsgiFastStream(Broker(log), asgi_routes=[("/web", starlette_app(log))])
    async with LifespanManager(app) as lifespan:
        client = Client(app, state=lifespan.state, root_path="/svc")
        response = await client.get("/svc/web/where")
    assert response.json() == {"db": "connected", "root_path": "/svc/web", "path": "/svc/web/where"}


async def test_interop_failing_starlette_lifespan_fails_our_startup_naming_the_mount() -> None:
    log: list[str] = []
    app = AsgiFastStream(Broker(log), asgi_routes=[("/web", starlette_app(log, fail=True))])
    with pytest.raises(HookError) as caught:  # the app's own exception reaches the test
        async with LifespanManager(app):
            pytest.fail("startup must fail")
    assert caught.value.stage == "startup"
    assert "the app mounted at '/web'" in str(caught.value)
    assert "starlette cannot reach its database" in str(caught.value)
    assert log[0] == "broker started" and log[-1] == "broker closed"  # undone after the failure


async def test_interop_fastapi_mounted_in_ours_runs_its_lifespan() -> None:
    log: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        log.append("fastapi started")
        yield
        log.append("fastapi stopped")

    api = FastAPI(lifespan=lifespan)

    @api.get("/items/{item}")
    async def item(item: int) -> dict[str, int]:
        return {"item": item}

    app = AsgiFastStream(Broker(log), asgi_routes=[("/api", api)])
    async with LifespanManager(app) as lifespan_manager:
        assert "fastapi started" in log
        response = await Client(app, state=lifespan_manager.state).get("/api/items/3")
        assert response.json() == {"item": 3}
    assert log[-2:] == ["fastapi stopped", "broker closed"]


def ours(log: list[str]) -> AsgiFastStream:
    @get
    async def where(request: Request) -> AsgiResponse:
        return AsgiResponse(f"{request.scope['root_path']} {request.path}".encode())

    app = AsgiFastStream(Broker(log), asgi_routes=[("/where", where)], title="Ours")
    mount_asyncapi(app, "/docs")
    return app


async def test_interop_ours_mounted_in_starlette_runs_through_its_lifespan() -> None:
    log: list[str] = []
    stream = ours(log)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with stream.start_lifespan_context():
            yield

    outer = Starlette(routes=[Mount("/stream", app=stream)], lifespan=lifespan)
    async with LifespanManager(outer) as lifespan_manager:
        assert log == ["broker started"]
        client = Client(outer, state=lifespan_manager.state)
        assert (await client.get("/stream/where")).text == "/stream/where /stream/where"
        page = (await client.get("/stream/docs")).text
        assert '<a href="/stream/docs.json">' in page
        document = (await client.get("/stream/docs.json")).json()
        assert document["info"]["title"] == "Ours"
        assert document["channels"]["http_where"]["address"] == "/where"
    assert log == ["broker started", "broker closed"]


async def test_interop_ours_mounted_in_fastapi_runs_through_its_lifespan() -> None:
    log: list[str] = []
    stream = ours(log)

    @contextlib.asynccontextmanager
    async def lifespan(api: FastAPI) -> AsyncIterator[None]:
        async with stream.start_lifespan_context():
            yield

    api = FastAPI(lifespan=lifespan)
    api.mount("/stream", stream)
    async with LifespanManager(api) as lifespan_manager:
        client = Client(api, state=lifespan_manager.state)
        assert (await client.get("/stream/where")).text == "/stream/where /stream/where"
    assert log == ["broker started", "broker closed"]


async def test_interop_starlette_lifespan_failure_is_a_hook_error_with_the_cause() -> None:
    from asgi_core._sub_lifespans import SubLifespans

    log: list[str] = []
    with pytest.raises(HookError, match="'/web' failed its lifespan startup") as caught:
        async with SubLifespans([("/web", starlette_app(log, fail=True))], None) as subs:
            await subs.startup()
    assert "lifespan.startup.failed" in str(caught.value)
