"""``asgi-core run`` end to end: failures, workers, hook options, ``exit()``, other kinds of app."""

from __future__ import annotations

import pathlib
import re
import signal
import socket

import pytest

from tests.e2e.servers import APP, free_port, served

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SERVICE = "tests.fixtures.serving.e2e_service:service"
MODES = {
    "uvicorn": (),
    "gunicorn": ("--workers", "2"),
    "uvicorn workers": ("--workers", "2", "--server", "uvicorn"),
}
WORKERS = {"uvicorn": 1, "gunicorn": 2, "uvicorn workers": 2}


def _run(*args: str) -> list[str]:
    return ["asgi_core", "run", *args]


@pytest.mark.parametrize("mode", list(MODES))
def test_run_exits_3_naming_the_failing_step_when_startup_fails(
    mode: str, tmp_path: pathlib.Path
) -> None:
    env = {"E2E_FAIL_STARTUP": "1"}
    with served(_run(APP, "--port", "0", *MODES[mode]), tmp_path, port=0, env=env) as proc:
        assert proc.wait() == 3
        output = proc.output()
    assert "startup failed in on_startup hook" in output
    assert "make_app.<locals>.started" in output
    assert "startup failed on purpose (E2E_FAIL_STARTUP)" in output
    assert "asgi-core: error:" in output
    assert proc.lines("shutdown") == []


def test_run_of_an_application_exits_3_naming_the_failing_step(tmp_path: pathlib.Path) -> None:
    env = {"E2E_FAIL_STARTUP": "1"}
    with served(_run(SERVICE), tmp_path, port=0, env=env) as proc:
        assert proc.wait() == 3
        output = proc.output()
    assert "asgi-core: error: startup failed in on_startup hook" in output
    assert "e2e_service.started: RuntimeError: startup failed on purpose" in output


@pytest.mark.parametrize("mode", ["gunicorn", "uvicorn workers"])
def test_run_with_two_workers_gives_the_hooks_worker_ids_0_and_1(
    mode: str, tmp_path: pathlib.Path
) -> None:
    with served(_run(APP, "--port", "0", *MODES[mode]), tmp_path, port=0) as proc:
        proc.wait_ready()
        startups = proc.wait_for_lines("startup", 2)
        assert proc.stop() == 0
    assert sorted(line.split()[1] for line in startups) == ["worker_id=0", "worker_id=1"]
    assert len(proc.lines("shutdown")) == 2


def _port_8123_or_free() -> int:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", 8123))
        except OSError:  # taken on this machine: the option, not the port, is under test
            return free_port()
    return 8123


def test_run_passes_an_unknown_option_to_on_startup_converted_to_its_annotation(
    tmp_path: pathlib.Path,
) -> None:
    port = _port_8123_or_free()
    with served(_run(APP, "--port", str(port), "--retries", "3"), tmp_path, port=port) as proc:
        proc.wait_ready()
        assert proc.stop() == 0
    assert proc.lines("startup")[0].startswith("startup worker_id=None retries=3 pid=")


def test_run_rejects_an_option_no_hook_accepts_with_the_closest_name(
    tmp_path: pathlib.Path,
) -> None:
    with served(_run(APP, "--port", "0", "--retires", "3"), tmp_path, port=0) as proc:
        assert proc.wait() == 2
        output = proc.output()
    assert "unknown option 'retires'" in output
    assert "did you mean 'retries'?" in output
    assert proc.records() == []


@pytest.mark.parametrize("mode", list(MODES))
def test_exit_called_in_a_hook_stops_the_served_process_cleanly(
    mode: str, tmp_path: pathlib.Path
) -> None:
    env = {"E2E_EXIT_AFTER_STARTUP": "1"}
    with served(_run(APP, "--port", "0", *MODES[mode]), tmp_path, port=0, env=env) as proc:
        assert proc.wait() == 0
    workers = WORKERS[mode]
    assert len(proc.lines("startup")) >= 1
    assert len(proc.lines("shutdown")) == len(proc.lines("startup")) <= workers


@pytest.mark.parametrize("mode", list(MODES))
def test_exit_called_in_a_request_handler_stops_every_worker_cleanly(
    mode: str, tmp_path: pathlib.Path
) -> None:
    with served(_run(APP, "--port", "0", *MODES[mode]), tmp_path, port=0) as proc:
        proc.wait_ready()
        proc.wait_for_lines("startup", WORKERS[mode])
        assert proc.json("/control/exit") == {"exiting": True}
        assert proc.wait() == 0
    startups = proc.lines("startup")
    assert len(startups) == WORKERS[mode]
    shutdown_pids = sorted(line.rsplit("pid=", 1)[1] for line in proc.lines("shutdown"))
    assert shutdown_pids == sorted(line.rsplit("pid=", 1)[1] for line in startups)


OWN_CLIS = {
    # under a server started by someone else, exit() sends SIGTERM to the server's main
    # process: the current one (uvicorn) or the multiprocessing parent of the worker
    "uvicorn": (("uvicorn", APP, "--port", "{port}"), -15, 1),
    "uvicorn --workers 2": (("uvicorn", APP, "--port", "{port}", "--workers", "2"), 0, 2),
    "hypercorn": (("hypercorn", APP, "--bind", "127.0.0.1:{port}"), 0, 1),
    "granian": (("granian", "--interface", "asgi", "--port", "{port}", APP), 0, 1),
}


@pytest.mark.parametrize("name", list(OWN_CLIS))
def test_exit_under_a_server_started_by_its_own_cli_shuts_it_down_gracefully(
    name: str, tmp_path: pathlib.Path
) -> None:
    args, status, workers = OWN_CLIS[name]
    port = free_port()
    with served([a.replace("{port}", str(port)) for a in args], tmp_path, port=port) as proc:
        proc.wait_ready()
        proc.wait_for_lines("startup", workers)
        assert proc.json("/control/exit") == {"exiting": True}
        assert proc.wait() == status
    assert len(proc.lines("startup")) == len(proc.lines("shutdown")) == workers


def test_exit_under_gunicorns_own_cli_replaces_the_worker(tmp_path: pathlib.Path) -> None:
    """Documented caveat: gunicorn forks its workers itself and starts a new one."""
    port = free_port()
    args = (
        "gunicorn",
        APP,
        "-k",
        "uvicorn_worker.UvicornWorker",
        "-b",
        f"127.0.0.1:{port}",
        "--no-control-socket",
    )
    with served(args, tmp_path, port=port) as proc:
        proc.wait_ready()
        assert proc.json("/control/exit") == {"exiting": True}
        assert len(proc.wait_for_lines("startup", 2)) == 2
        assert len(proc.wait_for_lines("shutdown", 1)) == 1
        proc.wait_ready()
        assert proc.stop() == 0
    assert len(proc.lines("shutdown")) == 2


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_of_an_application_without_http_stops_on_a_signal(
    sig: int, tmp_path: pathlib.Path
) -> None:
    with served(_run(SERVICE, "--retries", "2"), tmp_path, port=0) as proc:
        assert proc.wait_for_lines("ready", 1)
        assert proc.stop(sig) == 0
    assert [line.split(" pid=")[0] for line in proc.records()] == [
        "startup worker_id=None retries=2",
        "ready",
        "shutdown",
    ]
    assert f"{signal.Signals(sig).name} received, stopping" in proc.output()


def test_run_of_an_application_without_http_ends_when_a_hook_calls_exit(
    tmp_path: pathlib.Path,
) -> None:
    env = {"E2E_EXIT_AFTER_STARTUP": "1"}
    with served(_run(SERVICE), tmp_path, port=0, env=env) as proc:
        assert proc.wait() == 0
    assert [line.split(" ")[0] for line in proc.records()] == ["startup", "ready", "shutdown"]
    assert "exit() received, stopping" in proc.output()


def test_run_of_an_application_without_http_refuses_server_flags(tmp_path: pathlib.Path) -> None:
    with served(_run(SERVICE, "--port", "8000"), tmp_path, port=0) as proc:
        assert proc.wait() == 2
    assert "is an Application without HTTP, so --port do not apply" in proc.output()


def test_run_serves_any_other_asgi_app_as_it_is(tmp_path: pathlib.Path) -> None:
    spec = "tests.fixtures.serving.e2e_app:plain_asgi"
    with served(_run(spec, "--port", "0"), tmp_path, port=0) as proc:
        proc.wait_ready("/")
        assert proc.json("/anything") == {"plain": True, "path": "/anything"}
        assert proc.stop() == 0


def test_run_with_factory_calls_it_for_the_app(tmp_path: pathlib.Path) -> None:
    spec = "tests.fixtures.serving.e2e_app:make_app"
    with served(_run(spec, "--factory", "--port", "0"), tmp_path, port=0) as proc:
        proc.wait_ready()
        assert proc.json("/http/x")["root_path"] == "/http"
        assert proc.stop() == 0
    assert len(proc.lines("shutdown")) == 1


def test_run_with_reload_serves_one_process_and_stops_on_sigterm(tmp_path: pathlib.Path) -> None:
    with served(_run(APP, "--reload", "--port", "0"), tmp_path, port=0) as proc:
        proc.wait_ready()
        assert proc.json("/http/x")["root_path"] == "/http"
        assert proc.stop() == 0
    assert [line.split(" pid=")[0] for line in proc.lines("startup")] == [
        "startup worker_id=None retries=0"
    ]
    assert len(proc.lines("shutdown")) == 1


def test_exit_under_daphne_only_sets_should_exit(tmp_path: pathlib.Path) -> None:
    """daphne sends no lifespan scope, so asgi_core cannot tell it is being served."""
    port = free_port()
    with served(("daphne", "-b", "127.0.0.1", "-p", str(port), APP), tmp_path, port=port) as proc:
        proc.wait_ready()
        assert proc.json("/control/exit") == {"exiting": True}
        assert proc.json("/http/still-here")["path"] == "/http/still-here"
        assert proc.process.poll() is None
        assert proc.stop() == 0
    assert proc.records() == []


@pytest.mark.parametrize("mode", ["uvicorn", "gunicorn"])
def test_run_listens_on_every_bind_address(mode: str, tmp_path: pathlib.Path) -> None:
    args = _run(APP, "--bind", "127.0.0.1:0", "--bind", "127.0.0.1:0", *MODES[mode])
    with served(args, tmp_path, port=0) as proc:
        proc.wait_ready()
        ports = [
            int(p) for p in re.findall(r"listening on http://127\.0\.0\.1:(\d+)", proc.output())
        ]
        assert len(set(ports)) == 2
        for port in ports:
            proc.port = port
            assert proc.json("/http/x")["root_path"] == "/http"
        assert proc.stop() == 0
