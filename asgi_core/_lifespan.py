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

from asgi_core._lifespan_machine import (
    BY_PHASE,
    Action,
    Input,
    LifespanMachine,
    Phase,
    protocol_error,
)
from asgi_core.exceptions import MessageError, ScopeError

TYPE_CHECKING = False  # typing is not loaded by import asgi_core
if TYPE_CHECKING:
    import logging
    from typing import Any, NoReturn

    from asgi_core._lifecycle import Lifecycle
    from asgi_core._steps import Failure
    from asgi_core.types import Receive, Scope, Send

__all__ = ["answer_lifespan", "run_lifespan"]

_INPUTS = {"lifespan.startup": Input.STARTUP, "lifespan.shutdown": Input.SHUTDOWN}
# The members the driver compares with, as module globals: reading a member through its enum
# class costs about 0.1 us on CPython 3.11, and a cycle read some thirty of them.
_IDLE, _STOPPED = Phase.IDLE, Phase.STOPPED
_HOOKS_DONE, _HOOKS_RAISED = Input.HOOKS_DONE, Input.HOOKS_RAISED
_RUN_STARTUP, _RUN_SHUTDOWN = Action.RUN_STARTUP, Action.RUN_SHUTDOWN
_STARTUP_COMPLETE, _SHUTDOWN_COMPLETE = Action.SEND_STARTUP_COMPLETE, Action.SEND_SHUTDOWN_COMPLETE


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


async def run_lifespan(
    lifecycle: Lifecycle,
    scope: Scope,
    receive: Receive,
    send: Send,
    logger: logging.Logger | logging.LoggerAdapter[Any] | None,
) -> None:
    """Drive one lifespan scope to its end with ``lifecycle``'s steps.

    One loop, no object of its own: it runs once per lifespan cycle, and every frame and
    attribute it saves is a share of the cycle (benchmarks: "lifespan, 10 hooks").
    """
    state = scope.get("state")
    if state is not None and not isinstance(state, dict):
        raise ScopeError(f"scope['state'] must be a dict when present, not {state!r}")
    phase = _IDLE
    failures: tuple[Failure, ...] = ()
    try:
        try:
            event: Input | None = None
            while True:  # until STOPPED (below) or FAILED (_fail raises)
                if event is None:
                    message = await receive()
                    try:  # _input_from(message), written out for a well-formed message
                        event = _INPUTS[message["type"]]
                    except Exception:  # no dict, no 'type', or not one of ours: which, said there
                        event = _input_from(message)
                try:
                    phase, action = BY_PHASE[phase][event]
                except KeyError:
                    raise protocol_error(phase, event) from None
                # the two steps and the two replies of every run, in the order they come,
                # written out; failures in _fail
                if action is _RUN_STARTUP:
                    failure = await lifecycle.startup()
                    if failure is None:
                        event = _HOOKS_DONE
                    else:
                        failures = (failure,)
                        event = _HOOKS_RAISED
                elif action is _STARTUP_COMPLETE:
                    if state is not None:
                        state.update(lifecycle.state)
                    event = None
                    await send({"type": "lifespan.startup.complete"})
                elif action is _RUN_SHUTDOWN:
                    failures = await lifecycle.shutdown()
                    event = _HOOKS_RAISED if failures else _HOOKS_DONE
                elif action is _SHUTDOWN_COMPLETE:
                    event = None
                    await send({"type": "lifespan.shutdown.complete"})
                    if phase is _STOPPED:  # always, by the table: the run ends with this reply
                        break
                else:
                    await _fail(action, failures, send, logger)
        except BaseException:
            await _cleanup_after_abort(lifecycle, logger)
            raise
    finally:
        try:
            if lifecycle.contexts is not None:
                await lifecycle.close()
        finally:
            lifecycle.released = True  # done with it: the application may renew it


async def _fail(
    action: Action,
    failures: tuple[Failure, ...],
    send: Send,
    logger: logging.Logger | logging.LoggerAdapter[Any] | None,
) -> NoReturn:
    """Send ``*.failed`` with the report, then raise what failed."""
    from asgi_core._steps import error_for, format_failures  # loaded by the Lifecycle already

    stage = "startup" if action is Action.SEND_STARTUP_FAILED else "shutdown"
    report = format_failures(stage, failures)
    try:
        await send({"type": action.value, "message": report})
    except BaseException:
        if logger is not None:  # the server will not show the report: we do, once
            logger.error("%s could not be sent; its report: %s", action.value, report)
        raise
    raise error_for(stage, failures)


async def _cleanup_after_abort(
    lifecycle: Lifecycle, logger: logging.Logger | logging.LoggerAdapter[Any] | None
) -> None:
    if not lifecycle.running:
        return
    for failure in await lifecycle.shutdown():
        if logger is not None:
            logger.error(
                "shutdown after an aborted lifespan failed in %s",
                failure.step,
                exc_info=failure.error,
            )


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
