"""One contender under a real ``asgi-core run``, on a listening socket the harness binds.

The harness binds the socket itself and hands it over with ``--fd`` (no port is raced for),
then closes its own copy, so that once the server stops listening a connect is refused rather
than queued. The app writes the id of each ``/slow`` request it starts to ``started_log``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from benchmarks.soak_apps import STARTED_LOG_ENV
from benchmarks.wire import wait_ready

__all__ = ["Server", "serve"]


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
        wait_ready(process, port, name, log)
        yield Server(name, port, process, started_log)
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
