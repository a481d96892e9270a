"""Serve an ASGI app with gunicorn and the maintained uvicorn worker (``uvicorn-worker``).

Imported only by ``run()`` and the CLI (through ``asgi_core._serving.load_runner``).

* This process becomes gunicorn's arbiter (master). Workers are forked from it, so the app
  object needs no import string; each worker claims a worker id (0..N-1), gives the app its hook
  options, and makes ``exit()`` send SIGTERM to the arbiter, which stops every worker gracefully
  (each runs its lifespan shutdown once).
* asgi_core binds the sockets and gunicorn inherits them as ``fd://N`` (duplicates; ours are
  closed before the arbiter starts, so when a shutdown begins and gunicorn closes its listeners
  in the arbiter and each worker, new connections are refused at once). ``root_path``,
  ``proxy_headers`` and ``timeout_graceful_shutdown`` reach uvicorn inside each worker (the
  worker class forwards none of them itself); gunicorn's ``graceful_timeout`` gets the latter.
* gunicorn's control socket (``$XDG_RUNTIME_DIR`` or ``~/.gunicorn``, new in gunicorn 27) is
  turned off: nothing here uses it.
* A worker that fails to start makes gunicorn stop with status 3: ``StartupFailed``.
* SIGINT or SIGQUIT to the arbiter reaches the workers as SIGQUIT, which each turns into
  uvicorn's graceful shutdown (``Worker.handle_exit``): the lifespan shutdown runs, as on SIGTERM.
* Draining: a worker's uvicorn server is ``asgi_core_extras.uvicorn.DrainingServer``, which sets
  the app's ``draining`` when the worker gets SIGTERM (or SIGQUIT, turned into SIGTERM), so
  ``/ready`` answers 503 while the worker drains; ``exit()`` sets it before signalling.
* A forked worker returns through this module's call stack when it ends (gunicorn raises
  ``SystemExit`` in it); it leaves with ``os._exit`` there, so only the arbiter cleans up.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import tempfile
from collections.abc import Iterator
from typing import Any, ClassVar

# the bare imports first: a missing package then fails under its own name (see _importer.py)
import gunicorn  # type: ignore[import-untyped]  # noqa: F401
import uvicorn_worker  # type: ignore[import-untyped]  # noqa: F401
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]
from gunicorn.errors import HaltServer  # type: ignore[import-untyped]
from uvicorn_worker import UvicornWorker

from asgi_core._addresses import announce, bind_sockets
from asgi_core._process import claim_worker_slot, set_exit_handler
from asgi_core._serving import Plan, prepare_app
from asgi_core.exceptions import StartupFailed

from .uvicorn import DrainingServer, stop_draining

__all__ = ["Worker", "log_level_name", "run", "serve"]

WORKER_BOOT_ERROR = 3


class Worker(UvicornWorker):  # type: ignore[misc]
    """``uvicorn_worker.UvicornWorker`` plus asgi_core's per-worker setup."""

    plan: ClassVar[Plan]
    slots: ClassVar[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plan = self.plan
        self.config.root_path = plan.root_path
        self.config.lifespan = plan.lifespan_mode
        if plan.proxy_headers is not None:
            self.config.proxy_headers = plan.proxy_headers
        if plan.timeout_graceful_shutdown is not None:
            self.config.timeout_graceful_shutdown = int(plan.timeout_graceful_shutdown)

    def handle_exit(self, sig: int, frame: object) -> None:
        """SIGQUIT (gunicorn's quick stop, sent on SIGINT or SIGQUIT to the arbiter) stops uvicorn.

        uvicorn-worker only marks the worker as not alive, which uvicorn never reads: it would
        serve on until gunicorn kills it, and the lifespan shutdown would never run. Raising
        SIGTERM starts uvicorn's graceful shutdown, as a SIGTERM from the arbiter does.
        """
        super().handle_exit(sig, frame)
        if sig == signal.SIGQUIT:
            signal.raise_signal(signal.SIGTERM)

    def load_wsgi(self) -> None:
        super().load_wsgi()
        prepare_app(self.wsgi, self.plan.hook_options, worker_id=claim_worker_slot(self.slots))
        arbiter = self.ppid
        app = self.wsgi
        set_exit_handler(lambda: stop_draining(app, arbiter))

    async def _serve(self) -> None:
        """uvicorn-worker's ``_serve`` with a ``DrainingServer``, which marks the app draining."""
        self.config.app = self.wsgi
        server = DrainingServer(self.config, self.wsgi)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(WORKER_BOOT_ERROR)


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: object, settings: dict[str, object]) -> None:
        self._app = app
        self._settings = settings
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._settings.items():
            self.cfg.set(name, value)

    def load(self) -> object:
        return self._app


@contextlib.contextmanager
def _restored_signals() -> Iterator[None]:
    """gunicorn's arbiter installs handlers for many signals and never removes them."""
    names = ("SIGHUP", "SIGQUIT", "SIGINT", "SIGTERM", "SIGTTIN", "SIGTTOU", "SIGUSR1", "SIGUSR2")
    numbers = [getattr(signal, name) for name in names if hasattr(signal, name)]
    numbers.append(signal.SIGCHLD)
    numbers.append(getattr(signal, "SIGWINCH", signal.SIGCHLD))
    previous = {number: signal.getsignal(number) for number in numbers}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run(plan: Plan) -> None:
    """Run gunicorn's arbiter in this process until it stops (signal, or ``exit()`` in a worker)."""
    with contextlib.ExitStack() as stack:
        slots = stack.enter_context(tempfile.TemporaryDirectory(prefix="asgi-core-workers-"))
        sockets = bind_sockets(plan.binds)
        for sock in sockets:
            stack.callback(sock.close)
        announce(sockets)
        worker = type("AsgiCoreUvicornWorker", (Worker,), {"plan": plan, "slots": slots})
        settings: dict[str, object] = {
            # gunicorn closes the descriptors it is given: hand it duplicates
            "bind": [f"fd://{os.dup(sock.fileno())}" for sock in sockets],
            "workers": plan.workers,
            "worker_class": worker,
            "loglevel": log_level_name(plan.log_level),
            "control_socket_disable": True,
        }
        if plan.forwarded_allow_ips is not None:
            settings["forwarded_allow_ips"] = plan.forwarded_allow_ips
        if plan.timeout_graceful_shutdown is not None:
            settings["graceful_timeout"] = plan.timeout_graceful_shutdown
        stack.enter_context(_restored_signals())
        arbiter = os.getpid()
        application = _Gunicorn(plan.app, settings)
        # gunicorn closes its duplicates (the arbiter's and each worker's) as soon as a shutdown
        # begins, so new connections are refused; ours would keep the port listening in the
        # arbiter and, inherited, in every worker, with nobody accepting: close them first
        for sock in sockets:
            sock.close()
        try:
            application.run()
        except BaseException as exc:
            status = _exit_status(exc)
            if os.getpid() != arbiter:  # a forked worker unwinding: not the arbiter's cleanup
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(1 if status is None else status)
            if status == WORKER_BOOT_ERROR:
                raise StartupFailed(
                    "a worker failed to start; the server log above says why"
                ) from None
            if status != 0:
                raise


def log_level_name(level: int) -> str:
    """gunicorn's name for ``level``; below DEBUG (uvicorn's "trace") is "debug"."""
    for name in ("critical", "error", "warning", "info"):
        if level >= logging.getLevelName(name.upper()):
            return name
    return "debug"


def _exit_status(error: BaseException) -> int | None:
    """The exit status ``error`` stands for (gunicorn halts with ``HaltServer``), else None."""
    if isinstance(error, SystemExit):
        return error.code if isinstance(error.code, int) else (0 if error.code is None else 1)
    if isinstance(error, HaltServer):
        return int(error.exit_status)
    return None


async def serve(plan: Plan) -> None:
    """``run`` from async code; it blocks the calling event loop until gunicorn stops."""
    run(plan)
