"""The soak section's RSS figures: growth per request under one load, and per disconnect.

RSS (``VmRSS``) is sampled after a warm-up on the same path, then during one load of
``count`` responses, after each ``1 / WINDOWS`` of it, its 16 connections still open
(``soak_load``'s marker files). The first window counts as warm-up too (it opens the
connections and meets the path first), so the figure runs from its sample to the last one.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from benchmarks.fixtures import MISS_PATH, route_paths
from benchmarks.harness import spread
from benchmarks.results import Row
from benchmarks.soak_load import Load, rss_kb, run_load

__all__ = ["HIT_PATH", "RSS_CASES", "WINDOWS", "disconnect_row", "rss_row", "rss_step_row"]

HIT_PATH = route_paths(5)[-1]
RSS_CASES: dict[str, tuple[str, str, int]] = {
    "route hit": ("fixed", HIT_PATH, 200),
    "404 miss": ("fixed", MISS_PATH, 404),
    "new 404 path each time": ("fresh", "/missing", 404),
    "WebSocket refusal": ("websocket", "/socket", 403),
}
"""Case: (``soak_load`` mode, path, expected status)."""
WINDOWS = 4
"""RSS is sampled after the warm-up and after each of this many windows of one load."""


def rss_row(case: str, name: str, per: int, samples: Sequence[int], counts: Sequence[int]) -> Row:
    """RSS growth in kB per ``per`` responses from the window samples, which the detail lists.

    ``samples[0]`` is taken after the warm-up and ``samples[i]`` after ``counts[i - 1]`` more
    responses. The first window counts as warm-up too: the figure is the growth from
    ``samples[1]`` to the last sample, over the responses in between.
    """
    responses = sum(counts[1:])
    growth = (samples[-1] - samples[1]) * per / max(responses, 1)
    steps = ", ".join(f"{sample - samples[0]:+d}" for sample in samples)
    detail = (
        f"{samples[0] / 1024:.1f} MB after the warm-up, then {steps} kB after each "
        f"{counts[0]} responses; figure over the last {responses}"
    )
    label = f"RSS per {per // 1000}k, {case}"
    return Row("soak", label, name, spread([growth]), "kB", detail)


def _settle_rss(pid: int) -> int:
    time.sleep(0.2)  # let the server close the load's connections
    return rss_kb(pid)


def rss_step_row(case: str, name: str, port: int, pid: int, count: int) -> Row:
    """Warm up, then sample RSS during one load of ``count`` responses (``RSS_CASES[case]``)."""
    mode, path, status = RSS_CASES[case]
    per = 10_000 if mode == "websocket" else 100_000
    seconds = max(5.0, count / 4000)  # the time bound: at least 4000 responses a second
    window = count // WINDOWS
    loads = [run_load(port, Load(mode, path, status, max(1000, count // 20)), seconds)]
    samples = [_settle_rss(pid)]

    def sample() -> None:
        samples.append(rss_kb(pid))

    loads.append(run_load(port, Load(mode, path, status, count), seconds, 16, window, sample))
    label = f"RSS per {per // 1000}k, {case}"
    wrong = sum(loaded.unexpected for loaded in loads)
    if wrong:
        reason = f"{wrong} responses were not {status} on {path}"
        return Row("soak", label, name, None, "kB", reason)
    if len(samples) < 3:
        reason = f"only {loads[-1].responses} of {count} responses within {seconds:.0f} s"
        return Row("soak", label, name, None, "kB", reason)
    row = rss_row(case, name, per, samples, [window] * (len(samples) - 1))
    errors = "; ".join(sorted({loaded.errors for loaded in loads if loaded.errors}))
    return replace(row, detail=f"{row.detail} ({errors})") if errors else row


def disconnect_row(name: str, port: int, pid: int, disconnects: int) -> Row:
    """RSS per 1000 connections the client drops under load (each wrk run ends with 16)."""
    runs = disconnects // 16
    label = "RSS per 1k client disconnects"
    loads = [run_load(port, Load("fixed", HIT_PATH, 200, 500), 5.0)]
    samples = [_settle_rss(pid)]
    for _ in range(runs):
        loads.append(run_load(port, Load("fixed", HIT_PATH, 200, 500), 5.0))
        samples.append(_settle_rss(pid))
    wrong = sum(loaded.unexpected for loaded in loads)
    if wrong:
        reason = f"{wrong} responses were not 200 on {HIT_PATH}"
        return Row("soak", label, name, None, "kB", reason)
    growth = (samples[-1] - samples[0]) * 1000 / max(runs * 16, 1)
    steps = ", ".join(f"{sample - samples[0]:+d}" for sample in samples[:: max(1, runs // 5)])
    detail = (
        f"{samples[0] / 1024:.1f} MB after a first run, then {steps} kB every "
        f"{max(1, runs // 5)} runs of 500 responses on 16 connections, {runs * 16} dropped"
    )
    return Row("soak", label, name, spread([growth]), "kB", detail)
