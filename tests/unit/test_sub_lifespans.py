"""Mounted apps' own lifespans, run beside ours by SubLifespans (asyncio and trio)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from asgi_core._concurrency import new_event
from asgi_core._sub_lifespans import SubLifespans
from asgi_core.exceptions import HookError, HookTimeoutError
from asgi_core.handlers import Request, get
from asgi_core.responses import AsgiResponse
from asgi_core.types import ASGIApp, Message, Receive, Scope, Send

pytestmark = pytest.mark.anyio

LOGGER = logging.getLogger("tests.sub_lifespans")


def sub_app(
    name: str,
    log: list[str],
    *,
    startup: Message | None = None,
    shutdown: Message | None = None,
    state: dict[str, Any] | None = None,
) -> ASGIApp:
    """A lifespan-aware app that logs what it does and replies as told."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        log.append(f"{name} started")
        scope.get("state", {}).update(state or {})
        await send(startup or {"type": "lifespan.startup.complete"})
        if startup is not None:
            return
        message = await receive()
        assert message["type"] == "lifespan.shutdown"
        log.append(f"{name} stopped")
        await send(shutdown or {"type": "lifespan.shutdown.complete"})

    return app


async def test_sub_lifespans_start_before_startup_returns_and_stop_on_shutdown() -> None:
    log: list[str] = []
    routes = [("/a", sub_app("a", log)), ("/b", sub_app("b", log))]
    async with SubLifespans(routes, LOGGER) as subs:
        await subs.startup()
        assert sorted(log) == ["a started", "b started"]
        await subs.shutdown()
        assert sorted(log[2:]) == ["a stopped", "b stopped"]


async def test_sub_lifespans_leaving_the_block_shuts_down() -> None:
    log: list[str] = []
    async with SubLifespans([("/a", sub_app("a", log))], LOGGER) as subs:
        await subs.startup()
    assert log == ["a started", "a stopped"]


async def test_sub_lifespans_shutdown_runs_once() -> None:
    log: list[str] = []
    async with SubLifespans([("/a", sub_app("a", log))], LOGGER) as subs:
        await subs.startup()
        await subs.shutdown()
        await subs.shutdown()
    assert log == ["a started", "a stopped"]


async def test_sub_lifespans_app_mounted_twice_runs_once() -> None:
    log: list[str] = []
    app = sub_app("a", log)
    async with SubLifespans([("/a", app), ("/b", app)], LOGGER) as subs:
        await subs.startup()
    assert log == ["a started", "a stopped"]


async def test_sub_lifespans_get_a_copy_of_state_and_their_keys_reach_ours(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        seen.append(dict(scope["state"]))
        scope["state"]["sub.db"] = "connection"
        scope["state"]["ours"] = "clobbered"
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    state: dict[str, Any] = {"ours": 1}
    async with SubLifespans([("/a", app)], LOGGER, state=state) as subs:
        await subs.startup()
    assert seen == [{"ours": 1}]
    assert state == {"ours": 1, "sub.db": "connection"}
    assert "set the lifespan state key 'ours', which is already taken" in caplog.text


async def test_sub_lifespans_startup_failed_names_the_mount_and_stops_the_others() -> None:
    log: list[str] = []
    failing = sub_app("bad", log, startup={"type": "lifespan.startup.failed", "message": "no db"})
    routes = [("/good", sub_app("good", log)), ("/api/bad", failing)]
    with pytest.raises(HookError) as caught:
        async with SubLifespans(routes, LOGGER) as subs:
            await subs.startup()
            pytest.fail("startup must raise")
    text = str(caught.value)
    assert "the app mounted at '/api/bad' failed its lifespan startup" in text
    assert "lifespan.startup.failed: no db" in text
    assert caught.value.stage == "startup"
    assert caught.value.step == "lifespan of the app mounted at '/api/bad'"
    assert "good stopped" in log


async def test_sub_lifespans_exception_after_receiving_startup_fails_startup() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise OSError("port in use")

    with pytest.raises(HookError, match=r"'/x' failed its lifespan startup: it raised OSError"):
        async with SubLifespans([("/x", app)], LOGGER) as subs:
            await subs.startup()


async def test_sub_lifespans_app_raising_before_receive_is_skipped_with_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def django_like(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("only http")

    log: list[str] = []
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        async with SubLifespans([("/d", django_like), ("/a", sub_app("a", log))], LOGGER) as subs:
            await subs.startup()
    assert log == ["a started", "a stopped"]
    (record,) = caplog.records
    assert record.getMessage() == (
        "the app mounted at '/d' does not support lifespan (it raised ValueError before "
        "receiving lifespan.startup); skipping it"
    )


async def test_sub_lifespans_plain_http_app_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        async with SubLifespans([("/r", AsgiResponse(b"hi"))], LOGGER) as subs:
            await subs.startup()
    assert "answered the lifespan scope with 'http.response.start'" in caplog.text


async def test_sub_lifespans_app_returning_without_reply_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

    with caplog.at_level(logging.INFO, logger=LOGGER.name):
        async with SubLifespans([("/r", app)], LOGGER) as subs:
            await subs.startup()
    assert "'/r' returned without replying to lifespan.startup" in caplog.text


async def test_sub_lifespans_handler_routes_take_part_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @get
    async def route(request: Request) -> AsgiResponse:
        return AsgiResponse()

    with caplog.at_level(logging.DEBUG, logger=LOGGER.name):
        async with SubLifespans([("/h", route)], LOGGER) as subs:
            await subs.startup()
    assert caplog.records == []


async def test_sub_lifespans_startup_that_hangs_times_out_naming_the_mount() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await new_event().wait()

    with pytest.raises(HookTimeoutError, match=r"'/slow' did not reply to lifespan.startup"):
        async with SubLifespans([("/slow", app)], LOGGER, startup_timeout=0.05) as subs:
            await subs.startup()


async def test_sub_lifespans_shutdown_failed_names_the_mount() -> None:
    log: list[str] = []
    app = sub_app("a", log, shutdown={"type": "lifespan.shutdown.failed", "message": "leak"})
    async with SubLifespans([("/a", app)], LOGGER) as subs:
        await subs.startup()
        with pytest.raises(HookError, match=r"'/a' failed its lifespan shutdown") as caught:
            await subs.shutdown()
    assert caught.value.stage == "shutdown"
    assert "lifespan.shutdown.failed: leak" in str(caught.value)


async def test_sub_lifespans_body_error_wins_and_shutdown_errors_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[str] = []
    app = sub_app("a", log, shutdown={"type": "lifespan.shutdown.failed", "message": "leak"})
    with pytest.raises(ZeroDivisionError):
        async with SubLifespans([("/a", app)], LOGGER) as subs:
            await subs.startup()
            1 / 0  # noqa: B018
    assert log == ["a started", "a stopped"]
    assert "failed its lifespan shutdown: lifespan.shutdown.failed: leak" in caplog.text


async def test_sub_lifespans_wrong_reply_type_is_refused() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.shutdown.complete"})

    with pytest.raises(HookError, match=r"sent 'lifespan.shutdown.complete' on its lifespan"):
        async with SubLifespans([("/w", app)], LOGGER) as subs:
            await subs.startup()
