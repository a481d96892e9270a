"""FastStream 0.5's AsyncAPI 2.6.0 document as 3.0.0 servers, channels, operations, components.

Rules (each key of the 2.6.0 objects FastStream writes is in a table below; any other key is a
``ConversionError`` naming it, never dropped silently):

* A 2.6.0 channel holds its operations; a 3.0.0 channel holds messages and the operations sit
  beside it. A ``subscribe`` operation is FastStream's subscriber, so it becomes ``receive``
  (``<channel>Subscribe``), and ``publish`` becomes ``send`` (named like its channel): the
  reading FastStream 0.7 gives the same broker, not the 2.6.0 spec's user-side one.
* Each operation's message stays in ``components.messages`` and is listed in its channel's
  ``messages`` under its name minus the channel prefix (``orders:HandleOrder:Message`` ->
  ``Message``); ``oneOf`` lists every message.
* The channel's ``address`` is what the message travels by, read from its binding (Redis
  channel, NATS subject, Kafka topic, AMQP routing key or queue), else the channel name up to
  the first ``:``.
* A server's ``url`` becomes ``host`` and ``pathname``, as 0.7 writes them, without any
  ``user:password@`` (0.5 writes RabbitMQ's credentials into the URL). Server names in
  ``servers`` lists and ``security`` requirements become ``$ref``s.
* AMQP bindings 0.2.0 become 0.3.0, the version 3.0.0 documents use (``_amqp`` has how).
* ``messageId`` and ``operationId`` are dropped (3.0.0 names messages and operations by their
  keys; an ``operationId`` becomes the operation's key). Top-level ``info``, ``id``, ``tags``,
  ``externalDocs`` and ``defaultContentType`` are the app's, so the caller supplies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ._merge import pointer, pointer_parts

__all__ = ["ConversionError", "convert_2_6"]


class ConversionError(ValueError):
    """The 2.6.0 document has something this converter has no rule for."""


_TOP = {"asyncapi", "id", "info", "defaultContentType", "tags", "externalDocs"}
_SERVER = {"protocol", "protocolVersion", "description", "tags", "bindings", "variables"}
_CHANNEL_KEEP = {"description", "bindings"}
_OPERATION_KEEP = {"summary", "description", "tags", "externalDocs", "bindings", "traits"}
_MESSAGE_KEEP = {
    "headers",
    "payload",
    "correlationId",
    "contentType",
    "name",
    "title",
    "summary",
    "description",
    "tags",
    "externalDocs",
    "bindings",
    "examples",
    "traits",
}
_ACTIONS = {"subscribe": ("receive", "{}Subscribe"), "publish": ("send", "{}")}
_ADDRESS = {"redis": ("channel",), "nats": ("subject",), "kafka": ("topic",)}


def _check(where: str, given: Mapping[str, Any], known: set[str]) -> None:
    unknown = sorted(key for key in given if key not in known and not key.startswith("x-"))
    if unknown:
        raise ConversionError(
            f"{where} has {unknown}, which the 2.6.0 -> 3.0.0 converter has no rule for (it knows "
            f"{sorted(known)}); please report it with your FastStream version"
        )


def _ref(*parts: str) -> dict[str, str]:
    return {"$ref": pointer(parts)}


def _security(requirements: list[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [_ref("components", "securitySchemes", name) for item in requirements for name in item]


def _server(name: str, server: Mapping[str, Any]) -> dict[str, Any]:
    _check(f"server {name!r}", server, {*_SERVER, "url", "security"})
    url = str(server["url"])
    parts = urlsplit(url if "://" in url else f"//{url}")
    host = parts.netloc.rpartition("@")[2]  # never publish the user:password part
    converted: dict[str, Any] = {"host": host, "protocol": server["protocol"]}
    if parts.path:
        converted["pathname"] = parts.path
    converted.update((key, value) for key, value in server.items() if key in _SERVER)
    if server.get("security"):
        converted["security"] = _security(server["security"])
    return converted


def _address(name: str, channel: Mapping[str, Any], operation: Mapping[str, Any]) -> str:
    bindings = channel.get("bindings") or {}
    for protocol, keys in _ADDRESS.items():
        for key in keys:
            if isinstance(bindings.get(protocol, {}).get(key), str):
                return str(bindings[protocol][key])
    amqp = bindings.get("amqp") or {}
    routing = ((operation.get("bindings") or {}).get("amqp") or {}).get("cc")
    for candidate in (routing, (amqp.get("queue") or {}).get("name"), amqp.get("exchange", {})):
        if isinstance(candidate, list) and candidate:
            candidate = candidate[0]
        if isinstance(candidate, Mapping):
            candidate = candidate.get("name")
        if isinstance(candidate, str) and candidate:
            return candidate
    return name.partition(":")[0]


def _amqp(where: str, binding: Mapping[str, Any]) -> dict[str, Any]:
    """An AMQP binding 0.2.0 as 0.3.0: ``cc``/``bcc`` are lists; a channel is a queue (what a
    subscriber consumes) or a routing key on an exchange (what a publisher sends to), not both;
    ``replyTo`` is gone (0.3.0 has no such field)."""
    converted = {key: value for key, value in binding.items() if key != "replyTo"}
    converted["bindingVersion"] = "0.3.0"
    for key in ("cc", "bcc"):
        if isinstance(converted.get(key), str):
            converted[key] = [converted[key]]
    if where == "receive" and "queue" in converted:
        converted["is"] = "queue"
        converted.pop("exchange", None)
    elif where == "send" and "exchange" in converted:
        converted["is"] = "routingKey"
        converted.pop("queue", None)
    return converted


def _bindings(where: str, bindings: Mapping[str, Any]) -> dict[str, Any]:
    """Bindings as 3.0.0 validates them: only AMQP's version changed (0.2.0 -> 0.3.0)."""
    return {
        protocol: _amqp(where, binding) if protocol == "amqp" else binding
        for protocol, binding in bindings.items()
    }


def _message(name: str, message: Mapping[str, Any]) -> dict[str, Any]:
    _check(f"message {name!r}", message, {*_MESSAGE_KEEP, "messageId", "schemaFormat"})
    converted = {key: value for key, value in message.items() if key in _MESSAGE_KEEP}
    if message.get("bindings"):
        converted["bindings"] = _bindings("message", message["bindings"])
    if "schemaFormat" in message and "payload" in message:  # 3.0.0: a multi-format schema
        converted["payload"] = {
            "schemaFormat": message["schemaFormat"],
            "schema": message["payload"],
        }
    return converted


def _unique(name: str, taken: Mapping[str, Any]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    return candidate


def _channel(name: str, channel: Mapping[str, Any], part: dict[str, Any]) -> None:
    _check(f"channel {name!r}", channel, {*_CHANNEL_KEEP, "servers", "parameters", *_ACTIONS})
    ops = [(kind, channel[kind]) for kind in _ACTIONS if channel.get(kind) is not None]
    converted: dict[str, Any] = {"address": _address(name, channel, ops[0][1] if ops else {})}
    if channel.get("servers"):
        converted["servers"] = [_ref("servers", server) for server in channel["servers"]]
    messages: dict[str, Any] = {}
    converted["messages"] = messages
    converted.update((key, value) for key, value in channel.items() if key in _CHANNEL_KEEP)
    if channel.get("bindings"):  # an AMQP channel is read by what its operation does
        converted["bindings"] = _bindings(
            _ACTIONS[ops[0][0]][0] if ops else "", channel["bindings"]
        )
    if channel.get("parameters"):
        converted["parameters"] = {
            key: {k: v for k, v in param.items() if k in ("description", "location")}
            | {k: v for k, v in (param.get("schema") or {}).items() if k in ("enum", "default")}
            for key, param in channel["parameters"].items()
        }
    part["channels"][name] = converted
    for kind, operation in ops:
        known = {*_OPERATION_KEEP, "message", "security", "operationId"}
        _check(f"channel {name!r} {kind}", operation, known)
        action, key_format = _ACTIONS[kind]
        given = operation.get("message") or {}
        listed = given["oneOf"] if isinstance(given.get("oneOf"), list) else [given]
        references = []
        for message in listed:
            if isinstance(message.get("$ref"), str):
                target = pointer_parts(message["$ref"])[-1]
                key = _unique(target.removeprefix(f"{name}:"), messages)
                messages[key] = dict(message)
            else:  # an inline message: kept inline in the channel
                key = _unique(str(message.get("name") or f"{kind}Message"), messages)
                messages[key] = _message(f"{name} {kind}", message)
            references.append(_ref("channels", name, "messages", key))
        op: dict[str, Any] = {"action": action, "channel": _ref("channels", name)}
        op.update((k, v) for k, v in operation.items() if k in _OPERATION_KEEP)
        if operation.get("bindings"):
            op["bindings"] = _bindings(action, operation["bindings"])
        if operation.get("security"):
            op["security"] = _security(operation["security"])
        op["messages"] = references
        op_name = str(operation.get("operationId") or key_format.format(name))
        part["operations"][_unique(op_name, part["operations"])] = op


def _encoded(node: Any) -> Any:
    """``node`` with each local ``$ref`` percent-encoded: 0.5 writes ``#/channels/a.>:H`` raw,
    which is no URI reference (3.0.0 checks the format)."""
    if isinstance(node, Mapping):
        copied = {key: _encoded(value) for key, value in node.items()}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            parts = ref.removeprefix("#/").split("/")
            copied["$ref"] = pointer(p.replace("~1", "/").replace("~0", "~") for p in parts)
        return copied
    if isinstance(node, list):
        return [_encoded(value) for value in node]
    return node


def _scheme(scheme: Mapping[str, Any]) -> dict[str, Any]:
    converted = dict(scheme)
    if isinstance(scheme.get("flows"), Mapping):  # 3.0.0 renamed an OAuth flow's scopes
        converted["flows"] = {
            name: {("availableScopes" if k == "scopes" else k): v for k, v in flow.items()}
            for name, flow in scheme["flows"].items()
        }
    return converted


def convert_2_6(document: Mapping[str, Any]) -> dict[str, Any]:
    """The servers, channels, operations and components of a 2.6.0 ``document``, in 3.0.0."""
    _check("the document", document, {*_TOP, "servers", "channels", "components"})
    document = _encoded(document)
    if not str(document.get("asyncapi", "")).startswith("2."):
        version = document.get("asyncapi")
        raise ConversionError(f"expected an AsyncAPI 2.x document, got version {version!r}")
    part: dict[str, Any] = {"servers": {}, "channels": {}, "operations": {}}
    for name, server in (document.get("servers") or {}).items():
        part["servers"][name] = _server(name, server)
    for name, channel in (document.get("channels") or {}).items():
        _channel(name, channel, part)
    components = document.get("components") or {}
    _check("components", components, {"messages", "schemas", "securitySchemes"})
    converted: dict[str, Any] = {}
    if components.get("messages"):
        converted["messages"] = {
            name: _message(name, message) for name, message in components["messages"].items()
        }
    if components.get("schemas"):
        converted["schemas"] = dict(components["schemas"])
    if components.get("securitySchemes"):
        converted["securitySchemes"] = {
            name: _scheme(scheme) for name, scheme in components["securitySchemes"].items()
        }
    if converted:
        part["components"] = converted
    return part
