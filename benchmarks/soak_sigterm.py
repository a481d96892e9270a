"""Requests lost on SIGTERM under load: a keep-alive client, a signal, and a tally.

How it counts:

- ``connections`` workers each hold one keep-alive connection and send ``GET /slow`` (the app
  sleeps ``SLOW_SECONDS``, then answers 200) one after another, each with a unique
  ``x-request-id``. For every request the client records whether a complete response (status
  line, headers, the whole ``content-length`` body) came back, and when.
- After ``load_seconds`` the harness sends the server SIGTERM. A worker whose connection is
  closed opens a new one; once a connect is refused (the server stopped listening) it stops.
- The app writes the id of every request it starts to a file (``soak_apps.SlowEndpoint``).
  A request is *accepted* when its id is in that file. **Lost** = accepted without a complete
  response; it must be 0. A request written on a keep-alive connection the server was already
  closing, and never read, is *unanswered*: not accepted, not lost (a client retries it).
- *In flight at SIGTERM* = accepted and not yet answered when the signal was sent; the report
  says how many of them finished.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Drained", "Exchange", "drain", "read_response", "tally"]


@dataclass
class Exchange:
    """One request: its id, when it was sent, and when a complete response came (or None)."""

    request_id: str
    sent_at: float
    answered_at: float | None = None


@dataclass
class _Log:
    exchanges: list[Exchange] = field(default_factory=list)
    refused: int = 0


@dataclass(frozen=True)
class Drained:
    """The tally of one SIGTERM-under-load run."""

    sent: int
    accepted: int
    lost: int
    in_flight: int
    finished_in_flight: int
    unanswered: int
    refused: int

    def describe(self) -> str:
        return (
            f"{self.finished_in_flight} of {self.in_flight} in flight at SIGTERM finished; "
            f"{self.sent} sent, {self.accepted} accepted, {self.unanswered} unanswered "
            f"(never read: a keep-alive connection closing), {self.refused} connects refused"
        )


def tally(
    exchanges: list[Exchange], started: set[str], signalled_at: float, refused: int
) -> Drained:
    """Count lost, in-flight and unanswered requests from the client's and the app's records."""
    accepted = [e for e in exchanges if e.request_id in started]
    in_flight = [e for e in accepted if e.answered_at is None or e.answered_at >= signalled_at]
    return Drained(
        sent=len(exchanges),
        accepted=len(accepted),
        lost=sum(1 for e in accepted if e.answered_at is None),
        in_flight=len(in_flight),
        finished_in_flight=sum(1 for e in in_flight if e.answered_at is not None),
        unanswered=sum(
            1 for e in exchanges if e.answered_at is None and e.request_id not in started
        ),
        refused=refused,
    )


async def read_response(reader: asyncio.StreamReader) -> tuple[bool, bool]:
    """Read one response: whether it was a complete 200, and whether the connection stays open.

    EOF or a short body is incomplete; ``connection: close`` (what a draining server sends)
    means the client must not send on this connection again.
    """
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
        return False, False
    headers = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    try:
        await reader.readexactly(int(headers.get(b"content-length", b"0")))
    except (asyncio.IncompleteReadError, OSError):
        return False, False
    return head.startswith(b"HTTP/1.1 200 "), headers.get(b"connection") != b"close"


async def _worker(port: int, path: str, index: int, log: _Log, deadline: float) -> None:
    numbers = itertools.count()
    while time.monotonic() < deadline:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            log.refused += 1
            return
        try:
            reusable = True
            while reusable and time.monotonic() < deadline:
                exchange = Exchange(f"{index}-{next(numbers)}", time.monotonic())
                request = (
                    f"GET {path} HTTP/1.1\r\nhost: soak\r\nx-request-id: {exchange.request_id}"
                )
                try:
                    writer.write(request.encode("ascii") + b"\r\n\r\n")
                    await writer.drain()
                except OSError:
                    break  # closed before the request went out: not sent
                log.exchanges.append(exchange)
                remaining = deadline - time.monotonic()
                complete, reusable = await asyncio.wait_for(read_response(reader), remaining)
                if complete:
                    exchange.answered_at = time.monotonic()
        except asyncio.TimeoutError:
            return
        finally:
            writer.close()


async def _drive(
    port: int, path: str, connections: int, load_seconds: float, pid: int, limit: float
) -> tuple[_Log, float]:
    log = _Log()
    deadline = time.monotonic() + load_seconds + limit
    workers = [
        asyncio.ensure_future(_worker(port, path, index, log, deadline))
        for index in range(connections)
    ]
    await asyncio.sleep(load_seconds)
    signalled_at = time.monotonic()
    os.kill(pid, signal.SIGTERM)
    await asyncio.gather(*workers)
    return log, signalled_at


def drain(
    port: int,
    path: str,
    pid: int,
    started: Callable[[], set[str]],
    *,
    connections: int = 50,
    load_seconds: float = 1.5,
    limit: float = 15.0,
) -> Drained:
    """Load ``path``, SIGTERM ``pid`` after ``load_seconds``, wait for the workers, tally."""
    log, signalled_at = asyncio.run(_drive(port, path, connections, load_seconds, pid, limit))
    return tally(log.exchanges, started(), signalled_at, log.refused)
