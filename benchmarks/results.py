"""What a benchmark run produces: rows of figures, the targets they are held to, and JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable
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
    beat: str = ""  # a contender whose median asgi_core's must not exceed in the same run

    def describe(self, unit: str) -> str:
        sign = "≥" if self.at_least else "≤"
        parts = [] if self.limit == _ANY else [f"{sign} {self.limit:g}{unit}"]
        if self.beat:
            parts.append(f"{sign} {self.beat}")
        return " and ".join(parts)


_ANY = float("inf")  # no absolute bound: only the peer named in ``beat``


TARGETS: dict[tuple[str, str], Target] = {
    ("in-process", "route hit"): Target(2.2, "FastStream ~2.2x", beat="FastStream"),
    ("in-process", "404 miss"): Target(2.2, "bare dict ~1.7x, FastStream ~6x"),
    ("in-process", "WebSocket refusal"): Target(2.5, "bare dict ~2x, FastStream ~4.3x"),
    ("in-process", "make_ping_asgi hit"): Target(10.0, "Starlette ~23x, FastStream ~54x"),
    ("in-process", "lifespan, 10 hooks"): Target(_ANY, "Starlette ~2.2x", beat="Starlette"),
    ("scaling", "lifespan, 100 hooks"): Target(3.0, "Starlette ~1.3x: cost per hook flat"),
    ("scaling", "hit, 1000 ÷ 5 routes"): Target(1.2, "FastStream: a linear scan"),
    ("scaling", "miss, 1000 ÷ 5 routes"): Target(1.2, "FastStream: a linear scan"),
    ("import", "cumulative import time"): Target(10.0, "before #12: 10.3 ms (2026-11-25)"),
    ("import", "modules added"): Target(32.0, "before #12: 32; Starlette 157"),
    ("import", "peak RSS added"): Target(2.4, "before #12: 2.36 MB"),
    ("wire", "hit req/s"): Target(0.99, "FastStream ~0.99x", at_least=True),
    ("wire", "miss req/s"): Target(0.99, "FastStream ~0.99x", at_least=True),
    ("wire", "ping req/s"): Target(0.95, "Starlette ~0.93x", at_least=True),
    ("wire", "hit req/s, httptools + uvloop"): Target(0.99, "", at_least=True),
    ("wire", "miss req/s, httptools + uvloop"): Target(0.99, "", at_least=True),
    ("wire", "ping req/s, httptools + uvloop"): Target(0.95, "", at_least=True),
    ("soak", "RSS per 100k, route hit"): Target(100.0, "under one byte per request"),
    ("soak", "RSS per 100k, 404 miss"): Target(100.0, "under one byte per request"),
    ("soak", "RSS per 100k, new 404 path each time"): Target(100.0, "under one byte per request"),
    ("soak", "RSS per 10k, WebSocket refusal"): Target(100.0, "under 10 bytes per refusal"),
    ("soak", "RSS per 1k client disconnects"): Target(100.0, "under 100 bytes per disconnect"),
    ("soak", "lost on SIGTERM under load"): Target(0.0, "none lost"),
    ("soak", "2000 connections: errors"): Target(0.0, "no socket error, no non-2xx"),
}
"""Targets from issues 5, 12 and 13, on asgi_core's row of each case."""


def verdict(row: Row, others: Iterable[Row] = ()) -> str:
    """``met``, ``MISSED``, ``pending`` or ``""`` (no target) for asgi_core's row.

    ``others``: the rows of the same run, for a target that names a peer (``beat``); without
    that peer's figure such a target is ``pending``.
    """
    target = TARGETS.get((row.section, row.case))
    if target is None or row.contender != "asgi_core":
        return ""
    if row.value is None:
        return "pending"
    median = row.value.median
    bounds = [target.limit]
    if target.beat:
        peer = next(
            (
                other.value.median
                for other in others
                if (other.section, other.case, other.contender)
                == (row.section, row.case, target.beat)
                and other.value is not None
            ),
            None,
        )
        if peer is None:
            return "pending"
        bounds.append(peer)
    if target.at_least:
        return "met" if all(median >= bound for bound in bounds) else "MISSED"
    return "met" if all(median <= bound for bound in bounds) else "MISSED"


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
