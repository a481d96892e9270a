"""The brokers of an application: checked when given, each there once, named in messages.

* A broker needs an async ``start()`` and an async ``stop()`` (newer FastStream) or ``close()``;
  ``ping(timeout)`` is optional (the health route uses it). Anything else is a ``TypeError``
  when the broker is given, not when it would start.
* ``BrokerList`` keeps them in order: ``add`` appends (the same object twice is a
  ``ConfigError``: each broker is started and stopped once), ``set_first`` replaces the first
  one (the seed's ``set_broker``), keeping the others.
* ``AsgiFastStream(b1, b2)`` puts ``b2`` where ``asgi_routes`` goes (``Application(b1, b2)``:
  ``logger``); ``several_brokers_error`` is the ``ConfigError`` that says how to pass several.
* ``labels`` names each broker in step names: its class, and its place when there are several
  (``RedisBroker #2``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgi_core.exceptions import ConfigError

__all__ = [
    "BrokerList",
    "broker_closer",
    "checked_broker",
    "label",
    "labels",
    "several_brokers_error",
]


def broker_closer(broker: object) -> Callable[[], Awaitable[object]]:
    """The broker's ``stop`` (newer FastStream) or else its ``close``."""
    closer = getattr(broker, "stop", None) or getattr(broker, "close", None)
    if not callable(closer):
        raise TypeError(
            f"broker {broker!r} has no stop() or close() method; asgi_core needs one of them "
            "to disconnect it on shutdown"
        )
    return closer  # type: ignore[no-any-return]


def closer_name(broker: object) -> str:
    """``"stop"`` (newer FastStream) or ``"close"``: the method ``broker_closer`` returns."""
    stop = getattr(broker, "stop", None)
    if stop is not None and callable(stop):
        return "stop"
    broker_closer(broker)  # close(), or the TypeError saying why not
    return "close"


def checked_broker(broker: object) -> None:
    """``TypeError`` unless ``broker`` is None or has ``start()`` and ``stop()``/``close()``."""
    if broker is None:
        return
    if not callable(getattr(broker, "start", None)):
        raise TypeError(f"broker {broker!r} has no start() method; a broker needs async start()")
    broker_closer(broker)


def looks_like_a_broker(value: object) -> bool:
    """True for an object with ``start()`` and ``stop()``, ``close()`` or ``ping()``.

    Never a logger or a list of routes.
    """
    if isinstance(value, (logging.Logger, logging.LoggerAdapter, list, tuple, dict)):
        return False
    if not callable(getattr(value, "start", None)):
        return False
    return any(callable(getattr(value, name, None)) for name in ("stop", "close", "ping"))


def several_brokers_error(call: str, parameter: str, value: object) -> ConfigError:
    """The error for ``call(broker_a, broker_b)``: ``broker_b`` landed in ``parameter``."""
    return ConfigError(
        f"{call}(broker, {value!r}): the second positional parameter is {parameter}, and "
        f"{value!r} is a broker; pass the first broker alone and add each other one with "
        "app.add_broker(other) (brokers start in that order), or build the app from a "
        "FastStream app that has them: AsgiFastStream.from_app(FastStream(b1, b2), routes)"
    )


def label(broker: object, n: int, of: int) -> str:
    """Broker ``n`` of ``of``'s name in messages: its class, numbered when there are several."""
    name = type(broker).__name__
    return name if of == 1 else f"{name} #{n}"


def labels(brokers: list[Any]) -> list[str]:
    """Each broker's name in messages (``label``)."""
    return [label(broker, n, len(brokers)) for n, broker in enumerate(brokers, 1)]


class BrokerList:
    """The ordered brokers of one application, each object at most once."""

    __slots__ = ("items", "memo")

    def __init__(self, first: object | None) -> None:
        checked_broker(first)
        self.items: list[Any] = [] if first is None else [first]
        # the lifecycle steps that start and close each broker, in order (_steps.broker_steps);
        # every change of the list drops them, as a broker's place is in its steps' names
        self.memo: tuple[tuple[Any, Any], ...] | None = None

    def add(self, broker: object, owner: object) -> None:
        """Append ``broker``; ``ConfigError`` if ``owner`` has it already."""
        if broker is None:
            raise TypeError("add_broker needs a broker, not None")
        checked_broker(broker)
        for number, known in enumerate(self.items, 1):
            if known is broker:
                raise ConfigError(
                    f"broker {broker!r} was already added to {owner!r} (broker #{number}); "
                    "each broker is started and stopped once, so add it once"
                )
        self.items.append(broker)
        self.memo = None

    def set_first(self, broker: object | None, owner: object) -> None:
        """Make ``broker`` the first one (None: remove the first); the others stay."""
        checked_broker(broker)
        rest = self.items[1:]
        for number, known in enumerate(rest, 2):
            if known is broker:
                raise ConfigError(
                    f"broker {broker!r} is broker #{number} of {owner!r} already; set_broker "
                    "replaces broker #1, and a broker can be there only once"
                )
        self.items = rest if broker is None else [broker, *rest]
        self.memo = None
