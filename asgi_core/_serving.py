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
* Addresses: see ``_addresses.py``.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from asgi_core._addresses import as_int, binds_from

# StartupFailed is defined in exceptions.py; imported here too, so the old path keeps working
from asgi_core.exceptions import ConfigError, StartupFailed

if TYPE_CHECKING:
    from types import ModuleType

__all__ = [
    "RUNNERS",
    "SERVER_OPTIONS",
    "Plan",
    "Runner",
    "StartupFailed",
    "accepted_options",
    "check_hook_options",
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
RESERVED_OPTIONS = frozenset({"worker_id"})


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
    from asgi_core._importer import import_extra
    from asgi_core.exceptions import MissingExtraError

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


@dataclasses.dataclass
class Plan:
    """Everything a runner needs; built by ``make_plan``, read by ``extras/``."""

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
    # the app: an object (served in this process or forked workers) and, from the CLI, the
    # import string that spawned processes (reload, uvicorn's own workers) import again
    app: object = None
    app_spec: str | None = None
    factory: bool = False
    app_dir: str | None = None

    @property
    def worker_ids(self) -> bool:
        """True if the hooks get ``worker_id`` 0..N-1 (worker processes), else None."""
        return self.server == "gunicorn" or (self.workers > 1 and not self.reload)


def _closest(name: str, names: set[str] | frozenset[str]) -> str:
    import difflib

    match = difflib.get_close_matches(name, sorted(names), n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def accepted_options(app: object) -> tuple[set[str], bool]:
    """The hook option names ``app`` accepts, and whether one of them takes ``**kwargs``."""
    import inspect

    hooks = getattr(app, "hooks", None)
    funcs = list(getattr(hooks, "on_startup", ()))
    lifespan = getattr(app, "lifespan_context", None)
    if lifespan is not None:
        funcs.append(lifespan)
    names: set[str] = set()
    anything = False
    for func in funcs:
        try:
            parameters = inspect.signature(func).parameters.values()
        except (TypeError, ValueError):
            continue
        for param in parameters:
            if param.kind is param.VAR_KEYWORD:
                anything = True
            elif param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                names.add(param.name)
    return names - RESERVED_OPTIONS, anything


def check_hook_options(app: object, options: Mapping[str, object], *, server: bool) -> None:
    """Raise ``ConfigError`` for an option no hook of ``app`` (nor the server) accepts."""
    accepted, anything = accepted_options(app)
    valid = accepted | (SERVER_OPTIONS if server else set())
    for name in options:
        if name in RESERVED_OPTIONS:
            raise ConfigError(
                f"option {name!r} is set by asgi_core (None in a single process, 0..N-1 in "
                "worker processes); remove it from the options"
            )
        if name in valid or anything:
            continue
        listed = ", ".join(sorted(valid)) or "none"
        what = "the server nor any on_startup hook or lifespan" if server else "any hook"
        raise ConfigError(
            f"unknown option {name!r}: neither {what} of {app!r} accepts it{_closest(name, valid)}"
            f" (valid options: {listed}); add a parameter named {name!r} to an on_startup hook "
            "to receive it"
        )


def _as_bool(name: str, value: object) -> bool | None:
    from asgi_core._options import convert

    return None if value is None else bool(convert(value, bool, hook="run()", option=name))


def make_plan(
    app: object, run_extra_options: Mapping[str, object] | None, *, log_level: int
) -> Plan:
    """Check the options against ``app`` and the servers; choose the server and addresses."""
    options = dict(run_extra_options or {})
    hook_options = {k: v for k, v in options.items() if k not in SERVER_OPTIONS}
    check_hook_options(app, hook_options, server=True)
    server_options = {k: v for k, v in options.items() if k in SERVER_OPTIONS}
    binds = binds_from(server_options)
    workers = server_options.get("workers")
    workers = 1 if workers is None else as_int("workers", workers, 1)
    server = server_options.get("server")
    if server is None:
        server = "gunicorn" if workers > 1 else "uvicorn"
    if server not in RUNNERS:
        raise ConfigError(
            f"unknown server {server!r}{_closest(str(server), set(RUNNERS))} "
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
        hook_options=hook_options,
        app=app,
    )


def prepare_app(app: object, hook_options: Mapping[str, object], *, worker_id: int | None) -> None:
    """Give ``app``'s hooks the hook options and ``worker_id`` at its next lifespan startup."""
    from asgi_core.application import Application

    if isinstance(app, Application):
        app._run_options = {**hook_options, "worker_id": worker_id}


async def serve_app(
    app: object, run_extra_options: Mapping[str, object] | None, *, log_level: int
) -> None:
    """``AsgiFastStream.run()``: check the options, load the runner, serve until stopped."""
    from asgi_core._concurrency import current_library

    plan = make_plan(app, run_extra_options, log_level=log_level)
    if current_library() != "asyncio":
        raise ConfigError(
            f"run() serves with {plan.server}, which runs on asyncio, but it was awaited on "
            f"{current_library()}; call it from asyncio.run(), or run `asgi-core run MODULE:ATTR`"
        )
    runner = load_runner(plan.server)
    await runner.serve(plan)
