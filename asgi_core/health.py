"""Health routes: liveness from the broker's ``ping``, readiness from the lifespan.

    app = AsgiFastStream(broker, asgi_routes=[("/health", make_ping_asgi(broker, timeout=5.0))])
    app.mount("/ready", make_ready_asgi(app))

Rules:

* Both routes serve GET and HEAD (405 otherwise, as every ``@get`` route) and answer with an
  empty body: 204 when healthy; 500 (ping) or 503 (readiness) when not.
* Ping: 204 when ``await broker.ping(timeout)`` returns something true; 500 when it returns
  something false, raises, or takes longer than ``timeout``. The route enforces the limit itself
  (``DEFAULT_PING_LIMIT`` seconds when ``timeout`` is None), so a ping that hangs never hangs the
  probe. A failure is logged on ``asgi_core.health``; nothing of it reaches the client.
* Readiness: 204 only between the end of the lifespan startup and the start of the shutdown
  (``app.running``), so a load balancer never routes to a half-started or draining worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from asgi_core._concurrency import DeadlineExceeded, run_bounded
from asgi_core._responses import AsgiResponse
from asgi_core.handlers import HandlerApp, Request

__all__ = ["DEFAULT_PING_LIMIT", "make_ping_asgi", "make_ready_asgi"]

DEFAULT_PING_LIMIT = 10.0
_HEADERS = {"cache-control": "no-store"}
Tags = Sequence[str | Mapping[str, Any]] | None


class _Running(Protocol):
    @property
    def running(self) -> bool: ...


# Built once: every send makes fresh message dicts, so a response object can be shared.
_RESPONSES = {status: AsgiResponse(b"", status, _HEADERS) for status in (204, 500, 503)}


def _empty(status_code: int) -> AsgiResponse:
    return _RESPONSES[status_code]


def make_ping_asgi(
    broker: Any,
    /,
    timeout: float | None = None,
    include_in_schema: bool = True,
    description: str | None = None,
    tags: Tags = None,
) -> HandlerApp:
    """A GET/HEAD route: 204 if ``broker.ping(timeout)`` succeeds in time, 500 otherwise."""
    ping = getattr(broker, "ping", None)
    if not callable(ping):
        raise TypeError(
            f"make_ping_asgi needs a broker with an async ping(timeout) method; {broker!r} has "
            "none. Pass the broker object itself (FastStream brokers have ping)"
        )
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds or None, not {timeout!r}")
    limit = DEFAULT_PING_LIMIT if timeout is None else timeout

    async def ping_broker(request: Request) -> AsgiResponse:
        try:
            healthy = await run_bounded(lambda: ping(timeout), limit)
        except DeadlineExceeded:
            _log_failure(broker, f"did not answer within {limit} s")
            return _empty(500)
        except Exception as exc:
            _log_failure(broker, f"raised {type(exc).__name__}: {exc}")
            return _empty(500)
        if not healthy:
            _log_failure(broker, f"returned {healthy!r}")
            return _empty(500)
        return _empty(204)

    return HandlerApp(
        ping_broker,
        ("GET",),
        include_in_schema=include_in_schema,
        description=description or "Liveness: 204 when the broker answers its ping, else 500.",
        tags=tags,
    )


def make_ready_asgi(
    app: _Running,
    /,
    include_in_schema: bool = True,
    description: str | None = None,
    tags: Tags = None,
) -> HandlerApp:
    """A GET/HEAD route: 204 while ``app.running`` (startup done, shutdown not begun), else 503."""
    if not hasattr(app, "running"):
        raise TypeError(
            f"make_ready_asgi needs the application (something with a 'running' property), "
            f"not {app!r}"
        )

    async def readiness(request: Request) -> AsgiResponse:
        return _empty(204 if app.running else 503)

    return HandlerApp(
        readiness,
        ("GET",),
        include_in_schema=include_in_schema,
        description=description or "Readiness: 204 between startup and shutdown, else 503.",
        tags=tags,
    )


def _log_failure(broker: object, what: str) -> None:
    import logging

    logging.getLogger("asgi_core.health").warning(
        "health check failed: %s.ping() %s", type(broker).__name__, what
    )
