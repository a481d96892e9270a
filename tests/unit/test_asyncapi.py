"""The AsyncAPI 3.0.0 document, its JSON and HTML routes; every document is schema-checked."""

from __future__ import annotations

import json
import pathlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from asgi_core import AsgiFastStream, ConfigError
from asgi_core.asyncapi import build_document, make_asyncapi_asgi, mount_asyncapi
from asgi_core.asyncapi._page import embed_json
from asgi_core.handlers import Request, get, post
from asgi_core.health import make_ping_asgi
from asgi_core.responses import AsgiResponse
from asgi_core.testing import Client

pytestmark = pytest.mark.anyio

SCHEMA_PATH = pathlib.Path(__file__).parents[1] / "fixtures/asyncapi/asyncapi-3.0.0.schema.json"
SCHEMA = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())


def check(document: dict[str, Any]) -> None:
    """Valid against the official schema, and every ``$ref`` points at something that exists."""
    checked = VALIDATOR.format_checker.checkers if VALIDATOR.format_checker else {}
    assert "uri" in checked, "pip install rfc3986-validator: jsonschema checks URIs only with it"
    errors = sorted(VALIDATOR.iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    for ref in refs(document):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]


def refs(node: object) -> Iterable[str]:
    if isinstance(node, Mapping):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


class Broker:
    """A broker describing itself through the documented protocol."""

    def __init__(self, channels: list[dict[str, Any]] | None = None, servers: Any = None) -> None:
        self.channels = channels or []
        self.servers = servers if servers is not None else {}

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def ping(self, timeout: float | None) -> bool:
        return True

    def asyncapi_servers(self) -> Any:
        return self.servers

    def asyncapi_channels(self) -> Any:
        return self.channels


class PlainBroker:
    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


ORDERS = [
    {
        "name": "handle_order",
        "address": "orders",
        "action": "receive",
        "description": "Takes new orders.",
        "message": "Order",
        "payload": {"type": "object", "properties": {"id": {"type": "integer"}}},
        "content_type": "application/json",
    },
    {"name": "publish:order-done", "address": "orders.done", "action": "send", "summary": "s"},
]
SERVERS = {"dev": {"host": "localhost:5672", "protocol": "amqp", "protocolVersion": "0.9.1"}}


@get(description="Says hello.", tags=["greetings", {"name": "public", "description": "open"}])
async def hello(request: Request) -> AsgiResponse:
    return AsgiResponse(b"hi")


@post(include_in_schema=False)
async def hidden(request: Request) -> AsgiResponse:
    return AsgiResponse(b"")


def full_app(broker: object | None = None) -> AsgiFastStream:
    return AsgiFastStream(
        broker if broker is not None else Broker(ORDERS, SERVERS),  # type: ignore[arg-type]
        asgi_routes=[("/hello", hello), ("/hidden", hidden)],
        title="Orders",
        version="1.2.3",
        description="Order service",
        terms_of_service="https://example.com/terms",
        contact={"name": "Ops", "url": "https://example.com/ops", "email": "ops@example.com"},
        license={"name": "MIT", "url": "https://opensource.org/license/mit"},
        tags=[{"name": "orders", "externalDocs": {"url": "https://example.com/tag"}}],
        external_docs={"url": "https://example.com/docs", "description": "More"},
        identifier="urn:example:orders",
    )


# -- the document ---------------------------------------------------------------------------------


def test_asyncapi_minimal_document_is_valid_and_has_no_channels() -> None:
    document = build_document(AsgiFastStream())
    check(document)
    assert document["asyncapi"] == "3.0.0"
    assert document["info"] == {"title": "FastStream", "version": "0.1.0"}
    assert document["channels"] == {} and document["operations"] == {}


def test_asyncapi_broker_without_the_protocol_gives_no_channels() -> None:
    document = build_document(AsgiFastStream(PlainBroker()))
    check(document)
    assert document["channels"] == {} and "servers" not in document


def test_asyncapi_metadata_maps_to_info_and_id() -> None:
    document = build_document(full_app())
    check(document)
    assert document["id"] == "urn:example:orders"
    info = document["info"]
    assert info["title"] == "Orders" and info["version"] == "1.2.3"
    assert info["description"] == "Order service"
    assert info["termsOfService"] == "https://example.com/terms"
    assert info["contact"]["email"] == "ops@example.com"
    assert info["license"] == {"name": "MIT", "url": "https://opensource.org/license/mit"}
    assert info["tags"] == [{"name": "orders", "externalDocs": {"url": "https://example.com/tag"}}]
    assert info["externalDocs"] == {"url": "https://example.com/docs", "description": "More"}


def test_asyncapi_broker_channels_become_channels_operations_and_messages() -> None:
    document = build_document(full_app())
    assert document["servers"] == SERVERS
    channel = document["channels"]["handle_order"]
    assert channel["address"] == "orders"
    operation = document["operations"]["handle_order"]
    assert operation["action"] == "receive"
    assert operation["description"] == "Takes new orders."
    message = document["components"]["messages"]["Order"]
    assert message["payload"]["properties"]["id"] == {"type": "integer"}
    assert message["contentType"] == "application/json"
    assert document["operations"]["publish_order-done"]["action"] == "send"


def test_asyncapi_http_routes_are_listed_unless_excluded() -> None:
    document = build_document(full_app())
    assert "http_hello" in document["channels"]
    assert document["channels"]["http_hello"]["address"] == "/hello"
    operation = document["operations"]["http_hello_get"]
    assert operation["bindings"]["http"]["method"] == "GET"
    assert [tag["name"] for tag in operation["tags"]] == ["greetings", "public"]
    assert not any("hidden" in key for key in document["channels"])
    assert not any(key.endswith("_head") for key in document["operations"])


def test_asyncapi_ping_route_is_listed() -> None:
    app = AsgiFastStream(asgi_routes=[("/health", make_ping_asgi(Broker()))])
    document = build_document(app)
    check(document)
    assert document["channels"]["http_health"]["address"] == "/health"


def test_asyncapi_channel_ids_stay_unique() -> None:
    broker = Broker([{"name": "a b", "address": "x", "action": "send"}] * 3)
    document = build_document(AsgiFastStream(broker))
    check(document)
    assert sorted(document["channels"]) == ["a_b", "a_b_2", "a_b_3"]


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"terms_of_service": "example.com/terms"}, "terms_of_service must be an absolute URL"),
        ({"identifier": "orders"}, "identifier must be an absolute URI"),
        ({"license": {"url": "https://x.org"}}, "license needs 'name'"),
        ({"contact": {"phone": "1"}}, "contact has the key 'phone'"),
        ({"contact": {"email": "nobody"}}, "contact.email must be an email address"),
        ({"external_docs": {"description": "x"}}, "external_docs needs 'url'"),
        ({"tags": [{"name": "a"}, {"name": "a"}]}, "names a tag twice"),
        ({"tags": "abc"}, "tags must be a list"),
    ],
)
def test_asyncapi_invalid_metadata_fails_when_mounted(
    metadata: dict[str, Any], message: str
) -> None:
    app = AsgiFastStream(**metadata)
    with pytest.raises(ConfigError, match=re.escape(message)):
        mount_asyncapi(app, "/docs")


@pytest.mark.parametrize(
    ("broker", "message"),
    [
        (Broker([{"name": "a", "address": "x"}]), "needs 'action'"),
        (Broker([{"name": "a", "address": "x", "action": "pub"}]), "use 'receive' for a"),
        (Broker([{"name": "a", "address": "x", "action": "send", "qos": 1}]), "unknown keys"),
        (Broker([{"name": "a", "address": "x", "action": "send", "payload": 1}]), "payload"),
        (Broker(servers={"s": {"host": "h"}}), "needs 'protocol'"),
        (Broker(servers=[1]), "must return a mapping"),
    ],
)
def test_asyncapi_bad_broker_description_names_the_problem(broker: Broker, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        build_document(AsgiFastStream(broker))


# -- properties -----------------------------------------------------------------------------------

names = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20)
urls = st.sampled_from(["https://example.com", "http://a.b/c?d=1", "https://x.org/%20y"])
tags = st.lists(names, max_size=3, unique=True)
channels = st.lists(
    st.fixed_dictionaries(
        {
            "name": names,
            "address": names,
            "action": st.sampled_from(["send", "receive"]),
        },
        optional={"description": names, "message": names, "summary": names},
    ),
    max_size=4,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=names,
    version=names,
    description=st.text(max_size=30),
    tag_names=tags,
    docs_url=st.none() | urls,
    entries=channels,
    route_paths=st.lists(st.from_regex(r"/[a-z]{1,5}", fullmatch=True), max_size=3),
)
def test_asyncapi_every_generated_document_validates(
    title: str,
    version: str,
    description: str,
    tag_names: list[str],
    docs_url: str | None,
    entries: list[dict[str, Any]],
    route_paths: list[str],
) -> None:
    app = AsgiFastStream(
        Broker(entries),
        asgi_routes=[(path, hello) for path in route_paths],
        title=title,
        version=version,
        description=description,
        tags=[{"name": name} for name in tag_names],
        external_docs={"url": docs_url} if docs_url else None,
    )
    document = build_document(app)
    check(document)
    assert len(document["operations"]) == len(entries) + len(route_paths)


@given(st.recursive(st.none() | st.text() | st.integers(), lambda c: st.lists(c, max_size=3)))
def test_asyncapi_embedded_json_never_holds_markup_and_round_trips(value: Any) -> None:
    text = embed_json(value)
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(text) == value


# -- the routes -----------------------------------------------------------------------------------


def script_block(page: str) -> Any:
    found = re.search(
        r'<script type="application/json" id="asyncapi-document">(.*?)</script>', page, re.S
    )
    assert found is not None
    return json.loads(found.group(1))


async def test_asyncapi_json_route_serves_the_document() -> None:
    app = full_app()
    mount_asyncapi(app, "/docs")
    response = await Client(app).get("/docs.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == build_document(app)
    check(response.json())


async def test_asyncapi_html_route_embeds_the_document_and_asset_urls() -> None:
    app = full_app()
    mount_asyncapi(app, "/docs", script_url="/assets/ui.js", stylesheet_url="/assets/ui.css")
    response = await Client(app).get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert '<script src="/assets/ui.js"></script>' in response.text
    assert '<link rel="stylesheet" href="/assets/ui.css">' in response.text
    assert "<title>Orders - AsyncAPI</title>" in response.text
    assert script_block(response.text) == build_document(app)


async def test_asyncapi_default_assets_come_from_a_pinned_cdn_version() -> None:
    app = AsgiFastStream()
    mount_asyncapi(app, "/docs")
    page = (await Client(app).get("/docs")).text
    assert "https://unpkg.com/@asyncapi/react-component@3.2.1/browser/standalone/index.js" in page


async def test_asyncapi_hostile_title_stays_inside_its_elements() -> None:
    title = "</script><script>alert(1)</script><!--"
    app = AsgiFastStream(title=title)
    mount_asyncapi(app, "/docs")
    page = (await Client(app).get("/docs")).text
    assert page.count("<script") == 3  # the JSON block, the bundle, the render call
    assert "alert(1)</script>" not in page
    assert script_block(page)["info"]["title"] == title
    assert "<title>&lt;/script&gt;&lt;script&gt;alert(1)" in page


async def test_asyncapi_json_link_follows_the_root_path() -> None:
    app = AsgiFastStream()
    mount_asyncapi(app, "/docs")
    page = (await Client(app, root_path="/svc").get("/svc/docs")).text
    assert '<a href="/svc/docs.json">' in page


@pytest.mark.parametrize("target", ["/docs", "/docs.json"])
async def test_asyncapi_routes_serve_head_and_refuse_post(target: str) -> None:
    app = AsgiFastStream()
    mount_asyncapi(app, "/docs")
    head = await Client(app).head(target)
    assert (head.status_code, head.body) == (200, b"")
    assert int(head.headers["content-length"]) > 0
    refused = await Client(app).post(target)
    assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")


async def test_asyncapi_document_is_built_once_and_rebuilt_after_set_broker() -> None:
    app = AsgiFastStream()
    docs = mount_asyncapi(app, "/docs")
    assert docs.builds == 0  # lazily: nothing built before the first request
    for target in ("/docs.json", "/docs", "/docs.json"):
        await Client(app).get(target)
    assert docs.builds == 1
    app.set_broker(Broker(ORDERS))  # type: ignore[arg-type]
    document = (await Client(app).get("/docs.json")).json()
    assert docs.builds == 2
    assert "handle_order" in document["channels"]


async def test_asyncapi_document_is_rebuilt_after_a_new_mount() -> None:
    app = AsgiFastStream()
    docs = mount_asyncapi(app, "/docs")
    await Client(app).get("/docs.json")
    app.mount("/hello", hello)
    document = (await Client(app).get("/docs.json")).json()
    assert docs.builds == 2
    assert "http_hello" in document["channels"]


async def test_asyncapi_broken_broker_description_is_a_plain_500(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = AsgiFastStream(Broker([{"name": "secret-token", "address": "x"}]))
    mount_asyncapi(app, "/docs")
    response = await Client(app).get("/docs.json")
    assert (response.status_code, response.text) == (500, "Internal Server Error")
    assert "needs 'action'" in caplog.text


def test_asyncapi_path_must_start_with_a_slash() -> None:
    with pytest.raises(ValueError, match="starting with '/'"):
        mount_asyncapi(AsgiFastStream(), "docs")


async def test_asyncapi_root_mount_serves_the_json_at_asyncapi_json() -> None:
    app = AsgiFastStream(title="Root")
    mount_asyncapi(app, "/")
    page = (await Client(app).get("/")).text
    assert '<a href="/asyncapi.json">' in page
    assert (await Client(app).get("/asyncapi.json")).json()["info"]["title"] == "Root"


async def test_asyncapi_make_asyncapi_asgi_gives_the_page_alone() -> None:
    app = AsgiFastStream(title="Alone")
    app.mount("/api-docs", make_asyncapi_asgi(app, script_url="/ui.js"))
    page = (await Client(app).get("/api-docs")).text
    assert script_block(page)["info"]["title"] == "Alone"
    assert '<script src="/ui.js"></script>' in page
    assert '<a href="/api-docs.json">' in page


def test_asyncapi_make_asyncapi_asgi_checks_metadata_at_once() -> None:
    with pytest.raises(ConfigError, match="identifier must be an absolute URI"):
        make_asyncapi_asgi(AsgiFastStream(identifier="nope"))
