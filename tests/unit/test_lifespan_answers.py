"""Lifespan answers: the no-steps answer by the table, and a ``*.failed`` send that raises."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from asgi_core import AsgiFastStream
from asgi_core._lifespan import answer_lifespan
from asgi_core.exceptions import LifespanProtocolError
from asgi_core.handlers import get
from asgi_core.requests import Request
from asgi_core.responses import AsgiResponse
from asgi_core.types import Message

pytestmark = pytest.mark.anyio


def scripted(*messages: Message) -> Any:
    """A ``receive`` that returns ``messages`` in order."""
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0)

    return receive


async def test_answer_lifespan_answers_startup_and_shutdown_with_complete() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    receive = scripted({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await answer_lifespan(receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_answer_lifespan_refuses_a_second_startup_as_the_table_says() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    @get
    async def hello(request: Request) -> AsgiResponse:
        return AsgiResponse(b"hi")

    receive = scripted({"type": "lifespan.startup"}, {"type": "lifespan.startup"})
    refused = r"'lifespan\.startup' is not valid in lifespan phase READY"
    with pytest.raises(LifespanProtocolError, match=refused):
        await hello({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete"]


@pytest.mark.parametrize("stage", ["startup", "shutdown"])
async def test_failed_reply_whose_send_raises_is_logged_once_then_the_send_error_propagates(
    stage: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def fail() -> None:
        raise ConnectionError(f"{stage} broke")

    hooks: dict[str, Any] = {"on_startup" if stage == "startup" else "on_shutdown": [fail]}
    app = AsgiFastStream(None, **hooks)

    async def send(message: Message) -> None:
        if message["type"].endswith(".failed"):  # as hypercorn's trio worker does
            raise RuntimeError("the server raised from send")

    receive = scripted({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    with (
        caplog.at_level(logging.ERROR, logger="asgi_core"),
        pytest.raises(RuntimeError, match="the server raised from send"),
    ):
        await app({"type": "lifespan"}, receive, send)
    reports = [r for r in caplog.records if f"lifespan.{stage}.failed" in r.getMessage()]
    assert len(reports) == 1
    assert reports[0].levelno == logging.ERROR
    assert f"{stage} broke" in reports[0].getMessage()


async def test_failed_reply_that_is_sent_is_not_logged_by_us(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def fail() -> None:
        raise ConnectionError("startup broke")

    app = AsgiFastStream(None, on_startup=[fail])

    async def send(message: Message) -> None:
        pass

    with caplog.at_level(logging.ERROR, logger="asgi_core"), pytest.raises(ConnectionError):
        await app({"type": "lifespan"}, scripted({"type": "lifespan.startup"}), send)
    assert not [r for r in caplog.records if "startup broke" in r.getMessage()]
