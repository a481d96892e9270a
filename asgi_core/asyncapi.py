"""The AsyncAPI 3.0.0 document of an application, as JSON and as an HTML page.

``mount_asyncapi(app, "/docs")`` (what ``asyncapi_path="/docs"`` does) mounts:

* ``/docs``: an HTML page rendering the document with the AsyncAPI web component. The script
  and stylesheet URLs are settings, so an offline deployment can serve its own copy of
  ``@asyncapi/react-component`` (``browser/standalone/index.js`` and ``styles/default.min.css``);
* ``/docs.json``: the document itself, ``application/json``.

Both serve GET and HEAD only (405 otherwise); at the root (``"/"``) the JSON is
``/asyncapi.json``. ``make_asyncapi_asgi(app)`` gives the page alone, as FastStream does. The
document is built on the first request and cached; it is rebuilt when ``app.broker`` is another
object (``set_broker``), the routes changed, or a FastStream broker's subscribers or publishers
changed. The metadata is checked when the routes are mounted, so a bad URL fails at once.

What goes into the document:

* ``info`` and ``id`` from the app's metadata: ``title``, ``version``, ``description``,
  ``terms_of_service``, ``contact``, ``license``, ``tags`` (``asyncapi_tags``), ``external_docs``
  and ``identifier`` (an absolute URI, e.g. ``urn:example:orders``);
* a FastStream broker's servers, channels, operations, messages and payload schemas, made by
  FastStream's own generator through ``asgi_core_extras.faststream`` (imported only then; a
  broker is FastStream's if its class or a base class comes from a ``faststream`` module). The
  document stays 3.0.0: FastStream 0.5's 2.6.0 is converted (that module's docstring has the
  rules). Subscribers added later appear: the cache key holds the subscribers and publishers;
* any other broker's servers, channels and operations, if the broker describes them (below). A
  broker that doesn't gives a document without them, never an error;
* each mounted HTTP route made by ``@get``/``@post``/``make_ping_asgi`` with
  ``include_in_schema=True``: a channel whose address is the mount path, and one ``receive``
  operation per method with an HTTP binding.

The broker protocol, two optional methods, each returning plain data:

* ``asyncapi_servers() -> Mapping[str, Mapping]``: server name to ``host`` and ``protocol``
  (required), and ``protocolVersion``, ``pathname``, ``title``, ``summary``, ``description``;
* ``asyncapi_channels() -> Iterable[Mapping]``: one entry per subscriber or publisher, with
  ``name`` (unique), ``address`` (topic, queue, subject), ``action`` (``"receive"`` for a
  subscriber, ``"send"`` for a publisher), and optionally ``description``, ``summary``,
  ``message`` (message name), ``payload`` (a JSON Schema) and ``content_type``.

Unknown keys are refused with ``ConfigError`` rather than dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from asgi_core._asyncapi_html import DEFAULT_SCRIPT_URL, DEFAULT_STYLESHEET_URL, render_page
from asgi_core._responses import AsgiResponse
from asgi_core.exceptions import ConfigError
from asgi_core.handlers import HandlerApp, Request, RouteInfo

if TYPE_CHECKING:
    from types import ModuleType

__all__ = [
    "DEFAULT_SCRIPT_URL",
    "DEFAULT_STYLESHEET_URL",
    "AsyncAPIDocument",
    "build_document",
    "make_asyncapi_asgi",
    "mount_asyncapi",
]

_SERVER_KEYS = frozenset(
    ("host", "protocol", "protocolVersion", "pathname", "title", "summary", "description")
)
_CHANNEL_KEYS = frozenset(
    ("name", "address", "action", "description", "summary", "message", "payload", "content_type")
)
_HTTP_BINDING_VERSION = "0.3.0"
_MAX_CACHED_PAGES = 16  # rendered pages kept, one per root_path the page was served under


class _Documented(Protocol):
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


class _Mountable(_Documented, Protocol):
    def mount(self, path: str, route: Any) -> None: ...


# -- checking metadata ----------------------------------------------------------------------------

_Check = Callable[[str, object], object]


def _text(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{field} must be a string, not {value!r}")
    return value


def _url(field: str, value: object, *, scheme_only: bool = False) -> str:
    from urllib.parse import urlsplit

    text = _text(field, value)
    parts = urlsplit(text)
    if not parts.scheme or not (parts.netloc or scheme_only) or any(c.isspace() for c in text):
        example = "urn:example:my-service" if scheme_only else "https://example.com/docs"
        kind = "URI" if scheme_only else "URL"
        raise ConfigError(f"{field} must be an absolute {kind} such as {example!r}, not {text!r}")
    return text


def _email(field: str, value: object) -> str:
    text = _text(field, value)
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


def _tags(field: str, value: object) -> list[dict[str, object]]:
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
    "contact": ({"name": _text, "url": _url, "email": _email}, ()),
    "license": ({"name": _text, "url": _url}, ("name",)),
    "externalDocs": ({"url": _url, "description": _text}, ("url",)),
    "tag": (
        {
            "name": _text,
            "description": _text,
            "externalDocs": lambda field, value: _shaped("externalDocs", field, value),
        },
        ("name",),
    ),
}


def build_info(app: _Documented) -> dict[str, Any]:
    """The ``info`` object (and ``id``) from the app's metadata; ``ConfigError`` if invalid."""
    info: dict[str, Any] = {
        "title": _text("title", app.title),
        "version": _text("version", app.version),
    }
    if app.description:
        info["description"] = _text("description", app.description)
    if app.terms_of_service:
        info["termsOfService"] = _url("terms_of_service", app.terms_of_service)
    if app.contact:
        info["contact"] = _shaped("contact", "contact", app.contact)
    if app.license:
        info["license"] = _shaped("license", "license", app.license)
    if app.asyncapi_tags:
        info["tags"] = _tags("tags", app.asyncapi_tags)
    if app.external_docs:
        info["externalDocs"] = _shaped("externalDocs", "external_docs", app.external_docs)
    return info


# -- building -------------------------------------------------------------------------------------


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
            self.servers[_text(f"{field} name", name)] = {
                key: _text(f"{field}.{key}", value) for key, value in server.items()
            }

    def add_channel(self, entry: object) -> None:
        if not isinstance(entry, Mapping):
            raise ConfigError(f"broker.asyncapi_channels() gave {entry!r}, not a mapping")
        field = f"broker.asyncapi_channels() entry {entry.get('name', '?')!r}"
        _refuse_unknown(field, entry, _CHANNEL_KEYS)
        for key in ("name", "address", "action"):
            if key not in entry:
                raise ConfigError(f"{field} needs {key!r}; it has {dict(entry)!r}")
        name = _text(f"{field} name", entry["name"])
        action = entry["action"]
        if action not in ("send", "receive"):
            raise ConfigError(
                f"{field} has action {action!r}; use 'receive' for a subscriber, 'send' for a "
                "publisher"
            )
        channel_id = _unique(_ident(name), self._ids)
        message_name = _text(f"{field} message", entry.get("message", f"{name}Message"))
        message_id = _unique(_ident(message_name), self._message_ids)
        payload = entry.get("payload", {})
        if not isinstance(payload, Mapping):
            raise ConfigError(f"{field} payload must be a JSON Schema mapping, not {payload!r}")
        message: dict[str, Any] = {"name": message_name, "title": message_name}
        message["payload"] = dict(payload)
        if "content_type" in entry:
            message["contentType"] = _text(f"{field} content_type", entry["content_type"])
        self.messages[message_id] = message
        self.channels[channel_id] = {
            "address": _text(f"{field} address", entry["address"]),
            "messages": {message_id: {"$ref": f"#/components/messages/{message_id}"}},
        }
        operation: dict[str, Any] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_id}"},
            "messages": [{"$ref": f"#/channels/{channel_id}/messages/{message_id}"}],
        }
        for key in ("summary", "description"):
            if key in entry:
                operation[key] = _text(f"{field} {key}", entry[key])
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
                operation["tags"] = _tags(f"tags of the route {path!r}", info.tags)
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


def _brokers(app: _Documented) -> list[object]:
    """The brokers the document describes: ``[app.broker]`` when it is set."""
    return [] if app.broker is None else [app.broker]


def _from_faststream(broker: object) -> bool:
    """True if the broker's class or a base class is FastStream's; faststream isn't imported."""
    return any(
        str(getattr(cls, "__module__", "")).partition(".")[0] == "faststream"
        for cls in type(broker).__mro__
    )


def _faststream() -> ModuleType:
    from asgi_core._importer import import_extra

    return import_extra(
        "asgi_core_extras.faststream._asyncapi",
        feature="the AsyncAPI document of a FastStream broker",
        packages=("asgi_core_extras", "faststream"),
        extra="faststream",
    )


def build_document(app: _Documented) -> dict[str, Any]:
    """The app's AsyncAPI 3.0.0 document as plain data (see the module docstring)."""
    document: dict[str, Any] = {"asyncapi": "3.0.0"}
    if app.identifier:
        document["id"] = _url("identifier", app.identifier, scheme_only=True)
    document["info"] = build_info(app)
    builder = _Builder()
    brokers = _brokers(app)
    for broker in brokers:
        if _from_faststream(broker):
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
    from_faststream = [broker for broker in brokers if _from_faststream(broker)]
    if from_faststream:
        _faststream().add_brokers(document, from_faststream)
    if not document["servers"]:
        del document["servers"]
    return document


def _sources(app: _Documented) -> list[tuple[object, int]]:
    """What the FastStream brokers' parts are made from (their subscribers and publishers)."""
    found: list[tuple[object, int]] = []
    for broker in _brokers(app):
        if _from_faststream(broker):
            found.extend(_faststream().sources(broker))
    return found


# -- serving --------------------------------------------------------------------------------------


def _same(old: list[Any], new: list[Any]) -> bool:
    """The same objects (by identity) in the same order."""
    return len(old) == len(new) and all(a is b for a, b in zip(old, new, strict=True))


class AsyncAPIDocument:
    """The document of ``app``, built on first use and rebuilt when the broker or routes change."""

    def __init__(
        self,
        app: _Documented,
        *,
        script_url: str = DEFAULT_SCRIPT_URL,
        stylesheet_url: str = DEFAULT_STYLESHEET_URL,
    ) -> None:
        self.app = app
        self.script_url = _text("script_url", script_url)
        self.stylesheet_url = _text("stylesheet_url", stylesheet_url)
        self.builds = 0  # how often the document was built (the cache's tests read it)
        self._key: tuple[list[object], list[tuple[str, object]], list[tuple[object, int]]] | None
        self._key = None
        self._document: dict[str, Any] = {}
        self._json = b""
        self._pages: dict[str, bytes] = {}

    def _fresh(self) -> None:
        brokers, routes = _brokers(self.app), [(path, route) for path, route in self.app.routes]
        sources = _sources(self.app)
        key = self._key
        if (
            key is not None
            and _same(key[0], brokers)
            and _same([r for _, r in key[1]], [r for _, r in routes])
            and [p for p, _ in key[1]] == [p for p, _ in routes]
            and _same([s for s, _ in key[2]], [s for s, _ in sources])
            and [n for _, n in key[2]] == [n for _, n in sources]
        ):
            return
        import json

        self._document = build_document(self.app)
        self._json = json.dumps(self._document, ensure_ascii=False).encode("utf-8")
        self._pages = {}
        self._key = (brokers, routes, sources)
        self.builds += 1

    def document(self) -> dict[str, Any]:
        self._fresh()
        return self._document

    def json_bytes(self) -> bytes:
        self._fresh()
        return self._json

    def page_bytes(self, json_href: str) -> bytes:
        self._fresh()
        if json_href not in self._pages:
            if len(self._pages) >= _MAX_CACHED_PAGES:
                # json_href follows root_path, which daphne takes from a request header: a
                # client must not be able to grow the cache without bound
                self._pages.clear()
            page = render_page(
                self._document,
                json_href=json_href,
                script_url=self.script_url,
                stylesheet_url=self.stylesheet_url,
            )
            self._pages[json_href] = page.encode("utf-8")
        return self._pages[json_href]


_NOSNIFF = ("x-content-type-options", "nosniff")


def _page_route(docs: AsyncAPIDocument, json_suffix: str) -> HandlerApp:
    async def asyncapi_page(request: Request) -> AsgiResponse:
        # The child scope's root_path ends with the page's mount path (``/docs``), and the JSON
        # is mounted beside it (``/docs.json``), so its full path is the root_path plus a suffix.
        json_href = str(request.scope.get("root_path", "")) + json_suffix
        headers = [("content-type", "text/html; charset=utf-8"), _NOSNIFF]
        return AsgiResponse(docs.page_bytes(json_href), 200, headers)

    return HandlerApp(asyncapi_page, ("GET",), include_in_schema=False)


def _json_route(docs: AsyncAPIDocument) -> HandlerApp:
    async def asyncapi_json(request: Request) -> AsgiResponse:
        headers = [("content-type", "application/json"), _NOSNIFF]
        return AsgiResponse(docs.json_bytes(), 200, headers)

    return HandlerApp(asyncapi_json, ("GET",), include_in_schema=False)


def make_asyncapi_asgi(
    app: _Documented,
    /,
    *,
    script_url: str = DEFAULT_SCRIPT_URL,
    stylesheet_url: str = DEFAULT_STYLESHEET_URL,
) -> HandlerApp:
    """The HTML page alone, as FastStream's function of that name gives it; mount it yourself.

    Its "document as JSON" link assumes the JSON is mounted beside it (``/docs`` ->
    ``/docs.json``), which ``mount_asyncapi`` does for you.
    """
    build_info(app)
    if app.identifier:
        _url("identifier", app.identifier, scheme_only=True)
    docs = AsyncAPIDocument(app, script_url=script_url, stylesheet_url=stylesheet_url)
    return _page_route(docs, ".json")


def mount_asyncapi(
    app: _Mountable,
    path: str,
    *,
    script_url: str = DEFAULT_SCRIPT_URL,
    stylesheet_url: str = DEFAULT_STYLESHEET_URL,
) -> AsyncAPIDocument:
    """Mount the HTML page at ``path`` and the JSON at ``path + ".json"``; return the document.

    ``script_url`` and ``stylesheet_url`` locate the AsyncAPI web component's standalone bundle
    and stylesheet (by default a pinned version on unpkg.com).
    """
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"asyncapi_path must be a string starting with '/', not {path!r}")
    base = path.rstrip("/")
    json_suffix = ".json" if base else "/asyncapi.json"  # the root mount's JSON: /asyncapi.json
    build_info(app)  # bad metadata fails here, not on the first request
    if app.identifier:
        _url("identifier", app.identifier, scheme_only=True)
    docs = AsyncAPIDocument(app, script_url=script_url, stylesheet_url=stylesheet_url)
    app.mount(path, _page_route(docs, json_suffix))
    app.mount(base + json_suffix, _json_route(docs))
    return docs
