"""The lifespan driver against the real app, through the in-memory harness."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from asgi_core import AsgiFastStream, HookError, HookTimeoutError, MessageError
from asgi_core.exceptions import LifespanProtocolError
from tests.harness import communicate, lifespan_scope

pytestmark = pytest.mark.anyio

STARTUP = {"type": "lifespan.startup"}
SHUTDOWN = {"type": "lifespan.shutdown"}


class Broker:
    """A broker that records its calls into a shared event list."""

    def __init__(self, events: list[str], fail_start: bool = False, fail_close: bool = False):
        self.events = events
        self.fail_start = fail_start
        self.fail_close = fail_close

    async def start(self) -> None:
        self.events.append("broker.start")
        await anyio.sleep(0)
        if self.fail_start:
            raise ConnectionError("broker unreachable")
        self.events.append("broker.started")

    async def close(self) -> None:
        self.events.append("broker.close")
        if self.fail_close:
            raise ConnectionError("close failed")


def recorder(events: list[str], name: str, error: Exception | None = None) -> Callable[[], Any]:
    async def hook() -> None:
        await anyio.sleep(0)
        events.append(name)
        if error is not None:
            raise error

    hook.__qualname__ = name
    return hook


def make_app(events: list[str], **kwargs: Any) -> AsgiFastStream:
    broker = kwargs.pop("broker", Broker(events))
    app = AsgiFastStream(broker, **kwargs)
    for stage in ("on_startup", "after_startup", "on_shutdown", "after_shutdown"):
        getattr(app, stage)(recorder(events, stage))
    return app


async def test_lifespan_startup_complete_is_sent_after_every_startup_step() -> None:
    events: list[str] = []
    app = make_app(events)
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        assert await comm.get() == {"type": "lifespan.startup.complete"}
        assert events == ["on_startup", "broker.start", "broker.started", "after_startup"]
        await comm.put(SHUTDOWN)
        assert await comm.get() == {"type": "lifespan.shutdown.complete"}
        await comm.wait_done()
    assert events[4:] == ["on_shutdown", "broker.close", "after_shutdown"]
    assert comm.error is None
    assert comm.sent_types() == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


@pytest.mark.parametrize(
    ("failing", "expected_events"),
    [
        ("on_startup", ["on_startup"]),
        ("broker", ["on_startup", "broker.start", "broker.close"]),
        (
            "after_startup",
            ["on_startup", "broker.start", "broker.started", "after_startup", "broker.close"],
        ),
    ],
)
async def test_lifespan_startup_failure_undoes_what_started_and_reraises_the_original(
    failing: str, expected_events: list[str]
) -> None:
    events: list[str] = []
    error = RuntimeError(f"{failing} exploded")
    broker = Broker(events, fail_start=failing == "broker")
    app = AsgiFastStream(broker)
    app.on_startup(recorder(events, "on_startup", error if failing == "on_startup" else None))
    app.after_startup(
        recorder(events, "after_startup", error if failing == "after_startup" else None)
    )
    app.on_shutdown(recorder(events, "on_shutdown"))
    app.after_shutdown(recorder(events, "after_shutdown"))
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        reply = await comm.get()
        await comm.wait_done()
    assert reply["type"] == "lifespan.startup.failed"
    step = {
        "on_startup": "on_startup hook",
        "broker": "broker.start() of Broker",
        "after_startup": "after_startup hook",
    }[failing]
    assert f"startup failed in {step}" in reply["message"]
    assert "Traceback (most recent call last)" in reply["message"]
    assert events == expected_events  # shutdown hooks belong to a completed startup
    assert comm.sent_types() == ["lifespan.startup.failed"]
    if failing == "broker":
        assert isinstance(comm.error, ConnectionError)
    else:
        assert comm.error is error


async def test_lifespan_startup_failure_message_carries_the_exception_chain() -> None:
    async def connect() -> None:
        try:
            raise OSError("connection refused")
        except OSError as exc:
            raise RuntimeError("could not reach the database") from exc

    app = AsgiFastStream(on_startup=[connect])
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        reply = await comm.get()
        await comm.wait_done()
    assert "OSError: connection refused" in reply["message"]
    assert "RuntimeError: could not reach the database" in reply["message"]
    assert "direct cause" in reply["message"]
    assert isinstance(comm.error, RuntimeError)


async def test_lifespan_hung_startup_step_times_out_naming_the_step_and_setting() -> None:
    events: list[str] = []

    async def hang() -> None:
        await anyio.sleep_forever()

    app = AsgiFastStream(Broker(events), startup_timeout=0.05, after_startup=[hang])
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        reply = await comm.get()
        await comm.wait_done()
    assert reply["type"] == "lifespan.startup.failed"
    assert "after_startup hook" in reply["message"] and "hang" in reply["message"]
    assert "startup_timeout" in reply["message"]
    assert isinstance(comm.error, HookTimeoutError)
    assert comm.error.stage == "startup"
    assert events == ["broker.start", "broker.started", "broker.close"]


async def test_lifespan_shutdown_failure_runs_the_remaining_steps_then_reports_all() -> None:
    events: list[str] = []
    app = AsgiFastStream(
        Broker(events, fail_close=True),
        on_shutdown=[recorder(events, "on_shutdown", ValueError("first"))],
        after_shutdown=[recorder(events, "after_shutdown")],
    )
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        assert (await comm.get())["type"] == "lifespan.startup.complete"
        await comm.put(SHUTDOWN)
        reply = await comm.get()
        await comm.wait_done()
    assert reply["type"] == "lifespan.shutdown.failed"
    assert "ValueError: first" in reply["message"]
    assert "ConnectionError: close failed" in reply["message"]
    assert events[-3:] == ["on_shutdown", "broker.close", "after_shutdown"]
    assert isinstance(comm.error, HookError)
    assert [type(e) for e in comm.error.errors] == [ValueError, ConnectionError]


async def test_lifespan_single_shutdown_failure_reraises_the_original() -> None:
    error = ValueError("only one")
    app = AsgiFastStream(on_shutdown=[recorder([], "x", error)])
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        await comm.get()
        await comm.put(SHUTDOWN)
        assert (await comm.get())["type"] == "lifespan.shutdown.failed"
        await comm.wait_done()
    assert comm.error is error


async def test_lifespan_hung_shutdown_step_times_out_and_broker_still_closes() -> None:
    events: list[str] = []

    async def hang() -> None:
        await anyio.sleep_forever()

    app = AsgiFastStream(Broker(events), shutdown_timeout=0.05, on_shutdown=[hang])
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        await comm.get()
        await comm.put(SHUTDOWN)
        reply = await comm.get()
        await comm.wait_done()
    assert reply["type"] == "lifespan.shutdown.failed"
    assert "shutdown_timeout" in reply["message"]
    assert events[-1] == "broker.close"


async def test_lifespan_shutdown_before_startup_completes_without_running_anything() -> None:
    events: list[str] = []
    app = make_app(events)
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(SHUTDOWN)
        assert await comm.get() == {"type": "lifespan.shutdown.complete"}
        await comm.wait_done()
    assert events == []
    assert comm.error is None


async def test_lifespan_second_startup_is_a_protocol_error_and_shutdown_still_runs() -> None:
    events: list[str] = []
    app = make_app(events)
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        await comm.get()
        await comm.put(STARTUP)
        await comm.wait_done()
    assert isinstance(comm.error, LifespanProtocolError)
    assert "READY" in str(comm.error)
    assert comm.sent_types() == ["lifespan.startup.complete"]
    assert events.count("on_shutdown") == 1 and events.count("broker.close") == 1


@pytest.mark.parametrize(
    "message",
    [
        {"type": "http.request"},
        {"type": "lifespan.bogus"},
        {"no": "type"},
        "not a dict",
        {"type": 7},
    ],
)
async def test_lifespan_unknown_message_is_a_clear_error_quoting_it(message: Any) -> None:
    app = AsgiFastStream()
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(message)
        await comm.wait_done()
    assert isinstance(comm.error, MessageError)
    shown = repr(message["type"]) if isinstance(message, dict) and "type" in message else "None"
    assert (shown if isinstance(message, dict) else repr(message)) in str(comm.error)
    assert comm.sent() == []


async def test_lifespan_server_going_away_after_startup_still_runs_shutdown_once() -> None:
    events: list[str] = []
    app = make_app(events)
    calls = 0

    async def receive() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        if calls == 1:
            return STARTUP
        raise OSError("server connection lost")

    async def send(message: Any) -> None:
        pass

    with pytest.raises(OSError, match="server connection lost"):
        await app(lifespan_scope(), receive, send)
    assert events.count("on_shutdown") == 1 and events.count("broker.close") == 1


async def test_lifespan_cancelled_after_startup_still_runs_shutdown_once() -> None:
    events: list[str] = []
    app = make_app(events)
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        await comm.get()
        with anyio.fail_after(5):
            await comm.waiting.wait()
    # leaving the block cancelled the app while it waited for the next message
    assert events.count("on_shutdown") == 1
    assert events[-3:] == ["on_shutdown", "broker.close", "after_shutdown"]


async def test_lifespan_state_receives_the_mapping_the_user_lifespan_yields() -> None:
    exited: list[bool] = []

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[dict[str, str]]:
        yield {"myapp.db": "connection"}
        exited.append(True)

    state: dict[str, Any] = {}
    app = AsgiFastStream(lifespan=lifespan)
    async with communicate(app, lifespan_scope(state)) as comm:
        await comm.put(STARTUP)
        await comm.get()
        assert state == {"myapp.db": "connection"}
        assert exited == []
        await comm.put(SHUTDOWN)
        await comm.get()
    assert exited == [True]


async def test_lifespan_user_context_is_exited_with_the_error_when_startup_fails() -> None:
    seen: list[BaseException | None] = []
    error = RuntimeError("hook failed")

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        try:
            yield
        except BaseException as exc:
            seen.append(exc)
            raise

    app = AsgiFastStream(lifespan=lifespan, on_startup=[recorder([], "x", error)])
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        reply = await comm.get()
        await comm.wait_done()
    assert reply["type"] == "lifespan.startup.failed"
    assert seen == [error]


async def test_lifespan_user_lifespan_raising_on_enter_fails_startup_naming_it() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        raise KeyError("missing setting")
        yield

    app = make_app(events, lifespan=lifespan)
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        reply = await comm.get()
        await comm.wait_done()
    assert "lifespan context" in reply["message"] and "(enter)" in reply["message"]
    assert events == []
    assert isinstance(comm.error, KeyError)


async def test_lifespan_user_lifespan_yielding_a_non_mapping_is_a_clear_failure() -> None:
    @asynccontextmanager
    async def lifespan() -> AsyncIterator[int]:
        yield 42

    app = AsgiFastStream(lifespan=lifespan)
    async with communicate(app, lifespan_scope({})) as comm:
        await comm.put(STARTUP)
        reply = await comm.get()
        await comm.wait_done()
    assert "yielded 42" in reply["message"]
    assert isinstance(comm.error, TypeError)


async def test_lifespan_run_options_reach_on_startup_hooks_and_the_user_lifespan() -> None:
    got: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(env: str) -> AsyncIterator[None]:
        got["env"] = env
        yield

    app = AsgiFastStream(lifespan=lifespan)

    @app.on_startup
    def configure(retries: int, debug: bool = False) -> None:
        got.update(retries=retries, debug=debug)

    async with app.start_lifespan_context(retries="3", debug="yes", env="prod"):
        assert got == {"env": "prod", "retries": 3, "debug": True}
        assert app.running
    assert not app.running


def lifespan_with_task_group(events: list[str]) -> Any:
    @asynccontextmanager
    async def lifespan() -> AsyncIterator[dict[str, str]]:
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.sleep_forever)
            events.append("entered")
            try:
                yield {"group": "open"}
            finally:
                group.cancel_scope.cancel()
                events.append("exited")

    return lifespan


async def test_lifespan_user_context_may_open_a_task_group_under_our_time_limits() -> None:
    events: list[str] = []
    app = AsgiFastStream(lifespan=lifespan_with_task_group(events), startup_timeout=5)
    async with communicate(app, lifespan_scope({})) as comm:
        await comm.put(STARTUP)
        assert (await comm.get())["type"] == "lifespan.startup.complete"
        await comm.put(SHUTDOWN)
        assert (await comm.get())["type"] == "lifespan.shutdown.complete"
        await comm.wait_done()
    assert comm.error is None
    assert events == ["entered", "exited"]
    async with app.start_lifespan_context():
        assert events[-1] == "entered"
    assert events[-1] == "exited"


async def test_lifespan_user_task_group_context_is_exited_when_a_later_step_fails() -> None:
    events: list[str] = []
    app = AsgiFastStream(
        lifespan=lifespan_with_task_group(events),
        after_startup=[recorder(events, "after_startup", RuntimeError("late"))],
    )
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        reply = await comm.get()
        await comm.wait_done()
    assert reply["type"] == "lifespan.startup.failed"
    assert events == ["entered", "after_startup", "exited"]
    assert isinstance(comm.error, RuntimeError)


async def test_lifespan_hung_user_context_enter_times_out_naming_it() -> None:
    @asynccontextmanager
    async def stuck() -> AsyncIterator[None]:
        await anyio.sleep_forever()
        yield

    app = AsgiFastStream(lifespan=stuck, startup_timeout=0.05)
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put(STARTUP)
        reply = await comm.get()
        await comm.wait_done()
    assert "lifespan context" in reply["message"] and "startup_timeout" in reply["message"]
    assert isinstance(comm.error, HookTimeoutError)


async def test_lifespan_subclass_overriding_lifespan_gets_every_lifespan_scope() -> None:
    seen: list[str] = []

    class Traced(AsgiFastStream):
        async def lifespan(self, scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope["type"])
            await super().lifespan(scope, receive, send)

    app = Traced()
    async with communicate(app, lifespan_scope()) as comm:
        await comm.put({"type": "lifespan.startup"})
        assert (await comm.get())["type"] == "lifespan.startup.complete"
        await comm.put({"type": "lifespan.shutdown"})
        assert (await comm.get())["type"] == "lifespan.shutdown.complete"
        await comm.wait_done()
    assert seen == ["lifespan"]
