"""ASGI building blocks shared by every contender: scopes, stubs, prebuilt responses, a broker.

Everything here is written once and handed to every contender, so that the only thing that
differs between them is the dispatch and lifespan code under test.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

__all__ = [
    "HIT_BODY",
    "MISS_PATH",
    "NOT_FOUND_BODY",
    "App",
    "Message",
    "NoopBroker",
    "Prebuilt",
    "Receive",
    "Scope",
    "Send",
    "discard",
    "http_receive",
    "http_scope",
    "lifespan_receive",
    "lifespan_scope",
    "route_paths",
    "websocket_receive",
    "websocket_scope",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

HIT_BODY = b"ok"
NOT_FOUND_BODY = b"Not Found"
MISS_PATH = "/missing/page"

_HTTP_REQUEST: Message = {"type": "http.request", "body": b"", "more_body": False}
_WEBSOCKET_CONNECT: Message = {"type": "websocket.connect"}


def route_paths(count: int) -> list[str]:
    """The mounted paths of a ``count``-route table; the hit path is the last one registered."""
    return [f"/service{index}/status" for index in range(count)]


def http_scope(path: str) -> Scope:
    """A complete HTTP scope as uvicorn builds it for ``GET path``."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": "GET",
        "root_path": "",
        "path": path,
        "raw_path": path.encode("ascii"),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"user-agent", b"bench")],
        "state": {},
    }


def websocket_scope(path: str) -> Scope:
    """A complete WebSocket scope for ``path``."""
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "ws",
        "root_path": "",
        "path": path,
        "raw_path": path.encode("ascii"),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"upgrade", b"websocket")],
        "subprotocols": [],
        "state": {},
    }


def lifespan_scope() -> Scope:
    """A fresh lifespan scope (with its own ``state`` namespace)."""
    return {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}


async def http_receive() -> Message:
    """``receive`` for a GET request with an empty body."""
    return _HTTP_REQUEST


async def websocket_receive() -> Message:
    """``receive`` for a WebSocket handshake."""
    return _WEBSOCKET_CONNECT


def lifespan_receive() -> Receive:
    """A ``receive`` that yields ``lifespan.startup`` then ``lifespan.shutdown``, once each."""
    messages: Iterator[Message] = iter(
        ({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    )

    async def receive() -> Message:
        return next(messages)

    return receive


async def discard(message: Message) -> None:
    """``send`` that drops every message: the cheapest server imaginable."""


class Prebuilt:
    """A raw ASGI response whose two messages are built once: the cheapest possible endpoint.

    It is a class instance rather than a function so that Starlette's ``Route`` treats it as an
    ASGI app, exactly as every other contender does.
    """

    def __init__(self, status: int, body: bytes) -> None:
        length = str(len(body)).encode("ascii")
        self.start: Message = {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", length)],
        }
        self.body: Message = {"type": "http.response.body", "body": body}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(self.start)
        await send(self.body)


class NoopBroker:
    """A broker that connects to nothing, shaped for both asgi_core and FastStream.

    asgi_core's ``Broker`` protocol needs ``start``/``close``/``ping``; FastStream also calls
    ``stop`` and ``_update_fd_config``.
    """

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def stop(self, *args: object, **kwargs: object) -> None:
        return None

    async def connect(self) -> None:
        return None

    async def ping(self, timeout: float | None = None) -> bool:
        return True

    def _update_fd_config(self, config: object) -> None:
        return None
