"""Machine instructions per lifespan cycle, counted by valgrind's callgrind: no clock involved.

``python -m benchmarks.callgrind [--hooks 10] [--cycles 2000]`` runs one lifespan cycle of each
app ``--cycles`` times in a child interpreter under ``valgrind --tool=callgrind``, once more
with no cycle, and prints the difference per cycle: the same figure whatever else the shared
machine is doing, so two versions of the code compare exactly (the timed rows swing by ±10%
here). Instructions are not time: calls, allocations and cache misses weigh differently, but
on this code the ratios of the two agree to within ~10%. Needs ``valgrind`` (Debian's package);
the timed suite does not.
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

__all__ = ["APPS", "instructions_per_cycle", "main"]


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


def _child(name: str, hooks: int, cycles: int) -> None:
    """Run ``cycles`` lifespan cycles of app ``name`` (after 200 uncounted ones: caches warm)."""
    import anyio  # noqa: F401  - loaded in the timed suite's process too (Starlette needs it)

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


def _collected(name: str, hooks: int, cycles: int) -> int:
    command = [
        *("valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"),
        *(sys.executable, "-m", "benchmarks.callgrind", "--child", name),
        *("--hooks", str(hooks), "--cycles", str(cycles)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr}")
    return int(found.group(1))


def instructions_per_cycle(name: str, hooks: int, cycles: int) -> int:
    """Instructions of ``cycles`` cycles minus those of none, per cycle."""
    return (_collected(name, hooks, cycles) - _collected(name, hooks, 0)) // cycles


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.callgrind", description=__doc__)
    parser.add_argument("--hooks", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=2000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        _child(args.child, args.hooks, args.cycles)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    counts = {name: instructions_per_cycle(name, args.hooks, args.cycles) for name in APPS}
    floor = counts["floor"]
    print(f"| lifespan cycle, {args.hooks} hooks | instructions | ratio to the floor |")
    print("| --- | --- | --- |")
    for name, count in counts.items():
        print(f"| {name} | {count:,} | {count / floor:.2f}\N{MULTIPLICATION SIGN} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
