"""Raw responses: AsgiResponse and WebSocketClose."""

from __future__ import annotations

from typing import Any

import pytest

from asgi_core import AsgiResponse, WebSocketClose
from tests.harness import http_scope

pytestmark = pytest.mark.anyio


async def sent_by(app: Any, scope: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("a fixed response never reads the request")

    async def send(message: Any) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return messages


async def test_response_sends_start_then_one_final_body_with_content_length() -> None:
    messages = await sent_by(AsgiResponse(b"hello", 201, {"X-Trace": "1"}), http_scope())
    assert messages == [
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"x-trace", b"1"), (b"content-length", b"5")],
        },
        {"type": "http.response.body", "body": b"hello", "more_body": False},
    ]


async def test_response_keeps_a_given_content_length() -> None:
    response = AsgiResponse(b"", headers=[("Content-Length", "0")])
    assert response.raw_headers == [(b"content-length", b"0")]


async def test_response_head_sends_length_but_no_body() -> None:
    messages = await sent_by(AsgiResponse(b"hello"), http_scope(method="HEAD"))
    assert (b"content-length", b"5") in messages[0]["headers"]
    assert messages[1]["body"] == b""


@pytest.mark.parametrize("status", [101, 204, 304])
async def test_response_without_body_statuses_send_an_empty_body(status: int) -> None:
    messages = await sent_by(AsgiResponse(b"ignored", status), http_scope())
    assert messages[1]["body"] == b""
    has_length = any(name == b"content-length" for name, _ in messages[0]["headers"])
    assert has_length is (status == 304)


async def test_response_every_send_gets_a_fresh_header_list() -> None:
    response = AsgiResponse(b"x")
    first = await sent_by(response, http_scope())
    first[0]["headers"].append((b"x-added-by", b"middleware"))
    second = await sent_by(response, http_scope())
    assert (b"x-added-by", b"middleware") not in second[0]["headers"]


@pytest.mark.parametrize(
    "headers",
    [{"x-a": "1\r\nSet-Cookie: evil"}, {"x-a\n": "1"}, {"x-a": "nul\0"}, {"bad\r": "v"}],
)
def test_response_refuses_header_injection(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="CR, LF or NUL"):
        AsgiResponse(b"", headers=headers)


def test_response_refuses_non_latin1_headers_and_bad_arguments() -> None:
    with pytest.raises(ValueError, match="not latin-1"):
        AsgiResponse(headers={"x": "€"})
    with pytest.raises(TypeError, match="body must be bytes"):
        AsgiResponse("text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="between 100 and 599"):
        AsgiResponse(status_code=600)
    with pytest.raises(TypeError, match="header name must be str"):
        AsgiResponse(headers={b"x": "1"})  # type: ignore[arg-type]


async def test_websocket_close_sends_code_and_reason() -> None:
    messages = await sent_by(WebSocketClose(4000, "bye"), {"type": "websocket"})
    assert messages == [{"type": "websocket.close", "code": 4000, "reason": "bye"}]


@pytest.mark.parametrize(("code", "reason"), [(1005, ""), (1006, ""), (999, ""), (1000, "x" * 124)])
def test_websocket_close_refuses_unsendable_codes_and_long_reasons(code: int, reason: str) -> None:
    with pytest.raises(ValueError):
        WebSocketClose(code, reason)
