"""Real brokers for the end-to-end tests: a throwaway server process each, one set of checks.

``BrokerProcess`` is what ``redis_server.py``, ``nats_server.py`` and ``rabbitmq_server.py`` have
in common: a broker server on loopback ports of its own, in a process group of its own, keeping
its files in the test's directory, with a deadline on every wait; it can be stopped (SIGTERM)
or killed (SIGKILL) and started again on the same ports, and ``running`` kills it at the end
whatever happened. Each server module describes its broker with a ``BrokerCase``: the service of
``tests/fixtures/<name>_app.py`` that consumes from it and how the health log names the broker.

``shared_server`` gives the tests one server per broker for the whole session (started again for
the next test if a test took it away). ``broker_contract.BrokerContract`` holds the tests every
broker passes; ``test_<name>_broker.py`` subclass it, ``test_broker_faults.py`` parametrizes
over the cases.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.e2e.servers import Served, http_get, served
from tests.fixtures.broker_app import PING_TIMEOUT

__all__ = [
    "BrokerCase",
    "BrokerProcess",
    "encoded",
    "free_ports",
    "records",
    "running",
    "service",
    "shared_server",
    "wait_until_health",
]

READY_DEADLINE = 30.0  # RabbitMQ boots in about 5 s on an idle 2-core machine
STOP_DEADLINE = 15.0
WAIT_DEADLINE = 15.0
GRACE = 4.0  # beyond the ping timeout, for the request itself on a busy machine


def encoded(body: str) -> bytes:
    """``body`` as a message's bytes: a JSON string."""
    return json.dumps(body).encode()


def free_ports(count: int) -> list[int]:
    """``count`` distinct free loopback ports (all held open while they are chosen)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


class BrokerProcess:
    """One broker server process; subclasses say how to run it and how to ask it things."""

    #: what the server is called in messages ("redis-server")
    title = "broker"

    def __init__(self, directory: pathlib.Path) -> None:
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.started_in: float | None = None  # seconds the last start() took

    # -- what a subclass provides -------------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        """The server's environment (default: the test's)."""
        return dict(os.environ)

    def answers(self) -> bool:
        """One bounded probe: True once the server serves clients."""
        raise NotImplementedError

    def service_env(self) -> dict[str, str]:
        """What the service under test needs in its environment to reach this server."""
        raise NotImplementedError

    def publish(self, body: str) -> None:
        """Publish ``body`` where the service's subscriber consumes, with a plain client.

        The message is ``encoded(body)``: a JSON string, which FastStream 0.5 (JSON unless told
        otherwise) and 0.7 (JSON if it parses) both hand to the handler as ``body``.
        """
        raise NotImplementedError

    def service_connections(self) -> int:
        """How many connections of the service (by its client name) the server lists."""
        raise NotImplementedError

    # -- the process ----------------------------------------------------------------------------
    @property
    def log_path(self) -> pathlib.Path:
        return self.directory / "server.log"

    def log(self) -> str:
        path = self.log_path
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the server and wait until it answers, or fail with its log."""
        began = time.monotonic()
        with open(self.log_path, "ab") as output:
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.directory,
                env=self.environment(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = began + READY_DEADLINE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                code = self.process.returncode
                self.process = None
                raise AssertionError(f"{self.title} exited early ({code}):\n{self.log()}")
            if self.answers():
                self.started_in = time.monotonic() - began
                return
            time.sleep(0.05)
        self.kill()
        raise AssertionError(
            f"{self.title} did not answer within {READY_DEADLINE} s:\n{self.log()}"
        )

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM) and wait until it is gone."""
        process = self.process
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_DEADLINE)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.title} did not stop on SIGTERM:\n{self.log()}") from None
        self.kill()  # whatever of its group is left
        self.process = None

    def kill(self) -> None:
        """Kill the server's whole process group at once (SIGKILL); wait for it."""
        process = self.process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_DEADLINE)
        self.process = None

    def close(self) -> None:
        """Kill the server and anything it needs besides (``kill`` keeps what a restart needs)."""
        self.kill()


@dataclass(frozen=True)
class BrokerCase:
    """One broker kind as the tests meet it."""

    name: str  # test ids: "redis"
    app: str  # the service, "tests.fixtures.redis_app:app"
    broker_class: str  # as the health log names it: "RedisBroker"
    channel: str  # where the service's subscriber consumes: the list, subject or queue
    # True when broker.ping() asks the server (Redis's PING), so the first probe after the server
    # went away fails; False when it reads the client's connection state (NATS, RabbitMQ)
    ping_asks_server: bool
    # True when its client raises at once if the server refuses connections at startup
    # (RabbitMQ's fail_fast); False when it retries and our startup_timeout ends the step
    fails_fast: bool
    make: Callable[[pathlib.Path], BrokerProcess]  # a server not started yet, in that directory


@contextlib.contextmanager
def running(server: BrokerProcess) -> Iterator[BrokerProcess]:
    """``server`` started; closed at the end whatever happened."""
    try:
        server.start()
        yield server
    finally:
        server.close()


_SHARED = pytest.StashKey[dict[str, BrokerProcess]]()


def shared_server(case: BrokerCase, request: pytest.FixtureRequest) -> BrokerProcess:
    """The test session's server for ``case``, running: started on first use (RabbitMQ takes
    seconds to boot) and again if an earlier test took it away; closed when the session ends.
    """
    servers = request.config.stash.setdefault(_SHARED, {})
    server = servers.get(case.name)
    if server is None:
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        server = servers[case.name] = case.make(factory.mktemp(case.name))
        request.config.add_cleanup(server.close)
    if not server.running:
        server.start()
    return server


@contextlib.contextmanager
def service(
    case: BrokerCase,
    server: BrokerProcess,
    tmp_path: pathlib.Path,
    env: dict[str, str] | None = None,
    *,
    wait: bool = True,
) -> Iterator[Served]:
    """``asgi-core run`` of the case's service against ``server``; killed at the end.

    With ``wait`` (the default) it is ready to answer when the block starts.
    """
    args = ["asgi_core", "run", case.app, "--port", "0"]
    # warnings are errors in the service too, as in pytest: FastStream's broker under our core
    # must not warn
    environment = {**server.service_env(), "PYTHONWARNINGS": "error", **(env or {})}
    with served(args, tmp_path, port=0, env=environment, name=f"{case.name}-service") as proc:
        if wait:
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


def records(proc: Served) -> list[str]:
    """The service's record lines without their ``pid=`` suffix."""
    return [line.split(" pid=")[0] for line in proc.records()]
