"""The /docs page in headless Chromium, offline: the AsyncAPI component is served by the app itself.

Set-up, as an offline deployment would do it: ``npm ci`` in ``tests/e2e/docs_assets`` installs
``@asyncapi/react-component`` (the test runs it if ``node_modules`` is missing); a local route
serves its ``browser/standalone/index.js`` and ``styles/default.min.css``; ``mount_asyncapi``
points the page at them. Chromium runs with networking extras off and a fresh profile.
"""

from __future__ import annotations

import pathlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from asgi_core import AsgiFastStream, AsgiResponse
from asgi_core.asyncapi import build_document, mount_asyncapi
from asgi_core.asyncapi._page import render_page
from asgi_core.handlers import Request, get

pytestmark = pytest.mark.e2e

ASSETS_DIR = pathlib.Path(__file__).parent / "docs_assets"
COMPONENT = ASSETS_DIR / "node_modules" / "@asyncapi" / "react-component"
FILES = {
    "/index.js": ("browser/standalone/index.js", "text/javascript; charset=utf-8"),
    "/default.min.css": ("styles/default.min.css", "text/css; charset=utf-8"),
}
HOSTILE = "</script><script>document.documentElement.setAttribute('data-pwned','yes')</script>"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
    "--virtual-time-budget=15000",
]


class Broker:
    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    def asyncapi_servers(self) -> dict[str, Any]:
        return {"dev": {"host": "localhost:5672", "protocol": "amqp"}}

    def asyncapi_channels(self) -> list[dict[str, Any]]:
        payload = {"type": "object", "properties": {"id": {"type": "integer"}}}
        return [
            {"name": "handle_order", "address": "orders", "action": "receive", "payload": payload}
        ]


@pytest.fixture(scope="module")
def component() -> pathlib.Path:
    """The installed web component; ``npm ci`` installs it from the lock file if it is missing."""
    if not (COMPONENT / FILES["/index.js"][0]).exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is needed to install @asyncapi/react-component (apt-get install npm)")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=ASSETS_DIR, check=True, timeout=600
        )
    return COMPONENT


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found is not None:
            return found
    pytest.skip("headless Chromium is needed: apt-get install -y chromium")


class Item(BaseModel):
    sku: str


class PlacedOrder(BaseModel):  # module level: the handler's string annotations must resolve
    order_reference: str
    items: list[Item]


def faststream_broker() -> Any:
    """A FastStream RedisBroker whose subscriber takes a pydantic model (no connection needed)."""
    from faststream.redis import RedisBroker

    broker = RedisBroker()

    async def handle_placed_order(order: PlacedOrder) -> None:
        pass

    broker.subscriber("orders-placed")(handle_placed_order)
    return broker


def make_app(
    title: str, component: pathlib.Path, served: list[str], broker: Any = None
) -> AsgiFastStream:
    @get(include_in_schema=False)
    async def assets(request: Request) -> AsgiResponse:
        name = request.path[len(str(request.scope.get("root_path", ""))) :]
        if name not in FILES:
            return AsgiResponse(b"not found", 404)
        served.append(name)
        relative, content_type = FILES[name]
        return AsgiResponse(
            (component / relative).read_bytes(), 200, {"content-type": content_type}
        )

    @get(description="Says hello.")
    async def hello(request: Request) -> AsgiResponse:
        return AsgiResponse(b"hello")

    app = AsgiFastStream(
        Broker() if broker is None else broker,
        asgi_routes=[("/assets", assets), ("/hello", hello)],
        title=title,
        version="1.0.0",
        description="Takes orders.",
    )
    mount_asyncapi(
        app, "/docs", script_url="/assets/index.js", stylesheet_url="/assets/default.min.css"
    )

    @get(include_in_schema=False)
    async def naive(request: Request) -> AsgiResponse:
        """The control: the same page with the JSON pasted in raw, as a careless page would."""
        import json

        page = render_page(
            {"asyncapi": "3.0.0", "info": {"title": "x", "version": "1"}},
            json_href="/docs.json",
            script_url="/assets/index.js",
            stylesheet_url="/assets/default.min.css",
        )
        raw = json.dumps(build_document(app))
        start = page.index('id="asyncapi-document">') + len('id="asyncapi-document">')
        end = page.index("</script>", start)
        return AsgiResponse(
            (page[:start] + raw + page[end:]).encode(), 200, {"content-type": "text/html"}
        )

    app.mount("/naive", naive)
    return app


class Server:
    """Uvicorn serving ``app`` on 127.0.0.1 in a thread, on a port the OS picked."""

    def __init__(self, app: AsgiFastStream, lifespan: Literal["on", "off"] = "on") -> None:
        import uvicorn

        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", ws="none", lifespan=lifespan)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]})

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start within 30 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.socket.close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def serve(component: pathlib.Path) -> Iterator[Any]:
    servers: list[Server] = []

    def start(title: str, served: list[str], broker: Any = None) -> Server:
        # a FastStream broker is not started (lifespan off): its docs need no connection
        app = make_app(title, component, served, broker)
        server = Server(app, "on" if broker is None else "off").__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


def run_chromium(chromium: str, *args: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        )
    return done.stdout


class Page(HTMLParser):
    """The rendered DOM: the ``<html>`` element's attributes and the text outside scripts."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.html_attributes: dict[str, str | None] = {}
        self.texts: list[str] = []
        self._skipping = 0
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.html_attributes = dict(attrs)
        if tag in ("script", "style", "title"):
            self._skipping += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title"):
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping and data.strip():
            self.texts.append(data.strip())

    @property
    def text(self) -> str:
        return " ".join(self.texts)


def test_docs_browser_renders_the_document_from_local_assets(
    serve: Any, chromium: str, tmp_path: pathlib.Path
) -> None:
    served: list[str] = []
    server = serve("Orders Service", served)
    shot = tmp_path / "docs.png"
    run_chromium(chromium, f"--screenshot={shot}", server.url("/docs"))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = Page(run_chromium(chromium, "--dump-dom", server.url("/docs")))
    assert "Orders Service" in page.text  # rendered by the component, not the <title> or JSON
    assert "handle_order" in page.text and "http_hello_get" in page.text  # broker + HTTP route
    assert sorted(set(served)) == ["/default.min.css", "/index.js"]


def test_docs_browser_hostile_title_runs_no_script(serve: Any, chromium: str) -> None:
    server = serve(HOSTILE, [])
    page = Page(run_chromium(chromium, "--dump-dom", server.url("/docs")))
    assert "data-pwned" not in page.html_attributes
    assert HOSTILE in page.text  # shown as text by the component: the page still works
    control = Page(run_chromium(chromium, "--dump-dom", server.url("/naive")))
    assert control.html_attributes.get("data-pwned") == "yes"  # the check can see an injection


def test_docs_browser_renders_a_faststream_brokers_channel_and_payload(
    serve: Any, chromium: str, tmp_path: pathlib.Path
) -> None:
    server = serve("Placed Orders", [], faststream_broker())
    shot = tmp_path / "faststream-docs.png"
    run_chromium(chromium, f"--screenshot={shot}", server.url("/docs"))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = Page(run_chromium(chromium, "--dump-dom", server.url("/docs")))
    assert "Placed Orders" in page.text
    assert "orders-placed" in page.text  # the subscriber's channel, from FastStream's generator
    assert "order_reference" in page.text  # a field of its pydantic payload
    assert "http_hello_get" in page.text  # beside our HTTP route
