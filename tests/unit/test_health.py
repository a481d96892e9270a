"""Health routes: the broker ping (liveness) and the lifespan-based readiness view."""

from __future__ import annotations

import importlib
import logging
from typing import Any

import pytest

from asgi_core import AsgiFastStream
from asgi_core._concurrency import new_event
from asgi_core.health import make_ping_asgi, make_ready_asgi
from asgi_core.testing import Client, LifespanManager

pytestmark = pytest.mark.anyio


class PingBroker:
    """A broker whose ping does what the test says: return a value, raise, or hang."""

    def __init__(self, outcome: Any = True) -> None:
        self.outcome = outcome
        self.timeouts: list[float | None] = []

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def ping(self, timeout: float | None) -> Any:
        self.timeouts.append(timeout)
        if self.outcome == "hang":
            await hang_forever()
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


async def hang_forever() -> None:
    await new_event().wait()  # nobody sets it


async def test_health_ping_true_is_204_with_an_empty_body() -> None:
    broker = PingBroker(True)
    response = await Client(make_ping_asgi(broker, timeout=3.0)).get("/")
    assert (response.status_code, response.body) == (204, b"")
    assert broker.timeouts == [3.0]


@pytest.mark.parametrize("outcome", [False, None, 0])
async def test_health_ping_false_is_500(outcome: Any) -> None:
    response = await Client(make_ping_asgi(PingBroker(outcome))).get("/")
    assert (response.status_code, response.body) == (500, b"")


async def test_health_ping_raising_is_500_without_the_exception_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = PingBroker(ConnectionError("amqp://user:hunter2@db"))
    with caplog.at_level(logging.WARNING, logger="asgi_core.health"):
        response = await Client(make_ping_asgi(broker)).get("/")
    assert (response.status_code, response.body) == (500, b"")
    assert b"hunter2" not in b"".join(v for _, v in response.raw_headers)
    assert "raised ConnectionError" in caplog.text


async def test_health_ping_that_hangs_is_500_after_the_timeout() -> None:
    response = await Client(make_ping_asgi(PingBroker("hang"), timeout=0.05)).get("/")
    assert response.status_code == 500


async def test_health_ping_serves_head_and_refuses_post() -> None:
    app = make_ping_asgi(PingBroker(True))
    assert (await Client(app).head("/")).status_code == 204
    refused = await Client(app).post("/")
    assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")


def test_health_ping_needs_a_broker_with_ping() -> None:
    with pytest.raises(TypeError, match=r"needs a broker with an async ping\(timeout\)"):
        make_ping_asgi(object())


@pytest.mark.parametrize("timeout", [0, -1.0, True])
def test_health_ping_refuses_a_bad_timeout(timeout: float) -> None:
    with pytest.raises(ValueError, match="positive number of seconds"):
        make_ping_asgi(PingBroker(), timeout=timeout)


def test_health_routes_carry_schema_info() -> None:
    route = make_ping_asgi(PingBroker(), include_in_schema=False, description="d", tags=["ops"])
    assert route.route_info.include_in_schema is False
    assert route.route_info.description == "d"
    assert route.route_info.tags == ("ops",)


async def test_health_ready_is_503_before_204_during_and_503_while_shutting_down() -> None:
    seen: list[int] = []
    app = AsgiFastStream(PingBroker())
    ready = make_ready_asgi(app)
    app.mount("/ready", ready)

    @app.on_startup
    async def during_startup() -> None:
        seen.append((await Client(app).get("/ready")).status_code)

    @app.on_shutdown
    async def during_shutdown() -> None:
        seen.append((await Client(app).get("/ready")).status_code)

    assert (await Client(app).get("/ready")).status_code == 503
    async with LifespanManager(app):
        assert (await Client(app).get("/ready")).status_code == 204
    assert seen == [503, 503]
    assert (await Client(app).get("/ready")).status_code == 503


def test_health_ready_needs_the_application() -> None:
    with pytest.raises(TypeError, match="needs the application"):
        make_ready_asgi(object())  # type: ignore[arg-type]


# -- the ping is looked up per request (#9) -------------------------------------------------------


async def test_health_ping_replaced_after_the_route_was_built_is_the_one_called() -> None:
    broker = PingBroker(True)
    client = Client(make_ping_asgi(broker, timeout=2.0))
    calls: list[float | None] = []

    async def failing(timeout: float | None) -> bool:
        calls.append(timeout)
        return False

    broker.ping = failing  # type: ignore[method-assign]
    assert (await client.get("/")).status_code == 500
    assert calls == [2.0] and broker.timeouts == []


async def test_health_ping_replaced_by_a_hanging_one_is_still_bounded() -> None:
    broker = PingBroker(True)
    client = Client(make_ping_asgi(broker, timeout=0.05))
    broker.outcome = "hang"
    assert (await client.get("/")).status_code == 500


async def test_health_ping_under_faststream_test_redis_broker() -> None:
    fs_redis: Any = importlib.import_module("faststream.redis")  # mypy crashes on faststream
    RedisBroker, TestRedisBroker = fs_redis.RedisBroker, fs_redis.TestRedisBroker

    broker = RedisBroker("redis://127.0.0.1:1")  # nothing listens: only the test broker answers
    client = Client(make_ping_asgi(broker, timeout=1.0))
    async with TestRedisBroker(broker) as patched:
        assert (await client.get("/health")).status_code == 204

        async def failing(timeout: float | None) -> bool:
            return False

        patched.ping = failing
        assert (await client.get("/health")).status_code == 500


# -- logging: changes of state and one reminder per interval (#9) ---------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def health_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "asgi_core.health"]


async def test_health_logs_the_start_of_an_outage_once_then_one_reminder_per_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker, clock = PingBroker(ConnectionError("refused")), FakeClock()
    client = Client(make_ping_asgi(broker, log_interval=30.0, clock=clock))
    with caplog.at_level(logging.INFO, logger="asgi_core.health"):
        for _ in range(50):  # 50 probes in the first 29 s: one line
            assert (await client.get("/")).status_code == 500
            clock.now += 0.5
        assert health_lines(caplog) == [
            ("WARNING", "health check failing: PingBroker.ping() raised ConnectionError: refused")
        ]
        clock.now = 1000.0 + 30.0
        await client.get("/")
        await client.get("/")
    lines = health_lines(caplog)
    assert len(lines) == 2
    assert lines[1] == (
        "WARNING",
        "health check still failing after 30.0 s (50 more failed probes): "
        "PingBroker.ping() raised ConnectionError: refused",
    )


async def test_health_logs_the_recovery_with_the_outage_length(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker, clock = PingBroker(False), FakeClock()
    client = Client(make_ping_asgi(broker, clock=clock))
    with caplog.at_level(logging.INFO, logger="asgi_core.health"):
        await client.get("/")
        clock.now += 12.5
        broker.outcome = True
        assert (await client.get("/")).status_code == 204
        await client.get("/")  # healthy again: nothing more
        broker.outcome = False
        await client.get("/")  # a new outage is announced again
    assert health_lines(caplog) == [
        ("WARNING", "health check failing: PingBroker.ping() returned False"),
        (
            "INFO",
            "health check recovered: PingBroker.ping() answers again after 12.5 s of failures",
        ),
        ("WARNING", "health check failing: PingBroker.ping() returned False"),
    ]


async def test_health_healthy_probes_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="asgi_core.health"):
        await Client(make_ping_asgi(PingBroker(True))).get("/")
    assert health_lines(caplog) == []


@pytest.mark.parametrize("interval", [-1.0, True, float("nan")])
def test_health_ping_refuses_a_bad_log_interval(interval: float) -> None:
    with pytest.raises(ValueError, match="log_interval must be"):
        make_ping_asgi(PingBroker(), log_interval=interval)


# -- the ping route answers in one frame and keeps every HandlerApp rule (#12) -----------------


async def test_health_ping_sends_fresh_messages_on_every_probe() -> None:
    from tests.harness import http_scope

    app = make_ping_asgi(PingBroker(True))
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        raise AssertionError("the ping reads no request")

    await app(http_scope("/"), receive, send)
    sent[0]["headers"].append((b"x-leak", b"1"))
    sent[0]["status"] = 599
    await app(http_scope("/"), receive, send)
    assert sent[2] == {
        "type": "http.response.start",
        "status": 204,
        "headers": [(b"cache-control", b"no-store")],
    }
    assert sent[3] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert sent[2]["headers"] is not sent[0]["headers"]


async def test_health_ping_500_has_a_zero_content_length_and_head_an_empty_body() -> None:
    client = Client(make_ping_asgi(PingBroker(False)))
    for response in (await client.get("/"), await client.head("/")):
        assert (response.status_code, response.body) == (500, b"")
        assert response.headers["content-length"] == "0"
        assert response.headers["cache-control"] == "no-store"


async def test_health_ping_handler_answers_the_probe_as_a_response() -> None:
    broker = PingBroker(True)
    route = make_ping_asgi(broker, timeout=1.5)
    assert (await route.handler()).status_code == 204
    broker.outcome = False
    assert (await route.handler()).status_code == 500
    assert broker.timeouts == [1.5, 1.5]


async def test_health_ping_refuses_websocket_lifespan_and_bad_scopes_as_every_route() -> None:
    from asgi_core import ScopeError
    from tests.harness import communicate, websocket_scope

    app = make_ping_asgi(PingBroker(True))
    async with communicate(app, websocket_scope("/")) as comm:
        await comm.wait_done()
    assert comm.sent_types() == ["websocket.close"]
    async with LifespanManager(app):  # answered at once: nothing to start
        pass
    with pytest.raises(ScopeError):
        await app("http", None, None)  # type: ignore[arg-type]


async def test_health_ping_of_several_brokers_stops_at_the_first_failure() -> None:
    first, second, third = PingBroker(True), PingBroker(False), PingBroker(True)
    response = await Client(make_ping_asgi(first, second, third, timeout=2.0)).get("/")
    assert response.status_code == 500
    assert (first.timeouts, second.timeouts, third.timeouts) == ([2.0], [2.0], [])
