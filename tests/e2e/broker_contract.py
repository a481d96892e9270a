"""The end-to-end tests every real broker passes, written once: ``test_<name>_broker.py`` subclass.

A subclass names its ``BrokerCase``; its tests share the session's server for that broker
(``brokers.shared_server``: RabbitMQ takes seconds to boot), started again before a test if an
earlier one took it away. Each test serves the case's fixture app with ``asgi-core run``
(uvicorn, one process):

- a message published by a plain client reaches the FastStream subscriber;
- ``/health`` answers 204 while the broker answers, and the server lists the service's connection;
- ``/health`` turns 500 once the broker is gone, within the ping timeout, while the process keeps
  serving and ``/ready`` stays 204 (still started), and 204 again after it is back;
- SIGTERM lets the handler in flight finish before ``broker.stop()``, and leaves no connection of
  the service on the server (counted by the server while the service was still alive);
- a service whose broker is gone still stops cleanly on SIGTERM (run last: it leaves the server
  stopped).
"""

from __future__ import annotations

import pathlib
import time
from typing import ClassVar

import pytest

from tests.e2e.brokers import (
    GRACE,
    BrokerCase,
    BrokerProcess,
    records,
    service,
    shared_server,
    wait_until_health,
)
from tests.e2e.servers import http_get
from tests.fixtures.broker_app import PING_TIMEOUT

__all__ = ["BrokerContract"]


class BrokerContract:
    """Tests for ``case``'s broker; collected through subclasses named ``Test...``."""

    case: ClassVar[BrokerCase]

    @pytest.fixture
    def server(self, request: pytest.FixtureRequest) -> BrokerProcess:
        return shared_server(self.case, request)

    def test_message_published_by_a_plain_client_reaches_the_subscriber(
        self, server: BrokerProcess, tmp_path: pathlib.Path
    ) -> None:
        with service(self.case, server, tmp_path) as proc:
            server.publish("order-1")
            consumed = proc.wait_for_lines("handled", 1)
            assert proc.stop() == 0
        assert [line.split(" pid=")[0] for line in consumed] == ["handled order-1"]
        assert proc.lines("consumed")[0].startswith("consumed order-1 ")

    def test_health_answers_204_while_the_broker_answers_and_the_connections_are_named(
        self, server: BrokerProcess, tmp_path: pathlib.Path
    ) -> None:
        with service(self.case, server, tmp_path) as proc:
            status, body = http_get(proc.port, "/health", timeout=PING_TIMEOUT + GRACE)
            assert (status, body) == (204, b"")
            assert server.service_connections() >= 1
            assert proc.stop() == 0

    def test_health_answers_500_while_the_broker_is_down_and_204_after_it_is_back(
        self, server: BrokerProcess, tmp_path: pathlib.Path
    ) -> None:
        with service(self.case, server, tmp_path) as proc:
            assert wait_until_health(proc, 204) == 204
            server.stop()
            if self.case.ping_asks_server:
                # the first probe after the broker went away already fails, bounded by the
                # route's own limit
                status, body = http_get(proc.port, "/health", timeout=PING_TIMEOUT + GRACE)
            else:
                # the ping reads the client's connection state: it fails once the client has
                # noticed, which it does at once when the server closes the socket
                status, body = first_failing_health(proc.port)
            assert (status, body) == (500, b"")
            assert proc.process.poll() is None
            assert http_get(proc.port, "/ready")[0] == 204  # still serving, still started
            assert f"health check failing: {self.case.broker_class}.ping()" in proc.output()
            server.start()  # same ports: the broker reconnects by itself
            assert wait_until_health(proc, 204) == 204
            assert proc.stop() == 0
        assert f"health check recovered: {self.case.broker_class}.ping()" in proc.output()

    def test_sigterm_drains_the_handler_in_flight_and_closes_every_connection(
        self, server: BrokerProcess, tmp_path: pathlib.Path
    ) -> None:
        with service(self.case, server, tmp_path) as proc:
            # the check below would otherwise prove nothing
            assert server.service_connections() >= 1
            server.publish("slow")
            assert len(proc.wait_for_lines("consumed", 1)) == 1
            assert proc.stop() == 0
        # the handler was in flight when the shutdown began (it waits for on_shutdown), was not
        # cancelled, and broker.stop() returned only after it had finished; after_shutdown
        # counted the service's connections while the process was still alive: stop() closed
        # them, not exit
        assert records(proc) == [
            "startup",
            "consumed slow",
            "shutdown",
            "handled slow",
            "closed connections=0",
        ]
        assert server.service_connections() == 0

    def test_docs_json_lists_the_channel_the_subscriber_consumes(
        self, server: BrokerProcess, tmp_path: pathlib.Path
    ) -> None:
        with service(self.case, server, tmp_path) as proc:
            document = proc.json("/docs.json")
            assert proc.stop() == 0
        addresses = [channel.get("address") for channel in document["channels"].values()]
        assert self.case.channel in addresses, document
        assert document["servers"], document

    def test_service_whose_broker_is_gone_still_stops_on_sigterm(
        self, server: BrokerProcess, tmp_path: pathlib.Path
    ) -> None:
        with service(self.case, server, tmp_path) as proc:
            server.stop()
            assert wait_until_health(proc, 500) == 500
            assert proc.stop() == 0
        assert records(proc) == ["startup", "shutdown", "closed connections=unknown"]


def first_failing_health(port: int) -> tuple[int, bytes]:
    """``/health`` asked until it fails, for at most the ping timeout; the last answer."""
    deadline = time.monotonic() + PING_TIMEOUT + GRACE
    while True:
        answer = http_get(port, "/health", timeout=PING_TIMEOUT + GRACE)
        if answer[0] != 204 or time.monotonic() > deadline:
            return answer
        time.sleep(0.05)
