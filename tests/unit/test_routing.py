"""Dispatch: one test per routing rule, then properties over generated tables and paths."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, strategies as st

from asgi_core._routing import Routes, normalize_mount_path, route_path
from asgi_core.exceptions import ScopeError
from tests.strategies import mount_paths, request_paths, root_paths


async def app_a(scope: Any, receive: Any, send: Any) -> None: ...


async def app_b(scope: Any, receive: Any, send: Any) -> None: ...


def test_routing_normalizes_trailing_slashes_and_the_root_mount() -> None:
    assert normalize_mount_path("/api/") == "/api"
    assert normalize_mount_path("/") == ""
    assert normalize_mount_path("") == ""


@pytest.mark.parametrize(
    ("path", "message"),
    [("api", "must start with '/': use '/api'"), (3, "must be a str"), ("/a?b", "'?' or '#'")],
)
def test_routing_refuses_bad_mount_paths_naming_them(path: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Routes([(path, app_a)])


def test_routing_refuses_non_callable_apps_and_non_pairs() -> None:
    with pytest.raises(TypeError, match="must be an ASGI callable"):
        Routes().append(("/x", "nope"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pair"):
        Routes().append("/x")  # type: ignore[arg-type]


def test_routing_matches_at_segment_boundaries_only() -> None:
    routes = Routes([("/api", app_a)])
    assert routes.lookup("/api") == ("/api", app_a)
    assert routes.lookup("/api/") == ("/api", app_a)
    assert routes.lookup("/api/x/y") == ("/api", app_a)
    assert routes.lookup("/apix") is None
    assert routes.lookup("/") is None


def test_routing_longest_match_wins_whatever_the_order() -> None:
    routes = Routes([("/api", app_a), ("/api/v1", app_b)])
    assert routes.lookup("/api/v1/x") == ("/api/v1", app_b)
    assert Routes([("/api/v1", app_b), ("/api", app_a)]).lookup("/api/v1") == ("/api/v1", app_b)


def test_routing_first_registered_wins_among_equal_paths() -> None:
    assert Routes([("/a", app_a), ("/a/", app_b)]).lookup("/a") == ("/a", app_a)


def test_routing_root_mount_catches_everything_else() -> None:
    routes = Routes([("/", app_a), ("/api", app_b)])
    assert routes.lookup("/other") == ("", app_a)
    assert routes.lookup("") == ("", app_a)


def test_routing_every_list_mutation_resets_the_index() -> None:
    routes = Routes([("/a", app_a)])
    assert routes.lookup("/b") is None
    routes.append(("/b", app_b))
    assert routes.lookup("/b") == ("/b", app_b)
    routes[0] = ("/c", app_a)
    assert routes.lookup("/a") is None and routes.lookup("/c") == ("/c", app_a)
    del routes[0]
    assert routes.lookup("/c") is None
    routes += [("/d", app_a)]
    assert routes.lookup("/d") == ("/d", app_a)
    routes.insert(0, ("/d", app_b))
    assert routes.lookup("/d") == ("/d", app_b)
    routes.reverse()
    assert routes.lookup("/d") == ("/d", app_a)
    routes.pop()
    routes.remove(("/d", app_a))
    assert routes.lookup("/d") is None and routes == [("/b", app_b)]
    routes.extend([("/e", app_a)])
    routes.clear()
    assert routes.lookup("/e") is None
    with pytest.raises(ValueError):
        routes[0:0] = [("bad", app_a)]


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/root/api/x", "/root", "/api/x"),  # uvicorn: root_path in front of path
        ("/api/x", "/root", "/api/x"),  # hypercorn, granian, daphne: path alone
        ("/rootx/api", "/root", "/rootx/api"),  # not at a boundary: not the root path
        ("/root", "/root", ""),
        ("/api", "", "/api"),
    ],
)
def test_routing_route_path_accepts_both_server_conventions(
    path: str, root_path: str, expected: str
) -> None:
    assert route_path(path, root_path) == expected


def test_routing_resolve_gives_a_child_scope_copy_with_extended_root_path_and_full_path() -> None:
    api = _make_app(0)
    routes = Routes([("/api", api)])
    scope = {"type": "http", "path": "/api/x", "root_path": "/root/", "query_string": b"q=1"}
    assert routes.resolve(scope) == (
        api,
        {"type": "http", "path": "/root/api/x", "root_path": "/root/api", "query_string": b"q=1"},
    )
    assert scope["path"] == "/api/x" and scope["root_path"] == "/root/"
    assert routes.resolve({"type": "http", "path": "/other", "root_path": ""}) is None
    routes.append(("/other", api))  # the memo of the miss is dropped with the change
    assert routes.resolve({"type": "http", "path": "/other", "root_path": ""}) is not None


@pytest.mark.parametrize("paths", [{"path": b"/api"}, {"path": "/api", "root_path": None}])
def test_routing_resolve_refuses_a_path_or_root_path_that_is_not_a_str(
    paths: dict[str, Any],
) -> None:
    scope = {"type": "websocket", "root_path": "", **paths}
    with pytest.raises(ScopeError, match=r"websocket scopes need 'path' and 'root_path' as str"):
        Routes([("/api", _make_app(0))]).resolve(scope)


def _expected_match(table: list[str], path: str) -> str | None:
    """The oracle: the longest normalised mount path that is a boundary prefix of ``path``."""
    candidates = [
        m.rstrip("/")
        for m in table
        if path == m.rstrip("/") or path.startswith(m.rstrip("/") + "/") or m.rstrip("/") == ""
    ]
    return max(candidates, key=len) if candidates else None


@given(
    table=st.lists(mount_paths, max_size=8),
    path=request_paths,
    root_path=root_paths,
    uvicorn_style=st.booleans(),
    data=st.data(),
)
def test_routing_property_longest_boundary_match_and_consistent_child_scope(
    table: list[str], path: str, root_path: str, uvicorn_style: bool, data: st.DataObject
) -> None:
    apps = [_make_app(i) for i in range(len(table))]
    routes = Routes(list(zip(table, apps, strict=True)))
    server_path = root_path + path if uvicorn_style else path
    remainder = route_path(server_path, root_path)
    if uvicorn_style:
        assert remainder == path or (path == "/" and remainder == "/")
    found = routes.lookup(remainder)
    resolved = routes.resolve({"type": "http", "path": server_path, "root_path": root_path})
    expected = _expected_match(table, remainder)
    if expected is None:
        assert found is None and resolved is None
        return
    assert found is not None and resolved is not None
    prefix, app = found
    assert prefix == expected
    first = next(i for i, m in enumerate(table) if m.rstrip("/") == expected)
    assert app is apps[first]  # among equal paths the first registered wins
    assert resolved[0] is app
    child = resolved[1]
    assert child["root_path"] == root_path + prefix
    below = child["path"][len(child["root_path"]) :]
    assert child["path"] == child["root_path"] + below
    assert below == "" or below.startswith("/")
    assert child["root_path"] + below == root_path + remainder
    # registration order only matters among equal paths
    order = data.draw(st.permutations(range(len(table))))
    permuted = Routes([(table[i], apps[i]) for i in order])
    again = permuted.lookup(remainder)
    assert again is not None and again[0] == prefix
    first_in_permuted = next(i for i in order if table[i].rstrip("/") == expected)
    assert again[1] is apps[first_in_permuted]


def _make_app(index: int) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None: ...

    app.__qualname__ = f"app{index}"
    return app
