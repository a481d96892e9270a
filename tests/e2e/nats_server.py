"""A throwaway ``nats-server`` on 127.0.0.1 for the e2e tests, with a deadline on every wait.

Two free loopback ports of its own: clients (``-p``) and HTTP monitoring (``-m``), whose
``/healthz`` says when it serves and whose ``/connz`` lists the connections with their names.
Core NATS only (no JetStream): nothing is written to disk but its log in the test's directory. It
runs in a process group of its own, is killed at the end whatever happened
(``brokers.BrokerProcess``), and can be stopped and started again on the same ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pathlib
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import nats
import pytest

from tests.e2e.brokers import BrokerCase, BrokerProcess, encoded, free_ports, running
from tests.fixtures.nats_app import CLIENT_NAME, SUBJECT

__all__ = ["NATS", "NatsServer", "make_nats_server", "running_nats_server"]

SUBSCRIBED_DEADLINE = 10.0


class NatsServer(BrokerProcess):
    """One ``nats-server`` process on fixed loopback ports, and plain clients for it."""

    title = "nats-server"

    def __init__(
        self, executable: str, port: int, monitor_port: int, directory: pathlib.Path
    ) -> None:
        super().__init__(directory)
        self.executable = executable
        self.port = port
        self.monitor_port = monitor_port

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def monitor(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    def command(self) -> list[str]:
        return [
            self.executable,
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-m",
            str(self.monitor_port),
        ]

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.monitor}/healthz", timeout=1.0) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def service_env(self) -> dict[str, str]:
        return {"E2E_NATS_URL": self.url, "E2E_NATS_MONITOR": self.monitor}

    def publish(self, body: str) -> None:
        """Publish once the server knows the service's subscription (core NATS keeps nothing
        for a subscriber it does not know yet, and a client sends its SUB asynchronously).
        """
        deadline = time.monotonic() + SUBSCRIBED_DEADLINE
        while not self.service_subscribed() and time.monotonic() < deadline:
            time.sleep(0.05)

        async def publish() -> None:
            client = await nats.connect(
                self.url, connect_timeout=2, allow_reconnect=False, max_reconnect_attempts=0
            )
            try:
                await client.publish(SUBJECT, encoded(body))
                await client.flush(timeout=2)
            finally:
                await client.close()

        asyncio.run(asyncio.wait_for(publish(), 10.0))

    def connections(self) -> list[dict[str, Any]]:
        """Every connection ``/connz`` lists, with its subscriptions."""
        url = f"{self.monitor}/connz?limit=4096&subs=1"
        with urllib.request.urlopen(url, timeout=5.0) as response:
            listing = json.load(response)
        found: list[dict[str, Any]] = listing.get("connections") or []
        return found

    def connection_names(self) -> list[str]:
        """The ``name`` of every connection ``/connz`` lists."""
        return [str(c.get("name", "")) for c in self.connections()]

    def service_subscribed(self) -> bool:
        """True once a connection of the service has subscribed to ``SUBJECT``."""
        return any(
            c.get("name") == CLIENT_NAME and SUBJECT in (c.get("subscriptions_list") or [])
            for c in self.connections()
        )

    def service_connections(self) -> int:
        return self.connection_names().count(CLIENT_NAME)


def make_nats_server(tmp_path: pathlib.Path) -> NatsServer:
    """A ``nats-server`` on free ports with its directory in ``tmp_path``, not started yet."""
    executable = shutil.which("nats-server")
    if executable is None:
        pytest.fail(
            "nats-server is not on PATH; scripts/bootstrap installs it "
            "(Debian: apt-get install nats-server)"
        )
    directory = tmp_path / "nats"
    directory.mkdir()
    port, monitor_port = free_ports(2)
    return NatsServer(executable, port, monitor_port, directory)


@contextlib.contextmanager
def running_nats_server(tmp_path: pathlib.Path) -> Iterator[NatsServer]:
    """A started ``nats-server`` on free ports; killed at the end whatever happened."""
    server = make_nats_server(tmp_path)
    with running(server):
        yield server


NATS = BrokerCase(
    name="nats",
    app="tests.fixtures.nats_app:app",
    broker_class="NatsBroker",
    channel=SUBJECT,
    ping_asks_server=False,
    fails_fast=False,
    make=make_nats_server,
)
