"""A public list that checks what it takes and says when it changed.

Rules:

* Every way of adding to the list (``append``, ``extend``, ``insert``, ``+=``, item and slice
  assignment) passes each new item through ``_check``, which returns it or raises; a rejected
  item leaves the list as it was.
* Every change (those, and ``del``, ``pop``, ``remove``, ``clear``, ``sort``, ``reverse``,
  ``*=``) calls ``_changed`` once it is made, so whatever the owner derived from the list (the
  route index, a lifecycle plan) is dropped, not compared item by item on every use.
* Reading stays the built-in list's: iterating, indexing and ``len`` cost what they cost on a
  ``list``. ``copy()`` and slicing give a plain ``list``.

``_routing.Routes`` (the mounted apps) and ``_hooks.HookList`` (each stage's hooks) are these.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not loaded by import asgi_core
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, SupportsIndex, TypeVar

    T = TypeVar("T")
    L = TypeVar("L", bound="CheckedList[Any]")

__all__ = ["CheckedList"]


class CheckedList(list["T"]):  # T as a string: the TypeVar exists for the type checker only
    """A list whose subclass checks each new item (``_check``) and hears of each change."""

    __slots__ = ()

    def _check(self, item: Any) -> T:
        """``item`` if the list may hold it; otherwise raise, saying why."""
        raise NotImplementedError

    def _changed(self) -> None:
        """The list changed: drop what was derived from it."""
        raise NotImplementedError

    def append(self, item: T) -> None:
        super().append(self._check(item))
        self._changed()

    def extend(self, items: Iterable[T]) -> None:
        super().extend([self._check(item) for item in items])
        self._changed()

    def insert(self, index: SupportsIndex, item: T) -> None:
        super().insert(index, self._check(item))
        self._changed()

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, slice):
            super().__setitem__(key, [self._check(item) for item in value])
        else:
            super().__setitem__(key, self._check(value))
        self._changed()

    def __iadd__(self: L, items: Iterable[Any]) -> L:  # type: ignore[override, misc]
        self.extend(items)
        return self

    def __delitem__(self, key: SupportsIndex | slice) -> None:
        super().__delitem__(key)
        self._changed()

    def __imul__(self: L, count: SupportsIndex) -> L:
        super().__imul__(count)
        self._changed()
        return self

    def pop(self, index: SupportsIndex = -1) -> T:
        item = super().pop(index)
        self._changed()
        return item

    def remove(self, item: T) -> None:
        super().remove(item)
        self._changed()

    def clear(self) -> None:
        super().clear()
        self._changed()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        super().sort(*args, **kwargs)
        self._changed()

    def reverse(self) -> None:
        super().reverse()
        self._changed()
