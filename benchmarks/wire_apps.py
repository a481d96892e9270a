"""App factories for the wire benchmark: ``uvicorn --factory benchmarks.wire_apps:<name>``.

Every app mounts the same table: ``/ping`` (the contender's health check) first, then the
5-route table, so the hit path is still the last one registered. A contender with no health
check yet simply lacks ``/ping``; the wire benchmark notices the 404 and marks that row pending.
"""

from __future__ import annotations

from benchmarks.contenders import CONTENDERS, Contender, PendingError
from benchmarks.fixtures import HIT_BODY, App, NoopBroker, Prebuilt, route_paths

__all__ = ["PING_PATH", "asgi_core", "bare_dict", "faststream", "starlette"]

PING_PATH = "/ping"


def _build(name: str) -> App:
    contender: Contender = next(c for c in CONTENDERS if c.name == name)
    broker = NoopBroker()
    routes: list[tuple[str, App]] = []
    try:
        routes.append((PING_PATH, contender.ping(broker)))
    except PendingError:
        pass
    routes.extend((path, Prebuilt(200, HIT_BODY)) for path in route_paths(5))
    return contender.http(routes, broker)


def bare_dict() -> App:
    return _build("bare dict")


def asgi_core() -> App:
    return _build("asgi_core")


def starlette() -> App:
    return _build("Starlette")


def faststream() -> App:
    return _build("FastStream")
