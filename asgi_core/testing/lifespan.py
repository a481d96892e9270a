"""``LifespanManager``: the server's side of the lifespan protocol, for tests.

See the package docstring for the rules; ``manager.app`` puts the lifespan state in every scope.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, NoReturn

from asgi_core._app_task import FINISHED, WAITING, AppTask
from asgi_core._process import exit_handler
from asgi_core.testing.errors import (
    AppProtocolError,
    LifespanError,
    LifespanNotSupported,
    LifespanTimeoutError,
)

if TYPE_CHECKING:
    from types import TracebackType

    from asgi_core.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LifespanManager"]

ASGI = {"version": "3.0", "spec_version": "2.4"}


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
        self._runner: AppTask | None = None
        self._stack = contextlib.AsyncExitStack()  # the app's task and the exit handler
        self.exit_requested = False
        self._exit_handler = exit_handler(self._record_exit)

    def _record_exit(self) -> None:
        self.exit_requested = True

    async def __aenter__(self) -> LifespanManager:
        scope: Scope = {"type": "lifespan", "asgi": dict(ASGI), "state": self.state}
        runner = AppTask(self._wrapped, scope, self.startup_timeout, report_waits=True)
        self._runner = runner
        self._stack = contextlib.AsyncExitStack()
        self._stack.enter_context(self._exit_handler)
        try:
            await runner.start_in(self._stack)
            await self._exchange(runner, "startup")
        except BaseException:
            self._runner = None
            await self._stack.aclose()
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
            await self._stack.aclose()  # cancels the app if it still runs, then the exit handler

    async def _reply(self, runner: AppTask, stage: str, waiting_for: str) -> Message:
        """The app's next message other than a stale ``WAITING``; a timeout names ``stage``."""
        while True:
            try:
                item = await runner.next_message(waiting_for)
            except TimeoutError:
                raise LifespanTimeoutError(
                    f"the app did not reply to lifespan.{stage} within {runner.timeout} s; a "
                    f"{stage} step may hang, or raise {stage}_timeout",
                    stage=stage,
                ) from None
            if item is not WAITING:
                return item

    async def _exchange(self, runner: AppTask, stage: str) -> None:
        runner.inbox.put({"type": f"lifespan.{stage}"})
        complete, failed = f"lifespan.{stage}.complete", f"lifespan.{stage}.failed"
        reply = await self._reply(runner, stage, f"the reply to lifespan.{stage}")
        kind = reply.get("type")
        if kind == complete:
            return
        if reply is FINISHED:
            _raise_app_error(runner, stage)
        if kind == failed:
            message = str(reply.get("message", ""))
            await self._raise_if_app_raises(runner)
            raise LifespanError(f"{failed}: {message}", stage=stage, message=message)
        raise LifespanError(
            f"the app sent {kind!r} in reply to lifespan.{stage}; expected {complete!r} or "
            f"{failed!r}",
            stage=stage,
        ) from runner.refuse(AppProtocolError(f"unexpected {kind!r} during lifespan.{stage}"))

    @staticmethod
    async def _raise_if_app_raises(runner: AppTask) -> None:
        """After ``*.failed``: raise the app's exception if it raises before its next receive()."""
        try:
            item = await runner.next_message("the app to raise or return after *.failed")
        except TimeoutError:
            return
        if item is FINISHED and runner.error is not None:
            raise runner.error

    async def _wait_until_returned(self, runner: AppTask) -> None:
        if not runner.finished or len(runner.outbox):
            item = await runner.next_message("the app to return after lifespan.shutdown.complete")
            if item is WAITING:
                raise LifespanError(
                    "the app called receive() again after lifespan.shutdown.complete; nothing "
                    "follows it, so the app should return",
                    stage="shutdown",
                )
            if item is not FINISHED:
                raise LifespanError(
                    f"the app sent {item.get('type')!r} after lifespan.shutdown.complete; "
                    "nothing may follow it",
                    stage="shutdown",
                )
        if runner.error is not None:
            raise runner.error


def _raise_app_error(runner: AppTask, stage: str) -> NoReturn:
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
