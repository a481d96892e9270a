"""The bar chart of ratios per contender (matplotlib, from the ``bench`` extra)."""

from __future__ import annotations

import importlib
import textwrap
from pathlib import Path
from typing import Any

from benchmarks.results import Row

__all__ = ["PANELS", "draw"]

PANELS: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    (
        "In-process: ratio to the floor (log scale)",
        "in-process",
        ("route hit", "404 miss", "WebSocket refusal", "lifespan, 10 hooks", "make_ping_asgi hit"),
        True,
    ),
    (
        "Scaling: ratio to the floor (log scale)",
        "scaling",
        ("hit, 1000 routes", "miss, 1000 routes", "lifespan, 100 hooks"),
        True,
    ),
    (
        "Over the wire: req/s ratio to bare dict",
        "wire",
        ("hit req/s", "miss req/s", "ping req/s"),
        False,
    ),
)
"""Title, section, cases and whether the axis is logarithmic, for each panel."""

_COLOURS = {
    "bare dict": "#9e9e9e",
    "bare dict, second server": "#d6d6d6",  # the wire section's A/A
    "asgi_core": "#1565c0",
    "Starlette": "#2e7d32",
    "FastStream": "#ef6c00",
    "bounded-table reference": "#8e24aa",
}


def draw(rows: list[Row], path: Path) -> None:
    """Grouped bars (median, IQR whiskers) per case and contender; pending rows are left out."""
    # Imported by name: matplotlib comes with the ``bench`` extra only, and the type checker
    # runs without it.
    matplotlib: Any = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt: Any = importlib.import_module("matplotlib.pyplot")

    figure, axes = plt.subplots(1, len(PANELS), figsize=(16, 5.5), constrained_layout=True)
    for axis, (title, section, cases, log) in zip(axes, PANELS, strict=True):
        found = {(r.case, r.contender): r for r in rows if r.section == section}
        names = [name for name in _COLOURS if any(key[1] == name for key in found)]
        width = 0.8 / max(len(names), 1)
        for offset, name in enumerate(names):
            xs, heights, low, high = [], [], [], []
            for index, case in enumerate(cases):
                row = found.get((case, name))
                if row is None or row.value is None:
                    continue
                xs.append(index + (offset - (len(names) - 1) / 2) * width)
                heights.append(row.value.median)
                low.append(row.value.median - row.value.q1)
                high.append(row.value.q3 - row.value.median)
            axis.bar(xs, heights, width, yerr=[low, high], label=name, color=_COLOURS[name])
        axis.axhline(1.0, color="black", linewidth=0.8)
        labels = [textwrap.fill(case, 11, break_long_words=False) for case in cases]
        axis.set_xticks(range(len(cases)), labels)
        axis.set_title(title)
        if log:
            axis.set_yscale("log")
        axis.grid(axis="y", alpha=0.3)
    axes[0].legend()
    axes[-1].legend(loc="lower left")  # the wire panel has its A/A server too
    figure.savefig(path, dpi=110)
    plt.close(figure)
