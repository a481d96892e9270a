# ruff: noqa: B008  (FastStream markers such as Context() are calls in defaults by design)
"""``settings_from_faststream``: a real FastStream app read into asgi_core's settings.

Run on both FastStream generations (0.5.31 in ``.venv-fs05``, 0.7 in ``.venv``). Where they
differ, the test branches on ``FASTSTREAM`` with the reason. Tests without a broker run on
asyncio and trio (FastStream's DI awaits only the hook); tests with a TestBroker run on asyncio
only, because FastStream's brokers are asyncio-only: their ids say so.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from faststream import Context, Depends, FastStream, Logger
from faststream.__about__ import __version__
from faststream.redis import RedisBroker, TestRedisBroker

from asgi_core import AsgiFastStream
from asgi_core.exceptions import ConfigError
from asgi_core.testing import LifespanManager

# imported by name: mypy knows the directory as extras/, not asgi_core_extras
_app = importlib.import_module("asgi_core_extras.faststream._app")
_di = importlib.import_module("asgi_core_extras.faststream._di")
settings_from_faststream = _app.settings_from_faststream
is_faststream_app = _app.is_faststream_app

pytestmark = pytest.mark.anyio
FASTSTREAM = tuple(int(part) for part in __version__.split(".")[:2])
ASYNCIO_ONLY = pytest.mark.parametrize(
    "anyio_backend", ["asyncio"], ids=["asyncio-only-faststream-brokers"]
)


def faststream_app(*brokers: Any, **metadata: Any) -> FastStream:
    """A ``FastStream`` app with ``metadata``: 0.5 takes it itself, 0.7 on its specification."""
    if FASTSTREAM < (0, 6):
        fastream_05: Any = FastStream  # typed as 0.7's here: mypy runs against 0.7
        return fastream_05(brokers[0] if brokers else None, **metadata)  # type: ignore[no-any-return]
    from faststream.specification import AsyncAPI

    lifespan = metadata.pop("lifespan", None)
    return FastStream(*brokers, lifespan=lifespan, specification=AsyncAPI(**metadata))


def metadata_models() -> dict[str, Any]:
    """License, contact, tags and external docs as FastStream's own model classes."""
    if FASTSTREAM < (0, 6):  # pydantic models in faststream.asyncapi.schema; Tag.externalDocs
        models: Any = importlib.import_module("faststream.asyncapi.schema")  # 0.5 only
        docs = models.ExternalDocs(url="https://docs.example.org/tag")
        tag = models.Tag(name="orders", description="Order events", externalDocs=docs)
    else:  # dataclasses in faststream.specification.schema; Tag.external_docs
        models = importlib.import_module("faststream.specification.schema")
        docs = models.ExternalDocs(url="https://docs.example.org/tag")
        tag = models.Tag(name="orders", description="Order events", external_docs=docs)
    return {
        "license": models.License(name="MIT", url="https://opensource.org/licenses/MIT"),
        "contact": models.Contact(
            name="Ops", url="https://ops.example.org", email="ops@example.org"
        ),
        "tags": [tag, {"name": "plain"}],
        "external_docs": models.ExternalDocs(url="https://docs.example.org", description="Docs"),
    }


def test_settings_carry_the_metadata_as_plain_asyncapi_dicts() -> None:
    app = faststream_app(
        RedisBroker(),
        title="Orders",
        version="2.1.0",
        description="Takes orders",
        terms_of_service="https://example.org/terms",
        identifier="urn:example:orders",
        **metadata_models(),
    )
    settings = settings_from_faststream(app)
    # pydantic (0.5) normalises a bare URL with a trailing slash; 0.7 keeps the string given
    slash = "/" if FASTSTREAM < (0, 6) else ""
    assert (settings.title, settings.version, settings.description) == (
        "Orders",
        "2.1.0",
        "Takes orders",
    )
    assert settings.terms_of_service == "https://example.org/terms"
    assert settings.identifier == "urn:example:orders"
    assert settings.license == {"name": "MIT", "url": "https://opensource.org/licenses/MIT"}
    assert settings.contact == {
        "name": "Ops",
        "url": f"https://ops.example.org{slash}",
        "email": "ops@example.org",
    }
    assert settings.tags == [
        {
            "name": "orders",
            "description": "Order events",
            "externalDocs": {"url": "https://docs.example.org/tag"},
        },
        {"name": "plain"},
    ]
    assert settings.external_docs == {
        "url": f"https://docs.example.org{slash}",
        "description": "Docs",
    }


def test_settings_of_an_app_with_defaults_match_asgi_cores_defaults() -> None:
    settings = settings_from_faststream(faststream_app(RedisBroker()))
    kwargs = settings.application_kwargs()
    assert (kwargs["title"], kwargs["version"], kwargs["description"]) == (
        "FastStream",
        "0.1.0",
        "",
    )
    assert kwargs["lifespan"] is None  # FastStream's stand-in for "no lifespan" is not carried
    for key in ("terms_of_service", "license", "contact", "tags", "external_docs", "identifier"):
        assert kwargs[key] is None, key


def test_settings_brokers_and_logger() -> None:
    first, second = RedisBroker(), RedisBroker()
    logger = logging.getLogger("tests.faststream.app")
    if FASTSTREAM < (0, 6):  # 0.5 apps hold one broker
        app: Any = FastStream(first, logger=logger)
        expected = [first]
    else:  # 0.7 apps take several (FastStream(b1, b2))
        app = FastStream(first, second, logger=logger)
        expected = [first, second]
    settings = settings_from_faststream(app)
    assert settings.brokers == expected
    assert settings.broker is first
    # the broker is positional-only in AsgiFastStream; from_app adds the others (add_broker)
    assert not {"broker", "brokers"} & set(settings.application_kwargs())
    assert settings.logger is logger
    assert settings_from_faststream(FastStream()).brokers == []


def test_settings_specification_is_the_apps_on_0_7_and_none_on_0_5() -> None:
    app = faststream_app(RedisBroker())
    expected = None if FASTSTREAM < (0, 6) else app.schema  # 0.5 has no specification object
    assert settings_from_faststream(app).specification is expected


def test_settings_need_a_faststream_app() -> None:
    ours = AsgiFastStream(None)
    assert not is_faststream_app(ours)
    assert not is_faststream_app(RedisBroker())  # from faststream, but not an application
    with pytest.raises(TypeError, match=r"needs a FastStream application .*not <AsgiFastStream"):
        settings_from_faststream(ours)


def test_settings_accept_faststreams_own_asgi_app() -> None:
    broker = RedisBroker()
    app = faststream_app(broker, title="Orders")
    asgi_app = app.as_asgi()
    settings = settings_from_faststream(asgi_app)
    assert settings.broker is broker
    # 0.5's from_app copies the metadata; 0.7's keeps a new default specification
    assert settings.title == ("Orders" if FASTSTREAM < (0, 6) else "FastStream")


async def test_hooks_keep_faststreams_injection_and_get_the_options() -> None:
    app = faststream_app()
    seen: list[tuple[str, Any]] = []

    def number() -> int:
        return 7

    @app.on_startup
    async def first(port: int, application: Any = Context("app")) -> None:
        seen.append(("on_startup", (port, application)))

    @app.on_startup
    def second(n: int = Depends(number), env: str = "dev") -> None:  # sync, as FastStream allows
        seen.append(("on_startup", (n, env)))

    @app.after_startup
    async def third(application: Any = Context("app")) -> None:
        seen.append(("after_startup", application))

    @app.on_shutdown
    async def fourth() -> None:
        seen.append(("on_shutdown", None))

    @app.after_shutdown
    async def fifth(ctx: Any = Context("context")) -> None:
        seen.append(("after_shutdown", ctx is app.context))

    settings = settings_from_faststream(app)
    for hook in settings.on_startup:
        await hook(port="8080", env="prod")
    for stage in ("after_startup", "on_shutdown", "after_shutdown"):
        for hook in getattr(settings, stage):
            await hook()
    assert seen == [
        ("on_startup", (8080, app)),
        ("on_startup", (7, "prod")),
        ("after_startup", app),
        ("on_shutdown", None),
        ("after_shutdown", True),
    ]


async def test_hooks_are_named_after_the_users_functions() -> None:
    import inspect

    app = faststream_app()

    @app.on_startup
    async def warm_cache(size: int = 10) -> None: ...

    (hook,) = settings_from_faststream(app).on_startup
    assert (hook.__module__, hook.__qualname__) == (warm_cache.__module__, warm_cache.__qualname__)
    assert list(inspect.signature(hook).parameters) == ["options"]  # every option reaches DI


async def test_hook_missing_an_option_is_a_config_error_naming_it() -> None:
    app = faststream_app()

    @app.on_startup
    async def needs_port(port: int) -> None: ...

    (hook,) = settings_from_faststream(app).on_startup
    with pytest.raises(
        ConfigError, match=r"needs_port: FastStream's dependency injection .*'port'"
    ):
        await hook(env="prod")


async def test_later_hooks_on_the_faststream_app_do_not_reach_the_settings() -> None:
    app = faststream_app()
    settings = settings_from_faststream(app)

    @app.on_startup
    async def later() -> None: ...

    assert settings.on_startup == []
    assert len(settings_from_faststream(app).on_startup) == 1


async def test_lifespan_keeps_faststreams_injection_and_gets_the_options() -> None:
    seen: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(env: str, application: Any = Context("app")) -> AsyncIterator[None]:
        seen["enter"] = (env, application)
        yield
        seen["exit"] = True

    app = faststream_app(lifespan=lifespan)
    settings = settings_from_faststream(app)
    assert settings.lifespan is not None
    assert settings.lifespan.__qualname__ == lifespan.__qualname__
    async with settings.lifespan(env="prod", port="1"):
        assert seen == {"enter": ("prod", app)}
    assert seen["exit"] is True


async def test_app_context_makes_our_app_the_context_app_on_0_5_only() -> None:
    app = faststream_app()
    seen: list[Any] = []

    @app.on_startup
    async def hook(application: Any = Context("app")) -> None:
        seen.append(application)

    ours = AsgiFastStream(None)
    settings = settings_from_faststream(app, app_context=_di.HookContext(ours.context))
    await settings.on_startup[0]()
    # 0.5: one process-wide context, where FastStream's own as_asgi() makes the ASGI app "app";
    # 0.7: hooks stay bound to the FastStream app's context, as FastStream's from_app leaves them
    assert seen == [ours if FASTSTREAM < (0, 6) else app]


@ASYNCIO_ONLY
async def test_hooks_give_the_same_values_as_faststreams_own_start() -> None:
    """The oracle: FastStream's ``start(**options)`` and ours record the same arguments."""
    broker = RedisBroker()
    app = faststream_app(broker)
    seen: list[Any] = []

    @app.on_startup
    async def on_startup(port: int, application: Any = Context("app")) -> None:
        seen.append((port, application))

    @app.after_startup
    async def after_startup(br: Any = Context("broker", default=None)) -> None:
        seen.append(br)

    async with TestRedisBroker(broker):
        await app.start(port="8080")
        await app.stop()
        under_faststream, seen[:] = list(seen), []
        settings = settings_from_faststream(app)
        ours = AsgiFastStream(settings.broker, **settings.application_kwargs())
        await ours.start(port="8080")
        await ours.stop()
    assert seen == under_faststream
    assert seen[0] == (8080, app)


@ASYNCIO_ONLY
async def test_logger_in_a_faststream_hook_is_the_brokers_on_0_5_and_refused_on_0_7() -> None:
    broker = RedisBroker()
    app = faststream_app(broker)
    seen: list[Any] = []

    @app.on_startup
    async def hook(logger: Logger) -> None:
        seen.append(logger)

    (adapted,) = settings_from_faststream(app).on_startup
    if FASTSTREAM < (0, 6):  # 0.5: the broker put its logger in the process-wide context
        await adapted()
        assert seen == [broker.logger]  # type: ignore[attr-defined]
    else:  # 0.7 has no logger in an app's context outside a message: FastStream refuses too
        with pytest.raises(ConfigError, match=r"hook: FastStream's dependency injection .*logger"):
            await adapted()


@ASYNCIO_ONLY
async def test_from_faststream_app_to_asgi_core_app_demonstration() -> None:
    """How the core will wire it: ``AsgiFastStream(settings.broker, routes, **kwargs)``."""
    broker = RedisBroker()
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(env: str = "dev") -> AsyncIterator[None]:
        events.append(f"lifespan enter {env}")
        yield
        events.append("lifespan exit")

    app = faststream_app(broker, title="Orders", lifespan=lifespan)

    @app.on_startup
    async def connect(application: Any = Context("app")) -> None:
        events.append(f"on_startup {type(application).__name__}")

    @app.after_shutdown
    async def bye() -> None:
        events.append("after_shutdown")

    @broker.subscriber("orders")
    async def handle(body: str) -> None:
        events.append(f"handled {body}")

    settings = settings_from_faststream(app)
    ours = AsgiFastStream(settings.broker, [], **settings.application_kwargs())
    async with TestRedisBroker(broker), LifespanManager(ours):
        await broker.publish("order-1", "orders")
    assert ours.title == "Orders"
    assert events == [
        "lifespan enter dev",
        "on_startup FastStream",
        "handled order-1",
        "after_shutdown",
        "lifespan exit",
    ]
