"""``Application.run()`` (no HTTP) and ``AsgiFastStream.run()`` in this process."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

import anyio
import pytest

from asgi_core import Application, AsgiFastStream, ConfigError, MissingExtraError, _process

pytestmark = pytest.mark.anyio


@pytest.fixture
def safety_net() -> Iterator[list[int]]:
    """Catch a stop signal that reached the process without our handler (the test then fails)."""
    caught: list[int] = []

    def catch(number: int, frame: FrameType | None) -> None:
        caught.append(number)

    previous = {sig: signal.signal(sig, catch) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _recording_app(calls: list[str]) -> Application:
    app = Application()

    @app.on_startup
    def started(retries: int = 0, worker_id: int | None = -1) -> None:
        calls.append(f"startup retries={retries!r} worker_id={worker_id}")

    app.after_startup(lambda: calls.append("ready"))
    app.on_shutdown(lambda: calls.append("shutdown"))
    return app


async def test_run_ends_when_a_hook_calls_exit(safety_net: list[int]) -> None:
    calls: list[str] = []
    app = _recording_app(calls)
    app.after_startup(app.exit)
    with anyio.fail_after(10):
        await app.run(run_extra_options={"retries": "3"})
    assert calls == ["startup retries=3 worker_id=None", "ready", "shutdown"]
    assert app.should_exit
    assert not _process._handlers  # the exit handler is gone with the run
    assert safety_net == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_run_ends_on_a_stop_signal(sig: int, safety_net: list[int]) -> None:
    calls: list[str] = []
    app = _recording_app(calls)
    app.after_startup(lambda: os.kill(os.getpid(), sig))
    with anyio.fail_after(10):
        await app.run()
    assert calls == ["startup retries=0 worker_id=None", "ready", "shutdown"]
    assert safety_net == []


async def test_run_ends_when_another_thread_calls_exit(safety_net: list[int]) -> None:
    calls: list[str] = []
    app = _recording_app(calls)
    app.after_startup(lambda: threading.Thread(target=app.exit).start())
    with anyio.fail_after(10):
        await app.run()
    assert calls[-1] == "shutdown"


async def test_run_refuses_an_option_no_hook_accepts_before_starting() -> None:
    calls: list[str] = []
    app = _recording_app(calls)
    with pytest.raises(ConfigError, match=r"unknown option 'retires'.*did you mean 'retries'\?"):
        await app.run(run_extra_options={"retires": 3})
    assert calls == []


async def test_run_raises_the_startup_failure_and_runs_no_shutdown_hooks() -> None:
    calls: list[str] = []
    app = _recording_app(calls)

    @app.after_startup
    def fail() -> None:
        raise RuntimeError("no broker")

    with pytest.raises(RuntimeError, match="no broker"):
        await app.run()
    assert calls == ["startup retries=0 worker_id=None", "ready"]
    assert not _process._handlers


async def test_asgi_run_needs_asyncio(anyio_backend: str) -> None:
    app = AsgiFastStream()
    if anyio_backend == "trio":
        with pytest.raises(ConfigError, match="serves with uvicorn, which runs on asyncio"):
            await app.run()
    else:
        with pytest.raises(ConfigError, match="need an import string"):
            await app.run(run_extra_options={"workers": 2, "server": "uvicorn", "port": 0})


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_asgi_run_names_the_extra_when_uvicorn_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "asgi_core_extras.uvicorn", raising=False)
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'asgi-core\[uvicorn\]'"):
        await AsgiFastStream().run()


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_asgi_run_serves_until_exit_and_keeps_the_process_signals(
    safety_net: list[int], capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []
    app = AsgiFastStream()

    @app.on_startup
    def started(worker_id: int | None = -1, retries: int = 0) -> None:
        calls.append(f"startup worker_id={worker_id} retries={retries!r}")

    app.after_startup(app.exit)
    app.on_shutdown(lambda: calls.append("shutdown"))
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    with anyio.fail_after(20):
        await app.run(run_extra_options={"port": 0, "retries": "2"})
    assert calls == ["startup worker_id=None retries=2", "shutdown"]
    assert {sig: signal.getsignal(sig) for sig in before} == before
    assert "asgi-core: listening on http://127.0.0.1:" in capsys.readouterr().err
