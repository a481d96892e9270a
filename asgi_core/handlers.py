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
* ``Request.body()`` and ``Request.json()`` read at most ``max_body_size`` bytes (1 MiB unless the
  decorator says otherwise): a bigger body, or a ``content-length`` announcing one, is answered
  413. A body that is not JSON (RFC 8259: malformed, not UTF-8, ``NaN``/``Infinity``, nested
  too deeply) is answered 400 with a one-line reason and logged as nothing: the client's fault.
  ``JSONResponse`` refuses the same values. ``Request.stream()`` yields the raw
  chunks with no limit. If the client disconnects while the body is read, nothing is sent.
* A WebSocket connection is closed before it is accepted (clients see HTTP 403). A lifespan
  scope is answered ``*.complete`` at once (there is nothing to start), so a handler can be an
  app of its own or mounted anywhere.
* The app carries ``route_info`` (methods, ``include_in_schema``, ``description``, ``tags``): the
  AsyncAPI document lists the app's HTTP routes from it.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, overload

from asgi_core._responses import AsgiResponse, WebSocketClose
from asgi_core.exceptions import MessageError, ScopeError
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

DEFAULT_MAX_BODY_SIZE = 1024 * 1024
Handler = Callable[["Request"], Awaitable[AsgiResponse]]


class RouteInfo(NamedTuple):
    """What the AsyncAPI document says about an HTTP route."""

    methods: tuple[str, ...]
    include_in_schema: bool = True
    description: str | None = None
    tags: tuple[str | Mapping[str, Any], ...] = ()  # a tag name, or an AsyncAPI Tag object


class _MultiMapping(Mapping[str, str]):
    """Name → first value, with ``getlist`` for every value; order as received."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._pairs = [(self._key(name), value) for name, value in pairs]
        self._first: dict[str, str] = {}
        for name, value in self._pairs:
            self._first.setdefault(name, value)

    @staticmethod
    def _key(name: str) -> str:
        return name

    def __getitem__(self, name: str) -> str:
        return self._first[self._key(name)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._first)

    def __len__(self) -> int:
        return len(self._first)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._key(name) in self._first

    def getlist(self, name: str) -> list[str]:
        """Every value given for ``name``, in order (``[]`` if there is none)."""
        key = self._key(name)
        return [value for each, value in self._pairs if each == key]

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._pairs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._pairs!r})"


class Headers(_MultiMapping):
    """Request headers: names are case-insensitive, values decoded as latin-1."""

    @staticmethod
    def _key(name: str) -> str:
        return name.lower()


class QueryParams(_MultiMapping):
    """The query string, percent-decoded; ``?a=1&a=2`` gives ``getlist("a") == ["1", "2"]``."""


class _Reply(Exception):
    """Stop handling the request and answer with this status (the client's fault)."""

    def __init__(self, status_code: int, text: str) -> None:
        super().__init__(text)
        self.response = AsgiResponse(
            text.encode(), status_code, {"content-type": "text/plain; charset=utf-8"}
        )


class _Disconnected(Exception):
    """The client went away while the body was read."""


_BYTES = (bytes, bytearray, memoryview)


def _header_pairs(raw: object) -> list[tuple[str, str]]:
    """``scope["headers"]`` decoded as latin-1, or ``ScopeError`` if it is not byte pairs."""
    pairs = []
    try:
        for name, value in raw:  # type: ignore[attr-defined]
            if not isinstance(name, _BYTES) or not isinstance(value, _BYTES):
                raise TypeError
            pairs.append((bytes(name).decode("latin-1"), bytes(value).decode("latin-1")))
    except (TypeError, ValueError):
        shown = repr(raw) if len(repr(raw)) <= 200 else repr(raw)[:200] + "..."
        raise ScopeError(
            f"scope['headers'] must be an iterable of [name, value] pairs of bytes, not {shown}; "
            "the server built a malformed scope"
        ) from None
    return pairs


class Request:
    """The request a handler gets: method, path, headers, query parameters and the body."""

    def __init__(
        self, scope: Scope, receive: Receive, *, max_body_size: int = DEFAULT_MAX_BODY_SIZE
    ) -> None:
        self.scope = scope
        self._receive = receive
        self.max_body_size = max_body_size
        self._body: bytes | None = None
        self._streamed = False
        self._query_params: QueryParams | None = None
        self.headers = Headers(_header_pairs(scope.get("headers", ())))

    @property
    def method(self) -> str:
        return str(self.scope["method"])

    @property
    def path(self) -> str:
        return str(self.scope["path"])

    @property
    def query_params(self) -> QueryParams:
        if self._query_params is None:
            from urllib.parse import parse_qsl

            raw = bytes(self.scope.get("query_string", b"")).decode("latin-1")
            self._query_params = QueryParams(parse_qsl(raw, keep_blank_values=True))
        return self._query_params

    async def _next_chunk(self) -> bytes | None:
        """The next non-empty body chunk, or None after the last one."""
        while not self._streamed:
            message = await self._receive()
            kind = message.get("type")
            if kind == "http.disconnect":
                raise _Disconnected
            body = message.get("body", b"")
            if kind != "http.request" or not isinstance(body, _BYTES):
                raise MessageError(
                    f"receive() returned a message of type {kind!r} whose body is a "
                    f"{type(body).__name__}; expected {{'type': 'http.request', 'body': b'...'}} "
                    "or {'type': 'http.disconnect'}"
                )
            if not message.get("more_body", False):
                self._streamed = True
            chunk = bytes(body)
            if chunk:
                return chunk
        return None

    async def stream(self) -> AsyncIterator[bytes]:
        """The body chunk by chunk, as it arrives (no size limit; read it only once)."""
        if self._body is not None:
            yield self._body
            return
        if self._streamed:
            raise RuntimeError("the request body was already read with stream(); read it once")
        while (chunk := await self._next_chunk()) is not None:
            yield chunk

    async def body(self) -> bytes:
        """The whole body; more than ``max_body_size`` bytes is answered 413."""
        if self._body is None:
            if self._streamed:
                raise RuntimeError("the request body was already read with stream(); read it once")
            declared = self.headers.get("content-length", "")
            # isascii: latin-1 "²" is a digit to isdigit() but not to int()
            if declared.isascii() and declared.isdigit() and int(declared) > self.max_body_size:
                raise _Reply(413, "Content Too Large")
            chunks: list[bytes] = []
            size = 0
            while (chunk := await self._next_chunk()) is not None:
                size += len(chunk)
                if size > self.max_body_size:
                    raise _Reply(413, "Content Too Large")
                chunks.append(chunk)
            self._body = b"".join(chunks)
        return self._body

    async def json(self) -> Any:
        """The body parsed as JSON (RFC 8259); anything else is answered 400 with the reason.

        Refused, as ``JSONResponse`` refuses to emit them: ``NaN``/``Infinity``/``-Infinity``,
        a body that is not UTF-8, nesting deeper than Python's recursion limit allows.
        """
        body = await self.body()
        try:
            return _json_decoder().decode(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise _Reply(400, "Invalid JSON body: not UTF-8") from None
        except RecursionError:
            raise _Reply(400, "Invalid JSON body: nested too deeply") from None
        except ValueError as exc:  # json.JSONDecodeError, or a constant _refuse_constant refused
            raise _Reply(400, f"Invalid JSON body: {getattr(exc, 'msg', exc)}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


@functools.cache
def _json_decoder() -> Any:
    import json

    return json.JSONDecoder(parse_constant=_refuse_constant)


class JSONResponse(AsgiResponse):
    """``data`` as compact UTF-8 JSON with ``content-type: application/json``."""

    __slots__ = ()

    def __init__(
        self,
        data: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    ) -> None:
        import json

        body = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        if not any(name.lower() == "content-type" for name, _ in pairs):
            pairs.append(("content-type", "application/json"))
        super().__init__(body.encode("utf-8"), status_code, pairs)


_INTERNAL_ERROR = AsgiResponse(
    b"Internal Server Error", 500, {"content-type": "text/plain; charset=utf-8"}
)


async def serve_lifespan(receive: Receive, send: Send) -> None:
    """Answer a lifespan scope for an app that has nothing to start or stop."""
    while True:
        message = await receive()
        if not isinstance(message, Mapping):
            raise MessageError(
                f"receive() returned {message!r:.200} on a lifespan scope; expected a dict "
                "such as {'type': 'lifespan.startup'}"
            )
        kind = message.get("type")
        if kind == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
        else:
            raise MessageError(
                f"received {kind!r} on a lifespan scope; expected a message of type "
                "'lifespan.startup' or 'lifespan.shutdown'"
            )


class HandlerApp:
    """The ASGI app made by ``@get`` / ``@post``; ``handler`` is the decorated function."""

    def __init__(
        self,
        handler: Handler,
        methods: Sequence[str],
        *,
        include_in_schema: bool = True,
        description: str | None = None,
        tags: Sequence[str | Mapping[str, Any]] | None = None,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    ) -> None:
        if not callable(handler):
            raise TypeError(f"a handler must be an async function, not {handler!r}")
        self.handler = handler
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
            await serve_lifespan(receive, send)
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
        response = await self._respond(Request(scope, receive, max_body_size=self.max_body_size))
        if response is not None:
            await response(scope, receive, send)

    async def _respond(self, request: Request) -> AsgiResponse | None:
        try:
            response = await self.handler(request)
            if not isinstance(response, AsgiResponse):
                raise TypeError(
                    f"handler {self.__name__} returned {response!r}; it must return an "
                    "AsgiResponse, e.g. JSONResponse(data) or AsgiResponse(b'...')"
                )
            return response
        except _Reply as reply:
            return reply.response
        except _Disconnected:
            return None
        except Exception as exc:
            import logging

            logging.getLogger("asgi_core.handlers").error(
                "handler %s failed on %s %s; the client got 500",
                self.__name__,
                request.scope.get("method"),
                request.scope.get("path"),  # may be missing: reporting must not raise
                exc_info=exc,
            )
            return _INTERNAL_ERROR


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
