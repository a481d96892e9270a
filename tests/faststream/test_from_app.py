# ruff: noqa: B008  (FastStream markers such as Context() are calls in defaults by design)
"""``AsgiFastStream.from_app`` with real FastStream apps (0.5.31 in .venv-fs05, 0.7 in .venv).

What a ``FastStream(...)`` user brings keeps working: its hooks with FastStream's DI, its
lifespan, its metadata in ``/docs.json``, its broker's handlers, and run options reaching the
hooks. Tests with a broker run under its TestBroker on asyncio only (FastStream's brokers are
asyncio libraries), as their ids say; the others on asyncio and trio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from faststream import Context, FastStream
from faststream.redis import RedisBroker, TestRedisBroker

from asgi_core import AsgiFastStream
from asgi_core.exceptions import ConfigError
from asgi_core.testing import Client
from tests.faststream.conftest import FASTSTREAM, check

pytestmark = pytest.mark.anyio
ASYNCIO_ONLY = pytest.mark.parametrize(
    "anyio_backend", ["asyncio"], ids=["asyncio-only-faststream-brokers"]
)


def faststream_app(*brokers: Any, lifespan: Any = None, **metadata: Any) -> FastStream:
    """A ``FastStream`` app with ``metadata``: 0.5 takes it itself, 0.7 on its specification."""
    if FASTSTREAM < (0, 6):
        fastream_05: Any = FastStream  # typed as 0.7's here: mypy runs against 0.7
        app: FastStream = fastream_05(
            brokers[0] if brokers else None, lifespan=lifespan, **metadata
        )
        return app
    from faststream.specification import AsyncAPI

    return FastStream(*brokers, lifespan=lifespan, specification=AsyncAPI(**metadata))


@ASYNCIO_ONLY
async def test_from_app_runs_a_faststream_app_with_its_hooks_lifespan_and_handlers() -> None:
    broker = RedisBroker()
    events: list[Any] = []

    @asynccontextmanager
    async def lifespan(env: str = "dev") -> AsyncIterator[None]:
        events.append(("lifespan enter", env))
        yield
        events.append("lifespan exit")

    app = faststream_app(broker, lifespan=lifespan, title="Orders")

    @app.on_startup
    async def connect(port: int, application: Any = Context("app")) -> None:
        events.append(("on_startup", port, type(application).__name__))

    @app.after_startup
    async def ready() -> None:
        events.append("after_startup")

    @app.on_shutdown
    async def draining() -> None:
        events.append("on_shutdown")

    @app.after_shutdown
    async def bye() -> None:
        events.append("after_shutdown")

    @broker.subscriber("orders")
    async def handle(body: str) -> None:
        events.append(("handled", body))

    asgi_app = AsgiFastStream.from_app(app, [], asyncapi_path="/docs")
    assert asgi_app.broker is broker and asgi_app.title == "Orders"
    async with TestRedisBroker(broker):
        await asgi_app.start(port="8080", env="prod")  # run options, as `asgi-core run` passes
        await broker.publish("order-1", "orders")
        await asgi_app.stop()
    # 0.5: one process-wide context, where (as under FastStream's own as_asgi) the ASGI app is
    # "app"; 0.7: FastStream's hooks stay bound to the FastStream app's context
    context_app = "AsgiFastStream" if FASTSTREAM < (0, 6) else "FastStream"
    assert events == [
        ("lifespan enter", "prod"),
        ("on_startup", 8080, context_app),
        "after_startup",
        ("handled", "order-1"),
        "on_shutdown",
        "after_shutdown",
        "lifespan exit",
    ]


async def test_from_app_docs_json_carries_the_faststream_metadata_and_channels() -> None:
    broker = RedisBroker()

    @broker.subscriber("orders")
    async def handle(body: str) -> None: ...

    app = faststream_app(broker, title="Orders", version="2.1.0", description="Takes orders")
    asgi_app = AsgiFastStream.from_app(app, [], asyncapi_path="/docs")
    response = await Client(asgi_app).get("/docs.json")
    assert response.status_code == 200
    document = response.json()
    check(document)
    assert document["info"]["title"] == "Orders"
    assert (document["info"]["version"], document["info"]["description"]) == (
        "2.1.0",
        "Takes orders",
    )
    assert any(channel.get("address") == "orders" for channel in document["channels"].values())


async def test_from_app_accepts_faststreams_own_asgi_app_and_says_its_routes_stay(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from faststream.asgi import make_ping_asgi

    broker = RedisBroker()
    app = faststream_app(broker, title="Orders")
    seen: list[str] = []

    @app.after_startup
    async def hook() -> None:
        seen.append("after_startup")

    theirs = app.as_asgi(asgi_routes=[("/health", make_ping_asgi(broker))])
    with caplog.at_level("WARNING", logger="asgi_core"):
        asgi_app = AsgiFastStream.from_app(theirs, [])
    assert asgi_app.broker is broker and not asgi_app.routes
    assert "its HTTP routes '/health' are not copied; pass the ones to keep in asgi_routes" in (
        caplog.text
    )
    for copied in asgi_app.hooks.after_startup:  # no start(): the broker is asyncio-only
        await copied()
    assert seen == ["after_startup"]


def test_from_app_copies_every_broker_of_a_faststream_app() -> None:
    first, second = RedisBroker(), RedisBroker()
    if FASTSTREAM < (0, 6):  # a 0.5 app holds one broker
        app: Any = FastStream(first)
        expected: tuple[Any, ...] = (first,)
    else:  # 0.7: FastStream(b1, b2)
        app = FastStream(first, second)
        expected = (first, second)
    assert AsgiFastStream.from_app(app, []).brokers == expected


def test_from_app_refuses_what_is_no_application() -> None:
    with pytest.raises(TypeError, match=r"needs an asgi_core Application or a FastStream app"):
        AsgiFastStream.from_app(object(), [])
    with pytest.raises(TypeError, match=r"not <faststream\..*RedisBroker"):
        AsgiFastStream.from_app(RedisBroker(), [])


async def test_from_app_keeps_the_faststream_app_unchanged_and_takes_our_hooks_too() -> None:
    app = faststream_app()
    seen: list[Any] = []

    @app.on_startup
    async def theirs(env: str) -> None:
        seen.append(("theirs", env))

    asgi_app = AsgiFastStream.from_app(app, [])

    @asgi_app.on_startup
    async def ours(env: str, application: Any = Context("app")) -> None:
        seen.append(("ours", env, application))

    @app.on_startup
    async def later() -> None:  # registered on the FastStream app afterwards: not copied
        seen.append("later")

    await asgi_app.start(env="prod")
    await asgi_app.stop()
    assert seen == [("theirs", "prod"), ("ours", "prod", asgi_app)]


async def test_from_app_hook_missing_a_run_option_is_a_config_error_naming_it() -> None:
    app = faststream_app()

    @app.on_startup
    async def needs_port(port: int) -> None: ...

    asgi_app = AsgiFastStream.from_app(app, [])
    with pytest.raises(ConfigError, match=r"needs_port: FastStream's dependency injection .*port"):
        await asgi_app.start(env="prod")
    assert not asgi_app.running
