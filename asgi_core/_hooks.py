"""Registering and calling lifecycle hooks.

* Four stages, each an ordered list: ``on_startup`` (receives the run options its signature
  accepts), ``after_startup``, ``on_shutdown``, ``after_shutdown`` (called with no arguments).
* Hooks given to the constructor come first, then decorated ones, in registration order.
* A hook is any callable; if it returns an awaitable, that is awaited. Sync hooks run on the
  event loop's thread, so a slow sync hook blocks it: make long work ``async``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Hook", "Hooks", "call_hook", "describe"]

Hook = Callable[..., Any]


def describe(func: object) -> str:
    """A readable name for a hook: its qualified name and module when it has them."""
    name = getattr(func, "__qualname__", None) or type(func).__qualname__
    module = getattr(func, "__module__", None)
    return f"{module}.{name}" if module and module != "builtins" else str(name)


def _checked(stage: str, func: object) -> Hook:
    if not callable(func):
        raise TypeError(f"{stage} hooks must be callable, not {func!r}")
    return func


class Hooks:
    """The four ordered hook lists of an application."""

    __slots__ = ("after_shutdown", "after_startup", "on_shutdown", "on_startup")

    def __init__(
        self,
        on_startup: Iterable[Hook] = (),
        after_startup: Iterable[Hook] = (),
        on_shutdown: Iterable[Hook] = (),
        after_shutdown: Iterable[Hook] = (),
    ) -> None:
        self.on_startup = [_checked("on_startup", f) for f in on_startup]
        self.after_startup = [_checked("after_startup", f) for f in after_startup]
        self.on_shutdown = [_checked("on_shutdown", f) for f in on_shutdown]
        self.after_shutdown = [_checked("after_shutdown", f) for f in after_shutdown]

    def add(self, stage: str, func: Hook) -> None:
        """Append ``func`` to ``stage``'s list."""
        getattr(self, stage).append(_checked(stage, func))

    def copy(self) -> Hooks:
        """New lists with the same hooks: later registrations on one don't reach the other."""
        return Hooks(self.on_startup, self.after_startup, self.on_shutdown, self.after_shutdown)

    def __len__(self) -> int:
        return sum(len(getattr(self, stage)) for stage in self.__slots__)


async def call_hook(func: Hook, kwargs: dict[str, object]) -> None:
    """Call ``func(**kwargs)`` and await the result if it is awaitable."""
    result = func(**kwargs)
    if hasattr(result, "__await__"):
        await result
