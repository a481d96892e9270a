"""Interleaved timing: every runner is measured once per round, in a shuffled order.

Rules:

- A *runner* performs ``n`` operations and returns the nanoseconds they took, timed inside the
  coroutine so that entering the event loop is not part of the figure.
- Each runner gets its own batch size, calibrated so one batch lasts about ``batch_seconds``; its
  cost is then nanoseconds per operation.
- Every round measures every runner once, in a new random order, with the cyclic garbage
  collector off during the batch and run once between rounds (as ``timeit`` does).
- Ratios are taken round by round (``cost[a] / cost[b]`` within the same round) and summarised
  by their median and interquartile range, so a noisy neighbour slows both sides of a ratio.
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Runner", "Spread", "calibrate", "measure", "ratio", "spread"]

Runner = Callable[[int], Awaitable[int]]
"""Runs ``n`` operations and returns the elapsed time in nanoseconds."""


@dataclass(frozen=True)
class Spread:
    """Median and interquartile range of a series of per-round figures."""

    median: float
    q1: float
    q3: float

    def scaled(self, factor: float) -> Spread:
        return Spread(self.median * factor, self.q1 * factor, self.q3 * factor)


def spread(values: Sequence[float]) -> Spread:
    """Median and quartiles; a single value is its own spread."""
    if len(values) == 1:
        return Spread(values[0], values[0], values[0])
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return Spread(median, q1, q3)


def ratio(costs: Mapping[str, Sequence[float]], numerator: str, denominator: str) -> Spread:
    """The spread of ``numerator / denominator`` taken round by round."""
    pairs = zip(costs[numerator], costs[denominator], strict=True)
    return spread([top / bottom for top, bottom in pairs])


def _timed(loop: asyncio.AbstractEventLoop, runner: Runner, count: int) -> int:
    gc.disable()
    try:
        return loop.run_until_complete(runner(count))
    finally:
        gc.enable()


def calibrate(
    loop: asyncio.AbstractEventLoop, runner: Runner, batch_seconds: float, max_count: int
) -> int:
    """The batch size that makes one batch last about ``batch_seconds`` (doubling, capped)."""
    target_ns = batch_seconds * 1e9
    count = 1
    while count < max_count:
        elapsed = max(_timed(loop, runner, count), 1)
        if elapsed >= target_ns:
            break
        count = min(max_count, max(count * 2, int(count * target_ns / elapsed * 1.1)))
    return count


def measure(
    runners: Mapping[str, Runner],
    rounds: int,
    batch_seconds: float,
    *,
    max_count: int = 1_000_000,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> dict[str, list[float]]:
    """Per-round cost (ns per operation) of every runner, all measured in the same rounds."""
    loop = asyncio.new_event_loop()
    try:
        counts = {
            name: calibrate(loop, runner, batch_seconds, max_count)
            for name, runner in runners.items()
        }
        costs: dict[str, list[float]] = {name: [] for name in runners}
        order = list(runners)
        shuffler = random.Random(seed)
        for index in range(rounds):
            shuffler.shuffle(order)
            gc.collect()
            for name in order:
                elapsed = _timed(loop, runners[name], counts[name])
                costs[name].append(elapsed / counts[name])
            if progress is not None:
                progress(index)
        return costs
    finally:
        loop.close()
