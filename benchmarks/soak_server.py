"""One contender under a real ``asgi-core run``, on a listening socket the harness binds.

The harness binds the socket itself and hands it over with ``--fd`` (no port is raced for),
then closes its own copy, so that once the server stops listening a connect is refused rather
than queued. The app writes the id of each ``/slow`` request it starts to ``started_log``.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fixtures import MISS_PATH
from benchmarks.soak_apps import STARTED_LOG_ENV

__all__ = ["Server", "serve"]


def _status(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    started_log: Path

    def started(self) -> set[str]:
        return set(self.started_log.read_text(encoding="ascii").split())


@contextlib.contextmanager
def serve(factory: str, name: str, cwd: Path, work: Path) -> Iterator[Server]:
    """``asgi-core run --factory FACTORY --fd N`` for contender ``name``; yield once it answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.bind(("127.0.0.1", 0))
    listener.listen(2048)
    port: int = listener.getsockname()[1]
    started_log = work / f"{name}.started"
    started_log.touch()
    log = work / f"{name}.log"
    command = [
        *(sys.executable, "-m", "asgi_core", "run", "--factory", factory),
        *("--fd", str(listener.fileno()), "--log-level", "warning"),
        *("--timeout-graceful-shutdown", "10"),
    ]
    environment = {**os.environ, STARTED_LOG_ENV: str(started_log)}
    with log.open("wb") as output, listener:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
            pass_fds=[listener.fileno()],
            env=environment,
        )
    # The harness's copy is closed: once the server stops listening, connects are refused.
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}: {log.read_text()}")
            try:
                _status(port, MISS_PATH)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not ready after 30 s: {log.read_text()}") from None
                time.sleep(0.1)
        yield Server(name, port, process, started_log)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
