"""A demo service: a broker consumer that also answers HTTP and WebSocket, served over ASGI.

The broker here is a tiny in-process stand-in so the demo needs nothing but asgi_core and a
server; swap in a FastStream broker (``RedisBroker(...)``, ``KafkaBroker(...)``) unchanged.

    asgi-core run examples.demo:app --port 8000 --greeting hello
    curl -i localhost:8000/hello
"""

from __future__ import annotations

import logging
from typing import Any

from asgi_core import AsgiFastStream, AsgiResponse

log = logging.getLogger("demo")


class InMemoryBroker:
    """A stand-in broker: FastStream brokers have the same start/stop/ping shape."""

    def __init__(self) -> None:
        self.connected = False

    async def start(self) -> None:
        self.connected = True
        log.info("broker connected")

    async def stop(self) -> None:
        self.connected = False
        log.info("broker disconnected")

    async def ping(self, timeout: float | None) -> bool:
        return self.connected


async def hello(scope: Any, receive: Any, send: Any) -> None:
    """A plain ASGI app mounted at /hello."""
    greeting = app.context.get("greeting", "hello")
    await AsgiResponse(f"{greeting} from {scope['path']}\n".encode())(scope, receive, send)


async def echo(scope: Any, receive: Any, send: Any) -> None:
    """A WebSocket echo mounted at /ws."""
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text") or ""})
        else:
            return


app = AsgiFastStream(
    InMemoryBroker(),
    asgi_routes=[("/hello", hello), ("/ws", echo)],
    title="Demo service",
)


@app.on_startup
def configure(greeting: str = "hello") -> None:
    """Run options (``--greeting hi`` on the command line) arrive as keyword arguments."""
    app.context.set_global("greeting", greeting)


@app.after_shutdown
def goodbye() -> None:
    log.info("demo service stopped")
