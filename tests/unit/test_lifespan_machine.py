"""The lifespan transition table, exhaustively: all 6 phases x 4 inputs."""

from __future__ import annotations

import itertools
import re

import pytest

from asgi_core import _lifespan_machine
from asgi_core._lifespan_machine import BY_PHASE, TRANSITIONS, Action, Input, LifespanMachine, Phase
from asgi_core.exceptions import LifespanProtocolError

EXPECTED = {
    (Phase.IDLE, Input.STARTUP): (Phase.STARTING, Action.RUN_STARTUP),
    (Phase.IDLE, Input.SHUTDOWN): (Phase.STOPPED, Action.SEND_SHUTDOWN_COMPLETE),
    (Phase.STARTING, Input.HOOKS_DONE): (Phase.READY, Action.SEND_STARTUP_COMPLETE),
    (Phase.STARTING, Input.HOOKS_RAISED): (Phase.FAILED, Action.SEND_STARTUP_FAILED),
    (Phase.READY, Input.SHUTDOWN): (Phase.STOPPING, Action.RUN_SHUTDOWN),
    (Phase.STOPPING, Input.HOOKS_DONE): (Phase.STOPPED, Action.SEND_SHUTDOWN_COMPLETE),
    (Phase.STOPPING, Input.HOOKS_RAISED): (Phase.FAILED, Action.SEND_SHUTDOWN_FAILED),
}
ALL_PAIRS = list(itertools.product(Phase, Input))


def test_lifespan_table_has_24_pairs_of_which_7_are_transitions() -> None:
    assert len(ALL_PAIRS) == 24
    assert TRANSITIONS == EXPECTED


def test_the_table_by_phase_is_the_table_and_nothing_else() -> None:
    # the driver reads BY_PHASE[phase][event]: every phase has its row, a missing pair is a
    # KeyError there as in TRANSITIONS, and no pair differs from the one table
    assert set(BY_PHASE) == set(Phase)
    read_back = {
        (phase, event): outcome for phase, row in BY_PHASE.items() for event, outcome in row.items()
    }
    assert read_back == EXPECTED
    assert BY_PHASE[Phase.STOPPED] == {}


@pytest.mark.parametrize(("phase", "event"), ALL_PAIRS)
def test_lifespan_machine_moves_as_the_table_says_or_raises_and_stays(
    phase: Phase, event: Input
) -> None:
    machine = LifespanMachine()
    machine.phase = phase
    if (phase, event) in EXPECTED:
        next_phase, action = EXPECTED[phase, event]
        assert machine.handle(event) is action
        assert machine.phase is next_phase
    else:
        with pytest.raises(LifespanProtocolError, match=re.escape(event.value)) as info:
            machine.handle(event)
        assert phase.name in str(info.value)
        assert machine.phase is phase


def test_lifespan_protocol_error_lists_what_the_phase_accepts() -> None:
    machine = LifespanMachine()
    machine.phase = Phase.READY
    with pytest.raises(LifespanProtocolError) as info:
        machine.handle(Input.STARTUP)
    assert "accepts 'lifespan.shutdown'" in str(info.value)
    machine.phase = Phase.STOPPED
    with pytest.raises(LifespanProtocolError, match="accepts nothing"):
        machine.handle(Input.SHUTDOWN)


def test_lifespan_machine_docstring_table_matches_the_dict() -> None:
    doc = _lifespan_machine.__doc__ or ""
    rows = re.findall(r"^\s+([A-Z]+)\s+([A-Z_]+)\s+([A-Z]+)\s+([A-Z_]+)\s*$", doc, re.MULTILINE)
    documented = {
        (Phase[p], Input[i]): (Phase[n], Action[a]) for p, i, n, a in rows if p != "phase"
    }
    assert documented == TRANSITIONS
