"""The real app driven through random lifespan message orders and hook outcomes.

Each example starts an event loop in a thread (anyio's blocking portal, asyncio or trio), runs
an ``AsgiFastStream`` whose every step (hooks, broker start and close) is ``ok``, ``raise`` or
``hang``, and feeds it messages one rule at a time. After each message the test waits until the
app either waits for the next one or has ended; hangs are bounded by tiny step timeouts.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from asgi_core import AsgiCoreError, AsgiFastStream
from tests.harness import Communicator, lifespan_scope
from tests.strategies import lifespan_message

OUTCOMES = st.sampled_from(["ok", "raise", "hang"])
STEPS = (
    "on_startup",
    "broker.start",
    "after_startup",
    "on_shutdown",
    "broker.close",
    "after_shutdown",
)
STARTUP_STEPS = STEPS[:3]


class StepFailed(Exception):
    """What a step configured to ``raise`` raises."""


def make_step(events: list[str], name: str, outcome: str) -> Callable[[], Any]:
    async def step() -> None:
        events.append(f"{name}:begin")
        await anyio.sleep(0)
        if outcome == "hang":
            await anyio.sleep_forever()
        if outcome == "raise":
            raise StepFailed(name)
        events.append(f"{name}:end")

    step.__qualname__ = name
    return step


class Broker:
    def __init__(self, start: Callable[[], Any], close: Callable[[], Any]) -> None:
        self.start = start
        self.close = close


class LifespanApp(RuleBasedStateMachine):
    backend = "asyncio"

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.portal_cm: AbstractContextManager[BlockingPortal] | None = None
        self.comm: Communicator | None = None

    @initialize(outcomes=st.fixed_dictionaries({step: OUTCOMES for step in STEPS}))
    def start_app(self, outcomes: dict[str, str]) -> None:
        steps = {name: make_step(self.events, name, outcome) for name, outcome in outcomes.items()}
        app = AsgiFastStream(
            Broker(steps["broker.start"], steps["broker.close"]),
            on_startup=[steps["on_startup"]],
            after_startup=[steps["after_startup"]],
            on_shutdown=[steps["on_shutdown"]],
            after_shutdown=[steps["after_shutdown"]],
            startup_timeout=0.02,
            shutdown_timeout=0.02,
        )
        self.portal_cm = start_blocking_portal(self.backend)
        self.portal = self.portal_cm.__enter__()
        self.comm = self.portal.call(self._make_comm, app)
        self.portal.start_task_soon(self.comm.run)
        self.portal.call(self._settle)

    async def _make_comm(self, app: AsgiFastStream) -> Communicator:
        comm = Communicator(app, lifespan_scope({}))
        original = comm.send

        async def send(message: Any) -> None:
            self.events.append(f"sent:{message['type']}")
            await original(message)

        comm.send = send  # type: ignore[method-assign]
        return comm

    async def _settle(self) -> None:
        assert self.comm is not None
        with anyio.fail_after(10):  # "the run always ends": a hang fails here
            while not (self.comm.done.is_set() or self.comm.waiting.is_set()):
                await anyio.sleep(0.001)

    async def _put(self, message: Any) -> None:
        assert self.comm is not None
        await self.comm.put(message)
        await anyio.sleep(0)
        await self._settle()

    @precondition(lambda self: self.comm is not None and not self.comm.done.is_set())
    @rule(message=lifespan_message)
    def server_sends(self, message: Any) -> None:
        self.portal.call(self._put, message)

    @rule()
    def time_passes(self) -> None:
        """Always possible: lets background work (if any were left) show itself."""
        self.portal.call(anyio.sleep, 0.005)

    def sent(self) -> list[str]:
        return [e.removeprefix("sent:") for e in self.events if e.startswith("sent:")]

    @invariant()
    def at_most_one_reply_per_request(self) -> None:
        sent = self.sent()
        assert sum(t.startswith("lifespan.startup.") for t in sent) <= 1
        assert sum(t.startswith("lifespan.shutdown.") for t in sent) <= 1
        assert all(t.startswith(("lifespan.startup.", "lifespan.shutdown.")) for t in sent)

    @invariant()
    def complete_never_before_the_last_startup_step_finished(self) -> None:
        if "sent:lifespan.startup.complete" in self.events:
            before = self.events[: self.events.index("sent:lifespan.startup.complete")]
            assert all(f"{step}:end" in before for step in STARTUP_STEPS)

    @invariant()
    def shutdown_steps_run_at_most_once(self) -> None:
        for step in ("on_shutdown", "after_shutdown", "broker.close"):
            assert self.events.count(f"{step}:begin") <= 1

    @invariant()
    def shutdown_hooks_only_after_a_completed_startup(self) -> None:
        if "on_shutdown:begin" in self.events:
            assert "sent:lifespan.startup.complete" in self.events

    @invariant()
    def errors_are_ours_or_the_failing_steps(self) -> None:
        assert self.comm is not None
        error = self.comm.error
        assert error is None or isinstance(error, (AsgiCoreError, StepFailed)), repr(error)

    def teardown(self) -> None:
        if self.portal_cm is None:
            return
        try:
            assert self.comm is not None
            if not self.comm.done.is_set():
                self.portal.call(self._put, {"type": "lifespan.shutdown"})
            assert self.comm.done.is_set(), "the run did not end after lifespan.shutdown"
            if "broker.start:begin" in self.events:
                assert self.events.count("broker.close:begin") == 1
            else:
                assert "broker.close:begin" not in self.events
            self.comm.close()
        finally:
            self.portal_cm.__exit__(None, None, None)


class LifespanAppTrio(LifespanApp):
    backend = "trio"


_settings = settings(
    max_examples=40,
    stateful_step_count=4,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLifespanAppAsyncio = LifespanApp.TestCase
TestLifespanAppAsyncio.settings = _settings
TestLifespanAppTrio = LifespanAppTrio.TestCase
TestLifespanAppTrio.settings = _settings
