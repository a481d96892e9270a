"""@get / @post handlers, Request and JSONResponse."""

from __future__ import annotations

import logging

import anyio
import pytest
from hypothesis import given, settings, strategies as st

from asgi_core.handlers import (
    HandlerApp,
    Headers,
    JSONResponse,
    QueryParams,
    Request,
    RouteInfo,
    get,
    post,
)
from asgi_core.responses import AsgiResponse
from asgi_core.testing import Client, LifespanManager, WebSocketClosed
from asgi_core.types import Message, Scope

pytestmark = pytest.mark.anyio


@get
async def hello(request: Request) -> AsgiResponse:
    return JSONResponse({"hello": request.query_params.get("name", "world")})


@post(max_body_size=8)
async def echo_json(request: Request) -> AsgiResponse:
    return JSONResponse({"got": await request.json()}, status_code=201)


@post
async def echo_stream(request: Request) -> AsgiResponse:
    return AsgiResponse(b"|".join([chunk async for chunk in request.stream()]))


@get
async def broken(request: Request) -> AsgiResponse:
    raise RuntimeError("secret database password")


async def test_handlers_get_serves_json() -> None:
    response = await Client(hello).get("/?name=ann")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"hello": "ann"}


async def test_handlers_head_has_headers_and_no_body() -> None:
    full = await Client(hello).get("/")
    response = await Client(hello).head("/")
    assert response.status_code == 200
    assert response.body == b""
    assert response.headers["content-length"] == full.headers["content-length"]


async def test_handlers_other_method_is_405_with_allow() -> None:
    response = await Client(hello).post("/")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    response = await Client(echo_json).get("/")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_handlers_exception_is_500_logged_and_not_leaked(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="asgi_core.handlers"):
        response = await Client(broken).get("/x")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert b"secret" not in response.body
    (record,) = caplog.records
    assert "broken failed on GET /x" in record.getMessage()
    assert record.exc_info is not None and "secret database password" in caplog.text


async def test_handlers_non_response_return_value_is_500(caplog: pytest.LogCaptureFixture) -> None:
    @get
    async def wrong(request: Request) -> AsgiResponse:
        return "text"  # type: ignore[return-value]

    response = await Client(wrong).get("/")
    assert response.status_code == 500
    assert "it must return an AsgiResponse" in caplog.text


async def test_handlers_json_body_is_parsed() -> None:
    response = await Client(echo_json).post("/", json=[1, 2])
    assert (response.status_code, response.json()) == (201, {"got": [1, 2]})


@pytest.mark.parametrize("body", [b"{nope", b"\xff\xfe"])
async def test_handlers_invalid_json_is_400(body: bytes) -> None:
    response = await Client(echo_json).post("/", body=body)
    assert response.status_code == 400
    assert response.text.startswith("Invalid JSON body: ")


async def test_handlers_body_over_the_limit_is_413() -> None:
    response = await Client(echo_json).post("/", body=b"[1,2,3,4,5]")
    assert response.status_code == 413


async def test_handlers_body_over_the_limit_in_chunks_is_413() -> None:
    response = await Client(echo_json).post("/", body=[b"[1,2,", b"3,4,5]"])
    assert response.status_code == 413


async def test_handlers_announced_length_over_the_limit_is_413_before_reading() -> None:
    response = await Client(echo_json).post("/", body=[b"[]"], headers={"content-length": "99"})
    assert response.status_code == 413


async def test_handlers_stream_yields_the_chunks() -> None:
    response = await Client(echo_stream).post("/", body=[b"a", b"", b"b"])
    assert response.body == b"a|b"


async def test_handlers_client_disconnect_while_reading_sends_nothing() -> None:
    sent: list[Message] = []
    messages: list[Message] = [
        {"type": "http.request", "body": b"a", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {"type": "http", "method": "POST", "path": "/", "headers": []}
    await echo_stream(scope, receive, send)
    assert sent == []


async def test_handlers_websocket_is_closed_before_accept() -> None:
    with pytest.raises(WebSocketClosed):
        async with Client(hello).websocket("/"):
            pass


async def test_handlers_answer_lifespan_without_work() -> None:
    async with LifespanManager(hello):
        pass


def test_handlers_decorator_with_options_records_route_info() -> None:
    @get(include_in_schema=False, description="d", tags=["t"])
    async def route(request: Request) -> AsgiResponse:
        return AsgiResponse()

    assert isinstance(route, HandlerApp)
    assert route.route_info == RouteInfo(("GET", "HEAD"), False, "d", ("t",))
    assert post(route.handler).route_info.methods == ("POST",)


def test_handlers_refuse_a_non_callable() -> None:
    with pytest.raises(TypeError, match="must be an async function"):
        get("nope")  # type: ignore[call-overload]


def test_handlers_json_response_keeps_a_given_content_type() -> None:
    response = JSONResponse({"a": "é"}, headers={"Content-Type": "application/problem+json"})
    assert response.body == '{"a":"é"}'.encode()
    assert (b"content-type", b"application/problem+json") in response.raw_headers
    assert (b"content-type", b"application/json") not in response.raw_headers


def test_handlers_headers_are_case_insensitive_and_multi_valued() -> None:
    headers = Headers([("X-A", "1"), ("x-a", "2"), ("B", "3")])
    assert headers["x-A"] == "1"
    assert headers.getlist("X-a") == ["1", "2"]
    assert "b" in headers and "c" not in headers
    assert list(headers) == ["x-a", "b"]
    assert len(headers) == 2


@given(st.lists(st.tuples(st.sampled_from("abc"), st.text(max_size=5)), max_size=8))
def test_handlers_query_params_keep_every_value_in_order(pairs: list[tuple[str, str]]) -> None:
    params = QueryParams(pairs)
    for key in "abc":
        values = [value for name, value in pairs if name == key]
        assert params.getlist(key) == values
        assert params.get(key) == (values[0] if values else None)
    assert params.multi_items() == pairs


async def test_handlers_query_params_are_percent_decoded_and_multi_valued() -> None:
    @get
    async def route(request: Request) -> AsgiResponse:
        return JSONResponse(request.query_params.getlist("a"))

    response = await Client(route).get("/?a=1&a=x%20y&b=&a=")
    assert response.json() == ["1", "x y", ""]


# -- bad JSON of any shape is a 400 with a short reason, never a 500 (#9) --------------------------


@post
async def echo_any(request: Request) -> AsgiResponse:
    return JSONResponse(await request.json())


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 1000, "nested too deeply"),  # 2 KB of "[": RecursionError before the fix
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "nested too deeply"),
        (b"NaN", "NaN is not JSON (RFC 8259)"),
        (b"[1, Infinity]", "Infinity is not JSON (RFC 8259)"),
        (b'{"x": -Infinity}', "-Infinity is not JSON (RFC 8259)"),
        (b"\xff\xfe[]", "not UTF-8"),
        (b"{nope", "Expecting property name enclosed in double quotes"),
    ],
)
async def test_handlers_bad_json_is_400_with_a_short_reason_and_logs_no_error(
    body: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        response = await Client(echo_any).post("/", body=body)
    assert (response.status_code, response.text) == (400, f"Invalid JSON body: {reason}")
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_handlers_json_nested_moderately_is_echoed() -> None:
    body = b"[" * 100 + b"]" * 100
    response = await Client(echo_any).post("/", body=body)
    assert (response.status_code, response.body) == (200, body)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@settings(max_examples=50)
@given(value=json_values)
def test_handlers_json_parse_accepts_exactly_what_json_response_emits(value: object) -> None:
    emitted = JSONResponse(value).body

    async def round_trip() -> None:
        response = await Client(echo_any).post("/", body=emitted)
        assert (response.status_code, response.body) == (200, emitted)

    for backend in ("asyncio", "trio"):
        anyio.run(round_trip, backend=backend)


@settings(max_examples=50)
@given(
    body=st.binary(max_size=64)
    | st.text(alphabet='[]{}",:0123456789eE.-+NaInfity ').map(str.encode)
)
def test_handlers_any_body_is_answered_200_or_400_never_500(body: bytes) -> None:
    async def post() -> None:
        response = await Client(echo_any).post("/", body=body)
        assert response.status_code in (200, 400), (body, response)

    anyio.run(post, backend="asyncio")


class _Streamed(AsgiResponse):
    """A response subclass that sends its own way (two body chunks)."""

    __slots__ = ()

    async def __call__(self, scope: Scope, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"a", "more_body": True})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"b", "more_body": False})  # type: ignore[operator]


async def test_handlers_a_response_subclass_with_its_own_call_sends_its_own_way() -> None:
    @get
    async def streamed(request: Request) -> AsgiResponse:
        return _Streamed(b"")

    response = await Client(streamed).get("/")
    assert response.status_code == 200 and response.body == b"ab"


async def test_handlers_takes_request_false_calls_the_handler_with_nothing() -> None:
    calls: list[tuple[object, ...]] = []

    async def probe(*args: object) -> AsgiResponse:
        calls.append(args)
        return AsgiResponse(b"", 204)

    app = HandlerApp(probe, ("GET",), takes_request=False)
    response = await Client(app).get("/")
    assert response.status_code == 204 and calls == [()]
    # the method check and the HEAD rule still apply
    assert (await Client(app).post("/")).status_code == 405
    assert calls == [()]
