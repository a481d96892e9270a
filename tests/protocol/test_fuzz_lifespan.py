"""Fuzzing the whole app's lifespan: message streams, step outcomes and server faults.

The app is the one ``test_fuzz_http`` drives (handlers, health, readiness, docs, nested mounts,
some with a lifespan of their own, one without), plus hooks and a broker whose every step is
``ok``, ``raise`` or ``hang`` (bounded by tiny step timeouts). Each example feeds it a lifespan
scope (sometimes with a bad ``state``), a stream of messages (valid ones in any order, unknown
types, missing keys, non-dicts), and an ending: ``lifespan.shutdown``, a server that never sends
it (the task is cancelled when the server goes away), or a ``receive()`` that raises; ``send()``
may raise too.

Oracle: the run ends within the deadline; the replies are a valid prefix of the protocol; the
error, if any, is ours and names the offending message type or key, or is the failing step's or
the server's own exception unchanged; shutdown steps run at most once, and exactly once after a
completed startup however the run ends. Then a normal lifespan with requests on the same app
behaves exactly as on a fresh app.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import anyio
import pytest
from hypothesis import event, example, given, strategies as st

from asgi_core import (
    AsgiFastStream,
    HookError,
    HookTimeoutError,
    LifespanProtocolError,
    MessageError,
    ScopeError,
)
from asgi_core.testing import Client, LifespanManager
from asgi_core.types import ASGIApp
from tests.protocol.test_fuzz_http import FUZZ, ReceiveFailed, SendFailed, build_app
from tests.strategies import lifespan_endings, lifespan_messages, odd_values, send_faults

pytestmark = pytest.mark.anyio

STEPS = ("on_startup", "broker.start", "after_startup", "on_shutdown", "broker.stop")
STARTUP = {"type": "lifespan.startup"}
OUTCOMES = st.sampled_from(["ok", "ok", "ok", "raise", "hang"])
REPLIES = {
    "lifespan.startup": ("lifespan.startup.complete", "lifespan.startup.failed"),
    "lifespan.shutdown": ("lifespan.shutdown.complete", "lifespan.shutdown.failed"),
}


class StepFailed(Exception):
    """What a step configured to ``raise`` raises."""


def make_step(events: list[str], outcomes: dict[str, str], name: str) -> Any:
    async def step() -> None:
        events.append(f"{name}:begin")
        await anyio.sleep(0)
        if outcomes[name] == "hang":
            await anyio.sleep_forever()
        if outcomes[name] == "raise":
            raise StepFailed(name)
        events.append(f"{name}:end")

    step.__qualname__ = name
    return step


class Broker:
    def __init__(self, events: list[str], outcomes: dict[str, str]) -> None:
        self.start = make_step(events, outcomes, "broker.start")
        self.stop = make_step(events, outcomes, "broker.stop")


def lifespan_app(events: list[str], outcomes: dict[str, str]) -> AsgiFastStream:
    """``build_app`` with a broker and hooks that do what ``outcomes`` says, at run time."""
    app = build_app([])
    app.set_broker(Broker(events, outcomes))
    app.on_startup(make_step(events, outcomes, "on_startup"))
    app.after_startup(make_step(events, outcomes, "after_startup"))
    app.on_shutdown(make_step(events, outcomes, "on_shutdown"))
    app.startup_timeout = app.shutdown_timeout = 0.02
    return app


class LifespanServer:
    """The server's side of one lifespan scope, scripted."""

    def __init__(self, messages: list[Any], ending: str, send_fault: int | None) -> None:
        self.script = list(messages)
        if ending == "shutdown":
            self.script.append({"type": "lifespan.shutdown"})
        self.ending = ending
        self.send_fault = send_fault
        self.received: list[Any] = []
        self.attempted: list[str] = []  # every reply the app tried to send, sent or not
        self.sent: list[str] = []
        self.idle = anyio.Event()
        self.done = anyio.Event()
        self.error: Exception | None = None
        self.injected: list[Exception] = []

    async def receive(self) -> Any:
        if self.script:
            message = self.script.pop(0)
            self.received.append(message)
            return message
        if self.ending == "receive raises":
            self.injected.append(ReceiveFailed("the server's receive failed"))
            raise self.injected[-1]
        self.idle.set()  # the server never says anything again
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async def send(self, message: Any) -> None:
        self.attempted.append(message["type"])
        if len(self.attempted) - 1 == self.send_fault:
            self.injected.append(SendFailed("the server's send failed"))
            raise self.injected[-1]
        self.sent.append(message["type"])

    async def serve(self, app: ASGIApp, scope: Any) -> None:
        """Run the app until it ends, or until it waits for a message that never comes."""

        async def run() -> None:
            try:
                await app(scope, self.receive, self.send)
            except Exception as exc:
                self.error = exc
            finally:
                self.done.set()

        with anyio.fail_after(10):  # "no hang": a run that neither ends nor waits fails here
            async with anyio.create_task_group() as group:
                group.start_soon(run)
                while not (self.done.is_set() or self.idle.is_set()):
                    await anyio.sleep(0.001)
                group.cancel_scope.cancel()  # the server goes away


def check_run(server: LifespanServer, broken_state: bool, events: list[str]) -> None:
    # each reply answers the request before it, in order, and nothing else is sent
    requests = [m.get("type") for m in server.received if isinstance(m, Mapping)]
    assert len(server.attempted) <= len(requests)
    for reply, request in zip(server.attempted, requests, strict=False):
        assert reply in REPLIES.get(str(request), ()), (requests, server.attempted)
    # shutdown steps at most once; exactly once after a completed startup, however it ended
    assert events.count("on_shutdown:begin") <= 1 and events.count("broker.stop:begin") <= 1
    if "lifespan.startup.complete" in server.attempted:
        assert events.count("on_shutdown:begin") == 1, events
    if "on_shutdown:begin" in events:
        assert "after_startup:end" in events
    assert events.count("broker.stop:begin") == events.count("broker.start:begin"), events
    error = server.error
    if error is None or error in server.injected:
        return
    if isinstance(error, ScopeError):
        assert broken_state and "scope['state']" in str(error) and not server.attempted
    elif isinstance(error, MessageError):
        bad = server.received[-1]
        quoted = repr(bad.get("type")) if isinstance(bad, Mapping) else repr(bad)
        assert quoted in str(error)
    elif isinstance(error, LifespanProtocolError):
        assert str(server.received[-1]["type"]) in str(error)
    elif isinstance(error, (StepFailed, HookTimeoutError, HookError)):
        assert server.attempted[-1].endswith(".failed"), server.attempted
    else:
        raise AssertionError(f"not ours, nor a step's, nor the server's: {error!r}")


async def normal_run(app: AsgiFastStream, events: list[str]) -> list[Any]:
    """A correct lifespan with requests around and inside it; what happened, in order."""
    events.clear()
    app.startup_timeout = app.shutdown_timeout = 5.0  # only the fuzzed run gets tiny limits
    client = Client(app, timeout=5.0)
    seen: list[Any] = [(await client.get("/ready")).status_code]
    async with LifespanManager(app, startup_timeout=5.0, shutdown_timeout=5.0) as lifespan:
        client = Client(app, state=lifespan.state, timeout=5.0)
        for target in ("/ready", "/health", "/hello", "/api/x", "/docs.json"):
            response = await client.get(target)
            seen.append((target, response.status_code, response.body))
    seen.append((await client.get("/ready")).status_code)
    return [*seen, list(events)]


_fresh_runs: dict[str, list[Any]] = {}


async def fresh_run(backend: str) -> list[Any]:
    if backend not in _fresh_runs:
        events: list[str] = []
        _fresh_runs[backend] = await normal_run(lifespan_app(events, dict(ALL_OK)), events)
    return _fresh_runs[backend]


ALL_OK = dict.fromkeys(STEPS, "ok")
KNOWN: dict[str, Any] = {"messages": [STARTUP], "outcomes": ALL_OK, "state": "dict", "odd_state": 0}


@FUZZ
@example(**KNOWN, ending="vanish", send_fault=None)  # a server that never sends shutdown
@example(**KNOWN, ending="receive raises", send_fault=None)
@example(**KNOWN, ending="shutdown", send_fault=1)  # send fails on shutdown.complete
@given(
    messages=lifespan_messages | lifespan_messages.map(lambda tail: [STARTUP, *tail]),
    outcomes=st.fixed_dictionaries({step: OUTCOMES for step in STEPS}),
    ending=lifespan_endings,
    send_fault=send_faults,
    state=st.sampled_from(["dict", "dict", "dict", "absent", "proxy", "odd"]),
    odd_state=odd_values,
)
async def test_fuzz_lifespan_runs_end_with_valid_replies_and_the_next_run_is_clean(
    messages: list[Any],
    outcomes: dict[str, str],
    ending: str,
    send_fault: int | None,
    state: str,
    odd_state: Any,
    anyio_backend: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("CRITICAL", logger="asgi_core")
    events: list[str] = []
    outcomes = dict(outcomes)  # an @example's dict is shared between runs
    app = lifespan_app(events, outcomes)
    scope: Any = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
    broken_state = False
    if state == "dict":
        scope["state"] = {}
    elif state == "proxy":
        scope = MappingProxyType({**scope, "state": {}})
    elif state == "odd":
        scope["state"] = odd_state
        broken_state = odd_state is not None and not isinstance(odd_state, dict)
    server = LifespanServer(messages, ending, send_fault)
    await server.serve(app, scope)
    event(f"replies {server.attempted}, then {type(server.error).__name__}, ending {ending}")
    check_run(server, broken_state, events)
    outcomes.update(ALL_OK)
    assert await normal_run(app, events) == await fresh_run(anyio_backend)
    caplog.clear()


@FUZZ
@given(messages=lifespan_messages, ending=lifespan_endings, send_fault=send_faults)
async def test_fuzz_lifespan_of_a_handler_served_alone_answers_or_names_the_bad_message(
    messages: list[Any], ending: str, send_fault: int | None
) -> None:
    (handler,) = [route for path, route in build_app().routes if path == "/hello"]
    server = LifespanServer(messages, ending, send_fault)
    await server.serve(handler, {"type": "lifespan", "asgi": {"version": "3.0"}})
    requests = [m.get("type") for m in server.received if isinstance(m, Mapping)]
    assert len(server.attempted) <= len(requests)
    for reply, request in zip(server.attempted, requests, strict=False):
        assert reply in REPLIES.get(str(request), ()), (requests, server.attempted)
    error = server.error
    if error is not None and error not in server.injected:
        # a message out of order (a second startup) is refused by the table, as for the app
        assert isinstance(error, (MessageError, LifespanProtocolError)), repr(error)
        bad = server.received[-1]
        assert repr(bad.get("type") if isinstance(bad, Mapping) else bad) in str(error)
