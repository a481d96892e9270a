"""A real FastStream ``RedisBroker`` against a real ``redis-server``, served by ``asgi-core run``.

Each test starts its own ``redis-server`` (``redis_server.py``) and the service of
``tests/fixtures/redis_app.py`` (uvicorn, one process), and talks to Redis with a plain redis-py
client: a pushed message reaches the subscriber; ``/health`` follows Redis (204 while it answers,
500 within the ping timeout once it is gone, 204 again after it is back) while the process keeps
serving; SIGTERM lets the handler in flight finish, runs the shutdown hooks and leaves no
connection of ours on the Redis side; a service whose Redis is gone still stops cleanly.
"""

from __future__ import annotations

import contextlib
import pathlib
import time
from collections.abc import Iterator

import pytest

from tests.e2e.redis_server import RedisServer, running_redis_server
from tests.e2e.servers import Served, http_get, served
from tests.fixtures.redis_app import CLIENT_NAME, LIST, PING_TIMEOUT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

APP = "tests.fixtures.redis_app:app"
WAIT_DEADLINE = 15.0
GRACE = 4.0  # beyond the ping timeout, for the request itself on a busy machine


@pytest.fixture
def redis_server(tmp_path: pathlib.Path) -> Iterator[RedisServer]:
    with running_redis_server(tmp_path) as server:
        yield server


@contextlib.contextmanager
def service(redis_server: RedisServer, tmp_path: pathlib.Path) -> Iterator[Served]:
    """``asgi-core run`` of the Redis service, ready to answer; killed at the end."""
    args = ["asgi_core", "run", APP, "--port", "0"]
    # warnings are errors in the service too, as in pytest: FastStream's broker under our core
    # must not warn
    env = {"E2E_REDIS_URL": redis_server.url, "PYTHONWARNINGS": "error"}
    with served(args, tmp_path, port=0, env=env) as proc:
        proc.wait_ready("/ready")
        yield proc


def wait_until_health(proc: Served, status: int) -> int:
    """Ask ``/health`` until it answers ``status`` or the deadline passes; the last answer."""
    deadline = time.monotonic() + WAIT_DEADLINE
    while True:
        answer, _ = http_get(proc.port, "/health", timeout=PING_TIMEOUT + GRACE)
        if answer == status or time.monotonic() > deadline:
            return answer
        time.sleep(0.1)


def service_connections(redis_server: RedisServer) -> int:
    """How many connections named by the service ``CLIENT LIST`` shows."""
    return redis_server.client_names().count(CLIENT_NAME)


def test_redis_broker_message_pushed_by_a_plain_client_reaches_the_subscriber(
    redis_server: RedisServer, tmp_path: pathlib.Path
) -> None:
    with service(redis_server, tmp_path) as proc:
        with redis_server.client() as client:
            client.rpush(LIST, b"order-1")
        consumed = proc.wait_for_lines("handled", 1)
        assert proc.stop() == 0
    assert [line.split(" pid=")[0] for line in consumed] == ["handled order-1"]
    assert proc.lines("consumed")[0].startswith("consumed order-1 ")


def test_redis_broker_health_answers_204_while_redis_answers_and_the_connections_are_named(
    redis_server: RedisServer, tmp_path: pathlib.Path
) -> None:
    with service(redis_server, tmp_path) as proc:
        status, body = http_get(proc.port, "/health", timeout=PING_TIMEOUT + GRACE)
        assert (status, body) == (204, b"")
        assert service_connections(redis_server) >= 1
        assert proc.stop() == 0


def test_redis_broker_health_answers_500_while_redis_is_down_and_204_after_it_is_back(
    redis_server: RedisServer, tmp_path: pathlib.Path
) -> None:
    with service(redis_server, tmp_path) as proc:
        assert wait_until_health(proc, 204) == 204
        redis_server.stop()
        # the first probe after Redis went away already fails, bounded by the route's own limit
        status, body = http_get(proc.port, "/health", timeout=PING_TIMEOUT + GRACE)
        assert (status, body) == (500, b"")
        assert proc.process.poll() is None
        assert http_get(proc.port, "/ready")[0] == 204  # still serving, still started
        assert "health check failed: RedisBroker.ping()" in proc.output()
        redis_server.start()  # same port: the broker reconnects by itself
        assert wait_until_health(proc, 204) == 204
        assert proc.stop() == 0


def test_redis_broker_sigterm_drains_the_handler_in_flight_and_closes_every_connection(
    redis_server: RedisServer, tmp_path: pathlib.Path
) -> None:
    with service(redis_server, tmp_path) as proc:
        assert (
            service_connections(redis_server) >= 1
        )  # the check below would otherwise prove nothing
        with redis_server.client() as client:
            client.rpush(LIST, b"slow")
        assert len(proc.wait_for_lines("consumed", 1)) == 1
        assert proc.stop() == 0
    # the handler was in flight when the shutdown began (it waits for on_shutdown), was not
    # cancelled, and broker.stop() returned only after it had finished; after_shutdown counted
    # the service's connections while the process was still alive: stop() closed them, not exit
    assert [line.split(" pid=")[0] for line in proc.records()] == [
        "startup",
        "consumed slow",
        "shutdown",
        "handled slow",
        "closed connections=0",
    ]
    assert service_connections(redis_server) == 0


def test_redis_broker_service_whose_redis_is_gone_still_stops_on_sigterm(
    redis_server: RedisServer, tmp_path: pathlib.Path
) -> None:
    with service(redis_server, tmp_path) as proc:
        redis_server.stop()
        assert wait_until_health(proc, 500) == 500
        assert proc.stop() == 0
    assert [line.split(" pid=")[0] for line in proc.records()] == [
        "startup",
        "shutdown",
        "closed connections=unknown",
    ]
