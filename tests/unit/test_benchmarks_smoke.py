"""The benchmark suite runs end to end and writes its outputs; nothing here measures speed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.report import END, START

pytestmark = pytest.mark.slow


def test_benchmarks_quick_run_writes_table_and_json(tmp_path: Path) -> None:
    argv = [
        *("--quick", "--rounds", "2", "--only", "in-process,scaling"),
        *("--contenders", "bare dict,asgi_core", "--no-chart", "--output", str(tmp_path)),
    ]
    assert main(argv) == 0
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert START in readme and END in readme
    assert "| route hit |" in readme and "| hit, 1000 ÷ 5 routes |" in readme
    payload = json.loads((tmp_path / "results" / "latest.json").read_text(encoding="utf-8"))
    cases = {(row["section"], row["case"], row["contender"]) for row in payload["rows"]}
    assert ("in-process", "404 miss", "asgi_core") in cases
    assert ("scaling", "lifespan, 100 hooks", "bare dict") in cases
    assert ("scaling", "lifespan, 10 hooks, no time limits", "asgi_core") in cases
    # the reference is timed beside the bounded lifespan rows only
    assert ("in-process", "lifespan, 10 hooks", "bounded-table reference") in cases
    assert ("scaling", "lifespan, 100 hooks", "bounded-table reference") in cases
    assert ("scaling", "lifespan, 10 hooks, no time limits", "bounded-table reference") not in cases
    assert ("in-process", "route hit", "bounded-table reference") not in cases
    assert not any(row["contender"] in ("Starlette", "FastStream") for row in payload["rows"])


def test_benchmarks_rerender_from_json_keeps_hand_written_text(tmp_path: Path) -> None:
    first = [
        *("--quick", "--rounds", "1", "--only", "in-process"),
        *("--contenders", "asgi_core", "--no-chart", "--output", str(tmp_path)),
    ]
    assert main(first) == 0
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Notes\n\nkept\n\n" + readme.read_text(encoding="utf-8").split("\n\n", 1)[1]
    )
    again = ["--from-json", str(tmp_path / "results" / "latest.json"), "--no-chart"]
    assert main([*again, "--output", str(tmp_path)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Notes\n\nkept\n") and text.count(START) == 1


def test_benchmarks_reference_lifespan_is_bounded_and_table_driven() -> None:
    """The reference column is only worth its name if it does what it claims: every step
    bounded (a hung one cancelled and reported), the protocol checked by the table."""
    import asyncio

    from benchmarks.fixtures import NoopBroker, lifespan_receive, lifespan_scope
    from benchmarks.reference import BoundedTableLifespan

    async def hung() -> None:
        await asyncio.sleep(30)

    async def cycle(app: BoundedTableLifespan, receive: object) -> list[dict[str, object]]:
        sent: list[dict[str, object]] = []

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        await asyncio.wait_for(app(lifespan_scope(), receive, send), 10)  # type: ignore[arg-type]
        return sent

    ok = asyncio.run(cycle(BoundedTableLifespan([], NoopBroker()), lifespan_receive()))
    assert [m["type"] for m in ok] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    failed = asyncio.run(
        cycle(BoundedTableLifespan([hung], NoopBroker(), timeout=0.05), lifespan_receive())
    )
    assert [m["type"] for m in failed] == ["lifespan.startup.failed"]
    assert "timed out" in str(failed[0]["message"])

    async def twice() -> dict[str, str]:
        return {"type": "lifespan.startup"}

    with pytest.raises(RuntimeError, match="not valid"):  # startup, then startup again
        asyncio.run(cycle(BoundedTableLifespan([], NoopBroker()), twice))


def test_benchmarks_callgrind_apps_run_one_cycle_each() -> None:
    """What ``python -m benchmarks.callgrind`` counts runs (valgrind itself is not needed here)."""
    from benchmarks import callgrind

    assert set(callgrind.APPS) >= {"floor", "bounded-table reference", "Starlette", "asgi_core"}
    for name in callgrind.APPS:
        callgrind._child(name, 10, 1)  # raises if an app fails or answers wrongly


def test_benchmarks_callgrind_refuses_to_count_an_app_that_answers_wrongly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from benchmarks import callgrind
    from benchmarks.fixtures import Receive, Scope, Send

    async def failing(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no"})

    monkeypatch.setitem(callgrind.APPS, "broken", lambda hooks: failing)
    with pytest.raises(RuntimeError, match="broken answered"):
        callgrind._child("broken", 10, 1)


@pytest.mark.parametrize("row", ["route hit", "404 miss", "lifespan, 10 hooks"])
def test_benchmarks_callgrind_counts_a_timed_row_through_its_own_runner(row: str) -> None:
    """``--case``: the floor, the reference (lifespan rows) and every contender of the row."""
    from benchmarks import callgrind

    names = callgrind.case_names(row)
    assert names[0] == "floor" and "asgi_core" in names
    assert ("bounded-table reference" in names) == row.startswith("lifespan")
    for name in names:
        callgrind._case_child(row, name, 1)  # raises if an app fails or answers wrongly


def test_benchmarks_callgrind_case_refuses_a_contender_that_answers_wrongly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from benchmarks import callgrind, inprocess

    cases = inprocess.in_process_cases()
    miss = next(case for case in cases if case.label == "404 miss")
    monkeypatch.setattr(inprocess, "in_process_cases", lambda: [replace(miss, expect=("nope",))])
    with pytest.raises(RuntimeError, match="answers 404 miss wrongly"):
        callgrind._case_child("404 miss", "asgi_core", 1)
