"""AsgiFastStream as an ASGI callable: dispatch, not_found, scope checks."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_core import AsgiFastStream, ScopeError
from tests.harness import communicate, http_scope, websocket_scope

pytestmark = pytest.mark.anyio

NOT_FOUND = "App doesn't support regular HTTP protocol."


class Recorder:
    """An ASGI app that remembers the scope it was called with and answers 200."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(dict(scope))
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
        else:
            await send({"type": "websocket.accept"})


async def test_asgi_http_goes_to_the_mounted_app_with_a_child_scope() -> None:
    api = Recorder()
    app = AsgiFastStream(asgi_routes=[("/api", api)])
    scope = http_scope("/api/orders", root_path="")
    async with communicate(app, scope) as comm:
        await comm.wait_done()
    assert comm.sent_types() == ["http.response.start", "http.response.body"]
    assert api.scopes[0]["root_path"] == "/api" and api.scopes[0]["path"] == "/api/orders"
    assert scope["root_path"] == ""  # the server's scope is not mutated


@pytest.mark.parametrize(
    ("path", "root_path"), [("/svc/api/x", "/svc"), ("/api/x", "/svc"), ("/api/x", "/svc/")]
)
async def test_asgi_root_path_deployments_work_with_both_server_conventions(
    path: str, root_path: str
) -> None:
    api = Recorder()
    app = AsgiFastStream(asgi_routes=[("/api", api)])
    async with communicate(app, http_scope(path, root_path=root_path)) as comm:
        await comm.wait_done()
    assert api.scopes[0]["root_path"] == "/svc/api"
    assert api.scopes[0]["path"] == "/svc/api/x"


async def test_asgi_websocket_is_dispatched_too() -> None:
    ws = Recorder()
    app = AsgiFastStream()
    app.mount("/ws", ws)
    async with communicate(app, websocket_scope("/ws/echo")) as comm:
        await comm.wait_done()
    assert comm.sent_types() == ["websocket.accept"]
    assert ws.scopes[0]["root_path"] == "/ws"


async def test_asgi_unknown_http_path_is_a_404_with_the_seed_text() -> None:
    app = AsgiFastStream(asgi_routes=[("/api", Recorder())])
    async with communicate(app, http_scope("/apix")) as comm:
        await comm.wait_done()
    start, body = comm.sent()
    assert start["status"] == 404
    assert (b"content-length", str(len(NOT_FOUND)).encode()) in start["headers"]
    assert body["body"] == NOT_FOUND.encode()


async def test_asgi_unknown_websocket_path_is_closed_with_1000_and_the_seed_text() -> None:
    app = AsgiFastStream()
    async with communicate(app, websocket_scope("/nope")) as comm:
        await comm.wait_done()
    assert comm.sent() == [{"type": "websocket.close", "code": 1000, "reason": NOT_FOUND}]


async def test_asgi_query_string_never_affects_matching() -> None:
    api = Recorder()
    app = AsgiFastStream(asgi_routes=[("/api", api)])
    scope = http_scope("/api")
    scope["query_string"] = b"path=/other"
    async with communicate(app, scope) as comm:
        await comm.wait_done()
    assert len(api.scopes) == 1


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        ({"type": "grpc"}, "unsupported scope type 'grpc'"),
        ({}, "with a 'type' key"),
        ("http", "with a 'type' key"),
        ({"type": "http", "path": b"/x"}, "need 'path' and 'root_path' as str"),
        ({"type": "websocket", "path": "/x", "root_path": None}, "not '/x' and None"),
    ],
)
async def test_asgi_bad_scopes_raise_scope_error_naming_the_problem(
    scope: Any, message: str
) -> None:
    app = AsgiFastStream()

    async def receive() -> Any:
        raise AssertionError

    async def send(message: Any) -> None:
        raise AssertionError

    with pytest.raises(ScopeError, match=message):
        await app(scope, receive, send)


async def test_asgi_routes_assignment_keeps_the_checks() -> None:
    app = AsgiFastStream()
    app.routes = [("/a", Recorder())]
    with pytest.raises(ValueError, match="must start with '/'"):
        app.routes.append(("b", Recorder()))


async def test_asgi_subclass_not_found_override_is_used_for_misses() -> None:
    class Teapot(AsgiFastStream):
        async def not_found(self, scope: Any, receive: Any, send: Any) -> None:
            await send({"type": "http.response.start", "status": 418, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    async with communicate(Teapot(), http_scope("/nothing")) as comm:
        await comm.wait_done()
    assert comm.sent()[0]["status"] == 418


async def test_asgi_long_and_repeated_paths_resolve_the_same_every_time() -> None:
    api = Recorder()
    app = AsgiFastStream(asgi_routes=[("/api", api)])
    long_path = "/api/" + "x" * 5000
    for path in ("/api/a", "/api/a", long_path, long_path, "/other", "/other"):
        async with communicate(app, http_scope(path)) as comm:
            await comm.wait_done()
    assert [scope["path"] for scope in api.scopes] == ["/api/a", "/api/a", long_path, long_path]


async def test_asgi_asyncapi_path_mounts_the_page_and_the_json_document() -> None:
    from asgi_core.testing import Client

    app = AsgiFastStream(asyncapi_path="/docs", title="Orders", identifier="urn:orders")
    client = Client(app)
    document = (await client.get("/docs.json")).json()
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"] == "Orders" and document["id"] == "urn:orders"
    page = await client.get("/docs")
    assert page.status_code == 200 and "Orders" in page.text
    assert [path for path, _ in app.routes] == ["/docs", "/docs.json"]


async def test_asgi_from_app_rebuilds_every_constructor_setting() -> None:
    import inspect

    from asgi_core import Application

    def hook() -> None:
        pass

    app = Application(
        None,
        None,
        None,
        "t",
        "2.0",
        "d",
        "tos",
        {"name": "MIT"},
        {"name": "me"},
        [{"name": "tag"}],
        {"url": "https://x"},
        "urn:x",
        [hook],
        [hook],
        [hook],
        [hook],
        startup_timeout=5,
        shutdown_timeout=6,
    )
    parameters = set(inspect.signature(Application.__init__).parameters) - {"self", "broker"}
    assert set(app._init_kwargs()) == parameters  # a new parameter must be added there
    assert AsgiFastStream.from_app(app, [])._init_kwargs() == app._init_kwargs()
