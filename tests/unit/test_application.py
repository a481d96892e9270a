"""Application: hook registration and order, start/stop, brokers, from_app."""

from __future__ import annotations

import copy
from typing import Any

import anyio
import pytest

from asgi_core import Application, AsgiFastStream, Context, HookError

pytestmark = pytest.mark.anyio


def test_application_keeps_the_seed_defaults_and_attributes() -> None:
    app = Application()
    assert (app.title, app.version, app.description) == ("FastStream", "0.1.0", "")
    assert app.broker is None and app.identifier is None and app.asyncapi_tags is None
    assert app.logger is not None and app.logger.name == "asgi_core"
    assert isinstance(app.context, Context) and app.context["app"] is app
    tagged = Application(tags=[{"name": "orders"}], identifier="urn:x")
    assert tagged.asyncapi_tags == [{"name": "orders"}] and tagged.identifier == "urn:x"


def test_application_hook_decorators_return_the_function_unchanged() -> None:
    app = Application()

    def hook() -> None: ...

    for stage in ("on_startup", "after_startup", "on_shutdown", "after_shutdown"):
        assert getattr(app, stage)(hook) is hook
    assert len(app.hooks) == 4


def test_application_refuses_a_hook_that_is_not_callable() -> None:
    with pytest.raises(TypeError, match="on_startup hooks must be callable, not 42"):
        Application().on_startup(42)  # type: ignore[type-var]


def test_application_hook_list_copies_are_plain_lists_of_the_same_hooks() -> None:
    app = Application()

    def hook() -> None: ...

    app.on_startup(hook)
    copies: list[list[Any]] = [copy.copy(app.hooks.on_startup), copy.deepcopy(app.hooks.on_startup)]
    for copied in copies:
        assert type(copied) is list and copied == [hook]
    copied.append(42)  # a plain list: nothing checked, and the app's list is unchanged
    assert app.hooks.on_startup == [hook]


def test_application_hooks_copied_whole_have_lists_of_their_own_that_drop_their_plan() -> None:
    app = Application()

    def hook() -> None: ...

    app.on_startup(hook)
    for copied in (copy.copy(app.hooks), copy.deepcopy(app.hooks)):
        assert copied.on_startup == [hook] and copied.on_startup is not app.hooks.on_startup
        copied.memo = "a plan"
        copied.on_startup.append(hook)  # a list of the copy's: it drops the copy's plan
        assert copied.memo is None and app.hooks.on_startup == [hook]
        with pytest.raises(TypeError, match="on_startup hooks must be callable"):
            copied.on_startup.append(42)  # type: ignore[arg-type]


async def test_application_runs_constructor_hooks_before_decorated_ones_sync_and_async() -> None:
    calls: list[str] = []

    async def first() -> None:
        calls.append("constructor-async")

    def second() -> None:
        calls.append("constructor-sync")

    app = Application(on_startup=[first, second])

    @app.on_startup
    def third() -> None:
        calls.append("decorated-sync")

    @app.on_startup
    async def fourth() -> None:
        calls.append("decorated-async")

    await app.start()
    assert calls == ["constructor-async", "constructor-sync", "decorated-sync", "decorated-async"]
    await app.stop()


async def test_application_async_with_starts_and_stops() -> None:
    calls: list[str] = []
    app = Application(
        on_startup=[lambda: calls.append("up")], after_shutdown=[lambda: calls.append("down")]
    )
    async with app:
        assert calls == ["up"] and app.running
    assert calls == ["up", "down"] and not app.running


async def test_application_start_passes_only_the_options_a_hook_accepts() -> None:
    seen: dict[str, Any] = {}
    app = Application()

    @app.on_startup
    def narrow(port: int) -> None:
        seen["narrow"] = port

    @app.on_startup
    def wide(**options: Any) -> None:
        seen["wide"] = options

    await app.start(port="8080", name="svc")
    assert seen == {"narrow": 8080, "wide": {"port": "8080", "name": "svc"}}
    await app.stop()


async def test_application_missing_required_option_names_hook_option_and_type() -> None:
    app = Application()

    @app.on_startup
    def needs(retries: int) -> None: ...

    with pytest.raises(Exception, match=r"needs the option 'retries' \(int\)") as info:
        await app.start()
    assert "needs" in str(info.value) and "--retries VALUE" in str(info.value)


async def test_application_unconvertible_option_names_hook_option_and_type() -> None:
    app = Application()

    @app.on_startup
    def needs(retries: int) -> None: ...

    with pytest.raises(Exception, match=r"option 'retries' = 'many' is not a valid int"):
        await app.start(retries="many")


async def test_application_stop_runs_every_step_and_reports_errors_together() -> None:
    calls: list[str] = []

    class Broker:
        async def start(self) -> None:
            calls.append("start")

        async def close(self) -> None:
            calls.append("close")
            raise ConnectionError("close")

    def boom() -> None:
        calls.append("on_shutdown")
        raise ValueError("hook")

    app = Application(
        Broker(), on_shutdown=[boom], after_shutdown=[lambda: calls.append("after_shutdown")]
    )
    await app.start()
    with pytest.raises(HookError, match="2 shutdown steps failed") as info:
        await app.stop()
    assert calls == ["start", "on_shutdown", "close", "after_shutdown"]
    assert [type(e) for e in info.value.errors] == [ValueError, ConnectionError]
    await app.stop()  # a second stop does nothing: every step ran exactly once
    assert calls.count("close") == 1


async def test_application_stop_without_start_does_nothing() -> None:
    calls: list[str] = []
    app = Application(on_shutdown=[lambda: calls.append("x")])
    await app.stop()
    assert calls == []


async def test_application_start_twice_without_stop_is_refused() -> None:
    app = Application()
    await app.start()
    with pytest.raises(RuntimeError, match="already started"):
        await app.start()
    await app.stop()


async def test_application_prefers_broker_stop_over_close() -> None:
    calls: list[str] = []

    class NewBroker:
        async def start(self) -> None: ...

        async def stop(self) -> None:
            calls.append("stop")

        async def close(self) -> None:
            calls.append("close")

    async with Application(NewBroker()):
        pass
    assert calls == ["stop"]


def test_application_refuses_a_broker_without_start_or_close() -> None:
    class NoClose:
        async def start(self) -> None: ...

    with pytest.raises(TypeError, match="no stop\\(\\) or close\\(\\)"):
        Application(NoClose())
    with pytest.raises(TypeError, match="has no start\\(\\)"):
        Application().set_broker(object())  # type: ignore[arg-type]


async def test_application_set_broker_in_on_startup_is_started_and_closed() -> None:
    calls: list[str] = []

    class Broker:
        async def start(self) -> None:
            calls.append("start")

        async def close(self) -> None:
            calls.append("close")

    app = Application()

    @app.on_startup
    def create() -> None:
        app.set_broker(Broker())

    async with app:
        assert calls == ["start"] and app.context["broker"] is app.broker
    assert calls == ["start", "close"]


@pytest.mark.parametrize("value", [0, -1, "10", True])
def test_application_refuses_a_bad_timeout(value: Any) -> None:
    with pytest.raises(ValueError, match="startup_timeout must be a positive number"):
        Application(startup_timeout=value)


async def test_application_startup_failure_notes_the_step_on_the_original_error() -> None:
    def broken() -> None:
        raise LookupError("nope")

    app = Application(on_startup=[broken])
    with pytest.raises(LookupError) as info:
        await app.start()
    notes = getattr(info.value, "__notes__", ["asgi_core: startup failed in on_startup hook"])
    assert any("startup failed in on_startup hook" in note for note in notes)


async def test_from_app_copies_everything_and_hook_lists_do_not_leak() -> None:
    calls: list[str] = []

    class Broker:
        async def start(self) -> None: ...

        async def close(self) -> None: ...

    broker = Broker()
    original = Application(
        broker,
        title="Orders",
        version="2.0",
        description="d",
        terms_of_service="https://t",
        license={"name": "MIT"},
        contact={"name": "ops"},
        tags=[{"name": "t"}],
        external_docs={"url": "https://docs"},
        identifier="urn:orders",
        on_startup=[lambda: calls.append("copied")],
        startup_timeout=5,
        shutdown_timeout=6,
    )
    original.context.set_global("db", "conn")
    asgi_app = AsgiFastStream.from_app(original, [("/x", _noop_app)])
    for name in (
        "broker",
        "logger",
        "lifespan_context",
        "title",
        "version",
        "description",
        "terms_of_service",
        "license",
        "contact",
        "asyncapi_tags",
        "external_docs",
        "identifier",
        "startup_timeout",
        "shutdown_timeout",
    ):
        assert getattr(asgi_app, name) == getattr(original, name), name
    assert asgi_app.context["db"] == "conn" and asgi_app.context["app"] is asgi_app
    original.on_startup(lambda: calls.append("late-original"))
    asgi_app.on_startup(lambda: calls.append("late-asgi"))
    async with asgi_app.start_lifespan_context():
        pass
    assert calls == ["copied", "late-asgi"]
    assert [path for path, _ in asgi_app.routes] == ["/x"]


async def _noop_app(scope: Any, receive: Any, send: Any) -> None:
    await anyio.sleep(0)
