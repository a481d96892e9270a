"""The soak section's parsing, counting and rendering, on tiny made-up inputs.

Nothing here starts a server, runs wrk or times anything: the section itself runs only with
``python -m benchmarks --only soak``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from benchmarks.cli import main
from benchmarks.harness import Spread
from benchmarks.report import END, SOAK_END, SOAK_START, START, render_soak, update_readme
from benchmarks.results import Row, verdict
from benchmarks.soak import connection_errors
from benchmarks.soak_load import parse_loaded
from benchmarks.soak_rss import rss_row
from benchmarks.soak_sigterm import Exchange, read_response, tally

WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:41234
  1 threads and 16 connections
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:   7000.00
SOAK responses=100000 unexpected=4
"""

META = {
    "date": "2026-12-01 17:00 UTC",
    "machine": "a test machine",
    "command": "python -m benchmarks --only soak",
    "mode": "default",
    "versions": "asgi-core 0.1.0",
    "server": "asgi-core run",
}


def test_soak_load_reads_the_script_line_and_socket_errors() -> None:
    loaded = parse_loaded(WRK_OUTPUT)
    assert (loaded.responses, loaded.unexpected) == (100000, 4)
    assert loaded.errors == "Socket errors: connect 0, read 3, write 0, timeout 2"


def test_soak_load_without_the_script_line_says_so() -> None:
    with pytest.raises(ValueError, match="no SOAK line"):
        parse_loaded("Requests/sec: 1.00\n")


def test_soak_connection_errors_add_socket_errors_and_wrong_statuses() -> None:
    assert connection_errors(WRK_OUTPUT) == 3 + 2 + 7
    assert connection_errors("Requests/sec: 1.00\n") == 0


def test_soak_rss_row_is_growth_per_100k_after_the_first_window() -> None:
    samples = [30_000, 30_100, 30_120, 30_140]
    row = rss_row("route hit", "asgi_core", 100_000, samples, [25_000, 25_000, 25_000])
    assert row.case == "RSS per 100k, route hit"
    assert row.value == Spread(80.0, 80.0, 80.0)  # 40 kB over the last 50k responses
    assert "then +0, +100, +120, +140 kB after each 25000 responses" in row.detail


def test_soak_tally_counts_lost_in_flight_and_unanswered() -> None:
    exchanges = [
        Exchange("0-0", sent_at=0.0, answered_at=0.5),  # answered before SIGTERM
        Exchange("0-1", sent_at=0.5, answered_at=1.2),  # in flight, finished
        Exchange("1-0", sent_at=0.6, answered_at=None),  # in flight, lost
        Exchange("0-2", sent_at=1.2, answered_at=None),  # never reached the app
    ]
    drained = tally(exchanges, {"0-0", "0-1", "1-0"}, signalled_at=1.0, refused=2)
    assert (drained.sent, drained.accepted, drained.lost) == (4, 3, 1)
    assert (drained.in_flight, drained.finished_in_flight) == (2, 1)
    assert (drained.unanswered, drained.refused) == (1, 2)
    assert drained.describe().startswith("1 of 2 in flight at SIGTERM finished")


def _read(data: bytes) -> tuple[bool, bool]:
    async def read() -> tuple[bool, bool]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        reader.feed_eof()
        return await read_response(reader)

    return asyncio.run(read())  # the soak client is an asyncio client, not an anyio one


def test_soak_client_needs_the_whole_body_and_honours_connection_close() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n"
    assert _read(head + b"\r\nok") == (True, True)
    assert _read(head + b"Connection: close\r\n\r\nok") == (True, False)
    assert _read(head + b"\r\no") == (False, False)
    assert _read(b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n") == (
        False,
        True,
    )
    assert _read(b"") == (False, False)


def test_soak_verdicts_hold_lost_requests_and_errors_to_zero() -> None:
    lost = Row("soak", "lost on SIGTERM under load", "asgi_core", Spread(1, 1, 1), "")
    none_lost = Row("soak", "lost on SIGTERM under load", "asgi_core", Spread(0, 0, 0), "")
    assert (verdict(lost), verdict(none_lost)) == ("MISSED", "met")


def test_soak_block_renders_beside_the_results_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Benchmarks\n\n{START}\nother tables\n{END}\n\nnotes\n", encoding="utf-8")
    rows = [
        rss_row("route hit", "asgi_core", 100_000, [30_000, 30_000, 30_004], [50_000, 100_000]),
        rss_row("route hit", "FastStream", 100_000, [44_000, 44_000, 44_000], [50_000, 50_000]),
        Row("soak", "lost on SIGTERM under load", "asgi_core", None, "", "pending: no wrk"),
    ]
    block = render_soak(rows, META)
    assert "| RSS per 100k, route hit | 4 kB | 0 kB | ≤ 100kB | met |" in block
    assert "| lost on SIGTERM under load | pending |  | ≤ 0 | pending |" in block
    assert (
        "- RSS per 100k, route hit: asgi_core 29.3 MB after the warm-up, then +0, +0, +4" in block
    )
    assert "- lost on SIGTERM under load: " not in block  # a pending row has no figures to show
    update_readme(readme, block, SOAK_START, SOAK_END)
    update_readme(readme, render_soak(rows[:1], META), SOAK_START, SOAK_END)
    text = readme.read_text(encoding="utf-8")
    assert f"{START}\nother tables\n{END}\n\nnotes\n" in text
    assert text.count(SOAK_START) == 1 and "FastStream" not in text


def test_soak_is_a_known_section() -> None:
    with pytest.raises(SystemExit, match=r"unknown section \['nope'\]; choose from .*soak"):
        main(["--only", "soak,nope", "--no-chart"])
