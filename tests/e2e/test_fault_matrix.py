"""The fault-injection matrix (issues 6, 13): every failure mode under every server, as seen.

One real process per (server, mode); see ``fault_matrix.py`` for what is observed. Each cell
must match ``EXPECTED`` (or one of the racing outcomes ``ALSO_SEEN`` lists); the rules a
cell breaks must be exactly the documented ``DEVIATIONS``; and ``docs/failure-matrix.md`` must
be what ``render()`` makes of them.

The cells run ``JOBS`` at a time (``FAULT_MATRIX_JOBS``, default 3; 1 runs them one by one):
the first cell test starts every selected cell in a thread pool, and each test waits for its
own. Every wait inside a cell has its own deadline, so a slow machine makes cells slower, not
wrong.
"""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import signal
from collections.abc import Iterator

import pytest

from tests.e2e.fault_matrix import (
    ALSO_SEEN,
    APP,
    DEVIATIONS,
    DOC,
    EXPECTED,
    MODES,
    RULES,
    SETUPS,
    STARTED,
    STOPPED,
    Outcome,
    agrees,
    broken_rules,
    main,
    observe,
    render,
)
from tests.e2e.servers import free_port, served

CELLS = [(setup, mode) for setup in SETUPS for mode in MODES]
JOBS = int(os.environ.get("FAULT_MATRIX_JOBS", "3"))
CELL_DEADLINE = 300.0  # a cell's own waits end long before this
Cells = dict[tuple[str, str], "concurrent.futures.Future[Outcome]"]


@pytest.fixture(scope="module")
def observations(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cells]:
    """Every selected cell, started ``JOBS`` at a time in the order the tests run."""
    name = test_fault_matrix_cell_shows_the_user_what_the_matrix_says.__name__
    selected = [
        (item.callspec.params["setup"], item.callspec.params["mode"])
        for item in request.session.items
        if getattr(item, "originalname", None) == name and hasattr(item, "callspec")
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, JOBS)) as pool:
        cells: Cells = {
            cell: pool.submit(observe, *cell, tmp_path_factory.mktemp("cell")) for cell in selected
        }
        yield cells
        for future in cells.values():
            future.cancel()


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize(("setup", "mode"), CELLS)
def test_fault_matrix_cell_shows_the_user_what_the_matrix_says(
    setup: str, mode: str, observations: Cells
) -> None:
    seen = observations[setup, mode].result(timeout=CELL_DEADLINE)
    assert agrees(setup, mode, seen), (seen, EXPECTED[setup, mode])


@pytest.mark.parametrize(("setup", "mode"), CELLS)
def test_fault_matrix_cell_breaks_only_the_documented_rules(setup: str, mode: str) -> None:
    broken = broken_rules(mode, EXPECTED[setup, mode])
    assert broken == set(DEVIATIONS.get((setup, mode), {}))


def test_fault_matrix_deviations_name_known_cells_and_rules() -> None:
    for cell, rules in DEVIATIONS.items():
        assert cell in EXPECTED
        assert set(rules) <= set(RULES)
        assert all(text.strip() for text in rules.values())
    for cell, others in ALSO_SEEN.items():
        assert cell in EXPECTED
        assert all(other.outcome != EXPECTED[cell] and other.why.strip() for other in others)
        broken = set(DEVIATIONS.get(cell, {}))
        assert all(broken_rules(cell[1], other.outcome) == broken for other in others)


def test_fault_matrix_accepts_only_the_documented_racing_outcomes() -> None:
    cell, others = next(iter(ALSO_SEEN.items()))
    expected = EXPECTED[cell]
    assert all(agrees(*cell, other.outcome) for other in others)
    assert not agrees(*cell, expected._replace(status=expected.status + 100))
    assert not agrees(*cell, expected._replace(served=not expected.served))


def test_fault_matrix_document_is_rendered_from_the_asserted_expectations() -> None:
    assert DOC.read_text() == render(), (
        "docs/failure-matrix.md is out of date: run "
        "`python -m tests.e2e.fault_matrix --write docs/failure-matrix.md`"
    )


def test_fault_matrix_document_lists_every_cell_and_every_deviation() -> None:
    text = render()
    assert all(f"## {setup}" in text for setup in SETUPS)
    assert text.count("\n| ") == (1 + len(SETUPS)) * (1 + len(MODES))  # overview + per server
    for rules in DEVIATIONS.values():
        assert all(reason in text for reason in rules.values())


def test_fault_matrix_check_reports_a_stale_document(tmp_path: pathlib.Path) -> None:
    stale = tmp_path / "failure-matrix.md"
    stale.write_text(render().replace("| 3 |", "| 0 |"))
    assert main(["--check", str(stale)]) == 1
    assert main(["--write", str(stale), "--no-run"]) == 0
    assert main(["--check", str(stale)]) == 0


@pytest.mark.e2e
@pytest.mark.slow
def test_run_with_gunicorn_workers_shuts_every_worker_down_on_sigint_to_the_main_process(
    tmp_path: pathlib.Path,
) -> None:
    """gunicorn turns SIGINT into SIGQUIT for its workers; ours must still run the shutdown."""
    port = free_port()
    args = ("asgi_core", "run", APP, "--port", str(port), "--workers", "2")
    with served(args, tmp_path, port=port, env={"FAULT_MODE": "none"}, name="run") as proc:
        proc.wait_ready("/")
        assert len(proc.wait_for_lines("after_startup", 2)) == 2
        assert proc.stop(signal.SIGINT) == 0
    by_worker: dict[str, list[str]] = {}
    for line in proc.records():
        step, pid = line.split(" pid=")
        by_worker.setdefault(pid, []).append(step)
    assert list(by_worker.values()) == [[*STARTED, *STOPPED]] * 2
