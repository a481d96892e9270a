"""asgi_core: run a message-broker service (or any long-running service) as a plain ASGI app.

Importing this package loads only the standard library. The operations helpers (handlers,
health routes, the AsyncAPI page) are imported on first use of their names, through the
module ``__getattr__`` below, so ``import asgi_core`` stays small.
"""

from __future__ import annotations

from asgi_core.application import Application
from asgi_core.asgi import AsgiFastStream
from asgi_core.context import Context
from asgi_core.exceptions import (
    AppImportError,
    AsgiCoreError,
    ConfigError,
    HookError,
    HookTimeoutError,
    LifespanProtocolError,
    MessageError,
    MissingExtraError,
    ScopeError,
    StartupFailed,
)
from asgi_core.responses import AsgiResponse, WebSocketClose

TYPE_CHECKING = False  # typing is not loaded by import asgi_core
if TYPE_CHECKING:
    from typing import Any

    from asgi_core.asyncapi import make_asyncapi_asgi, mount_asyncapi
    from asgi_core.handlers import get, post
    from asgi_core.health import make_ping_asgi, make_ready_asgi
    from asgi_core.requests import Request
    from asgi_core.responses import JSONResponse

__version__ = "0.1.0"

_LAZY = {
    "JSONResponse": "asgi_core.responses",
    "Request": "asgi_core.requests",
    "get": "asgi_core.handlers",
    "post": "asgi_core.handlers",
    "make_ping_asgi": "asgi_core.health",
    "make_ready_asgi": "asgi_core.health",
    "make_asyncapi_asgi": "asgi_core.asyncapi",
    "mount_asyncapi": "asgi_core.asyncapi",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'asgi_core' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "AppImportError",
    "Application",
    "AsgiCoreError",
    "AsgiFastStream",
    "AsgiResponse",
    "ConfigError",
    "Context",
    "HookError",
    "HookTimeoutError",
    "JSONResponse",
    "LifespanProtocolError",
    "MessageError",
    "MissingExtraError",
    "Request",
    "ScopeError",
    "StartupFailed",
    "WebSocketClose",
    "__version__",
    "get",
    "make_asyncapi_asgi",
    "make_ping_asgi",
    "make_ready_asgi",
    "mount_asyncapi",
    "post",
]
