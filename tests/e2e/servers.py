"""Start real server processes on 127.0.0.1 and talk to them, with a deadline on every wait.

Every process runs in its own process group; ``Served.stop()`` signals the main process only
(hypercorn's worker dies before its shutdown hooks if the whole group gets SIGTERM), and the
``served`` context manager kills whatever of the group is left, whatever happened.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = [
    "APP",
    "CHECKOUT",
    "Served",
    "free_port",
    "http_get",
    "served",
    "websocket_echo",
    "websocket_refused_status",
]

CHECKOUT = pathlib.Path(__file__).resolve().parents[2]
APP = "tests.fixtures.serving.e2e_app:app"
READY_DEADLINE = 30.0
STOP_DEADLINE = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def http_get(port: int, path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def websocket_echo(port: int, path: str, text: str) -> str:
    from websockets.sync.client import connect

    with connect(f"ws://127.0.0.1:{port}{path}", open_timeout=5, close_timeout=2) as ws:
        ws.send(text)
        reply = ws.recv(timeout=5)
    return str(reply)


def websocket_refused_status(port: int, path: str) -> int | None:
    """The HTTP status a refused WebSocket handshake got (None if it was accepted)."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    try:
        with connect(f"ws://127.0.0.1:{port}{path}", open_timeout=5, close_timeout=2):
            return None
    except InvalidStatus as exc:
        status: int = exc.response.status_code
        return status


class Served:
    """A running server process: its port, its log, the hook record, and how it ended."""

    def __init__(
        self, process: subprocess.Popen[bytes], port: int, log: pathlib.Path, record: pathlib.Path
    ) -> None:
        self.process = process
        self.port = port
        self.log = log
        self.record = record

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def records(self) -> list[str]:
        if not self.record.exists():
            return []
        return self.record.read_text().splitlines()

    def lines(self, kind: str) -> list[str]:
        return [line for line in self.records() if line.split(" ", 1)[0] == kind]

    def wait_for_lines(self, kind: str, count: int, within: float = READY_DEADLINE) -> list[str]:
        """Wait until the hook record has ``count`` lines of ``kind`` (workers start in turn).

        Gives up after ``within`` seconds, or when the process exits, and returns what it has.
        """
        deadline = time.monotonic() + within
        while len(self.lines(kind)) < count and time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        return self.lines(kind)

    def wait_ready(self, path: str = "/http/ready") -> None:
        """Wait until ``path`` answers (any status), or fail with the server's output."""
        deadline = time.monotonic() + READY_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"server exited early ({self.process.returncode}):\n" + self.output()
                )
            if self.port == 0:
                found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", self.output())
                if found is None:
                    time.sleep(0.05)
                    continue
                self.port = int(found.group(1))
            try:
                http_get(self.port, path, timeout=1.0)
            except OSError:
                time.sleep(0.1)
                continue
            return
        raise AssertionError("server not ready before the deadline:\n" + self.output())

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the main process only; wait for it and its group; return its exit status."""
        self.process.send_signal(sig)
        return self.wait()

    def wait(self) -> int:
        try:
            code = self.process.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            raise AssertionError("server did not stop:\n" + self.output()) from None
        deadline = time.monotonic() + STOP_DEADLINE
        while group_alive(self.process.pid):
            if time.monotonic() > deadline:
                raise AssertionError("processes left running after the server exited")
            time.sleep(0.05)
        return code

    def json(self, path: str) -> Any:
        status, body = http_get(self.port, path)
        assert status == 200, (status, body)
        return json.loads(body)


def group_alive(pgid: int) -> bool:
    """True while any process of group ``pgid`` is still running (zombies count as gone)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    # killpg succeeds for zombies too; look for a live member
    proc = pathlib.Path("/proc")
    if not proc.is_dir():  # pragma: no cover - not Linux: trust killpg
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@contextlib.contextmanager
def served(
    args: Sequence[str],
    tmp_path: pathlib.Path,
    *,
    port: int,
    env: dict[str, str] | None = None,
    name: str = "server",
) -> Iterator[Served]:
    """Start ``python -m <args>`` in the checkout; kill its whole process group afterwards."""
    log = tmp_path / f"{name}.log"
    record = tmp_path / f"{name}.record"
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    environment = {
        **os.environ,
        "E2E_RECORD": str(record),
        "HOME": str(home),  # anything a server writes under ~ stays in the test's directory
        "PYTHONPATH": str(CHECKOUT),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=CHECKOUT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Served(process, port, log, record)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_DEADLINE)
