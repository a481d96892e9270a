"""Fuzzing the whole app with HTTP and WebSocket scopes, request bodies and server faults.

The app under test is an ``AsgiFastStream`` with everything mounted: ``@get``/``@post``
handlers (one of them raising), a health and a readiness route, the AsyncAPI page and document,
and plain ASGI apps at nested mount paths. Each example feeds it one generated scope (often
broken), a ``receive()`` script and maybe a ``send()`` that raises. A second fuzzer serves each
route alone (a handler is an app of its own), and a fixed matrix has the client go away after
each body chunk while ``send`` fails at each message, for every kind of route.

Oracle, for every example:

* the run ends within the test's deadline;
* it sent a valid ASGI message sequence (or a valid prefix of one, when ``send`` raised), or it
  raised one of our documented exceptions naming the broken key, or the server's own exception
  from ``send``/``receive`` unchanged, after sending a valid prefix;
* no response body carries exception text or a traceback;
* afterwards, the same app answers a fixed set of normal requests exactly as a fresh app does
  (nothing leaks from one request into the next).

``HYPOTHESIS_PROFILE=fuzz`` (``tox -e fuzz``) runs thousands of examples instead of the CI's 300.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

from asgi_core import (
    AsgiFastStream,
    AsgiResponse,
    JSONResponse,
    Request,
    ScopeError,
    get,
    make_ping_asgi,
    make_ready_asgi,
    post,
)
from asgi_core.testing import Client, WebSocketClosed
from tests.strategies import RECEIVE_RAISES, fuzzed_scopes, receive_scripts, send_faults

pytestmark = pytest.mark.anyio

SECRET = "s3cr3t-exception-text"
FUZZ = settings(
    max_examples=max(300, settings().max_examples),  # the loaded profile's, at least 300
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class ReceiveFailed(Exception):
    """What a ``receive()`` scripted to raise raises (a server's own error)."""


class SendFailed(OSError):
    """What a ``send()`` scripted to fail raises, as servers do once the client has gone."""


class Broker:
    """A broker that starts, stops, answers its ping and describes one channel."""

    def __init__(self, events: list[str]) -> None:
        self.events = events

    async def start(self) -> None:
        self.events.append("broker.start")

    async def stop(self) -> None:
        self.events.append("broker.stop")

    async def ping(self, timeout: float | None) -> bool:
        return True

    def asyncapi_channels(self) -> list[dict[str, Any]]:
        return [{"name": "orders", "address": "orders", "action": "receive"}]


def raw_app(name: str) -> Any:
    """A plain ASGI app answering HTTP with its name and the path below its mount."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("no lifespan support")  # skipped with one log line
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000, "reason": name})
            return
        below = scope["path"][len(scope["root_path"]) :]
        body = f"{name}:{below}".encode("utf-8", "surrogatepass")
        await AsgiResponse(body, 200, {"content-type": "text/plain"})(scope, receive, send)

    return app


def build_app(events: list[str] | None = None) -> AsgiFastStream:
    """The app every fuzzer drives: handlers, health, readiness, docs and nested mounts."""
    log = [] if events is None else events

    @get
    async def hello(request: Request) -> AsgiResponse:
        return JSONResponse({"hello": request.query_params.get("name", "world")})

    @post(max_body_size=64)
    async def echo(request: Request) -> AsgiResponse:
        return JSONResponse({"length": len(await request.body())})

    @get
    async def boom(request: Request) -> AsgiResponse:
        raise RuntimeError(SECRET)

    broker = Broker(log)
    app = AsgiFastStream(
        broker,
        asgi_routes=[
            ("/hello", hello),
            ("/echo", echo),
            ("/boom", boom),
            ("/health", make_ping_asgi(broker, timeout=1.0)),
            ("/api", raw_app("api")),
            ("/api/v1", raw_app("api-v1")),
            ("/secret", raw_app("secret")),
        ],
        asyncapi_path="/docs",
        title="Fuzzed",
        on_startup=[lambda: log.append("on_startup")],
        on_shutdown=[lambda: log.append("on_shutdown")],
    )
    app.mount("/ready", make_ready_asgi(app))
    return app


# -- what a valid message sequence is --------------------------------------------------------------


def check_http_sequence(sent: list[Any], *, complete: bool) -> None:
    """``sent`` is a valid HTTP response (or a prefix of one, if not ``complete``)."""
    if not sent:
        return
    start, *bodies = sent
    assert start["type"] == "http.response.start", sent
    assert isinstance(start["status"], int) and 100 <= start["status"] <= 599
    for name, value in start["headers"]:
        assert isinstance(name, bytes) and isinstance(value, bytes)
        assert name == name.lower() and name and b":" not in name
        assert not any(char in value for char in b"\r\n\0")
    for index, body in enumerate(bodies):
        assert body["type"] == "http.response.body", sent
        assert isinstance(body["body"], bytes)
        last = not body.get("more_body", False)
        assert last == (index == len(bodies) - 1), "a final body must be the last message"
        assert SECRET.encode() not in body["body"] and b"Traceback" not in body["body"]
    if complete:
        assert bodies and not bodies[-1].get("more_body", False), "the response was not finished"


def check_websocket_sequence(sent: list[Any]) -> None:
    """Only close, accept and send messages; nothing after a close; a send only after accept."""
    accepted = False
    for index, message in enumerate(sent):
        kind = message["type"]
        if kind == "websocket.accept":
            assert not accepted
            accepted = True
        elif kind == "websocket.send":
            assert accepted
        else:
            assert kind == "websocket.close", sent
            assert isinstance(message["code"], int) and isinstance(message["reason"], str)
            assert index == len(sent) - 1
    assert sent, "a WebSocket scope must be accepted or closed"


# -- running one example ---------------------------------------------------------------------------


class Exchange:
    """The server's side of one connection: a scripted ``receive`` and a recording ``send``."""

    def __init__(self, script: list[Any], send_fault: int | None) -> None:
        self.script = list(script)
        self.send_fault = send_fault
        self.sent: list[Any] = []
        self.sends = 0
        self.saw_disconnect = False
        self.send_error: SendFailed | None = None
        self.receive_error: ReceiveFailed | None = None

    async def receive(self) -> Any:
        await anyio.sleep(0)
        item = self.script.pop(0) if self.script else {"type": "http.disconnect"}
        if item == RECEIVE_RAISES:
            self.receive_error = ReceiveFailed("the server's receive failed")
            raise self.receive_error
        if isinstance(item, dict) and item.get("type") == "http.disconnect":
            self.saw_disconnect = True
        return item

    async def send(self, message: Any) -> None:
        await anyio.sleep(0)
        assert self.send_error is None, "the app sent again after send() raised"
        if self.sends == self.send_fault:
            self.send_error = SendFailed("the client went away")
            raise self.send_error
        self.sends += 1
        self.sent.append(message)


async def drive(app: AsgiFastStream, scope: Any, exchange: Exchange) -> BaseException | None:
    """Run one request to its end (bounded); return what it raised, if anything."""
    with anyio.fail_after(10):
        try:
            await app(scope, exchange.receive, exchange.send)
        except Exception as exc:
            return exc
    return None


def check_outcome(
    scope: Any, broken: frozenset[str], exchange: Exchange, error: BaseException | None
) -> None:
    """The oracle for one fuzzed request (see the module docstring)."""
    fields = dict(scope) if isinstance(scope, Mapping) else None
    kind = None if fields is None else fields.get("type")
    if error is None:
        assert kind in ("http", "websocket"), f"{scope!r} was served"
        if kind == "websocket":
            check_websocket_sequence(exchange.sent)
        else:
            # nothing sent is fine only when the client went away before the response
            check_http_sequence(exchange.sent, complete=not exchange.saw_disconnect)
            assert exchange.sent or exchange.saw_disconnect, "the app answered nothing"
        return
    if kind == "http":
        check_http_sequence(exchange.sent, complete=False)
    if error is exchange.send_error or error is exchange.receive_error:
        return  # the server's own exception, passed through unchanged
    assert isinstance(error, ScopeError), f"not one of ours: {error!r}"
    assert not exchange.sent, "a scope error must come before anything is sent"
    text = str(error)
    if fields is None:
        assert "must be a dict" in text, text
    else:
        named = any(repr(key) in text for key in broken)
        assert named or ("type" in broken and "scope type" in text), (broken, text)


# -- the requests that show whether anything leaked ------------------------------------------------

Outcome = tuple[Any, ...]


async def normal_requests(app: AsgiFastStream) -> list[Outcome]:
    """A fixed set of ordinary requests and what the app answered, byte for byte."""
    client = Client(app, timeout=5.0)
    answers: list[Outcome] = []
    for method, target, body in [
        ("GET", "/hello?name=x", b""),
        ("HEAD", "/hello", b""),
        ("POST", "/echo", b"12345"),
        ("POST", "/echo", b"x" * 65),
        ("PUT", "/echo", b""),
        ("GET", "/boom", b""),
        ("GET", "/health", b""),
        ("GET", "/ready", b""),
        ("GET", "/docs.json", b""),
        ("GET", "/docs", b""),
        ("GET", "/api/x/../y", b""),
        ("GET", "/api/v1", b""),
        ("GET", "/secret/", b""),
        ("GET", "/apix", b""),
        ("GET", "/%2e%2e/secret", b""),
    ]:
        response = await client.request(method, target, body=body)
        answers.append((method, target, response.status_code, response.raw_headers, response.body))
    for target in ("/api/ws", "/hello", "/nowhere"):
        try:
            async with client.websocket(target):
                answers.append(("WS", target, "accepted"))
        except WebSocketClosed as closed:
            answers.append(("WS", target, closed.code, closed.reason))
    return answers


_fresh_answers: dict[str, list[Outcome]] = {}


async def fresh_answers(backend: str) -> list[Outcome]:
    if backend not in _fresh_answers:
        _fresh_answers[backend] = await normal_requests(build_app())
    return _fresh_answers[backend]


def quiet_handler_logs(caplog: pytest.LogCaptureFixture) -> Callable[[], None]:
    caplog.set_level("CRITICAL", logger="asgi_core")
    return caplog.clear


# -- the fuzzers -----------------------------------------------------------------------------------


@FUZZ
@given(case=fuzzed_scopes(), script=receive_scripts, send_fault=send_faults)
async def test_fuzz_http_every_scope_gives_valid_messages_or_our_error_and_nothing_leaks(
    case: tuple[Any, frozenset[str]],
    script: list[Any],
    send_fault: int | None,
    anyio_backend: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clear = quiet_handler_logs(caplog)
    scope, broken = case
    app = build_app()
    exchange = Exchange(script, send_fault)
    error = await drive(app, scope, exchange)
    status = exchange.sent[0].get("status") if exchange.sent else None
    event(f"{type(error).__name__}, first message {status or [m['type'] for m in exchange.sent]}")
    check_outcome(scope, broken, exchange, error)
    assert await normal_requests(app) == await fresh_answers(anyio_backend)
    clear()


def bare_apps() -> dict[str, Any]:
    """The routes of ``build_app``, each to be served alone (a handler is an app of its own)."""
    app = build_app()
    bare = {path: route for path, route in app.routes if path not in ("/api", "/api/v1")}
    return {path: route for path, route in bare.items() if path != "/secret"}


@FUZZ
@given(
    case=fuzzed_scopes(),
    script=receive_scripts,
    send_fault=send_faults,
    route=st.sampled_from(sorted(bare_apps())),
)
async def test_fuzz_http_each_route_served_alone_gives_valid_messages_or_our_error(
    case: tuple[Any, frozenset[str]],
    script: list[Any],
    send_fault: int | None,
    route: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clear = quiet_handler_logs(caplog)
    scope, broken = case
    app = bare_apps()[route]
    exchange = Exchange(script, send_fault)
    error = await drive(app, scope, exchange)
    event(f"{route}: {type(error).__name__}")
    check_outcome(scope, broken, exchange, error)
    clear()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        *(("POST", "/echo"), ("GET", "/hello"), ("GET", "/boom"), ("GET", "/docs")),
        *(("GET", "/health"), ("GET", "/api/x"), ("GET", "/missing"), ("PUT", "/echo")),
    ],
)
async def test_fuzz_http_disconnect_at_every_point_of_a_response(
    method: str, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The client goes away after each body chunk, and ``send`` fails at each message."""
    clear = quiet_handler_logs(caplog)
    chunk = {"type": "http.request", "body": b"12345", "more_body": True}
    for chunks in range(4):
        for send_fault in (None, 0, 1):
            script = [chunk] * chunks + [{"type": "http.disconnect"}]
            scope = {"type": "http", "method": method, "path": path, "headers": []}
            exchange = Exchange(script, send_fault)
            error = await drive(build_app(), scope, exchange)
            check_outcome(scope, frozenset(), exchange, error)
            if send_fault is not None and exchange.send_error is not None:
                assert error is exchange.send_error  # the server's error, unchanged
    clear()
