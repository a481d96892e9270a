"""``AsgiFastStream``: the application as an ASGI callable.

``lifespan`` scopes go to the lifespan driver (``_lifespan.py``); ``http`` and ``websocket``
scopes go to the mounted app that ``Routes.resolve`` picks, with the child scope it builds
(every routing rule is in ``_routing.py``), or to ``not_found``; any other scope type is a
``ScopeError``, and so is a scope that is not a mapping (a mapping that is not a dict is copied
into one). A request for a ``root_path`` and ``path`` seen before reads the answer ``resolve``
kept (``Routes.hits``) and copies the scope with ``dict.copy``: the same rules, in one frame.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence

from asgi_core._lifespan import run_lifespan
from asgi_core._routing import Routes
from asgi_core.application import (
    DEFAULT_LOGGER,
    DEFAULT_SHUTDOWN_TIMEOUT,
    DEFAULT_STARTUP_TIMEOUT,
    Application,
    Lifespan,
    default_logger,
)
from asgi_core.exceptions import scope_error
from asgi_core.responses import AsgiResponse, WebSocketClose

TYPE_CHECKING = False  # typing is not loaded by import asgi_core
if TYPE_CHECKING:
    from typing import Any

    from asgi_core._contexts import Mounted
    from asgi_core._hooks import Hook
    from asgi_core.application import LoggerLike
    from asgi_core.types import ASGIApp, Broker, Receive, Scope, Send

__all__ = ["NOT_FOUND_MESSAGE", "AsgiFastStream"]

NOT_FOUND_MESSAGE = "App doesn't support regular HTTP protocol."
_HTTP_NOT_FOUND = AsgiResponse(
    NOT_FOUND_MESSAGE.encode(), 404, {"content-type": "text/plain; charset=utf-8"}
)
_WEBSOCKET_NOT_FOUND = WebSocketClose(1000, NOT_FOUND_MESSAGE)
# checked and encoded by AsgiResponse; sent in a fresh list each time
_NOT_FOUND_TYPE, _NOT_FOUND_LENGTH = _HTTP_NOT_FOUND.raw_headers
_NOT_FOUND_BODY = _HTTP_NOT_FOUND.body
# the not-found answer by scope type: the one place it is chosen (not_found and __call__ read it)
_NOT_FOUND: dict[str, ASGIApp] = {"http": _HTTP_NOT_FOUND, "websocket": _WEBSOCKET_NOT_FOUND}


if TYPE_CHECKING:

    def _copy(scope: Scope) -> dict[str, Any]: ...

else:  # a TypeError for anything but a dict (a dict subclass gives a plain dict)
    _copy = dict.copy


def _checked(scope: object) -> dict[str, Any]:
    """The scope as a dict with a ``'type'``: a ``Mapping`` that is not a dict is copied into one;
    anything else is a ``ScopeError`` (indexable is not enough: the rest reads it as a dict)."""
    if isinstance(scope, Mapping):
        scope = dict(scope)
        if "type" in scope:
            return scope
    raise scope_error(scope, "an ASGI scope must be a dict with a 'type' key")


class AsgiFastStream(Application):
    """An ``Application`` served over ASGI, with other ASGI apps mounted beside it."""

    _routes: Routes

    def __init__(
        self,
        broker: Broker | None = None,
        /,
        asgi_routes: Iterable[tuple[str, ASGIApp]] = (),
        asyncapi_path: str | None = None,
        logger: LoggerLike | None = DEFAULT_LOGGER,
        lifespan: Lifespan | None = None,
        title: str = "FastStream",
        version: str = "0.1.0",
        description: str = "",
        terms_of_service: str | None = None,
        license: Mapping[str, Any] | None = None,
        contact: Mapping[str, Any] | None = None,
        tags: Sequence[Mapping[str, Any]] | None = None,
        external_docs: Mapping[str, Any] | None = None,
        identifier: str | None = None,
        on_startup: Sequence[Hook] = (),
        after_startup: Sequence[Hook] = (),
        on_shutdown: Sequence[Hook] = (),
        after_shutdown: Sequence[Hook] = (),
        *,
        startup_timeout: float | None = DEFAULT_STARTUP_TIMEOUT,
        shutdown_timeout: float | None = DEFAULT_SHUTDOWN_TIMEOUT,
    ) -> None:
        from asgi_core._brokers import looks_like_a_broker, several_brokers_error  # see Application

        if looks_like_a_broker(asgi_routes):  # AsgiFastStream(b1, b2), FastStream 0.7's form
            raise several_brokers_error(type(self).__name__, "asgi_routes", asgi_routes)
        super().__init__(
            broker,
            logger=logger,
            lifespan=lifespan,
            title=title,
            version=version,
            description=description,
            terms_of_service=terms_of_service,
            license=license,
            contact=contact,
            tags=tags,
            external_docs=external_docs,
            identifier=identifier,
            on_startup=on_startup,
            after_startup=after_startup,
            on_shutdown=on_shutdown,
            after_shutdown=after_shutdown,
            startup_timeout=startup_timeout,
            shutdown_timeout=shutdown_timeout,
        )
        self._routes = Routes(asgi_routes)
        self._hits = self._routes.hits  # per request: one attribute, not two (it stays the same)
        # A subclass that overrides not_found gets it called; otherwise misses skip the frame.
        self._custom_not_found = type(self).not_found is not AsgiFastStream.not_found
        self._custom_lifespan = type(self).lifespan is not AsgiFastStream.lifespan
        self.asyncapi_path = asyncapi_path
        if asyncapi_path:
            # loaded only when asked for, to keep import asgi_core light; built on first request
            from asgi_core.asyncapi import mount_asyncapi

            mount_asyncapi(self, asyncapi_path)

    @property
    def routes(self) -> Routes:
        """The mounted ``(path, asgi_app)`` pairs; a list, checked on every change."""
        return self._routes

    @routes.setter
    def routes(self, routes: Iterable[tuple[str, ASGIApp]]) -> None:
        self._routes = Routes(routes)
        self._hits = self._routes.hits

    def mount(self, path: str, route: ASGIApp) -> None:
        """Serve ``route`` at ``path`` and below it (``/api`` serves ``/api/x``, not ``/apix``)."""
        self._routes.append((path, route))

    @classmethod
    def from_app(
        cls,
        app: Application | Any,
        asgi_routes: Iterable[tuple[str, ASGIApp]] = (),
        asyncapi_path: str | None = None,
    ) -> AsgiFastStream:
        """An ASGI application with ``app``'s brokers, logger, metadata, lifespan and hooks.

        ``app`` is an asgi_core ``Application`` or a FastStream app (``faststream.FastStream``
        0.5.31+ or 0.7, or FastStream's ``AsgiFastStream``; its HTTP routes are not copied:
        pass them in ``asgi_routes``). A FastStream app's hooks and lifespan keep FastStream's
        dependency injection and get the run options (``asgi_core_extras.faststream._app``).
        The hook lists and the context are copies: what is registered later on one of the two
        applications does not reach the other.
        """
        if not isinstance(app, Application):
            return cls._from_faststream(app, asgi_routes, asyncapi_path)
        first, *others = app.brokers or (None,)
        asgi_app = cls(
            first, asgi_routes=asgi_routes, asyncapi_path=asyncapi_path, **app._init_kwargs()
        )
        for broker in others:
            asgi_app.add_broker(broker)
        asgi_app.context.update((k, v) for k, v in app.context.items() if k != "app")
        return asgi_app

    @classmethod
    def _from_faststream(
        cls, app: Any, asgi_routes: Iterable[tuple[str, ASGIApp]], asyncapi_path: str | None
    ) -> AsgiFastStream:
        # loaded only for a FastStream app, which imported faststream already
        from asgi_core._importer import import_extra

        extra = import_extra(
            "asgi_core_extras.faststream._app",
            feature="AsgiFastStream.from_app(FastStream app)",
            packages=("asgi_core_extras", "faststream"),
            extra="faststream",
        )
        if not extra.is_faststream_app(app):
            raise TypeError(
                f"from_app needs an asgi_core Application or a FastStream app "
                f"(faststream.FastStream), not {app!r}"
            )
        first = extra.settings_from_faststream(app)  # metadata, brokers, logger
        kwargs = first.application_kwargs()
        for key in (*extra.STAGES, "lifespan"):  # added below, read with our context
            del kwargs[key]
        asgi_app = cls(first.broker, asgi_routes, asyncapi_path, **kwargs)
        for broker in first.brokers[1:]:
            asgi_app.add_broker(broker)
        # on FastStream 0.5 its hooks then see this app as Context("app"), as under its as_asgi
        settings = extra.settings_from_faststream(app, app_context=asgi_app._faststream_context())
        for stage in extra.STAGES:
            for hook in getattr(settings, stage):
                asgi_app.hooks.add(stage, hook)
        asgi_app.lifespan_context = settings.lifespan
        theirs = [path for path, _ in getattr(app, "routes", None) or ()]
        if theirs:  # FastStream's own AsgiFastStream: its routes stay with it, and we say so
            default_logger().warning(
                "from_app(%r): its HTTP routes %s are not copied; pass the ones to keep in "
                "asgi_routes (and asyncapi_path for the docs)",
                app,
                ", ".join(map(repr, theirs)),
            )
        return asgi_app

    # -- ASGI -----------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The per-request path, written out in one frame (benchmarks: "route hit", "404 miss",
        # "WebSocket refusal"): the routing rules are in _routing.py; this reads the answer
        # Routes.resolve worked out for the same root_path and path before (Routes.hits).
        # The scope's type is checked where it is relied on: a hit copies it with dict.copy,
        # which takes nothing but a dict; every other path goes through _checked first.
        try:
            kind = scope["type"]
        except Exception:  # not a mapping, or no 'type': refused there (ScopeError)
            scope = _checked(scope)
            kind = scope["type"]
        if kind == "http" or kind == "websocket":
            try:  # a key found was a str checked by resolve; anything else misses to resolve
                hit = self._hits[scope["root_path"]][scope["path"]]
            except (KeyError, TypeError):
                if type(scope) is not dict:
                    scope = _checked(scope)
                resolved = self._routes.resolve(scope)  # checks path and root_path, keeps it
                if resolved is not None:
                    await resolved[0](resolved[1], receive, send)
                    return
            else:
                if hit is not None:  # the child scope is a copy: the caller's is never changed
                    app, root_path = hit
                    try:
                        child = _copy(scope)
                    except TypeError:  # not a dict: a Mapping is copied into one, or refused
                        child = _checked(scope)
                    child["root_path"] = root_path
                    await app(child, receive, send)
                    return
                if type(scope) is not dict:
                    scope = _checked(scope)
            if self._custom_not_found:
                await self.not_found(scope, receive, send)
            # else the prebuilt answer's fresh messages (and a fresh header list) sent from
            # here, no call frame of their own
            elif kind == "http":  # _HTTP_NOT_FOUND.messages(scope), written out
                try:
                    head = scope["method"] == "HEAD"
                except KeyError:  # required by the spec; without it, answer as for GET
                    head = False
                await send(
                    {
                        "type": "http.response.start",
                        "status": 404,
                        "headers": [_NOT_FOUND_TYPE, _NOT_FOUND_LENGTH],
                    }
                )
                # more_body left out: False is its default (ASGI spec)
                await send({"type": "http.response.body", "body": b"" if head else _NOT_FOUND_BODY})
            else:  # _WEBSOCKET_NOT_FOUND.message()
                await send({"type": "websocket.close", "code": 1000, "reason": NOT_FOUND_MESSAGE})
        elif kind == "lifespan":
            if type(scope) is not dict:
                scope = _checked(scope)
            if self._custom_lifespan:
                await self.lifespan(scope, receive, send)
            else:  # lifespan() written out: one frame less per cycle ("lifespan" benchmarks)
                self.served_by_lifespan = True
                lifecycle = self._new_lifecycle({})
                await run_lifespan(lifecycle, scope, receive, send, self.logger)
        else:
            if type(scope) is not dict:
                scope = _checked(scope)  # not a mapping: that is the error to report
            raise scope_error(
                scope,
                f"unsupported scope type {kind!r}; AsgiFastStream serves 'http', 'websocket' "
                "and 'lifespan'",
            )

    async def lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI lifespan scope: start on ``lifespan.startup``, stop on shutdown.

        ``lifespan.startup.complete`` goes out after the last startup step returned; a failure
        sends ``lifespan.startup.failed`` (or ``.shutdown.failed``) naming the failing step, then
        re-raises the original exception. See ``_lifespan.py``.
        """
        self.served_by_lifespan = True  # exit() now asks the serving process to stop
        lifecycle = self._new_lifecycle({})
        await run_lifespan(lifecycle, scope, receive, send, self.logger)

    def _mounted_lifespans(self) -> Mounted:
        """Run the mounted apps' own lifespans beside ours (see ``_sub_lifespans.py``)."""
        routes = list(self._routes)

        @contextlib.asynccontextmanager
        async def mounted(state: dict[str, Any]) -> AsyncIterator[None]:
            # loaded only when apps are mounted, to keep import asgi_core light
            from asgi_core._sub_lifespans import SubLifespans

            async with SubLifespans(
                routes,
                self.logger,
                startup_timeout=self.startup_timeout,
                shutdown_timeout=self.shutdown_timeout,
                state=state,
            ) as subs:
                await subs.startup()
                yield
                await subs.shutdown()

        return mounted

    async def not_found(self, scope: Scope, receive: Receive, send: Send) -> None:
        """HTTP: 404 with a short text body. WebSocket: ``websocket.close`` (1000) before accept."""
        await _NOT_FOUND.get(scope["type"], _HTTP_NOT_FOUND)(scope, receive, send)

    @contextlib.asynccontextmanager
    async def start_lifespan_context(self, **run_extra_options: object) -> AsyncIterator[None]:
        """Start (everything, awaited), yield, then stop: for running without a server."""
        await self.start(**run_extra_options)
        try:
            yield
        finally:
            await self.stop()

    async def run(
        self,
        log_level: int = 20,
        run_extra_options: Mapping[str, object] | None = None,
        sleep_time: float = 0.1,
    ) -> None:
        """Serve this app over HTTP until SIGINT, SIGTERM or ``exit()`` (on asyncio).

        One worker runs uvicorn in this process; several run gunicorn with the uvicorn worker,
        unless ``server`` (``"uvicorn"`` or ``"gunicorn"``) says otherwise. Server options in
        ``run_extra_options``: ``host``, ``port``, ``bind``, ``workers``, ``fd``, ``uds``,
        ``root_path``, ``proxy_headers``, ``forwarded_allow_ips``, ``timeout_graceful_shutdown``,
        ``server``. Every other option reaches the ``on_startup`` hooks and the lifespan that
        accept it, in every worker, with ``worker_id``; one nobody accepts is a ``ConfigError``.
        A missing server raises ``MissingExtraError`` with the ``pip install`` command.
        ``log_level`` defaults to ``logging.INFO``; ``sleep_time`` is unused (FastStream's).
        """
        # on first use, not at import: the serving side is not part of import asgi_core
        from asgi_core._serving import serve_app

        await serve_app(self, run_extra_options, log_level=log_level)
