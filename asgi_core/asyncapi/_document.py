"""Building the AsyncAPI 3.0.0 document: servers, channels, operations and messages.

The sources, in order: the app's metadata (``_metadata.py``), each broker that describes itself
(``asyncapi_servers()`` / ``asyncapi_channels()``, see the package docstring), FastStream brokers
(``_faststream.py``), and the mounted HTTP routes that carry a ``RouteInfo``. Channel, operation
and message ids are made unique; a broker's unknown keys are refused with ``ConfigError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import asgi_core.asyncapi._faststream as _faststream
from asgi_core.asyncapi._metadata import build_info, check_tags, check_text, check_url
from asgi_core.exceptions import ConfigError
from asgi_core.handlers import RouteInfo

if TYPE_CHECKING:
    from asgi_core.asyncapi._metadata import Documented

__all__ = ["build_document"]

_SERVER_KEYS = frozenset(
    ("host", "protocol", "protocolVersion", "pathname", "title", "summary", "description")
)
_CHANNEL_KEYS = frozenset(
    ("name", "address", "action", "description", "summary", "message", "payload", "content_type")
)
_HTTP_BINDING_VERSION = "0.3.0"


def _ident(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "root"


def _unique(base: str, taken: set[str]) -> str:
    name, number = base, 2
    while name in taken:
        name, number = f"{base}_{number}", number + 1
    taken.add(name)
    return name


class _Builder:
    def __init__(self) -> None:
        self.servers: dict[str, Any] = {}
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}
        self.messages: dict[str, Any] = {}
        self._ids: set[str] = set()
        self._message_ids: set[str] = set()

    def add_servers(self, described: object) -> None:
        if not isinstance(described, Mapping):
            raise ConfigError(f"broker.asyncapi_servers() must return a mapping, not {described!r}")
        for name, server in described.items():
            field = f"broker.asyncapi_servers()[{name!r}]"
            if not isinstance(server, Mapping):
                raise ConfigError(f"{field} must be a mapping, not {server!r}")
            _refuse_unknown(field, server, _SERVER_KEYS)
            for key in ("host", "protocol"):
                if key not in server:
                    raise ConfigError(f"{field} needs {key!r}; it has {dict(server)!r}")
            self.servers[check_text(f"{field} name", name)] = {
                key: check_text(f"{field}.{key}", value) for key, value in server.items()
            }

    def add_channel(self, entry: object) -> None:
        if not isinstance(entry, Mapping):
            raise ConfigError(f"broker.asyncapi_channels() gave {entry!r}, not a mapping")
        field = f"broker.asyncapi_channels() entry {entry.get('name', '?')!r}"
        _refuse_unknown(field, entry, _CHANNEL_KEYS)
        for key in ("name", "address", "action"):
            if key not in entry:
                raise ConfigError(f"{field} needs {key!r}; it has {dict(entry)!r}")
        name = check_text(f"{field} name", entry["name"])
        action = entry["action"]
        if action not in ("send", "receive"):
            raise ConfigError(
                f"{field} has action {action!r}; use 'receive' for a subscriber, 'send' for a "
                "publisher"
            )
        channel_id = _unique(_ident(name), self._ids)
        message_name = check_text(f"{field} message", entry.get("message", f"{name}Message"))
        message_id = _unique(_ident(message_name), self._message_ids)
        payload = entry.get("payload", {})
        if not isinstance(payload, Mapping):
            raise ConfigError(f"{field} payload must be a JSON Schema mapping, not {payload!r}")
        message: dict[str, Any] = {"name": message_name, "title": message_name}
        message["payload"] = dict(payload)
        if "content_type" in entry:
            message["contentType"] = check_text(f"{field} content_type", entry["content_type"])
        self.messages[message_id] = message
        self.channels[channel_id] = {
            "address": check_text(f"{field} address", entry["address"]),
            "messages": {message_id: {"$ref": f"#/components/messages/{message_id}"}},
        }
        operation: dict[str, Any] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{message_id}"}],
        }
        for key in ("summary", "description"):
            if key in entry:
                operation[key] = check_text(f"{field} {key}", entry[key])
        self.operations[channel_id] = operation

    def add_http_route(self, path: str, info: RouteInfo) -> None:
        channel_id = _unique(_ident(f"http{path}"), self._ids)
        channel: dict[str, Any] = {"address": path or "/", "bindings": {"http": {}}}
        if info.description:
            channel["description"] = info.description
        self.channels[channel_id] = channel
        methods = [m for m in info.methods if not (m == "HEAD" and "GET" in info.methods)]
        for method in methods:
            operation: dict[str, Any] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "title": f"{method} {path or '/'}",
                "bindings": {"http": {"method": method, "bindingVersion": _HTTP_BINDING_VERSION}},
            }
            if info.description:
                operation["description"] = info.description
            if info.tags:
                operation["tags"] = check_tags(f"tags of the route {path!r}", info.tags)
            self.operations[_unique(f"{channel_id}_{method.lower()}", self._ids)] = operation


def _refuse_unknown(field: str, given: Mapping[Any, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(map(str, set(given) - allowed))
    if unknown:
        raise ConfigError(
            f"{field} has unknown keys {unknown}; the keys are {', '.join(sorted(allowed))}"
        )


def _call(broker: object, method: str) -> object:
    try:
        return getattr(broker, method)()
    except Exception as exc:
        raise ConfigError(
            f"broker.{method}() raised {type(exc).__name__}: {exc}; the AsyncAPI document "
            "could not be built"
        ) from exc


def build_document(app: Documented) -> dict[str, Any]:
    """The app's AsyncAPI 3.0.0 document as plain data (see the module docstring)."""
    document: dict[str, Any] = {"asyncapi": "3.0.0"}
    if app.identifier:
        document["id"] = check_url("identifier", app.identifier, scheme_only=True)
    document["info"] = build_info(app)
    builder = _Builder()
    brokers = _faststream.brokers(app)
    for broker in brokers:
        if _faststream.from_faststream(broker):
            continue
        if callable(getattr(broker, "asyncapi_servers", None)):
            builder.add_servers(_call(broker, "asyncapi_servers"))
        if callable(getattr(broker, "asyncapi_channels", None)):
            entries = _call(broker, "asyncapi_channels")
            if not isinstance(entries, Iterable) or isinstance(entries, (str, bytes, Mapping)):
                raise ConfigError(f"broker.asyncapi_channels() must return a list, not {entries!r}")
            for entry in entries:
                builder.add_channel(entry)
    for path, route in app.routes:
        info = getattr(route, "route_info", None)
        if isinstance(info, RouteInfo) and info.include_in_schema:
            builder.add_http_route(path, info)
    document["servers"] = builder.servers
    document["defaultContentType"] = "application/json"
    document["channels"] = builder.channels
    document["operations"] = builder.operations
    if builder.messages:
        document["components"] = {"messages": builder.messages}
    theirs = [broker for broker in brokers if _faststream.from_faststream(broker)]
    if theirs:
        _faststream.integration().add_brokers(document, theirs)
    if not document["servers"]:
        del document["servers"]
    return document
