"""What every ``asgi-core`` command shares: exit codes, usage errors, messages, importing APP.

Rules (``cli.py``'s docstring has them for users):

* Exit codes: 0 success, 1 the app could not be imported or an extra is missing, 2 usage error,
  3 the app failed to start (or its address is in use).
* An error is one line on stderr (``asgi-core: error: ...``) plus a ``hint:`` line; the traceback
  only when the ``asgi_core`` logger is at debug level.
* APP is ``MODULE:ATTR``, imported from ``--app-dir`` (default: the current directory); with
  ``--factory`` it is called to get the app. A malformed string or a missing module or attribute
  is exit 1 with the importer's message; an exception raised by the user's module is exit 1 with
  its type and message; a ``--factory`` that is not callable is a usage error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import NoReturn

from asgi_core._importer import import_from_string
from asgi_core.exceptions import AppImportError, ConfigError

__all__ = [
    "EXIT_IMPORT_ERROR",
    "EXIT_OK",
    "EXIT_STARTUP_FAILED",
    "EXIT_USAGE",
    "Parser",
    "UsageError",
    "fail",
    "import_app",
    "import_failure",
]

EXIT_OK = 0
EXIT_IMPORT_ERROR = 1
EXIT_USAGE = 2
EXIT_STARTUP_FAILED = 3


class UsageError(Exception):
    """A command line that cannot be run; exit status 2."""


class Parser(argparse.ArgumentParser):
    """An argparse parser that raises ``UsageError`` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def fail(code: int, message: str, hint: str, error: BaseException | None = None) -> int:
    """Print the error and the hint on stderr (and the traceback at debug level); return code."""
    print(f"asgi-core: error: {message}", file=sys.stderr)
    print(f"hint: {hint}", file=sys.stderr)
    if error is not None and logging.getLogger("asgi_core").isEnabledFor(logging.DEBUG):
        import traceback  # only --log-level debug needs it

        traceback.print_exception(error, file=sys.stderr)
    return code


def import_app(spec: str, *, factory: bool, app_dir: str | None) -> object:
    """The object ``spec`` names, imported from ``app_dir``; called first if ``factory``."""
    directory = os.path.abspath(app_dir or os.curdir)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    app = import_from_string(spec)
    if factory:
        if not callable(app):
            raise UsageError(f"--factory: {spec} is {app!r}, which is not callable")
        app = app()
    return app


def import_failure(spec: str, error: Exception, usage_hint: str) -> int:
    """Report an exception raised while importing APP; return the exit status."""
    if isinstance(error, UsageError):
        return fail(EXIT_USAGE, str(error), usage_hint)
    if isinstance(error, (ConfigError, AppImportError)):
        return fail(EXIT_IMPORT_ERROR, str(error), "APP is MODULE:ATTR, e.g. `main:app`", error)
    return fail(
        EXIT_IMPORT_ERROR,
        f"importing {spec} raised {type(error).__name__}: {error}",
        "fix the error in your module; --log-level debug shows the traceback",
        error,
    )
