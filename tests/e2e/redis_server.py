"""A throwaway ``redis-server`` on 127.0.0.1 for the e2e tests, with a deadline on every wait.

The server keeps nothing on disk (``--save ''``, ``--appendonly no``, its directory is the
test's), runs in a process group of its own, and is killed at the end whatever happened
(``brokers.BrokerProcess``). It can be stopped and started again on the same port, to take the
broker away from a served app and give it back.
"""

from __future__ import annotations

import contextlib
import pathlib
import shutil
from collections.abc import Iterator

import pytest
import redis

from tests.e2e.brokers import BrokerCase, BrokerProcess, encoded, running
from tests.e2e.servers import free_port
from tests.fixtures.redis_app import CLIENT_NAME, LIST

__all__ = ["REDIS", "RedisServer", "make_redis_server", "running_redis_server"]


class RedisServer(BrokerProcess):
    """One ``redis-server`` process on a fixed loopback port, and a plain client for it."""

    title = "redis-server"

    def __init__(self, executable: str, port: int, directory: pathlib.Path) -> None:
        super().__init__(directory)
        self.executable = executable
        self.port = port

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        """A new synchronous client whose every call gives up after a few seconds."""
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=5.0, socket_connect_timeout=5.0
        )

    def command(self) -> list[str]:
        return [
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
        ]

    def answers(self) -> bool:
        with contextlib.suppress(redis.exceptions.ConnectionError):
            with self.client() as client:
                return bool(client.ping())
        return False

    def service_env(self) -> dict[str, str]:
        return {"E2E_REDIS_URL": self.url}

    def publish(self, body: str) -> None:
        with self.client() as client:
            client.rpush(LIST, encoded(body))

    def client_names(self) -> list[str]:
        """The ``name`` of every connection ``CLIENT LIST`` shows, ours included (unnamed)."""
        with self.client() as client:
            connections: list[dict[str, str]] = client.client_list()
        return [connection.get("name", "") for connection in connections]

    def service_connections(self) -> int:
        return self.client_names().count(CLIENT_NAME)


def make_redis_server(tmp_path: pathlib.Path) -> RedisServer:
    """A ``redis-server`` on a free port with its directory in ``tmp_path``, not started yet."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail(
            "redis-server is not on PATH; scripts/bootstrap installs it "
            "(Debian: apt-get install redis-server)"
        )
    directory = tmp_path / "redis"
    directory.mkdir()
    return RedisServer(executable, free_port(), directory)


@contextlib.contextmanager
def running_redis_server(tmp_path: pathlib.Path) -> Iterator[RedisServer]:
    """A started ``redis-server`` on a free port; killed at the end whatever happened."""
    server = make_redis_server(tmp_path)
    with running(server):
        yield server


REDIS = BrokerCase(
    name="redis",
    app="tests.fixtures.redis_app:app",
    broker_class="RedisBroker",
    channel=LIST,
    ping_asks_server=True,
    fails_fast=False,
    make=make_redis_server,
)
