"""The benchmark suite runs end to end and writes its outputs; nothing here measures speed."""

from __future__ import annotations

import json
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
