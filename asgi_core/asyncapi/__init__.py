"""The AsyncAPI 3.0.0 document of an application, as JSON and as an HTML page.

``mount_asyncapi(app, "/docs")`` (what ``asyncapi_path="/docs"`` does) mounts:

* ``/docs``: an HTML page rendering the document with the AsyncAPI web component. The script
  and stylesheet URLs are settings, so an offline deployment can serve its own copy of
  ``@asyncapi/react-component`` (``browser/standalone/index.js`` and ``styles/default.min.css``);
* ``/docs.json``: the document itself, ``application/json``;
* ``/docs/try``, only with ``try_it_out=True`` (off by default: whoever reaches it can publish):
  a POST route that publishes a test message to a FastStream broker's channel of the document
  (``asgi_core_extras.faststream._try_it_out`` has its rules).

Both serve GET and HEAD only (405 otherwise); at the root (``"/"``) the JSON is
``/asyncapi.json``. ``make_asyncapi_asgi(app)`` gives the page alone, as FastStream does. The
document is built on the first request and cached; it is rebuilt when ``app.brokers`` changed
(``set_broker``, ``add_broker``), the routes changed, or a FastStream broker's subscribers or
publishers changed. The metadata is checked when the routes are mounted, so a bad URL fails at once.

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

from typing import Any, Protocol

from asgi_core.asyncapi import _faststream
from asgi_core.asyncapi._document import build_document
from asgi_core.asyncapi._metadata import Documented, check_metadata, check_text
from asgi_core.asyncapi._page import DEFAULT_SCRIPT_URL, DEFAULT_STYLESHEET_URL, render_page
from asgi_core.handlers import HandlerApp
from asgi_core.requests import Request
from asgi_core.responses import AsgiResponse

__all__ = [
    "DEFAULT_SCRIPT_URL",
    "DEFAULT_STYLESHEET_URL",
    "AsyncAPIDocument",
    "build_document",
    "make_asyncapi_asgi",
    "mount_asyncapi",
]

_MAX_CACHED_PAGES = 16  # rendered pages kept, one per root_path the page was served under


class _Mountable(Documented, Protocol):
    def mount(self, path: str, route: Any) -> None: ...


# -- serving and caching ---------------------------------------------------------------------------


def _same(old: list[Any], new: list[Any]) -> bool:
    """The same objects (by identity) in the same order."""
    return len(old) == len(new) and all(a is b for a, b in zip(old, new, strict=True))


class AsyncAPIDocument:
    """The document of ``app``, built on first use and rebuilt when the broker or routes change."""

    def __init__(
        self,
        app: Documented,
        *,
        script_url: str = DEFAULT_SCRIPT_URL,
        stylesheet_url: str = DEFAULT_STYLESHEET_URL,
    ) -> None:
        self.app = app
        self.script_url = check_text("script_url", script_url)
        self.stylesheet_url = check_text("stylesheet_url", stylesheet_url)
        self.builds = 0  # how often the document was built (the cache's tests read it)
        self._key: tuple[list[object], list[tuple[str, object]], list[tuple[object, int]]] | None
        self._key = None
        self._document: dict[str, Any] = {}
        self._json = b""
        self._pages: dict[str, bytes] = {}

    def _fresh(self) -> None:
        brokers, routes = (
            _faststream.brokers(self.app),
            [(path, route) for path, route in self.app.routes],
        )
        sources = _faststream.sources(self.app)
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
    app: Documented,
    /,
    *,
    script_url: str = DEFAULT_SCRIPT_URL,
    stylesheet_url: str = DEFAULT_STYLESHEET_URL,
) -> HandlerApp:
    """The HTML page alone, as FastStream's function of that name gives it; mount it yourself.

    Its "document as JSON" link assumes the JSON is mounted beside it (``/docs`` ->
    ``/docs.json``), which ``mount_asyncapi`` does for you.
    """
    check_metadata(app)
    docs = AsyncAPIDocument(app, script_url=script_url, stylesheet_url=stylesheet_url)
    return _page_route(docs, ".json")


def mount_asyncapi(
    app: _Mountable,
    path: str,
    *,
    script_url: str = DEFAULT_SCRIPT_URL,
    stylesheet_url: str = DEFAULT_STYLESHEET_URL,
    try_it_out: bool = False,
    try_it_out_max_body_size: int = _faststream.TRY_IT_OUT_MAX_BODY_SIZE,
) -> AsyncAPIDocument:
    """Mount the HTML page at ``path`` and the JSON at ``path + ".json"``; return the document.

    ``script_url`` and ``stylesheet_url`` locate the AsyncAPI web component's standalone bundle
    and stylesheet (by default a pinned version on unpkg.com). ``try_it_out=True`` also mounts
    ``path + "/try"``, a POST route that publishes a test message to a FastStream broker's
    channel (``asgi_core_extras.faststream._try_it_out``; bodies up to
    ``try_it_out_max_body_size`` bytes). Off by default: whoever reaches it can publish.
    """
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"asyncapi_path must be a string starting with '/', not {path!r}")
    base = path.rstrip("/")
    json_suffix = ".json" if base else "/asyncapi.json"  # the root mount's JSON: /asyncapi.json
    check_metadata(app)  # bad metadata fails here, not on the first request
    docs = AsyncAPIDocument(app, script_url=script_url, stylesheet_url=stylesheet_url)
    app.mount(path, _page_route(docs, json_suffix))
    app.mount(base + json_suffix, _json_route(docs))
    if try_it_out:
        route = _faststream.try_it_out_route(app, docs.document, try_it_out_max_body_size)
        app.mount(base + "/try", route)
    return docs
