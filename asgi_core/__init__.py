"""asgi_core: run a message-broker service (or any long-running service) as a plain ASGI app.

Importing this package loads only the standard library.
"""

from __future__ import annotations

from asgi_core._context import Context
from asgi_core._responses import AsgiResponse, WebSocketClose
from asgi_core.application import Application
from asgi_core.asgi import AsgiFastStream
from asgi_core.exceptions import (
    AsgiCoreError,
    ConfigError,
    HookError,
    HookTimeoutError,
    LifespanProtocolError,
    MessageError,
    MissingExtraError,
    ScopeError,
)

__version__ = "0.1.0"

__all__ = [
    "Application",
    "AsgiCoreError",
    "AsgiFastStream",
    "AsgiResponse",
    "ConfigError",
    "Context",
    "HookError",
    "HookTimeoutError",
    "LifespanProtocolError",
    "MessageError",
    "MissingExtraError",
    "ScopeError",
    "WebSocketClose",
    "__version__",
]
