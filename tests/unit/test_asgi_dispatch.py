"""The per-request path of ``AsgiFastStream.__call__``: answers kept in ``Routes.hits``.

Every rule of the first request holds on the repeated ones, which read the kept answer: the
child scope is a new copy each time, misses send fresh messages, a bad scope is refused even for
a path seen before, a mutation of the route list is seen at once, and the table is bounded.
"""

from __future__ import annotations

import copy
import types
from typing import Any

import pytest

from asgi_core import AsgiFastStream, ScopeError
from asgi_core._routing import _MEMO_ROOTS, _MEMO_SIZE, Routes
from tests.harness import http_scope, websocket_scope

pytestmark = pytest.mark.anyio


class Mutating:
    """An ASGI app that keeps the scope it got and then changes it, as middleware may."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []  # the objects, changed afterwards
        self.seen: list[dict[str, Any]] = []  # what they held on arrival

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        self.seen.append(dict(scope))
        scope["root_path"] = "/changed"
        scope["path"] = "/changed"
        scope["extra"] = True
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _receive() -> Any:
    raise AssertionError("not read")


async def call(app: Any, scope: Any) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, _receive, send)
    return sent


@pytest.mark.parametrize(("path", "root_path"), [("/api/x", ""), ("/svc/api/x", "/svc")])
async def test_asgi_dispatch_repeated_hits_get_a_new_copy_of_the_scope_each_time(
    path: str, root_path: str
) -> None:
    api = Mutating()
    app = AsgiFastStream(asgi_routes=[("/api", api)])
    scopes = [http_scope(path, root_path=root_path) for _ in range(3)]
    for scope in scopes:
        await call(app, scope)
    assert app.routes.hits[root_path][path] is not None  # the later ones read the kept answer
    assert len({id(child) for child in api.scopes}) == 3
    assert not any(child is scope for child, scope in zip(api.scopes, scopes, strict=True))
    for scope in scopes:  # what the app changed stays in its own copy
        assert scope["root_path"] == root_path and scope["path"] == path
        assert "extra" not in scope


async def test_asgi_dispatch_repeated_misses_send_fresh_messages() -> None:
    app = AsgiFastStream(asgi_routes=[("/api", Mutating())])
    first = await call(app, http_scope("/nope"))
    first[0]["headers"].append((b"x-leak", b"1"))
    first[0]["status"] = 500
    first[1]["body"] = b"changed"
    second = await call(app, http_scope("/nope"))
    assert second[0]["status"] == 404 and (b"x-leak", b"1") not in second[0]["headers"]
    assert second[1]["body"] == b"App doesn't support regular HTTP protocol."
    assert second[0] is not first[0] and second[0]["headers"] is not first[0]["headers"]
    head = await call(app, http_scope("/nope", method="HEAD"))
    assert head[1]["body"] == b""
    close = [await call(app, websocket_scope("/nope")) for _ in range(2)]
    assert close[0] == close[1] and close[0][0] is not close[1][0]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"path": b"/api/x"}, "need 'path' and 'root_path' as str"),
        ({"root_path": None}, "not '/api/x' and None"),
        ({"root_path": b""}, "not '/api/x' and b''"),
        ({"path": ["/api/x"]}, "need 'path' and 'root_path' as str"),
    ],
)
async def test_asgi_dispatch_a_bad_scope_is_refused_for_a_path_seen_before(
    bad: dict[str, Any], message: str
) -> None:
    app = AsgiFastStream(asgi_routes=[("/api", Mutating())])
    await call(app, http_scope("/api/x"))
    assert app.routes.hits[""]["/api/x"] is not None
    with pytest.raises(ScopeError, match=message):
        await call(app, {**http_scope("/api/x"), **bad})


async def test_asgi_dispatch_a_missing_root_path_is_the_empty_one() -> None:
    api = Mutating()
    app = AsgiFastStream(asgi_routes=[("/api", api)])
    for _ in range(2):
        scope = http_scope("/api/x")
        del scope["root_path"]
        await call(app, scope)
    assert [(child["root_path"], child["path"]) for child in api.seen] == [("/api", "/api/x")] * 2


async def test_asgi_dispatch_a_mapping_scope_is_served_from_a_dict_copy() -> None:
    api = Mutating()
    app = AsgiFastStream(asgi_routes=[("/api", api)])
    scope = http_scope("/api/x")
    for _ in range(2):
        await call(app, types.MappingProxyType(scope))
    assert all(type(child) is dict for child in api.scopes)
    assert [child["root_path"] for child in api.seen] == ["/api", "/api"]
    assert scope["root_path"] == "" and "extra" not in scope
    with pytest.raises(ScopeError, match="with a 'type' key"):
        await call(app, [("type", "http")])


async def test_asgi_dispatch_sees_a_route_list_change_at_once() -> None:
    first, second = Mutating(), Mutating()
    app = AsgiFastStream(asgi_routes=[("/api", first)])
    assert (await call(app, http_scope("/new/x")))[0]["status"] == 404
    await call(app, http_scope("/api/x"))
    app.mount("/new", second)
    await call(app, http_scope("/new/x"))
    assert len(second.scopes) == 1
    del app.routes[0]
    assert (await call(app, http_scope("/api/x")))[0]["status"] == 404
    app.routes = [("/api", second)]
    await call(app, http_scope("/api/x"))
    assert len(first.scopes) == 1 and len(second.scopes) == 2


async def test_asgi_dispatch_a_root_path_the_server_did_not_prepend_is_resolved_each_time() -> None:
    api = Mutating()
    app = AsgiFastStream(asgi_routes=[("/api", api)])
    for _ in range(2):
        await call(app, http_scope("/api/x", root_path="/svc"))
    assert "/api/x" not in app.routes.hits.get("/svc", {})  # its child path is not the path
    assert [(child["root_path"], child["path"]) for child in api.seen] == [
        ("/svc/api", "/svc/api/x")
    ] * 2


async def test_asgi_dispatch_a_subclass_not_found_is_called_on_every_miss() -> None:
    calls: list[str] = []

    class Teapot(AsgiFastStream):
        async def not_found(self, scope: Any, receive: Any, send: Any) -> None:
            calls.append(scope["path"])

    app = Teapot()
    for _ in range(3):
        await call(app, http_scope("/nothing"))
    await call(app, websocket_scope("/nothing"))
    assert calls == ["/nothing"] * 4


def test_asgi_dispatch_the_kept_answers_are_bounded() -> None:
    routes = Routes([("/api", Mutating())])
    for index in range(_MEMO_SIZE + 10):
        routes.resolve(http_scope(f"/p{index}"))
    assert len(routes.hits[""]) <= _MEMO_SIZE
    for index in range(_MEMO_ROOTS + 3):
        routes.resolve(http_scope(f"/r{index}/api", root_path=f"/r{index}"))
    assert len(routes.hits) <= _MEMO_ROOTS
    routes.resolve(http_scope("/api/" + "x" * 300))
    assert all("/api/" + "x" * 300 not in below for below in routes.hits.values())


@pytest.mark.parametrize("duplicate", [copy.copy, copy.deepcopy])
def test_asgi_dispatch_a_copied_route_list_keeps_its_answers_apart(duplicate: Any) -> None:
    original_app = Mutating()
    routes = Routes([("/api", original_app)])
    routes.resolve(http_scope("/api/x"))
    clone = duplicate(routes)
    assert type(clone) is Routes and [path for path, _ in clone] == ["/api"]
    assert clone.hits is not routes.hits and clone.hits == {}
    other_app = Mutating()
    clone[0] = ("/api", other_app)
    clone.resolve(http_scope("/api/x"))
    assert routes.hits[""]["/api/x"] == (original_app, "/api")
    assert clone.hits[""]["/api/x"] == (other_app, "/api")


def test_asgi_dispatch_a_route_list_survives_pickling() -> None:
    import pickle

    routes = Routes([("/api", Picklable()), ("/", Picklable())])
    routes.resolve(http_scope("/api/x"))
    again = pickle.loads(pickle.dumps(routes))
    assert type(again) is Routes and [path for path, _ in again] == ["/api", "/"]
    assert again.hits == {}
    resolved = again.resolve(http_scope("/api/x"))
    assert resolved is not None and resolved[1]["root_path"] == "/api"


class Picklable:
    """A module-level ASGI app, so that a route list holding it can be pickled."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("not called")


async def test_asgi_dispatch_a_miss_without_a_method_is_answered_as_for_get() -> None:
    app = AsgiFastStream()
    scope = http_scope("/nope")
    del scope["method"]
    start, body = await call(app, scope)
    assert start["status"] == 404
    assert body == {
        "type": "http.response.body",
        "body": b"App doesn't support regular HTTP protocol.",
    }


class Indexable:
    """Reads like a scope by key, but is not a Mapping: refused, whatever path it takes."""

    def __init__(self, scope: dict[str, Any]) -> None:
        self.scope = scope

    def __getitem__(self, key: str) -> Any:
        return self.scope[key]


@pytest.mark.parametrize("path", ["/api/x", "/nope"])
async def test_asgi_dispatch_an_indexable_non_mapping_is_refused_for_a_path_seen_before(
    path: str,
) -> None:
    app = AsgiFastStream(asgi_routes=[("/api", Mutating())])
    await call(app, http_scope(path))  # the answer is kept for this path
    with pytest.raises(ScopeError, match="must be a dict with a 'type' key"):
        await call(app, Indexable(http_scope(path)))
    for kind in ("lifespan", "grpc"):
        with pytest.raises(ScopeError, match="must be a dict with a 'type' key"):
            await call(app, Indexable({"type": kind}))


async def test_asgi_dispatch_a_mapping_scope_missing_its_type_is_refused() -> None:
    with pytest.raises(ScopeError, match="must be a dict with a 'type' key"):
        await call(AsgiFastStream(), types.MappingProxyType({"path": "/"}))


async def test_asgi_dispatch_a_kept_miss_for_a_mapping_scope_is_a_404() -> None:
    app = AsgiFastStream()
    for _ in range(2):
        start, _body = await call(app, types.MappingProxyType(http_scope("/nope")))
        assert start["status"] == 404
