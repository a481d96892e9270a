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
}

STARTUP_FAULTS = (
    "on_startup_raises",
    "broker_start_raises",
    "after_startup_raises",
    "startup_hangs",
    "lifespan_enter_raises",
)
SHUTDOWN_FAULTS = ("on_shutdown_raises", "broker_close_raises", "shutdown_hangs")
HANGS = ("startup_hangs", "shutdown_hangs")

DESCRIPTIONS = {
    "on_startup_raises": "an `on_startup` hook raises",
    "broker_start_raises": "`broker.start()` raises",
    "after_startup_raises": "an `after_startup` hook raises",
    "startup_hangs": f"an `on_startup` hook hangs (limit {STEP_TIMEOUT:g} s)",
    "lifespan_enter_raises": "the user `lifespan` raises on enter",
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


class Outcome(NamedTuple):
    """What a user sees of one cell."""

    served: bool  # an HTTP request got an answer (while startup failed: the app was broken)
    status: int  # the exit status of the server's main process
    step_logged: bool  # the log names the failing step ("startup failed in ...")
    tracebacks: int  # how often the log holds our exception chain
    steps: tuple[str, ...]  # the app's steps, in the order they ran


# What each mode does to the steps when every server behaves ideally.
IDEAL_STEPS = {
    "on_startup_raises": ("lifespan.enter", "on_startup", "lifespan.exit"),
    "broker_start_raises": (*STARTED[:3], "broker.close", "lifespan.exit"),
    "after_startup_raises": (*STARTED, "broker.close", "lifespan.exit"),
    "startup_hangs": ("lifespan.enter", "on_startup", "lifespan.exit"),
    "lifespan_enter_raises": ("lifespan.enter",),
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
    sigint_steps: tuple[str, ...] | None = None,
) -> dict[tuple[str, str], Outcome]:
    """Every cell of ``setup``: the ideal outcome, but for the statuses and quirks given."""
    cells = {}
    for mode in MODES:
        startup_fault = mode in STARTUP_FAULTS
        outcome = Outcome(
            served=not startup_fault and mode != "sigterm_during_slow_startup",
            status=startup_failed if startup_fault else stopped,
            step_logged=mode in FAILING_STEP,
            tracebacks=startup_tracebacks if startup_fault else int(mode in FAILING_STEP),
            steps=IDEAL_STEPS[mode],
        )
        if mode == "sigint_twice":
            outcome = outcome._replace(
                status=stopped if sigint is None else sigint,
                steps=IDEAL_STEPS[mode] if sigint_steps is None else sigint_steps,
            )
        cells[setup, mode] = outcome
    return cells


# What each cell was seen to do (and is asserted to do).
EXPECTED: dict[tuple[str, str], Outcome] = {
    # uvicorn re-raises SIGTERM after its graceful shutdown (-15); after SIGINT it exits 0
    **_server("uvicorn", startup_failed=3, stopped=-15, sigint=0),
    **_server("hypercorn", startup_failed=0, stopped=0),
    # granian logs the exception we re-raise after lifespan.startup.failed a second time
    **_server("granian", startup_failed=1, stopped=0, startup_tracebacks=2),
    # SIGINT to gunicorn's arbiter sends SIGQUIT to the worker, which uvicorn-worker ignores
    # until gunicorn gives up and kills it: no shutdown step runs
    **_server("gunicorn + uvicorn-worker", startup_failed=3, stopped=0, sigint_steps=STARTED),
    **_server("asgi-core run", startup_failed=3, stopped=0),
    **_server("asgi-core run --server gunicorn", startup_failed=3, stopped=0),
}


class Rule(NamedTuple):
    """One property every cell of some modes should have."""

    modes: tuple[str, ...]
    holds: Callable[[str, Outcome], bool]
    text: str


def _broker_closed_once_if_started(mode: str, outcome: Outcome) -> bool:
    return outcome.steps.count("broker.close") == min(1, outcome.steps.count("broker.start"))


RULES: dict[str, Rule] = {
    "no traffic": Rule(
        STARTUP_FAULTS,
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
        lambda mode, o: o.tracebacks == 1,
        "the log holds the exception chain exactly once",
    ),
    "no shutdown hooks": Rule(
        STARTUP_FAULTS,
        lambda mode, o: not SHUTDOWN_HOOKS & set(o.steps),
        "shutdown hooks do not run after a failed startup (only what started is undone)",
    ),
    "every step ran": Rule(
        (*SHUTDOWN_FAULTS, "sigterm_during_slow_startup", "sigint_twice"),
        lambda mode, o: o.steps == IDEAL_STEPS[mode],
        "every startup step and then every shutdown step ran, each once, in order",
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
DEVIATIONS: dict[tuple[str, str], dict[str, str]] = {
    **{
        ("hypercorn", mode): {
            "non-zero exit": "hypercorn (one worker) exits 0 after a failed startup; "
            "its log shows `Lifespan failure in startup`"
        }
        for mode in STARTUP_FAULTS
    },
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
}


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


def _run_cell(proc: Served, mode: str) -> tuple[bool, int]:
    """Drive the process through ``mode``; return whether it served, and its exit status."""
    if mode in STARTUP_FAULTS:
        served_any = False
        deadline = time.monotonic() + EXIT_DEADLINE
        while proc.process.poll() is None and time.monotonic() < deadline:
            served_any = _answers(proc.port) or served_any
            time.sleep(0.1)
        return served_any, proc.wait()
    if mode == "sigterm_during_slow_startup":
        proc.wait_for_lines("on_startup", 1)
        return False, proc.stop(signal.SIGTERM)
    proc.wait_ready("/")
    if mode == "sigint_twice":
        proc.process.send_signal(signal.SIGINT)
        proc.wait_for_lines("on_shutdown.drain", 1, within=SECOND_SIGNAL_WITHIN)
        return True, proc.stop(signal.SIGINT)
    return True, proc.stop(signal.SIGTERM)


def observe(setup: str, mode: str, directory: pathlib.Path) -> Outcome:
    """Run ``mode`` under ``setup`` in a fresh process; what a user would have seen."""
    port = free_port()
    args = [arg.replace("{port}", str(port)) for arg in SETUPS[setup]]
    with served(args, directory, port=port, env={"FAULT_MODE": mode}, name="cell") as proc:
        served_any, status = _run_cell(proc, mode)
        log = proc.output()
        steps = tuple(line.split(" ", 1)[0] for line in proc.records())
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


def _after_fault(mode: str, steps: tuple[str, ...]) -> str:
    """The clean-up steps that ran, as a user would list them."""
    ran = [_SHORT[step] for step in steps if step in _SHORT]
    names = list(dict.fromkeys(ran))
    return ", ".join(names) if names else "none"


def _broker(outcome: Outcome) -> str:
    closes = outcome.steps.count("broker.close")
    if "broker.start" not in outcome.steps:
        return "not started"
    return {0: "**never**", 1: "once"}.get(closes, f"**{closes} times**")


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _cell_row(setup: str, mode: str) -> str:
    outcome = EXPECTED[setup, mode]
    failing = mode in FAILING_STEP
    marks = sorted(DEVIATIONS.get((setup, mode), {}))
    times = {0: "no", 1: "once", 2: "**twice**"}.get(outcome.tracebacks, str(outcome.tracebacks))
    cells = [
        DESCRIPTIONS[mode],
        "not probed" if mode == "sigterm_during_slow_startup" else _yes(outcome.served),
        str(outcome.status),
        ("yes" if outcome.step_logged else "**no**") if failing else "n/a",
        times if failing else "n/a",
        _after_fault(mode, outcome.steps),
        _broker(outcome),
        "; ".join(marks) if marks else "",
    ]
    return "| " + " | ".join(cells) + " |"


FINDINGS = (
    "No server answered a request after a failed startup, and every log names the failing "
    "step: asgi_core reports the failure with `lifespan.startup.failed` before any server "
    "starts serving.",
    "The exit status after a failed startup is 3 under uvicorn, gunicorn + uvicorn-worker and "
    "`asgi-core run`, 1 under granian and **0 under hypercorn**: under hypercorn, watch the log "
    "or a readiness probe, not the exit status.",
    "A hung step is ended by asgi_core's own limit (`startup_timeout`, `shutdown_timeout`) and "
    "then reported like a step that raised; no server bounds it.",
    "No server interrupts a slow startup on SIGTERM: each waits for it to finish (at most "
    "`startup_timeout`), then runs the whole shutdown, so the broker is still closed once.",
    "A failing shutdown step never stops the others: the remaining hooks, `broker.close()` "
    "and the lifespan exit run, and the broker is closed exactly once, on every server.",
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
            f"exit {EXPECTED[setup, mode].status}" + (" ⚠" if (setup, mode) in DEVIATIONS else "")
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
            "| failure | served | exit | step | traceback | clean-up that ran | broker closed "
            "| differs from the ideal |",
            "|---|---|---|---|---|---|---|---|",
        ]
        lines += [_cell_row(setup, mode) for mode in MODES]
        notes = {
            text: name for mode in MODES for name, text in DEVIATIONS.get((setup, mode), {}).items()
        }
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
            if seen != EXPECTED[setup, mode]:
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
