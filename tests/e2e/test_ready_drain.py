"""What a readiness probe sees after SIGTERM while a request is in flight (issue 13, item 3).

Each test starts a real server on 127.0.0.1 serving ``drain_app`` (``/ready`` and ``/slow``),
opens keep-alive connections that got ``/ready`` 204, holds one ``/slow`` request in flight,
and sends SIGTERM to the main process. Then it asks ``/ready`` on a NEW connection and on one of
the already-open keep-alive connections, again and again, until the server has closed both ways
in (a new connection refused or never answered, the keep-alive one closed). Then the in-flight
request is released: it must get 200, with what ``/ready`` answered in its process at that
moment (during the drain), and the server must exit. Under ``asgi-core run`` the same holds
when a request handler calls ``app.exit()`` instead of the SIGTERM.

Under ``asgi-core run`` the runner marks the app draining the moment a serving process gets
SIGTERM, so every probe after that is 503 or finds the server closed, never 204 (with several
workers the master forwards the signal: the probes start once every worker logged its drain).
Under the servers' own CLIs the app is told only at the lifespan shutdown, after the drain: a
probe in the first tens of milliseconds (before the server's next check of its stop flag) still
gets 204, after that it finds the server closed; the row says exactly what each server does.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import pathlib
import signal
import socket
import threading
import time
from typing import NamedTuple

import pytest

from tests.e2e.servers import Served, free_port, http_get, served

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

APP = "tests.fixtures.serving.drain_app:app"
CLOSED_WITHIN = 10.0  # after SIGTERM, both ways in must be closed by then
DRAIN_LOGGED_WITHIN = 10.0  # asgi-core run: every worker logs its drain by then
ANSWER_WITHIN = 1.0  # a probe's connect and answer
IN_FLIGHT_WITHIN = 20.0  # the in-flight request's answer, once released
KEEP_ALIVE = 30  # connections opened before SIGTERM, one used per probe round
STOPPED_ACCEPTING = frozenset({"refused", "no answer"})  # what a new connection ends with
CLOSED = frozenset({*STOPPED_ACCEPTING, "closed", "reset"})  # a probe that found no server
REQUEST = b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

RUN = ("asgi_core", "run", APP, "--port", "{port}")
GUNICORN = ("gunicorn", APP, "-k", "uvicorn_worker.UvicornWorker", "-b", "127.0.0.1:{port}")


class Setup(NamedTuple):
    args: tuple[str, ...]
    workers: int
    ours: bool  # asgi-core run: /ready is 503 from SIGTERM on
    exit_status: int
    new_connection: str  # what a new connection gets once the server stopped accepting
    ready_in_drain: int  # what /ready answers in the app's process during the drain


SETUPS: dict[str, Setup] = {
    "asgi-core run": Setup(RUN, 1, True, 0, "refused", 503),
    "asgi-core run --workers 2": Setup((*RUN, "--workers", "2"), 2, True, 0, "refused", 503),
    "asgi-core run --workers 2 --server uvicorn": Setup(
        (*RUN, "--workers", "2", "--server", "uvicorn"), 2, True, 0, "refused", 503
    ),
    # the foreign servers do not tell the app: /ready stays 204 in its process until the
    # lifespan shutdown, but no probe reaches it once the server stopped accepting
    "uvicorn": Setup(
        ("uvicorn", APP, "--host", "127.0.0.1", "--port", "{port}"), 1, False, -15, "refused", 204
    ),
    "gunicorn -k uvicorn_worker.UvicornWorker -w 2": Setup(
        (*GUNICORN, "-w", "2", "--no-control-socket"), 2, False, 0, "refused", 204
    ),
    # hypercorn's main process keeps the listening socket: new connections are accepted by the
    # kernel and never answered (a probe times out). Its default graceful timeout is 3 s.
    "hypercorn": Setup(
        ("hypercorn", APP, "--bind", "127.0.0.1:{port}", "--graceful-timeout", "15"),
        1,
        False,
        0,
        "no answer",
        204,
    ),
    "granian": Setup(
        ("granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", "{port}", APP),
        1,
        False,
        0,
        "refused",
        204,
    ),
}


class InFlight(threading.Thread):
    """``GET /slow`` on its own connection; ``status`` and ``body`` once it got the answer."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.status: int | None = None
        self.body = b""
        self.error: BaseException | None = None

    def run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", "/slow")
            response = connection.getresponse()
            self.status, self.body = response.status, response.read()
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connection.close()


def ask_ready(sock: socket.socket) -> str:
    """``GET /ready`` on ``sock``: the status as text, or how the connection ended."""
    data = b""
    try:
        sock.sendall(REQUEST)
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return "closed" if not data else f"closed mid-answer ({data!r})"
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    except TimeoutError:
        return "no answer"
    return data.split(b" ", 2)[1].decode()


def ask_ready_new(port: int) -> str:
    """``GET /ready`` on a new connection, or ``refused``.

    ``reset`` if the connection was reset as it was made: the server closed its listening
    socket while the connection waited to be accepted (Linux resets those); the probe goes on
    until a connection is refused.
    """
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN)
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "reset"
    except TimeoutError:
        return "no answer"
    with sock:
        return ask_ready(sock)


def wait_for_drain_lines(proc: Served, count: int) -> int:
    """Wait until the server log has ``count`` drain lines (one per worker); how many it has."""
    deadline = time.monotonic() + DRAIN_LOGGED_WITHIN
    while proc.output().count("Draining:") < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc.output().count("Draining:")


def probe_until_closed(proc: Served, open_connections: list[socket.socket]) -> list[str]:
    """Ask ``/ready`` on a keep-alive and on a new connection per round until both are closed.

    A keep-alive connection may be closed or reset (the server closed it as our request
    arrived); the new connection must end refused or unanswered, not merely reset once.
    """
    seen: list[str] = []
    keep_alive = iter(open_connections)
    deadline = time.monotonic() + CLOSED_WITHIN
    while time.monotonic() < deadline:
        sock = next(keep_alive, None)
        if sock is None:
            seen.append("keep-alive connections used up before the server closed them")
            break
        old = ask_ready(sock)
        new = ask_ready_new(proc.port)
        seen += [f"keep-alive {old}", f"new {new}"]
        if old in CLOSED and new in STOPPED_ACCEPTING:
            break
        time.sleep(0.01)
    return seen


STOPS = [(setup, "SIGTERM") for setup in SETUPS] + [
    (setup, "exit()") for setup, row in SETUPS.items() if row.ours
]


@pytest.mark.parametrize(("setup", "stop"), STOPS)
def test_once_asked_to_stop_ready_is_503_or_closed_while_the_in_flight_request_finishes(
    setup: str, stop: str, tmp_path: pathlib.Path
) -> None:
    args, workers, ours, exit_status, new_connection, ready_in_drain = SETUPS[setup]
    port = free_port()
    release = tmp_path / "release"
    command = [arg.replace("{port}", str(port)) for arg in args]
    open_connections: list[socket.socket] = []
    with (
        served(command, tmp_path, port=port, env={"E2E_RELEASE": str(release)}) as proc,
        contextlib.ExitStack() as closing,  # every socket closed, also when an assert fails
    ):
        proc.wait_ready("/ready")
        assert len(proc.wait_for_lines("after_startup", workers)) == workers, proc.output()
        for _ in range(KEEP_ALIVE):
            sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN)
            closing.enter_context(sock)
            open_connections.append(sock)
            assert ask_ready(sock) == "204", proc.output()
        in_flight = InFlight(port)
        in_flight.start()
        assert proc.wait_for_lines("request.slow", 1), proc.output()
        if stop == "SIGTERM":
            proc.process.send_signal(signal.SIGTERM)
        else:  # app.exit() in a request handler, in one of the workers
            assert http_get(port, "/exit")[0] == 200, proc.output()
        if ours and workers > 1:  # the master forwards SIGTERM: wait until every worker has it
            assert wait_for_drain_lines(proc, workers) == workers, proc.output()
        seen = probe_until_closed(proc, open_connections)
        release.touch()
        in_flight.join(IN_FLIGHT_WITHIN)
        status = proc.wait()
        output = proc.output()
    report = f"{setup}: /ready after {stop}: {seen}\n{output}"
    assert seen[-2] in {"keep-alive closed", "keep-alive reset"}, report
    assert seen[-1] == f"new {new_connection}", report
    if ours:
        assert all(answer.split()[-1] in {"503", *CLOSED} for answer in seen), report
    assert (in_flight.status, in_flight.error) == (200, None), report
    assert json.loads(in_flight.body) == {"ready": ready_in_drain}, report
    assert status == exit_status, report
