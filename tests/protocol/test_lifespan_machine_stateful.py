"""The pure lifespan machine under random inputs, checked against a small model."""

from __future__ import annotations

from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from asgi_core._lifespan_machine import Action, Input, LifespanMachine, Phase
from asgi_core.exceptions import LifespanProtocolError

TERMINAL = (Phase.STOPPED, Phase.FAILED)
STARTUP_REPLIES = (Action.SEND_STARTUP_COMPLETE, Action.SEND_STARTUP_FAILED)
SHUTDOWN_REPLIES = (Action.SEND_SHUTDOWN_COMPLETE, Action.SEND_SHUTDOWN_FAILED)


class LifespanMachineModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.machine = LifespanMachine()
        self.actions: list[Action] = []
        self.phases_seen: list[Phase] = [Phase.IDLE]

    def _feed(self, event: Input) -> None:
        before = self.machine.phase
        try:
            action = self.machine.handle(event)
        except LifespanProtocolError:
            assert self.machine.phase is before
            return
        assert before not in TERMINAL, "a terminal phase accepted an input"
        self.actions.append(action)
        self.phases_seen.append(self.machine.phase)

    @rule()
    def startup(self) -> None:
        self._feed(Input.STARTUP)

    @rule()
    def shutdown(self) -> None:
        self._feed(Input.SHUTDOWN)

    @rule()
    def hooks_done(self) -> None:
        self._feed(Input.HOOKS_DONE)

    @rule()
    def hooks_raised(self) -> None:
        self._feed(Input.HOOKS_RAISED)

    @invariant()
    def at_most_one_reply_per_request(self) -> None:
        assert sum(a in STARTUP_REPLIES for a in self.actions) <= 1
        assert sum(a in SHUTDOWN_REPLIES for a in self.actions) <= 1

    @invariant()
    def each_hook_stage_runs_at_most_once(self) -> None:
        assert self.actions.count(Action.RUN_STARTUP) <= 1
        assert self.actions.count(Action.RUN_SHUTDOWN) <= 1

    @invariant()
    def shutdown_hooks_run_iff_startup_completed(self) -> None:
        if Action.RUN_SHUTDOWN in self.actions:
            assert Action.SEND_STARTUP_COMPLETE in self.actions
        if Action.SEND_STARTUP_COMPLETE in self.actions and self.machine.phase in TERMINAL:
            assert Action.RUN_SHUTDOWN in self.actions

    @invariant()
    def shutdown_reply_only_after_ready_or_from_idle(self) -> None:
        for index, action in enumerate(self.actions):
            if action in SHUTDOWN_REPLIES:
                earlier = self.phases_seen[: index + 1]
                assert Phase.READY in earlier or self.actions[:index] == []


TestLifespanMachineModel = LifespanMachineModel.TestCase
TestLifespanMachineModel.settings = settings(max_examples=200, stateful_step_count=8)
