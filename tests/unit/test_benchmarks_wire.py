"""The wire section's bookkeeping on made-up wrk results: no server, no load."""

from __future__ import annotations

import pytest

from benchmarks import wire
from benchmarks.wire import BASELINE, SECOND, WrkResult


def _result(rate: float) -> WrkResult:
    return WrkResult(rate, p50_ms=1.0, p99_ms=2.0, errors="")


def test_benchmarks_wire_serves_both_bare_dispatchers_whatever_contenders_are_asked() -> None:
    assert wire.served(["asgi_core"]) == [BASELINE, SECOND, "asgi_core"]
    assert wire.served([]) == [BASELINE, SECOND]
    assert wire.FACTORIES[SECOND] == wire.FACTORIES[BASELINE]  # the same app, another process


def test_benchmarks_wire_second_server_is_a_column_of_ratios_to_the_first_round_by_round() -> None:
    stack = next(iter(wire.STACKS))
    rates = {BASELINE: [100.0, 200.0, 100.0], SECOND: [98.0, 204.0, 101.0]}
    results = {
        (stack, "hit", name): [_result(rate) for rate in values] for name, values in rates.items()
    }
    rows = {
        row.contender: row
        for row in wire._rows(results, {})
        if row.case == "hit req/s" and row.value is not None
    }
    assert set(rows) == {BASELINE, SECOND}
    second = rows[SECOND].value
    assert second is not None
    # per round 0.98, 1.02, 1.01: the median of the paired ratios, not a ratio of medians
    assert second.median == pytest.approx(1.01)
    first = rows[BASELINE].value
    assert first is not None
    assert first.median == 1.0


def test_benchmarks_wire_a_server_answering_wrongly_in_a_later_round_loses_its_rounds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stack = next(iter(wire.STACKS))
    ports = {(stack, BASELINE): 1, (stack, "asgi_core"): 2}
    answers = {1: {}, 2: {wire.PATHS["hit"][0]: 500}}  # port 2's hit path is broken this round

    def status(port: int, path: str) -> int:
        expected = next(code for target, code in wire.PATHS.values() if target == path)
        return answers[port].get(path, expected)

    monkeypatch.setattr(wire, "http_status", status)
    problems: dict[wire.Key, str] = {}
    earlier = {(stack, "hit", name): [_result(100.0)] for name in (BASELINE, "asgi_core")}
    wire._check_answers(ports, problems, earlier)
    # the broken row is pending, with none of its earlier rounds kept; the rest keep theirs
    assert problems == {
        (stack, "hit", "asgi_core"): "pending: GET /service4/status answered 500, not 200"
    }
    assert (stack, "hit", "asgi_core") not in earlier
    assert earlier[(stack, "hit", BASELINE)] == [_result(100.0)]
    rows = {row.contender: row for row in wire._rows(earlier, problems) if row.case == "hit req/s"}
    assert rows["asgi_core"].value is None
    assert rows["asgi_core"].detail == "pending: GET /service4/status answered 500, not 200"
    assert rows[BASELINE].value is not None
