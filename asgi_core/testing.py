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

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from asgi_core._concurrency import DeadlineExceeded, Mailbox, TaskGroup, new_event, run_bounded
from asgi_core._process import exit_handler
from asgi_core.exceptions import AsgiCoreError

if TYPE_CHECKING:
    from types import TracebackType

    from asgi_core.types import ASGIApp, Message, Receive, Scope, Send

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

_ASGI = {"version": "3.0", "spec_version": "2.4"}
_FINISHED: Message = {
    "type": "asgi_core.testing.app-finished"
}  # put in a mailbox when the app ends
_WAITING: Message = {"type": "asgi_core.testing.app-waiting"}  # the app waits in receive()
HeaderInput = Mapping[str, str] | Iterable[tuple[str, str]] | None


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


class _AppRunner:
    """Runs ``app(scope, receive, send)`` in a task group; what it sends lands in ``outbox``."""

    def __init__(
        self, app: ASGIApp, scope: Scope, timeout: float | None, *, report_waits: bool = False
    ) -> None:
        self.app = app
        self.scope = scope
        self.timeout = timeout
        self.inbox: Mailbox[Message] = Mailbox()
        self.outbox: Mailbox[Message] = Mailbox()
        self.error: Exception | None = None
        self.violation: AppProtocolError | None = None
        self.finished = False
        self.received = False  # the app called receive() at least once
        self.report_waits = report_waits  # put _WAITING in outbox when receive() would block
        self._group = TaskGroup()

    async def start(self) -> None:
        await self._group.__aenter__()
        self._group.start_soon(self._run)

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self._receive, self._send)
        except Exception as exc:
            self.error = exc
        finally:
            self.finished = True
            self.outbox.put(_FINISHED)

    async def _receive(self) -> Message:
        self.received = True
        if self.report_waits and not len(self.inbox):
            self.outbox.put(_WAITING)
        return await self.inbox.get()

    async def _send(self, message: Message) -> None:
        if self.violation is not None:
            raise self.violation
        self.outbox.put(message)

    def refuse(self, text: str) -> AppProtocolError:
        self.violation = AppProtocolError(text)
        return self.violation

    async def next_message(self, waiting_for: str) -> Message:
        try:
            return await run_bounded(self.outbox.get, self.timeout)
        except DeadlineExceeded:
            raise TimeoutError(
                f"the app sent nothing within {self.timeout} s while the test waited for "
                f"{waiting_for}; it may be blocked in receive(), or raise the client's timeout"
            ) from None

    async def stop(self) -> None:
        """Cancel the app if it is still running and leave the task group."""
        self._group.cancel()
        await self._group.__aexit__(None, None, None)


class LifespanManager:
    """``async with LifespanManager(app) as manager``: startup on entry, shutdown on exit.

    ``state`` is the lifespan scope's ``state`` dict; ``manager.app`` puts a copy of it in every
    scope, so ``Client(manager.app)`` sees what the app stored there, as under a server. While
    the block runs, ``app.exit()`` only sets ``exit_requested`` (under a server it would stop
    the process). The timeouts may be given by position, as asgi-lifespan allows.
    """

    def __init__(
        self,
        app: ASGIApp,
        startup_timeout: float | None = 10.0,
        shutdown_timeout: float | None = 10.0,
        *,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.state: dict[str, Any] = {} if state is None else state
        self.app: ASGIApp = _StateInjector(app, self.state)
        self.startup_timeout = startup_timeout
        self.shutdown_timeout = shutdown_timeout
        self._wrapped = app
        self._runner: _AppRunner | None = None
        self.exit_requested = False
        self._exit_handler = exit_handler(self._record_exit)

    def _record_exit(self) -> None:
        self.exit_requested = True

    async def __aenter__(self) -> LifespanManager:
        scope: Scope = {"type": "lifespan", "asgi": dict(_ASGI), "state": self.state}
        runner = _AppRunner(self._wrapped, scope, self.startup_timeout, report_waits=True)
        self._runner = runner
        self._exit_handler.__enter__()
        await runner.start()
        try:
            await self._exchange(runner, "startup")
        except BaseException:
            self._runner = None
            await runner.stop()
            self._exit_handler.__exit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        runner = self._runner
        if runner is None:
            return
        self._runner = None
        runner.timeout = self.shutdown_timeout
        try:
            if exc is None or isinstance(exc, Exception):  # not on cancellation or Ctrl-C
                await self._exchange(runner, "shutdown")
                await self._wait_until_returned(runner)
        except Exception as problem:
            if exc is None:
                raise
            if hasattr(exc, "add_note"):  # Python 3.11+: keep the body's error, mention ours
                exc.add_note(f"and then the lifespan shutdown failed: {problem!r}")
        finally:
            await runner.stop()
            self._exit_handler.__exit__(None, None, None)

    async def _reply(self, runner: _AppRunner, stage: str, waiting_for: str) -> Message:
        """The app's next message other than a stale ``_WAITING``; a timeout names ``stage``."""
        while True:
            try:
                item = await runner.next_message(waiting_for)
            except TimeoutError:
                raise LifespanTimeoutError(
                    f"the app did not reply to lifespan.{stage} within {runner.timeout} s; a "
                    f"{stage} step may hang, or raise {stage}_timeout",
                    stage=stage,
                ) from None
            if item is not _WAITING:
                return item

    async def _exchange(self, runner: _AppRunner, stage: str) -> None:
        runner.inbox.put({"type": f"lifespan.{stage}"})
        complete, failed = f"lifespan.{stage}.complete", f"lifespan.{stage}.failed"
        reply = await self._reply(runner, stage, f"the reply to lifespan.{stage}")
        kind = reply.get("type")
        if kind == complete:
            return
        if reply is _FINISHED:
            _raise_app_error(runner, stage)
        if kind == failed:
            message = str(reply.get("message", ""))
            await self._raise_if_app_raises(runner)
            raise LifespanError(f"{failed}: {message}", stage=stage, message=message)
        raise LifespanError(
            f"the app sent {kind!r} in reply to lifespan.{stage}; expected {complete!r} or "
            f"{failed!r}",
            stage=stage,
        ) from runner.refuse(f"unexpected {kind!r} during lifespan.{stage}")

    @staticmethod
    async def _raise_if_app_raises(runner: _AppRunner) -> None:
        """After ``*.failed``: raise the app's exception if it raises before its next receive()."""
        try:
            item = await runner.next_message("the app to raise or return after *.failed")
        except TimeoutError:
            return
        if item is _FINISHED and runner.error is not None:
            raise runner.error

    async def _wait_until_returned(self, runner: _AppRunner) -> None:
        if not runner.finished or len(runner.outbox):
            item = await runner.next_message("the app to return after lifespan.shutdown.complete")
            if item is _WAITING:
                raise LifespanError(
                    "the app called receive() again after lifespan.shutdown.complete; nothing "
                    "follows it, so the app should return",
                    stage="shutdown",
                )
            if item is not _FINISHED:
                raise LifespanError(
                    f"the app sent {item.get('type')!r} after lifespan.shutdown.complete; "
                    "nothing may follow it",
                    stage="shutdown",
                )
        if runner.error is not None:
            raise runner.error


def _raise_app_error(runner: _AppRunner, stage: str) -> NoReturn:
    """The app ended before replying to ``lifespan.{stage}``: say why, keeping its exception."""
    if not runner.received:
        raise LifespanNotSupported(
            "the app "
            + ("raised before" if runner.error is not None else "returned without")
            + " calling receive() on the lifespan scope, as an app that serves only http does; "
            "test it without LifespanManager, or make it handle scope['type'] == 'lifespan'",
            stage=stage,
        ) from runner.error
    if runner.error is not None:
        raise runner.error
    raise LifespanError(
        f"the app returned without replying to lifespan.{stage}; a server would take "
        "this as 'lifespan not supported'",
        stage=stage,
    )


class _StateInjector:
    """``manager.app``: the app, with a shallow copy of the lifespan state in every scope."""

    __slots__ = ("app", "state")

    def __init__(self, app: ASGIApp, state: dict[str, Any]) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state if scope.get("type") == "lifespan" else dict(self.state)
        await self.app({**scope, "state": state}, receive, send)


class Response:
    """What the app sent: status, headers (names lower-case) and the whole body."""

    def __init__(self, status_code: int, raw_headers: list[tuple[bytes, bytes]], body: bytes):
        self.status_code = status_code
        self.raw_headers = raw_headers
        self.body = body

    @property
    def headers(self) -> dict[str, str]:
        """Header names (lower-case) to values; repeated headers are joined with ``", "``."""
        joined: dict[str, str] = {}
        for name, value in self.raw_headers:
            key, text = name.decode("latin-1").lower(), value.decode("latin-1")
            joined[key] = f"{joined[key]}, {text}" if key in joined else text
        return joined

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        import json

        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status_code} {self.body[:40]!r}>"


def _encode_headers(
    headers: HeaderInput, extra: Iterable[tuple[str, str]]
) -> list[tuple[bytes, bytes]]:
    pairs = list(headers.items() if isinstance(headers, Mapping) else headers or ())
    given = {name.lower() for name, _ in pairs}
    pairs += [(name, value) for name, value in extra if name not in given]
    return [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in pairs]


class Client:
    """Sends HTTP requests and opens WebSocket sessions to ``app`` in-process."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        root_path: str = "",
        headers: HeaderInput = None,
        state: Mapping[str, Any] | None = None,
        timeout: float | None = 10.0,
        client: tuple[str, int] = ("127.0.0.1", 50000),
        server: tuple[str, int] = ("testserver", 80),
    ) -> None:
        self.app = app
        self.root_path = root_path
        self.headers = list(headers.items() if isinstance(headers, Mapping) else headers or ())
        self.state = state
        self.timeout = timeout
        self.client = client
        self.server = server

    def _scope(
        self, kind: str, target: str, headers: HeaderInput, extra: list[tuple[str, str]]
    ) -> Scope:
        from urllib.parse import unquote

        raw_path, _, query = target.partition("?")
        host = (
            self.server[0] if self.server[1] in (80, 443) else f"{self.server[0]}:{self.server[1]}"
        )
        scope: Scope = {
            "type": kind,
            "asgi": dict(_ASGI),
            "http_version": "1.1",
            "scheme": "http" if kind == "http" else "ws",
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "root_path": self.root_path,
            "headers": _encode_headers([*self.headers, *_pairs(headers)], [("host", host), *extra]),
            "client": self.client,
            "server": self.server,
        }
        if self.state is not None:
            scope["state"] = dict(self.state)  # servers give every request a shallow copy
        return scope

    async def request(
        self,
        method: str,
        target: str,
        *,
        headers: HeaderInput = None,
        body: bytes | Iterable[bytes] = b"",
        json: object = None,
    ) -> Response:
        """Send one request; ``target`` is the path with an optional ``?query``."""
        extra: list[tuple[str, str]] = []
        if json is not None:
            import json as json_module

            body = json_module.dumps(json).encode("utf-8")
            extra.append(("content-type", "application/json"))
        chunks = [body] if isinstance(body, bytes) else list(body)
        if isinstance(body, bytes) and (body or method.upper() in ("POST", "PUT", "PATCH")):
            extra.append(("content-length", str(len(body))))
        scope = self._scope("http", target, headers, extra)
        scope["method"] = method.upper()
        exchange = _HTTPExchange(chunks or [b""])
        try:
            await run_bounded(
                lambda: self.app(scope, exchange.receive, exchange.send), self.timeout
            )
        except DeadlineExceeded:
            raise TimeoutError(
                f"{method} {target}: the app did not finish within {self.timeout} s; it may be "
                "waiting in receive() before responding, or raise the client's timeout"
            ) from None
        return exchange.result(f"{method} {target}")

    async def get(self, target: str, *, headers: HeaderInput = None) -> Response:
        return await self.request("GET", target, headers=headers)

    async def head(self, target: str, *, headers: HeaderInput = None) -> Response:
        return await self.request("HEAD", target, headers=headers)

    async def post(
        self,
        target: str,
        *,
        headers: HeaderInput = None,
        body: bytes | Iterable[bytes] = b"",
        json: object = None,
    ) -> Response:
        return await self.request("POST", target, headers=headers, body=body, json=json)

    def websocket(
        self, target: str, *, headers: HeaderInput = None, subprotocols: Iterable[str] = ()
    ) -> WebSocketSession:
        """``async with client.websocket("/ws") as ws``: connect; raises ``WebSocketClosed``
        if the app closes instead of accepting."""
        subprotocols = list(subprotocols)
        extra = [("sec-websocket-protocol", ", ".join(subprotocols))] if subprotocols else []
        extra += [("connection", "upgrade"), ("upgrade", "websocket")]
        scope = self._scope("websocket", target, headers, extra)
        scope["subprotocols"] = subprotocols
        return WebSocketSession(self.app, scope, self.timeout)


def _pairs(headers: HeaderInput) -> list[tuple[str, str]]:
    return list(headers.items() if isinstance(headers, Mapping) else headers or ())


class _HTTPExchange:
    """The server's half of one HTTP request: body chunks in, response messages checked."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.complete = new_event()
        self.violation: AppProtocolError | None = None

    async def receive(self) -> Message:
        if self.chunks:
            chunk = self.chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}
        await self.complete.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "http.response.start" and self.status is None:
            self.status = int(message["status"])
            self.headers = [(bytes(n), bytes(v)) for n, v in message.get("headers", ())]
        elif (
            kind == "http.response.body" and self.status is not None and not self.complete.is_set()
        ):
            self.body.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                self.complete.set()
        else:
            state = (
                "after the response was complete"
                if self.complete.is_set()
                else (
                    "before http.response.start"
                    if self.status is None
                    else "after http.response.start"
                )
            )
            self.violation = AppProtocolError(f"the app sent {kind!r} {state}")
            raise self.violation

    def result(self, request: str) -> Response:
        if self.violation is not None:
            raise self.violation
        if self.status is None or not self.complete.is_set():
            missing = (
                "http.response.start" if self.status is None else "the final http.response.body"
            )
            raise AppProtocolError(f"{request}: the app returned without sending {missing}")
        return Response(self.status, self.headers, b"".join(self.body))


class WebSocketSession:
    """One WebSocket connection to the app; use it as an async context manager."""

    def __init__(self, app: ASGIApp, scope: Scope, timeout: float | None) -> None:
        self._runner = _AppRunner(app, scope, timeout)
        self.subprotocol: str | None = None
        self.accept_headers: list[tuple[bytes, bytes]] = []
        self.closed = False

    async def __aenter__(self) -> WebSocketSession:
        runner = self._runner
        await runner.start()
        try:
            runner.inbox.put({"type": "websocket.connect"})
            first = await runner.next_message("websocket.accept or websocket.close")
            kind = first.get("type")
            if kind == "websocket.accept":
                self.subprotocol = first.get("subprotocol")
                self.accept_headers = [(bytes(n), bytes(v)) for n, v in first.get("headers", ())]
                return self
            if kind == "websocket.close":
                self.closed = True
                raise WebSocketClosed(int(first.get("code", 1000)), str(first.get("reason") or ""))
            self._raise_if_finished(first)
            raise runner.refuse(f"the app sent {kind!r} before websocket.accept")
        except BaseException:
            await runner.stop()
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        runner = self._runner
        try:
            if not self.closed:
                await self.close()
            if exc is None:
                await self._wait_until_returned()
        finally:
            await runner.stop()

    def _raise_if_finished(self, item: Message) -> None:
        if item is _FINISHED:
            if self._runner.error is not None:
                raise self._runner.error
            raise AppProtocolError("the app returned without accepting or closing the WebSocket")

    async def _wait_until_returned(self) -> None:
        while True:
            item = await self._runner.next_message("the app to return after the close")
            if item is _FINISHED:
                break
        if self._runner.error is not None:
            raise self._runner.error

    async def send_text(self, text: str) -> None:
        self._runner.inbox.put({"type": "websocket.receive", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        self._runner.inbox.put({"type": "websocket.receive", "bytes": data})

    async def receive(self) -> str | bytes:
        """The next ``websocket.send`` payload; raises ``WebSocketClosed`` if the app closed."""
        item = await self._runner.next_message("websocket.send")
        kind = item.get("type")
        if kind == "websocket.send":
            text = item.get("text")
            return text if text is not None else bytes(item.get("bytes") or b"")
        if kind == "websocket.close":
            self.closed = True
            raise WebSocketClosed(int(item.get("code", 1000)), str(item.get("reason") or ""))
        self._raise_if_finished(item)
        raise self._runner.refuse(f"the app sent {kind!r} on an open WebSocket")

    async def receive_text(self) -> str:
        data = await self.receive()
        if not isinstance(data, str):
            raise AppProtocolError(f"expected a text frame, the app sent bytes {data[:40]!r}")
        return data

    async def receive_bytes(self) -> bytes:
        data = await self.receive()
        if not isinstance(data, bytes):
            raise AppProtocolError(f"expected a binary frame, the app sent text {data[:40]!r}")
        return data

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Tell the app the client went away (``websocket.disconnect``)."""
        if not self.closed:
            self.closed = True
            self._runner.inbox.put({"type": "websocket.disconnect", "code": code, "reason": reason})
