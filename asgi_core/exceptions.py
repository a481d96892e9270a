"""The public exception hierarchy.

Every message says what happened (the offending value in ``repr``), what was expected, and what to
do about it.
"""

from __future__ import annotations

__all__ = [
    "AppImportError",
    "AsgiCoreError",
    "ConfigError",
    "HookError",
    "HookTimeoutError",
    "LifespanProtocolError",
    "MessageError",
    "MissingExtraError",
    "ScopeError",
    "StartupFailed",
]


class AsgiCoreError(Exception):
    """Base class of every error asgi_core raises on its own account."""


class LifespanProtocolError(AsgiCoreError):
    """A lifespan message arrived in a phase where the protocol does not allow it."""


class ScopeError(AsgiCoreError):
    """The server passed a scope that is not a valid ASGI scope for this application."""


def scope_error(scope: object, problem: str) -> ScopeError:
    """A ``ScopeError`` saying ``problem``, then the scope the server passed (repr, cut at 200)."""
    shown = repr(scope) if len(repr(scope)) <= 200 else repr(scope)[:200] + "..."
    return ScopeError(f"{problem}; the server passed the scope {shown}")


class MessageError(AsgiCoreError):
    """``receive()`` returned something that is not a valid message for the scope."""


class ConfigError(AsgiCoreError):
    """An option, route or setting given to asgi_core is not valid."""


class HookError(AsgiCoreError):
    """A lifecycle step (hook, broker call, lifespan context) failed or did not finish.

    ``stage`` is ``"startup"`` or ``"shutdown"``; ``step`` names the step (for a hook, its
    qualified name); ``errors`` holds the underlying exceptions when several steps failed.
    """

    def __init__(
        self, message: str, *, stage: str, step: str, errors: tuple[BaseException, ...] = ()
    ) -> None:
        super().__init__(message)
        self.stage = stage
        self.step = step
        self.errors = errors


class HookTimeoutError(HookError, TimeoutError):
    """A lifecycle step did not finish within ``startup_timeout`` / ``shutdown_timeout``."""


class MissingExtraError(AsgiCoreError, ImportError):
    """An optional feature needs a package that is not installed; the message names the fix."""


class AppImportError(AsgiCoreError, ImportError):
    """The module or attribute named by an import string does not exist."""


class StartupFailed(AsgiCoreError):
    """The server could not start serving: no address to listen on, or the app failed to start."""
