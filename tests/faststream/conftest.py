"""FastStream integration tests, run on both FastStream generations (0.5.31+ and 0.7.x).

``.venv`` has FastStream 0.7 and ``.venv-fs05`` has 0.5.31; the same tests run in each. Nothing
here skips: what differs between generations is branched on ``FASTSTREAM`` at the place it
differs, with the reason beside it. The version is printed in pytest's header.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

import jsonschema
import pytest

from asgi_core.asyncapi import build_document

# the installed FastStream's (major, minor), e.g. (0, 5) or (0, 7)
FASTSTREAM: tuple[int, int] = tuple(  # type: ignore[assignment]
    int(part) for part in __import__("faststream.__about__").__about__.__version__.split(".")[:2]
)

SCHEMA_PATH = pathlib.Path(__file__).parents[1] / "fixtures/asyncapi/asyncapi-3.0.0.schema.json"
VALIDATOR = jsonschema.Draft7Validator(
    json.loads(SCHEMA_PATH.read_text()), format_checker=jsonschema.FormatChecker()
)


def pytest_report_header() -> str:
    from faststream.__about__ import __version__

    return f"faststream: {__version__} (tests/faststream run on this generation)"


def refs(node: object) -> Iterable[str]:
    if isinstance(node, Mapping):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def resolve(document: Mapping[str, Any], ref: str) -> Any:
    """The object a local ``$ref`` points at; KeyError if it points at nothing."""
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[unquote(part).replace("~1", "/").replace("~0", "~")]
    return node


def check(document: Mapping[str, Any]) -> None:
    """Valid against the official AsyncAPI 3.0.0 schema, and every ``$ref`` resolves."""
    checked = VALIDATOR.format_checker.checkers if VALIDATOR.format_checker else {}
    assert "uri" in checked, "pip install rfc3986-validator: jsonschema checks URIs only with it"
    errors = sorted(VALIDATOR.iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    for ref in refs(document):
        resolve(document, ref)


def ours(app: Any) -> dict[str, Any]:
    """The app's document, checked."""
    document = build_document(app)
    check(document)
    return document


@pytest.fixture(params=["redis", "nats", "rabbit", "kafka"])
def kind(request: pytest.FixtureRequest) -> str:
    """Each broker FastStream 0.5.31 and 0.7 both have."""
    name: str = request.param
    return name
