"""``asgi-core docs gen`` and ``docs serve``: an app's AsyncAPI document, written or served.

    asgi-core docs gen main:app [--out asyncapi.json] [--yaml]
    asgi-core docs serve main:app [--host 127.0.0.1] [--port 8000]

Rules:

* APP is imported as ``asgi-core run`` imports it (``MODULE:ATTR``, ``--factory``, ``--app-dir``,
  the same messages and exit codes). What it may name, and what the document then holds:

  - an ``AsgiFastStream``: the document its ``/docs.json`` serves (metadata, brokers, routes);
  - an ``Application`` (ours, without HTTP): its metadata and broker, as
    ``AsgiFastStream.from_app(app, [])`` would serve them;
  - a FastStream app (``faststream.FastStream``, FastStream's ``AsgiFastStream``): read by
    ``from_app`` as well, so its metadata and every broker;
  - a FastStream broker: its servers, channels, operations and schemas with the default
    metadata, as ``AsgiFastStream(broker)`` serves them.

  The parts of a FastStream broker are made by FastStream's own generator through
  ``asgi_core_extras.faststream`` (the document is AsyncAPI 3.0.0 on every FastStream version).
  Anything else is a usage error (exit 2). Nothing is started: no broker connects, no hook runs.
* ``gen`` writes JSON (indented) to stdout, or to ``--out FILE``; ``--yaml`` writes YAML, which
  needs PyYAML (exit 1 naming the install if it is missing). A document that cannot be built
  (bad metadata, FastStream's generator raising) or a file that cannot be written is exit 1.
* ``serve`` serves the page at ``/docs`` (``/`` redirects there) and the JSON at ``/docs.json``,
  GET and HEAD, with the standard library's ``http.server``: it needs no extra, so it works
  wherever the console script does (uvicorn would need the ``uvicorn`` extra for a page that is
  one static document), and, like ``faststream docs serve``, it is a development tool, one
  request at a time. The document is built before the server listens, so an error is exit 1;
  ``--port 0`` picks a free port. It prints the URL on stderr and stops with exit 0 on SIGINT or
  SIGTERM; an address in use is exit 3.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from asgi_core._cli_common import (
    EXIT_IMPORT_ERROR,
    EXIT_OK,
    EXIT_STARTUP_FAILED,
    EXIT_USAGE,
    Parser,
    UsageError,
    fail,
    import_app,
    import_failure,
)
from asgi_core.exceptions import ConfigError, MissingExtraError

if TYPE_CHECKING:
    from http.server import HTTPServer

    from asgi_core.asgi import AsgiFastStream

__all__ = ["add_parser", "documented", "make_server", "render", "run"]

_USAGE_HINT = "APP must name an AsgiFastStream, an Application, or a FastStream app or broker"
PAGE_PATH = "/docs"
JSON_PATH = "/docs.json"


def add_parser(commands: Any) -> None:
    """Add ``docs gen`` and ``docs serve`` to the top-level subparsers ``commands``."""
    docs = commands.add_parser(
        "docs",
        help="write or serve APP's AsyncAPI document",
        description="Write (gen) or serve (serve) the AsyncAPI document of APP (MODULE:ATTR).",
    )
    actions = docs.add_subparsers(
        dest="docs_command", metavar="ACTION", parser_class=Parser, required=True
    )
    epilog = "exit codes: 0 done, 1 import error, missing extra or no document, 2 usage error"
    gen = actions.add_parser("gen", help="write the document as JSON (or YAML)", epilog=epilog)
    gen.add_argument("--out", "-o", metavar="FILE", help="write to FILE (default: stdout)")
    gen.add_argument("--yaml", action="store_true", help="write YAML (needs PyYAML)")
    serve = actions.add_parser(
        "serve",
        help="serve the page at /docs and the JSON at /docs.json",
        epilog=epilog + ", 3 the address is in use",
    )
    serve.add_argument("--host", default="127.0.0.1", help="bind to this host (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=8000, help="bind to this port (default 8000; 0 picks one)"
    )
    for action in (gen, serve):
        action.add_argument("app", metavar="APP", help="the app as MODULE:ATTR, e.g. main:app")
        action.add_argument(
            "--factory", action="store_true", help="treat APP as a factory: call it to get the app"
        )
        action.add_argument("--app-dir", help="import APP from this directory (default: cwd)")
        action.add_argument(
            "--log-level", choices=("info", "debug"), help="debug shows tracebacks of errors"
        )


def documented(obj: object, spec: str) -> AsgiFastStream:
    """The ``AsgiFastStream`` whose document describes ``obj`` (see the module docstring)."""
    from asgi_core.application import Application
    from asgi_core.asgi import AsgiFastStream
    from asgi_core.asyncapi._faststream import from_faststream

    if isinstance(obj, AsgiFastStream):
        return obj
    if isinstance(obj, Application):
        return AsgiFastStream.from_app(obj, [])
    if from_faststream(obj):
        if callable(getattr(obj, "subscriber", None)) and callable(getattr(obj, "publish", None)):
            return AsgiFastStream(obj)  # type: ignore[arg-type]  # FastStream's broker
        return AsgiFastStream.from_app(obj)  # FastStream's app: its metadata and brokers
    raise UsageError(
        f"{spec} is {obj!r:.200}, which has no AsyncAPI document; name an AsgiFastStream, an "
        "Application, or a FastStream app or broker"
    )


def render(document: dict[str, Any], *, yaml: bool) -> str:
    """``document`` as indented JSON, or as YAML (PyYAML, imported only then)."""
    if not yaml:
        import json

        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    from asgi_core._importer import import_extra

    pyyaml: Any = import_extra(
        "yaml", feature="writing the document as YAML (--yaml)", packages=("yaml",), extra="yaml"
    )
    text: str = pyyaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return text


def _write(text: str, out: str | None) -> None:
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        with open(out, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as exc:
        raise _OutputError(f"could not write the document to {out!r}: {exc.strerror}") from exc
    print(f"asgi-core: wrote the AsyncAPI document to {out}", file=sys.stderr)


class _OutputError(Exception):
    pass


def make_server(target: AsgiFastStream, host: str, port: int) -> HTTPServer:
    """An ``http.server`` serving ``target``'s page and JSON (not yet serving: call
    ``serve_forever``). Raises ``OSError`` if the address cannot be bound."""
    from http import HTTPStatus
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from asgi_core.asyncapi import AsyncAPIDocument

    docs = AsyncAPIDocument(target)
    docs.json_bytes()  # built now: an error stops the command before it listens

    class DocsHandler(BaseHTTPRequestHandler):
        server_version = "asgi-core-docs"
        timeout = 30  # a client that sends nothing does not hold the only thread for ever

        def _answer(self, *, with_body: bool) -> None:
            path = self.path.partition("?")[0]
            if path in ("", "/"):
                self.send_response(HTTPStatus.TEMPORARY_REDIRECT)
                self.send_header("location", PAGE_PATH)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            try:
                if path == PAGE_PATH:
                    body, kind = docs.page_bytes(JSON_PATH), "text/html; charset=utf-8"
                elif path == JSON_PATH:
                    body, kind = docs.json_bytes(), "application/json"
                else:
                    body, kind = b"Not Found", "text/plain; charset=utf-8"
            except Exception:  # the generator raised after a change: 500, logged, nothing leaked
                import logging

                logging.getLogger("asgi_core.asyncapi").exception("the document could not be built")
                body, kind = b"Internal Server Error", "text/plain; charset=utf-8"
                self.send_response(HTTPStatus.INTERNAL_SERVER_ERROR)
            else:
                found = path in (PAGE_PATH, JSON_PATH)
                self.send_response(HTTPStatus.OK if found else HTTPStatus.NOT_FOUND)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.send_header("x-content-type-options", "nosniff")
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer(with_body=True)

        def do_HEAD(self) -> None:
            self._answer(with_body=False)

    return HTTPServer((host, port), DocsHandler)


def _serve(target: AsgiFastStream, parsed: argparse.Namespace) -> None:
    import signal

    server = make_server(target, parsed.host, parsed.port)
    host, port = (str(part) for part in server.server_address[:2])
    shown = f"[{host}]" if ":" in host else host
    print(
        f"asgi-core: serving the AsyncAPI docs of {parsed.app} on http://{shown}:{port}{PAGE_PATH}"
        f" and {JSON_PATH} (press CTRL+C to quit)",
        file=sys.stderr,
        flush=True,
    )
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass  # SIGINT or SIGTERM: the normal way to stop
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()


def run(parsed: argparse.Namespace) -> int:
    """Run ``docs gen`` or ``docs serve`` for the parsed command line; return the exit status."""
    if parsed.log_level == "debug":
        import logging

        logging.getLogger("asgi_core").setLevel(logging.DEBUG)
    try:
        obj = import_app(parsed.app, factory=parsed.factory, app_dir=parsed.app_dir)
    except Exception as exc:
        return import_failure(parsed.app, exc, _USAGE_HINT)
    try:
        target = documented(obj, parsed.app)
        if parsed.docs_command == "serve":
            _serve(target, parsed)
            return EXIT_OK
        from asgi_core.asyncapi import build_document

        text = render(build_document(target), yaml=parsed.yaml)
        _write(text, parsed.out)
    except UsageError as exc:
        return fail(EXIT_USAGE, str(exc), _USAGE_HINT)
    except MissingExtraError as exc:
        hint = "PyYAML provides it: `pip install pyyaml`" if exc.name == "yaml" else "install it"
        return fail(EXIT_IMPORT_ERROR, str(exc), hint, exc)
    except ConfigError as exc:
        return fail(
            EXIT_IMPORT_ERROR,
            f"the AsyncAPI document of {parsed.app} could not be built: {exc}",
            "fix the app's metadata or broker; --log-level debug shows the traceback",
            exc,
        )
    except _OutputError as exc:
        return fail(EXIT_IMPORT_ERROR, str(exc), "choose a writable path for --out", exc)
    except OSError as exc:  # only serve binds
        return fail(
            EXIT_STARTUP_FAILED,
            f"could not listen on {parsed.host}:{parsed.port}: {exc.strerror or exc}",
            "choose another --port (0 picks a free one) or stop what uses it",
            exc,
        )
    except Exception as exc:
        return fail(
            EXIT_IMPORT_ERROR,
            f"the AsyncAPI document of {parsed.app} could not be built: "
            f"{type(exc).__name__}: {exc}",
            "--log-level debug shows the traceback",
            exc,
        )
    return EXIT_OK
