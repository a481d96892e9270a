"""Health routes: liveness from the broker's ``ping``, readiness from the lifespan.

    app = AsgiFastStream(broker, asgi_routes=[("/health", make_ping_asgi(broker, timeout=5.0))])
    app.mount("/ready", make_ready_asgi(app))
    make_ping_asgi(redis_broker, nats_broker, timeout=5.0)  # several: healthy if every one is

Rules:

* Both routes serve GET and HEAD (405 otherwise, as every ``@get`` route) and answer with an
  empty body: 204 when healthy; 500 (ping) or 503 (readiness) when not.
* Ping: 204 when ``await broker.ping(timeout)`` returns something true; 500 when it returns
  something false, raises, or takes longer than ``timeout``. The route enforces the limit itself
  (``DEFAULT_PING_LIMIT`` seconds when ``timeout`` is None), so a ping that hangs never hangs the
  probe. ``broker.ping`` is looked up on every request, so a ping replaced after the route was
  built (a mock, FastStream's ``TestBroker``) is the one called. Nothing of a failure reaches
  the client.
* Several brokers (``make_ping_asgi(b1, b2, timeout=...)``, the leading positional arguments
  that have ``ping``; FastStream's positional ``timeout``, ``include_in_schema``,
  ``description`` follow): 204 only if every ping succeeds. They are pinged one after another,
  each within the limit, and the first failure answers 500. Log lines name the broker by class
  and place (``RedisBroker #2``).
* Logging, on ``asgi_core.health``: a WARNING when the ping starts failing (with the reason),
  an INFO when it recovers (with how long the outage lasted), and while it keeps failing at
  most one WARNING reminder per ``log_interval`` seconds (60 by default) with the count of
  failed probes since the last line. A probe every 10 ms during an outage logs one line a
  minute, not a hundred a second.
* Readiness: 204 only between the end of the lifespan startup and the start of the shutdown
  (``app.running``), so a load balancer never routes to a half-started or draining worker. The
  shutdown starts when the server is asked to stop, not when the lifespan shutdown arrives
  (after in-flight requests drained): under ``asgi-core run`` and ``run()`` the runner sets
  ``app.draining`` on SIGTERM, SIGINT or ``exit()``, and from then on the route answers 503
  while in-flight requests finish (``docs/kubernetes.md`` has what each server does).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from asgi_core._brokers import labels
from asgi_core._concurrency import DeadlineExceeded, run_bounded
from asgi_core.handlers import HandlerApp
from asgi_core.responses import AsgiResponse
from asgi_core.types import Message, Receive, Scope, Send

__all__ = ["DEFAULT_LOG_INTERVAL", "DEFAULT_PING_LIMIT", "make_ping_asgi", "make_ready_asgi"]

DEFAULT_PING_LIMIT = 10.0
DEFAULT_LOG_INTERVAL = 60.0
_LOGGER = logging.getLogger("asgi_core.health")
_HEADERS = {"cache-control": "no-store"}
Tags = Sequence[str | Mapping[str, Any]] | None


class _Running(Protocol):
    @property
    def running(self) -> bool: ...


# Built once: every send makes fresh message dicts, so a response object can be shared.
_RESPONSES = {status: AsgiResponse(b"", status, _HEADERS) for status in (204, 500, 503)}
# their checked, encoded headers, which the ping route sends in a fresh list each time
_RAW_HEADERS = {status: tuple(response.raw_headers) for status, response in _RESPONSES.items()}


def _empty(status_code: int) -> AsgiResponse:
    return _RESPONSES[status_code]


class _Outage:
    """Turns probe outcomes into log lines: changes of state, and one reminder per interval."""

    __slots__ = ("clock", "failed", "interval", "last_line", "name", "since")

    def __init__(self, name: str, interval: float, clock: Callable[[], float]) -> None:
        self.name = name  # the broker's, in log lines
        self.interval = interval
        self.clock = clock
        self.since: float | None = None  # when the current outage began; None while healthy
        self.last_line = 0.0
        self.failed = 0  # probes failed since the last line

    def failure(self, what: str) -> None:
        now = self.clock()
        name = self.name
        if self.since is None:
            self.since = self.last_line = now
            self.failed = 0
            _LOGGER.warning("health check failing: %s.ping() %s", name, what)
            return
        self.failed += 1
        if now - self.last_line >= self.interval:
            _LOGGER.warning(
                "health check still failing after %.1f s (%d more failed probes): %s.ping() %s",
                now - self.since,
                self.failed,
                name,
                what,
            )
            self.last_line = now
            self.failed = 0

    def recovered(self) -> None:
        since, self.since = self.since, None
        if since is not None:
            _LOGGER.info(
                "health check recovered: %s.ping() answers again after %.1f s of failures",
                self.name,
                self.clock() - since,
            )


_POSITIONAL = ("timeout", "include_in_schema", "description", "tags")  # FastStream's order
_POSITIONAL_DEFAULTS = (None, True, None, None)


def _split(broker: Any, more: tuple[Any, ...]) -> tuple[list[Any], tuple[Any, ...]]:
    """The brokers (leading arguments with ``ping``) and FastStream's positional parameters."""
    brokers = [broker]
    rest = list(more)
    while rest and callable(getattr(rest[0], "ping", None)):
        brokers.append(rest.pop(0))
    if len(rest) > 4 or any(callable(getattr(value, "ping", None)) for value in rest):
        raise TypeError(
            f"make_ping_asgi takes the brokers first, then timeout, include_in_schema, "
            f"description and tags, not {(broker, *more)!r}; e.g. make_ping_asgi(b1, b2, "
            "timeout=5.0)"
        )
    return brokers, tuple(rest)


def make_ping_asgi(
    broker: Any,
    /,
    *more: Any,
    timeout: float | None = None,
    include_in_schema: bool = True,
    description: str | None = None,
    tags: Tags = None,
    log_interval: float = DEFAULT_LOG_INTERVAL,
    clock: Callable[[], float] = time.monotonic,
) -> HandlerApp:
    """A GET/HEAD route: 204 if every ``broker.ping(timeout)`` succeeds in time, 500 otherwise.

    ``make_ping_asgi(broker, timeout, include_in_schema, description)`` as in FastStream, or
    several brokers first: ``make_ping_asgi(b1, b2, timeout=5.0)``. While a ping keeps
    failing, a reminder is logged at most every ``log_interval`` seconds; ``clock``
    (``time.monotonic``) is what measures them, replaceable in tests.
    """
    brokers, positional = _split(broker, more)
    if positional:  # FastStream's make_ping_asgi(broker, timeout, include_in_schema, ...)
        given: list[Any] = [timeout, include_in_schema, description, tags]
        for index, value in enumerate(positional):
            if given[index] is not _POSITIONAL_DEFAULTS[index]:
                raise TypeError(
                    f"make_ping_asgi got {_POSITIONAL[index]!r} twice, by position and by "
                    "keyword; pass it once"
                )
            given[index] = value
        timeout, include_in_schema, description, tags = given
    for one in brokers:
        if not callable(getattr(one, "ping", None)):
            raise TypeError(
                f"make_ping_asgi needs a broker with an async ping(timeout) method; {one!r} has "
                "none. Pass the broker object itself (FastStream brokers have ping)"
            )
    if timeout is not None and (isinstance(timeout, bool) or not timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds or None, not {timeout!r}")
    if isinstance(log_interval, bool) or not log_interval >= 0:
        raise ValueError(
            f"log_interval must be a number of seconds >= 0, not {log_interval!r}; 0 logs "
            "every failed probe"
        )
    limit = DEFAULT_PING_LIMIT if timeout is None else timeout
    return _PingRoute(
        [
            (one, timeout, limit, _Outage(name, log_interval, clock))
            for one, name in zip(brokers, labels(brokers), strict=True)
        ],
        include_in_schema=include_in_schema,
        description=description or "Liveness: 204 when the broker answers its ping, else 500.",
        tags=tags,
    )


# a broker, the timeout its ping is given, the limit we hold it to, its log state
Probe = tuple[Any, float | None, float, "_Outage"]

_SERVED = ("GET", "HEAD")


class _PingRoute(HandlerApp):
    """``make_ping_asgi``'s route: a ``HandlerApp`` (405, WebSocket, lifespan, scope checks, the
    AsyncAPI ``route_info``) whose GET and HEAD are probed and answered in one frame.

    ``handler`` answers the same probe as an ``AsgiResponse``, for code that calls it.
    """

    def __init__(
        self,
        probes: Sequence[Probe],
        *,
        include_in_schema: bool,
        description: str,
        tags: Tags,
    ) -> None:
        self._probes = tuple(probes)
        super().__init__(
            self._respond,
            _SERVED,
            include_in_schema=include_in_schema,
            description=description,
            tags=tags,
            takes_request=False,  # it never reads one: no Request built per probe
        )

    async def _respond(self) -> AsgiResponse:
        """The probe's answer as a response: what a GET gets (the one implementation is there)."""
        sent: list[Message] = []

        async def record(message: Message) -> None:
            sent.append(message)

        await self(dict(_PROBE_SCOPE), _nothing_to_receive, record)
        return _RESPONSES[sent[0]["status"]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if type(scope) is not dict or scope.get("type") != "http":
            await super().__call__(scope, receive, send)  # checked and refused there
            return
        method = scope.get("method")
        if method != "GET" and method != "HEAD":
            await super().__call__(scope, receive, send)  # 405 with Allow
            return
        # every probe in turn, in this frame (benchmarks: "make_ping_asgi hit"); the first
        # failure answers 500 and is logged
        status = 204
        for broker, timeout, limit, outage in self._probes:
            try:
                # broker.ping looked up per probe: a ping replaced after the route was built
                # (a mock, FastStream's TestBroker) is the one called
                healthy = await run_bounded(broker.ping, limit, timeout)
            except DeadlineExceeded:
                outage.failure(f"did not answer within {limit} s")
                status = 500
                break
            except Exception as exc:
                outage.failure(f"raised {type(exc).__name__}: {exc}")
                status = 500
                break
            if not healthy:
                outage.failure(f"returned {healthy!r}")
                status = 500
                break
            if outage.since is not None:
                outage.recovered()
        # _RESPONSES[status].messages(scope), written out: fresh dicts and a fresh header list
        # (the body is empty whatever the method)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": list(_RAW_HEADERS[status]),
            }
        )
        await send({"type": "http.response.body", "body": b"", "more_body": False})


_PROBE_SCOPE: Scope = {"type": "http", "method": "GET", "path": "/", "root_path": ""}


async def _nothing_to_receive() -> Message:
    raise RuntimeError("the ping route reads no request")


def make_ready_asgi(
    app: _Running,
    /,
    include_in_schema: bool = True,
    description: str | None = None,
    tags: Tags = None,
) -> HandlerApp:
    """A GET/HEAD route: 204 while ``app.running`` and not ``app.draining``, else 503.

    ``running``: the startup is done and the lifespan shutdown has not begun; ``draining``: the
    server was asked to stop (set by our runners; an object without it is never draining).
    """
    if not hasattr(app, "running"):
        raise TypeError(
            f"make_ready_asgi needs the application (something with a 'running' property), "
            f"not {app!r}"
        )

    async def readiness() -> AsgiResponse:
        return _empty(204 if app.running and not getattr(app, "draining", False) else 503)

    return HandlerApp(
        readiness,
        ("GET",),
        include_in_schema=include_in_schema,
        description=description or "Readiness: 204 between startup and shutdown, else 503.",
        tags=tags,
        takes_request=False,
    )
