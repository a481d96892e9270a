"""The ASGI lifespan protocol as a transition table: pure, synchronous, no I/O.

Rules (asgiref ``specs/lifespan.rst`` plus what the servers enforce):

* The server sends ``lifespan.startup``, waits for one reply, later sends ``lifespan.shutdown`` and
  waits for one reply. Nothing else is valid; uvicorn and granian assert it inside ``send``.
* A reply of ``*.complete`` goes out only after the stage's last step has returned.
* ``lifespan.shutdown`` before any startup is answered with ``shutdown.complete``: nothing ran, so
  there is nothing to undo.

How it works: ``TRANSITIONS`` maps (phase, input) to (next phase, action); it is the only place a
transition is defined; ``BY_PHASE`` is the same table read by phase, derived from it.
``LifespanMachine.handle`` looks the pair up, moves, and returns the action for its caller to
perform (the driver in ``_lifespan.py`` reads ``BY_PHASE`` itself, with ``protocol_error`` for a
missing pair: one frame less per transition). A pair that is not in the
table raises ``LifespanProtocolError`` and leaves the phase unchanged, so the driver can still
see what cleanup it owes. The table, as the test suite checks against the dict:

    ========  ============  =========  =======================
    phase     input         next       action
    ========  ============  =========  =======================
    IDLE      STARTUP       STARTING   RUN_STARTUP
    IDLE      SHUTDOWN      STOPPED    SEND_SHUTDOWN_COMPLETE
    STARTING  HOOKS_DONE    READY      SEND_STARTUP_COMPLETE
    STARTING  HOOKS_RAISED  FAILED     SEND_STARTUP_FAILED
    READY     SHUTDOWN      STOPPING   RUN_SHUTDOWN
    STOPPING  HOOKS_DONE    STOPPED    SEND_SHUTDOWN_COMPLETE
    STOPPING  HOOKS_RAISED  FAILED     SEND_SHUTDOWN_FAILED
    ========  ============  =========  =======================
"""

from __future__ import annotations

import enum

from asgi_core.exceptions import LifespanProtocolError

__all__ = [
    "BY_PHASE",
    "TRANSITIONS",
    "Action",
    "Input",
    "LifespanMachine",
    "Phase",
    "protocol_error",
]


class Phase(enum.Enum):
    """Where the application is in the lifespan protocol."""

    __hash__ = object.__hash__  # members are singletons: identity hash, in C (a dict key)

    IDLE = "idle"
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class Input(enum.Enum):
    """What happened: a message was received, or the running steps finished."""

    __hash__ = object.__hash__  # members are singletons: identity hash, in C (a dict key)

    STARTUP = "lifespan.startup"
    SHUTDOWN = "lifespan.shutdown"
    HOOKS_DONE = "steps finished"
    HOOKS_RAISED = "a step raised or timed out"


class Action(enum.Enum):
    """What the driver must do next."""

    __hash__ = object.__hash__  # members are singletons: identity hash, in C (a dict key)

    RUN_STARTUP = "run the startup steps"
    RUN_SHUTDOWN = "run the shutdown steps"
    SEND_STARTUP_COMPLETE = "lifespan.startup.complete"
    SEND_STARTUP_FAILED = "lifespan.startup.failed"
    SEND_SHUTDOWN_COMPLETE = "lifespan.shutdown.complete"
    SEND_SHUTDOWN_FAILED = "lifespan.shutdown.failed"


TRANSITIONS: dict[tuple[Phase, Input], tuple[Phase, Action]] = {
    (Phase.IDLE, Input.STARTUP): (Phase.STARTING, Action.RUN_STARTUP),
    (Phase.IDLE, Input.SHUTDOWN): (Phase.STOPPED, Action.SEND_SHUTDOWN_COMPLETE),
    (Phase.STARTING, Input.HOOKS_DONE): (Phase.READY, Action.SEND_STARTUP_COMPLETE),
    (Phase.STARTING, Input.HOOKS_RAISED): (Phase.FAILED, Action.SEND_STARTUP_FAILED),
    (Phase.READY, Input.SHUTDOWN): (Phase.STOPPING, Action.RUN_SHUTDOWN),
    (Phase.STOPPING, Input.HOOKS_DONE): (Phase.STOPPED, Action.SEND_SHUTDOWN_COMPLETE),
    (Phase.STOPPING, Input.HOOKS_RAISED): (Phase.FAILED, Action.SEND_SHUTDOWN_FAILED),
}


def _by_phase(
    table: dict[tuple[Phase, Input], tuple[Phase, Action]],
) -> dict[Phase, dict[Input, tuple[Phase, Action]]]:
    by_phase: dict[Phase, dict[Input, tuple[Phase, Action]]] = {phase: {} for phase in Phase}
    for (at, given), outcome in table.items():
        by_phase[at][given] = outcome
    return by_phase


BY_PHASE = _by_phase(TRANSITIONS)
"""``TRANSITIONS`` read by phase (``BY_PHASE[phase][event]``), derived from it, not written
again: the driver's lookup, with no (phase, input) tuple to build, hash and compare (some 150
machine instructions per transition on CPython 3.11, four transitions a cycle)."""


def allowed_inputs(phase: Phase) -> list[Input]:
    """The inputs the table accepts in ``phase``, in table order."""
    return list(BY_PHASE[phase])


class LifespanMachine:
    """Tracks the phase of one lifespan run; ``handle`` is the only way to move it."""

    __slots__ = ("phase",)

    def __init__(self) -> None:
        self.phase = Phase.IDLE

    def handle(self, event: Input) -> Action:
        """Move on ``event`` and return the action to perform, or raise and stay put."""
        try:
            self.phase, action = BY_PHASE[self.phase][event]
        except KeyError:
            raise protocol_error(self.phase, event) from None
        return action


def protocol_error(phase: Phase, event: Input) -> LifespanProtocolError:
    """The error for ``event`` in ``phase``, a pair the table does not have."""
    allowed = ", ".join(repr(i.value) for i in allowed_inputs(phase)) or "nothing"
    return LifespanProtocolError(
        f"{event.value!r} is not valid in lifespan phase {phase.name}; that phase accepts "
        f"{allowed}. The server broke the lifespan protocol (startup, one reply, shutdown, one "
        "reply)."
    )
