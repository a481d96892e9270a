# ruff: noqa: B008  (FastStream markers such as Context() are calls in defaults by design)
"""Hooks written for asgi_core with FastStream's markers get what FastStream would give them.

``inject`` runs them through FastStream's own DI (``faststream.apply_types``), so these tests
need no broker and run on asyncio and trio (fast_depends awaits only the hook). Expectations that
differ between FastStream generations are branched on its version, with the reason.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import pytest
from faststream import Context, Depends, Logger
from faststream.__about__ import __version__ as FASTSTREAM_VERSION

from asgi_core import AsgiFastStream
from asgi_core.exceptions import ConfigError

# imported by name: mypy knows the directory as extras/, not asgi_core_extras
_di = importlib.import_module("asgi_core_extras.faststream._di")
HookContext = _di.HookContext
inject = _di.inject
inject_lifespan = _di.inject_lifespan

pytestmark = pytest.mark.anyio

# 0.5 keeps one context per process (faststream.context); 0.6+ one per application.
SHARED_CONTEXT = FASTSTREAM_VERSION.startswith("0.5.")
OUR_LOGGER = logging.getLogger("tests.faststream.our_app")


def values(**extra: Any) -> dict[str, Any]:
    return {"app": "our-app", "broker": "our-broker", "logger": OUR_LOGGER, **extra}


async def test_inject_resolves_context_markers_from_the_app_context() -> None:
    seen: dict[str, Any] = {}

    async def hook(
        app: Any = Context(), br: Any = Context("broker"), x: Any = Context("x")
    ) -> None:
        seen.update(app=app, broker=br, x=x)

    await inject(hook, app_context=HookContext(values(x=42)))()
    assert seen == {"app": "our-app", "broker": "our-broker", "x": 42}


async def test_inject_reads_the_values_at_each_call_not_when_wrapped() -> None:
    live = values()
    seen: list[Any] = []

    async def hook(broker: Annotated[Any, Context("broker")]) -> None:
        seen.append(broker)

    injected = inject(hook, app_context=HookContext(live))
    live["broker"] = "set by set_broker in an earlier hook"
    await injected()
    assert seen == ["set by set_broker in an earlier hook"]


async def test_inject_resolves_depends_and_casts_options_like_faststream() -> None:
    seen: dict[str, Any] = {}

    async def settings(env: str) -> str:  # a dependency gets the options too, as in FastStream
        return f"settings for {env}"

    async def hook(port: int, env: str, conf: str = Depends(settings)) -> None:
        seen.update(port=port, env=env, conf=conf)

    await inject(hook, app_context=HookContext(values()))(port="8080", env="prod", unused="x")
    assert seen == {"port": 8080, "env": "prod", "conf": "settings for prod"}


async def test_inject_gives_a_sync_hook_its_markers_too() -> None:
    seen: list[Any] = []

    def hook(app: Any = Context()) -> None:
        seen.append(app)

    await inject(hook, app_context=HookContext(values()))()
    assert seen == ["our-app"]


async def test_inject_logger_is_the_brokers_on_0_5_and_ours_on_0_7() -> None:
    from faststream.redis import RedisBroker

    broker = RedisBroker()  # 0.5: a broker puts its logger in FastStream's context
    seen: list[Any] = []

    async def hook(logger: Logger) -> None:
        seen.append(logger)

    await inject(hook, app_context=HookContext(values(broker=broker)))()
    if SHARED_CONTEXT:  # what a hook gets under FastStream 0.5: the broker's logger
        assert seen == [broker.logger]  # type: ignore[attr-defined]  # 0.5 only
    else:  # FastStream 0.7 gives hooks no logger at all; ours is the one there is
        assert seen == [OUR_LOGGER]


async def test_inject_treats_no_broker_yet_as_not_set() -> None:
    from faststream.redis import RedisBroker

    broker = RedisBroker()  # 0.5: a broker puts itself in FastStream's context
    seen: list[Any] = []

    async def hook(br: Any = Context("broker", default="no broker")) -> None:
        seen.append(br)

    await inject(hook, app_context=HookContext(values(broker=None)))()
    # 0.5: FastStream's own value stays (what a hook gets under FastStream); 0.7: none at all
    assert seen == [broker if SHARED_CONTEXT else "no broker"]


async def test_inject_shares_what_one_hook_sets_with_the_next() -> None:
    from faststream import ContextRepo

    context = HookContext(values())
    seen: list[Any] = []

    async def first(context: ContextRepo) -> None:
        context.set_global("token", "from the first hook")

    async def second(token: str = Context()) -> None:
        seen.append(token)

    await inject(first, app_context=context)()
    await inject(second, app_context=context)()
    assert seen == ["from the first hook"]


async def test_inject_missing_option_is_a_config_error_naming_hook_and_option() -> None:
    async def needs_port(port: int, app: Any = Context()) -> None: ...

    injected = inject(needs_port, app_context=HookContext(values()))
    with pytest.raises(ConfigError) as caught:
        await injected(env="prod")
    text = str(caught.value)
    assert "needs_port: FastStream's dependency injection rejected its arguments" in text
    assert "'port': Field required" in text
    assert "pass each missing or invalid run option" in text


async def test_inject_invalid_option_is_a_config_error_naming_the_option() -> None:
    async def needs_port(port: int, app: Any = Context()) -> None: ...

    with pytest.raises(ConfigError, match=r"'port': Input should be a valid integer"):
        await inject(needs_port, app_context=HookContext(values()))(port="eighty")


async def test_inject_lets_a_validation_error_from_the_body_through_unchanged() -> None:
    from pydantic import BaseModel, ValidationError

    class Settings(BaseModel):
        port: int

    async def hook(app: Any = Context()) -> None:
        Settings(port="not a port")  # type: ignore[arg-type]

    with pytest.raises(ValidationError):
        await inject(hook, app_context=HookContext(values()))()


async def test_inject_keeps_the_hooks_name_and_offers_every_option() -> None:
    import inspect

    async def my_hook(app: Any = Context()) -> None: ...

    injected = inject(my_hook, app_context=HookContext(values()))
    assert injected.__qualname__ == my_hook.__qualname__
    assert injected.__module__ == __name__
    assert list(inspect.signature(injected).parameters) == ["options"]


async def test_inject_lifespan_resolves_markers_and_options() -> None:
    seen: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(env: str, app: Any = Context()) -> AsyncIterator[None]:
        seen["entered"] = (env, app)
        yield
        seen["exited"] = True

    factory = inject_lifespan(lifespan, app_context=HookContext(values()))
    async with factory(env="prod", other="x"):
        assert seen == {"entered": ("prod", "our-app")}
    assert seen["exited"] is True


async def test_inject_lifespan_missing_option_is_a_config_error_naming_it() -> None:
    @asynccontextmanager
    async def needs_env(env: str, app: Any = Context()) -> AsyncIterator[None]:
        yield

    factory = inject_lifespan(needs_env, app_context=HookContext(values()))
    with pytest.raises(ConfigError, match=r"needs_env: FastStream's dependency .*'env': Field"):
        factory(port="1")


async def test_inject_through_an_asgi_core_application_demonstration() -> None:
    """How the core wires it: one HookContext per application, over ``app.context``."""
    seen: dict[str, Any] = {}
    app = AsgiFastStream(None)
    app.context.set_global("logger", OUR_LOGGER)
    context = HookContext(app.context)

    async def on_startup(env: str, application: Any = Context("app")) -> None:
        seen["on_startup"] = (env, application)

    async def after_startup(
        ctx: Any = Context("context"), application: Any = Context("app")
    ) -> None:
        seen["after_startup"] = application

    @asynccontextmanager
    async def lifespan(env: str, application: Any = Context("app")) -> AsyncIterator[None]:
        seen["lifespan"] = (env, application)
        yield

    app.lifespan_context = inject_lifespan(lifespan, app_context=context)
    app.on_startup(inject(on_startup, app_context=context))
    app.after_startup(inject(after_startup, app_context=context))
    await app.start(env="prod")  # the run options `asgi-core run APP --env prod` passes
    await app.stop()
    assert seen == {
        "lifespan": ("prod", app),
        "on_startup": ("prod", app),
        "after_startup": app,
    }
