"""Helpers for testing any ASGI application in-process, on asyncio or trio, with no dependencies.

    from asgi_core.testing import Client, LifespanManager

    async with LifespanManager(app) as lifespan:      # lifespan.startup ... lifespan.shutdown
        client = Client(lifespan.app)                 # or Client(app, state=lifespan.state)
        response = await client.get("/health")
        assert response.status_code == 204
        async with client.websocket("/ws") as ws:
            await ws.send_text("hi")
            assert await ws.receive_text() == "hi"

Rules:

* The manager plays the server's side of the lifespan protocol, as asgi-lifespan's
  ``LifespanManager`` does, so a test written for asgi-lifespan runs with this one by changing
  the import. An exception the app raises during startup or shutdown reaches the caller
  unchanged (``pytest.raises(ConnectionError)`` works), also when the app first replied
  ``*.failed`` and then raised, as Starlette and asgi_core do. ``LifespanError`` (with
  ``stage``) is kept for pure protocol failures: a ``*.failed`` reply from an app that then
  does not raise (``message`` is its text), a message that isn't the expected reply, an app
  that returns without replying. A reply that doesn't come within ``startup_timeout`` /
  ``shutdown_timeout`` raises ``LifespanTimeoutError``, a ``TimeoutError``. An app that raises
  or returns before its first ``receive()`` (``assert scope["type"] == "http"``) raises
  ``LifespanNotSupported``, chained to the app's exception.
* ``manager.app`` is the app with the lifespan ``state`` put into every scope (a shallow copy
  per request, as servers do): point a ``Client`` at it.
* If the block raises an ``Exception``, the shutdown still runs (the app's cleanup runs as
  under a server) and the block's exception propagates, with any shutdown failure as a note.
  On cancellation or ``KeyboardInterrupt`` the app is cancelled without a shutdown.
* The client builds scopes the way servers do (``path`` percent-decoded, ``raw_path`` as sent,
  lower-case header names, a ``host`` header) and checks what the app sends: a message out of
  order raises ``AppProtocolError`` inside the app's ``send``, and the same error is raised from
  the request if the app swallows it. An exception the app raises reaches the caller unchanged.
* Every wait is bounded by ``timeout`` seconds, so a hanging app fails the test instead of
  hanging it. After the response is complete, ``receive()`` returns ``http.disconnect``.
"""

from __future__ import annotations

from asgi_core.testing.errors import (
    AppProtocolError,
    LifespanError,
    LifespanNotSupported,
    LifespanTimeoutError,
    WebSocketClosed,
)
from asgi_core.testing.http import Client, Response
from asgi_core.testing.lifespan import LifespanManager
from asgi_core.testing.websocket import WebSocketSession

__all__ = [
    "AppProtocolError",
    "Client",
    "LifespanError",
    "LifespanManager",
    "LifespanNotSupported",
    "LifespanTimeoutError",
    "Response",
    "WebSocketClosed",
    "WebSocketSession",
]
