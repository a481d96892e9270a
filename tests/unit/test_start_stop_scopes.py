"""``start()`` and ``stop()`` leave nothing open in the caller: other scopes, other tasks (#9).

Each shape runs on asyncio and trio, with no lifespan, with a user lifespan that opens its own
task group with a child running until the lifespan exits, and with a mounted app whose lifespan
runs beside ours.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import pytest

from asgi_core import Application, AsgiFastStream
from asgi_core.types import Receive, Scope, Send

pytestmark = pytest.mark.anyio


class Probe:
    """Records what the lifespan's child task and the mounted app saw."""

    def __init__(self) -> None:
        self.events: list[str] = []


def plain(probe: Probe) -> Application:
    @contextlib.asynccontextmanager
    async def unused() -> AsyncIterator[None]:  # pragma: no cover - never entered
        yield

    app = Application()
    app.on_startup(lambda: probe.events.append("started"))
    app.after_shutdown(lambda: probe.events.append("stopped"))
    return app


def with_task_group(probe: Probe) -> Application:
    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        async def child() -> None:
            probe.events.append("child running")
            try:
                await anyio.sleep_forever()
            finally:
                probe.events.append("child cancelled")

        async with anyio.create_task_group() as group:
            group.start_soon(child)
            await anyio.sleep(0)  # the child runs before startup completes
            probe.events.append("started")
            yield
            group.cancel_scope.cancel()
        probe.events.append("stopped")

    return Application(lifespan=lifespan)


def with_mounted_app(probe: Probe) -> Application:
    async def mounted(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "lifespan"
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.sleep_forever)
            assert (await receive())["type"] == "lifespan.startup"
            probe.events.append("started")
            await send({"type": "lifespan.startup.complete"})
            assert (await receive())["type"] == "lifespan.shutdown"
            group.cancel_scope.cancel()
        probe.events.append("stopped")
        await send({"type": "lifespan.shutdown.complete"})

    return AsgiFastStream(asgi_routes=[("/mounted", mounted)])


SHAPES: dict[str, Callable[[Probe], Application]] = {
    "no lifespan": plain,
    "lifespan with a task group": with_task_group,
    "mounted app": with_mounted_app,
}


@pytest.fixture(params=list(SHAPES))
def shape(request: pytest.FixtureRequest) -> Callable[[Probe], Application]:
    return SHAPES[request.param]


def assert_ran(probe: Probe, app: Application) -> None:
    assert not app.running
    assert probe.events[-1] == "stopped" and probe.events.count("stopped") == 1
    assert "started" in probe.events
    if "child running" in probe.events:
        assert probe.events.index("child cancelled") < probe.events.index("stopped")


async def test_application_starts_and_stops_in_separate_cancel_scopes(
    shape: Callable[[Probe], Application],
) -> None:
    probe = Probe()
    app = shape(probe)
    with anyio.fail_after(5):
        await app.start()
    assert app.running
    with anyio.fail_after(5):
        await anyio.sleep(0)  # the caller's own scopes keep working between the calls
    with anyio.fail_after(5):
        await app.stop()
    assert_ran(probe, app)


async def test_application_stops_from_another_task_than_start(
    shape: Callable[[Probe], Application],
) -> None:
    probe = Probe()
    app = shape(probe)
    async with anyio.create_task_group() as group:
        group.start_soon(app.start)
    assert app.running
    async with anyio.create_task_group() as group:
        group.start_soon(app.stop)
    assert_ran(probe, app)


async def test_application_started_by_a_worker_task_is_stopped_by_its_supervisor(
    shape: Callable[[Probe], Application],
) -> None:
    probe = Probe()
    app = shape(probe)
    started = anyio.Event()

    async def worker() -> None:
        with anyio.fail_after(5):
            await app.start()
        started.set()
        await anyio.sleep_forever()  # until the supervisor cancels it

    async with anyio.create_task_group() as group:
        group.start_soon(worker)
        await started.wait()
        with anyio.fail_after(5):
            await app.stop()
        group.cancel_scope.cancel()
    assert_ran(probe, app)


async def test_application_started_in_a_scope_then_cancelled_keeps_running(
    shape: Callable[[Probe], Application],
) -> None:
    probe = Probe()
    app = shape(probe)
    with anyio.CancelScope() as scope:
        await app.start()
        scope.cancel()
        await anyio.sleep(0)  # cancelled here: the app, started in this scope, is not
    assert app.running
    if "child running" in probe.events:
        assert "child cancelled" not in probe.events
    await app.stop()
    assert_ran(probe, app)


@pytest.fixture
async def started_app(shape: Callable[[Probe], Application]) -> AsyncIterator[tuple[Probe, Any]]:
    probe = Probe()
    app = shape(probe)
    with anyio.fail_after(5):  # setup and teardown each bounded, as careful fixtures are
        await app.start()
    yield probe, app
    with anyio.fail_after(5):
        await app.stop()
    assert_ran(probe, app)


async def test_application_starts_in_a_fixture_setup_and_stops_in_its_teardown(
    started_app: tuple[Probe, Application],
) -> None:
    probe, app = started_app
    assert app.running and "started" in probe.events


async def test_application_async_with_and_start_lifespan_context_run_every_step(
    shape: Callable[[Probe], Application],
) -> None:
    probe = Probe()
    app = shape(probe)
    with anyio.fail_after(5):
        async with app:
            assert app.running
    assert_ran(probe, app)
    if isinstance(app, AsgiFastStream):
        probe.events.clear()
        with anyio.fail_after(5):
            async with app.start_lifespan_context():
                assert app.running
        assert_ran(probe, app)


async def test_application_cancelled_start_undoes_the_lifespan_then_lets_cancel_through() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.sleep_forever)
            events.append("entered")
            try:
                yield
            finally:
                group.cancel_scope.cancel()
                events.append("exited")

    app = Application(lifespan=lifespan)
    outer = anyio.CancelScope()

    async def stuck() -> None:
        if not outer.cancel_called:  # the first start() is cancelled while this step runs
            outer.cancel()
            await anyio.sleep_forever()

    app.on_startup(stuck)
    with outer as scope:
        await app.start()
    assert scope.cancelled_caught
    assert events == ["entered", "exited"] and not app.running
    with anyio.fail_after(5):
        await app.start()  # nothing was left behind: it starts again
        await app.stop()
    assert events == ["entered", "exited"] * 2


async def test_application_stop_inside_a_cancelled_scope_runs_every_shutdown_step(
    shape: Callable[[Probe], Application],
) -> None:
    probe = Probe()
    app = shape(probe)
    hooks: list[str] = []

    async def on_shutdown() -> None:
        await anyio.sleep(0)  # an await that a cancellation would interrupt, were it not shielded
        hooks.append("on_shutdown")

    app.on_shutdown(on_shutdown)
    await app.start()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await app.stop()
    assert hooks == ["on_shutdown"]
    assert_ran(probe, app)


@pytest.mark.parametrize("call", ["start", "stop"])
async def test_application_start_or_stop_while_start_runs_in_another_task_is_a_clear_error(
    call: str,
) -> None:
    release = anyio.Event()
    entered = anyio.Event()
    app = Application()

    async def slow() -> None:
        entered.set()
        await release.wait()

    app.on_startup(slow)
    async with anyio.create_task_group() as group:
        group.start_soon(app.start)
        await entered.wait()
        with pytest.raises(
            RuntimeError, match=rf"{call}\(\) called while start\(\) of .* is still"
        ):
            await getattr(app, call)()
        release.set()
    assert app.running
    await app.stop()
    assert not app.running


class Interrupt(BaseException):
    """Stands for KeyboardInterrupt or SystemExit, which pytest itself would act on."""


@pytest.mark.parametrize("where", ["enter", "exit"])
async def test_application_base_exception_from_the_lifespan_reaches_the_caller(where: str) -> None:
    steps: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan() -> AsyncIterator[None]:
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.sleep_forever)
            if where == "exit":
                yield
            group.cancel_scope.cancel()
        raise Interrupt

    app = Application(lifespan=lifespan)
    app.on_shutdown(lambda: steps.append("on_shutdown"))
    if where == "enter":
        with pytest.raises(Interrupt):
            await app.start()
        assert not app.running and steps == []
        return
    await app.start()
    with pytest.raises(Interrupt):
        await app.stop()
    assert not app.running and steps == ["on_shutdown"]


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_application_stop_in_another_task_bounds_its_own_hung_step() -> None:
    """The time limit of ``stop()``'s steps cancels the task running ``stop()``: not the task
    that ran ``start()`` (it goes on undisturbed), and the hung step is named. Plain asyncio
    tasks (none under an anyio scope, which has a shield of its own), as a server has."""
    import asyncio

    from asgi_core import HookTimeoutError

    app = Application(shutdown_timeout=0.2)
    starter_done = asyncio.Event()
    started = asyncio.Event()
    starter_events: list[str] = []

    @app.on_shutdown
    async def hangs() -> None:
        await asyncio.Event().wait()

    async def starter() -> None:
        await app.start()
        started.set()
        try:
            await starter_done.wait()  # still running while another task stops the app
            starter_events.append("not cancelled")
        except asyncio.CancelledError:
            starter_events.append("cancelled")
            raise

    starting = asyncio.ensure_future(starter())
    await started.wait()
    stopping = asyncio.ensure_future(app.stop())
    # a limit aimed at the wrong task would leave stop() hung: bounded here, not forever
    done, _ = await asyncio.wait([stopping], timeout=10)
    starter_done.set()
    await asyncio.wait([starting], timeout=10)
    assert done, "stop() hung: its time limit cancelled another task"
    with pytest.raises(HookTimeoutError) as caught:
        stopping.result()
    assert "hangs" in caught.value.step and caught.value.stage == "shutdown"
    assert starter_events == ["not cancelled"]
