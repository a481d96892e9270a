"""The FastStream hook-in: a FastStream broker is described by FastStream's own generator.

A broker is FastStream's if its class or a base class comes from a ``faststream`` module; that
test imports nothing. ``asgi_core_extras.faststream._asyncapi`` is imported only when such a
broker is documented (``MissingExtraError`` names the ``faststream`` extra if it is missing); it
adds the brokers' parts to the document and lists what they are made from, the subscribers and
publishers, for the cache key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgi_core.exceptions import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

    from asgi_core.asyncapi._metadata import Documented

__all__ = [
    "TRY_IT_OUT_MAX_BODY_SIZE",
    "brokers",
    "from_faststream",
    "integration",
    "sources",
    "try_it_out_route",
]

TRY_IT_OUT_MAX_BODY_SIZE = 64 * 1024  # the try-it-out route's default body limit


def brokers(app: Documented) -> list[object]:
    """The brokers the document describes: ``app.brokers``, in order (``[app.broker]`` without)."""
    every = getattr(app, "brokers", None)
    if every is not None:
        return list(every)
    return [] if app.broker is None else [app.broker]


def from_faststream(broker: object) -> bool:
    """True if the broker's class or a base class is FastStream's; faststream isn't imported."""
    return any(
        str(getattr(cls, "__module__", "")).partition(".")[0] == "faststream"
        for cls in type(broker).__mro__
    )


def integration() -> ModuleType:
    from asgi_core._importer import import_extra  # the extra is loaded only when needed

    return import_extra(
        "asgi_core_extras.faststream._asyncapi",
        feature="the AsyncAPI document of a FastStream broker",
        packages=("asgi_core_extras", "faststream"),
        extra="faststream",
    )


def sources(app: Documented) -> list[tuple[object, int]]:
    """What the FastStream brokers' parts are made from (their subscribers and publishers)."""
    found: list[tuple[object, int]] = []
    for broker in brokers(app):
        if from_faststream(broker):
            found.extend(integration().sources(broker))
    return found


def try_it_out_route(app: Documented, document: Callable[[], Any], max_body_size: int) -> Any:
    """The try-it-out POST route publishing through ``app``'s FastStream brokers."""
    theirs = [broker for broker in brokers(app) if from_faststream(broker)]
    if brokers(app) and not theirs:
        raise ConfigError(
            f"try_it_out publishes through a FastStream broker, and the app's brokers "
            f"{brokers(app)!r:.200} are not FastStream's; drop try_it_out=True"
        )
    from asgi_core._importer import import_extra  # the extra is loaded only when asked for

    module = import_extra(
        "asgi_core_extras.faststream._try_it_out",
        feature="try it out (publishing from the docs)",
        packages=("asgi_core_extras", "faststream"),
        extra="faststream",
    )
    return module.make_try_it_out_route(
        document,
        lambda: [broker for broker in brokers(app) if from_faststream(broker)],
        max_body_size=max_body_size,
    )
