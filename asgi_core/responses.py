"""Responses: raw ASGI sends (``http.response.start`` + ``.body``, ``websocket.close``).

``AsgiResponse``, ``JSONResponse`` and ``WebSocketClose`` are ASGI apps of their own: ``await
response(scope, receive, send)`` sends them.

Rules:

* Header names are lower-cased; names and values are encoded as latin-1. A name or value holding
  CR, LF or NUL is refused with ``ValueError`` when the response is built (no header injection),
  and so is a name that is not an HTTP token (``x-a: b`` would smuggle a header in through a
  server that writes names as given) and a value with any other control character but tab.
* ``content-length`` is added when absent, except for 1xx and 204 responses, which have no body.
* HEAD, 1xx, 204 and 304 responses send an empty body (a HEAD response keeps the length of the body
  it would have had).
* ``JSONResponse`` writes compact UTF-8 JSON and refuses ``NaN``/``Infinity`` (RFC 8259), as
  ``Request.json()`` refuses to read them.
* Every send builds fresh message dicts and a fresh header list: middleware is allowed to mutate
  what it is handed, and that must not leak into the next request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

TYPE_CHECKING = False  # typing is not loaded by import asgi_core
if TYPE_CHECKING:
    from typing import Any

    from asgi_core.types import Receive, Scope, Send

__all__ = ["AsgiResponse", "JSONResponse", "WebSocketClose", "encode_headers"]

_FORBIDDEN = ("\r", "\n", "\0")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 §5.1: a field name is a token
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # RFC 9110 §5.5: no CTL but HTAB in a value
_MAX_CLOSE_REASON_BYTES = 123  # a close frame's payload is 125 bytes, 2 of them the code
# RFC 6455 §7.4 and the IANA registry: 1004-1006 and 1015 must never be sent in a close frame.
# (ranges, not a set of ~2000 ints: that set alone was ~200 KiB of `import asgi_core`)
_SENDABLE_CLOSE_CODES = (range(1000, 1004), range(1007, 1015), range(3000, 5000))


def _checked(kind: str, text: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"header {kind} must be str, not {type(text).__name__}: {text!r}")
    if any(char in text for char in _FORBIDDEN):
        raise ValueError(
            f"header {kind} {text!r} contains CR, LF or NUL; these would split the response "
            "(header injection). Remove them or encode the value."
        )
    if kind == "name" and not _TOKEN.fullmatch(text):
        raise ValueError(
            f"header name {text!r} is not an HTTP token; use letters, digits and "
            "!#$%&'*+-.^_`|~ only (no spaces, no ':')"
        )
    if kind == "value" and (control := _CONTROL.search(text)):
        raise ValueError(
            f"header value {text!r} contains the control character {control.group()!r}; "
            "only tab and visible characters may appear in a header value"
        )
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(
            f"header {kind} {text!r} is not latin-1; percent-encode or RFC 8187-encode it"
        ) from None


def encode_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
) -> list[tuple[bytes, bytes]]:
    """Check and encode headers for ``http.response.start``: lower-case names, latin-1 bytes."""
    if headers is None:
        return []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return [(_checked("name", name).lower(), _checked("value", value)) for name, value in pairs]


def _has_no_body(status: int) -> bool:
    return status < 200 or status in (204, 304)


class AsgiResponse:
    """A complete HTTP response with a fixed body, sent as two raw ASGI messages."""

    __slots__ = ("_raw_headers", "body", "status_code")

    def __init__(
        self,
        body: bytes = b"",
        status_code: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    ) -> None:
        if not isinstance(body, bytes):
            raise TypeError(
                f"body must be bytes, not {type(body).__name__}; encode text first, "
                "e.g. body=text.encode()"
            )
        if isinstance(status_code, bool) or not isinstance(status_code, int):
            raise TypeError(f"status_code must be an int, not {status_code!r}")
        if not 100 <= status_code <= 599:
            raise ValueError(f"status_code must be between 100 and 599, not {status_code}")
        self.body = b"" if _has_no_body(status_code) else body
        self.status_code = status_code
        raw = encode_headers(headers)
        if not status_code < 200 and status_code != 204:
            if not any(name == b"content-length" for name, _ in raw):
                raw.append((b"content-length", str(len(self.body)).encode("latin-1")))
        self._raw_headers = tuple(raw)

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The encoded headers sent with ``http.response.start`` (a fresh list each time)."""
        return list(self._raw_headers)

    def messages(self, scope: Scope) -> tuple[dict[str, Any], dict[str, Any]]:
        """The two messages to send for ``scope``, built fresh (``__call__`` sends them)."""
        return (
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": list(self._raw_headers),
            },
            {
                "type": "http.response.body",
                "body": b"" if scope.get("method") == "HEAD" else self.body,
                "more_body": False,
            },
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start, body = self.messages(scope)
        await send(start)
        await send(body)


class WebSocketClose:
    """Sends one ``websocket.close``: before ``websocket.accept`` the client sees HTTP 403."""

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str = "") -> None:
        if isinstance(code, bool) or not isinstance(code, int):
            raise TypeError(f"code must be an int, not {code!r}")
        if not any(code in codes for codes in _SENDABLE_CLOSE_CODES):
            raise ValueError(
                f"close code {code} cannot be sent in a close frame; use 1000-1003, "
                "1007-1014 or an application code 3000-4999"
            )
        if not isinstance(reason, str):
            raise TypeError(f"reason must be str, not {type(reason).__name__}: {reason!r}")
        if len(reason.encode("utf-8")) > _MAX_CLOSE_REASON_BYTES:
            raise ValueError(
                f"close reason is {len(reason.encode('utf-8'))} bytes of UTF-8; a close frame "
                f"holds at most {_MAX_CLOSE_REASON_BYTES}"
            )
        self.code = code
        self.reason = reason

    def message(self) -> dict[str, Any]:
        """The ``websocket.close`` message, built fresh (``__call__`` sends it)."""
        return {"type": "websocket.close", "code": self.code, "reason": self.reason}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(self.message())


class JSONResponse(AsgiResponse):
    """``data`` as compact UTF-8 JSON with ``content-type: application/json``."""

    __slots__ = ()

    def __init__(
        self,
        data: Any,
        status_code: int = 200,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    ) -> None:
        import json  # not at the top: ``import asgi_core`` loads this module and stays small

        body = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        if not any(name.lower() == "content-type" for name, _ in pairs):
            pairs.append(("content-type", "application/json"))
        super().__init__(body.encode("utf-8"), status_code, pairs)
