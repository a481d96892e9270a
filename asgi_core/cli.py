"""The ``asgi-core`` command: ``asgi-core run MODULE:ATTR [options] [--key value ...]``.

``asgi-core docs gen|serve MODULE:ATTR`` writes or serves the app's AsyncAPI document
(``_docs_cli.py``), importing APP the same way, with the same exit codes.

Flags follow uvicorn's; each can also come from an ``ASGI_CORE_<FLAG>`` environment variable
(``ASGI_CORE_PORT=9000``). Options the CLI does not know become hook options, passed to the
``on_startup`` hooks and the lifespan that accept them (converted by their annotations):
``--flag`` is True, ``--no-flag`` False, ``--key a b`` or a repeated key a list, and dashes
become underscores. Write APP first: before it, an unknown option takes at most one value.

What APP names decides how it runs: an ``AsgiFastStream`` is served with its hooks; a plain
``Application`` (a service without HTTP) runs until SIGINT, SIGTERM or ``exit()``; any other
ASGI callable is served as it is.

Exit codes: 0 stopped normally (including by SIGINT/SIGTERM or ``exit()``); 1 the app could not
be imported, or a server extra is missing; 2 usage error (bad flag, unknown option, bad value);
3 the app failed to start (a startup step failed, or the address is in use). Errors are one line
on stderr plus a hint; ``--log-level debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from asgi_core import __version__, _docs_cli, _serving
from asgi_core._cli_common import (
    EXIT_IMPORT_ERROR,
    EXIT_OK,
    EXIT_STARTUP_FAILED,
    EXIT_USAGE,
    Parser as _Parser,
    UsageError,
    fail as _fail,
    import_app,
    import_failure,
)
from asgi_core._options import convert
from asgi_core.application import Application
from asgi_core.asgi import AsgiFastStream
from asgi_core.exceptions import ConfigError, MissingExtraError, StartupFailed

__all__ = [
    "EXIT_IMPORT_ERROR",
    "EXIT_OK",
    "EXIT_STARTUP_FAILED",
    "EXIT_USAGE",
    "UsageError",
    "main",
    "parse_extra_options",
]

ENV_PREFIX = "ASGI_CORE_"
LOG_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": 5,
}
SERVERS = tuple(_serving.RUNNERS)
# flag: (argparse keyword arguments, help); a flag with "action" takes no value
FLAGS: dict[str, tuple[dict[str, object], str]] = {
    "--host": ({}, "bind to this host (default 127.0.0.1)"),
    "--port": ({"type": int}, "bind to this port (default 8000; 0 picks a free one)"),
    "--bind": ({"action": "append"}, "add an address: HOST:PORT, unix:PATH or fd://N (repeatable)"),
    "--uds": ({}, "bind to this Unix domain socket"),
    "--fd": ({"type": int}, "bind to the socket with this file descriptor"),
    "--workers": ({"type": int}, "number of worker processes (default 1)"),
    "--server": ({"choices": SERVERS}, "server to run (default: uvicorn, gunicorn for workers)"),
    "--log-level": ({"choices": tuple(LOG_LEVELS)}, "log level (default info)"),
    "--factory": ({"action": "store_true"}, "treat APP as a factory: call it to get the app"),
    "--app-dir": ({}, "import APP from this directory (default: the current directory)"),
    "--reload": ({"action": "store_true"}, "restart on code changes (development, one worker)"),
    "--root-path": ({}, "the path prefix of a proxy in front of the app (ASGI root_path)"),
    "--proxy-headers": (
        {"action": argparse.BooleanOptionalAction},
        "trust X-Forwarded-* headers from --forwarded-allow-ips (uvicorn's default: on)",
    ),
    "--forwarded-allow-ips": ({}, "comma-separated IPs trusted for proxy headers"),
    "--timeout-graceful-shutdown": ({"type": float}, "seconds to wait for requests on shutdown"),
}
# flags that take a value: those without an action, and --bind (action "append")
_TAKES_VALUE = {flag for flag, (kwargs, _) in FLAGS.items() if "action" not in kwargs}
_TAKES_VALUE |= {"--bind"}
_NO_VALUE = {flag for flag in FLAGS if flag not in _TAKES_VALUE}
_NO_VALUE |= {"--no-proxy-headers", "-h", "--help"}
# the flags that are server options (the rest configure the CLI), in FLAGS order
SERVER_FLAGS = tuple(
    name
    for name in (flag[2:].replace("-", "_") for flag in FLAGS)
    if name in _serving.SERVER_OPTIONS
)


def _env_default(flag: str, kwargs: dict[str, object]) -> object:
    value = os.environ.get(ENV_PREFIX + flag[2:].replace("-", "_").upper())
    if value is None:
        return False if kwargs.get("action") == "store_true" else None
    if kwargs.get("action") in ("store_true", argparse.BooleanOptionalAction):
        try:
            return convert(value, bool, hook="the environment", option=flag)
        except Exception as exc:
            raise UsageError(str(exc)) from None
    return [value] if kwargs.get("action") == "append" else value


def _version() -> str:
    import platform  # only --version needs it

    return (
        f"asgi-core {__version__} with {platform.python_implementation()} "
        f"{platform.python_version()} on {platform.system()}"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser (``--key value`` hook options are split off before it runs)."""
    parser = _Parser(prog="asgi-core", description="Serve an asgi_core application.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    run = commands.add_parser(
        "run",
        help="serve APP",
        description="Serve APP (MODULE:ATTR). Unknown --key value pairs are hook options.",
        epilog="exit codes: 0 stopped, 1 import error or missing extra, 2 usage error, "
        "3 the app failed to start",
    )
    run.add_argument("app", metavar="APP", help="the app as MODULE:ATTR, e.g. main:app")
    for flag, (kwargs, help_text) in FLAGS.items():
        run.add_argument(flag, default=_env_default(flag, kwargs), help=help_text, **kwargs)  # type: ignore[arg-type]
    _docs_cli.add_parser(commands)
    return parser


def _looks_like_value(token: str) -> bool:
    if not token.startswith("-") or token == "-":
        return True
    try:
        float(token)
    except ValueError:
        return False
    return True


def split_arguments(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split ``run``'s arguments into those argparse knows and the hook options."""
    known: list[str] = []
    extra: list[str] = []
    seen_app = False
    index = 0
    while index < len(args):
        token = args[index]
        index += 1
        if _looks_like_value(token):
            known.append(token)
            seen_app = True
            continue
        flag = token.partition("=")[0]
        if flag in _TAKES_VALUE:
            known.append(token)
            if "=" not in token and index < len(args):
                known.append(args[index])
                index += 1
        elif flag in _NO_VALUE or not token.startswith("--"):
            known.append(token)
        else:
            extra.append(token)
            taken = 0
            while index < len(args) and _looks_like_value(args[index]) and "=" not in token:
                if not seen_app and taken == 1:
                    break
                extra.append(args[index])
                index += 1
                taken += 1
    return known, extra


def parse_extra_options(tokens: Sequence[str]) -> dict[str, object]:
    """``["--retries", "3", "--no-debug"]`` → ``{"retries": "3", "debug": False}``."""
    options: dict[str, object] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("--") or len(token) == 2:
            raise UsageError(f"unexpected argument {token!r}; hook options look like --key value")
        key, equals, inline = token[2:].partition("=")
        values: list[str] = [inline] if equals else []
        while not equals and index < len(tokens) and _looks_like_value(tokens[index]):
            values.append(tokens[index])
            index += 1
        value: object
        if values:
            value = values[0] if len(values) == 1 else values
        elif key.startswith("no-"):
            key, value = key[3:], False
        else:
            value = True
        name = key.replace("-", "_")
        if not name.isidentifier():
            raise UsageError(f"option {token!r} is not a valid name; use --some-name VALUE")
        if name in options:
            before = options[name]
            merged = before if isinstance(before, list) else [before]
            options[name] = merged + (value if isinstance(value, list) else [value])
        else:
            options[name] = value
    return options


def _failing_step(error: BaseException) -> str:
    for note in getattr(error, "__notes__", ()):
        if note.startswith("asgi_core: startup failed in "):
            return str(note).removeprefix("asgi_core: ")
    step = getattr(error, "step", None)
    return f"startup failed in {step}" if step else "startup failed"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args[:1] == ["docs"]:
            return _docs_cli.run(build_parser().parse_args(args))
        if args[:1] != ["run"]:
            build_parser().parse_args(args or ["--help"])
            return EXIT_USAGE  # pragma: no cover - argparse exits for --help/--version
        known, extra = split_arguments(args[1:])
        parsed = build_parser().parse_args(["run", *known])
        hook_options = parse_extra_options(extra)
    except UsageError as exc:
        command = " ".join(args[:2] if args[:1] == ["docs"] else ["run"])
        return _fail(EXIT_USAGE, str(exc), f"run `asgi-core {command} --help` for the options")
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0)
    level = LOG_LEVELS[parsed.log_level or "info"]
    logging.basicConfig(level=level, format="%(levelname)s:     %(name)s: %(message)s")
    logging.getLogger("asgi_core").setLevel(level)
    try:
        return _run(parsed, hook_options, level)
    except KeyboardInterrupt:
        return 130


def _load(parsed: argparse.Namespace) -> object:
    app = import_app(parsed.app, factory=parsed.factory, app_dir=parsed.app_dir)
    if not callable(app) and not hasattr(app, "run"):
        raise UsageError(f"{parsed.app} is {app!r}, which is not an ASGI app or Application")
    return app


def _run(parsed: argparse.Namespace, hook_options: dict[str, object], level: int) -> int:
    try:
        app = _load(parsed)
    except Exception as exc:
        return import_failure(
            parsed.app, exc, "APP must name an ASGI app, or a factory with --factory"
        )
    try:
        _serve(app, parsed, hook_options, level)
    except MissingExtraError as exc:
        return _fail(EXIT_IMPORT_ERROR, str(exc), "or choose another --server", exc)
    except (ConfigError, UsageError) as exc:
        return _fail(EXIT_USAGE, str(exc), "run `asgi-core run --help` for the options", exc)
    except StartupFailed as exc:
        return _fail(EXIT_STARTUP_FAILED, str(exc), "the log above names the failing step", exc)
    except Exception as exc:
        return _fail(
            EXIT_STARTUP_FAILED,
            f"{_failing_step(exc)}: {type(exc).__name__}: {exc}",
            "fix that step; --log-level debug shows the traceback",
            exc,
        )
    return EXIT_OK


def _serve(app: object, parsed: argparse.Namespace, hooks: dict[str, object], level: int) -> None:
    import asyncio  # only a plain Application needs it: uvicorn and gunicorn bring their own loop

    given = {name: getattr(parsed, name) for name in SERVER_FLAGS}
    given = {name: value for name, value in given.items() if value is not None}
    if isinstance(app, Application) and not isinstance(app, AsgiFastStream):
        if given or parsed.reload:
            flags = ", ".join("--" + name.replace("_", "-") for name in given) or "--reload"
            raise UsageError(
                f"{parsed.app} is an Application without HTTP, so {flags} do not apply; "
                "serve HTTP with AsgiFastStream, or drop them"
            )
        asyncio.run(app.run(level, hooks))
        return
    plan = _serving.make_plan(
        app,
        {**given, **hooks},
        log_level=level,
        app_spec=parsed.app,
        factory=parsed.factory,
        app_dir=parsed.app_dir,
        reload=parsed.reload,
    )
    if plan.reload and (plan.workers > 1 or plan.server != "uvicorn"):
        raise UsageError("--reload runs one uvicorn process; drop --workers/--server gunicorn")
    _serving.load_runner(plan.server).run(plan)
