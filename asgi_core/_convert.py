"""Run option values converted to a hook parameter's annotation.

Options are often strings (the CLI's ``--key value``); ``convert`` turns one into:

* ``int``, ``float``, ``str``, ``pathlib.Path`` (and other ``PurePath`` classes);
* ``bool`` from a bool, 0/1, or one of true/false/1/0/yes/no/on/off in any case;
* ``Optional[X]`` / ``X | None`` (``None`` stays ``None``), other unions member by member;
* ``list[X]`` from a list, a tuple or a single value; ``Literal[...]`` by membership;
* no annotation, ``Any`` or ``object``: the value as given; other typing constructs unchecked.

A value that does not convert raises ``ConfigError`` naming the hook, the option and the type.
"""

from __future__ import annotations

import sys
import types
import typing
from typing import Any

from asgi_core.exceptions import ConfigError

__all__ = ["convert", "type_name"]

_TRUE = frozenset(("true", "1", "yes", "on"))
_FALSE = frozenset(("false", "0", "no", "off"))


def type_name(annotation: object) -> str:
    # typing.get_origin: on 3.10, isinstance(list[int], type) is True
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def convert(value: object, annotation: object, *, hook: str, option: str) -> object:
    """``value`` converted to ``annotation``, or ``ConfigError`` naming hook, option and type."""
    try:
        return _convert(value, annotation)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"{hook}: option {option!r} = {value!r} is not a valid {type_name(annotation)} "
            f"({exc}); pass a value of that type"
        ) from None


def _convert(value: object, annotation: object) -> object:
    if annotation is Any or annotation is object or isinstance(annotation, (str, typing.TypeVar)):
        return value
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return _convert_union(value, typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation) or (Any,)
        items = value if isinstance(value, (list, tuple)) else [value]
        return [_convert(one, item) for one in items]
    if origin is typing.Literal:
        for choice in typing.get_args(annotation):
            if value == choice or (isinstance(value, str) and str(choice) == value):
                return choice
        raise ValueError(f"expected one of {typing.get_args(annotation)!r}")
    if annotation is bool:
        return _convert_bool(value)
    if annotation is int or annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError(f"cannot convert a {type(value).__name__}")
        if annotation is int and isinstance(value, float) and not value.is_integer():
            raise ValueError("it has a fractional part")
        return annotation(value)
    # A path annotation means pathlib is imported already; asgi_core never imports it itself.
    pure_path = getattr(sys.modules.get("pathlib"), "PurePath", ())
    if annotation is str:
        if isinstance(value, (str, int, float, pure_path)) and not isinstance(value, bool):
            return str(value)
        raise TypeError(f"cannot convert a {type(value).__name__}")
    if origin is None and isinstance(annotation, type):  # not list[int] etc. (a type on 3.10)
        if pure_path and issubclass(annotation, pure_path):
            if isinstance(value, (str, pure_path)):
                return annotation(value)
            raise TypeError(f"cannot convert a {type(value).__name__}")
        if isinstance(value, annotation):
            return value
        raise TypeError(
            f"asgi_core converts only to int, float, bool, str, Path, Optional, list and Literal, "
            f"and this is a {type(value).__name__}"
        )
    return value  # other typing constructs (Annotated, NewType, ...) are not checked


def _convert_union(value: object, members: tuple[object, ...]) -> object:
    if value is None and type(None) in members:
        return None
    errors = []
    for member in members:
        if member is type(None):
            continue
        try:
            return _convert(value, member)
        except (TypeError, ValueError) as exc:
            errors.append(str(exc))
    raise ValueError("; ".join(errors))


def _convert_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ValueError("use true/false, 1/0, yes/no or on/off")
