"""``_concurrency``: which library runs the caller, with every trio the project claims (#9)."""

from __future__ import annotations

import contextlib
import sys
import types
from collections.abc import AsyncIterator
from typing import Any

import pytest

from asgi_core import Application
from asgi_core._concurrency import current_library, new_event, run_bounded

pytestmark = pytest.mark.anyio


class _Without(types.ModuleType):
    """A module that forwards to ``real`` except for the names in ``missing``."""

    def __init__(self, real: types.ModuleType, missing: set[str], **own: Any) -> None:
        super().__init__(real.__name__)
        self._real = real
        self._missing = missing
        self.__dict__.update(own)

    def __getattr__(self, name: str) -> Any:
        if name in self._missing:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        return getattr(self._real, name)


@pytest.fixture
def old_trio(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trio as it was before 0.29: no ``trio.lowlevel.in_trio_task``."""
    import trio

    lowlevel = _Without(trio.lowlevel, {"in_trio_task"})
    monkeypatch.setitem(sys.modules, "trio", _Without(trio, set(), lowlevel=lowlevel))
    monkeypatch.setitem(sys.modules, "trio.lowlevel", lowlevel)
    assert not hasattr(sys.modules["trio"].lowlevel, "in_trio_task")


@pytest.mark.usefixtures("old_trio")
async def test_concurrency_detects_the_loop_beside_an_old_trio_without_in_trio_task(
    anyio_backend: str,
) -> None:
    assert current_library() == anyio_backend
    event = new_event()
    event.set()
    assert await run_bounded(lambda: _set_and_wait(event), 5) == "waited"


@pytest.mark.usefixtures("old_trio")
async def test_concurrency_application_starts_and_stops_beside_an_old_trio(
    anyio_backend: str,
) -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        events.append("entered")
        yield
        events.append("exited")

    app = Application(lifespan=lifespan)
    await app.start()
    await app.stop()
    assert events == ["entered", "exited"]


async def test_concurrency_without_trio_imported_the_library_is_asyncio(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if anyio_backend == "trio":
        assert current_library() == "trio"
        return
    monkeypatch.delitem(sys.modules, "trio", raising=False)
    assert current_library() == "asyncio"
    assert await run_bounded(lambda: _set_and_wait(new_event()), 5) == "waited"


def test_concurrency_outside_any_loop_the_library_is_asyncio() -> None:
    import trio  # imported, but not running this code

    assert "trio" in sys.modules and trio is not None
    assert current_library() == "asyncio"


async def _set_and_wait(event: Any) -> str:
    event.set()
    await event.wait()
    return "waited"


@pytest.mark.parametrize("shield", [False, True])
@pytest.mark.parametrize("timeout", [5.0, None])
async def test_concurrency_run_bounded_passes_the_arguments_on(
    shield: bool, timeout: float | None
) -> None:
    async def add(a: int, b: int) -> int:
        return a + b

    assert await run_bounded(add, timeout, 2, 3, shield=shield) == 5
