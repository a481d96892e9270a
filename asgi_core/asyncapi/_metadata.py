"""The app's metadata checked and turned into the document's ``info`` object (and ``id``).

Each setting is checked against its AsyncAPI shape (``_SHAPES``): a wrong type, an unknown key
(other than an ``x-`` extension), a missing required key or a relative URL is a ``ConfigError``
naming the setting. ``check_metadata`` runs when the routes are mounted, so bad metadata fails at
once rather than on the first request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from asgi_core.exceptions import ConfigError

__all__ = ["Documented", "build_info", "check_metadata", "check_tags", "check_text", "check_url"]


class Documented(Protocol):
    """The application attributes the document is built from (``Application`` has them)."""

    broker: Any
    title: str
    version: str
    description: str
    terms_of_service: Any
    license: Any
    contact: Any
    asyncapi_tags: Any
    external_docs: Any
    identifier: Any
    routes: Any


_Check = Callable[[str, object], object]


def check_text(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{field} must be a string, not {value!r}")
    return value


def check_url(field: str, value: object, *, scheme_only: bool = False) -> str:
    from urllib.parse import urlsplit

    text = check_text(field, value)
    parts = urlsplit(text)
    if not parts.scheme or not (parts.netloc or scheme_only) or any(c.isspace() for c in text):
        example = "urn:example:my-service" if scheme_only else "https://example.com/docs"
        kind = "URI" if scheme_only else "URL"
        raise ConfigError(f"{field} must be an absolute {kind} such as {example!r}, not {text!r}")
    return text


def _email(field: str, value: object) -> str:
    text = check_text(field, value)
    if "@" not in text:
        raise ConfigError(f"{field} must be an email address, not {text!r}")
    return text


def _shaped(shape: str, field: str, value: object) -> dict[str, object]:
    """A metadata object checked against its shape in ``_SHAPES``; ``x-`` keys pass through."""
    checks, required = _SHAPES[shape]
    if not isinstance(value, Mapping):
        raise ConfigError(f"{field} must be a mapping with keys {sorted(checks)}, not {value!r}")
    checked: dict[str, object] = {}
    for key, item in value.items():
        if isinstance(key, str) and key.startswith("x-"):
            checked[key] = item
        elif key not in checks:
            raise ConfigError(
                f"{field} has the key {key!r}, which AsyncAPI's {shape} object doesn't have; "
                f"use {', '.join(sorted(checks))} (or an 'x-' extension)"
            )
        elif item is not None:  # FastStream's typed dicts may carry None for "not set"
            checked[key] = checks[key](f"{field}.{key}", item)
    missing = [key for key in required if key not in checked]
    if missing:
        raise ConfigError(f"{field} needs {', '.join(map(repr, missing))}; it has {value!r}")
    return checked


def check_tags(field: str, value: object) -> list[dict[str, object]]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ConfigError(f"{field} must be a list of tags (names or mappings), not {value!r}")
    tags = [
        _shaped("tag", f"{field}[{i}]", {"name": tag} if isinstance(tag, str) else tag)
        for i, tag in enumerate(value)
    ]
    names = [tag["name"] for tag in tags]
    if len(set(names)) != len(names):
        raise ConfigError(f"{field} names a tag twice ({names!r}); AsyncAPI needs unique tags")
    return tags


_SHAPES: dict[str, tuple[dict[str, _Check], tuple[str, ...]]] = {
    "contact": ({"name": check_text, "url": check_url, "email": _email}, ()),
    "license": ({"name": check_text, "url": check_url}, ("name",)),
    "externalDocs": ({"url": check_url, "description": check_text}, ("url",)),
    "tag": (
        {
            "name": check_text,
            "description": check_text,
            "externalDocs": lambda field, value: _shaped("externalDocs", field, value),
        },
        ("name",),
    ),
}


def build_info(app: Documented) -> dict[str, Any]:
    """The ``info`` object (and ``id``) from the app's metadata; ``ConfigError`` if invalid."""
    info: dict[str, Any] = {
        "title": check_text("title", app.title),
        "version": check_text("version", app.version),
    }
    if app.description:
        info["description"] = check_text("description", app.description)
    if app.terms_of_service:
        info["termsOfService"] = check_url("terms_of_service", app.terms_of_service)
    if app.contact:
        info["contact"] = _shaped("contact", "contact", app.contact)
    if app.license:
        info["license"] = _shaped("license", "license", app.license)
    if app.asyncapi_tags:
        info["tags"] = check_tags("tags", app.asyncapi_tags)
    if app.external_docs:
        info["externalDocs"] = _shaped("externalDocs", "external_docs", app.external_docs)
    return info


def check_metadata(app: Documented) -> None:
    """Raise ``ConfigError`` now if the document could not be built from ``app``'s metadata."""
    build_info(app)
    if app.identifier:
        check_url("identifier", app.identifier, scheme_only=True)
