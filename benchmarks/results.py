"""What a benchmark run produces: rows of figures, the targets they are held to, and JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.harness import Spread

__all__ = ["TARGETS", "TIMES", "Row", "Target", "load_rows", "save_rows", "verdict"]


TIMES = "\N{MULTIPLICATION SIGN}"
"""The unit of a ratio."""


@dataclass(frozen=True)
class Row:
    """One figure: ``value`` is a spread of ratios (or of absolute units for imports).

    ``value`` is ``None`` when the row could not be measured; ``detail`` then says why.
    Otherwise ``detail`` holds the absolute cost behind the ratio, for readers who want it.
    """

    section: str
    case: str
    contender: str
    value: Spread | None
    unit: str
    detail: str = ""


@dataclass(frozen=True)
class Target:
    """A bound on asgi_core's median (upper, or lower with ``at_least``) and the peers' figures."""

    limit: float
    peers: str
    at_least: bool = False

    def describe(self, unit: str) -> str:
        sign = "≥" if self.at_least else "≤"
        return f"{sign} {self.limit:g}{unit}"


TARGETS: dict[tuple[str, str], Target] = {
    ("in-process", "route hit"): Target(2.5, "bare dict ~2.2x, Starlette ~28x"),
    ("in-process", "404 miss"): Target(1.8, "FastStream ~5x, Starlette ~37x"),
    ("in-process", "WebSocket refusal"): Target(2.0, "FastStream ~3.7x"),
    ("in-process", "make_ping_asgi hit"): Target(3.5, "FastStream ~47x"),
    ("in-process", "lifespan, 10 hooks"): Target(1.3, "FastStream ~18x"),
    ("scaling", "hit, 1000 ÷ 5 routes"): Target(1.2, "FastStream: a linear scan"),
    ("scaling", "miss, 1000 ÷ 5 routes"): Target(1.2, "FastStream: a linear scan"),
    ("import", "cumulative import time"): Target(15.0, "Starlette ~73 ms, FastStream ~200 ms"),
    ("import", "modules added"): Target(35.0, "Starlette 189, FastStream 424"),
    ("import", "peak RSS added"): Target(3.0, ""),
    ("wire", "hit req/s"): Target(0.95, "", at_least=True),
    ("wire", "miss req/s"): Target(0.95, "", at_least=True),
    ("wire", "ping req/s"): Target(0.95, "FastStream's ping ~0.4x", at_least=True),
    ("wire", "hit req/s, httptools + uvloop"): Target(0.95, "", at_least=True),
    ("wire", "miss req/s, httptools + uvloop"): Target(0.95, "", at_least=True),
    ("wire", "ping req/s, httptools + uvloop"): Target(0.95, "", at_least=True),
    ("soak", "RSS per 100k, route hit"): Target(100.0, "under one byte per request"),
    ("soak", "RSS per 100k, 404 miss"): Target(100.0, "under one byte per request"),
    ("soak", "RSS per 100k, new 404 path each time"): Target(100.0, "under one byte per request"),
    ("soak", "RSS per 10k, WebSocket refusal"): Target(100.0, "under 10 bytes per refusal"),
    ("soak", "RSS per 1k client disconnects"): Target(100.0, "under 100 bytes per disconnect"),
    ("soak", "lost on SIGTERM under load"): Target(0.0, "none lost"),
    ("soak", "2000 connections: errors"): Target(0.0, "no socket error, no non-2xx"),
}
"""Targets from issues 5 and 13, on asgi_core's row of each case."""


def verdict(row: Row) -> str:
    """``met``, ``MISSED``, ``pending`` or ``""`` (no target) for asgi_core's row."""
    target = TARGETS.get((row.section, row.case))
    if target is None or row.contender != "asgi_core":
        return ""
    if row.value is None:
        return "pending"
    if target.at_least:
        return "met" if row.value.median >= target.limit else "MISSED"
    return "met" if row.value.median <= target.limit else "MISSED"


def save_rows(path: Path, rows: list[Row], meta: dict[str, str]) -> None:
    """Write the rows and the run's metadata as JSON."""
    payload = {"meta": meta, "rows": [asdict(row) for row in rows]}
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def load_rows(path: Path) -> tuple[list[Row], dict[str, str]]:
    """Read what ``save_rows`` wrote."""
    payload: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    rows = []
    for item in payload["rows"]:
        value = item.pop("value")
        rows.append(Row(**item, value=None if value is None else Spread(**value)))
    return rows, dict(payload["meta"])
