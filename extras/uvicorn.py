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
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from collections.abc import Iterator

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import ChangeReload, Multiprocess

from asgi_core._addresses import announce, bind_sockets
from asgi_core._process import claim_worker_slot, exit_handler, set_exit_handler, stop_process
from asgi_core._serving import Plan, prepare_app
from asgi_core.exceptions import ConfigError, StartupFailed

__all__ = ["run", "serve", "worker_app"]

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
    server = uvicorn.Server(config)
    sockets = bind_sockets(plan.binds)
    try:
        announce(sockets)
        prepare_app(plan.app, plan.hook_options, worker_id=None)
        with exit_handler(lambda: setattr(server, "should_exit", True)), _keep_process_alive():
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
    """uvicorn's supervisor, which closes its listening sockets as soon as a shutdown begins.

    Each worker closes its own copy when it starts draining; the supervisor's copy would keep
    the port listening with nobody accepting, so new connections would hang until it exits.
    """

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
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
    set_exit_handler(lambda: stop_process(os.getppid()))
    return app
