"""Security properties (issue 6): headers, error text, body limits, mount prefixes, binding.

The docs page's escaping is tested in a real browser: ``tests/e2e/test_docs_browser.py``.
"""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from asgi_core import (
    AsgiFastStream,
    AsgiResponse,
    JSONResponse,
    Request,
    ScopeError,
    get,
    make_ping_asgi,
    post,
)
from asgi_core._addresses import bind_sockets
from asgi_core._routing import Route, Routes
from asgi_core._serving import make_plan
from asgi_core.testing import Client
from tests.strategies import hostile_paths

pytestmark = pytest.mark.anyio

SECRET = "s3cr3t-9f2e"
TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


# -- no header injection through any response helper ----------------------------------------------

header_text = st.text(
    st.sampled_from(["a", "-", ":", " ", "\t", "\r", "\n", "\0", "\x0b", "\x7f", "é", "€", "x"]),
    max_size=6,
)


@PROPERTY
@given(name=header_text, value=header_text, helper=st.sampled_from([AsgiResponse, JSONResponse]))
def test_security_response_headers_are_refused_or_sent_as_one_clean_field(
    name: str, value: str, helper: Any
) -> None:
    try:
        response = helper(b"" if helper is AsgiResponse else {}, 200, {name: value})
    except ValueError:
        return
    for raw_name, raw_value in response.raw_headers:
        assert TOKEN.fullmatch(raw_name), raw_name
        assert not re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", raw_value), raw_value


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("set-cookie:session", "evil", "not an HTTP token"),  # "set-cookie:session: evil"
        ("x-a b", "1", "not an HTTP token"),
        ("", "1", "not an HTTP token"),
        ("x-a", "1\x0bset-cookie: evil", "control character '\\x0b'"),
        ("x-a", "\x7f", "control character"),
        ("x-a", "1\r\nset-cookie: evil", "CR, LF or NUL"),
    ],
)
def test_security_header_names_must_be_tokens_and_values_free_of_controls(
    name: str, value: str, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        AsgiResponse(b"", 200, {name: value})


def test_security_a_tab_and_latin1_text_are_fine_in_header_values() -> None:
    response = AsgiResponse(b"", 200, {"x-a": "a\tb é"})
    assert (b"x-a", "a\tb é".encode("latin-1")) in response.raw_headers


# -- no exception text or traceback in any HTTP response -------------------------------------------


class LeakyBroker:
    """Every method a route calls raises an exception carrying SECRET."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self, timeout: float | None) -> bool:
        raise RuntimeError(SECRET)

    def asyncapi_channels(self) -> list[Any]:
        raise RuntimeError(SECRET)


def leaky_app() -> AsgiFastStream:
    @get
    async def raises(request: Request) -> AsgiResponse:
        raise RuntimeError(SECRET)

    @get
    async def returns_junk(request: Request) -> AsgiResponse:
        return SECRET  # type: ignore[return-value]

    @post(max_body_size=8)
    async def reads_json(request: Request) -> AsgiResponse:
        return JSONResponse(await request.json())

    broker = LeakyBroker()
    return AsgiFastStream(
        broker,
        asgi_routes=[
            ("/raises", raises),
            ("/junk", returns_junk),
            ("/json", reads_json),
            ("/health", make_ping_asgi(broker)),
        ],
        asyncapi_path="/docs",
    )


@pytest.mark.parametrize(
    ("method", "target", "body", "status"),
    [
        ("GET", "/raises", b"", 500),
        ("GET", "/junk", b"", 500),
        ("POST", "/json", SECRET.encode()[:8], 400),
        ("POST", "/json", SECRET.encode(), 413),
        ("GET", "/health", b"", 500),
        ("GET", "/docs", b"", 500),
        ("GET", "/docs.json", b"", 500),
        ("DELETE", "/raises", b"", 405),
    ],
)
async def test_security_no_exception_text_or_traceback_reaches_the_client(
    method: str, target: str, body: bytes, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("CRITICAL", logger="asgi_core")
    response = await Client(leaky_app()).request(method, target, body=body)
    assert response.status_code == status
    shown = response.body + b"".join(name + value for name, value in response.raw_headers)
    for leak in (SECRET[:6].encode(), b"Traceback", b"RuntimeError", b"Error:"):
        assert leak not in shown


# -- request bodies are limited --------------------------------------------------------------------


@post(max_body_size=100)
async def measure(request: Request) -> AsgiResponse:
    return JSONResponse({"length": len(await request.body())})


async def test_security_an_endless_body_is_cut_off_at_the_limit_with_413() -> None:
    received = 0
    sent: list[Any] = []

    async def receive() -> Any:
        nonlocal received
        received += 1
        assert received < 1000, "the handler kept reading past its limit"
        return {"type": "http.request", "body": b"x" * 30, "more_body": True}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    await measure(scope, receive, send)
    assert sent[0]["status"] == 413
    assert received == 4  # 120 bytes: the first chunk past 100 stops the reading


@pytest.mark.parametrize(
    ("length", "chunks", "status"),
    [
        (None, [b"x" * 60, b"x" * 41], 413),  # no content-length: counted as it arrives
        ("10", [b"x" * 101], 413),  # a content-length that lies
        ("101", [b""], 413),  # announced too big: refused before reading
        ("99999999999999999999999", [b""], 413),
        ("-1", [b"x" * 5], 200),  # not a length: ignored, the body is still counted
        ("²", [b"x" * 5], 200),  # a latin-1 digit that int() refuses: ignored, not a 500
        ("100", [b"x" * 100], 200),
    ],
)
async def test_security_bodies_over_the_limit_are_413_however_they_arrive(
    length: str | None, chunks: list[bytes], status: int
) -> None:
    headers = {} if length is None else {"content-length": length}
    response = await Client(measure).post("/", body=chunks, headers=headers)
    assert response.status_code == status


async def test_security_a_body_of_the_wrong_type_is_never_turned_into_bytes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("CRITICAL", logger="asgi_core")
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.request", "body": 10**6}  # bytes(10**6) would be a megabyte

    async def send(message: Any) -> None:
        sent.append(message)

    await measure({"type": "http", "method": "POST", "path": "/"}, receive, send)
    assert sent[0]["status"] == 500


# -- malformed scopes are refused with our error, not a crash deeper in ----------------------------


class Indexable:
    def __getitem__(self, key: str) -> Any:
        return {"type": "http", "path": "/"}[key]


@pytest.mark.parametrize(
    "scope",
    [Indexable(), [("type", "http")], "http", None],
    ids=["getitem-only", "list", "str", "none"],
)
async def test_security_a_scope_that_is_not_a_mapping_is_a_scope_error(scope: Any) -> None:
    with pytest.raises(ScopeError, match="must be a dict with a 'type' key"):
        await AsgiFastStream()(scope, None, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "headers",
    [[(b"a", b"b", b"c")], [("host", "x")], 5, [(b"x", 10**6)], b"ab"],
    ids=["triple", "str-pairs", "int", "int-value", "bytes"],
)
async def test_security_malformed_headers_are_a_scope_error_naming_them(headers: Any) -> None:
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    with pytest.raises(ScopeError, match=re.escape("scope['headers'] must be an iterable")):
        await measure(scope, None, None)  # type: ignore[arg-type]


# -- a mount never lets a path escape its prefix ---------------------------------------------------


def named(name: str) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = f"{name} {scope['root_path']} {scope['path']}".encode("utf-8", "surrogatepass")
        await AsgiResponse(body)(scope, receive, send)

    return app


def mounted_app() -> AsgiFastStream:
    return AsgiFastStream(
        asgi_routes=[("/api", named("api")), ("/api/v1", named("v1")), ("/secret", named("secret"))]
    )


@pytest.mark.parametrize(
    ("target", "reached"),
    [
        ("/api/../secret", "api"),
        ("/api/%2e%2e/secret", "api"),
        ("/api/%2E%2E/secret", "api"),
        ("/api/v1/../../secret", "v1"),
        ("/api%2F..%2Fsecret", "api"),
        ("/api%2fsecret", "api"),
        ("//secret", None),
        ("/./secret", None),
        ("/%2e/secret", None),
        ("/%2fsecret", None),
        ("/secretx", None),
        ("/SECRET", None),
        ("/api/..%2Fsecret", "api"),
        ("/secret/../api", "secret"),  # the literal prefix decides, in both directions
    ],
)
async def test_security_dot_segments_and_encoded_slashes_stay_under_their_prefix(
    target: str, reached: str | None
) -> None:
    response = await Client(mounted_app()).get(target)
    if reached is None:
        assert response.status_code == 404
    else:
        assert response.text.split()[0] == reached


def below_mount(path: str, mount: str) -> bool:
    return path == mount or path.startswith(mount + "/")


@PROPERTY
@given(path=hostile_paths, root_path=st.sampled_from(["", "/root", "/api", "/secret/"]))
async def test_security_property_a_route_is_reached_only_by_a_path_below_it(
    path: str, root_path: str
) -> None:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "root_path": root_path}
    await mounted_app()(scope, None, send)  # type: ignore[arg-type]
    root = root_path.rstrip("/")
    route = path[len(root) :] if below_mount(path, root) and root else path
    body = sent[1]["body"].decode("utf-8", "surrogatepass")
    if sent[0]["status"] == 404:
        assert not any(below_mount(route, mount) for mount in ("/api", "/secret"))
        return
    name, child_root, child_path = body.split(" ", 2)
    mount = {"api": "/api", "v1": "/api/v1", "secret": "/secret"}[name]
    assert below_mount(route, mount)
    assert not (mount == "/api" and below_mount(route, "/api/v1"))  # the longest prefix wins
    assert child_root == root + mount and child_path == root + route


class CountingRoutes(Routes):
    """Counts how often the lookup index is probed."""

    probes = 0

    def _build_index(self) -> dict[str, Route]:
        routes = self

        class Index(dict[str, Route]):
            def get(self, key: str, default: Any = None) -> Any:
                routes.probes += 1
                return super().get(key, default)

        return Index(super()._build_index())


@pytest.mark.parametrize("path", ["/" * 200_000, "/a" * 100_000, "/api/v1/x" * 20_000])
def test_security_a_huge_path_costs_a_few_probes_not_one_per_segment(path: str) -> None:
    routes = CountingRoutes([("/api", named("api")), ("/api/v1", named("v1"))])
    routes.lookup(path)
    assert routes.probes <= 3  # the deepest mount has 2 segments


# -- the CLI binds to 127.0.0.1 unless asked otherwise ---------------------------------------------


class Recorder:
    """A runner that records the plan instead of serving."""

    plans: list[Any]

    def __init__(self) -> None:
        self.plans = []

    def run(self, plan: Any) -> None:
        self.plans.append(plan)


APP = "tests.fixtures.serving.e2e_app:app"


@pytest.mark.parametrize(
    ("flags", "binds"),
    [
        ([], ["127.0.0.1:8000"]),
        (["--port", "0"], ["127.0.0.1:0"]),
        (["--workers", "2"], ["127.0.0.1:8000"]),
        (["--reload"], ["127.0.0.1:8000"]),
        (["--root-path", "/svc", "--proxy-headers"], ["127.0.0.1:8000"]),
        (["--host", "0.0.0.0"], ["0.0.0.0:8000"]),  # asked for
        (["--bind", "[::]:9000"], ["[::]:9000"]),  # asked for
    ],
)
def test_security_cli_binds_loopback_only_unless_asked(
    flags: list[str], binds: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from asgi_core import _serving, cli

    for name in ("HOST", "PORT", "BIND", "UDS", "FD"):
        monkeypatch.delenv(f"ASGI_CORE_{name}", raising=False)
    recorder = Recorder()
    monkeypatch.setattr(_serving, "load_runner", lambda name: recorder)
    assert cli.main(["run", APP, *flags]) == 0
    assert [plan.binds for plan in recorder.plans] == [binds]


def test_security_run_and_its_sockets_default_to_loopback() -> None:
    plan = make_plan(AsgiFastStream(), {"port": 0}, log_level=20)
    sockets = bind_sockets(plan.binds)
    try:
        assert [sock.getsockname()[0] for sock in sockets] == ["127.0.0.1"]
        assert sockets[0].family == socket.AF_INET
    finally:
        for sock in sockets:
            sock.close()
    assert make_plan(AsgiFastStream(), {}, log_level=20).binds == ["127.0.0.1:8000"]


# -- the docs page: a client-chosen root_path can neither grow the cache nor inject markup ---------


async def test_security_docs_pages_cached_per_root_path_stay_bounded() -> None:
    from asgi_core.asyncapi import mount_asyncapi

    app = AsgiFastStream()
    docs = mount_asyncapi(app, "/docs")
    for number in range(200):  # daphne takes root_path from the Daphne-Root-Path header
        response = await Client(app, root_path=f"/r{number}").get("/docs")
        assert b'href="/r%d/docs.json"' % number in response.body
    assert len(docs._pages) <= 16  # the cache of rendered pages (private; no public size)
    hostile = '/"><script>alert(1)</script>'
    response = await Client(app, root_path=hostile).get("/docs")
    assert b"<script>alert" not in response.body
    assert b"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;/docs.json" in response.body


# -- a handler served alone refuses malformed input with our errors --------------------------------


@get
async def fails(request: Request) -> AsgiResponse:
    raise RuntimeError(SECRET)


async def test_security_a_handler_served_alone_refuses_a_scope_that_is_not_a_mapping() -> None:
    with pytest.raises(ScopeError, match="must be a dict with a 'type' key"):
        await fails(Indexable(), None, None)  # type: ignore[arg-type]


async def test_security_a_failing_handler_answers_500_even_without_a_path_in_the_scope(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    await fails({"type": "http", "method": "GET"}, None, send)  # type: ignore[arg-type]
    assert sent[0]["status"] == 500
    assert "handler fails failed on GET None" in caplog.text


@pytest.mark.parametrize(
    ("message", "quoted"),
    [
        ({"type": "http.request"}, "'http.request'"),
        ("lifespan.startup", "'lifespan.startup'"),  # a bare string is not a message
        (None, "None"),
    ],
)
async def test_security_a_handler_lifespan_refuses_bad_messages_with_message_error(
    message: Any, quoted: str
) -> None:
    from asgi_core import MessageError

    async def receive() -> Any:
        return message

    async def send(reply: Any) -> None:
        raise AssertionError(f"replied {reply!r} to {message!r}")

    with pytest.raises(MessageError, match=re.escape(quoted)):
        await fails({"type": "lifespan"}, receive, send)
