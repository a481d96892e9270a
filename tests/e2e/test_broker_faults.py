"""Brokers failing under a served app, on every real broker the e2e tests start (issue 13).

For Redis, NATS and RabbitMQ alike (``BrokerCase``), with the fixture service of
``tests/fixtures/<name>_app.py`` served by ``asgi-core run`` (uvicorn, one process):

- the broker unreachable at startup (its server never started, nothing listens on its port):
  the startup fails within ``startup_timeout`` (short here, ``E2E_STARTUP_TIMEOUT``), the log
  names the failing step and the broker, and the process exits with status 3 as the README
  documents. RabbitMQ's client fails at once (``fail_fast``); NATS's and Redis's clients retry,
  and our ``startup_timeout`` ends the step, as the log says;
- the broker killed (SIGKILL, no goodbye to its clients) while requests are served: the HTTP
  routes keep answering 200 throughout, ``/health`` turns 500 within the ping timeout, ``/ready``
  stays 204 (the README: 204 from the end of startup to the start of shutdown, whatever the
  broker does);
- the broker back on the same port: ``/health`` answers 204 again, a message published then is
  consumed, and SIGTERM still stops the service cleanly.
"""

from __future__ import annotations

import contextlib
import pathlib
import threading
import time
from collections.abc import Iterator

import pytest

from tests.e2e.broker_contract import first_failing_health
from tests.e2e.brokers import (
    WAIT_DEADLINE,
    BrokerCase,
    BrokerProcess,
    records,
    service,
    shared_server,
    wait_until_health,
)
from tests.e2e.nats_server import NATS
from tests.e2e.rabbitmq_server import RABBITMQ
from tests.e2e.redis_server import REDIS
from tests.e2e.servers import Served, http_get

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# below FastStream's own 3 s limit on a Redis subscriber's start, so that ours ends the step
STARTUP_TIMEOUT = 2.0
REPUBLISH_EVERY = 1.0  # NATS keeps nothing for a subscriber not yet back; RabbitMQ drops a
# message published before the queue is declared again


@pytest.fixture(params=[REDIS, NATS, RABBITMQ], ids=lambda case: case.name)
def case(request: pytest.FixtureRequest) -> BrokerCase:
    chosen: BrokerCase = request.param
    return chosen


def test_broker_unreachable_at_startup_fails_the_startup_naming_the_broker(
    case: BrokerCase, tmp_path: pathlib.Path
) -> None:
    server = case.make(tmp_path)  # never started: its port refuses connections
    env = {"E2E_STARTUP_TIMEOUT": str(STARTUP_TIMEOUT)}
    with service(case, server, tmp_path, env, wait=False) as proc:
        code = proc.wait()  # bounded: fails the test if the process does not exit
    output = proc.output()
    assert code == 3, output
    assert f"startup failed in broker.start() of {case.broker_class}" in output
    ended_by_our_limit = (
        f"startup step broker.start() of {case.broker_class} did not finish within "
        f"{STARTUP_TIMEOUT:g} s and was cancelled"
    )
    assert (ended_by_our_limit in output) is not case.fails_fast, output[-3000:]
    # on_startup ran before the broker; shutdown hooks belong to a completed startup
    assert records(proc) == ["startup"]


@contextlib.contextmanager
def requesting(port: int, path: str) -> Iterator[list[str]]:
    """GET ``path`` over and over in a thread while the block runs; each status (or error)."""
    answers: list[str] = []
    done = threading.Event()

    def ask() -> None:
        while not done.is_set():
            try:
                answers.append(str(http_get(port, path, timeout=5.0)[0]))
            except OSError as exc:
                answers.append(repr(exc))
            time.sleep(0.02)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    try:
        yield answers
    finally:
        done.set()
        thread.join(timeout=10.0)


def more_answers(answers: list[str], count: int) -> list[str]:
    """The answers that arrive from now on, once there are ``count`` of them (bounded wait)."""
    start = len(answers)
    deadline = time.monotonic() + WAIT_DEADLINE
    while len(answers) - start < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return answers[start:]


def consumed_after_publishing(server: BrokerProcess, proc: Served) -> list[str]:
    """Publish ``back-1``, ``back-2``... until the service handled one (bounded); its records."""
    deadline = time.monotonic() + WAIT_DEADLINE
    sent = 0
    while time.monotonic() < deadline and not proc.lines("handled"):
        sent += 1
        with contextlib.suppress(Exception):  # the broker may still be settling after its restart
            server.publish(f"back-{sent}")
        proc.wait_for_lines("handled", 1, within=REPUBLISH_EVERY)
    return records(proc)


def test_broker_killed_while_serving_then_back_is_followed_by_health_and_consumed_again(
    case: BrokerCase, tmp_path: pathlib.Path, request: pytest.FixtureRequest
) -> None:
    server = shared_server(case, request)
    with service(case, server, tmp_path) as proc:
        assert wait_until_health(proc, 204) == 204
        with requesting(proc.port, "/hello") as answers:
            server.kill()
            assert first_failing_health(proc.port) == (500, b"")
            assert http_get(proc.port, "/ready")[0] == 204
            # requests answered while the broker is known to be gone
            assert len(more_answers(answers, 3)) >= 3
            server.start()
            assert wait_until_health(proc, 204) == 204
        assert set(answers) == {"200"}, answers
        after = consumed_after_publishing(server, proc)
        assert any(line.startswith("handled back-") for line in after), after
        assert proc.stop() == 0
    output = proc.output()
    assert f"health check failing: {case.broker_class}.ping()" in output
    assert f"health check recovered: {case.broker_class}.ping()" in output
    assert records(proc)[-2:] == ["shutdown", "closed connections=0"]
