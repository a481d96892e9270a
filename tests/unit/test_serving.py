"""``_serving`` and ``_addresses``: options, server choice, binding, runners, worker ids, exit()."""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import socket
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asgi_core import (
    Application,
    AsgiFastStream,
    ConfigError,
    MissingExtraError,
    StartupFailed,
    _process,
)
from asgi_core._addresses import bind_sockets, describe_socket, parse_bind
from asgi_core._serving import (
    RUNNERS,
    SERVER_OPTIONS,
    load_runner,
    make_plan,
    prepare_app,
)
from tests.harness import communicate, lifespan_scope


def _app() -> AsgiFastStream:
    app = AsgiFastStream()

    @app.on_startup
    def hook(retries: int = 0, worker_id: int | None = None) -> None:
        pass

    return app


def _plan(**options: object) -> Any:
    return make_plan(_app(), options, log_level=20)


@pytest.mark.parametrize(
    ("options", "binds"),
    [
        ({}, ["127.0.0.1:8000"]),
        ({"host": "0.0.0.0", "port": 9000}, ["0.0.0.0:9000"]),
        ({"host": "0.0.0.0"}, ["0.0.0.0:8000"]),
        ({"port": 9000}, ["127.0.0.1:9000"]),
        ({"port": "9000"}, ["127.0.0.1:9000"]),
        ({"host": "::1", "port": 9000}, ["[::1]:9000"]),
        ({"bind": "10.0.0.1:80"}, ["10.0.0.1:80"]),
        ({"port": 1, "bind": ["a:2", "unix:/tmp/s"]}, ["127.0.0.1:1", "a:2", "unix:/tmp/s"]),
        ({"uds": "/tmp/x.sock"}, ["unix:/tmp/x.sock"]),
        ({"fd": 3}, ["fd://3"]),
    ],
)
def test_make_plan_binds_as_the_seed_does(options: dict[str, object], binds: list[str]) -> None:
    assert _plan(**options).binds == binds


@pytest.mark.parametrize(
    ("options", "server", "worker_ids"),
    [
        ({}, "uvicorn", False),
        ({"workers": 1}, "uvicorn", False),
        ({"workers": 2}, "gunicorn", True),
        ({"workers": "3"}, "gunicorn", True),
        ({"workers": 2, "server": "uvicorn"}, "uvicorn", True),
        ({"server": "gunicorn"}, "gunicorn", True),
    ],
)
def test_make_plan_chooses_the_server_from_the_options_only(
    options: dict[str, object], server: str, worker_ids: bool
) -> None:
    plan = _plan(**options)
    assert (plan.server, plan.gives_worker_ids) == (server, worker_ids)


def test_make_plan_separates_hook_options_from_server_options() -> None:
    plan = _plan(port=1, retries="3", root_path="/svc/", proxy_headers="false")
    assert plan.hook_options == {"retries": "3"}
    assert (plan.root_path, plan.proxy_headers) == ("/svc", False)


def test_make_plan_joins_a_list_of_forwarded_allow_ips() -> None:
    assert (
        _plan(forwarded_allow_ips=["1.2.3.4", "5.6.7.8"]).forwarded_allow_ips == "1.2.3.4,5.6.7.8"
    )


def test_an_option_nobody_accepts_is_an_error_listing_names_and_the_closest() -> None:
    with pytest.raises(ConfigError) as info:
        _plan(retires=3)
    message = str(info.value)
    assert message.startswith("unknown option 'retires': neither the server nor any on_startup")
    assert "did you mean 'retries'?" in message
    for name in (*SERVER_OPTIONS, "retries"):
        assert name in message


def test_a_hook_with_kwargs_accepts_every_option() -> None:
    app = AsgiFastStream()
    app.on_startup(lambda **options: None)
    assert make_plan(app, {"anything": 1}, log_level=20).hook_options == {"anything": 1}


def test_the_lifespan_parameters_are_accepted_options() -> None:
    @contextlib.asynccontextmanager
    async def lifespan(env: str = "dev") -> AsyncIterator[None]:
        yield

    app = AsgiFastStream(lifespan=lifespan)
    assert make_plan(app, {"env": "prod"}, log_level=20).hook_options == {"env": "prod"}


def test_an_app_without_hooks_accepts_no_hook_option() -> None:
    async def plain(scope: Any, receive: Any, send: Any) -> None:
        pass

    with pytest.raises(ConfigError, match=r"unknown option 'x'.*valid options: bind, fd"):
        make_plan(plain, {"x": 1}, log_level=20)


def test_worker_id_is_reserved() -> None:
    with pytest.raises(ConfigError, match="option 'worker_id' is set by asgi_core"):
        _plan(worker_id=1)


def test_an_unknown_server_is_an_error_with_the_closest_name() -> None:
    with pytest.raises(ConfigError, match=r"unknown server 'gunicon'; did you mean 'gunicorn'\?"):
        _plan(server="gunicon")


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"workers": 0}, "option 'workers' must be an integer >= 1, not 0"),
        ({"workers": "two"}, "option 'workers' must be an integer >= 1, not 'two'"),
        ({"workers": True}, "option 'workers' must be an integer >= 1, not True"),
        ({"port": "http"}, "option 'port' must be an integer >= 0"),
        ({"bind": "host:http"}, "bind address 'host:http' has no valid port"),
        ({"bind": [1]}, "option 'bind' takes strings"),
    ],
)
def test_bad_server_option_values_are_errors(options: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        _plan(**options)


@pytest.mark.parametrize(
    ("bind", "parsed"),
    [
        ("unix:/run/app.sock", ("unix", "/run/app.sock", 0)),
        ("fd://5", ("fd", "", 5)),
        ("example.org:81", ("tcp", "example.org", 81)),
        ("example.org", ("tcp", "example.org", 8000)),
        ("[::1]:82", ("tcp", "::1", 82)),
        (":83", ("tcp", "127.0.0.1", 83)),
    ],
)
def test_parse_bind_reads_gunicorn_style_addresses(bind: str, parsed: tuple[str, str, int]) -> None:
    assert parse_bind(bind) == parsed


def test_bind_sockets_with_port_0_reports_the_port_it_got(tmp_path: pathlib.Path) -> None:
    sockets = bind_sockets(["127.0.0.1:0", f"unix:{tmp_path / 's.sock'}"])
    try:
        tcp, unix = sockets
        assert describe_socket(tcp) == f"http://127.0.0.1:{tcp.getsockname()[1]}"
        assert tcp.getsockname()[1] != 0
        assert describe_socket(unix) == f"unix:{tmp_path / 's.sock'}"
        assert all(sock.get_inheritable() for sock in sockets)
    finally:
        for sock in sockets:
            sock.close()


def test_bind_sockets_says_what_to_do_when_the_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartupFailed, match=rf"cannot listen on '127.0.0.1:{port}'.*0 picks"):
            bind_sockets([f"127.0.0.1:{port}"])


def test_runners_are_import_strings_of_the_extras_modules() -> None:
    assert {name: runner.module for name, runner in RUNNERS.items()} == {
        "uvicorn": "asgi_core_extras.uvicorn",
        "gunicorn": "asgi_core_extras.gunicorn",
    }


def test_gunicorn_on_windows_says_it_is_posix_only() -> None:
    with pytest.raises(MissingExtraError, match="gunicorn runs only on POSIX systems"):
        load_runner("gunicorn", platform="win32")


@pytest.mark.parametrize(("name", "package"), [("uvicorn", "uvicorn"), ("gunicorn", "gunicorn")])
def test_load_runner_names_the_extra_when_its_server_is_missing(
    monkeypatch: pytest.MonkeyPatch, name: str, package: str
) -> None:
    monkeypatch.delitem(sys.modules, RUNNERS[name].module, raising=False)
    monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(MissingExtraError) as info:
        load_runner(name, platform="linux")
    assert f"running with {name} needs the {package!r} package" in str(info.value)
    assert f"pip install 'asgi-core[{name}]'" in str(info.value)


@pytest.mark.anyio
async def test_prepare_app_gives_the_hooks_the_options_and_worker_id() -> None:
    app = Application()
    seen: list[dict[str, object]] = []
    app.on_startup(lambda **options: seen.append(options))
    prepare_app(app, {"retries": "2"}, worker_id=1)
    assert app.run_options == {"retries": "2", "worker_id": 1}
    async with app:
        assert seen == [{"retries": "2", "worker_id": 1}]


def test_make_plan_builds_the_whole_plan_once() -> None:
    app = _app()
    plan = make_plan(
        app,
        {"port": 0},
        log_level=10,
        app_spec="main:app",
        factory=True,
        app_dir="/srv",
        reload=True,
    )
    assert (plan.app, plan.app_spec, plan.factory, plan.app_dir) == (app, "main:app", True, "/srv")
    assert (plan.reload, plan.log_level, plan.lifespan_mode) == (True, 10, "on")
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.reload = False  # type: ignore[misc]


def test_make_plan_asks_uvicorn_for_the_lifespan_only_from_apps_that_speak_it() -> None:
    async def plain(scope: Any, receive: Any, send: Any) -> None:
        pass

    assert make_plan(plain, {}, log_level=20).lifespan_mode == "auto"
    assert make_plan(_app(), {}, log_level=20).lifespan_mode == "on"


def test_claim_worker_slot_gives_each_holder_its_own_lowest_free_slot(
    tmp_path: pathlib.Path,
) -> None:
    first = _process.claim_worker_slot(str(tmp_path))
    second = _process.claim_worker_slot(str(tmp_path))
    assert (first, second) == (0, 1)  # flock: each open file is its own holder
    _process._held_slots.pop().close()  # slot 1's holder goes away
    assert _process.claim_worker_slot(str(tmp_path)) == 1
    while _process._held_slots:
        _process._held_slots.pop().close()


def test_exit_on_an_app_nobody_serves_only_sets_should_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stopped: list[int] = []
    monkeypatch.setattr(_process, "stop_process", stopped.append)
    app = AsgiFastStream()
    app.exit()
    assert app.should_exit
    assert stopped == []


@pytest.mark.anyio
async def test_exit_under_a_foreign_server_stops_the_serving_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stopped: list[int] = []
    monkeypatch.setattr(_process, "stop_process", stopped.append)
    app = AsgiFastStream()
    assert not app.served_by_lifespan
    async with communicate(app, lifespan_scope()) as comm:  # a server drives our lifespan
        await comm.put({"type": "lifespan.startup"})
        assert await comm.get() == {"type": "lifespan.startup.complete"}
        assert app.served_by_lifespan
        app.exit()
        await comm.put({"type": "lifespan.shutdown"})
        assert await comm.get() == {"type": "lifespan.shutdown.complete"}
        await comm.wait_done()
    assert stopped == [_process.serving_process()]


def test_exit_calls_the_innermost_handler_installed_by_a_runner() -> None:
    calls: list[str] = []
    app = Application()
    with _process.exit_handler(lambda: calls.append("outer")):
        with _process.exit_handler(lambda: calls.append("inner")):
            app.exit()
        app.exit()
    app.exit()
    assert calls == ["inner", "outer"]
