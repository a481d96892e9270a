"""``asgi-core docs gen`` and ``docs serve``, in process: targets, outputs, messages, exit codes.

Each test writes its app module into a temporary directory and names it with ``--app-dir``, as a
user would. Every document is validated against the official AsyncAPI 3.0.0 schema. ``docs
serve`` as a real process is in ``tests/e2e/test_cli_docs.py``.
"""

from __future__ import annotations

import http.client
import itertools
import json
import pathlib
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import jsonschema
import pytest
import yaml  # type: ignore[import-untyped]

from asgi_core import _docs_cli, cli
from asgi_core.asgi import AsgiFastStream

CHECKOUT = pathlib.Path(__file__).parents[2]
SCHEMA_PATH = CHECKOUT / "tests/fixtures/asyncapi/asyncapi-3.0.0.schema.json"
VALIDATOR = jsonschema.Draft7Validator(
    json.loads(SCHEMA_PATH.read_text()), format_checker=jsonschema.FormatChecker()
)
_numbers = itertools.count()

APP_MODULE = """
from pydantic import BaseModel
from faststream import FastStream
from faststream.redis import RedisBroker
from asgi_core import Application, AsgiFastStream

# a port nothing listens on: connecting would fail, so a document made here never connected
broker = RedisBroker("redis://127.0.0.1:9")

class Order(BaseModel):
    id: int
    item: str

@broker.subscriber("orders")
async def handle_order(order: Order) -> None: ...

app = AsgiFastStream(broker, title="Orders", version="1.2.3", description="Takes orders")
service = Application(broker, title="Orders service")
try:  # FastStream 0.6+ keeps the metadata on its specification, 0.5 on the app
    from faststream.specification import AsyncAPI
except ImportError:
    fs_app = FastStream(broker, title="FastStream orders")
else:
    fs_app = FastStream(broker, specification=AsyncAPI(title="FastStream orders"))
number = 42

from faststream.nats import NatsBroker

nats = NatsBroker("nats://127.0.0.1:9")

async def on_event(text: str) -> None: ...

nats.subscriber("events")(on_event)
two = AsgiFastStream(broker, title="Two brokers")
two.add_broker(nats)

def make_app():
    return app

class DuckBroker:
    started = 0
    async def start(self):
        DuckBroker.started += 1
        raise ConnectionError("docs must not start the broker")
    async def close(self):
        pass
    def asyncapi_servers(self):
        return {"main": {"host": "127.0.0.1:1", "protocol": "duck"}}
    def asyncapi_channels(self):
        return [{"name": "quacks", "address": "quacks", "action": "receive"}]

duck_app = AsgiFastStream(DuckBroker(), title="Ducks")

class FailingBroker(DuckBroker):
    def asyncapi_servers(self):
        raise RuntimeError("the describer broke")

failing_app = AsgiFastStream(FailingBroker())
"""


def check(document: dict[str, Any]) -> None:
    checked = VALIDATOR.format_checker.checkers if VALIDATOR.format_checker else {}
    assert "uri" in checked, "pip install rfc3986-validator: jsonschema checks URIs only with it"
    errors = sorted(VALIDATOR.iter_errors(document), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def addresses(document: dict[str, Any]) -> list[str]:
    """The channels' addresses, as the subject the handler listens on.

    FastStream 0.7.5 (what pip picks beside the lowest anyio we support) writes the channel's
    name, ``orders:HandleOrder``, as its address; 0.5 and 0.7.8 write ``orders``.
    """
    return [c["address"].partition(":")[0] for c in document["channels"].values()]


@pytest.fixture
def module(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The name of a fresh module holding ``APP_MODULE``, importable with ``--app-dir tmp_path``."""
    name = f"docs_cli_app_{next(_numbers)}"
    (tmp_path / f"{name}.py").write_text(APP_MODULE)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the CLI adds --app-dir to it
    monkeypatch.syspath_prepend(str(tmp_path))  # for the tests that import it themselves
    yield name
    sys.modules.pop(name, None)


def docs(module: str, tmp_path: pathlib.Path, *args: str) -> int:
    return cli.main(
        ["docs", *args[:1], f"{module}{args[1]}", "--app-dir", str(tmp_path), *args[2:]]
    )


def test_docs_gen_writes_the_apps_document_as_json_to_stdout(
    module: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert docs(module, tmp_path, "gen", ":app") == cli.EXIT_OK
    document = json.loads(capsys.readouterr().out)
    check(document)
    assert document["info"] == {
        "title": "Orders",
        "version": "1.2.3",
        "description": "Takes orders",
    }
    assert addresses(document) == ["orders"]
    payloads = json.dumps(document["components"]["schemas"])
    assert "Order" in payloads and '"item"' in payloads  # FastStream's schema of the model
    # the same document as the app's /docs.json serves
    served = sys.modules[module].app
    from asgi_core.asyncapi import build_document

    assert document == build_document(served)


@pytest.mark.parametrize(
    ("attr", "title"),
    [
        (":app", "Orders"),  # our AsgiFastStream
        (":service", "Orders service"),  # our Application, without HTTP
        (":fs_app", "FastStream orders"),  # a FastStream app
        (":broker", "FastStream"),  # a FastStream broker: the default metadata
        (":make_app --factory", "Orders"),
    ],
)
def test_docs_gen_documents_every_kind_of_target(
    module: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], attr: str, title: str
) -> None:
    name, *flags = attr.split()
    assert docs(module, tmp_path, "gen", name, *flags) == cli.EXIT_OK
    document = json.loads(capsys.readouterr().out)
    check(document)
    assert document["info"]["title"] == title
    assert addresses(document) == ["orders"]
    assert next(iter(document["servers"].values()))["host"] == "127.0.0.1:9"


def test_docs_gen_documents_every_broker_of_the_app(
    module: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert docs(module, tmp_path, "gen", ":two") == cli.EXIT_OK
    document = json.loads(capsys.readouterr().out)
    check(document)
    assert addresses(document) == ["orders", "events"]
    assert sorted(s["protocol"] for s in document["servers"].values()) == ["nats", "redis"]


def test_docs_gen_does_not_start_or_connect_the_broker(
    module: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert docs(module, tmp_path, "gen", ":duck_app") == cli.EXIT_OK
    document = json.loads(capsys.readouterr().out)
    check(document)
    assert document["channels"]["quacks"]["address"] == "quacks"
    assert sys.modules[module].DuckBroker.started == 0


def test_docs_gen_out_writes_the_file_and_says_so(
    module: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "asyncapi.json"
    assert docs(module, tmp_path, "gen", ":app", "--out", str(out)) == cli.EXIT_OK
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"asgi-core: wrote the AsyncAPI document to {out}\n"
    check(json.loads(out.read_text(encoding="utf-8")))


def test_docs_gen_yaml_round_trips_to_the_json_document(
    module: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert docs(module, tmp_path, "gen", ":app") == cli.EXIT_OK
    as_json = json.loads(capsys.readouterr().out)
    out = tmp_path / "asyncapi.yaml"
    assert docs(module, tmp_path, "gen", ":app", "--yaml", "-o", str(out)) == cli.EXIT_OK
    as_yaml = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert as_yaml == as_json
    check(as_yaml)
    assert out.read_text(encoding="utf-8").startswith("asyncapi: 3.0.0\n")  # keys in order


def test_docs_gen_yaml_without_pyyaml_exits_1_naming_the_install(
    module: str, tmp_path: pathlib.Path
) -> None:
    probe = (
        "import sys; sys.modules['yaml'] = None; sys.path.insert(0, sys.argv[1]); "
        "from asgi_core.cli import main; sys.exit(main(sys.argv[2:]))"
    )
    argv = ["docs", "gen", f"{module}:app", "--app-dir", str(tmp_path), "--yaml"]
    result = subprocess.run(
        [sys.executable, "-c", probe, str(CHECKOUT), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == cli.EXIT_IMPORT_ERROR, result.stderr
    assert result.stdout == ""
    err = result.stderr.splitlines()
    assert err[0] == (
        "asgi-core: error: writing the document as YAML (--yaml) needs the 'yaml' package, "
        "which is not installed; install it with `pip install 'asgi-core[yaml]'`"
    )
    assert err[1] == "hint: PyYAML provides it: `pip install pyyaml`"
    assert len(err) == 2


@pytest.mark.parametrize(
    ("attr", "code", "message"),
    [
        (".app", cli.EXIT_IMPORT_ERROR, "must have the form 'module:attribute'"),
        (":nope", cli.EXIT_IMPORT_ERROR, "attribute 'nope' not found in"),
        (":number", cli.EXIT_USAGE, "is 42, which has no AsyncAPI document; name an"),
        (":number --factory", cli.EXIT_USAGE, ":number is 42, which is not callable"),
        (":failing_app", cli.EXIT_IMPORT_ERROR, "broker.asyncapi_servers() raised RuntimeError"),
    ],
)
def test_docs_gen_bad_app_exits_with_the_run_commands_codes(
    module: str,
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    attr: str,
    code: int,
    message: str,
) -> None:
    name, *flags = attr.split()
    assert docs(module, tmp_path, "gen", name, *flags) == code
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.splitlines()
    assert err[0].startswith("asgi-core: error: ") and message in err[0], err
    assert err[1].startswith("hint: ") and len(err) == 2


def test_docs_gen_of_a_module_that_fails_to_import_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["docs", "gen", "tests.fixtures.serving.raises_at_import:app"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        "asgi-core: error: importing tests.fixtures.serving.raises_at_import:app raised "
        "RuntimeError: this module fails at import on purpose"
    )


def test_docs_gen_to_an_unwritable_path_exits_1(
    module: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no-such-dir" / "asyncapi.json"
    assert docs(module, tmp_path, "gen", ":app", "--out", str(out)) == cli.EXIT_IMPORT_ERROR
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"asgi-core: error: could not write the document to {str(out)!r}")
    assert err[1] == "hint: choose a writable path for --out"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["docs"], "the following arguments are required: ACTION"),
        (["docs", "publish", "m:app"], "invalid choice: 'publish'"),
        (["docs", "gen"], "the following arguments are required: APP"),
        (["docs", "gen", "m:app", "--port", "1"], "unrecognized arguments: --port 1"),
        (["docs", "serve", "m:app", "--port", "http"], "argument --port: invalid int value"),
    ],
)
def test_docs_usage_errors_exit_2_with_a_hint(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err.splitlines()
    assert message in err[0]
    assert err[1] == f"hint: run `asgi-core {' '.join(argv[:2])} --help` for the options"


def test_docs_help_lists_both_actions(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["docs", "--help"]) == 0
    out = capsys.readouterr().out
    assert "gen" in out and "serve" in out


# -- docs serve, in process ----------------------------------------------------------------------


@pytest.fixture
def served(module: str) -> Iterator[Callable[[str, str], http.client.HTTPResponse]]:
    """The docs server of the module's app on a free port, in a thread; yields a requester."""
    import importlib

    target = importlib.import_module(module)
    server = _docs_cli.make_server(target.app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    connections: list[http.client.HTTPConnection] = []

    def request(method: str, path: str) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connections.append(connection)
        connection.request(method, path)
        return connection.getresponse()

    yield request
    server.shutdown()
    server.server_close()
    thread.join(timeout=30)
    for connection in connections:
        connection.close()


def test_docs_serve_answers_the_page_and_the_json(
    module: str, tmp_path: pathlib.Path, served: Callable[[str, str], http.client.HTTPResponse]
) -> None:
    page = served("GET", "/docs")
    assert page.status == 200
    assert page.getheader("content-type") == "text/html; charset=utf-8"
    html = page.read().decode()
    assert 'id="asyncapi-document"' in html and "/docs.json" in html
    response = served("GET", "/docs.json")
    assert response.status == 200
    assert response.getheader("content-type") == "application/json"
    document = json.loads(response.read())
    check(document)
    assert document == _document_of(sys.modules[module].app)


def _document_of(app: AsgiFastStream) -> dict[str, Any]:
    from asgi_core.asyncapi import build_document

    return build_document(app)


@pytest.mark.parametrize(
    ("method", "path", "status", "location"),
    [
        ("GET", "/", 307, "/docs"),
        ("HEAD", "/docs.json", 200, None),
        ("GET", "/elsewhere", 404, None),
        ("GET", "/docs.json/x", 404, None),
    ],
)
def test_docs_serve_redirects_the_root_and_refuses_other_paths(
    module: str,
    tmp_path: pathlib.Path,
    served: Callable[[str, str], http.client.HTTPResponse],
    method: str,
    path: str,
    status: int,
    location: str | None,
) -> None:
    response = served(method, path)
    assert response.status == status
    assert response.getheader("location") == location
    body = response.read()
    assert (body == b"") == (method == "HEAD" or status == 307)


def test_docs_serve_on_an_address_in_use_exits_3(
    module: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert docs(module, tmp_path, "serve", ":app", "--port", port) == cli.EXIT_STARTUP_FAILED
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"asgi-core: error: could not listen on 127.0.0.1:{port}: ")
    assert err[1] == "hint: choose another --port (0 picks a free one) or stop what uses it"


def test_docs_serve_builds_the_document_before_listening(
    module: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert docs(module, tmp_path, "serve", ":failing_app", "--port", "0") == 1
    err = capsys.readouterr().err
    assert "broker.asyncapi_servers() raised RuntimeError: the describer broke" in err
    assert "serving the AsyncAPI docs" not in err
