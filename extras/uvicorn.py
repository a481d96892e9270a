"""Serve an ASGI app with uvicorn: one process, uvicorn's own workers, or the reloader.

Imported only by ``run()`` and the CLI (through ``asgi_core._serving.load_runner``).

* One process: the app object is served in this process, on sockets asgi_core bound; ``exit()``
  sets uvicorn's ``should_exit``. A graceful stop on SIGINT/SIGTERM returns normally (uvicorn
  would re-raise the signal afterwards, ending the calling process; we keep the caller alive).
* ``workers > 1`` or ``reload``: uvicorn starts fresh ("spawn") processes that import the app
  again, so it must come from an import string (the CLI's ``MODULE:ATTR``). The string, the
  hook options and the worker-slot directory travel in an environment variable; each process
  builds its app in ``worker_app`` and its ``exit()`` sends SIGTERM to the supervisor. The
  supervisor closes its listening sockets when a shutdown begins, as each worker does.
* Draining: the moment a serving process is asked to stop (SIGTERM, SIGINT, ``exit()``) it sets
  the app's ``draining``, so ``/ready`` (``make_ready_asgi``) answers 503 while uvicorn drains;
  the lifespan shutdown (``app.running`` False) only arrives after the drain. In this process
  ``DrainingServer.handle_exit`` (uvicorn's signal handler) does it; in a spawned worker uvicorn
  builds the server itself, so ``worker_app`` wraps the handlers uvicorn installed before it
  loaded the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import ChangeReload, Multiprocess

from asgi_core._addresses import announce, bind_sockets
from asgi_core._process import claim_worker_slot, exit_handler, set_exit_handler, stop_process
from asgi_core._serving import Plan, prepare_app
from asgi_core.application import Application
from asgi_core.exceptions import ConfigError, StartupFailed

__all__ = ["DrainingServer", "run", "serve", "set_draining", "stop_draining", "worker_app"]

SPAWN_ENV = "_ASGI_CORE_UVICORN_APP"


def _config(plan: Plan, app: object, **extra: object) -> uvicorn.Config:
    options: dict[str, object] = {
        "log_level": plan.log_level,
        "root_path": plan.root_path,
        "lifespan": plan.lifespan_mode,
    }
    for name in ("proxy_headers", "forwarded_allow_ips", "timeout_graceful_shutdown"):
        if getattr(plan, name) is not None:
            options[name] = getattr(plan, name)
    options.update(extra)
    return uvicorn.Config(app, **options)  # type: ignore[arg-type]


def set_draining(app: object, draining: bool) -> None:
    """Set ``app.draining`` (an ``Application``'s; any other app has none); log when it begins."""
    if not isinstance(app, Application) or app.draining == draining:
        return
    app.draining = draining
    if draining:  # on uvicorn's logger, beside its "Shutting down" (configured in every worker)
        _log_soon("Draining: /ready answers 503 from now on; in-flight requests finish first")


def _log_soon(message: str) -> None:
    """Log ``message`` from the event loop, not from inside a signal handler, if one runs."""
    logger = logging.getLogger("uvicorn.error")
    try:
        asyncio.get_running_loop().call_soon_threadsafe(logger.info, message)
    except RuntimeError:  # no loop in this thread
        logger.info(message)


def stop_draining(app: object, pid: int) -> None:
    """``exit()`` in a worker: mark ``app`` draining, then ask process ``pid`` to stop us all."""
    set_draining(app, True)
    stop_process(pid)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which marks ``app`` draining as soon as it is asked to stop."""

    def __init__(self, config: uvicorn.Config, app: object) -> None:
        super().__init__(config)
        self.app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """SIGINT/SIGTERM: ``/ready`` answers 503 from now on, then uvicorn's graceful stop."""
        set_draining(self.app, True)
        super().handle_exit(sig, frame)

    def request_exit(self) -> None:
        """``exit()`` in this process: the same as a signal, without the signal."""
        set_draining(self.app, True)
        self.should_exit = True


def _drain_on_stop_signals(app: object) -> None:
    """Set ``app.draining`` before the SIGINT/SIGTERM handlers installed in this process run."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        installed = signal.getsignal(sig)
        if callable(installed):
            signal.signal(sig, _draining_first(app, installed))


def _draining_first(
    app: object, handler: Callable[[int, FrameType | None], object]
) -> Callable[[int, FrameType | None], None]:
    def drain_then_handle(sig: int, frame: FrameType | None) -> None:
        set_draining(app, True)
        handler(sig, frame)

    return drain_then_handle


@contextlib.contextmanager
def _keep_process_alive() -> Iterator[None]:
    """Swallow the signal uvicorn re-raises after a graceful stop (main thread only)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def serve(plan: Plan) -> None:
    """Serve ``plan.app`` in this process until a signal or ``exit()`` stops uvicorn."""
    if plan.workers > 1 or plan.reload:
        raise ConfigError(
            "uvicorn's own workers and its reloader import the app again in new processes, so "
            "they need an import string: use `asgi-core run MODULE:ATTR --workers N "
            "--server uvicorn`, or server='gunicorn' (the default for several workers)"
        )
    config = _config(plan, plan.app)
    server = DrainingServer(config, plan.app)
    set_draining(plan.app, False)  # a new run: a previous run's drain is over
    sockets = bind_sockets(plan.binds)
    try:
        announce(sockets)
        prepare_app(plan.app, plan.hook_options, worker_id=None)
        with exit_handler(server.request_exit), _keep_process_alive():
            try:
                await server.serve(sockets=sockets)
            except SystemExit as exc:  # uvicorn's way of reporting a failed lifespan startup
                if exc.code != STARTUP_FAILURE:
                    raise
    finally:
        for sock in sockets:
            sock.close()
    if not server.started:
        raise StartupFailed("the application failed to start; the server log above says why")


def run(plan: Plan) -> None:
    """Blocking form of ``serve`` for the CLI, plus uvicorn's workers and reloader."""
    if plan.workers == 1 and not plan.reload:
        loop_factory = _config(plan, plan.app).get_loop_factory()
        if sys.version_info >= (3, 11):
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                runner.run(serve(plan))
        else:  # pragma: no cover - Python 3.10: uvicorn's default loop
            asyncio.run(serve(plan))
        return
    if plan.app_spec is None:
        raise ConfigError("uvicorn's workers and reloader need the app as an import string")
    _run_spawned(plan)


def _run_spawned(plan: Plan) -> None:
    with contextlib.ExitStack() as stack:
        slots = None
        if plan.gives_worker_ids:
            slots = stack.enter_context(tempfile.TemporaryDirectory(prefix="asgi-core-workers-"))
        payload = {
            "app": plan.app_spec,
            "factory": plan.factory,
            "app_dir": plan.app_dir,
            "options": plan.hook_options,
            "slots": slots,
        }
        os.environ[SPAWN_ENV] = json.dumps(payload)
        stack.callback(os.environ.pop, SPAWN_ENV, None)
        config = _config(
            plan,
            f"{__name__}:worker_app",
            factory=True,
            lifespan="auto",
            workers=plan.workers,
            reload=plan.reload,
            reload_dirs=[plan.app_dir or os.getcwd()],
        )
        sockets = bind_sockets(plan.binds)
        for sock in sockets:
            stack.callback(sock.close)
        announce(sockets)
        if plan.reload:
            server = uvicorn.Server(config)
            ChangeReload(config, target=server.run, sockets=sockets).run()
            return
        supervisor = _Supervisor(config, sockets=sockets)
        supervisor.run()
        if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
            raise StartupFailed("a worker failed to start; the server log above says why")


class _Supervisor(Multiprocess):
    """uvicorn's supervisor, which stops at once and closes its listening sockets first.

    Each worker closes its own copy when it starts draining; the supervisor's copy would keep
    the port listening with nobody accepting, so new connections would hang until it exits.
    """

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._stop_at_once)

    def _stop_at_once(self, sig: int, frame: FrameType | None) -> None:
        """SIGINT/SIGTERM stop the workers now, not at uvicorn's next half-second check.

        Until a worker gets its SIGTERM it serves on and ``/ready`` answers 204 there.
        """
        self.signal_queue.append(sig)  # logged by handle_signals, in terminate_all
        self.should_exit.set()

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.handle_signals()  # "Received SIGTERM, exiting."
        super().terminate_all()


def worker_app() -> object:
    """The app in a process uvicorn spawned (its ``--factory``): import it, set its options."""
    from asgi_core._importer import import_from_string

    payload = json.loads(os.environ[SPAWN_ENV])
    if payload["app_dir"] is not None and payload["app_dir"] not in sys.path:
        sys.path.insert(0, payload["app_dir"])
    app = import_from_string(payload["app"])
    if payload["factory"]:
        app = app()  # type: ignore[operator]
    worker_id = None if payload["slots"] is None else claim_worker_slot(payload["slots"])
    prepare_app(app, payload["options"], worker_id=worker_id)
    set_exit_handler(lambda: stop_draining(app, os.getppid()))
    # uvicorn installed its signal handlers (Server.handle_exit) before loading the app: wrap them
    _drain_on_stop_signals(app)
    return app
