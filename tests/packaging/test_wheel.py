"""The wheel ships ``py.typed`` and the extras package, and installs with no dependency."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import venv
import zipfile

import pytest

CHECKOUT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(out),
            str(CHECKOUT),
        ],
        check=True,
        timeout=300,
        capture_output=True,
    )
    (built,) = out.glob("asgi_core-*.whl")
    return built


def test_wheel_contains_py_typed_and_the_extras_package(wheel: pathlib.Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "asgi_core/py.typed" in names
    assert "asgi_core/__init__.py" in names
    assert "asgi_core_extras/__init__.py" in names
    assert not any(name.startswith(("tests/", "extras/", "benchmarks/")) for name in names)


def test_wheel_contains_every_module_of_every_subpackage(wheel: pathlib.Path) -> None:
    """pyproject lists packages by hand: a subpackage missing from the list ships without it."""
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"asgi_core/{path.relative_to(CHECKOUT / 'asgi_core').as_posix()}"
        for path in (CHECKOUT / "asgi_core").rglob("*.py")
    } | {
        f"asgi_core_extras/{path.relative_to(CHECKOUT / 'extras').as_posix()}"
        for path in (CHECKOUT / "extras").rglob("*.py")
    }
    assert {"asgi_core/testing/__init__.py", "asgi_core/asyncapi/__init__.py"} <= expected
    assert {"asgi_core/_concurrency/__init__.py"} <= expected
    assert sorted(expected - names) == []


def test_wheel_installs_nothing_else_and_imports_outside_the_checkout(
    wheel: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    before = _installed(python)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-index", str(wheel)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    assert _installed(python) - before == {"asgi-core"}
    shown = subprocess.run(
        [str(python), "-c", "import asgi_core, asgi_core_extras; print(asgi_core.__file__)"],
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    assert str(env_dir) in shown


def _installed(python: pathlib.Path) -> set[str]:
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"],
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    ).stdout.split()
    return {line.split("==")[0].lower() for line in listed}
