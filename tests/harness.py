"""An in-memory ASGI communicator for tests, backend-neutral through anyio.

It runs an app in a task through the package's own runner (``asgi_core._app_task``), feeds its
``receive`` from a queue, and logs every message both ways (``("in", message)`` for what the app
received, ``("out", message)`` for what it sent), like asgiref's ``ApplicationCommunicator`` but
for asyncio and trio alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio

from asgi_core._app_task import FINISHED, AppTask
from asgi_core.types import ASGIApp, Message, Scope

__all__ = ["Communicator", "communicate", "http_scope", "lifespan_scope", "websocket_scope"]


def lifespan_scope(state: dict[str, Any] | None = None) -> dict[str, Any]:
    scope: dict[str, Any] = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
    if state is not None:
        scope["state"] = state
    return scope


def http_scope(path: str = "/", method: str = "GET", root_path: str = "") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": root_path,
        "headers": [],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


def websocket_scope(path: str = "/", root_path: str = "") -> dict[str, Any]:
    scope = http_scope(path, root_path=root_path)
    del scope["method"]
    scope.update(type="websocket", scheme="ws", subprotocols=[])
    return scope


class Communicator(AppTask):
    """One running app: ``put`` messages in, ``get`` what it sent, inspect ``log``.

    The package's own runner (``_app_task.AppTask``) plays the server; this adds the log, the
    ``done`` and ``waiting`` events and anyio deadlines for the tests.
    """

    def __init__(self, app: ASGIApp, scope: Scope) -> None:
        super().__init__(app, scope)
        self.log: list[tuple[str, Message]] = []
        self.done = anyio.Event()
        self.waiting = anyio.Event()  # set while the app awaits receive()

    async def receive(self) -> Message:
        self.waiting.set()
        message = await super().receive()
        self.log.append(("in", message))
        return message

    def check(self, message: Message) -> None:
        self.log.append(("out", message))  # everything is accepted, and logged

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            self.done.set()

    async def put(self, message: Message) -> None:
        """Give the app its next message; ``waiting`` is set again when it asks for another."""
        self.waiting = anyio.Event()
        self.inbox.put(message)

    async def get(self, timeout: float = 5.0) -> Message:
        """The next message the app sent; fails the test after ``timeout`` seconds."""
        with anyio.fail_after(timeout):
            message = await self.next_message("a message from the app")
            if message is FINISHED:  # the app ended: nothing more will come
                await anyio.sleep_forever()
            return message

    async def wait_done(self, timeout: float = 5.0) -> None:
        with anyio.fail_after(timeout):
            await self.done.wait()

    def close(self) -> None:
        """Nothing to release (kept for the tests that call it)."""

    def sent(self) -> list[Message]:
        return [message for direction, message in self.log if direction == "out"]

    def sent_types(self) -> list[str]:
        return [str(message["type"]) for message in self.sent()]


@asynccontextmanager
async def communicate(app: ASGIApp, scope: Scope) -> AsyncIterator[Communicator]:
    """Run ``app`` on ``scope`` for the block; the app is cancelled if still running at exit."""
    comm = Communicator(app, scope)
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(comm.run)
            yield comm
            group.cancel_scope.cancel()
    finally:
        comm.close()
