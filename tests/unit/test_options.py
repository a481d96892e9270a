"""Run options converted to hook annotations."""

from __future__ import annotations

import pathlib
from typing import Any, Literal, Optional, Union

import pytest

from asgi_core._options import bind_options, convert
from asgi_core.exceptions import ConfigError


@pytest.mark.parametrize(
    ("value", "annotation", "expected"),
    [
        ("3", int, 3),
        (3.0, int, 3),
        ("2.5", float, 2.5),
        (2, float, 2.0),
        ("yes", bool, True),
        ("No", bool, False),
        ("1", bool, True),
        (0, bool, False),
        ("off", bool, False),
        (5, str, "5"),
        ("/tmp/x", pathlib.Path, pathlib.Path("/tmp/x")),
        (None, Optional[int], None),  # noqa: UP045 - the typing spelling is tested too
        ("4", Optional[int], 4),  # noqa: UP045
        ("4", int | None, 4),
        ("x", Union[int, str], "x"),  # noqa: UP007
        (["1", "2"], list[int], [1, 2]),
        ("7", list[int], [7]),
        (("a",), list[str], ["a"]),
        ("debug", Literal["debug", "info"], "debug"),
        ({"any": 1}, Any, {"any": 1}),
        (object, object, object),
    ],
)
def test_options_convert_to_the_annotated_type(
    value: object, annotation: Any, expected: object
) -> None:
    assert convert(value, annotation, hook="h", option="o") == expected


@pytest.mark.parametrize(
    ("value", "annotation", "expected_type"),
    [
        ("many", int, "int"),
        ("maybe", bool, "bool"),
        (2, bool, "bool"),
        (True, int, "int"),
        (2.5, int, "int"),
        ("x", list[int], "list[int]"),
        ("trace", Literal["debug", "info"], "Literal"),
        ([1], str, "str"),
        (1, pathlib.Path, "Path"),
        ("x", dict, "dict"),
    ],
)
def test_options_unconvertible_value_names_hook_option_and_type(
    value: object, annotation: Any, expected_type: str
) -> None:
    with pytest.raises(ConfigError) as info:
        convert(value, annotation, hook="on_startup hook app.setup", option="level")
    message = str(info.value)
    assert "on_startup hook app.setup" in message
    assert f"option 'level' = {value!r}" in message
    assert expected_type in message


def test_options_bind_passes_only_named_parameters_and_all_to_kwargs() -> None:
    def hook(a: int, b: str = "default", *args: Any, **rest: int) -> None: ...

    assert bind_options(hook, {"a": "1", "c": "2"}, hook="h") == {"a": 1, "c": 2}


def test_options_bind_skips_positional_only_with_default_and_requires_without() -> None:
    def with_default(a: int = 1, /) -> None: ...

    def without(a: int, /) -> None: ...

    assert bind_options(with_default, {"a": "5"}, hook="h") == {}
    with pytest.raises(ConfigError, match="needs the option 'a'"):
        bind_options(without, {"a": "5"}, hook="h")


def test_options_bind_handles_unresolvable_string_annotations() -> None:
    def hook(a: Undefined) -> None:  # type: ignore[name-defined]  # noqa: F821
        ...

    assert bind_options(hook, {"a": "x"}, hook="h") == {"a": "x"}


def test_options_bind_callable_objects_and_builtins() -> None:
    class Hook:
        def __call__(self, port: int) -> None: ...

    assert bind_options(Hook(), {"port": "1"}, hook="h") == {"port": 1}
    assert bind_options(print, {"port": "1"}, hook="h") == {}


def test_options_bind_works_out_each_function_separately_and_repeatably() -> None:
    def first(port: int) -> None: ...

    def second(port: str) -> None: ...

    for _ in range(2):
        assert bind_options(first, {"port": "1"}, hook="h") == {"port": 1}
        assert bind_options(second, {"port": "1"}, hook="h") == {"port": "1"}


def test_options_other_generic_annotations_pass_through_unchecked() -> None:
    assert convert({"a": 1}, dict[str, int], hook="h", option="o") == {"a": 1}


def test_options_the_check_and_the_call_read_a_signature_the_same_way() -> None:
    from collections.abc import Callable

    from asgi_core._options import accepted_options, check_hook_options

    def hook(
        a: int = 0, /, b: int = 0, *args: object, c: str = "", worker_id: int | None = None
    ) -> None:
        pass

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, d: int = 0) -> None:
            pass

    cases: list[tuple[Callable[..., object], set[str]]] = [
        (hook, {"b", "c"}),
        (Unhashable(), {"d"}),
        (max, set()),  # no signature: nothing accepted, nothing passed
    ]
    for func, names in cases:
        assert accepted_options([func]) == (names, False)
        given = {name: "1" for name in ("a", "b", "c", "d", "e")}
        assert set(bind_options(func, given, hook="h")) == names
    assert accepted_options([hook, lambda **rest: None]) == ({"b", "c"}, True)
    with pytest.raises(ConfigError, match=r"unknown option 'a': neither any hook of 'me'"):
        check_hook_options("me", {"a": 1}, on_startup=[hook], lifespan=None)
    with pytest.raises(ConfigError, match=r"neither the server nor .*valid options: b, c, port\)"):
        check_hook_options(
            "me", {"a": 1}, on_startup=[hook], lifespan=None, server_options=frozenset({"port"})
        )
