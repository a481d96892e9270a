"""Small HTTP handlers: ``@get`` / ``@post`` turn ``async def handler(request)`` into an ASGI app.

    @get
    async def hello(request: Request) -> AsgiResponse:
        return JSONResponse({"hello": request.query_params.get("name", "world")})

    app = AsgiFastStream(broker, asgi_routes=[("/hello", hello)])

Rules:

* The route serves its decorator's method; ``@get`` also serves HEAD, which gets the headers and
  no body. Any other method is answered 405 with an ``Allow`` header listing the served ones.
* The handler returns an ``AsgiResponse`` (``JSONResponse`` is one). If it raises, or returns
  something else, the client gets 500 "Internal Server Error"; the exception and its traceback
  are logged on the ``asgi_core.handlers`` logger and never sent to the client.
* The handler gets a ``Request`` (``requests.py``: headers, query parameters, the body and its
  limits). A body over ``max_body_size`` (1 MiB unless the decorator says otherwise) is answered
  413, a body that is not JSON 400 with a one-line reason, logged as nothing (the client's
  fault); if the client disconnects while the body is read, nothing is sent.
* A WebSocket connection is closed before it is accepted (clients see HTTP 403). A lifespan
  scope is answered ``*.complete`` at once by the lifespan table (``_lifespan.answer_lifespan``:
  there is nothing to start), so a handler can be an app of its own or mounted anywhere.
* ``Request`` and ``JSONResponse`` are importable from here too, as before they moved to
  ``requests.py`` and ``responses.py``.
* The app carries ``route_info`` (methods, ``include_in_schema``, ``description``, ``tags``): the
  AsyncAPI document lists the app's HTTP routes from it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, NamedTuple, overload

from asgi_core._lifespan import answer_lifespan
from asgi_core.exceptions import ScopeError
from asgi_core.requests import (
    DEFAULT_MAX_BODY_SIZE,
    BodyRefused,
    ClientDisconnected,
    Headers,
    QueryParams,
    Request,
)
from asgi_core.responses import AsgiResponse, JSONResponse, WebSocketClose
from asgi_core.types import Receive, Scope, Send

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "HandlerApp",
    "Headers",
    "JSONResponse",
    "QueryParams",
    "Request",
    "RouteInfo",
    "get",
    "post",
]

Handler = Callable[["Request"], Awaitable[AsgiResponse]]


class RouteInfo(NamedTuple):
    """What the AsyncAPI document says about an HTTP route."""

    methods: tuple[str, ...]
    include_in_schema: bool = True
    description: str | None = None
    tags: tuple[str | Mapping[str, Any], ...] = ()  # a tag name, or an AsyncAPI Tag object


_INTERNAL_ERROR = AsgiResponse(
    b"Internal Server Error", 500, {"content-type": "text/plain; charset=utf-8"}
)


_SEND = AsgiResponse.__call__


class HandlerApp:
    """The ASGI app made by ``@get`` / ``@post``; ``handler`` is the decorated function."""

    def __init__(
        self,
        handler: Handler | Callable[[], Awaitable[AsgiResponse]],
        methods: Sequence[str],
        *,
        include_in_schema: bool = True,
        description: str | None = None,
        tags: Sequence[str | Mapping[str, Any]] | None = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        takes_request: bool = True,
    ) -> None:
        """``takes_request=False``: ``handler`` is called with no argument and no ``Request`` is
        built (the health routes, which never read theirs)."""
        if not callable(handler):
            raise TypeError(f"a handler must be an async function, not {handler!r}")
        self.handler: Callable[..., Awaitable[AsgiResponse]] = handler
        self._takes_request = takes_request
        self.max_body_size = max_body_size
        served = [method.upper() for method in methods]
        if "GET" in served and "HEAD" not in served:
            served.append("HEAD")
        self.route_info = RouteInfo(
            tuple(served), include_in_schema, description, tuple(tags or ())
        )
        self._allow = {"allow": ", ".join(served), "content-type": "text/plain; charset=utf-8"}
        self.__name__ = getattr(handler, "__name__", type(self).__name__)
        self.__doc__ = getattr(handler, "__doc__", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if type(scope) is not dict and not isinstance(scope, Mapping):
            raise ScopeError(f"an ASGI scope must be a dict with a 'type' key, not {scope!r:.200}")
        kind = scope.get("type")
        if kind == "lifespan":
            await answer_lifespan(receive, send)
            return
        if kind == "websocket":
            await WebSocketClose(1000, "This route serves HTTP requests only.")(
                scope, receive, send
            )
            return
        if kind != "http":
            raise ScopeError(f"{self.__name__} serves 'http' scopes; got scope type {kind!r}")
        if scope.get("method") not in self.route_info.methods:
            await AsgiResponse(b"Method Not Allowed", 405, self._allow)(scope, receive, send)
            return
        request = (
            Request(scope, receive, max_body_size=self.max_body_size)
            if self._takes_request
            else None
        )
        try:  # one frame for the whole request: no helper coroutine
            if request is None:
                response = await self.handler()
            else:
                response = await self.handler(request)
            if not isinstance(response, AsgiResponse):
                raise TypeError(
                    f"handler {self.__name__} returned {response!r}; it must return an "
                    "AsgiResponse, e.g. JSONResponse(data) or AsgiResponse(b'...')"
                )
        except BodyRefused as reply:
            response = reply.response
        except ClientDisconnected:
            return
        except Exception as exc:
            import logging

            logging.getLogger("asgi_core.handlers").error(
                "handler %s failed on %s %s; the client got 500",
                self.__name__,
                scope.get("method"),
                scope.get("path"),  # may be missing: reporting must not raise
                exc_info=exc,
            )
            response = _INTERNAL_ERROR
        if type(response).__call__ is not _SEND:  # a subclass that sends its own way
            await response(scope, receive, send)
            return
        start, body = response.messages(scope)
        await send(start)
        await send(body)


def _decorator(
    methods: tuple[str, ...],
    handler: Handler | None,
    include_in_schema: bool,
    description: str | None,
    tags: Sequence[str | Mapping[str, Any]] | None,
    max_body_size: int,
) -> HandlerApp | Callable[[Handler], HandlerApp]:
    def wrap(func: Handler) -> HandlerApp:
        return HandlerApp(
            func,
            methods,
            include_in_schema=include_in_schema,
            description=description,
            tags=tags,
            max_body_size=max_body_size,
        )

    return wrap if handler is None else wrap(handler)


@overload
def get(handler: Handler, /) -> HandlerApp: ...
@overload
def get(
    handler: None = None,
    /,
    *,
    include_in_schema: bool = True,
    description: str | None = None,
    tags: Sequence[str | Mapping[str, Any]] | None = None,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
) -> Callable[[Handler], HandlerApp]: ...
def get(
    handler: Handler | None = None,
    /,
    *,
    include_in_schema: bool = True,
    description: str | None = None,
    tags: Sequence[str | Mapping[str, Any]] | None = None,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
) -> HandlerApp | Callable[[Handler], HandlerApp]:
    """Serve ``handler`` for GET (and HEAD); use bare or with options."""
    return _decorator(("GET",), handler, include_in_schema, description, tags, max_body_size)


@overload
def post(handler: Handler, /) -> HandlerApp: ...
@overload
def post(
    handler: None = None,
    /,
    *,
    include_in_schema: bool = True,
    description: str | None = None,
    tags: Sequence[str | Mapping[str, Any]] | None = None,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
) -> Callable[[Handler], HandlerApp]: ...
def post(
    handler: Handler | None = None,
    /,
    *,
    include_in_schema: bool = True,
    description: str | None = None,
    tags: Sequence[str | Mapping[str, Any]] | None = None,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
) -> HandlerApp | Callable[[Handler], HandlerApp]:
    """Serve ``handler`` for POST; use bare or with options."""
    return _decorator(("POST",), handler, include_in_schema, description, tags, max_body_size)
