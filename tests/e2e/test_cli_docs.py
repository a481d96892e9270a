"""``asgi-core docs serve`` as a real process: /docs and /docs.json answer, SIGTERM stops it.

The app is the Redis e2e service, whose broker points at a port where nothing listens: the
document is FastStream's for its list subscriber, and serving it never connects.
"""

from __future__ import annotations

import json
import pathlib
import signal

import jsonschema
import pytest

from tests.e2e.servers import CHECKOUT, free_port, http_get, served

pytestmark = pytest.mark.e2e

SCHEMA = json.loads((CHECKOUT / "tests/fixtures/asyncapi/asyncapi-3.0.0.schema.json").read_text())


def test_docs_serve_answers_docs_and_docs_json_until_sigterm(tmp_path: pathlib.Path) -> None:
    port = free_port()
    args = ["asgi_core", "docs", "serve", "tests.fixtures.redis_app:app", "--port", str(port)]
    env = {"E2E_REDIS_URL": f"redis://127.0.0.1:{free_port()}"}  # nothing listens there
    with served(args, tmp_path, port=port, env=env) as proc:
        proc.wait_ready("/docs.json")
        status, page = http_get(port, "/docs")
        assert status == 200
        assert b'id="asyncapi-document"' in page
        status, body = http_get(port, "/docs.json")
        assert status == 200
        document = json.loads(body)
        jsonschema.Draft7Validator(SCHEMA).validate(document)
        addresses = [channel["address"] for channel in document["channels"].values()]
        assert "asgi-core-e2e-orders" in addresses
        assert proc.stop(signal.SIGTERM) == 0
        output = proc.output()
    assert f"docs of tests.fixtures.redis_app:app on http://127.0.0.1:{port}/docs" in output
    assert '"GET /docs HTTP/1.1" 200' in output
    assert "Traceback" not in output
