"""``WebSocketSession``: one WebSocket connection to an app in-process (``client.websocket``)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from asgi_core._app_task import FINISHED, AppTask
from asgi_core.testing.errors import AppProtocolError, WebSocketClosed

if TYPE_CHECKING:
    from types import TracebackType

    from asgi_core.types import ASGIApp, Message, Scope

__all__ = ["WebSocketSession"]


class WebSocketSession:
    """One WebSocket connection to the app; use it as an async context manager."""

    def __init__(self, app: ASGIApp, scope: Scope, timeout: float | None) -> None:
        self._runner = AppTask(app, scope, timeout)
        self._stack = contextlib.AsyncExitStack()
        self.subprotocol: str | None = None
        self.accept_headers: list[tuple[bytes, bytes]] = []
        self.closed = False

    async def __aenter__(self) -> WebSocketSession:
        runner = self._runner
        try:
            await runner.start_in(self._stack)
            runner.inbox.put({"type": "websocket.connect"})
            first = await runner.next_message("websocket.accept or websocket.close")
            kind = first.get("type")
            if kind == "websocket.accept":
                self.subprotocol = first.get("subprotocol")
                self.accept_headers = [(bytes(n), bytes(v)) for n, v in first.get("headers", ())]
                return self
            if kind == "websocket.close":
                self.closed = True
                raise WebSocketClosed(int(first.get("code", 1000)), str(first.get("reason") or ""))
            self._raise_if_finished(first)
            raise runner.refuse(AppProtocolError(f"the app sent {kind!r} before websocket.accept"))
        except BaseException:
            await self._stack.aclose()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self.closed:
                await self.close()
            if exc is None:
                await self._wait_until_returned()
        finally:
            await self._stack.aclose()

    def _raise_if_finished(self, item: Message) -> None:
        if item is FINISHED:
            if self._runner.error is not None:
                raise self._runner.error
            raise AppProtocolError("the app returned without accepting or closing the WebSocket")

    async def _wait_until_returned(self) -> None:
        while True:
            item = await self._runner.next_message("the app to return after the close")
            if item is FINISHED:
                break
        if self._runner.error is not None:
            raise self._runner.error

    async def send_text(self, text: str) -> None:
        self._runner.inbox.put({"type": "websocket.receive", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        self._runner.inbox.put({"type": "websocket.receive", "bytes": data})

    async def receive(self) -> str | bytes:
        """The next ``websocket.send`` payload; raises ``WebSocketClosed`` if the app closed."""
        item = await self._runner.next_message("websocket.send")
        kind = item.get("type")
        if kind == "websocket.send":
            text = item.get("text")
            return text if text is not None else bytes(item.get("bytes") or b"")
        if kind == "websocket.close":
            self.closed = True
            raise WebSocketClosed(int(item.get("code", 1000)), str(item.get("reason") or ""))
        self._raise_if_finished(item)
        raise self._runner.refuse(AppProtocolError(f"the app sent {kind!r} on an open WebSocket"))

    async def receive_text(self) -> str:
        data = await self.receive()
        if not isinstance(data, str):
            raise AppProtocolError(f"expected a text frame, the app sent bytes {data[:40]!r}")
        return data

    async def receive_bytes(self) -> bytes:
        data = await self.receive()
        if not isinstance(data, bytes):
            raise AppProtocolError(f"expected a binary frame, the app sent text {data[:40]!r}")
        return data

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Tell the app the client went away (``websocket.disconnect``)."""
        if not self.closed:
            self.closed = True
            self._runner.inbox.put({"type": "websocket.disconnect", "code": code, "reason": reason})
