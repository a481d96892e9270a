"""App factories for the soak section: ``asgi-core run --factory benchmarks.soak_apps:<name>``.

Every app mounts the 5-route table of the other sections plus ``/slow``, an endpoint that
sleeps ``SLOW_SECONDS`` before answering 200: the requests that are in flight when SIGTERM
arrives. ``/slow`` writes the ``x-request-id`` header of each request it starts to the file
named by ``$SOAK_STARTED_LOG`` (one line per request, ``O_APPEND``), so the soak client can tell
a request the app accepted from one the server never read. Any other path is a 404, and a
WebSocket on any path is refused (no WebSocket route is mounted).
"""

from __future__ import annotations

import asyncio
import os

from benchmarks.contenders import CONTENDERS, Contender
from benchmarks.fixtures import (
    HIT_BODY,
    App,
    NoopBroker,
    Prebuilt,
    Receive,
    Scope,
    Send,
    route_paths,
)

__all__ = ["SLOW_PATH", "SLOW_SECONDS", "STARTED_LOG_ENV", "SlowEndpoint", "build"]

SLOW_PATH = "/slow"
SLOW_SECONDS = 0.5
STARTED_LOG_ENV = "SOAK_STARTED_LOG"


class SlowEndpoint:
    """Record the request id, sleep, then answer the prebuilt 200."""

    def __init__(self, log_path: str | None) -> None:
        self.answer = Prebuilt(200, HIT_BODY)
        self.log = None if log_path is None else os.open(log_path, os.O_WRONLY | os.O_APPEND)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.log is not None:
            request_id = dict(scope["headers"]).get(b"x-request-id", b"-")
            os.write(self.log, request_id + b"\n")
        await asyncio.sleep(SLOW_SECONDS)
        await self.answer(scope, receive, send)


def build(name: str) -> App:
    """Contender ``name``'s app over the shared table, ``/slow`` and a no-op broker."""
    contender: Contender = next(c for c in CONTENDERS if c.name == name)
    routes: list[tuple[str, App]] = [(path, Prebuilt(200, HIT_BODY)) for path in route_paths(5)]
    routes.append((SLOW_PATH, SlowEndpoint(os.environ.get(STARTED_LOG_ENV))))
    return contender.http(routes, NoopBroker())


def asgi_core() -> App:
    return build("asgi_core")


def starlette() -> App:
    return build("Starlette")


def faststream() -> App:
    return build("FastStream")
