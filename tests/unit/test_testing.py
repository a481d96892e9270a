"""asgi_core.testing: the lifespan manager and the in-process client, against raw ASGI apps."""

from __future__ import annotations

import json
from typing import Any

import pytest

from asgi_core.testing import (
    AppProtocolError,
    Client,
    LifespanError,
    LifespanManager,
    WebSocketClosed,
)
from asgi_core.types import Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio


def lifespan_app(
    startup: Message | None = None, shutdown: Message | None = None, log: list[str] | None = None
) -> Any:
    """A lifespan app that replies ``startup`` / ``shutdown`` (complete by default)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        while True:
            message = await receive()
            if log is not None:
                log.append(message["type"])
            if message["type"] == "lifespan.startup":
                scope["state"]["started"] = True
                await send(startup or {"type": "lifespan.startup.complete"})
            else:
                await send(shutdown or {"type": "lifespan.shutdown.complete"})
                return

    return app


async def test_testing_lifespan_manager_runs_startup_then_shutdown() -> None:
    log: list[str] = []
    async with LifespanManager(lifespan_app(log=log)) as manager:
        assert log == ["lifespan.startup"]
        assert manager.state == {"started": True}
    assert log == ["lifespan.startup", "lifespan.shutdown"]


async def test_testing_startup_failed_raises_with_the_apps_message() -> None:
    app = lifespan_app(startup={"type": "lifespan.startup.failed", "message": "no database"})
    with pytest.raises(LifespanError, match="no database") as caught:
        async with LifespanManager(app):
            pytest.fail("the body must not run after a failed startup")
    assert caught.value.stage == "startup"
    assert caught.value.message == "no database"


async def test_testing_shutdown_failed_raises_with_the_apps_message() -> None:
    app = lifespan_app(shutdown={"type": "lifespan.shutdown.failed", "message": "stuck"})
    with pytest.raises(LifespanError, match="stuck") as caught:
        async with LifespanManager(app):
            pass
    assert caught.value.stage == "shutdown"


async def test_testing_app_raising_before_reply_propagates_its_own_exception() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        async with LifespanManager(app):
            pytest.fail("the body must not run after a failed startup")


async def test_testing_app_raising_after_startup_failed_propagates_its_own_exception() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:  # as Starlette does
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "Traceback ... no db"})
        raise ConnectionError("no db")

    with pytest.raises(ConnectionError, match="no db"):
        async with LifespanManager(app):
            pytest.fail("the body must not run after a failed startup")


async def test_testing_startup_failed_then_waiting_is_a_lifespan_error_at_once() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no db"})
        await receive()  # never comes: the manager must not wait for its timeout

    with pytest.raises(LifespanError, match="no db") as caught:
        async with LifespanManager(app, startup_timeout=None):
            pass
    assert caught.value.message == "no db"


async def test_testing_app_returning_without_reply_is_an_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

    with pytest.raises(LifespanError, match=r"returned without replying to lifespan.startup"):
        async with LifespanManager(app):
            pass


async def test_testing_startup_that_hangs_times_out() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await receive()  # never comes: the manager waits for a reply first

    with pytest.raises(TimeoutError, match=r"did not reply to lifespan.startup within 0.05 s") as c:
        async with LifespanManager(app, startup_timeout=0.05):
            pass
    assert isinstance(c.value, LifespanError)
    assert c.value.stage == "startup"


async def test_testing_wrong_reply_type_is_named() -> None:
    app = lifespan_app(startup={"type": "lifespan.shutdown.complete"})
    with pytest.raises(LifespanError, match=r"'lifespan.shutdown.complete' in reply to"):
        async with LifespanManager(app):
            pass


async def test_testing_app_raising_after_shutdown_complete_propagates_its_exception() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        raise RuntimeError("late")

    with pytest.raises(RuntimeError, match="late"):
        async with LifespanManager(app):
            pass


async def test_testing_app_waiting_after_shutdown_complete_is_a_lifespan_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        await receive()  # nothing follows shutdown: it must return

    with pytest.raises(LifespanError, match=r"after lifespan.shutdown.complete") as caught:
        async with LifespanManager(app, shutdown_timeout=None):
            pass
    assert caught.value.stage == "shutdown"


async def test_testing_body_error_wins_over_shutdown_failure() -> None:
    app = lifespan_app(shutdown={"type": "lifespan.shutdown.failed", "message": "stuck"})
    with pytest.raises(ZeroDivisionError) as caught:
        async with LifespanManager(app):
            1 / 0  # noqa: B018
    assert any("stuck" in note for note in getattr(caught.value, "__notes__", ["stuck"]))


# -- HTTP -----------------------------------------------------------------------------------------


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Echoes the scope and the body chunks as JSON."""
    chunks = []
    while True:
        message = await receive()
        chunks.append([message["body"].decode(), message.get("more_body", False)])
        if not message.get("more_body", False):
            break
    info = {
        "method": scope["method"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode(),
        "query": scope["query_string"].decode(),
        "root_path": scope["root_path"],
        "headers": [[n.decode(), v.decode()] for n, v in scope["headers"]],
        "chunks": chunks,
        "state": scope.get("state"),
    }
    body = json.dumps(info).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
    await send({"type": "http.response.body", "body": body[:5], "more_body": True})
    await send({"type": "http.response.body", "body": body[5:]})
    assert (await receive())["type"] == "http.disconnect"


async def test_testing_client_builds_the_scope_like_a_server() -> None:
    client = Client(echo, root_path="/svc", state={"k": "v"})
    response = await client.get("/a%20b/c?x=1&x=2", headers={"X-Token": "t"})
    assert response.status_code == 200
    assert response.headers["x-a"] == "1"
    info = response.json()
    assert info["method"] == "GET"
    assert info["path"] == "/a b/c"
    assert info["raw_path"] == "/a%20b/c"
    assert info["query"] == "x=1&x=2"
    assert info["root_path"] == "/svc"
    assert ["x-token", "t"] in info["headers"]
    assert ["host", "testserver"] in info["headers"]
    assert info["state"] == {"k": "v"}


async def test_testing_client_sends_body_chunks_in_order() -> None:
    response = await Client(echo).post("/", body=[b"ab", b"cd"])
    assert response.json()["chunks"] == [["ab", True], ["cd", False]]


async def test_testing_client_json_sets_body_and_content_type() -> None:
    info = (await Client(echo).post("/", json={"a": 1})).json()
    assert info["chunks"] == [['{"a": 1}', False]]
    assert ["content-type", "application/json"] in info["headers"]
    assert ["content-length", "8"] in info["headers"]


async def test_testing_client_gives_each_request_its_own_state_copy() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"]["seen"] = True
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    state: dict[str, object] = {}
    await Client(app, state=state).get("/")
    assert state == {}


async def test_testing_body_before_start_is_a_protocol_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.body", "body": b"x"})

    with pytest.raises(AppProtocolError, match=r"before http.response.start"):
        await Client(app).get("/")


async def test_testing_send_after_complete_is_a_protocol_error_even_if_swallowed() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"x"})
        try:
            await send({"type": "http.response.body", "body": b"y"})
        except AppProtocolError:
            pass

    with pytest.raises(AppProtocolError, match="after the response was complete"):
        await Client(app).get("/")


async def test_testing_returning_without_response_is_a_protocol_error() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})

    with pytest.raises(AppProtocolError, match=r"without sending the final http.response.body"):
        await Client(app).get("/")


async def test_testing_app_exception_reaches_the_test_unchanged() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise LookupError("inner")

    with pytest.raises(LookupError, match="inner"):
        await Client(app).get("/")


async def test_testing_app_waiting_for_disconnect_before_responding_times_out() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await receive()  # waits for a disconnect that comes only after the response

    with pytest.raises(TimeoutError, match=r"did not finish within 0.05 s"):
        await Client(app, timeout=0.05).get("/")


# -- WebSocket ------------------------------------------------------------------------------------


async def ws_echo(scope: Scope, receive: Receive, send: Send) -> None:
    assert (await receive())["type"] == "websocket.connect"
    if scope["path"] == "/deny":
        await send({"type": "websocket.close", "code": 4003, "reason": "go away"})
        return
    chosen = scope["subprotocols"][0] if scope["subprotocols"] else None
    await send({"type": "websocket.accept", "subprotocol": chosen})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "bye":
            await send({"type": "websocket.close", "code": 1000, "reason": "done"})
            return
        await send({"type": "websocket.send", **{k: message.get(k) for k in ("text", "bytes")}})


async def test_testing_websocket_session_echoes_text_and_bytes() -> None:
    async with Client(ws_echo).websocket("/ws", subprotocols=["chat"]) as ws:
        assert ws.subprotocol == "chat"
        await ws.send_text("hi")
        assert await ws.receive_text() == "hi"
        await ws.send_bytes(b"\x00\x01")
        assert await ws.receive_bytes() == b"\x00\x01"


async def test_testing_websocket_close_before_accept_raises_with_code_and_reason() -> None:
    with pytest.raises(WebSocketClosed) as caught:
        async with Client(ws_echo).websocket("/deny"):
            pytest.fail("the session must not open")
    assert (caught.value.code, caught.value.reason) == (4003, "go away")


async def test_testing_websocket_close_by_the_app_is_raised_from_receive() -> None:
    async with Client(ws_echo).websocket("/ws") as ws:
        await ws.send_text("bye")
        with pytest.raises(WebSocketClosed, match="reason 'done'"):
            await ws.receive()


async def test_testing_websocket_exception_in_app_reaches_the_test() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise ValueError("ws broke")

    with pytest.raises(ValueError, match="ws broke"):
        async with Client(app).websocket("/") as ws:
            await ws.send_text("x")


async def test_testing_client_sees_asgi_core_not_found_on_both_protocols() -> None:
    from asgi_core import AsgiFastStream

    app = AsgiFastStream()
    response = await Client(app).get("/nothing")
    assert (response.status_code, response.text) == (
        404,
        "App doesn't support regular HTTP protocol.",
    )
    with pytest.raises(WebSocketClosed) as caught:
        async with Client(app).websocket("/nothing"):
            pass
    assert (caught.value.code, caught.value.reason) == (
        1000,
        "App doesn't support regular HTTP protocol.",
    )


async def test_testing_exit_inside_the_lifespan_manager_is_recorded_not_a_signal() -> None:
    from asgi_core import AsgiFastStream
    from asgi_core.testing import LifespanManager

    app = AsgiFastStream()
    async with LifespanManager(app) as manager:
        app.exit()  # under a server this stops the process; here it must not signal pytest
        assert manager.exit_requested and app.should_exit


async def test_testing_cancelled_block_cancels_the_app_without_a_shutdown() -> None:
    import anyio

    log: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        try:
            log.append((await receive())["type"])
        finally:
            log.append("app ended")

    with anyio.CancelScope() as scope:
        async with LifespanManager(app):
            scope.cancel()
            await anyio.sleep(5)
    assert scope.cancelled_caught
    assert log == ["app ended"]  # never received lifespan.shutdown


async def test_testing_manager_app_copies_the_state_into_every_request() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["db"] = "up"
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = json.dumps(scope["state"]).encode()
        scope["state"]["mutated"] = True
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    async with LifespanManager(app) as manager:
        client = Client(manager.app)
        assert (await client.get("/")).json() == {"db": "up"}
        assert (await client.get("/")).json() == {"db": "up"}
        assert manager.state == {"db": "up"}


async def test_testing_our_application_failing_startup_raises_the_brokers_exception() -> None:
    from asgi_core import AsgiFastStream

    class DownBroker:
        async def start(self) -> None:
            raise ConnectionError("redis://localhost:6379 refused the connection")

        async def close(self) -> None:
            pass

    with pytest.raises(ConnectionError, match="refused the connection"):
        async with LifespanManager(AsgiFastStream(DownBroker())):
            pytest.fail("the body must not run after a failed startup")
