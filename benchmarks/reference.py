"""The least a bounded, table-driven lifespan cycle costs: a reference, not a contender.

``BoundedTableLifespan`` is the floor's lifespan loop plus exactly what issue 12 requires of any
lifespan asgi_core could ship, and nothing else, all in one coroutine:

- the protocol run as an explicit state machine: every input is looked up in asgi_core's own
  transition table (``_lifespan_machine.TRANSITIONS``, read by phase as asgi_core's driver reads
  it: ``BY_PHASE``), a pair outside it is an error;
- every received message checked (a dict with a known ``type``);
- every step bounded in time by asgi_core's own watchdog (``_concurrency._watchdog``: one watch
  per cycle, the task looked up once, one store per step), a step that overran cancelled and
  reported in ``*.failed``.

What it leaves out, and asgi_core does not: failing steps named with their exception chain,
undoing what started after a failed startup, brokers read after the ``on_startup`` hooks (which
may add some), lifespan contexts and mounted apps, lifespan state, cleanup after an aborted run,
and ``start()``/``stop()`` outside a server sharing the same steps. Its ratio to the floor is
the cost of "bounded" and "explicit state machine" alone; the benchmark's "bounded-table
reference" column shows it beside the contenders, so that a target below it reads as what it is.
It imports asgi_core's private modules on purpose: the same table and the same timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, NamedTuple

from benchmarks.fixtures import NoopBroker, Receive, Scope, Send
from benchmarks.floor import Hook, by_stage

__all__ = ["BoundedTableLifespan"]


class _Step(NamedTuple):
    call: Hook
    timed: bool = True


class BoundedTableLifespan:
    """One coroutine: receive, check, look up the table, run the bounded steps, reply."""

    def __init__(self, hooks: Sequence[Hook], broker: NoopBroker, timeout: float = 60.0) -> None:
        from asgi_core._concurrency._watchdog import _Watch
        from asgi_core._lifespan_machine import BY_PHASE, Action, Input, Phase

        stages = by_stage(hooks)
        self.starting = [
            _Step(hook) for hook in [*stages["on_startup"], broker.start, *stages["after_startup"]]
        ]
        self.stopping = [
            _Step(hook)
            for hook in [*stages["on_shutdown"], broker.close, *stages["after_shutdown"]]
        ]
        self.timeout = timeout
        self.watch = _Watch
        self.table = BY_PHASE
        self.inputs = {"lifespan.startup": Input.STARTUP, "lifespan.shutdown": Input.SHUTDOWN}
        self.idle, self.stopped = Phase.IDLE, Phase.STOPPED
        self.done, self.raised = Input.HOOKS_DONE, Input.HOOKS_RAISED
        self.actions = (
            Action.RUN_STARTUP,
            Action.SEND_STARTUP_COMPLETE,
            Action.RUN_SHUTDOWN,
            Action.SEND_SHUTDOWN_COMPLETE,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        run_startup, startup_complete, run_shutdown, shutdown_complete = self.actions
        table, inputs, timeout = self.table, self.inputs, self.timeout
        watch: Any = None
        phase, event, failure = self.idle, None, ""
        try:
            while True:
                if event is None:
                    message = await receive()
                    try:
                        event = inputs[message["type"]]
                    except Exception:
                        raise ValueError(f"not a lifespan message: {message!r}") from None
                try:
                    phase, action = table[phase][event]
                except KeyError:
                    raise RuntimeError(f"{event} is not valid in {phase}") from None
                if action is run_startup or action is run_shutdown:
                    if watch is None:
                        watch = self.watch(asyncio.current_task(), timeout)
                    else:
                        watch.renew(timeout)
                    failure = ""
                    for step in self.starting if action is run_startup else self.stopping:
                        watch.step = step
                        try:
                            await step.call()
                        except asyncio.CancelledError:
                            if not (watch.fired and watch.claim()):
                                raise
                            failure += f"{step.call!r} timed out; "
                        except Exception as exc:
                            failure += f"{exc!r}; "
                        else:
                            continue
                        if action is run_startup:  # a startup stops at its first failure
                            break
                    watch.dog.watches.discard(watch)
                    event = self.raised if failure else self.done
                elif action is startup_complete:
                    event = None
                    await send({"type": "lifespan.startup.complete"})
                elif action is shutdown_complete:
                    event = None
                    await send({"type": "lifespan.shutdown.complete"})
                    if phase is self.stopped:
                        return
                else:  # *.failed
                    await send({"type": action.value, "message": failure})
                    return
        finally:
            if watch is not None:
                watch.dog.watches.discard(watch)
