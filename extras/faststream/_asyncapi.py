"""The AsyncAPI servers, channels, operations and schemas of FastStream brokers, by FastStream.

``asgi_core.asyncapi`` imports this module only when a broker's class comes from FastStream; it
builds the app's own parts (``info``, ``id``, HTTP routes) and calls ``add_brokers``.

The version decision: our document is AsyncAPI **3.0.0** whatever FastStream is installed, so
one document shape, one schema check and one page serve every user.

* FastStream 0.6 and later: its own generator is asked for 3.0.0
  (``AsyncAPI(broker, schema_version="3.0.0").to_specification()``), and its servers, channels,
  operations and components are used as they are.
* FastStream 0.5 (from 0.5.31): its generator (``faststream.asyncapi.get_app_schema``) only
  writes 2.6.0, so its document is converted by ``_convert.convert_2_6`` (the rules are there:
  a subscriber's ``subscribe`` becomes a ``receive`` operation, a publisher's ``publish`` a
  ``send``, messages and schemas stay in ``components``). 0.5's generator calls
  ``broker.setup()``, which resets each subscriber's in-flight lock: on a started broker that
  would let a shutdown stop waiting for the handlers running, so here it sets up only the
  subscribers that were never set up (FastStream needs that to read their payload types).

The payload schemas are always FastStream's (from its pydantic models); the app's title, version,
description, contact, license, tags and id replace FastStream's defaults. Each broker is
generated on its own and merged by ``_merge.merge_part``, so several brokers' names stay unique.
A failure inside FastStream's generator is a ``ConfigError`` chained to it: the docs routes
answer 500 and log it once with its traceback; nothing else of the app is affected.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from asgi_core.exceptions import ConfigError

from ._convert import ConversionError, convert_2_6
from ._merge import merge_part

__all__ = ["add_brokers", "broker_part", "faststream_version", "sources"]

_TAKEN_3_0 = ("servers", "channels", "operations", "components")
_THE_APPS_3_0 = frozenset(("asyncapi", "info", "id", "defaultContentType"))


def faststream_version() -> tuple[int, int]:
    """The installed FastStream's (major, minor) version."""
    from faststream.__about__ import __version__

    major, minor = __version__.split(".")[:2]
    return int(major), int(minor)


class _SetupOnce:
    """A FastStream 0.5 broker as its generator sees it: ``setup()`` skips set-up subscribers."""

    def __init__(self, broker: Any) -> None:
        self._broker = broker

    def __getattr__(self, name: str) -> Any:
        return getattr(self._broker, name)

    def setup(self) -> None:
        for subscriber in self._broker._subscribers.values():
            if any(call.dependant is None for call in subscriber.calls):
                self._broker.setup_subscriber(subscriber)
        for publisher in self._broker._publishers.values():
            self._broker.setup_publisher(publisher)  # sets the broker's producer: idempotent


def _generate(broker: Any) -> dict[str, Any]:
    """FastStream's document of ``broker`` (converted to 3.0.0 for 0.5), minus the app's parts."""
    if faststream_version() >= (0, 6):
        from faststream.specification import AsyncAPI  # type: ignore[import-not-found,unused-ignore]

        spec = AsyncAPI(broker, schema_version="3.0.0").to_specification()
        document: dict[str, Any] = spec.to_jsonable()
        unknown = sorted(set(document) - set(_TAKEN_3_0) - _THE_APPS_3_0)
        if unknown:
            raise ConversionError(
                f"FastStream's 3.0.0 document has {unknown}, which asgi_core does not merge yet; "
                "please report it with your FastStream version"
            )
        return {key: document[key] for key in _TAKEN_3_0 if document.get(key)}
    from faststream.asyncapi import get_app_schema  # type: ignore[import-not-found,unused-ignore]

    app = SimpleNamespace(
        broker=_SetupOnce(broker),
        title="",
        version="",
        description="",
        terms_of_service=None,
        license=None,
        contact=None,
        asyncapi_tags=None,
        external_docs=None,
        identifier=None,
    )
    generated: dict[str, Any] = get_app_schema(app).to_jsonable()
    return convert_2_6(generated)


def broker_part(broker: object) -> dict[str, Any]:
    """One broker's servers, channels, operations and components in AsyncAPI 3.0.0."""
    try:
        generated = _generate(broker)
    except ConversionError as exc:
        raise ConfigError(f"the AsyncAPI document of {broker!r} could not be built: {exc}") from exc
    except Exception as exc:
        raise ConfigError(
            f"FastStream's AsyncAPI generator raised {type(exc).__name__} for {broker!r}: {exc}; "
            "the document can't be built until it succeeds (its traceback is chained below)"
        ) from exc
    return generated


def add_brokers(document: dict[str, Any], brokers: Sequence[object]) -> None:
    """Merge every broker's part into ``document``, before its own channels, names unique."""
    merged: dict[str, Any] = {}
    for broker in brokers:
        merge_part(merged, broker_part(broker))
    merge_part(document, merged, first=True)


def sources(broker: Any) -> tuple[tuple[object, int], ...]:
    """What a broker's part is made from, for the cache key: each subscriber and publisher and
    its number of handlers (a subscriber added later, or a second handler, changes it)."""
    if faststream_version() >= (0, 6):
        found = [*broker.subscribers, *broker.publishers]
    else:
        found = [*broker._subscribers.values(), *broker._publishers.values()]
    return tuple((item, len(getattr(item, "calls", ()))) for item in found)
