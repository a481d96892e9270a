"""The steps of a lifecycle stage: what each awaits, what names it, and how failures read.

* A ``Step`` is what to await, whether the stage's time limit applies, and what names it in
  messages (``on_startup hook app.connect``, ``broker.start() of RedisBroker #2``); the name
  is worked out only when a message needs it.
* ``plan_for`` makes the four hook stages and the brokers into a ``Plan``: the startup and
  shutdown steps of a run without contexts, as tuples. An ``async def`` without parameters is
  its own step's call (``HookCaller.step``), the same whatever the run; when every hook is one,
  the plan is kept in ``Hooks.memo`` and reused until a hook list changes (each drops it) or
  the broker list does: building a step anew for each hook of each lifespan cycle cost more
  than the hook, and comparing the lists item by item on each cycle a tenth of it.
* ``broker_steps`` builds the start and close steps of the brokers once per state of the list
  (``BrokerList.memo``, dropped on every change of it); their calls look the method up at each
  call, since FastStream's ``TestBroker`` and mocks replace them on the broker object.
* ``format_failures`` is the text of a ``lifespan.*.failed`` message; ``error_for`` what to raise.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from asgi_core._hooks import STAGES, Hooks, describe
from asgi_core.exceptions import HookError

if TYPE_CHECKING:
    from types import ModuleType

    from asgi_core._brokers import BrokerList
    from asgi_core._held import Held
    from asgi_core._hooks import HookCaller

__all__ = [
    "BrokerCall",
    "Exit",
    "Failure",
    "Plan",
    "Step",
    "Steps",
    "annotate",
    "broker_steps",
    "error_for",
    "format_failures",
    "plan_for",
]

NO_OPTIONS: Mapping[str, object] = {}  # the hooks after on_startup get no run options


class Step:
    """One step: what to await, whether our time limit applies, and what names it.

    The name (``on_startup hook app.connect``) is worked out only when a message needs it: most
    steps never fail.
    """

    __slots__ = ("call", "kind", "subject", "suffix", "timed")

    def __init__(
        self,
        call: Callable[[], Awaitable[object]],
        kind: str,  # "on_startup hook", "lifespan context", ...; "broker" (the subject names it)
        subject: object = None,  # a hook or a lifespan factory (described), or a broker call
        timed: bool = True,  # False: the step bounds itself (the mounted apps, app by app)
        suffix: str = "",
    ) -> None:
        self.call = call
        self.kind = kind
        self.subject = subject
        self.timed = timed
        self.suffix = suffix

    def __repr__(self) -> str:
        return f"<Step {self.name}>"

    @property
    def name(self) -> str:
        subject = self.subject
        if subject is None:
            return self.kind
        if isinstance(subject, BrokerCall):  # "broker.start() of RedisBroker #2"
            return str(subject)
        what = subject if isinstance(subject, str) else describe(subject)
        return f"{self.kind} {what}{self.suffix}"


Steps = Sequence[Step]


class Failure(NamedTuple):
    """A step that raised (or timed out), and what undoing the startup then raised."""

    step: str
    error: Exception
    cleanup: tuple[Failure, ...] = ()


class Plan:
    """The steps of every run without a context, while the hooks and the brokers stay the same.

    ``startup`` is the ``on_startup`` steps, each broker's start, then the ``after_startup``
    steps; the brokers' turn begins at ``at``.
    ``shutdown`` is the ``on_shutdown`` steps, the brokers' closes in reverse, then the
    ``after_shutdown`` steps. Built by ``plan_for`` and kept in ``Hooks.memo`` when every hook
    is its own step's call (``HookCaller.step``): building the steps anew for each lifespan
    cycle cost more than the hooks. ``pairs`` are the broker steps (``broker_steps``): the next
    run reuses the plan while ``Hooks.memo`` holds it and ``pairs`` is ``BrokerList.memo``.
    """

    __slots__ = (
        "after_shutdown",
        "after_startup",
        "at",
        "on_shutdown",
        "on_startup",
        "pairs",
        "shutdown",
        "startup",
    )

    def __init__(
        self, stages: tuple[Steps, Steps, Steps, Steps], pairs: tuple[tuple[Step, Step], ...]
    ) -> None:
        self.on_startup, self.after_startup, self.on_shutdown, self.after_shutdown = stages
        self.pairs = pairs
        self.at = len(self.on_startup)
        self.startup = (*self.on_startup, *(start for start, _ in pairs), *self.after_startup)
        self.shutdown = self.shutdown_with(pairs)

    def shutdown_with(self, pairs: tuple[tuple[Step, Step], ...]) -> tuple[Step, ...]:
        """The shutdown steps of a run whose brokers are ``pairs`` (all of them started)."""
        closes = [close for _, close in reversed(pairs)]
        return (*self.on_shutdown, *closes, *self.after_shutdown)


def plan_for(
    hooks: Hooks, brokers: BrokerList, caller: HookCaller, options: Mapping[str, object]
) -> Plan:
    """The steps of a run (``on_startup`` hooks get ``options``), kept in ``hooks.memo`` when
    every hook is its own step's call.

    The caller reuses ``hooks.memo`` instead while it is set (no hook list changed since) and
    its ``pairs`` are ``brokers.memo`` (the broker list did not change either).
    """
    current = (hooks.on_startup, hooks.after_startup, hooks.on_shutdown, hooks.after_shutdown)
    reusable = True
    made = []
    for stage, stage_hooks in zip(STAGES, current, strict=True):
        kind = _KINDS[stage]
        steps = []
        for hook in stage_hooks:
            call = caller.step(hook, options if stage == "on_startup" else NO_OPTIONS, kind)
            reusable = reusable and call is hook
            steps.append(Step(call, kind, hook))
        made.append(steps)
    plan = Plan((made[0], made[1], made[2], made[3]), broker_steps(brokers))
    hooks.memo = plan if reusable else None
    return plan


_KINDS = {stage: f"{stage} hook" for stage in STAGES}


def broker_steps(brokers: BrokerList) -> tuple[tuple[Step, Step], ...]:
    """The start and close steps of each broker, in order: built once per state of the list.

    Each calls its broker's method as looked up at that call, not once: FastStream's
    ``TestBroker`` and mocks replace ``start``/``stop`` on the broker object (``_CALLS``).
    """
    steps = brokers.memo
    if steps is None:
        closer_name = _brokers().closer_name
        items = brokers.items
        of = len(items)
        steps = brokers.memo = tuple(
            (
                _broker_step(broker, "start", n, of),
                _broker_step(broker, closer_name(broker), n, of),
            )
            for n, broker in enumerate(items, 1)
        )
    return steps


def _broker_step(broker: object, method: str, n: int, of: int) -> Step:
    return Step(_CALLS[method](broker), "broker", BrokerCall(broker, method, n, of))


# What a broker step calls, by method name. The method is looked up at each call, by name in
# the code: no getattr and no bound method (CPython 3.11 runs this frame inside the caller's
# interpreter loop, cheaper than partial(methodcaller(name), broker) in C).
_CALLS: dict[str, Callable[[Any], Callable[[], Awaitable[object]]]] = {
    "start": lambda broker: lambda: broker.start(),
    "stop": lambda broker: lambda: broker.stop(),
    "close": lambda broker: lambda: broker.close(),
}


class BrokerCall(NamedTuple):
    """What a broker step calls; its ``str`` names the step: ``broker.start() of Broker #2``."""

    broker: object
    method: str  # "start", "stop" (newer FastStream) or "close"
    n: int
    of: int

    def __str__(self) -> str:
        return f"broker.{self.method}() of {_brokers().label(self.broker, self.n, self.of)}"


class Exit:
    """``held.exit(error)`` as a step's call."""

    __slots__ = ("error", "held")

    def __init__(self, held: Held, error: BaseException | None) -> None:
        self.held = held
        self.error = error

    def __call__(self) -> Awaitable[None]:
        return self.held.exit(self.error)


_BROKERS: ModuleType | None = None


def _brokers() -> ModuleType:
    """``_brokers.py``, loaded with the first broker (not by ``import asgi_core``)."""
    global _BROKERS
    if _BROKERS is None:
        import asgi_core._brokers as brokers

        _BROKERS = brokers
    return _BROKERS


def format_failures(stage: str, failures: Sequence[Failure]) -> str:
    """The text of a ``lifespan.*.failed`` message: each failing step and its exception chain."""
    import traceback

    parts = []
    for failure in failures:
        chain = "".join(traceback.format_exception(failure.error)).rstrip()
        parts.append(f"{stage} failed in {failure.step}:\n{chain}")
        if failure.cleanup:
            parts.append(format_failures("undoing the startup", failure.cleanup))
    return "\n\n".join(parts)


def error_for(stage: str, failures: Sequence[Failure]) -> Exception:
    """What to raise for failed steps: the original exception, or one ``HookError`` for several."""
    if len(failures) == 1:
        return failures[0].error
    return HookError(
        f"{len(failures)} {stage} steps failed: " + "; ".join(f.step for f in failures),
        stage=stage,
        step=", ".join(f.step for f in failures),
        errors=tuple(f.error for f in failures),
    )


def annotate(error: BaseException, note: str) -> None:
    """Name the failing step in the traceback of the original exception (Python 3.11+)."""
    add_note = getattr(error, "add_note", None)
    if add_note is not None and note not in getattr(error, "__notes__", ()):
        add_note(note)
