"""``import asgi_core`` loads the standard library only, and nothing optional."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

CHECKOUT = pathlib.Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
sys.path.insert(0, {checkout!r})
before = set(sys.modules)
import asgi_core
added = sorted(set(sys.modules) - before)
std = set(sys.stdlib_module_names)
print(json.dumps({{
    "file": asgi_core.__file__,
    "added": added,
    "third_party": [m for m in added if m.split(".")[0] not in std
                    and m.split(".")[0] != "asgi_core"],
}}))
"""


def _probe(*flags: str) -> dict[str, list[str] | str]:
    result = subprocess.run(
        [sys.executable, *flags, "-c", PROBE.format(checkout=str(CHECKOUT))],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    data: dict[str, list[str] | str] = json.loads(result.stdout)
    return data


def test_import_with_only_the_checkout_on_the_path_loads_no_third_party_module() -> None:
    found = _probe("-S", "-I")
    assert str(found["file"]).startswith(str(CHECKOUT))
    assert found["third_party"] == []


def test_import_loads_no_event_loop_server_or_extras() -> None:
    added = set(_probe("-I")["added"])
    for name in (
        "asyncio",
        "trio",
        "anyio",
        "uvicorn",
        "gunicorn",
        "asgi_core_extras",
        "inspect",
        "json",
        "pathlib",
        "logging",  # about half the import time: loaded when the first app is built
        "typing",  # a third of it: names for the type checker only, TYPE_CHECKING = False
        "traceback",
    ):
        assert name not in added, f"import asgi_core imported {name}"


def test_import_default_logger_is_made_when_an_app_is_built() -> None:
    import logging

    from asgi_core import Application, AsgiFastStream
    from asgi_core.application import LoggerLike, logger

    assert AsgiFastStream().logger is logging.getLogger("asgi_core")
    assert Application().logger is logging.getLogger("asgi_core") is logger
    assert AsgiFastStream(logger=None).logger is None
    mine = logging.getLogger("mine")
    assert AsgiFastStream(logger=mine).logger is mine
    assert isinstance(mine, LoggerLike)


def test_import_exports_operations_names_lazily_on_first_use() -> None:
    import asgi_core
    from asgi_core import handlers, health

    assert asgi_core.get is handlers.get and asgi_core.make_ping_asgi is health.make_ping_asgi
    assert set(asgi_core.__all__) >= {"get", "post", "Request", "JSONResponse", "mount_asyncapi"}
    try:
        asgi_core.nothing_here  # noqa: B018
    except AttributeError as exc:
        assert "no attribute 'nothing_here'" in str(exc)
    else:
        raise AssertionError("unknown names must raise AttributeError")


def test_import_exports_the_serving_errors_and_keeps_their_old_paths() -> None:
    import asgi_core
    from asgi_core import _importer, _serving, exceptions

    assert {"StartupFailed", "AppImportError"} <= set(asgi_core.__all__)
    assert asgi_core.StartupFailed is exceptions.StartupFailed is _serving.StartupFailed
    assert asgi_core.AppImportError is exceptions.AppImportError is _importer.AppImportError
    assert issubclass(asgi_core.AppImportError, ImportError)
