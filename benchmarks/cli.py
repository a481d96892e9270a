"""``python -m benchmarks``: run the sections, then write the README table, the chart and JSON.

Output (under ``--output``, default ``benchmarks/``): ``README.md`` (the block between the
results markers is replaced), ``ratios.png``, and ``results/latest.json`` (not committed;
``--from-json`` renders the README and chart again from it without measuring).

The soak section runs only when ``--only`` names it; its table has its own markers in
``README.md`` and its figures go to ``results/soak.json``, so it never replaces the others.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path

from benchmarks.contenders import CONTENDERS
from benchmarks.imports import run_imports
from benchmarks.inprocess import Settings, in_process_cases, run_cases, scaling_cases
from benchmarks.report import SOAK_END, SOAK_START, render, render_soak, update_readme
from benchmarks.results import Row, load_rows, save_rows
from benchmarks.soak import STEPS, SoakSettings, run_soak, server_stack
from benchmarks.wire import WireSettings, run_wire

__all__ = ["MODES", "Mode", "main"]

HERE = Path(__file__).resolve().parent
SECTIONS = ("in-process", "scaling", "import", "wire")
OPT_IN = ("soak",)
"""Sections that run only when ``--only`` names them (a few minutes of load each)."""


@dataclass(frozen=True)
class Mode:
    """How much to measure: ``default`` takes about 10 minutes (the wire section, two server
    stacks and five servers each, more than half of it), ``quick`` about one; the soak section
    about 4 and 0.5."""

    in_process: Settings
    scaling: Settings
    import_rounds: int
    wire_rounds: int
    wire_seconds: int
    soak: SoakSettings


MODES = {
    "default": Mode(
        Settings(41, 0.005),
        Settings(21, 0.003),
        10,
        5,
        3,
        SoakSettings(100_000, 10_000, 5, 2.25, 320),
    ),
    "quick": Mode(
        Settings(9, 0.001), Settings(5, 0.001), 3, 1, 1, SoakSettings(5_000, 1_000, 2, 1.25, 96)
    ),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short run (under a minute)")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)}; "
        f"{','.join(OPT_IN)} only when named: about 4 minutes, 35 s with --quick)",
    )
    parser.add_argument(
        "--contenders",
        default=",".join(c.name for c in CONTENDERS),
        help="comma-separated contenders (the floors are always measured)",
    )
    parser.add_argument("--rounds", type=int, help="override the in-process and scaling rounds")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parser.add_argument(
        "--output",
        type=Path,
        default=HERE,
        help="where README.md, ratios.png and results/latest.json go (default: benchmarks/)",
    )
    parser.add_argument("--no-chart", action="store_true", help="skip the matplotlib chart")
    parser.add_argument(
        "--from-json", type=Path, help="don't measure: render the README and chart from this file"
    )
    return parser


def _progress(section: str, total: int) -> Callable[[int], None]:
    def report(index: int) -> None:
        print(f"\r{section}: round {index + 1}/{total}", end="", file=sys.stderr, flush=True)
        if index + 1 == total:
            print(file=sys.stderr)

    return report


def _split(value: str, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    chosen = tuple(item.strip() for item in value.split(",") if item.strip())
    unknown = [item for item in chosen if item not in allowed]
    if unknown:
        raise SystemExit(f"unknown {what} {unknown}; choose from {', '.join(allowed)}")
    return chosen


def _versions() -> str:
    found = []
    for name in ("asgi-core", "starlette", "faststream", "uvicorn", "websockets", "matplotlib"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def _machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            names = [line.split(":", 1)[1].strip() for line in cpuinfo if "model name" in line]
        model = names[0] if names else model
    except OSError:
        pass
    python = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, {python}"


def _measure(args: argparse.Namespace, mode: Mode, root: Path) -> list[Row]:
    sections = _split(args.only, (*SECTIONS, *OPT_IN), "section")
    names = _split(args.contenders, [c.name for c in CONTENDERS], "contender")
    rows: list[Row] = []
    for section, settings, cases in (
        ("in-process", mode.in_process, in_process_cases),
        ("scaling", mode.scaling, scaling_cases),
    ):
        if section in sections:
            rounds = args.rounds or settings.rounds
            chosen = Settings(rounds, settings.batch_seconds, names)
            rows += run_cases(cases(), chosen, _progress(section, rounds))
    if "import" in sections:
        progress = _progress("import", mode.import_rounds)
        rows += run_imports(mode.import_rounds, root, names, progress)
    if "wire" in sections:
        wire = WireSettings(mode.wire_rounds, mode.wire_seconds, args.connections, names)
        rows += run_wire(wire, root, _progress("wire", mode.wire_rounds))
    if "soak" in sections:
        soak = replace(mode.soak, contenders=names)
        rows += run_soak(soak, root, _progress("soak", STEPS))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Measure (or reload), then write the JSON, the chart and the README block."""
    args = _parser().parse_args(argv)
    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    if args.from_json:
        rows, meta = load_rows(args.from_json)
    else:
        mode_name = "quick" if args.quick else "default"
        command = shlex.join(["python", "-m", "benchmarks", *(argv or sys.argv[1:])])
        meta = {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": _machine(),
            "command": command,
            "mode": mode_name,
            "versions": _versions(),
            "server": server_stack(),
        }
        rows = _measure(args, MODES[mode_name], HERE.parent)
    soak = [row for row in rows if row.section == "soak"]
    rows = [row for row in rows if row.section != "soak"]
    (output / "results").mkdir(exist_ok=True)
    if soak:
        save_rows(output / "results" / "soak.json", soak, meta)
        block = render_soak(soak, meta)
        update_readme(output / "README.md", block, SOAK_START, SOAK_END)
        print(block)
    if not rows:
        return 0
    save_rows(output / "results" / "latest.json", rows, meta)  # first: a run is never lost
    if not args.no_chart:
        from benchmarks.chart import draw

        try:
            draw(rows, output / "ratios.png")
        except ImportError as exc:  # the bench extra without matplotlib: the table still counts
            print(
                f"no chart ({exc}): install matplotlib (pip install -e '.[bench]'), then "
                f"python -m benchmarks --from-json {output / 'results' / 'latest.json'}",
                file=sys.stderr,
            )
        else:
            meta["chart"] = "ratios.png"
            save_rows(output / "results" / "latest.json", rows, meta)
    block = render(rows, meta)
    update_readme(output / "README.md", block)
    print(block)
    return 0
