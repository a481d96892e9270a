"""The 2.6.0 -> 3.0.0 converter (FastStream 0.5's documents) and the merge of several brokers.

Plain data in, plain data out: these run the same on both FastStream generations.
"""

from __future__ import annotations

import copy
import importlib
import re
from typing import Any

import pytest

from tests.faststream.conftest import check

# imported by name: mypy knows the directory as extras/, not asgi_core_extras
convert = importlib.import_module("asgi_core_extras.faststream._convert")
merge = importlib.import_module("asgi_core_extras.faststream._merge")

ORDER = {"type": "object", "properties": {"id": {"type": "integer"}}, "title": "Order"}
V26: dict[str, Any] = {
    "asyncapi": "2.6.0",
    "defaultContentType": "application/json",
    "info": {"title": "FastStream", "version": "0.1.0", "description": ""},
    "servers": {
        "development": {
            "url": "amqp://guest:secret@localhost:5672/vhost",
            "protocol": "amqp",
            "protocolVersion": "0.9.1",
            "security": [{"user-password": []}],
        }
    },
    "channels": {
        "orders:_:HandleOrder": {
            "servers": ["development"],
            "description": "Takes orders.",
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "bindingVersion": "0.2.0",
                    "queue": {"name": "orders", "durable": False},
                    "exchange": {"type": "default"},
                }
            },
            "subscribe": {
                "bindings": {"amqp": {"cc": "orders", "ack": True, "bindingVersion": "0.2.0"}},
                "message": {"$ref": "#/components/messages/orders:_:HandleOrder:Message"},
            },
        },
        "events/{kind}": {
            "parameters": {
                "kind": {"description": "k", "schema": {"enum": ["a"], "type": "string"}}
            },
            "publish": {
                "operationId": "sendEvent",
                "summary": "Events.",
                "message": {
                    "oneOf": [
                        {"$ref": "#/components/messages/A"},
                        {"name": "Inline", "payload": {"type": "string"}, "messageId": "x"},
                    ]
                },
            },
        },
    },
    "components": {
        "messages": {
            "orders:_:HandleOrder:Message": {
                "title": "orders:_:HandleOrder:Message",
                "messageId": "orders-message",
                "correlationId": {"location": "$message.header#/correlation_id"},
                "payload": {"$ref": "#/components/schemas/Order"},
            },
            "A": {
                "title": "A",
                "schemaFormat": "application/schema+json;version=draft-07",
                "payload": {"type": "integer"},
            },
        },
        "schemas": {"Order": ORDER},
        "securitySchemes": {"user-password": {"type": "userPassword"}},
    },
}


def as_document(part: dict[str, Any]) -> dict[str, Any]:
    return {"asyncapi": "3.0.0", "info": {"title": "t", "version": "1"}, **part}


def test_asyncapi_convert_gives_a_valid_3_0_0_part() -> None:
    given = copy.deepcopy(V26)
    part = convert.convert_2_6(given)
    check(as_document(part))
    assert given == V26  # the input is not modified


def test_asyncapi_convert_subscribe_is_a_receive_operation_on_its_channel() -> None:
    part = convert.convert_2_6(V26)
    channel = part["channels"]["orders:_:HandleOrder"]
    assert channel["address"] == "orders"  # the routing key the message travels by
    assert channel["servers"] == [{"$ref": "#/servers/development"}]
    assert channel["messages"] == {
        "Message": {"$ref": "#/components/messages/orders:_:HandleOrder:Message"}
    }
    operation = part["operations"]["orders:_:HandleOrderSubscribe"]
    assert operation["action"] == "receive"
    assert operation["channel"] == {"$ref": "#/channels/orders:_:HandleOrder"}
    assert operation["messages"] == [{"$ref": "#/channels/orders:_:HandleOrder/messages/Message"}]


def test_asyncapi_convert_publish_is_send_with_every_message_of_its_one_of() -> None:
    part = convert.convert_2_6(V26)
    operation = part["operations"]["sendEvent"]  # an operationId names the operation
    assert (operation["action"], operation["summary"]) == ("send", "Events.")
    channel = part["channels"]["events/{kind}"]
    assert channel["address"] == "events/{kind}"
    assert sorted(channel["messages"]) == ["A", "Inline"]
    assert channel["messages"]["Inline"] == {"name": "Inline", "payload": {"type": "string"}}
    assert operation["messages"] == [
        {"$ref": "#/channels/events~1%7Bkind%7D/messages/A"},
        {"$ref": "#/channels/events~1%7Bkind%7D/messages/Inline"},
    ]
    assert channel["parameters"] == {"kind": {"description": "k", "enum": ["a"]}}


def test_asyncapi_convert_amqp_bindings_become_0_3_0() -> None:
    part = convert.convert_2_6(V26)
    binding = part["channels"]["orders:_:HandleOrder"]["bindings"]["amqp"]
    assert binding == {
        "is": "queue",
        "bindingVersion": "0.3.0",
        "queue": V26["channels"]["orders:_:HandleOrder"]["bindings"]["amqp"]["queue"],
    }
    operation = part["operations"]["orders:_:HandleOrderSubscribe"]["bindings"]["amqp"]
    assert operation == {"cc": ["orders"], "ack": True, "bindingVersion": "0.3.0"}


def test_asyncapi_convert_server_loses_its_credentials_and_refers_to_its_security() -> None:
    server = convert.convert_2_6(V26)["servers"]["development"]
    assert server == {
        "host": "localhost:5672",
        "pathname": "/vhost",
        "protocol": "amqp",
        "protocolVersion": "0.9.1",
        "security": [{"$ref": "#/components/securitySchemes/user-password"}],
    }


def test_asyncapi_convert_messages_drop_message_id_and_wrap_a_schema_format() -> None:
    messages = convert.convert_2_6(V26)["components"]["messages"]
    assert "messageId" not in messages["orders:_:HandleOrder:Message"]
    assert messages["A"]["payload"] == {
        "schemaFormat": "application/schema+json;version=draft-07",
        "schema": {"type": "integer"},
    }


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ((), "webhooks"),
        (("servers", "development"), "url2"),
        (("channels", "orders:_:HandleOrder"), "qos"),
        (("channels", "orders:_:HandleOrder", "subscribe"), "reply"),
        (("components", "messages", "A"), "status"),
    ],
)
def test_asyncapi_convert_an_unknown_key_is_named_not_dropped(
    path: tuple[str, ...], key: str
) -> None:
    given = copy.deepcopy(V26)
    node: Any = given
    for part in path:
        node = node[part]
    node[key] = 1
    with pytest.raises(convert.ConversionError, match=rf"\['{key}'\], which the 2.6.0 -> 3.0.0"):
        convert.convert_2_6(given)


def test_asyncapi_convert_percent_encodes_the_raw_references_of_0_5() -> None:
    given = copy.deepcopy(V26)  # 0.5 names a NATS channel on `orders.>` like this, unencoded
    given["channels"]["orders.>:H"] = given["channels"].pop("orders:_:HandleOrder")
    messages = given["components"]["messages"]
    messages["orders.>:H:Message"] = messages.pop("orders:_:HandleOrder:Message")
    given["channels"]["orders.>:H"]["subscribe"]["message"] = {
        "$ref": "#/components/messages/orders.>:H:Message"
    }
    part = convert.convert_2_6(given)
    check(as_document(part))
    assert part["channels"]["orders.>:H"]["messages"] == {
        "Message": {"$ref": "#/components/messages/orders.%3E:H:Message"}
    }


def test_asyncapi_convert_refuses_a_document_that_is_not_2_x() -> None:
    with pytest.raises(convert.ConversionError, match=re.escape("got version '3.0.0'")):
        convert.convert_2_6({**V26, "asyncapi": "3.0.0"})


# -- merging --------------------------------------------------------------------------------------


def part_with(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "servers": {"development": {"host": "localhost", "protocol": "kafka"}},
        "channels": {
            "orders": {
                "address": "orders",
                "servers": [{"$ref": "#/servers/development"}],
                "messages": {"M": {"$ref": "#/components/messages/M"}},
            }
        },
        "operations": {
            "ordersSubscribe": {
                "action": "receive",
                "channel": {"$ref": "#/channels/orders"},
                "messages": [{"$ref": "#/channels/orders/messages/M"}],
            }
        },
        "components": {
            "messages": {"M": {"payload": {"$ref": "#/components/schemas/Order"}}},
            "schemas": {
                "Order": {
                    "type": "object",
                    "properties": {"item": {"$ref": "#/components/schemas/Item"}},
                },
                "Item": item,
            },
        },
    }


def test_asyncapi_merge_renames_clashes_and_rewrites_their_references() -> None:
    document = as_document(part_with({"type": "string"}))
    given = part_with({"type": "string"})
    merge.merge_part(document, given)
    check(document)
    assert given == part_with({"type": "string"})  # the part is not modified
    assert list(document["channels"]) == ["orders", "orders_2"]
    assert list(document["operations"]) == ["ordersSubscribe", "ordersSubscribe_2"]
    second = document["operations"]["ordersSubscribe_2"]
    assert second["channel"] == {"$ref": "#/channels/orders_2"}
    assert second["messages"] == [{"$ref": "#/channels/orders_2/messages/M"}]
    assert list(document["servers"]) == ["development"]  # equal: shared
    assert list(document["components"]["messages"]) == ["M"]
    assert list(document["components"]["schemas"]) == ["Order", "Item"]


def test_asyncapi_merge_an_equal_schema_pointing_at_a_renamed_one_is_renamed_too() -> None:
    document = as_document(part_with({"type": "string"}))
    merge.merge_part(document, part_with({"type": "integer"}))
    check(document)
    schemas = document["components"]["schemas"]
    assert schemas["Item_2"] == {"type": "integer"}
    assert schemas["Order_2"]["properties"]["item"] == {"$ref": "#/components/schemas/Item_2"}
    assert document["components"]["messages"]["M_2"]["payload"] == {
        "$ref": "#/components/schemas/Order_2"
    }
    assert document["channels"]["orders_2"]["messages"]["M"] == {
        "$ref": "#/components/messages/M_2"
    }


def test_asyncapi_merge_first_puts_the_part_before_the_document() -> None:
    document = as_document({"channels": {"http_hello": {"address": "/hello"}}, "operations": {}})
    merge.merge_part(document, part_with({"type": "string"}), first=True)
    check(document)
    assert list(document["channels"]) == ["orders", "http_hello"]
