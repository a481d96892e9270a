"""Soak and load: RSS growth, requests lost on SIGTERM, 2000 keep-alive connections.

Each contender is served by a real ``asgi-core run`` (one uvicorn process, whatever HTTP and
loop implementation uvicorn picks by default) on 127.0.0.1; all servers are up at once, and
every step runs on every server, in a shuffled order, before the next step starts:

1. **RSS growth** (``soak_rss``) per 100k requests (10k WebSocket refusals) under one
   continuous load: the route hit, the 404 miss, a new 404 path every time, a refused handshake.
2. **Client disconnects** (``soak_rss``): RSS after each of ``disconnects / 16`` short wrk runs,
   each of which ends by dropping its 16 connections, some with a request in flight; per 1000.
3. **2000 keep-alive connections**: ``wrk -t2 -c2000 --latency`` on the route hit; socket
   errors plus non-2xx responses, and p99 latency.
4. **Lost on SIGTERM under load** (``soak_sigterm``); this step stops the server.

The harness binds each listening socket itself and hands it over with ``--fd``, so no port is
raced for; it raises its open-file limit, which wrk and the servers inherit. Every load is
bounded in count and in time; every server is stopped at the end, on errors too.
"""

from __future__ import annotations

import contextlib
import importlib.util
import random
import re
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchmarks.harness import spread
from benchmarks.results import Row
from benchmarks.soak_apps import SLOW_PATH
from benchmarks.soak_rss import HIT_PATH, RSS_CASES, disconnect_row, rss_step_row
from benchmarks.soak_server import Server, serve
from benchmarks.soak_sigterm import Drained, drain
from benchmarks.wire import parse_wrk

__all__ = [
    "FACTORIES",
    "STEPS",
    "SoakSettings",
    "connection_errors",
    "run_soak",
    "server_stack",
]

FACTORIES: dict[str, str] = {
    "asgi_core": "benchmarks.soak_apps:asgi_core",
    "Starlette": "benchmarks.soak_apps:starlette",
    "FastStream": "benchmarks.soak_apps:faststream",
}
CONNECTIONS = 2000
STEPS = len(RSS_CASES) + 3
"""RSS cases, client disconnects, the 2000 connections, the SIGTERM drain."""


@dataclass(frozen=True)
class SoakSettings:
    requests: int
    refusals: int
    connection_seconds: int
    drain_seconds: float
    disconnects: int
    contenders: tuple[str, ...] = ()


def server_stack() -> str:
    """What ``asgi-core run`` serves with here: uvicorn picks HTTP, loop and WebSocket parts."""

    def has(module: str) -> bool:
        return importlib.util.find_spec(module) is not None

    http = "httptools" if has("httptools") else "h11"
    loop = "uvloop" if has("uvloop") else "asyncio"
    ws = "websockets" if has("websockets") else "wsproto" if has("wsproto") else "none"
    try:
        uvicorn = f"uvicorn {metadata.version('uvicorn')}"
    except metadata.PackageNotFoundError:
        uvicorn = "uvicorn (not installed)"
    return (
        f"`asgi-core run` ({uvicorn}; its defaults pick {http}, {loop} and {ws}), one process "
        "per contender, listening socket passed with `--fd`"
    )


def connection_errors(text: str) -> int:
    """Socket errors plus non-2xx/3xx responses in ``wrk`` output."""
    errors = re.search(r"^\s*Socket errors:(.*)$", text, re.MULTILINE)
    wrong = re.search(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", text, re.MULTILINE)
    found = sum(int(n) for n in re.findall(r"\d+", errors[1])) if errors else 0
    return found + (int(wrong[1]) if wrong else 0)


def _rss_step(case: str, server: Server, settings: SoakSettings) -> Row:
    count = settings.refusals if RSS_CASES[case][0] == "websocket" else settings.requests
    return rss_step_row(case, server.name, server.port, server.process.pid, count)


def _connections_step(server: Server, settings: SoakSettings) -> list[Row]:
    seconds = settings.connection_seconds
    command = [
        *("wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "--timeout", "5s"),
        f"http://127.0.0.1:{server.port}{HIT_PATH}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr}")
    result = parse_wrk(done.stdout)
    errors = connection_errors(done.stdout)
    absolute = f"{result.requests_per_second:.0f} req/s, p50 {result.p50_ms:.2f} ms"
    detail = absolute + (f" ({result.errors})" if result.errors else "")
    return [
        Row(
            "soak", f"{CONNECTIONS} connections: errors", server.name, spread([errors]), "", detail
        ),
        Row("soak", f"{CONNECTIONS} connections: p99", server.name, spread([result.p99_ms]), "ms"),
    ]


def _drain_step(server: Server, settings: SoakSettings) -> Row:
    drained: Drained = drain(
        server.port,
        SLOW_PATH,
        server.process.pid,
        server.started,
        load_seconds=settings.drain_seconds,
    )
    began = time.monotonic()
    code = server.process.wait(timeout=30)
    detail = f"{drained.describe()}; exit {code} {time.monotonic() - began:.1f} s after the load"
    return Row(
        "soak", "lost on SIGTERM under load", server.name, spread([drained.lost]), "", detail
    )


def _raise_file_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = CONNECTIONS * 4 if hard == resource.RLIM_INFINITY else min(hard, CONNECTIONS * 4)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def _check_refusal(port: int) -> str:
    """'' if a real WebSocket client sees the handshake refused with 403, else what it saw."""
    try:
        from websockets.exceptions import InvalidStatus
        from websockets.sync.client import connect
    except ImportError as exc:
        return f"pending: `import websockets` failed: {exc}"
    try:
        with connect(f"ws://127.0.0.1:{port}/socket", open_timeout=5):
            return "the WebSocket was accepted, not refused"
    except InvalidStatus as exc:
        code = exc.response.status_code
        return "" if code == 403 else f"the handshake was refused with {code}, not 403"


def run_soak(
    settings: SoakSettings, cwd: Path, progress: Callable[[int], None] | None = None
) -> list[Row]:
    """Serve every contender, run each step on each in a shuffled order, stop everything."""
    names = [name for name in FACTORIES if name in settings.contenders]
    if shutil.which("wrk") is None:
        return [
            Row("soak", "lost on SIGTERM under load", n, None, "", "pending: no wrk") for n in names
        ]
    _raise_file_limit()
    rows: list[Row] = []
    shuffler = random.Random(0)
    steps: list[tuple[str, Callable[[Server], list[Row]]]] = [
        *((case, lambda s, c=case: [_rss_step(c, s, settings)]) for case in RSS_CASES),
        (
            "disconnects",
            lambda s: [disconnect_row(s.name, s.port, s.process.pid, settings.disconnects)],
        ),
        ("connections", lambda s: _connections_step(s, settings)),
        ("drain", lambda s: [_drain_step(s, settings)]),
    ]
    with tempfile.TemporaryDirectory(prefix="soak-") as work, contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(serve(FACTORIES[name], name, cwd, Path(work))) for name in names
        ]
        refusal = {server.name: _check_refusal(server.port) for server in servers}
        for index, (step, measure) in enumerate(steps):
            order = list(servers)
            shuffler.shuffle(order)
            for server in order:
                if step == "WebSocket refusal" and refusal[server.name]:
                    label = "RSS per 10k, WebSocket refusal"
                    rows.append(Row("soak", label, server.name, None, "kB", refusal[server.name]))
                    continue
                rows += measure(server)
            if progress is not None:
                progress(index)
    return sorted(rows, key=lambda row: names.index(row.contender))  # stable: steps stay in order
