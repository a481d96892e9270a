"""Over the wire: each contender served by uvicorn (one worker) on 127.0.0.1, loaded by ``wrk``.

Each round starts every server afresh, checks each one's answers, warms it up, then loads every
path for a fixed time on every server in a shuffled order, so the bare dispatcher is measured in
the same round as the others, and stops them all (on error too). Ratios: req/s, p50 and p99
latency, each against the bare dispatcher's in that round and on the same server stack. New
processes every round, because a server process keeps what it started with (memory layout,
hash seed) for as long as it runs: served once per run, whatever that costs or saves a server
is the same in every round and the interquartile range can't show it; served anew each round,
it is sampled with the rest of the noise.

A second bare dispatcher (``SECOND``, the same app in a server of its own) is measured like a
contender, always: its ratio to the first is what two identical servers differ by in that run,
the resolution of every other ratio. A gap to a target smaller than that spread says nothing
either way.

Every contender is served twice, with uvicorn pinned to each stack of ``STACKS``: ``--http h11
--loop asyncio`` (what a plain ``pip install uvicorn`` runs) and ``--http httptools --loop
uvloop`` (what ``uvicorn[standard]`` users run). The fast stack's rows say pending when
httptools or uvloop can't be imported.

On a machine with two CPUs or more and ``taskset``, every server runs on CPU 0 and ``wrk`` on
CPU 1 (``PINNED``): the one process under load and its load generator then never take turns on
one CPU, a swing that otherwise falls on whichever contender is measured at that moment.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.fixtures import MISS_PATH, route_paths
from benchmarks.harness import spread
from benchmarks.results import TIMES, Row
from benchmarks.wire_apps import PING_PATH

__all__ = [
    "BASELINE",
    "FACTORIES",
    "PATHS",
    "SECOND",
    "STACKS",
    "WireSettings",
    "WrkResult",
    "case_name",
    "parse_wrk",
    "run_wire",
    "served",
]

BASELINE = "bare dict"
SECOND = "bare dict, second server"
FACTORIES: dict[str, str] = {
    BASELINE: "benchmarks.wire_apps:bare_dict",
    SECOND: "benchmarks.wire_apps:bare_dict",  # A/A: the same app, another process
    "asgi_core": "benchmarks.wire_apps:asgi_core",
    "Starlette": "benchmarks.wire_apps:starlette",
    "FastStream": "benchmarks.wire_apps:faststream",
}
PATHS: dict[str, tuple[str, int]] = {
    "hit": (route_paths(5)[-1], 200),
    "miss": (MISS_PATH, 404),
    "ping": (PING_PATH, 204),
}
"""Path name: (request path, expected status)."""
STACKS: dict[str, tuple[str, str]] = {
    "h11 + asyncio": ("h11", "asyncio"),
    "httptools + uvloop": ("httptools", "uvloop"),
}
"""Server stack: uvicorn's ``--http`` and ``--loop``. The first keeps the plain case names."""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class WireSettings:
    rounds: int
    seconds: int
    connections: int
    contenders: tuple[str, ...]


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: str


def _latency_ms(text: str, percentile: str) -> float:
    found = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if found is None:
        raise ValueError(f"no {percentile}% latency in wrk output:\n{text}")
    return float(found[1]) * _UNITS[found[2]]


def parse_wrk(text: str) -> WrkResult:
    """Requests per second, p50 and p99 (ms) and any socket errors from ``wrk --latency``."""
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.MULTILINE)
    if rate is None:
        raise ValueError(f"no Requests/sec in wrk output:\n{text}")
    errors = re.search(r"^\s*Socket errors:.*$", text, re.MULTILINE)
    return WrkResult(
        float(rate[1]),
        _latency_ms(text, "50"),
        _latency_ms(text, "99"),
        errors[0].strip() if errors else "",
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def http_status(port: int, path: str) -> int:
    """The status of one GET to ``path`` on 127.0.0.1:``port``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def wait_ready(process: subprocess.Popen[bytes], port: int, name: str, log: Path) -> None:
    """Wait until the server on ``port`` answers (30 s at most); its log in the error if not."""
    deadline = time.monotonic() + 30
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: {log.read_text()}")
        try:
            http_status(port, MISS_PATH)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready after 30 s: {log.read_text()}") from None
            time.sleep(0.1)


def case_name(path: str, figure: str, stack: str) -> str:
    """``hit req/s`` on the first stack, ``hit req/s, httptools + uvloop`` on the others."""
    return f"{path} {figure}" if stack == next(iter(STACKS)) else f"{path} {figure}, {stack}"


def _missing(stack: str) -> str:
    """'' if both parts of ``stack`` import here, else the pending reason."""
    absent = [m for m in STACKS[stack] if m != "asyncio" and importlib.util.find_spec(m) is None]
    return f"pending: {' and '.join(absent)} not installed" if absent else ""


@contextlib.contextmanager
def _server(name: str, stack: str, cwd: Path, log: Path) -> Iterator[int]:
    """Serve contender ``name`` with uvicorn on ``stack``; yield the port once it answers."""
    factory = FACTORIES[name]
    lifespan = "off" if factory == FACTORIES[BASELINE] else "on"  # the bare one has none
    port = _free_port()
    command = [
        *PINNED[0],
        *(sys.executable, "-m", "uvicorn", "--factory", factory),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        *("--http", STACKS[stack][0], "--loop", STACKS[stack][1], "--ws", "none"),
        *("--lifespan", lifespan),
        *("--log-level", "warning", "--no-access-log"),
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_ready(process, port, factory, log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wrk(port: int, path: str, seconds: int, connections: int) -> WrkResult:
    command = [
        *PINNED[1],
        *("wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"),
        f"http://127.0.0.1:{port}{path}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}")
    return parse_wrk(done.stdout)


Key = tuple[str, str, str]
"""(stack, path name, contender)."""


def _pinned() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The command prefixes that put the servers on CPU 0 and wrk on CPU 1, where possible."""
    affinity = getattr(os, "sched_getaffinity", None)  # Linux
    cpus = sorted(affinity(0)) if affinity is not None else []
    if shutil.which("taskset") is None or len(cpus) < 2:
        return (), ()
    first, second = cpus[:2]
    return ("taskset", "-c", str(first)), ("taskset", "-c", str(second))


PINNED = _pinned()
"""Prefixes for the servers' and wrk's commands (empty: not pinned)."""


def _rows(results: dict[Key, list[WrkResult]], problems: dict[Key, str]) -> list[Row]:
    rows = []
    for path in PATHS:
        for figure in ("req/s", "p50", "p99"):
            for stack in STACKS:
                rows += _figure_rows(results, problems, stack, path, figure)
    return rows


def _figure_rows(
    results: dict[Key, list[WrkResult]],
    problems: dict[Key, str],
    stack: str,
    path: str,
    figure: str,
) -> list[Row]:
    rows = []
    case = case_name(path, figure, stack)
    base = results.get((stack, path, BASELINE), [])
    for name in FACTORIES:
        key = (stack, path, name)
        if key in problems or not base or key not in results:
            if figure == "req/s":
                reason = problems.get(key) or problems.get((stack, path, BASELINE), "not measured")
                rows.append(Row("wire", case, name, None, TIMES, reason))
            continue
        runs = results[key]
        pairs = list(zip(runs, base, strict=True))
        values = {
            "req/s": [r.requests_per_second / b.requests_per_second for r, b in pairs],
            "p50": [r.p50_ms / b.p50_ms for r, b in pairs],
            "p99": [r.p99_ms / b.p99_ms for r, b in pairs],
        }[figure]
        detail = ""
        if figure == "req/s":
            detail = (
                f"{spread([r.requests_per_second for r in runs]).median:.0f} req/s, "
                f"p50 {spread([r.p50_ms for r in runs]).median:.2f} ms, "
                f"p99 {spread([r.p99_ms for r in runs]).median:.2f} ms"
            )
            errors = "; ".join(sorted({r.errors for r in runs if r.errors}))
            detail += f" ({errors})" if errors else ""
        rows.append(Row("wire", case, name, spread(values), TIMES, detail))
    return rows


def _check_answers(
    ports: dict[tuple[str, str], int],
    problems: dict[Key, str],
    results: dict[Key, list[WrkResult]],
) -> None:
    """Record a server that answers a path wrongly, and drop what it measured before: a row is
    the same rounds for every contender, or pending."""
    for path, (target, expected) in PATHS.items():
        for (stack, name), port in ports.items():
            key = (stack, path, name)
            if key in problems:
                continue
            status = http_status(port, target)
            if status != expected:
                problems[key] = f"pending: GET {target} answered {status}, not {expected}"
                results.pop(key, None)


def served(contenders: Sequence[str]) -> list[str]:
    """The servers a run starts: the contenders asked for, and both bare dispatchers always."""
    return [name for name in FACTORIES if name in contenders or name in (BASELINE, SECOND)]


def run_wire(
    settings: WireSettings, cwd: Path, progress: Callable[[int], None] | None = None
) -> list[Row]:
    """Serve every contender on every stack, load every path in interleaved rounds, stop all."""
    if shutil.which("wrk") is None:
        return [
            Row("wire", "hit req/s", n, None, TIMES, "pending: wrk not installed")
            for n in FACTORIES
        ]
    names = served(settings.contenders)
    results: dict[Key, list[WrkResult]] = {}
    problems: dict[Key, str] = {}
    stacks = [stack for stack in STACKS if not _missing(stack)]
    for stack in STACKS:
        if _missing(stack):
            problems.update({(stack, p, n): _missing(stack) for p in PATHS for n in names})
    shuffler = random.Random(0)
    with tempfile.TemporaryDirectory() as logs:
        for index in range(settings.rounds):
            with contextlib.ExitStack() as servers:  # new processes each round: module doc
                ports = {
                    (stack, name): servers.enter_context(
                        _server(name, stack, cwd, Path(logs, f"{stack}-{position}.log"))
                    )
                    for stack in stacks
                    for position, name in enumerate(names)
                }
                _check_answers(ports, problems, results)
                for port in ports.values():  # warm-up, not recorded
                    _wrk(port, PATHS["miss"][0], 1, settings.connections)
                for stack in stacks:
                    for path in PATHS:
                        order = [n for n in names if (stack, path, n) not in problems]
                        shuffler.shuffle(order)
                        for name in order:
                            result = _wrk(
                                ports[stack, name],
                                PATHS[path][0],
                                settings.seconds,
                                settings.connections,
                            )
                            results.setdefault((stack, path, name), []).append(result)
            if progress is not None:
                progress(index)
    return _rows(results, problems)
