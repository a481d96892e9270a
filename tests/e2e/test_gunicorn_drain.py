"""Draining on SIGTERM (issue 9, item 7): new connections are refused at once, in-flight ones end.

Each test starts a real server on 127.0.0.1 serving ``fault_app`` (no fault), holds one request
in flight on ``/slow`` (it answers when the test creates the release file), sends SIGTERM to the
main process, and then opens new connections until one is refused. Every new connection must be
refused or answered: one that is accepted and then left hanging or reset (the listening socket
still open in some process, with nobody accepting) is the defect; a single reset at the moment
the last listening socket closes is the kernel's (see ``probe_until_refused``). Then the
in-flight request is released and must still get its 200, and the server must exit 0.
"""

from __future__ import annotations

import pathlib
import signal
import socket
import threading
import time

import pytest

from tests.e2e.servers import Served, free_port, served

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

APP = "tests.fixtures.serving.fault_app:app"
REFUSED_WITHIN = 10.0  # after SIGTERM, a new connection must be refused by then
ANSWER_WITHIN = 3.0  # an accepted new connection must be answered by then
IN_FLIGHT_WITHIN = 20.0  # the in-flight request's answer, once released

RUN = ("asgi_core", "run", APP, "--port", "{port}")
SETUPS: dict[str, tuple[tuple[str, ...], int]] = {
    "asgi-core run --server gunicorn --workers 2": (
        (*RUN, "--server", "gunicorn", "--workers", "2"),
        2,
    ),
    "asgi-core run --server gunicorn --workers 1": (
        (*RUN, "--server", "gunicorn", "--workers", "1"),
        1,
    ),
    "asgi-core run --server uvicorn --workers 2": (
        (*RUN, "--server", "uvicorn", "--workers", "2"),
        2,
    ),
    "asgi-core run": (RUN, 1),
}


class InFlight(threading.Thread):
    """``GET /slow`` on its own connection; ``status`` once it got the answer."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.status: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", "/slow")
            self.status = connection.getresponse().status
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connection.close()


def new_connection(port: int) -> str:
    """``refused``, ``answered``, or what went wrong with a new connection after SIGTERM."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN)
    except ConnectionRefusedError:
        return "refused"
    with sock:
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            first = sock.recv(16)
        except TimeoutError:
            return f"accepted, then no answer within {ANSWER_WITHIN:g} s"
        except ConnectionResetError:
            return "accepted, then reset"
    return "answered" if first.startswith(b"HTTP/") else f"accepted, then closed ({first!r})"


RESET = "accepted, then reset"


def probe_until_refused(proc: Served) -> list[str]:
    """Open new connections until one is refused (or the deadline); what each one saw.

    A reset does not end the probing: one connection may reach the kernel's accept queue in the
    instant between the last worker's last ``accept()`` and its closing of the listening
    socket, and Linux resets it (at once: the client is not left waiting). The defect this
    file guards against keeps resetting, or hangs, until the in-flight request ends, and never
    gets to "refused" while it is held.
    """
    seen: list[str] = []
    deadline = time.monotonic() + REFUSED_WITHIN
    while time.monotonic() < deadline:
        seen.append(new_connection(proc.port))
        if seen[-1] != "answered" and seen[-1] != RESET:
            break
        time.sleep(0.02)
    return seen


@pytest.mark.parametrize("setup", list(SETUPS))
def test_after_sigterm_new_connections_are_refused_while_in_flight_requests_finish(
    setup: str, tmp_path: pathlib.Path
) -> None:
    args, workers = SETUPS[setup]
    port = free_port()
    release = tmp_path / "release"
    env = {"FAULT_MODE": "none", "E2E_RELEASE": str(release)}
    command = [arg.replace("{port}", str(port)) for arg in args]
    with served(command, tmp_path, port=port, env=env, name="drain") as proc:
        proc.wait_ready("/")
        assert len(proc.wait_for_lines("after_startup", workers)) == workers, proc.output()
        in_flight = InFlight(port)
        in_flight.start()
        assert proc.wait_for_lines("request.slow", 1), proc.output()
        proc.process.send_signal(signal.SIGTERM)
        seen = probe_until_refused(proc)
        release.touch()
        in_flight.join(IN_FLIGHT_WITHIN)
        status = proc.wait()
        output = proc.output()
    assert seen[-1] == "refused", f"new connections after SIGTERM: {seen}\n{output}"
    assert seen.count(RESET) <= 1, f"new connections after SIGTERM: {seen}\n{output}"
    assert (in_flight.status, in_flight.error) == (200, None), output
    assert status == 0, output
