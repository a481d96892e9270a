"""``Context``: a small app-wide key/value repository that hooks and handlers can share."""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not loaded by import asgi_core
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Context"]


class Context(dict[str, "Any"]):
    """A ``dict`` with FastStream's names for it: ``set_global``, ``reset_global``, ``get``.

    Each application has its own; ``AsgiFastStream.from_app`` copies it. The application puts
    itself under ``"app"``, its (first) broker under ``"broker"`` and its logger under
    ``"logger"``.
    """

    def set_global(self, key: str, value: Any) -> None:
        """Make ``value`` available under ``key``."""
        self[key] = value

    def reset_global(self, key: str) -> None:
        """Forget ``key`` (no error if it is not there)."""
        self.pop(key, None)
