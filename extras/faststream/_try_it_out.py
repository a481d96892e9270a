"""Try it out: a POST route beside the docs that publishes a test message to one of the channels.

``mount_asyncapi(app, "/docs", try_it_out=True)`` mounts it at ``/docs/try``. It is off by
default: whoever can reach it can publish into the broker. The body is the one FastStream's
try-it-out page plugin sends (so a FastStream user's scripts keep working)::

    {"channelName": "orders:HandleOrder", "message": {"message": {"id": 1}},
     "options": {"sendToRealBroker": true}}

Rules:

* The body is at most ``max_body_size`` bytes (64 KiB by default): more is 413. A body that is
  not JSON is 400 (``Request.json``), and so is one of the wrong shape, with the reason:
  ``channelName`` a non-empty string, ``message`` an object whose ``message`` is the payload
  (any JSON value), ``options`` optional; no other keys. FastStream's dry run
  (``sendToRealBroker: false``: it runs the message through a ``TestBroker`` in the live process)
  is refused with 400: this route always publishes to the real broker.
* ``channelName`` names a channel of a FastStream broker in the document: its channel id
  (``orders:HandleOrder``), its address (``orders``), or, as FastStream reads it, the id's part
  before the first ``:``. Anything else, including the HTTP routes' channels, is 404. With
  several brokers, the first broker that has the channel publishes it.
* The message goes out through the broker that owns the channel, to what the channel's
  bindings say: a Redis list (``lpop``) or stream (``xread``) by ``list=`` / ``stream=``, a
  RabbitMQ queue by its name (the default exchange delivers it to the queue), otherwise the
  address (Kafka topic, NATS subject, Redis channel). 200 answers
  ``{"published": channel_id, "address": address}``. If the broker raises, the error is logged on
  ``asgi_core.asyncapi`` and the client gets 503 with no detail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from asgi_core.handlers import HandlerApp, post
from asgi_core.requests import Request
from asgi_core.responses import AsgiResponse, JSONResponse

from ._asyncapi import broker_part
from ._merge import merge_part

__all__ = ["Target", "make_try_it_out_route", "targets"]

# a Redis channel binding's method -> the keyword of broker.publish that reaches it
_REDIS_KEYWORDS = {"lpop": "list", "rpush": "list", "xread": "stream", "xadd": "stream"}
_KEYS = frozenset(("channelName", "message", "options"))
_OPTIONS = frozenset(("sendToRealBroker", "timestamp"))
_logger = logging.getLogger("asgi_core.asyncapi")


class Target(NamedTuple):
    """Where a channel's test message goes: ``broker.publish(payload, address)`` or by keyword."""

    broker: Any
    address: str
    keyword: str | None = None  # "list" or "stream" for Redis; None: the positional argument


def _target(broker: Any, channel: Mapping[str, Any]) -> Target:
    bindings = channel.get("bindings") or {}
    redis = bindings.get("redis") or {}
    amqp = bindings.get("amqp") or {}
    if amqp.get("is") == "queue" and isinstance(amqp.get("queue", {}).get("name"), str):
        return Target(broker, amqp["queue"]["name"])
    return Target(broker, str(channel["address"]), _REDIS_KEYWORDS.get(redis.get("method", "")))


def targets(brokers: Sequence[object]) -> dict[str, tuple[str, Target]]:
    """Channel id -> (its address in the document, its target), named as ``add_brokers`` names
    them: the brokers' parts merged in order."""
    merged: dict[str, Any] = {}
    found: dict[str, tuple[str, Target]] = {}
    for broker in brokers:
        before = set(merged.get("channels", {}))
        merge_part(merged, broker_part(broker))
        for channel_id, channel in merged.get("channels", {}).items():
            if channel_id not in before:
                found[channel_id] = (str(channel.get("address")), _target(broker, channel))
    return found


def _resolve(name: str, known: Mapping[str, tuple[str, Target]]) -> tuple[str, Target] | None:
    if name in known:
        return name, known[name][1]
    for wanted in dict.fromkeys((name, name.partition(":")[0])):
        for channel_id, (address, target) in known.items():
            if wanted in (address, target.address):
                return channel_id, target
    return None


def _refused(reason: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"details": reason}, status)


def _read(body: object) -> tuple[str, Any] | JSONResponse:
    """``(channelName, payload)`` from the request body, or the 400 answer saying what is wrong."""
    shape = (
        'send {"channelName": "<channel>", "message": {"message": <payload>}}, as FastStream\'s '
        "try-it-out plugin does"
    )
    if not isinstance(body, dict):
        return _refused(f"the body must be a JSON object, not {type(body).__name__}; {shape}")
    unknown = sorted(set(body) - _KEYS)
    if unknown:
        return _refused(f"unknown keys {unknown}; the keys are {sorted(_KEYS)}")
    channel, message = body.get("channelName"), body.get("message")
    if not isinstance(channel, str) or not channel:
        return _refused(f"channelName must be a non-empty string, not {channel!r:.100}; {shape}")
    if not isinstance(message, dict) or "message" not in message:
        return _refused(f"message must be an object holding the payload as 'message'; {shape}")
    options = body.get("options", {})
    if not isinstance(options, dict) or set(options) - _OPTIONS:
        return _refused(f"options must be an object with the keys {sorted(_OPTIONS)}")
    real = options.get("sendToRealBroker", True)
    if real is not True:
        return _refused(
            f"options.sendToRealBroker is {real!r}: dry runs are not supported, this endpoint "
            "publishes to the real broker; send true or leave options out"
        )
    return channel, message["message"]


def make_try_it_out_route(
    document: Callable[[], Mapping[str, Any]],
    brokers: Callable[[], Sequence[object]],
    *,
    max_body_size: int,
) -> HandlerApp:
    """The POST route: ``document()`` is the served document, ``brokers()`` the app's FastStream
    brokers now (both are called on every request, so ``set_broker`` and new subscribers count)."""
    if not isinstance(max_body_size, int) or isinstance(max_body_size, bool) or max_body_size < 1:
        raise ValueError(f"try_it_out_max_body_size must be a positive int, not {max_body_size!r}")

    @post(include_in_schema=False, max_body_size=max_body_size)
    async def try_it_out(request: Request) -> AsgiResponse:
        read = _read(await request.json())
        if isinstance(read, JSONResponse):
            return read
        name, payload = read
        channels = document().get("channels", {})
        known = {k: v for k, v in targets(brokers()).items() if k in channels}
        found = _resolve(name, known)
        if found is None:
            names = ", ".join(sorted(known)) or "none: the app has no FastStream broker channel"
            return _refused(
                f"no broker channel {name!r} in the document; the channels: {names}", 404
            )
        channel_id, target = found
        try:
            if target.keyword is None:
                await target.broker.publish(payload, target.address)
            else:
                await target.broker.publish(payload, **{target.keyword: target.address})
        except Exception:
            _logger.exception("try it out: publishing to %r (%s) failed", target.address, name)
            return _refused("the broker could not publish the message; see the server log", 503)
        return JSONResponse({"published": channel_id, "address": target.address})

    return try_it_out
