# ruff: noqa: B008  (FastStream markers such as Context() are calls in defaults by design)
"""Our own hooks and lifespan with FastStream's markers, through ``Application.start``.

The core reads the markers from its cached signature plan (``asgi_core._options``) and calls
such a hook through FastStream's DI (``asgi_core._hooks.HookCaller``). Run on both FastStream
generations; tests without a FastStream broker run on asyncio and trio, those with one (and its
TestBroker) on asyncio only, as their ids say.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import pytest
from faststream import Context, Depends, Logger
from faststream.redis import RedisBroker, TestRedisBroker

from asgi_core import Application, AsgiFastStream
from asgi_core._options import check_hook_options
from asgi_core.exceptions import ConfigError
from asgi_core.testing import LifespanManager
from tests.faststream.conftest import FASTSTREAM

pytestmark = pytest.mark.anyio
ASYNCIO_ONLY = pytest.mark.parametrize(
    "anyio_backend", ["asyncio"], ids=["asyncio-only-faststream-brokers"]
)
OURS = logging.getLogger("tests.faststream.di_hooks")


class Broker:
    """A duck-typed broker: FastStream's DI resolves Context("broker") to it all the same."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def start(self) -> None:
        self.log.append("start")

    async def stop(self) -> None:
        self.log.append("stop")


async def test_di_hook_context_markers_get_the_app_and_what_the_context_holds() -> None:
    app = Application(logger=OURS)
    app.context.set_global("db", "connection")
    seen: list[Any] = []

    @app.on_startup
    async def first(application: Any = Context("app"), db: str = Context()) -> None:
        seen.append((application, db))

    @app.after_startup
    def second(application: Any = Context("app")) -> None:  # sync hooks too
        seen.append(application)

    @app.on_shutdown
    async def third(ctx: Any = Context("context")) -> None:
        seen.append(ctx is not None)

    @app.after_shutdown
    async def fourth(db: Annotated[str, Context("db")]) -> None:
        seen.append(db)

    async with app:
        pass
    assert seen == [(app, "connection"), app, True, "connection"]


async def test_di_hook_depends_resolves_and_gets_the_run_options() -> None:
    app = Application()
    seen: list[Any] = []

    def settings(env: str) -> str:  # a dependency gets the options too, as under FastStream
        return f"settings for {env}"

    @app.on_startup
    async def hook(port: int, conf: str = Depends(settings)) -> None:
        seen.append((port, conf))

    await app.start(port="8080", env="prod")
    await app.stop()
    assert seen == [(8080, "settings for prod")]  # cast by FastStream's DI (pydantic)


def test_di_hook_options_check_knows_markers_are_no_options_and_depends_takes_some() -> None:
    app = Application()

    def settings(env: str) -> str:
        return env

    @app.on_startup
    async def hook(port: int, conf: str = Depends(settings), logger: Any = Context()) -> None: ...

    hooks = app.hooks.on_startup
    # env: the dependency's option
    check_hook_options(app, {"port": "1", "env": "prod"}, on_startup=hooks, lifespan=None)
    with pytest.raises(ConfigError, match=r"unknown option 'logger'.*valid options: env, port"):
        check_hook_options(app, {"logger": "x"}, on_startup=hooks, lifespan=None)


async def test_di_hook_annotated_context_broker_is_the_broker_set_in_an_earlier_hook() -> None:
    log: list[str] = []
    first, later = Broker(log), Broker(log)
    app = Application(first)
    seen: list[Any] = []

    @app.on_startup
    async def before(br: Annotated[Any, Context("broker")]) -> None:
        seen.append(br)
        app.set_broker(later)

    @app.on_startup
    async def after(br: Annotated[Any, Context("broker")]) -> None:
        seen.append(br)

    async with app:
        pass
    assert seen == [first, later]
    assert log == ["start", "stop"]  # only the broker set last started


async def test_di_lifespan_with_markers_gets_the_app_and_the_options() -> None:
    seen: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(env: str, application: Any = Context("app")) -> AsyncIterator[None]:
        seen["enter"] = (env, application)
        yield
        seen["exit"] = True

    app = AsgiFastStream(None, lifespan=lifespan)
    async with app.start_lifespan_context(env="prod", port="1"):
        assert seen == {"enter": ("prod", app)}
    assert seen["exit"] is True


async def test_di_hook_missing_option_is_a_config_error_naming_hook_and_option() -> None:
    app = Application()

    @app.on_startup
    async def needs_port(port: int, application: Any = Context("app")) -> None: ...

    with pytest.raises(ConfigError) as caught:
        await app.start(env="prod")
    text = str(caught.value)
    assert "needs_port: FastStream's dependency injection rejected its arguments" in text
    assert "'port'" in text


async def test_di_hook_with_another_frameworks_marker_is_a_config_error_at_startup() -> None:
    from pydantic import Field

    log: list[str] = []
    app = Application(Broker(log))

    @app.on_startup
    async def hook(retries: int = Field(3)) -> None:
        raise AssertionError("never called with a FieldInfo")  # pragma: no cover

    with pytest.raises(ConfigError) as caught:
        await app.start()
    text = str(caught.value)
    assert text.startswith(f"on_startup hook {hook.__module__}.{hook.__qualname__}: parameter ")
    assert "'retries' uses " in text and "from pydantic, which asgi_core can't resolve" in text
    assert "give the parameter a plain default or pass it as a run option (`--retries VALUE`)" in (
        text
    )
    assert log == []  # the hooks run before the broker: nothing started


async def test_di_lifespan_with_another_frameworks_marker_is_a_config_error() -> None:
    from pydantic import Field

    @asynccontextmanager
    async def lifespan(size: int = Field(1)) -> AsyncIterator[None]:
        yield  # pragma: no cover

    with pytest.raises(ConfigError, match=r"lifespan context .*lifespan: parameter 'size' uses"):
        await Application(lifespan=lifespan).start()


async def test_di_hook_marker_without_faststream_installed_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = Application()

    @app.after_startup
    async def hook(value: int = Depends(lambda: 1)) -> None: ...  # fast_depends' marker

    monkeypatch.setitem(sys.modules, "faststream", None)  # import faststream now fails
    with pytest.raises(ConfigError) as caught:
        await app.start()
    text = str(caught.value)
    assert text.startswith("after_startup hook ") and "parameter 'value' uses " in text
    assert "FastStream is not installed" in text
    assert "pip install 'asgi-core[faststream]'" in text


async def test_di_hook_is_injected_once_per_application_not_once_per_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    di = importlib.import_module("asgi_core_extras.faststream._di")
    made: list[Any] = []
    real = di.inject

    def counting(func: Any, **kwargs: Any) -> Any:
        made.append(func)
        return real(func, **kwargs)

    monkeypatch.setattr(di, "inject", counting)
    app, other = Application(), Application()
    seen: list[Any] = []

    async def hook(application: Any = Context("app")) -> None:
        seen.append(application)

    async def plain() -> None:
        seen.append("plain")

    for one in (app, other):
        one.on_startup(hook)
        one.on_startup(plain)
    for one in (app, app, other):
        await one.start()
        await one.stop()
    assert seen == [app, "plain", app, "plain", other, "plain"]
    assert made == [hook, hook]  # once for each application; a hook without markers: never


@ASYNCIO_ONLY
async def test_di_hook_logger_marker_gets_the_logger() -> None:
    broker = RedisBroker()
    app = AsgiFastStream(broker, logger=OURS)
    seen: list[Any] = []

    @app.on_startup
    async def by_default(logger: Any = Context()) -> None:
        seen.append(logger)

    @app.after_startup
    async def by_annotation(logger: Logger) -> None:
        seen.append(logger)

    async with TestRedisBroker(broker), LifespanManager(app):
        pass
    # FastStream 0.5: the broker's logger, what a hook gets under FastStream 0.5 (its one
    # process-wide context); 0.7 gives hooks no logger, so the app's is the one there is
    expected = broker.logger if FASTSTREAM < (0, 6) else OURS  # type: ignore[attr-defined]
    assert seen == [expected, expected]
