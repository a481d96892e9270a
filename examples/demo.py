"""A demo service: a broker consumer that also answers HTTP and WebSocket, served over ASGI.

The broker here is a tiny in-process stand-in so the demo needs nothing but asgi_core and a
server; swap in a FastStream broker (``RedisBroker(...)``, ``KafkaBroker(...)``) unchanged.

    asgi-core run examples.demo:app --port 8000 --greeting hello
    curl -i localhost:8000/hello?name=you     # a small handler
    curl -i localhost:8000/health             # 204 while the broker answers its ping
    curl -i localhost:8000/ready              # 204 between startup and shutdown, else 503
    open http://localhost:8000/docs           # the AsyncAPI page (/docs.json: the document)
"""

from __future__ import annotations

import logging
from typing import Any

from asgi_core import AsgiFastStream, AsgiResponse, Request, get, make_ping_asgi, make_ready_asgi

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


@get(description="Greets whoever asks.")
async def hello(request: Request) -> AsgiResponse:
    greeting = app.context.get("greeting", "hello")
    name = request.query_params.get("name", "world")
    return AsgiResponse(f"{greeting}, {name}\n".encode(), headers={"content-type": "text/plain"})


async def echo(scope: Any, receive: Any, send: Any) -> None:
    """A plain ASGI WebSocket echo mounted at /ws."""
    if scope["type"] != "websocket":
        return  # no lifespan support: asgi_core logs one line at startup and skips it
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text") or ""})
        else:
            return


broker = InMemoryBroker()
app = AsgiFastStream(
    broker,
    asgi_routes=[("/hello", hello), ("/ws", echo), ("/health", make_ping_asgi(broker, timeout=2))],
    asyncapi_path="/docs",
    title="Demo service",
)
app.mount("/ready", make_ready_asgi(app, include_in_schema=False))


@app.on_startup
def configure(greeting: str = "hello") -> None:
    """Run options (``--greeting hi`` on the command line) arrive as keyword arguments."""
    app.context.set_global("greeting", greeting)


@app.after_shutdown
def goodbye() -> None:
    log.info("demo service stopped")
