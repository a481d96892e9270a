"""What ``run()`` and the CLI do before a server starts: split options, choose a runner, bind.

Rules:

* ``run_extra_options`` holds two kinds of options. ``SERVER_OPTIONS`` configure the server;
  every other name is a *hook option*, passed to the ``on_startup`` hooks and the user lifespan
  that accept it (converted by their annotations, see ``_options.py``), in every worker, together
  with ``worker_id``. A name that neither the server nor any hook accepts is a ``ConfigError``
  listing the valid names and the closest match; nothing is dropped silently.
* The runner depends only on the options: ``server`` if given, else ``gunicorn`` for more than
  one worker and ``uvicorn`` otherwise. ``RUNNERS`` maps each name to the module that runs it,
  imported through ``_importer.import_extra`` only when needed.
* The hand-off: ``make_plan`` builds the whole ``Plan`` once (nothing changes it later); a
  runner reads it and, in each process that serves, calls ``prepare_app``, which sets the
  declared ``Application.run_options`` that the next lifespan startup passes to the hooks.
* Addresses: see ``_addresses.py``.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, NamedTuple

from asgi_core._addresses import as_int, binds_from
from asgi_core._concurrency import current_library
from asgi_core._importer import import_extra
from asgi_core._options import check_hook_options, convert, did_you_mean
from asgi_core.application import Application

# StartupFailed is defined in exceptions.py; imported here too, so the old path keeps working
from asgi_core.exceptions import ConfigError, MissingExtraError, StartupFailed

if TYPE_CHECKING:
    from types import ModuleType

__all__ = [
    "RUNNERS",
    "SERVER_OPTIONS",
    "LifespanMode",
    "Plan",
    "Runner",
    "StartupFailed",
    "load_runner",
    "make_plan",
    "prepare_app",
    "serve_app",
]

SERVER_OPTIONS = frozenset(
    {
        "host",
        "port",
        "bind",
        "workers",
        "fd",
        "uds",
        "root_path",
        "proxy_headers",
        "forwarded_allow_ips",
        "timeout_graceful_shutdown",
        "server",
    }
)
LifespanMode = Literal["on", "auto"]


class Runner(NamedTuple):
    """How to load one server: the module, the packages it needs, the extra installing them."""

    module: str
    packages: tuple[str, ...]
    extra: str
    posix_only: bool


RUNNERS: dict[str, Runner] = {
    "uvicorn": Runner("asgi_core_extras.uvicorn", ("uvicorn",), "uvicorn", posix_only=False),
    "gunicorn": Runner(
        "asgi_core_extras.gunicorn",
        ("gunicorn", "uvicorn_worker", "uvicorn"),
        "gunicorn",
        posix_only=True,
    ),
}


def load_runner(name: str, platform: str = sys.platform) -> ModuleType:
    """Import the runner module for ``name`` (a key of ``RUNNERS``)."""
    runner = RUNNERS[name]
    if runner.posix_only and platform == "win32":
        raise MissingExtraError(
            f"running with {name} is not possible on Windows: {name} runs only on POSIX systems "
            "(Linux, macOS); use one worker (uvicorn), or server='uvicorn' for several",
            name=name,
        )
    return import_extra(
        runner.module, feature=f"running with {name}", packages=runner.packages, extra=runner.extra
    )


@dataclasses.dataclass(frozen=True)
class Plan:
    """Everything a runner needs; built whole by ``make_plan``, read by ``extras/``."""

    server: str
    binds: list[str]
    workers: int
    root_path: str = ""
    proxy_headers: bool | None = None
    forwarded_allow_ips: str | None = None
    timeout_graceful_shutdown: float | None = None
    log_level: int = 20
    reload: bool = False
    hook_options: dict[str, object] = dataclasses.field(default_factory=dict)
    # uvicorn's lifespan setting: "on" for an app that implements the lifespan protocol (a
    # failed startup then stops the server), "auto" for any other ASGI app
    lifespan_mode: LifespanMode = "auto"
    # the app: an object (served in this process or forked workers) and, from the CLI, the
    # import string that spawned processes (reload, uvicorn's own workers) import again
    app: object = None
    app_spec: str | None = None
    factory: bool = False
    app_dir: str | None = None

    @property
    def gives_worker_ids(self) -> bool:
        """True if each worker process gets its own ``worker_id`` (0..N-1).

        That is gunicorn, or uvicorn's own workers; in one process (also under the reloader)
        the hooks get ``worker_id=None``.
        """
        return self.server == "gunicorn" or (self.workers > 1 and not self.reload)


def _as_bool(name: str, value: object) -> bool | None:
    return None if value is None else bool(convert(value, bool, hook="run()", option=name))


def _lifespan_mode(app: object) -> LifespanMode:
    # Duck typing on purpose: any ASGI app with a lifespan handler (ours, FastStream's) speaks
    # the protocol; "auto" would let a failed startup pass as "lifespan unsupported".
    return "on" if getattr(app, "lifespan", None) is not None else "auto"


def make_plan(
    app: object,
    run_extra_options: Mapping[str, object] | None,
    *,
    log_level: int,
    app_spec: str | None = None,
    factory: bool = False,
    app_dir: str | None = None,
    reload: bool = False,
) -> Plan:
    """Check the options against ``app`` and the servers; choose the server and addresses.

    ``app_spec``, ``factory``, ``app_dir`` and ``reload`` come from the CLI: how a spawned
    process imports the app again.
    """
    options = dict(run_extra_options or {})
    hook_options = {k: v for k, v in options.items() if k not in SERVER_OPTIONS}
    ours = app if isinstance(app, Application) else None  # any other ASGI app takes no option
    check_hook_options(
        app,
        hook_options,
        on_startup=() if ours is None else ours.hooks.on_startup,
        lifespan=None if ours is None else ours.lifespan_context,
        server_options=SERVER_OPTIONS,
    )
    server_options = {k: v for k, v in options.items() if k in SERVER_OPTIONS}
    binds = binds_from(server_options)
    workers = server_options.get("workers")
    workers = 1 if workers is None else as_int("workers", workers, 1)
    server = server_options.get("server")
    if server is None:
        server = "gunicorn" if workers > 1 else "uvicorn"
    if server not in RUNNERS:
        raise ConfigError(
            f"unknown server {server!r}{did_you_mean(str(server), RUNNERS)} "
            f"(choose one of: {', '.join(RUNNERS)})"
        )
    timeout = server_options.get("timeout_graceful_shutdown")
    allow = server_options.get("forwarded_allow_ips")
    return Plan(
        server=str(server),
        binds=binds,
        workers=workers,
        root_path=str(server_options.get("root_path") or "").rstrip("/"),
        proxy_headers=_as_bool("proxy_headers", server_options.get("proxy_headers")),
        forwarded_allow_ips=",".join(allow) if isinstance(allow, list) else allow,  # type: ignore[arg-type]
        timeout_graceful_shutdown=None if timeout is None else float(timeout),  # type: ignore[arg-type]
        log_level=log_level,
        reload=reload,
        hook_options=hook_options,
        lifespan_mode=_lifespan_mode(app),
        app=app,
        app_spec=app_spec,
        factory=factory,
        app_dir=app_dir,
    )


def prepare_app(app: object, hook_options: Mapping[str, object], *, worker_id: int | None) -> None:
    """Give ``app``'s hooks the hook options and ``worker_id`` at its next lifespan startup."""
    if isinstance(app, Application):
        app.run_options = {**hook_options, "worker_id": worker_id}


async def serve_app(
    app: object, run_extra_options: Mapping[str, object] | None, *, log_level: int
) -> None:
    """``AsgiFastStream.run()``: check the options, load the runner, serve until stopped."""
    plan = make_plan(app, run_extra_options, log_level=log_level)
    if current_library() != "asyncio":
        raise ConfigError(
            f"run() serves with {plan.server}, which runs on asyncio, but it was awaited on "
            f"{current_library()}; call it from asyncio.run(), or run `asgi-core run MODULE:ATTR`"
        )
    runner = load_runner(plan.server)
    await runner.serve(plan)
