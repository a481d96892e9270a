"""What the test helpers raise when the app under test misbehaves (all ``AsgiCoreError``s)."""

from __future__ import annotations

from asgi_core.exceptions import AsgiCoreError

__all__ = [
    "AppProtocolError",
    "LifespanError",
    "LifespanNotSupported",
    "LifespanTimeoutError",
    "WebSocketClosed",
]


class LifespanError(AsgiCoreError):
    """The app's lifespan ``stage`` (``"startup"`` or ``"shutdown"``) did not complete.

    ``message`` is the text of a ``lifespan.*.failed`` reply, or ``""`` for other causes.
    """

    def __init__(self, text: str, *, stage: str, message: str = "") -> None:
        super().__init__(text)
        self.stage = stage
        self.message = message


class LifespanNotSupported(LifespanError):
    """The app raised or returned before its first ``receive()`` on the lifespan scope.

    That is what an app that serves only ``http`` does (``assert scope["type"] == "http"``);
    the app's exception, if any, is the ``__cause__``. Same name as asgi-lifespan's.
    """


class LifespanTimeoutError(LifespanError, TimeoutError):
    """The app did not reply to ``lifespan.startup`` / ``lifespan.shutdown`` in time."""


class AppProtocolError(AsgiCoreError):
    """The app under test sent a message the ASGI protocol does not allow at that point."""


class WebSocketClosed(AsgiCoreError):
    """The app closed the WebSocket (before accepting it, if raised by ``client.websocket``)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"the app closed the WebSocket with code {code} and reason {reason!r}")
        self.code = code
        self.reason = reason
