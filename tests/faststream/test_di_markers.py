"""Which hooks use FastStream's markers, and the error text for defaults we can't fill in."""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import pytest
from faststream import Context, Depends, Logger

# imported by name: mypy knows the directory as extras/, not asgi_core_extras
_di = importlib.import_module("asgi_core_extras.faststream._di")
marker_problem = _di.marker_problem
uses_faststream_markers = _di.uses_faststream_markers


def dependency() -> int:
    return 1


async def with_context_default(logger: object = Context()) -> None: ...


async def with_depends(value: int = Depends(dependency)) -> None: ...


async def with_logger_annotation(logger: Logger) -> None: ...


async def with_annotated_context(app: Annotated[object, Context("app")]) -> None: ...


async def plain(env: str = "dev", port: int = 8000, *, debug: bool = False) -> None: ...


class CallableHook:
    async def __call__(self, logger: object = Context("logger")) -> None: ...


@pytest.mark.parametrize(
    "hook",
    [
        with_context_default,
        with_depends,
        with_logger_annotation,
        with_annotated_context,
        CallableHook(),
    ],
    ids=["Context()", "Depends()", "faststream.Logger", "Annotated[..., Context()]", "__call__"],
)
def test_uses_faststream_markers_finds_defaults_and_annotated_metadata(hook: object) -> None:
    assert uses_faststream_markers(hook)


def test_uses_faststream_markers_is_false_for_plain_defaults() -> None:
    assert not uses_faststream_markers(plain)
    assert not uses_faststream_markers(print)  # no signature at all: no markers


def test_uses_faststream_markers_does_not_import_faststream() -> None:
    import subprocess

    code = (
        "import sys\n"
        "from asgi_core_extras.faststream._di import uses_faststream_markers\n"
        "def hook(env: str = 'dev'): ...\n"
        "assert not uses_faststream_markers(hook)\n"
        "assert 'faststream' not in sys.modules and 'fast_depends' not in sys.modules, "
        "sorted(m for m in sys.modules if 'fast' in m)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_marker_problem_is_none_for_plain_hooks_and_faststream_markers_when_installed() -> None:
    assert marker_problem(plain, hook="on_startup hook plain") is None
    assert marker_problem(with_context_default, hook="on_startup hook x") is None


def test_marker_problem_says_install_faststream_for_a_marker_faststream_would_resolve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "faststream", None)  # import faststream fails
    text = marker_problem(with_depends, hook="on_startup hook tests.with_depends")
    assert text is not None
    assert text.startswith("on_startup hook tests.with_depends: parameter 'value' uses ")
    assert "FastStream is not installed" in text
    assert "pip install 'asgi-core[faststream]'" in text
    assert "`--value VALUE`" in text


def test_marker_problem_names_another_frameworks_marker_and_what_to_do() -> None:
    from pydantic import Field

    async def hook(retries: int = Field(3), *, log_level: str = "info") -> None: ...

    text = marker_problem(hook, hook="after_startup hook hook")
    assert text is not None
    assert "after_startup hook hook: parameter 'retries' uses " in text
    assert "from pydantic, which asgi_core can't resolve" in text
    assert "give the parameter a plain default or pass it as a run option (`--retries VALUE`)" in (
        text
    )
