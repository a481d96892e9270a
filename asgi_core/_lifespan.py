"""The async lifespan driver: receive, feed the machine, perform its actions, send the replies.

Every received message is checked and turned into an ``Input``; ``LifespanMachine.handle``
returns the ``Action``; the driver performs it. Running the startup or shutdown steps produces the
next input (``HOOKS_DONE`` or ``HOOKS_RAISED``) without waiting for a message. The run ends when
the machine reaches ``STOPPED`` or ``FAILED``.

* ``lifespan.startup.failed`` / ``lifespan.shutdown.failed`` carry each failing step and its
  exception chain. After sending one, the driver re-raises the original exception (never wrapped):
  servers that saw ``*.failed`` stay quiet about it, and test drivers stop at once instead of
  waiting for their timeout. Several failing shutdown steps raise one ``HookError`` holding them.
* Anything that ends the run early after a completed startup (a bad message, a protocol error, a
  failing ``receive``/``send``, cancellation) still runs the shutdown steps, exactly once, and then
  propagates; nothing more is sent, since the protocol allows no reply there. Failures of that
  cleanup are logged, as nobody else will see them.
* If ``send`` of a ``*.failed`` reply raises (hypercorn's trio worker raises from ``send`` there
  and swallows the error), the report is logged once at ERROR before the ``send`` error
  propagates: otherwise nobody would see why startup or shutdown failed.
* ``answer_lifespan`` answers a lifespan scope for an app with nothing to start (``@get``
  handlers, health and docs routes) by the same table: ``*.complete`` at once, and a second
  ``lifespan.startup`` is a ``LifespanProtocolError`` as everywhere else.

Glossary: "lifespan" is the ASGI protocol (this module and ``_lifespan_machine.py``); the user's
context manager is ``lifespan=`` / ``Application.lifespan_context`` (run by ``_held.py``); a
mounted app's protocol run is a sub-lifespan (``_sub_lifespans.py``); ``Lifecycle``
(``_lifecycle.py``) runs the ordered steps a stage consists of.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from asgi_core._lifecycle import Failure, Lifecycle, error_for, format_failures
from asgi_core._lifespan_machine import Action, Input, LifespanMachine, Phase
from asgi_core.exceptions import MessageError, ScopeError
from asgi_core.types import Receive, Scope, Send

if TYPE_CHECKING:
    import logging

__all__ = ["answer_lifespan", "run_lifespan"]

_INPUTS = {"lifespan.startup": Input.STARTUP, "lifespan.shutdown": Input.SHUTDOWN}


def _input_from(message: object) -> Input:
    if type(message) is not dict and not isinstance(message, Mapping):  # dict: no ABC check
        raise MessageError(
            f"receive() returned {message!r} on a lifespan scope; expected a dict such as "
            "{'type': 'lifespan.startup'}"
        )
    kind = message.get("type")
    event = _INPUTS.get(kind) if type(kind) is str or isinstance(kind, str) else None
    if event is None:
        raise MessageError(
            f"received a message of type {kind!r} on a lifespan scope; expected "
            "'lifespan.startup' or 'lifespan.shutdown'"
        )
    return event


class _Driver:
    __slots__ = ("_failures", "lifecycle", "logger", "machine", "receive", "send", "state")

    def __init__(
        self,
        lifecycle: Lifecycle,
        state: dict[str, Any] | None,
        receive: Receive,
        send: Send,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None,
    ) -> None:
        self.lifecycle = lifecycle
        self.state = state
        self.receive = receive
        self.send = send
        self.logger = logger
        self.machine = LifespanMachine()
        self._failures: list[Failure] = []

    async def run(self) -> None:
        lifecycle = self.lifecycle
        machine = self.machine
        try:
            try:
                event: Input | None = None
                while machine.phase is not Phase.STOPPED and machine.phase is not Phase.FAILED:
                    if event is None:
                        event = _input_from(await self.receive())
                    action = machine.handle(event)
                    # the two steps and the two replies of every run, written out (one frame
                    # each less per cycle); the failure replies in _fail
                    if action is Action.RUN_STARTUP:
                        failure = await lifecycle.startup()
                        if failure is None:
                            event = Input.HOOKS_DONE
                        else:
                            self._failures = [failure]
                            event = Input.HOOKS_RAISED
                    elif action is Action.RUN_SHUTDOWN:
                        self._failures = await lifecycle.shutdown()
                        event = Input.HOOKS_RAISED if self._failures else Input.HOOKS_DONE
                    elif action is Action.SEND_STARTUP_COMPLETE:
                        if self.state is not None:
                            self.state.update(lifecycle.state)
                        event = None
                        await self.send({"type": "lifespan.startup.complete"})
                    elif action is Action.SEND_SHUTDOWN_COMPLETE:
                        event = None
                        await self.send({"type": "lifespan.shutdown.complete"})
                    else:
                        await self._fail(action)
            except BaseException:
                await self._cleanup_after_abort()
                raise
        finally:
            await lifecycle.close()

    async def _fail(self, action: Action) -> None:
        """Send ``*.failed`` with the report, then raise what failed."""
        stage = "startup" if action is Action.SEND_STARTUP_FAILED else "shutdown"
        report = format_failures(stage, self._failures)
        try:
            await self.send({"type": action.value, "message": report})
        except BaseException:
            if self.logger is not None:  # the server will not show the report: we do, once
                self.logger.error("%s could not be sent; its report: %s", action.value, report)
            raise
        raise error_for(stage, self._failures)

    async def _cleanup_after_abort(self) -> None:
        if not self.lifecycle.running:
            return
        for failure in await self.lifecycle.shutdown():
            if self.logger is not None:
                self.logger.error(
                    "shutdown after an aborted lifespan failed in %s",
                    failure.step,
                    exc_info=failure.error,
                )


async def run_lifespan(
    lifecycle: Lifecycle,
    scope: Scope,
    receive: Receive,
    send: Send,
    logger: logging.Logger | logging.LoggerAdapter[Any] | None,
) -> None:
    """Drive one lifespan scope to its end with ``lifecycle``'s steps."""
    state = scope.get("state")
    if state is not None and not isinstance(state, dict):
        raise ScopeError(f"scope['state'] must be a dict when present, not {state!r}")
    await _Driver(lifecycle, state, receive, send, logger).run()


async def answer_lifespan(receive: Receive, send: Send) -> None:
    """Answer a lifespan scope for an app that has nothing to start or stop, by the same table."""
    machine = LifespanMachine()
    event: Input | None = None
    while machine.phase not in (Phase.STOPPED, Phase.FAILED):
        action = machine.handle(event or _input_from(await receive()))
        if action is Action.RUN_STARTUP or action is Action.RUN_SHUTDOWN:
            event = Input.HOOKS_DONE  # no steps: they are done at once
        else:
            event = None
            await send({"type": action.value})  # lifespan.startup.complete / .shutdown.complete
