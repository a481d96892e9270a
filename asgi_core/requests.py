"""The request a handler gets: ``Request`` with its ``Headers``, ``QueryParams`` and body.

Rules:

* ``Request.body()`` and ``Request.json()`` read at most ``max_body_size`` bytes
  (``DEFAULT_MAX_BODY_SIZE``, 1 MiB, unless the decorator says otherwise): a bigger body, or a
  ``content-length`` announcing one, raises ``BodyRefused`` (413), which ``HandlerApp`` answers.
* A body that is not JSON (RFC 8259: malformed, not UTF-8, ``NaN``/``Infinity``, nested too
  deeply) raises ``BodyRefused`` (400) with a one-line reason: the client's fault, logged as
  nothing.
* ``Request.stream()`` yields the raw chunks with no limit. If the client disconnects while the
  body is read, ``ClientDisconnected`` is raised and ``HandlerApp`` sends nothing.
* ``scope["headers"]`` is checked when the request is built: anything but byte pairs is a
  ``ScopeError`` (the server built a malformed scope).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from asgi_core.exceptions import MessageError, ScopeError
from asgi_core.responses import AsgiResponse
from asgi_core.types import Receive, Scope

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "BodyRefused",
    "ClientDisconnected",
    "Headers",
    "QueryParams",
    "Request",
]

DEFAULT_MAX_BODY_SIZE = 1024 * 1024


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


class BodyRefused(Exception):
    """The body is too large or not JSON: the request is answered with ``response`` (4xx)."""

    def __init__(self, status_code: int, text: str) -> None:
        super().__init__(text)
        self.response = AsgiResponse(
            text.encode(), status_code, {"content-type": "text/plain; charset=utf-8"}
        )


class ClientDisconnected(Exception):
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
                raise ClientDisconnected
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
                raise BodyRefused(413, "Content Too Large")
            chunks: list[bytes] = []
            size = 0
            while (chunk := await self._next_chunk()) is not None:
                size += len(chunk)
                if size > self.max_body_size:
                    raise BodyRefused(413, "Content Too Large")
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
            raise BodyRefused(400, "Invalid JSON body: not UTF-8") from None
        except RecursionError:
            raise BodyRefused(400, "Invalid JSON body: nested too deeply") from None
        except ValueError as exc:  # json.JSONDecodeError, or a constant _refuse_constant refused
            raise BodyRefused(400, f"Invalid JSON body: {getattr(exc, 'msg', exc)}") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


@functools.cache
def _json_decoder() -> Any:
    import json

    return json.JSONDecoder(parse_constant=_refuse_constant)
