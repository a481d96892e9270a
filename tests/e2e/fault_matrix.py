"""The fault-injection matrix: what a user sees when one step fails, per server.

Each cell is one real server process on 127.0.0.1 serving ``tests/fixtures/serving/fault_app.py``
with one ``FAULT_MODE``. ``observe`` runs it and returns an ``Outcome``; ``EXPECTED`` holds what
each cell was seen to do; ``DEVIATIONS`` names every way a cell differs from the ideal (``RULES``)
and why. ``tests/e2e/test_fault_matrix.py`` asserts all three agree, and the table in
``docs/failure-matrix.md`` is rendered from ``EXPECTED`` and ``DEVIATIONS`` only, so the
document says what the tests assert.

    python -m tests.e2e.fault_matrix --write docs/failure-matrix.md   # run all cells, then write
    python -m tests.e2e.fault_matrix --check docs/failure-matrix.md   # is the file up to date?

``--write`` runs every cell first and refuses to write while any observation differs from
``EXPECTED`` (update ``EXPECTED`` and ``DEVIATIONS`` from what it prints); ``--no-run`` only
renders.
"""

from __future__ import annotations

import argparse
import pathlib
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

from tests.e2e.servers import CHECKOUT, Served, free_port, http_get, served
from tests.fixtures.serving.fault_app import MODES, SLOW_SECONDS, STEP_TIMEOUT

__all__ = [
    "ALSO_SEEN",
    "APP",
    "DEVIATIONS",
    "DOC",
    "EXPECTED",
    "MODES",
    "RULES",
    "SETUPS",
    "STARTED",
    "STOPPED",
    "Outcome",
    "agrees",
    "broken_rules",
    "main",
    "observe",
    "render",
]

DOC = CHECKOUT / "docs" / "failure-matrix.md"
APP = "tests.fixtures.serving.fault_app:app"
EXIT_DEADLINE = 15.0  # a failed startup must end the process by then
SECOND_SIGNAL_WITHIN = 5.0  # sigint_twice: wait this long for the slow hook to start, then SIGINT

SETUPS: dict[str, tuple[str, ...]] = {
    "uvicorn": ("uvicorn", APP, "--host", "127.0.0.1", "--port", "{port}"),
    "hypercorn": ("hypercorn", APP, "--bind", "127.0.0.1:{port}"),
    "granian": ("granian", "--interface", "asgi", "--host", "127.0.0.1", "--port", "{port}", APP),
    "gunicorn + uvicorn-worker": (
        "gunicorn",
        APP,
        "-k",
        "uvicorn_worker.UvicornWorker",
        "-b",
        "127.0.0.1:{port}",
        "-w",
        "1",
        "--graceful-timeout",
        "8",
        "--no-control-socket",
    ),
    "asgi-core run": ("asgi_core", "run", APP, "--port", "{port}"),
    "asgi-core run --server gunicorn": (
        "asgi_core",
        "run",
        APP,
        "--port",
        "{port}",
        "--server",
        "gunicorn",
    ),
    "hypercorn --worker-class trio": (
        "hypercorn",
        APP,
        "--bind",
        "127.0.0.1:{port}",
        "--worker-class",
        "trio",
    ),
    "uvicorn --workers 2": (
        "uvicorn",
        APP,
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--workers",
        "2",
    ),
    "gunicorn + uvicorn-worker -w 2": (
        "gunicorn",
        APP,
        "-k",
        "uvicorn_worker.UvicornWorker",
        "-b",
        "127.0.0.1:{port}",
        "-w",
        "2",
        "--graceful-timeout",
        "8",
        "--no-control-socket",
    ),
    "asgi-core run --workers 2": ("asgi_core", "run", APP, "--port", "{port}", "--workers", "2"),
    "daphne": ("daphne", "-b", "127.0.0.1", "-p", "{port}", APP),
}
# worker processes that each run the app (and its lifespan); 1 if not listed
WORKERS = {
    "uvicorn --workers 2": 2,
    "gunicorn + uvicorn-worker -w 2": 2,
    "asgi-core run --workers 2": 2,
}
NO_LIFESPAN = frozenset({"daphne"})  # servers that never send lifespan events

STARTUP_FAULTS = (
    "on_startup_raises",
    "broker_start_raises",
    "after_startup_raises",
    "startup_hangs",
    "lifespan_enter_raises",
    "one_worker_fails",
)
ONE_WORKER = "one_worker_fails"  # the others start and serve: they are expected to stop
ALL_WORKERS = tuple(mode for mode in STARTUP_FAULTS if mode != ONE_WORKER)
SHUTDOWN_FAULTS = ("on_shutdown_raises", "broker_close_raises", "shutdown_hangs")
HANGS = ("startup_hangs", "shutdown_hangs")
SLOW_STARTUP = "sigterm_during_slow_startup"  # SIGTERM before the app serves: not probed

DESCRIPTIONS = {
    "on_startup_raises": "an `on_startup` hook raises",
    "broker_start_raises": "`broker.start()` raises",
    "after_startup_raises": "an `after_startup` hook raises",
    "startup_hangs": f"an `on_startup` hook hangs (limit {STEP_TIMEOUT:g} s)",
    "lifespan_enter_raises": "the user `lifespan` raises on enter",
    ONE_WORKER: "`on_startup` raises in the first worker only, once another has served",
    "on_shutdown_raises": "an `on_shutdown` hook raises (on SIGTERM)",
    "broker_close_raises": "`broker.close()` raises (on SIGTERM)",
    "shutdown_hangs": f"an `on_shutdown` hook hangs (limit {STEP_TIMEOUT:g} s; on SIGTERM)",
    "sigterm_during_slow_startup": f"SIGTERM while an `on_startup` hook takes {SLOW_SECONDS:g} s",
    "sigint_twice": f"SIGINT, and again while an `on_shutdown` hook takes {SLOW_SECONDS:g} s",
}

_HOOK = "tests.fixtures.serving.fault_app.make_app.<locals>."
FAILING_STEP = {
    "on_startup_raises": f"startup failed in on_startup hook {_HOOK}connect",
    "broker_start_raises": "startup failed in broker.start() of FaultBroker",
    "after_startup_raises": f"startup failed in after_startup hook {_HOOK}ready",
    "startup_hangs": f"startup failed in on_startup hook {_HOOK}connect",
    "lifespan_enter_raises": f"startup failed in lifespan context {_HOOK}lifespan (enter)",
    ONE_WORKER: f"startup failed in on_startup hook {_HOOK}connect",
    "on_shutdown_raises": f"shutdown failed in on_shutdown hook {_HOOK}drain",
    "broker_close_raises": "shutdown failed in broker.close() of FaultBroker",
    "shutdown_hangs": f"shutdown failed in on_shutdown hook {_HOOK}drain",
}

STARTED = ("lifespan.enter", "on_startup", "broker.start", "after_startup")
STOPPED = (
    "on_shutdown.drain",
    "on_shutdown.flush",
    "broker.close",
    "after_shutdown",
    "lifespan.exit",
)
SHUTDOWN_HOOKS = frozenset(("on_shutdown.drain", "on_shutdown.flush", "after_shutdown"))


Steps = tuple[str, ...]


class Outcome(NamedTuple):
    """What a user sees of one cell."""

    served: bool  # an HTTP request got an answer (while startup failed: the app was broken)
    status: int  # the exit status of the server's main process
    step_logged: bool  # the log names the failing step ("startup failed in ...")
    tracebacks: int  # how often the log holds our exception chain
    steps: tuple[Steps, ...]  # each worker's steps in the order they ran (workers sorted)


# What each mode does to the steps when every server behaves ideally.
IDEAL_STEPS = {
    "on_startup_raises": ("lifespan.enter", "on_startup", "lifespan.exit"),
    "broker_start_raises": (*STARTED[:3], "broker.close", "lifespan.exit"),
    "after_startup_raises": (*STARTED, "broker.close", "lifespan.exit"),
    "startup_hangs": ("lifespan.enter", "on_startup", "lifespan.exit"),
    "lifespan_enter_raises": ("lifespan.enter",),
    ONE_WORKER: ("lifespan.enter", "on_startup", "lifespan.exit"),  # the worker that fails
    "on_shutdown_raises": STARTED + STOPPED,
    "broker_close_raises": STARTED + STOPPED,
    "shutdown_hangs": STARTED + STOPPED,
    "sigterm_during_slow_startup": (*STARTED[:2], "on_startup.finished", *STARTED[2:], *STOPPED),
    "sigint_twice": (*STARTED, "on_shutdown.drain", "on_shutdown.drain.finished", *STOPPED[1:]),
}


def _server(
    setup: str,
    *,
    startup_failed: int,
    stopped: int,
    sigint: int | None = None,
    startup_tracebacks: int = 1,
    shutdown_tracebacks: int = 1,
    sigint_steps: Steps | None = None,
    shutdown_logged: bool = True,
) -> dict[tuple[str, str], Outcome]:
    """Every cell of ``setup``: the ideal outcome, but for the statuses and quirks given.

    Every worker runs the same steps; the log holds one chain per worker.
    """
    workers = WORKERS.get(setup, 1)
    cells = {}
    for mode in MODES:
        startup_fault = mode in STARTUP_FAULTS
        outcome = Outcome(
            served=not startup_fault and mode != "sigterm_during_slow_startup",
            status=startup_failed if startup_fault else stopped,
            step_logged=mode in FAILING_STEP,
            tracebacks=workers
            * (
                startup_tracebacks
                if startup_fault
                else shutdown_tracebacks * int(mode in FAILING_STEP)
            ),
            steps=(IDEAL_STEPS[mode],) * workers,
        )
        if mode == "sigint_twice":
            outcome = outcome._replace(
                status=stopped if sigint is None else sigint,
                steps=(IDEAL_STEPS[mode] if sigint_steps is None else sigint_steps,) * workers,
            )
        if mode in SHUTDOWN_FAULTS and not shutdown_logged:
            outcome = outcome._replace(step_logged=False, tracebacks=0)
        if mode == ONE_WORKER:  # the others served, then ran their whole shutdown
            others = (STARTED + STOPPED,) * (workers - 1)
            outcome = outcome._replace(
                served=workers > 1,
                tracebacks=startup_tracebacks,
                steps=tuple(sorted((IDEAL_STEPS[mode], *others))),
            )
        cells[setup, mode] = outcome
    return cells


def _no_lifespan(setup: str, *, stopped: int) -> dict[tuple[str, str], Outcome]:
    """Every cell of a server without lifespan: no step runs, the app serves, no fault shows."""
    return {
        (setup, mode): Outcome(
            served=True, status=stopped, step_logged=False, tracebacks=0, steps=()
        )
        for mode in MODES
    }


# What each cell was seen to do (and is asserted to do).
EXPECTED: dict[tuple[str, str], Outcome] = {
    # uvicorn re-raises SIGTERM after its graceful shutdown (-15); after SIGINT it exits 0
    **_server("uvicorn", startup_failed=3, stopped=-15, sigint=0),
    # hypercorn raises from send() after *.failed, then logs the error: the report is printed
    # by us (the send failed) and by hypercorn
    **_server(
        "hypercorn", startup_failed=0, stopped=0, startup_tracebacks=2, shutdown_tracebacks=2
    ),
    # granian logs the exception we re-raise after lifespan.startup.failed a second time
    **_server("granian", startup_failed=1, stopped=0, startup_tracebacks=2),
    # SIGINT to gunicorn's arbiter sends SIGQUIT to the worker, which uvicorn-worker ignores
    # until gunicorn gives up and kills it: no shutdown step runs
    **_server("gunicorn + uvicorn-worker", startup_failed=3, stopped=0, sigint_steps=STARTED),
    **_server("asgi-core run", startup_failed=3, stopped=0),
    **_server("asgi-core run --server gunicorn", startup_failed=3, stopped=0),
    # hypercorn's trio worker raises from send() after *.failed; it logs a failed startup (so
    # the report shows twice), and drops a failed shutdown, which only our log line then shows
    **_server("hypercorn --worker-class trio", startup_failed=0, stopped=0, startup_tracebacks=2),
    # uvicorn exits 3 after a failed startup only when it runs one process
    **_server("uvicorn --workers 2", startup_failed=0, stopped=0),
    **_server("gunicorn + uvicorn-worker -w 2", startup_failed=3, stopped=0, sigint_steps=STARTED),
    **_server("asgi-core run --workers 2", startup_failed=3, stopped=0),
    **_no_lifespan("daphne", stopped=0),
}


class Rule(NamedTuple):
    """One property every cell of some modes should have."""

    modes: tuple[str, ...]
    holds: Callable[[str, Outcome], bool]
    text: str


def _broker_closed_once_if_started(mode: str, outcome: Outcome) -> bool:
    return all(s.count("broker.close") == min(1, s.count("broker.start")) for s in outcome.steps)


def _every_step_ran(mode: str, outcome: Outcome) -> bool:
    return bool(outcome.steps) and all(steps == IDEAL_STEPS[mode] for steps in outcome.steps)


def _ran(outcome: Outcome) -> set[str]:
    return {step for steps in outcome.steps for step in steps}


def _chains(mode: str, outcome: Outcome) -> int:
    """How many exception chains the log should hold: one per failing worker."""
    return 1 if mode == ONE_WORKER else max(1, len(outcome.steps))


def _others_stopped(mode: str, outcome: Outcome) -> bool:
    full = STARTED + STOPPED
    failed = outcome.steps.count(IDEAL_STEPS[mode])
    return failed == 1 and all(steps in (IDEAL_STEPS[mode], full) for steps in outcome.steps)


RULES: dict[str, Rule] = {
    "no traffic": Rule(
        ALL_WORKERS,
        lambda mode, o: not o.served,
        "no HTTP request is answered by the app whose startup failed",
    ),
    "non-zero exit": Rule(
        STARTUP_FAULTS, lambda mode, o: o.status != 0, "the process exits with a non-zero status"
    ),
    "step named": Rule(
        tuple(FAILING_STEP), lambda mode, o: o.step_logged, "the log names the failing step"
    ),
    "traceback once": Rule(
        tuple(FAILING_STEP),
        lambda mode, o: o.tracebacks == _chains(mode, o),
        "the log holds the exception chain exactly once per failing worker",
    ),
    "no shutdown hooks": Rule(
        ALL_WORKERS,
        lambda mode, o: not SHUTDOWN_HOOKS & _ran(o),
        "shutdown hooks do not run after a failed startup (only what started is undone)",
    ),
    "every step ran": Rule(
        (*SHUTDOWN_FAULTS, "sigterm_during_slow_startup", "sigint_twice"),
        _every_step_ran,
        "every startup step and then every shutdown step ran, each once, in order",
    ),
    "others stopped": Rule(
        (ONE_WORKER,),
        _others_stopped,
        "when one worker fails to start, the server stops (exits) and every other worker runs "
        "its whole shutdown: none serves on beside a failed one",
    ),
    "broker closed once": Rule(
        MODES,
        _broker_closed_once_if_started,
        "a broker whose start() was called is closed exactly once",
    ),
}


# Every (cell, rule) that does not hold, and why: asserted, and listed in the document.
_GUNICORN_SIGINT = (
    "gunicorn's arbiter answers SIGINT with a quick shutdown: it sends SIGQUIT to the worker, "
    "which uvicorn-worker does not turn into uvicorn's shutdown, waits `--graceful-timeout` "
    "(8 s here, 30 s by default; a second SIGINT changes nothing) and kills the worker. The "
    "lifespan shutdown never starts, so no shutdown step runs. Stop gunicorn with SIGTERM, "
    "or run it with `asgi-core run --server gunicorn`"
)
_DAPHNE = {
    "no traffic": "daphne sends no lifespan events, so no step runs and the fault never "
    "happens: the app answers requests with its hooks never run and its broker never started "
    "(use another server for an app with hooks or a broker)",
    "non-zero exit": "nothing failed, so daphne exits 0 on SIGTERM",
    "step named": "no step runs, so the log names none",
    "traceback once": "nor any exception chain",
    "every step ran": "no startup or shutdown step runs at all under daphne",
    "others stopped": "no worker fails, so daphne serves on until it is stopped",
}
_HYPERCORN_TWICE = (
    "hypercorn raises from `send` when it gets the `*.failed` message, and asgi_core then logs "
    "the report itself, since a server that raises there may drop it (hypercorn's trio worker "
    "does after a failed shutdown); hypercorn logs it too, so the chain is printed twice"
)
DEVIATIONS: dict[tuple[str, str], dict[str, str]] = {
    **{
        ("hypercorn", mode): {
            "non-zero exit": "hypercorn (one worker) exits 0 after a failed startup; "
            "its log shows `Lifespan failure in startup`",
            "traceback once": _HYPERCORN_TWICE,
        }
        for mode in STARTUP_FAULTS
    },
    **{("hypercorn", mode): {"traceback once": _HYPERCORN_TWICE} for mode in SHUTDOWN_FAULTS},
    **{
        ("granian", mode): {
            "traceback once": "granian logs the `lifespan.startup.failed` message (the chain, "
            "once), then logs `ASGI lifespan startup failed` with the exception asgi_core "
            "re-raises after sending that message, so the chain is printed twice"
        }
        for mode in STARTUP_FAULTS
    },
    ("gunicorn + uvicorn-worker", "sigint_twice"): {
        "every step ran": _GUNICORN_SIGINT,
        "broker closed once": "so the broker is never closed",
    },
    **{
        ("hypercorn --worker-class trio", mode): {
            "non-zero exit": "hypercorn exits 0 after a failed startup with its trio worker too",
            "traceback once": _HYPERCORN_TWICE,
        }
        for mode in STARTUP_FAULTS
    },
    **{
        ("uvicorn --workers 2", mode): {
            "non-zero exit": "uvicorn's supervisor stops every worker once one has failed to "
            "start, then exits 0: uvicorn exits 3 only when it runs a single process. Watch the "
            "log (`Child process [...] failed to start`) or a readiness probe"
        }
        for mode in STARTUP_FAULTS
    },
    ("gunicorn + uvicorn-worker -w 2", "sigint_twice"): {
        "every step ran": _GUNICORN_SIGINT.replace("the worker", "each worker"),
        "broker closed once": "so the broker is never closed",
    },
    **{
        ("daphne", mode): {
            rule: text for rule, text in _DAPHNE.items() if mode in RULES[rule].modes
        }
        for mode in MODES
    },
}


class Alternative(NamedTuple):
    """Another outcome a cell may have, as the server races, and why."""

    outcome: Outcome
    why: str


_REAPED_TWICE = (
    "gunicorn 27 races when several workers fail to boot: the arbiter reaps the second failed "
    "worker while it is already halting for the first, raises `HaltServer` out of `halt()` and "
    "exits 1 with a traceback instead of 3 (`asgi-core run --workers 2` exits 3 either way)"
)
_STOPPED_EARLY = (
    "when the first worker fails, the {0} stops the others at once: one that had not yet begun "
    "its startup is ended by the SIGTERM and runs no step (it had nothing to undo)"
)


def _raced(
    setup: str, stopper: str, *, reaped_twice: bool
) -> dict[tuple[str, str], tuple[Alternative, ...]]:
    """A multi-worker setup's other outcomes when every worker fails to start."""
    cells = {}
    for mode in ALL_WORKERS:
        expected = EXPECTED[setup, mode]
        one = expected._replace(tracebacks=expected.tracebacks // 2, steps=expected.steps[:1])
        cells[setup, mode] = (
            *([Alternative(expected._replace(status=1), _REAPED_TWICE)] if reaped_twice else []),
            Alternative(one, _STOPPED_EARLY.format(stopper)),
        )
    return cells


# Cells that may also end otherwise, as the server races: each other outcome, and why.
ALSO_SEEN: dict[tuple[str, str], tuple[Alternative, ...]] = {
    **_raced("uvicorn --workers 2", "supervisor", reaped_twice=False),
    **_raced("gunicorn + uvicorn-worker -w 2", "arbiter", reaped_twice=True),
    **_raced("asgi-core run --workers 2", "arbiter", reaped_twice=False),
    ("daphne", "sigint_twice"): (
        Alternative(
            EXPECTED["daphne", "sigint_twice"]._replace(status=-2),
            "the second SIGINT can reach daphne before it has finished stopping (no hook slows "
            "it down, so the test sends it after its wait); daphne then dies of that signal",
        ),
    ),
}


def agrees(setup: str, mode: str, seen: Outcome) -> bool:
    """Whether ``seen`` is what ``EXPECTED`` (or one of the ``ALSO_SEEN``) says."""
    others = [other.outcome for other in ALSO_SEEN.get((setup, mode), ())]
    return seen == EXPECTED[setup, mode] or seen in others


def broken_rules(mode: str, outcome: Outcome) -> set[str]:
    """The names of the ``RULES`` for ``mode`` that ``outcome`` breaks."""
    return {
        name for name, rule in RULES.items() if mode in rule.modes and not rule.holds(mode, outcome)
    }


# -- running one cell ----------------------------------------------------------------------------


def _answers(port: int) -> bool:
    try:
        http_get(port, "/", timeout=0.5)
    except OSError:
        return False
    return True


def _count(text: str, mode: str) -> int:
    """How often ``text`` holds our exception chain for ``mode`` (0 if part of it is missing)."""
    if mode in HANGS:
        stage = "startup" if mode in STARTUP_FAULTS else "shutdown"
        return text.count(f"HookTimeoutError: {stage} step")
    return min(
        text.count(f"RuntimeError: fault injected: {mode}"), text.count(f"root cause of {mode}")
    )


def _run_cell(proc: Served, setup: str, mode: str, release: pathlib.Path) -> tuple[bool, int]:
    """Drive the process through ``mode``; return whether it served, and its exit status."""
    workers = WORKERS.get(setup, 1)
    if mode == ONE_WORKER:  # let the first worker fail once another one has served
        if workers > 1:
            proc.wait_ready("/")
        release.touch()
    if setup in NO_LIFESPAN:  # nothing to wait for: the fault never happens
        proc.wait_ready("/")
        if mode == "sigint_twice":
            proc.process.send_signal(signal.SIGINT)
            return True, proc.stop(signal.SIGINT)
        return True, proc.stop(signal.SIGTERM)
    if mode in STARTUP_FAULTS:
        served_any = mode == ONE_WORKER and workers > 1
        deadline = time.monotonic() + EXIT_DEADLINE
        while proc.process.poll() is None and time.monotonic() < deadline:
            served_any = _answers(proc.port) or served_any
            time.sleep(0.1)
        return served_any, proc.wait()
    if mode == "sigterm_during_slow_startup":
        proc.wait_for_lines("on_startup", workers)
        return False, proc.stop(signal.SIGTERM)
    proc.wait_ready("/")
    proc.wait_for_lines("after_startup", workers)
    if mode == "sigint_twice":
        proc.process.send_signal(signal.SIGINT)
        proc.wait_for_lines("on_shutdown.drain", workers, within=SECOND_SIGNAL_WITHIN)
        return True, proc.stop(signal.SIGINT)
    return True, proc.stop(signal.SIGTERM)


def _by_worker(records: list[str]) -> tuple[Steps, ...]:
    """Each process's steps (``<step> pid=N`` lines), sorted so the order of workers is fixed."""
    steps: dict[str, list[str]] = {}
    for line in records:
        step, _, pid = line.partition(" pid=")
        steps.setdefault(pid, []).append(step)
    return tuple(sorted(tuple(worker) for worker in steps.values()))


def observe(setup: str, mode: str, directory: pathlib.Path) -> Outcome:
    """Run ``mode`` under ``setup`` in a fresh process; what a user would have seen."""
    port = free_port()
    args = [arg.replace("{port}", str(port)) for arg in SETUPS[setup]]
    release = directory / "release"
    env = {"FAULT_MODE": mode, "E2E_RELEASE": str(release)}
    with served(args, directory, port=port, env=env, name="cell") as proc:
        served_any, status = _run_cell(proc, setup, mode, release)
        log = proc.output()
        steps = _by_worker(proc.records())
    return Outcome(
        served=served_any,
        status=status,
        step_logged=mode in FAILING_STEP and FAILING_STEP[mode] in log,
        tracebacks=_count(log, mode) if mode in FAILING_STEP else 0,
        steps=steps,
    )


# -- the document --------------------------------------------------------------------------------

_SHORT = {
    "on_shutdown.drain": "drain",
    "on_shutdown.drain.finished": "drain",
    "on_shutdown.flush": "flush",
    "broker.close": "broker.close",
    "after_shutdown": "after_shutdown",
    "lifespan.exit": "lifespan exit",
}


def _after_fault(steps: Steps) -> str:
    """The clean-up steps that ran, as a user would list them."""
    ran = [_SHORT[step] for step in steps if step in _SHORT]
    names = list(dict.fromkeys(ran))
    return ", ".join(names) if names else "none"


def _broker(steps: Steps) -> str:
    closes = steps.count("broker.close")
    if "broker.start" not in steps:
        return "not started"
    return {0: "**never**", 1: "once"}.get(closes, f"**{closes} times**")


def _per_worker(outcome: Outcome, show: Callable[[Steps], str]) -> str:
    """``show`` of the steps: once if every worker did the same, else worker by worker."""
    shown = [show(steps) for steps in outcome.steps] or [show(())]
    if len(set(shown)) == 1:
        return shown[0] + (f" (each of {len(shown)} workers)" if len(shown) > 1 else "")
    return "; ".join(f"worker {number}: {text}" for number, text in enumerate(shown, 1))


def _times(outcome: Outcome) -> str:
    count, workers = outcome.tracebacks, max(1, len(outcome.steps))
    if workers > 1 and count % workers == 0 and count:
        return {1: "once per worker"}.get(count // workers, f"**{count // workers} per worker**")
    return {0: "no", 1: "once", 2: "**twice**"}.get(count, f"**{count} times**")


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _exits(setup: str, mode: str) -> str:
    others = [other.outcome.status for other in ALSO_SEEN.get((setup, mode), ())]
    statuses = dict.fromkeys([EXPECTED[setup, mode].status, *others])
    return " or ".join(str(status) for status in statuses)


def _cell_row(setup: str, mode: str) -> str:
    outcome = EXPECTED[setup, mode]
    failing = mode in FAILING_STEP
    marks = sorted(DEVIATIONS.get((setup, mode), {}))
    cells = [
        DESCRIPTIONS[mode],
        "not probed" if mode == SLOW_STARTUP and setup not in NO_LIFESPAN else _yes(outcome.served),
        _exits(setup, mode),
        ("yes" if outcome.step_logged else "**no**") if failing else "n/a",
        _times(outcome) if failing else "n/a",
        _per_worker(outcome, _after_fault),
        _per_worker(outcome, _broker),
        "; ".join(marks) if marks else "",
    ]
    return "| " + " | ".join(cells) + " |"


# What a setup does with its workers (or without lifespan), rendered under its command.
SETUP_NOTES = {
    "hypercorn --worker-class trio": "The app runs on trio in hypercorn's worker process: "
    "asgi_core's steps and limits behave as on asyncio; hypercorn's trio worker differs in "
    "what it logs of a failed shutdown: it drops the report, which only asgi_core's own log line "
    "then shows.",
    "uvicorn --workers 2": "uvicorn's supervisor spawns 2 worker processes; each imports the "
    "app and runs its own lifespan, so every step runs once per worker. On SIGTERM or SIGINT "
    "it signals every worker and each runs its whole shutdown. When a worker fails to start, "
    "the supervisor stops the other workers (each runs its whole shutdown) and exits, **with "
    "status 0**.",
    "gunicorn + uvicorn-worker -w 2": "gunicorn's arbiter forks 2 workers; each imports the "
    "app and runs its own lifespan. On SIGTERM each worker runs its whole shutdown. When a "
    "worker fails to start (uvicorn-worker exits with gunicorn's boot-error status 3), the "
    "arbiter stops the other workers (each runs its whole shutdown) and exits 3, or 1 when "
    "two fail at once (see the notes).",
    "asgi-core run --workers 2": "gunicorn (the default runner for several workers) forks 2 "
    "workers from the process that imported the app; each runs its own lifespan with "
    "`worker_id` 0 or 1. When a worker fails to start, the arbiter stops the other workers "
    "(each runs its whole shutdown) and `asgi-core run` exits 3, however many failed. SIGINT "
    "is a graceful stop too.",
    "daphne": "**daphne has no lifespan support**: no hook runs, `broker.start()` is never "
    "called, and the app answers requests (asgi_core's own 404 here) as if it had started, "
    "whatever fault is injected. Every row below is the same; use another server for an app "
    "with hooks or a broker.",
}

FINDINGS = (
    "No server that runs the lifespan answered a request from an app whose startup failed, "
    "and every log names the failing step: asgi_core reports the failure with "
    "`lifespan.startup.failed` before any server starts serving. **daphne runs no lifespan**: "
    "it serves the app with no hook run and no broker started, whatever the fault (its row).",
    "With several workers every worker runs every step once. When one worker fails to start "
    "after another has begun serving, every server tested stops the others (each runs its "
    "whole shutdown) and exits: none keeps serving beside a failed worker.",
    "The exit status after a failed startup is 3 under uvicorn (one process), gunicorn + "
    "uvicorn-worker and `asgi-core run` (any number of workers), 1 under granian, 3 or 1 under "
    "gunicorn with several failing workers, and **0 under hypercorn (either worker class) and "
    "uvicorn `--workers 2`**: there, watch the log or a readiness probe, not the exit status.",
    "A hung step is ended by asgi_core's own limit (`startup_timeout`, `shutdown_timeout`) and "
    "then reported like a step that raised; no server bounds it.",
    "No server interrupts a slow startup on SIGTERM: each waits for it to finish (at most "
    "`startup_timeout`), then runs the whole shutdown, so the broker is still closed once.",
    "A failing shutdown step never stops the others: the remaining hooks, `broker.close()` "
    "and the lifespan exit run, and the broker is closed exactly once, on every server. "
    "hypercorn's trio worker drops the `lifespan.shutdown.failed` report; asgi_core logs it "
    "when `send` raises, so the failing step is named there too.",
    "A second SIGINT does not cut a running shutdown short (uvicorn, hypercorn, granian, "
    "`asgi-core run`). Under gunicorn's own CLI SIGINT skips the shutdown altogether (see its "
    "notes); `asgi-core run --server gunicorn` turns it into a graceful stop.",
)


def _command(setup: str) -> str:
    args = " ".join(SETUPS[setup]).replace("{port}", "PORT")
    return f"python -m {args}".replace(APP, "tests.fixtures.serving.fault_app:app")


def _overview() -> list[str]:
    lines = [
        "| failure | " + " | ".join(SETUPS) + " |",
        "|---|" + "---|" * len(SETUPS),
    ]
    for mode in MODES:
        cells = [
            f"exit {_exits(setup, mode)}" + (" ⚠" if (setup, mode) in DEVIATIONS else "")
            for setup in SETUPS
        ]
        lines.append(f"| {DESCRIPTIONS[mode]} | " + " | ".join(cells) + " |")
    return lines


def render() -> str:
    """``docs/failure-matrix.md`` from ``EXPECTED`` and ``DEVIATIONS``."""
    lines = [
        "# What users see when a step fails, per server",
        "",
        "<!-- Generated by `python -m tests.e2e.fault_matrix --write docs/failure-matrix.md` "
        "from the expectations that tests/e2e/test_fault_matrix.py asserts; do not edit. -->",
        "",
        "Each cell is one real server process on 127.0.0.1 serving "
        "`tests/fixtures/serving/fault_app.py` with one failure injected (`FAULT_MODE`); the "
        "end-to-end tests run all of them and assert every value below. The app's steps are "
        f"limited to {STEP_TIMEOUT:g} s each, so a hang ends quickly. Ideally a startup "
        "failure leaves no running-but-broken app, names the failing step, prints the "
        "exception chain once and ends the process with a non-zero status, and a shutdown "
        "failure still runs every other step and closes the broker exactly once. Where a "
        "server does otherwise, the cell is marked ⚠ and the notes under its table say why.",
        "",
        "## Overview: exit status of the server's main process",
        "",
        *_overview(),
        "",
        "## What the matrix shows",
        "",
        *[f"- {finding}" for finding in FINDINGS],
        "",
        "## The rules",
        "",
        *[f"- **{name}**: {rule.text}." for name, rule in RULES.items()],
        "",
        "Columns below: *served*: an HTTP request got an answer (after a failed startup the "
        "server is probed until it exits; in the shutdown rows the app was up on purpose; "
        "the slow startup is not probed); *exit*: the main process's exit status; *step*: "
        "the log names the failing step (`startup failed in on_startup hook ...`); "
        "*traceback*: how often the log holds our exception chain; *clean-up that ran*: the "
        "shutdown steps that ran (after a failed startup only what had started is undone); "
        "*broker closed*: how often `broker.close()` ran.",
    ]
    for setup in SETUPS:
        lines += [
            "",
            f"## {setup}",
            "",
            f"`{_command(setup)}`",
            "",
            *([SETUP_NOTES[setup], ""] if setup in SETUP_NOTES else []),
            "| failure | served | exit | step | traceback | clean-up that ran | broker closed "
            "| differs from the ideal |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [_cell_row(setup, mode) for mode in MODES]
        notes = {
            text: name for mode in MODES for name, text in DEVIATIONS.get((setup, mode), {}).items()
        }
        notes.update(
            {other.why: "also seen" for mode in MODES for other in ALSO_SEEN.get((setup, mode), ())}
        )
        if notes:
            lines.append("")
            lines += [f"- *{name}*: {text}." for text, name in notes.items()]
    return "\n".join(lines) + "\n"


# -- the command line ----------------------------------------------------------------------------


def _differences() -> list[str]:
    found = []
    with tempfile.TemporaryDirectory(prefix="fault-matrix-") as scratch:
        for number, (setup, mode) in enumerate(EXPECTED):
            directory = pathlib.Path(scratch) / str(number)
            directory.mkdir()
            seen = observe(setup, mode, directory)
            print(f"{setup:28} {mode:30} {seen}", flush=True)
            if not agrees(setup, mode, seen):
                found.append(f"{setup} / {mode}: saw {seen}, expected {EXPECTED[setup, mode]}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e.fault_matrix")
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", metavar="PATH", type=pathlib.Path, help="render into PATH")
    action.add_argument("--check", metavar="PATH", type=pathlib.Path, help="compare with PATH")
    parser.add_argument("--no-run", action="store_true", help="render without running the cells")
    args = parser.parse_args(argv)
    if args.check is not None:
        same = args.check.exists() and args.check.read_text() == render()
        print(f"{args.check} is {'up to date' if same else 'out of date'}")
        return 0 if same else 1
    if not args.no_run:
        differences = _differences()
        if differences:
            print("\n".join(["observations differ from EXPECTED:", *differences]))
            return 1
    args.write.parent.mkdir(parents=True, exist_ok=True)
    args.write.write_text(render())
    print(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
