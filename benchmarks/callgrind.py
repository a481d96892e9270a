"""Machine instructions per lifespan cycle, counted by valgrind's callgrind: no clock involved.

``python -m benchmarks.callgrind [--hooks 10] [--cycles 2000]`` runs one lifespan cycle of each
app ``--cycles`` times in a child interpreter under ``valgrind --tool=callgrind``, once more
with no cycle, and prints the difference per cycle: the same figure whatever else the shared
machine is doing, so two versions of the code compare exactly (the timed rows swing by ±10%
here). ``--case "404 miss"`` (any in-process or scaling row's label) counts that row instead:
its floor, its reference if it has one, and every contender, each through the very runner the
timed suite times, after the same check of its answer. Instructions are not time: calls,
allocations and cache misses weigh differently, and here the timed ratios run some 10-30%
above the instruction ratios, for every contender (compare instructions with instructions).
Needs ``valgrind`` (Debian's package); the timed suite does not.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
from collections.abc import Callable

from benchmarks.fixtures import (
    App,
    Message,
    NoopBroker,
    discard,
    lifespan_receive,
    lifespan_scope,
)
from benchmarks.harness import Runner

__all__ = ["APPS", "case_names", "instructions_per_cycle", "main"]


def _floor(hooks: int) -> App:
    from benchmarks.floor import BareLifespan, noop_hooks

    return BareLifespan(noop_hooks(hooks), NoopBroker())


def _reference(hooks: int) -> App:
    from benchmarks.floor import noop_hooks
    from benchmarks.reference import BoundedTableLifespan

    return BoundedTableLifespan(noop_hooks(hooks), NoopBroker())


def _contender(name: str, bounded: bool = True) -> Callable[[int], App]:
    def build(hooks: int) -> App:
        from benchmarks.contenders import CONTENDERS
        from benchmarks.floor import noop_hooks

        contender = next(c for c in CONTENDERS if c.name == name)
        make = contender.lifespan if bounded else contender.unbounded_lifespan
        assert make is not None
        return make(noop_hooks(hooks), NoopBroker())

    return build


APPS: dict[str, Callable[[int], App]] = {
    "floor": _floor,
    "bounded-table reference": _reference,
    "Starlette": _contender("Starlette"),
    "asgi_core": _contender("asgi_core"),
    "asgi_core, no time limits": _contender("asgi_core", bounded=False),
}
"""What is counted, by the name it is printed with."""


def _as_in_the_timed_suite() -> None:
    """Load what the timed suite's process has loaded by the time it times anything: anyio,
    and its asyncio backend (the contenders' checks run anyio on asyncio), which code that asks
    whether an anyio cancel scope encloses it then looks at."""
    import anyio._backends._asyncio  # noqa: F401


def _child(name: str, hooks: int, cycles: int) -> None:
    """Run ``cycles`` lifespan cycles of app ``name`` (after 200 uncounted ones: caches warm)."""
    _as_in_the_timed_suite()

    app = APPS[name](hooks)

    async def run() -> None:
        sent: list[str] = []

        async def record(message: Message) -> None:
            sent.append(message["type"])

        await app(lifespan_scope(), lifespan_receive(), record)  # a wrong answer counts nothing
        if sent != ["lifespan.startup.complete", "lifespan.shutdown.complete"]:
            raise RuntimeError(f"{name} answered {sent} to a lifespan cycle")
        for _ in range(200 + cycles):
            await app(lifespan_scope(), lifespan_receive(), discard)

    asyncio.run(run())


def _case_runner(label: str, name: str) -> Runner:
    """The timed suite's runner of row ``label`` for ``name`` (a contender, the floor, the
    reference), its answer checked first."""
    from benchmarks.contenders import CONTENDERS
    from benchmarks.inprocess import REFERENCE, _floors, in_process_cases, scaling_cases

    case = {case.label: case for case in [*in_process_cases(), *scaling_cases()]}[label]
    if name == "floor":
        return _floors()[case.floor]
    if name == REFERENCE:
        assert case.reference is not None
        build, check = case.reference
        if check() != case.expect:
            raise RuntimeError(f"{name} answers {label} wrongly")
        return case.run(build())
    contender = next(c for c in CONTENDERS if c.name == name)
    app = case.build(contender)
    if case.check(contender, app) != case.expect:
        raise RuntimeError(f"{name} answers {label} wrongly")
    return case.run(app)


def case_names(label: str) -> list[str]:
    """What ``--case label`` counts: the floor, the reference if the row has one, each contender."""
    from benchmarks.contenders import CONTENDERS
    from benchmarks.inprocess import REFERENCE, in_process_cases, scaling_cases

    case = {case.label: case for case in [*in_process_cases(), *scaling_cases()]}[label]
    reference = [REFERENCE] if case.reference is not None else []
    return ["floor", *reference, *(contender.name for contender in CONTENDERS)]


def _case_child(label: str, name: str, calls: int) -> None:
    """Run row ``label``'s runner for ``name`` over ``calls`` calls (after 200 uncounted)."""
    _as_in_the_timed_suite()

    run = _case_runner(label, name)

    async def main() -> None:
        await run(200)
        await run(calls)

    asyncio.run(main())


def _collected(name: str, hooks: int, cycles: int, case: str | None = None) -> int:
    command = [
        *("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"),
        *(sys.executable, "-m", "benchmarks.callgrind", "--child", name),
        *("--hooks", str(hooks), "--cycles", str(cycles)),
        *(("--case", case) if case is not None else ()),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr}")
    return int(found.group(1))


def instructions_per_cycle(name: str, hooks: int, cycles: int, case: str | None = None) -> int:
    """Instructions of ``cycles`` cycles (calls of row ``case``) minus those of none, per one."""
    counted = _collected(name, hooks, cycles, case) - _collected(name, hooks, 0, case)
    return counted // cycles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.callgrind", description=__doc__)
    parser.add_argument("--hooks", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=2000)
    parser.add_argument("--case", help='count this row of the timed suite (e.g. "404 miss")')
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        if args.case is not None:
            _case_child(args.case, args.child, args.cycles)
        else:
            _child(args.child, args.hooks, args.cycles)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    if args.case is not None:
        names = case_names(args.case)
        title = args.case
    else:
        names = list(APPS)
        title = f"lifespan cycle, {args.hooks} hooks"
    counts = {}
    for name in names:
        try:
            counts[name] = instructions_per_cycle(name, args.hooks, args.cycles, args.case)
        except subprocess.CalledProcessError as exc:  # a contender not installed, or wrong
            print(f"{name}: not counted ({exc.stderr.strip().splitlines()[-1]})", file=sys.stderr)
    floor = counts["floor"]
    print(f"| {title} | instructions | ratio to the floor |")
    print("| --- | --- | --- |")
    for name, count in counts.items():
        print(f"| {name} | {count:,} | {count / floor:.2f}\N{MULTIPLICATION SIGN} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
