"""ASGI types, spelled with nothing but ``typing``.

Two layers:

* The callable aliases (``Scope``, ``Message``, ``Receive``, ``Send``, ``ASGIApp``) use
  ``MutableMapping[str, Any]``, the shape Starlette, FastAPI and FastStream use. A mounted app typed
  against any of them is accepted by ``mount`` and our app is accepted by theirs. Types check
  nothing at runtime anyway: the scope and every received message are checked where they enter
  (``asgi.py``, ``_lifespan.py``).
* The ``TypedDict`` per scope and per message documents the spec key by key, with
  ``type: Literal[...]`` so unions narrow on ``message["type"]``. Required keys live in a base
  class, optional ones in a ``total=False`` subclass (3.10 has no ``NotRequired``).
  ``message`` in ``lifespan.*.failed`` is optional with default ``""``. They are for users who
  annotate their own apps and tests; the package's code builds messages as plain ``Message``
  dicts, since a ``TypedDict`` is not a ``MutableMapping`` to a type checker and every ``send``
  would need a cast.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Literal, Protocol, TypedDict

__all__ = [
    "ASGIApp",
    "ASGIVersions",
    "Broker",
    "HTTPResponseBodyEvent",
    "HTTPResponseStartEvent",
    "HTTPScope",
    "LifespanScope",
    "LifespanShutdownCompleteEvent",
    "LifespanShutdownEvent",
    "LifespanShutdownFailedEvent",
    "LifespanStartupCompleteEvent",
    "LifespanStartupEvent",
    "LifespanStartupFailedEvent",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "WebSocketCloseEvent",
    "WebSocketScope",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ASGIVersions(TypedDict, total=False):
    version: str
    spec_version: str


# -- scopes ---------------------------------------------------------------------------------------


class _LifespanScopeRequired(TypedDict):
    type: Literal["lifespan"]


class LifespanScope(_LifespanScopeRequired, total=False):
    asgi: ASGIVersions
    state: dict[str, Any]  # the spec's "any": each server copies it into later request scopes


class _ConnectionScopeRequired(TypedDict):
    path: str


class _ConnectionScopeOptional(_ConnectionScopeRequired, total=False):
    asgi: ASGIVersions
    http_version: str
    scheme: str
    raw_path: bytes | None
    query_string: bytes
    root_path: str
    headers: Iterable[tuple[bytes, bytes]]
    client: tuple[str, int] | None
    server: tuple[str, int | None] | None
    state: dict[str, Any]
    extensions: dict[str, dict[object, object]]


class HTTPScope(_ConnectionScopeOptional):
    type: Literal["http"]
    method: str


class WebSocketScope(_ConnectionScopeOptional, total=False):
    type: Literal["websocket"]
    subprotocols: Iterable[str]


# -- lifespan messages ----------------------------------------------------------------------------


class LifespanStartupEvent(TypedDict):
    type: Literal["lifespan.startup"]


class LifespanShutdownEvent(TypedDict):
    type: Literal["lifespan.shutdown"]


class LifespanStartupCompleteEvent(TypedDict):
    type: Literal["lifespan.startup.complete"]


class LifespanShutdownCompleteEvent(TypedDict):
    type: Literal["lifespan.shutdown.complete"]


class _LifespanStartupFailedRequired(TypedDict):
    type: Literal["lifespan.startup.failed"]


class LifespanStartupFailedEvent(_LifespanStartupFailedRequired, total=False):
    message: str


class _LifespanShutdownFailedRequired(TypedDict):
    type: Literal["lifespan.shutdown.failed"]


class LifespanShutdownFailedEvent(_LifespanShutdownFailedRequired, total=False):
    message: str


# -- messages we send on http and websocket scopes ------------------------------------------------


class _HTTPResponseStartRequired(TypedDict):
    type: Literal["http.response.start"]
    status: int


class HTTPResponseStartEvent(_HTTPResponseStartRequired, total=False):
    headers: Iterable[tuple[bytes, bytes]]
    trailers: bool


class _HTTPResponseBodyRequired(TypedDict):
    type: Literal["http.response.body"]


class HTTPResponseBodyEvent(_HTTPResponseBodyRequired, total=False):
    body: bytes
    more_body: bool


class _WebSocketCloseRequired(TypedDict):
    type: Literal["websocket.close"]


class WebSocketCloseEvent(_WebSocketCloseRequired, total=False):
    code: int
    reason: str


# -- the broker -----------------------------------------------------------------------------------


class Broker(Protocol):
    """What the application needs of a broker: ``async start()``.

    It must also have ``async close()`` or ``async stop()`` (newer FastStream brokers), checked when
    the broker is set; ``async ping(timeout)`` is optional and used by the health route.
    """

    async def start(self) -> Any: ...
