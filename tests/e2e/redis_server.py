"""A throwaway ``redis-server`` on 127.0.0.1 for one test, with a deadline on every wait.

The server keeps nothing on disk (``--save ''``, ``--appendonly no``, its directory is the
test's), runs in a process group of its own, and is killed at the end whatever happened. It can
be stopped and started again on the same port, to take the broker away from a served app and
give it back.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest
import redis

from tests.e2e.servers import free_port

__all__ = ["RedisServer", "running_redis_server"]

READY_DEADLINE = 10.0
STOP_DEADLINE = 10.0


class RedisServer:
    """One ``redis-server`` process on a fixed loopback port, and a plain client for it."""

    def __init__(self, executable: str, port: int, directory: pathlib.Path) -> None:
        self.executable = executable
        self.port = port
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def log(self) -> str:
        path = self.directory / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self) -> redis.Redis:
        """A new synchronous client whose every call gives up after a few seconds."""
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=5.0, socket_connect_timeout=5.0
        )

    def start(self) -> None:
        """Start the server and wait until it answers PING."""
        args = [
            self.executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            "--logfile",
            str(self.directory / "redis.log"),
        ]
        self.process = subprocess.Popen(
            args,
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + READY_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"redis-server exited early ({self.process.returncode}):\n{self.log()}"
                )
            with contextlib.suppress(redis.exceptions.ConnectionError):
                with self.client() as client:
                    if client.ping():
                        return
            time.sleep(0.05)
        raise AssertionError(f"redis-server did not answer PING in time:\n{self.log()}")

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM; it saves nothing) and wait until it is gone."""
        process = self.process
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"redis-server did not stop:\n{self.log()}") from None
        self.process = None

    def kill(self) -> None:
        """Kill whatever is left of the server's process group; wait for it."""
        process = self.process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_DEADLINE)
        self.process = None

    def client_names(self) -> list[str]:
        """The ``name`` of every connection ``CLIENT LIST`` shows, ours included (unnamed)."""
        with self.client() as client:
            connections: list[dict[str, str]] = client.client_list()
        return [connection.get("name", "") for connection in connections]


@contextlib.contextmanager
def running_redis_server(tmp_path: pathlib.Path) -> Iterator[RedisServer]:
    """A started ``redis-server`` on a free port; killed at the end whatever happened."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail(
            "redis-server is not on PATH; scripts/bootstrap installs it "
            "(Debian: apt-get install redis-server)"
        )
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(executable, free_port(), directory)
    try:
        server.start()
        yield server
    finally:
        server.kill()
