"""Try it out's guards: off by default, the body limit, the body's shape, where it may be mounted.

Nothing here reaches the broker (each request is refused before publishing), so these tests run
on asyncio and trio; the broker's ``publish`` is replaced by one that fails the test if called.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from asgi_core import AsgiFastStream
from asgi_core.asyncapi import mount_asyncapi
from asgi_core.exceptions import ConfigError
from asgi_core.testing import Client

pytestmark = pytest.mark.anyio


def app_with(**options: Any) -> AsgiFastStream:
    from faststream.redis import RedisBroker

    broker = RedisBroker()

    async def handle(text: str) -> None: ...

    broker.subscriber("orders")(handle)

    async def publish(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"nothing may be published here: {args} {kwargs}")

    broker.publish = publish  # type: ignore[method-assign,assignment]
    app = AsgiFastStream(broker)
    mount_asyncapi(app, "/docs", **options)
    return app


def good(payload: object = "x") -> dict[str, Any]:
    return {"channelName": "orders", "message": {"message": payload}}


async def test_try_it_out_is_off_by_default() -> None:
    app = app_with()
    assert [path for path, _ in app.routes] == ["/docs", "/docs.json"]
    response = await Client(app).post("/docs/try", json=good())
    assert response.status_code == 405  # the page's route, GET only: nothing publishes


async def test_try_it_out_is_mounted_beside_the_docs_and_serves_post_only() -> None:
    app = app_with(try_it_out=True)
    assert [path for path, _ in app.routes] == ["/docs", "/docs.json", "/docs/try"]
    response = await Client(app).get("/docs/try")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


async def test_try_it_out_reads_64_kib_and_refuses_one_byte_more_with_413() -> None:
    app = app_with(try_it_out=True)
    dry_run = {**good(""), "options": {"sendToRealBroker": False}}  # refused after it is read
    padding = "x" * (64 * 1024 - len(json.dumps(dry_run)))
    exactly = {**dry_run, "message": {"message": padding}}
    assert len(json.dumps(exactly)) == 64 * 1024
    response = await Client(app).post("/docs/try", json=exactly)
    assert response.status_code == 400  # read whole, then refused for its shape
    one_more = {**dry_run, "message": {"message": padding + "x"}}
    response = await Client(app).post("/docs/try", json=one_more)
    assert response.status_code == 413
    assert response.text == "Content Too Large"


async def test_try_it_out_max_body_size_is_a_setting() -> None:
    app = app_with(try_it_out=True, try_it_out_max_body_size=20)
    assert (await Client(app).post("/docs/try", body=b"{" + b" " * 20 + b"}")).status_code == 413


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "64k"])
def test_try_it_out_max_body_size_must_be_a_positive_int(value: object) -> None:
    with pytest.raises(ValueError, match="try_it_out_max_body_size must be a positive int, not"):
        app_with(try_it_out=True, try_it_out_max_body_size=value)


async def test_try_it_out_refuses_a_body_that_is_not_json() -> None:
    response = await Client(app_with(try_it_out=True)).post("/docs/try", body=b"{oops")
    assert response.status_code == 400
    assert response.text.startswith("Invalid JSON body: ")


@pytest.mark.parametrize(
    ("sent", "reason"),
    [
        ([1, 2], 'the body must be a JSON object, not list; send {"channelName"'),
        ({"channel": "orders"}, "unknown keys ['channel']; the keys are ['channelName', "),
        ({"message": {"message": 1}}, "channelName must be a non-empty string, not None"),
        ({"channelName": "", "message": {"message": 1}}, "channelName must be a non-empty string"),
        ({"channelName": "orders"}, "message must be an object holding the payload as 'message'"),
        ({"channelName": "orders", "message": 1}, "message must be an object holding the payload"),
        ({**good(), "options": []}, "options must be an object with the keys ['sendToRealBroker'"),
        ({**good(), "options": {"x": 1}}, "options must be an object with the keys"),
        (
            {**good(), "options": {"sendToRealBroker": False}},
            "options.sendToRealBroker is False: dry runs are not supported",
        ),
    ],
)
async def test_try_it_out_refuses_a_body_of_the_wrong_shape_with_the_reason(
    sent: object, reason: str
) -> None:
    response = await Client(app_with(try_it_out=True)).post("/docs/try", json=sent)
    assert response.status_code == 400
    assert response.json()["details"].startswith(reason)


async def test_try_it_out_at_the_root_mount_is_slash_try() -> None:
    root = AsgiFastStream(app_with().broker)  # the same kind of broker, docs at the root
    mount_asyncapi(root, "/", try_it_out=True)
    assert [path for path, _ in root.routes] == ["/", "/asyncapi.json", "/try"]
    assert (await Client(root).post("/try", json={})).status_code == 400


def test_try_it_out_needs_a_faststream_broker() -> None:
    class Broker:
        async def start(self) -> None: ...

        async def close(self) -> None: ...

    with pytest.raises(ConfigError, match="try_it_out publishes through a FastStream broker"):
        mount_asyncapi(AsgiFastStream(Broker()), "/docs", try_it_out=True)
