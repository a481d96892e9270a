"""Missing and broken servers, in fresh interpreters: what ``run()`` and the CLI say.

Each probe hides a server (``sys.modules[name] = None``, as if it were not installed) or puts a
broken stand-in first on ``sys.path``, then calls ``run()`` or the CLI. ``import asgi_core`` and
``import asgi_core.cli`` must not import any runner or server themselves.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

CHECKOUT = pathlib.Path(__file__).resolve().parents[2]

RUN_PROBE = """
import asyncio, json, sys
sys.path.insert(0, {checkout!r})
for name in {hidden!r}:
    sys.modules[name] = None
import asgi_core
app = asgi_core.AsgiFastStream()
try:
    asyncio.run(app.run(run_extra_options={options!r}))
except BaseException as exc:
    print(json.dumps({{"type": type(exc).__name__, "message": str(exc),
        "import_error": isinstance(exc, ImportError),
        "missing_extra": isinstance(exc, asgi_core.MissingExtraError),
        "name": getattr(exc, "name", None)}}))
"""


def _probe(code: str, *path: str) -> dict[str, object]:
    env_path = [*path, str(CHECKOUT)]
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=CHECKOUT,
        env={"PYTHONPATH": ":".join(env_path), "PATH": "/usr/bin:/bin"},
    )
    assert result.stdout, result.stderr
    data: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return data


@pytest.mark.parametrize(
    ("hidden", "options", "package", "extra"),
    [
        (["uvicorn"], {}, "uvicorn", "uvicorn"),
        (["gunicorn"], {"workers": 2}, "gunicorn", "gunicorn"),
        (["uvicorn_worker"], {"workers": 2}, "uvicorn_worker", "gunicorn"),
        (["gunicorn"], {"server": "gunicorn"}, "gunicorn", "gunicorn"),
        # the server depends only on the options: uvicorn is asked for, gunicorn's absence is moot
        (["gunicorn", "uvicorn"], {"workers": 2, "server": "uvicorn"}, "uvicorn", "uvicorn"),
    ],
)
def test_run_names_the_missing_package_and_the_install_command(
    hidden: list[str], options: dict[str, object], package: str, extra: str
) -> None:
    code = RUN_PROBE.format(checkout=str(CHECKOUT), hidden=hidden, options=options)
    found = _probe(code)
    assert found["missing_extra"] is True
    assert found["import_error"] is True
    assert found["name"] == package
    assert found["message"] == (
        f"running with {'gunicorn' if extra == 'gunicorn' else 'uvicorn'} needs the "
        f"{package!r} package, which is not installed; install it with "
        f"`pip install 'asgi-core[{extra}]'`"
    )


def test_an_installed_but_broken_server_keeps_its_own_error() -> None:
    # a stand-in "uvicorn" first on the path that fails importing its own dependency
    broken = CHECKOUT / "tests" / "fixtures" / "serving" / "broken_server"
    code = RUN_PROBE.format(checkout=str(CHECKOUT), hidden=[], options={})
    found = _probe(code, str(broken))
    assert found["type"] == "ModuleNotFoundError"
    assert found["missing_extra"] is False
    assert found["name"] == "asgi_core_missing_uvicorn_dependency"


CLI_PROBE = """
import json, sys
sys.path.insert(0, {checkout!r})
for name in ("uvicorn", "gunicorn", "uvicorn_worker"):
    sys.modules[name] = None
before = set(sys.modules)
from asgi_core.cli import main
loaded = sorted(m for m in set(sys.modules) - before
                if m.split(".")[0] in ("asgi_core_extras", "asyncio", "trio"))
code = main({argv!r})
print(json.dumps({{"code": code, "loaded": loaded}}))
"""


def test_the_cli_works_without_any_server_installed() -> None:
    code = CLI_PROBE.format(checkout=str(CHECKOUT), argv=["--version"])
    assert _probe(code) == {"code": 0, "loaded": []}


def test_the_cli_exits_1_when_the_chosen_server_is_missing() -> None:
    argv = ["run", "tests.fixtures.serving.e2e_app:app", "--port", "0"]
    code = CLI_PROBE.format(checkout=str(CHECKOUT), argv=argv)
    assert _probe(code)["code"] == 1


def test_importing_asgi_core_loads_no_runner_and_no_serving_module() -> None:
    code = (
        f"import json, sys; sys.path.insert(0, {str(CHECKOUT)!r}); import asgi_core; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('asgi_core_extras', "
        "'asgi_core._serving', 'asgi_core._process', 'asgi_core.cli', 'asgi_core._importer', "
        "'uvicorn', 'gunicorn', 'signal')))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(result.stdout) == []
