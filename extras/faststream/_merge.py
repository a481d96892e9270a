"""Merge an AsyncAPI 3.0.0 part (servers, channels, operations, components) into a document.

Rules:

* Every named object keeps its name unless the document already has that name. Then a server or
  a component (message, schema, security scheme, ...) equal to the one there is shared, as
  FastStream shares one server between brokers with the same URL; anything else is renamed
  ``name_2``, ``name_3``, ... Channels and operations are always renamed: two brokers' ``orders``
  subscribers are two operations even if they look alike.
* A shared object must not point at one that was renamed (an ``Order`` schema whose ``Item``
  differs from the document's ``Item``), so sharing is decided until nothing changes.
* Every ``$ref`` in the part (``#/servers/x``, ``#/channels/x/messages/m``,
  ``#/components/schemas/x``) is rewritten to the new names; the part given is not modified.
* The part's objects are added after the document's, or before them with ``first=True`` (the
  brokers' channels are listed before the HTTP routes in the rendered page).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

__all__ = ["merge_part", "pointer", "pointer_parts", "refs_in"]

_TOP_SECTIONS = ("servers", "channels", "operations")
_SHARED_TOP = frozenset(("servers",))
Section = tuple[str, ...]  # ("channels",) or ("components", "schemas")


def pointer(parts: Iterable[str]) -> str:
    """A local ``$ref`` to ``parts``, encoded as FastStream 0.7 does (RFC 6901 in a URI
    fragment: ``~`` and ``/`` escaped, then percent-encoding, so ``{`` stays valid)."""
    return "#/" + "/".join(
        quote(p.replace("~", "~0").replace("/", "~1"), safe="~:._-") for p in parts
    )


def pointer_parts(ref: str) -> list[str]:
    """The names in a local ``$ref``, decoded (the inverse of ``pointer``)."""
    return [
        unquote(p).replace("~1", "/").replace("~0", "~") for p in ref.removeprefix("#/").split("/")
    ]


def _target(ref: str) -> tuple[Section, str] | None:
    """The (section, name) a local ``$ref`` points into, or None for other references."""
    if not ref.startswith("#/"):
        return None
    parts = pointer_parts(ref)
    if parts[0] in _TOP_SECTIONS and len(parts) >= 2:
        return (parts[0],), parts[1]
    if parts[0] == "components" and len(parts) >= 3:
        return ("components", parts[1]), parts[2]
    return None


def refs_in(node: object) -> Iterable[str]:
    """Every ``$ref`` string in ``node``, depth first."""
    if isinstance(node, Mapping):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def _rewrite(node: Any, renamed: Mapping[tuple[Section, str], str]) -> Any:
    if isinstance(node, Mapping):
        copied = {key: _rewrite(value, renamed) for key, value in node.items()}
        ref = node.get("$ref")
        target = _target(ref) if isinstance(ref, str) else None
        if ref is not None and target is not None and target in renamed:
            parts = pointer_parts(ref)
            parts[len(target[0])] = renamed[target]
            copied["$ref"] = pointer(parts)
        return copied
    if isinstance(node, list):
        return [_rewrite(value, renamed) for value in node]
    return node


def _sections(document: Mapping[str, Any]) -> dict[Section, dict[str, Any]]:
    found: dict[Section, dict[str, Any]] = {
        (name,): dict(document.get(name) or {}) for name in _TOP_SECTIONS
    }
    for name, items in (document.get("components") or {}).items():
        found["components", name] = dict(items or {})
    return found


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    taken.add(candidate)
    return candidate


def merge_part(document: dict[str, Any], part: Mapping[str, Any], *, first: bool = False) -> None:
    """Add ``part``'s servers, channels, operations and components to ``document`` in place."""
    ours, theirs = _sections(document), _sections(part)
    clashes = {
        (section, name)
        for section, items in theirs.items()
        for name in items
        if name in ours.get(section, {})
    }
    shared = {
        (section, name)
        for section, name in clashes
        if (section[0] == "components" or section[0] in _SHARED_TOP)
        and theirs[section][name] == ours[section][name]
    }
    changed = True
    while changed:  # a shared object pointing at a renamed one can't be shared
        changed = False
        for key in sorted(shared):
            section, name = key
            targets = {_target(ref) for ref in refs_in(theirs[section][name])}
            if targets & (clashes - shared):
                shared.discard(key)
                changed = True
    renamed: dict[tuple[Section, str], str] = {}
    for section, items in theirs.items():
        taken = set(ours.get(section, {})) | set(items)
        for name in items:
            if (section, name) in clashes and (section, name) not in shared:
                renamed[section, name] = _unique(name, taken)
    for section, items in theirs.items():
        added = {
            renamed.get((section, name), name): _rewrite(item, renamed)
            for name, item in items.items()
            if (section, name) not in shared
        }
        existing = ours.get(section, {})
        merged = {**added, **existing} if first else {**existing, **added}
        if not merged:
            continue
        if section[0] == "components":
            document.setdefault("components", {})[section[1]] = merged
        else:
            document[section[0]] = merged
