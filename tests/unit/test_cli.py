"""The ``asgi-core`` command line, in process: argument splitting, messages and exit codes.

Nothing here starts a server: every case fails (or prints) before one would start. Serving is
covered end to end in ``tests/e2e/test_cli_run.py``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from asgi_core import __version__, cli

APP = "tests.fixtures.serving.e2e_app:app"
SERVICE = "tests.fixtures.serving.e2e_service:service"


@pytest.mark.parametrize(
    ("tokens", "options"),
    [
        (["--retries", "3"], {"retries": "3"}),
        (["--retries=3"], {"retries": "3"}),
        (["--debug"], {"debug": True}),
        (["--no-debug"], {"debug": False}),
        (["--tag", "a", "b"], {"tag": ["a", "b"]}),
        (["--tag", "a", "--tag", "b", "--tag", "c"], {"tag": ["a", "b", "c"]}),
        (["--dry-run", "--log-file", "x.log"], {"dry_run": True, "log_file": "x.log"}),
        (["--offset", "-5"], {"offset": "-5"}),
        (["--no-cache", "--cache-size", "1"], {"cache": False, "cache_size": "1"}),
    ],
)
def test_parse_extra_options_follows_the_cli_conventions(
    tokens: list[str], options: dict[str, object]
) -> None:
    assert cli.parse_extra_options(tokens) == options


@pytest.mark.parametrize(
    ("tokens", "match"),
    [
        (["value"], "unexpected argument 'value'"),
        (["--"], "unexpected argument '--'"),
        (["--1x", "2"], "option '--1x' is not a valid name"),
    ],
)
def test_parse_extra_options_rejects_what_is_not_an_option(tokens: list[str], match: str) -> None:
    with pytest.raises(cli.UsageError, match=match):
        cli.parse_extra_options(tokens)


@pytest.mark.parametrize(
    ("args", "known", "extra"),
    [
        ([APP, "--port", "0", "--retries", "3"], [APP, "--port", "0"], ["--retries", "3"]),
        ([APP, "--tag", "a", "b", "--reload"], [APP, "--reload"], ["--tag", "a", "b"]),
        (["--retries", "3", APP], [APP], ["--retries", "3"]),  # before APP: one value at most
        ([APP, "--bind", "a:1", "--bind=b:2"], [APP, "--bind", "a:1", "--bind=b:2"], []),
        ([APP, "--no-proxy-headers", "--x=1"], [APP, "--no-proxy-headers"], ["--x=1"]),
    ],
)
def test_split_arguments_separates_known_flags_from_hook_options(
    args: list[str], known: list[str], extra: list[str]
) -> None:
    assert cli.split_arguments(args) == (known, extra)


def test_version_names_the_package_python_and_platform(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"asgi-core {__version__} with ")
    assert sys.version.split()[0] in out


def test_run_help_lists_the_flags_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for flag in cli.FLAGS:
        assert flag in out
    assert "exit codes: 0 stopped, 1 import error or missing extra, 2 usage error, 3 the" in out


def _error(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


def test_no_app_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run"]) == cli.EXIT_USAGE
    err = _error(capsys)
    assert err[0] == "asgi-core: error: the following arguments are required: APP"
    assert err[1].startswith("hint: ")


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", APP]) == cli.EXIT_USAGE
    assert "invalid choice: 'serve'" in _error(capsys)[0]


def test_a_bad_flag_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", APP, "--server", "daphne"]) == cli.EXIT_USAGE
    assert "argument --server: invalid choice: 'daphne'" in _error(capsys)[0]


def test_a_missing_module_is_an_import_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "no_such_module_xyz:app"]) == cli.EXIT_IMPORT_ERROR
    err = _error(capsys)
    assert err[0].startswith("asgi-core: error: could not import module 'no_such_module_xyz'")
    assert err[1] == "hint: APP is MODULE:ATTR, e.g. `main:app`"
    assert len(err) == 2  # one line plus a hint; no traceback below debug


def test_a_malformed_app_string_is_an_import_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "main.app"]) == cli.EXIT_IMPORT_ERROR
    assert "must have the form 'module:attribute'" in _error(capsys)[0]


def test_an_error_inside_the_module_is_reported_with_its_own_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["run", "tests.fixtures.serving.broken_import:app"]) == 1
    err = _error(capsys)
    assert err[0] == (
        "asgi-core: error: importing tests.fixtures.serving.broken_import:app raised "
        "ModuleNotFoundError: No module named 'asgi_core_no_such_dependency'"
    )
    assert len(err) == 2


def test_debug_log_level_adds_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    spec = "tests.fixtures.serving.raises_at_import:app"
    assert cli.main(["run", spec, "--log-level", "debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "RuntimeError: this module fails at import on purpose" in err


def test_an_object_that_is_no_app_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "tests.fixtures.serving.not_an_app:number"]) == cli.EXIT_USAGE
    assert "is 42, which is not an ASGI app or Application" in _error(capsys)[0]


def test_factory_needs_a_callable(capsys: pytest.CaptureFixture[str]) -> None:
    spec = "tests.fixtures.serving.not_an_app:number"
    assert cli.main(["run", spec, "--factory"]) == cli.EXIT_USAGE
    assert "--factory: tests.fixtures.serving.not_an_app:number is 42" in _error(capsys)[0]


def test_an_option_no_hook_accepts_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", APP, "--retires", "3"]) == cli.EXIT_USAGE
    err = _error(capsys)
    assert "unknown option 'retires'" in err[0]
    assert "did you mean 'retries'?" in err[0]


def test_server_flags_do_not_apply_to_an_application_without_http(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["run", SERVICE, "--workers", "2", "--root-path", "/x"]) == cli.EXIT_USAGE
    assert "so --workers, --root-path do not apply" in _error(capsys)[0]


def test_reload_with_several_workers_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", APP, "--reload", "--workers", "2"]) == cli.EXIT_USAGE
    assert "--reload runs one uvicorn process" in _error(capsys)[0]


def test_flags_read_their_defaults_from_asgi_core_environment_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ASGI_CORE_SERVER", "gunicon")
    assert cli.main(["run", APP]) == cli.EXIT_USAGE
    assert "unknown server 'gunicon'; did you mean 'gunicorn'?" in _error(capsys)[0]


def test_a_bad_boolean_in_the_environment_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ASGI_CORE_RELOAD", "maybe")
    assert cli.main(["run", APP]) == cli.EXIT_USAGE
    assert "option '--reload' = 'maybe' is not a valid bool" in _error(capsys)[0]


def test_a_missing_server_extra_exits_1_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delitem(sys.modules, "asgi_core_extras.gunicorn", raising=False)
    monkeypatch.setitem(sys.modules, "gunicorn", None)
    assert cli.main(["run", APP, "--workers", "2"]) == cli.EXIT_IMPORT_ERROR
    err = _error(capsys)
    assert err[0] == (
        "asgi-core: error: running with gunicorn needs the 'gunicorn' package, which is not "
        "installed; install it with `pip install 'asgi-core[gunicorn]'`"
    )
    assert err[1] == "hint: or choose another --server"


def test_python_dash_m_asgi_core_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "asgi_core", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0
    assert result.stdout.startswith(f"asgi-core {__version__} ")


def test_cli_server_names_and_flags_come_from_the_runner_registry() -> None:
    from asgi_core import _serving

    assert cli.SERVERS == tuple(_serving.RUNNERS)
    assert set(cli.SERVER_FLAGS) == _serving.SERVER_OPTIONS  # every server option has a flag
    assert cli.FLAGS["--server"][0]["choices"] == cli.SERVERS
