"""The contenders, each built from the same route table, hooks and no-op broker.

Third-party packages are imported when a contender is built, never at import time, so the
suite runs (and says which rows are pending) with only some of them installed.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

from benchmarks.fixtures import App, NoopBroker, Receive, Scope, Send
from benchmarks.floor import BareLifespan, BarePing, DictDispatcher, Hook, by_stage

__all__ = ["CONTENDERS", "Contender", "PendingError", "Routes"]

Routes = Sequence[tuple[str, App]]


class PendingError(Exception):
    """A contender can't be built yet; the message says why, and the row is marked pending."""


@dataclass(frozen=True)
class Contender:
    """How to build one contender's HTTP app, lifespan app and health-check endpoint."""

    name: str
    http: Callable[[Routes, NoopBroker], App]
    lifespan: Callable[[Sequence[Hook], NoopBroker], App]
    ping: Callable[[NoopBroker], App]
    # the lifespan with its time limits off, for a contender that has them (the others have none:
    # their lifespan is already unbounded); the "no time limits" rows show what the bound costs
    unbounded_lifespan: Callable[[Sequence[Hook], NoopBroker], App] | None = None


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise PendingError(f"`import {name}` failed: {exc}") from exc


# -- the bare dict dispatcher -----------------------------------------------------------------


def _bare_http(routes: Routes, broker: NoopBroker) -> App:
    return DictDispatcher(routes)


def _bare_lifespan(hooks: Sequence[Hook], broker: NoopBroker) -> App:
    return BareLifespan(hooks, broker)


def _bare_ping(broker: NoopBroker) -> App:
    return BarePing(broker)


# -- asgi_core ----------------------------------------------------------------------------------


def _asgi_core_http(routes: Routes, broker: NoopBroker) -> App:
    core = _module("asgi_core")
    return cast(App, core.AsgiFastStream(broker, asgi_routes=list(routes)))


def _asgi_core_lifespan(hooks: Sequence[Hook], broker: NoopBroker, *, bounded: bool = True) -> App:
    core = _module("asgi_core")
    limits = {} if bounded else {"startup_timeout": None, "shutdown_timeout": None}
    app = core.AsgiFastStream(broker, **limits)
    for stage, stage_hooks in by_stage(hooks).items():
        for hook in stage_hooks:
            getattr(app, stage)(hook)
    return cast(App, app)


def _asgi_core_unbounded_lifespan(hooks: Sequence[Hook], broker: NoopBroker) -> App:
    return _asgi_core_lifespan(hooks, broker, bounded=False)


def _asgi_core_ping(broker: NoopBroker) -> App:
    core = _module("asgi_core")
    make_ping_asgi = getattr(core, "make_ping_asgi", None)
    if make_ping_asgi is None:
        make_ping_asgi = getattr(_module("asgi_core.health"), "make_ping_asgi", None)
    if make_ping_asgi is None:
        raise PendingError("asgi_core has no make_ping_asgi yet")
    return cast(App, make_ping_asgi(broker))


# -- Starlette ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StarletteEndpoint:
    """A request/response function for Starlette's ``Route`` to wrap, as users write it."""

    function: Callable[[Any], Awaitable[Any]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise TypeError("mount this endpoint with starlette.routing.Route")


def _starlette_http(routes: Routes, broker: NoopBroker) -> App:
    routing = _module("starlette.routing")
    table = [
        routing.Route(path, app.function if isinstance(app, _StarletteEndpoint) else app)
        for path, app in routes
    ]
    return cast(App, routing.Router(table))


def _starlette_lifespan(hooks: Sequence[Hook], broker: NoopBroker) -> App:
    routing = _module("starlette.routing")
    stages = by_stage(hooks)

    @asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        for hook in [*stages["on_startup"], broker.start, *stages["after_startup"]]:
            await hook()
        try:
            yield
        finally:
            for hook in [*stages["on_shutdown"], broker.close, *stages["after_shutdown"]]:
                await hook()

    return cast(App, routing.Router(lifespan=lifespan))


def _starlette_ping(broker: NoopBroker) -> App:
    responses = _module("starlette.responses")

    async def ping(request: object) -> object:
        return responses.Response(status_code=204 if await broker.ping(None) else 500)

    return _StarletteEndpoint(ping)


# -- FastStream ---------------------------------------------------------------------------------


def _faststream_http(routes: Routes, broker: NoopBroker) -> App:
    asgi = _module("faststream.asgi")
    # logger=None: FastStream would otherwise log every lifespan cycle to stderr.
    return cast(App, asgi.AsgiFastStream(broker, asgi_routes=list(routes), logger=None))


def _faststream_lifespan(hooks: Sequence[Hook], broker: NoopBroker) -> App:
    asgi = _module("faststream.asgi")
    return cast(App, asgi.AsgiFastStream(broker, logger=None, **by_stage(hooks)))


def _faststream_ping(broker: NoopBroker) -> App:
    asgi = _module("faststream.asgi")
    return cast(App, asgi.make_ping_asgi(broker))


CONTENDERS: tuple[Contender, ...] = (
    Contender("bare dict", _bare_http, _bare_lifespan, _bare_ping),
    Contender(
        "asgi_core",
        _asgi_core_http,
        _asgi_core_lifespan,
        _asgi_core_ping,
        unbounded_lifespan=_asgi_core_unbounded_lifespan,
    ),
    Contender("Starlette", _starlette_http, _starlette_lifespan, _starlette_ping),
    Contender("FastStream", _faststream_http, _faststream_lifespan, _faststream_ping),
)
"""Every contender, the floor's own dispatcher first."""
