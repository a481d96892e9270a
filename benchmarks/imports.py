"""Import cost in a fresh interpreter: ``-X importtime`` cumulative, modules added, peak RSS.

Each module is imported by its own subprocesses, the contenders interleaved round by round:

- one under ``-X importtime``: the cumulative microseconds of the top-level imports printed
  after a marker line, so the interpreter's own start-up is left out;
- one that counts the ``sys.modules`` entries the import adds, and compares the peak resident
  size after it (``VmHWM``, first reset through ``/proc/self/clear_refs``) with the resident
  size before it (Linux only).

The subprocesses may write bytecode (``PYTHONDONTWRITEBYTECODE`` is dropped from their
environment), and one untimed import of each module comes first: every contender is then timed
from compiled bytecode, as after ``pip install``. Otherwise a module edited since its ``.pyc``
was written (an editable install, a checkout) would be compiled again in every round.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.harness import spread
from benchmarks.results import Row

__all__ = ["MODULES", "cumulative_import_us", "run_imports"]

MODULES: dict[str, str] = {
    "asgi_core": "asgi_core",
    "Starlette": "starlette.applications",
    "FastStream": "faststream.asgi",
}
"""The module each contender's users import."""

_MARKER = "-- bench import starts --"

_PROBE = """
import json, sys

def status_kib(field):
    with open("/proc/self/status") as lines:
        for line in lines:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise LookupError(field)

try:  # Linux: make the peak (VmHWM) start again from the current resident size
    with open("/proc/self/clear_refs", "w") as control:
        control.write("5")
except OSError:
    pass
before = set(sys.modules)
rss_before = status_kib("VmRSS")
import {module}
peak_after = status_kib("VmHWM")
print(json.dumps({{"modules": len(set(sys.modules) - before), "rss_kib": peak_after - rss_before}}))
"""


def cumulative_import_us(stderr: str) -> int:
    """Sum the cumulative time of the top-level imports printed after the marker line."""
    _, _, after = stderr.partition(_MARKER)
    total = 0
    for line in after.splitlines():
        if not line.startswith("import time:"):
            continue
        fields = line.split("|")
        if len(fields) != 3 or fields[1].strip() == "cumulative":
            continue
        name = fields[2]
        if name.startswith(" ") and not name.startswith("  "):  # one space: top level
            total += int(fields[1])
    return total


def _run(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    result = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)!r} failed:\n{result.stderr[-2000:]}")
    return result


def _sample(module: str, cwd: Path) -> tuple[float, float, float]:
    code = f"import sys; sys.stderr.write({_MARKER!r} + '\\n'); import {module}"
    timed = _run(["-X", "importtime", "-c", code], cwd)
    probe = json.loads(_run(["-c", _PROBE.format(module=module)], cwd).stdout)
    return (
        cumulative_import_us(timed.stderr) / 1000,
        float(probe["modules"]),
        probe["rss_kib"] / 1024,
    )


def run_imports(
    rounds: int,
    cwd: Path,
    contenders: Sequence[str],
    progress: Callable[[int], None] | None = None,
) -> list[Row]:
    """Median and spread of the three figures for each contender's module."""
    chosen = {name: module for name, module in MODULES.items() if name in contenders}
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in chosen}
    failures: dict[str, str] = {}
    for name, module in chosen.items():  # untimed: writes the bytecode the rounds then read
        try:
            _run(["-c", f"import {module}"], cwd)
        except RuntimeError as exc:
            failures[name] = f"pending: {exc}".splitlines()[0]
    for index in range(rounds):
        for name, module in chosen.items():
            if name in failures:
                continue
            try:
                samples[name].append(_sample(module, cwd))
            except RuntimeError as exc:
                failures[name] = f"pending: {exc}".splitlines()[0]
        if progress is not None:
            progress(index)
    rows = []
    figures = (("cumulative import time", " ms"), ("modules added", ""), ("peak RSS added", " MB"))
    for position, (case, unit) in enumerate(figures):
        for name, module in chosen.items():
            if name in failures:
                rows.append(Row("import", case, name, None, unit, failures[name]))
                continue
            values = [sample[position] for sample in samples[name]]
            rows.append(Row("import", case, name, spread(values), unit, f"import {module}"))
    return rows
