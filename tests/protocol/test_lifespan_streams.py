"""Whole lifespan message streams against the real app, on asyncio and trio.

Oracle: what the app sent is a valid prefix of the protocol for what it received; the run ends
before the test's deadline; every error is one of ours quoting the offending message type, or
the failing step's own exception.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from asgi_core import AsgiFastStream, LifespanProtocolError, MessageError
from tests.harness import communicate, lifespan_scope
from tests.strategies import lifespan_messages

pytestmark = pytest.mark.anyio

REPLIES = {
    "lifespan.startup": ("lifespan.startup.complete", "lifespan.startup.failed"),
    "lifespan.shutdown": ("lifespan.shutdown.complete", "lifespan.shutdown.failed"),
}


class StepFailed(Exception):
    pass


def step(outcome: str) -> Any:
    async def run() -> None:
        await anyio.sleep(0)
        if outcome == "hang":
            await anyio.sleep_forever()
        if outcome == "raise":
            raise StepFailed(outcome)

    return run


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    messages=lifespan_messages,
    startup=st.sampled_from(["ok", "raise", "hang"]),
    shutdown=st.sampled_from(["ok", "raise", "hang"]),
)
async def test_lifespan_streams_give_a_valid_protocol_prefix_and_clear_errors(
    messages: list[Any], startup: str, shutdown: str
) -> None:
    app = AsgiFastStream(
        on_startup=[step(startup)],
        on_shutdown=[step(shutdown)],
        startup_timeout=0.02,
        shutdown_timeout=0.02,
    )
    async with communicate(app, lifespan_scope({})) as comm:
        for message in messages:
            if comm.done.is_set():
                break
            await comm.put(message)
            with anyio.fail_after(5):
                while not (comm.done.is_set() or comm.waiting.is_set()):
                    await anyio.sleep(0.001)
    received = [m for direction, m in comm.log if direction == "in"]
    sent = comm.sent_types()
    # each reply answers the request before it, in order, and nothing else is sent
    requests = [m.get("type") for m in received if isinstance(m, dict)]
    assert len(sent) <= len(requests)
    for reply, request in zip(sent, requests, strict=False):
        assert reply in REPLIES.get(str(request), ()), (requests, sent)
    error = comm.error
    if error is None:
        return
    if isinstance(error, MessageError):
        bad = received[-1]
        quoted = repr(bad.get("type")) if isinstance(bad, dict) else repr(bad)
        assert quoted in str(error)
    elif isinstance(error, LifespanProtocolError):
        assert str(received[-1]["type"]) in str(error)
    else:
        assert isinstance(error, (StepFailed, TimeoutError)), repr(error)
        assert sent and sent[-1].endswith(".failed")
