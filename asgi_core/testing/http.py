"""``Client``: HTTP requests to an app in-process, built and checked as a server would.

See the package docstring for the rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from asgi_core._concurrency import DeadlineExceeded, new_event, run_bounded
from asgi_core.testing.errors import AppProtocolError
from asgi_core.testing.lifespan import ASGI
from asgi_core.testing.websocket import WebSocketSession

if TYPE_CHECKING:
    from asgi_core.types import ASGIApp, Message, Scope

__all__ = ["Client", "HeaderInput", "Response"]

HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]] | None


class Response:
    """What the app sent: status, headers (names lower-case) and the whole body."""

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], body: bytes):
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.body = body

    @property
    def headers(self) -> dict[str, str]:
        """Header names (lower-case) to values; repeated headers are joined with ``", "``."""
        joined: dict[str, str] = {}
        for name, value in self.raw_headers:
            key, text = name.decode("latin-1").lower(), value.decode("latin-1")
            joined[key] = f"{joined[key]}, {text}" if key in joined else text
        return joined

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        import json

        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status_code} {self.body[:40]!r}>"


def _encode_headers(
    headers: HeaderInput, extra: Iterable[tuple[str, str]]
) -> list[tuple[bytes, bytes]]:
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
    given = {name.lower() for name, _ in pairs}
    pairs += [(name, value) for name, value in extra if name not in given]
    return [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in pairs]


class Client:
    """Sends HTTP requests and opens WebSocket sessions to ``app`` in-process."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        root_path: str = "",
        headers: HeaderInput = None,
        state: Mapping[str, Any] | None = None,
        timeout: float | None = 10.0,
        client: tuple[str, int] = ("127.0.0.1", 50000),
        server: tuple[str, int] = ("testserver", 80),
    ) -> None:
        self.app = app
        self.root_path = root_path
        self.headers = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        self.state = state
        self.timeout = timeout
        self.client = client
        self.server = server

    def _scope(
        self, kind: str, target: str, headers: HeaderInput, extra: list[tuple[str, str]]
    ) -> Scope:
        from urllib.parse import unquote

        raw_path, _, query = target.partition("?")
        host = (
            self.server[0] if self.server[1] in (80, 443) else f"{self.server[0]}:{self.server[1]}"
        )
        scope: Scope = {
            "type": kind,
            "asgi": dict(ASGI),
            "http_version": "1.1",
            "scheme": "http" if kind == "http" else "ws",
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": self.root_path,
            "headers": _encode_headers([*self.headers, *_pairs(headers)], [("host", host), *extra]),
            "client": self.client,
            "server": self.server,
        }
        if self.state is not None:
            scope["state"] = dict(self.state)  # servers give every request a shallow copy
        return scope

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: HeaderInput = None,
        body: bytes | Iterable[bytes] = b"",
        json: object = None,
    ) -> Response:
        """Send one request; ``target`` is the path with an optional ``?query``."""
        extra: list[tuple[str, str]] = []
        if json is not None:
            import json as json_module

            body = json_module.dumps(json).encode("utf-8")
            extra.append(("content-type", "application/json"))
        chunks = [body] if isinstance(body, bytes) else list(body)
        if isinstance(body, bytes) and (body or method.upper() in ("POST", "PUT", "PATCH")):
            extra.append(("content-length", str(len(body))))
        scope = self._scope("http", target, headers, extra)
        scope["method"] = method.upper()
        exchange = _HTTPExchange(chunks or [b""])
        try:
            await run_bounded(
                lambda: self.app(scope, exchange.receive, exchange.send), self.timeout
            )
        except DeadlineExceeded:
            raise TimeoutError(
                f"{method} {target}: the app did not finish within {self.timeout} s; it may be "
                "waiting in receive() before responding, or raise the client's timeout"
            ) from None
        return exchange.result(f"{method} {target}")

    async def get(self, target: str, *, headers: HeaderInput = None) -> Response:
        return await self.request("GET", target, headers=headers)

    async def head(self, target: str, *, headers: HeaderInput = None) -> Response:
        return await self.request("HEAD", target, headers=headers)

    async def post(
        self,
        target: str,
        *,
        headers: HeaderInput = None,
        body: bytes | Iterable[bytes] = b"",
        json: object = None,
    ) -> Response:
        return await self.request("POST", target, headers=headers, body=body, json=json)

    def websocket(
        self, target: str, *, headers: HeaderInput = None, subprotocols: Iterable[str] = ()
    ) -> WebSocketSession:
        """``async with client.websocket("/ws") as ws``: connect; raises ``WebSocketClosed``
        if the app closes instead of accepting."""
        subprotocols = list(subprotocols)
        extra = [("sec-websocket-protocol", ", ".join(subprotocols))] if subprotocols else []
        extra += [("connection", "upgrade"), ("upgrade", "websocket")]
        scope = self._scope("websocket", target, headers, extra)
        scope["subprotocols"] = subprotocols
        return WebSocketSession(self.app, scope, self.timeout)


def _pairs(headers: HeaderInput) -> list[tuple[str, str]]:
    return list(headers.items() if isinstance(headers, Mapping) else headers or ())


class _HTTPExchange:
    """The server's half of one HTTP request: body chunks in, response messages checked."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.complete = new_event()
        self.violation: AppProtocolError | None = None

    async def receive(self) -> Message:
        if self.chunks:
            chunk = self.chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}
        await self.complete.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "http.response.start" and self.status is None:
            self.status = int(message["status"])
            self.headers = [(bytes(n), bytes(v)) for n, v in message.get("headers", ())]
        elif (
            kind == "http.response.body" and self.status is not None and not self.complete.is_set()
        ):
            self.body.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self.complete.set()
        else:
            state = (
                "after the response was complete"
                if self.complete.is_set()
                else (
                    "before http.response.start"
                    if self.status is None
                    else "after http.response.start"
                )
            )
            self.violation = AppProtocolError(f"the app sent {kind!r} {state}")
            raise self.violation

    def result(self, request: str) -> Response:
        if self.violation is not None:
            raise self.violation
        if self.status is None or not self.complete.is_set():
            missing = (
                "http.response.start" if self.status is None else "the final http.response.body"
            )
            raise AppProtocolError(f"{request}: the app returned without sending {missing}")
        return Response(self.status, self.headers, b"".join(self.body))
