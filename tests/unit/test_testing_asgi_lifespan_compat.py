"""Our LifespanManager against asgi-lifespan 2.1's: the same scenarios, both classes.

A test written for asgi-lifespan runs with ours by changing the import. Where they differ on
purpose, the test says so: asgi-lifespan on trio wraps the app's exception in an
ExceptionGroup (its nursery) and waits forever for an app that hangs past the timeout; ours
raises the exception itself and cancels the app. Ours also fails at once, naming the cause,
where asgi-lifespan waits for its timeout (an app that replies ``*.failed`` without raising).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import anyio
import asgi_lifespan
import pytest

from asgi_core import testing
from asgi_core.testing import Client, LifespanError
from asgi_core.types import Receive, Scope, Send

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup  # type: ignore[import-not-found,unused-ignore]

pytestmark = pytest.mark.anyio

MANAGERS = [asgi_lifespan.LifespanManager, testing.LifespanManager]
NOT_SUPPORTED = {
    asgi_lifespan.LifespanManager: asgi_lifespan.LifespanNotSupported,
    testing.LifespanManager: testing.LifespanNotSupported,
}


@pytest.fixture(params=MANAGERS, ids=["asgi_lifespan", "asgi_core"])
def manager_class(request: pytest.FixtureRequest) -> Any:
    return request.param


def is_theirs_on_trio(manager_class: Any, anyio_backend: str) -> bool:
    return manager_class is asgi_lifespan.LifespanManager and anyio_backend == "trio"


@contextlib.contextmanager
def raises_app_error(
    manager_class: Any, anyio_backend: str, kind: type[BaseException]
) -> Iterator[None]:
    """``pytest.raises(kind)``; asgi-lifespan on trio raises it inside an ExceptionGroup."""
    if is_theirs_on_trio(manager_class, anyio_backend):
        with pytest.raises(BaseExceptionGroup) as group:
            yield
        assert group.value.subgroup(kind) is not None
    else:
        with pytest.raises(kind):
            yield


def make_app(fail: str = "", log: list[str] | None = None) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["state"]["requests"] = scope["state"].get("requests", 0) + 1
            body = repr(sorted(scope["state"].items())).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": body})
            return
        await receive()
        if fail == "startup":
            raise ConnectionError("no database")
        if fail == "startup-hangs":
            await anyio.sleep_forever()
        scope["state"]["db"] = "connected"
        await send({"type": "lifespan.startup.complete"})
        await receive()
        if log is not None:
            log.append("shutdown")
        if fail == "shutdown":
            raise KeyError("close failed")
        if fail == "shutdown-hangs":
            await anyio.sleep_forever()
        await send({"type": "lifespan.shutdown.complete"})

    return app


async def test_compat_startup_and_shutdown_run(manager_class: Any) -> None:
    log: list[str] = []
    async with manager_class(make_app(log=log)) as manager:
        assert log == []
    assert log == ["shutdown"]
    assert manager is not None


async def test_compat_startup_raising_propagates_the_apps_exception(
    manager_class: Any, anyio_backend: str
) -> None:
    with raises_app_error(manager_class, anyio_backend, ConnectionError):
        async with manager_class(make_app("startup")):
            pytest.fail("the body must not run")


async def test_compat_shutdown_raising_propagates_the_apps_exception(
    manager_class: Any, anyio_backend: str
) -> None:
    with raises_app_error(manager_class, anyio_backend, KeyError):
        async with manager_class(make_app("shutdown")):
            pass


async def test_compat_startup_timeout_is_a_timeout_error(
    manager_class: Any, anyio_backend: str
) -> None:
    if is_theirs_on_trio(manager_class, anyio_backend):
        pytest.skip("asgi-lifespan 2.1 on trio never cancels a hung app: it waits for it forever")
    with pytest.raises(TimeoutError):
        async with manager_class(make_app("startup-hangs"), startup_timeout=0.05):
            pass


async def test_compat_shutdown_timeout_is_a_timeout_error(
    manager_class: Any, anyio_backend: str
) -> None:
    if is_theirs_on_trio(manager_class, anyio_backend):
        pytest.skip("asgi-lifespan 2.1 on trio never cancels a hung app: it waits for it forever")
    with pytest.raises(TimeoutError):
        async with manager_class(make_app("shutdown-hangs"), shutdown_timeout=0.05):
            pass


async def test_compat_manager_app_gives_requests_the_lifespan_state(manager_class: Any) -> None:
    async with manager_class(make_app()) as manager:
        response = await Client(manager.app).get("/")
        assert response.text == "[('db', 'connected'), ('requests', 1)]"


async def test_compat_app_without_lifespan_support_raises_lifespan_not_supported(
    manager_class: Any, anyio_backend: str
) -> None:
    async def http_only(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"

    with raises_app_error(manager_class, anyio_backend, NOT_SUPPORTED[manager_class]):
        async with manager_class(http_only):
            pass


async def test_compat_body_exception_propagates_unchanged(
    manager_class: Any, anyio_backend: str
) -> None:
    with raises_app_error(manager_class, anyio_backend, ZeroDivisionError):
        async with manager_class(make_app()):
            1 / 0  # noqa: B018


# -- where ours differs on purpose ----------------------------------------------------------------


async def test_ours_runs_the_shutdown_when_the_body_raises() -> None:
    """asgi-lifespan cancels the app; ours shuts it down, so its cleanup runs as under a server."""
    log: list[str] = []
    with pytest.raises(ZeroDivisionError):
        async with testing.LifespanManager(make_app(log=log)):
            1 / 0  # noqa: B018
    assert log == ["shutdown"]


async def test_ours_gives_each_request_a_copy_of_the_state() -> None:
    """asgi-lifespan passes the same dict to every request; servers pass a shallow copy."""
    async with testing.LifespanManager(make_app()) as manager:
        client = Client(manager.app)
        await client.get("/")
        assert (await client.get("/")).text == "[('db', 'connected'), ('requests', 1)]"
        assert manager.state == {"db": "connected"}


async def test_ours_refuses_startup_failed_at_once_where_asgi_lifespan_waits() -> None:
    """asgi-lifespan ignores ``lifespan.startup.failed`` and times out; ours raises its text."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})

    with pytest.raises(LifespanError, match="no database") as caught:
        async with testing.LifespanManager(app, startup_timeout=None):
            pass
    assert caught.value.message == "no database"
    with pytest.raises(TimeoutError):
        async with asgi_lifespan.LifespanManager(app, startup_timeout=0.05):
            pass


async def test_ours_raises_the_apps_exception_itself_on_trio_too(anyio_backend: str) -> None:
    with pytest.raises(ConnectionError):
        async with testing.LifespanManager(make_app("startup")):
            pass
