"""The lifespans of mounted apps, run beside ours (Starlette's ``Mount`` and FastStream don't).

Rules:

* Each distinct mounted app (an app mounted at two paths runs once) gets a lifespan scope of its
  own, with a shallow copy of our ``state`` if the server gave us one. All of them start at once;
  ``startup()`` returns when every one has replied, so their startup completes before we send
  ``lifespan.startup.complete``. Keys a sub-app adds to its ``state`` are copied into ours (the
  first writer of a key wins; a clash is logged), so its requests see them as a server would show
  them.
* A sub-app that raises or returns before its first ``receive()``, or that answers the lifespan
  scope with a non-lifespan message (a plain HTTP app), does not support lifespan: one log line,
  and it is left out (``specs/lifespan.rst``).
* ``lifespan.startup.failed``, an exception after receiving ``lifespan.startup``, or no reply
  within ``startup_timeout`` fail our startup: the sub-apps that had started are shut down, then
  ``HookError`` (``HookTimeoutError``) names the mount path and carries the sub-app's message.
* ``shutdown()`` sends ``lifespan.shutdown`` to every started sub-app at once and waits for the
  replies and for the apps to return, within ``shutdown_timeout``; ``*.failed`` or an exception
  raises ``HookError`` naming the mount path. It runs once; leaving the ``async with`` block runs
  it if nobody did (its errors are then logged, as the block's own exception wins), and cancels
  whatever still runs.

How it works: ``async with SubLifespans(...) as subs`` opens a task group (``_concurrency.py``),
so the sub-apps' tasks live from ``startup()`` to ``shutdown()`` on asyncio and on trio alike.
Each sub-app talks to a ``_SubApp`` through two mailboxes; the ``FINISHED`` marker in its outbox
says the app returned or raised.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from asgi_core._app_task import FINISHED, AppTask
from asgi_core._concurrency import DeadlineExceeded, run_bounded
from asgi_core._concurrency._tasks import TaskGroup, open_task_group
from asgi_core.exceptions import HookError, HookTimeoutError, MessageError

if TYPE_CHECKING:
    import logging
    from types import TracebackType

    from asgi_core.types import ASGIApp, Message, Scope

__all__ = ["SubLifespans"]

_Failure = tuple["_SubApp", str, "BaseException | None"]  # the app, what happened, the exception


class _SubApp(AppTask):
    """One mounted app's lifespan: an ``AppTask`` that checks each reply against the stage."""

    def __init__(self, path: str, app: ASGIApp, state: dict[str, Any] | None) -> None:
        scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        if state is not None:
            scope["state"] = dict(state)
        super().__init__(app, scope)
        self.path = path
        self.expected: tuple[str, ...] = ("lifespan.startup.complete", "lifespan.startup.failed")
        self.replied: str | None = None  # the type of the reply to the current stage
        self.refused: str | None = None  # a non-lifespan message it sent: not a lifespan app

    @property
    def where(self) -> str:
        return f"the app mounted at {self.path or '/'!r}"

    def check(self, message: Message) -> None:
        kind = message.get("type") if hasattr(message, "get") else None
        if kind not in self.expected:
            if not (isinstance(kind, str) and kind.startswith("lifespan.")):
                self.refused = repr(kind)
            raise MessageError(
                f"{self.where} sent {kind!r} on its lifespan scope; expected "
                f"{' or '.join(map(repr, self.expected))}"
            )
        self.expected = ()
        self.replied = kind

    def unsupported(self) -> str | None:
        """Why this app doesn't take part in the lifespan protocol, or None if it does."""
        if self.refused is not None:
            return f"it answered the lifespan scope with {self.refused}"
        if self.finished and not self.received:
            if self.error is not None:
                return f"it raised {type(self.error).__name__} before receiving lifespan.startup"
            return "it returned before receiving lifespan.startup"
        return None

    async def reply(self) -> Message:
        """The app's reply, or ``FINISHED`` if the app ended without one."""
        return await self.next_message("a lifespan reply")  # no time limit: callers bound it


class SubLifespans:
    """``async with SubLifespans(routes, logger) as subs``: ``await subs.startup()`` ...
    ``await subs.shutdown()``; see the module docstring."""

    def __init__(
        self,
        routes: Iterable[tuple[str, ASGIApp]],
        logger: logging.Logger | logging.LoggerAdapter[Any] | None,
        *,
        startup_timeout: float | None = None,
        shutdown_timeout: float | None = None,
        state: dict[str, Any] | None = None,
    ) -> None:
        self._routes = list(routes)
        self._logger = logger
        self._startup_timeout = startup_timeout
        self._shutdown_timeout = shutdown_timeout
        self._state = state
        self._group: TaskGroup | None = None
        self._started: list[_SubApp] = []
        self._stopped = False

    async def __aenter__(self) -> SubLifespans:
        self._group = await open_task_group().__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        try:
            if not self._stopped and self._started:
                if exc is None:
                    await self.shutdown()
                else:
                    await self._shutdown_logging_errors()
        finally:
            group = self._running()
            group.cancel()
            await group.__aexit__(None, None, None)
        return False

    def _running(self) -> TaskGroup:
        if self._group is None:
            raise RuntimeError("use SubLifespans as 'async with SubLifespans(...) as subs'")
        return self._group

    # -- startup --------------------------------------------------------------------------------

    async def startup(self) -> None:
        """Start every mounted app's lifespan and wait for all the replies."""
        subs: list[_SubApp] = []
        seen: set[int] = set()
        for path, app in self._routes:
            if id(app) not in seen:
                seen.add(id(app))
                subs.append(_SubApp(path, app, self._state))
        for sub in subs:
            self._running().start_soon(sub.run)
            sub.inbox.put({"type": "lifespan.startup"})
        failures: list[_Failure] = []
        try:
            await run_bounded(lambda: self._collect_startups(subs, failures), self._startup_timeout)
        except DeadlineExceeded:
            self._started = [sub for sub in subs if sub.replied == "lifespan.startup.complete"]
            late = [sub for sub in subs if sub.replied is None and not sub.finished]
            await self._stop(self._started, self._shutdown_timeout)
            raise self._timeout_error("startup", late, self._startup_timeout) from None
        if failures:
            await self._stop(self._started, self._shutdown_timeout)
            raise self._failure_error("startup", failures)

    async def _collect_startups(self, subs: list[_SubApp], failures: list[_Failure]) -> None:
        for sub in subs:
            reply = await sub.reply()
            kind = reply.get("type")
            if kind == "lifespan.startup.complete":
                self._started.append(sub)
                self._merge_state(sub)
                continue
            why = sub.unsupported()
            if why is not None:
                self._log("info", "%s does not support lifespan (%s); skipping it", sub.where, why)
            elif kind == "lifespan.startup.failed":
                failures.append((sub, f"lifespan.startup.failed: {reply.get('message', '')}", None))
            elif sub.error is not None:
                error = sub.error
                failures.append((sub, f"it raised {type(error).__name__}: {error}", error))
            else:
                self._log(
                    "info",
                    "%s returned without replying to lifespan.startup; skipping it",
                    sub.where,
                )

    def _merge_state(self, sub: _SubApp) -> None:
        if self._state is None or "state" not in sub.scope:
            return
        for key, value in sub.scope["state"].items():
            if key not in self._state:
                self._state[key] = value
            elif self._state[key] is not value:
                self._log(
                    "warning",
                    "%s set the lifespan state key %r, which is already taken; keeping the first "
                    "value (use namespaced keys)",
                    sub.where,
                    key,
                )

    # -- shutdown -------------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Shut down every started sub-app (once); ``HookError`` if any of them failed."""
        if self._stopped:
            return
        self._stopped = True
        started, self._started = self._started, []
        failures, late = await self._stop(started, self._shutdown_timeout)
        if failures:
            raise self._failure_error("shutdown", failures)
        if late:
            raise self._timeout_error("shutdown", late, self._shutdown_timeout)

    async def _shutdown_logging_errors(self) -> None:
        try:
            await self.shutdown()
        except HookError as error:
            self._log("error", "%s", error)

    async def _stop(
        self, subs: list[_SubApp], timeout: float | None
    ) -> tuple[list[_Failure], list[_SubApp]]:
        """Shut ``subs`` down at once; return the failures and the apps that never replied."""
        failures: list[_Failure] = []
        pending = list(subs)
        for sub in subs:
            sub.replied = None
            sub.expected = ("lifespan.shutdown.complete", "lifespan.shutdown.failed")
            sub.inbox.put({"type": "lifespan.shutdown"})

        async def collect() -> None:
            while pending:
                sub = pending[0]
                reply = await sub.reply()
                if reply.get("type") == "lifespan.shutdown.failed":
                    text = f"lifespan.shutdown.failed: {reply.get('message', '')}"
                    failures.append((sub, text, None))
                elif reply is FINISHED and sub.error is not None:
                    error = sub.error
                    failures.append((sub, f"it raised {type(error).__name__}: {error}", error))
                if reply is not FINISHED:
                    await sub.reply()  # and wait until it returns
                pending.pop(0)

        try:
            await run_bounded(collect, timeout, shield=True)
        except DeadlineExceeded:
            pass
        return failures, [sub for sub in pending if sub.replied is None]

    # -- errors ---------------------------------------------------------------------------------

    def _failure_error(self, stage: str, failures: list[_Failure]) -> HookError:
        lines = [f"{sub.where} failed its lifespan {stage}: {text}" for sub, text, _ in failures]
        errors = tuple(error for _, _, error in failures if error is not None)
        error = HookError("\n".join(lines), stage=stage, step=_step(failures[0][0]), errors=errors)
        if len(errors) == 1:
            error.__cause__ = errors[0]
            error.__suppress_context__ = True
        return error

    def _timeout_error(self, stage: str, late: list[_SubApp], timeout: float | None) -> HookError:
        where = ", ".join(sub.where for sub in late)
        return HookTimeoutError(
            f"{where} did not reply to lifespan.{stage} within {timeout} s; its {stage} may hang, "
            f"or raise {stage}_timeout",
            stage=stage,
            step=_step(late[0]) if late else "mounted apps' lifespans",
        )

    def _log(self, level: str, text: str, *args: object) -> None:
        if self._logger is not None:
            getattr(self._logger, level)(text, *args)


def _step(sub: _SubApp) -> str:
    return f"lifespan of {sub.where}"
