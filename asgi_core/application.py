"""``Application``: brokers, their AsyncAPI metadata, and lifecycle hooks.

The order of a run and what undoes what is in ``_lifecycle.py``; how a hook is called (run
options, FastStream's DI) in ``_hooks.py``. This class holds the configuration and offers it as
FastStream does: hook decorators, ``start``/``stop``, ``add_broker``/``set_broker``, ``exit``,
and ``async with app:``.

Brokers (rules in ``_brokers.py``): ``brokers`` in order, ``broker`` the first or None;
``add_broker`` appends, ``set_broker`` replaces the first (the seed's meaning), both only until
the brokers start (``RuntimeError`` after).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from asgi_core._hooks import Hook, HookCaller, Hooks
from asgi_core._options import check_hook_options
from asgi_core.context import Context

TYPE_CHECKING = False  # typing is not loaded by import asgi_core
if TYPE_CHECKING:
    import logging
    from contextlib import AbstractAsyncContextManager
    from types import TracebackType
    from typing import Any, TypeVar

    from asgi_core._brokers import BrokerList
    from asgi_core._contexts import Mounted
    from asgi_core._lifecycle import Lifecycle
    from asgi_core._steps import Plan
    from asgi_core.types import Broker

__all__ = ["Application", "Lifespan", "LoggerLike"]

if TYPE_CHECKING:
    LoggerLike = logging.Logger | logging.LoggerAdapter[Any]
    F = TypeVar("F", bound=Callable[..., Any])

Lifespan = Callable[..., "AbstractAsyncContextManager[Any]"]


DEFAULT_STARTUP_TIMEOUT = 60.0
DEFAULT_SHUTDOWN_TIMEOUT = 30.0


class _DefaultLogger:
    """The default of ``logger=``: ``logging.getLogger("asgi_core")``, looked up when an app is
    built, so that ``import asgi_core`` does not load ``logging`` (about half its import time)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "logging.getLogger('asgi_core')"


DEFAULT_LOGGER: Any = _DefaultLogger()


def default_logger() -> logging.Logger:
    """``logging.getLogger("asgi_core")``: the logger an app gets unless it is given one."""
    import logging

    return logging.getLogger("asgi_core")


def __getattr__(name: str) -> Any:
    """``LoggerLike`` and ``logger``, made on first use (they need ``logging``)."""
    if name == "LoggerLike":
        import logging

        return logging.Logger | logging.LoggerAdapter
    if name == "logger":
        return default_logger()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_LIFECYCLE_PARTS: tuple[type[Lifecycle], Callable[..., Plan]] | None = None


def _lifecycle_parts() -> tuple[type[Lifecycle], Callable[..., Plan]]:
    """``Lifecycle`` and ``plan_for``, loaded by the first start, not by ``import asgi_core``."""
    global _LIFECYCLE_PARTS
    from asgi_core._lifecycle import Lifecycle
    from asgi_core._steps import plan_for

    _LIFECYCLE_PARTS = Lifecycle, plan_for
    return _LIFECYCLE_PARTS


def _checked_timeout(name: str, value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number of seconds or None, not {value!r}")
    return float(value)


class Application:
    """A long-running service: a broker and hooks around its start and stop."""

    def __init__(
        self,
        broker: Broker | None = None,
        logger: LoggerLike | None = DEFAULT_LOGGER,
        lifespan: Lifespan | None = None,
        title: str = "FastStream",
        version: str = "0.1.0",
        description: str = "",
        terms_of_service: str | None = None,
        license: Mapping[str, Any] | None = None,
        contact: Mapping[str, Any] | None = None,
        tags: Sequence[Mapping[str, Any]] | None = None,
        external_docs: Mapping[str, Any] | None = None,
        identifier: str | None = None,
        on_startup: Sequence[Hook] = (),
        after_startup: Sequence[Hook] = (),
        on_shutdown: Sequence[Hook] = (),
        after_shutdown: Sequence[Hook] = (),
        *,
        startup_timeout: float | None = DEFAULT_STARTUP_TIMEOUT,
        shutdown_timeout: float | None = DEFAULT_SHUTDOWN_TIMEOUT,
    ) -> None:
        if lifespan is not None and not callable(lifespan):
            raise TypeError(
                f"lifespan must be a callable returning an async context manager, not {lifespan!r}"
            )
        # loaded when the first application is built, not by import asgi_core (issue 12: 32 modules)
        from asgi_core._brokers import BrokerList, looks_like_a_broker, several_brokers_error

        if logger is DEFAULT_LOGGER:
            logger = default_logger()
        elif looks_like_a_broker(logger):
            raise several_brokers_error(type(self).__name__, "logger", logger)
        self._brokers: BrokerList = BrokerList(broker)
        self.logger = logger
        self.lifespan_context = lifespan
        self.title = title
        self.version = version
        self.description = description
        self.terms_of_service = terms_of_service
        self.license = license
        self.contact = contact
        self.asyncapi_tags = tags
        self.external_docs = external_docs
        self.identifier = identifier
        self.startup_timeout = _checked_timeout("startup_timeout", startup_timeout)
        self.shutdown_timeout = _checked_timeout("shutdown_timeout", shutdown_timeout)
        self.context = Context(app=self, broker=broker, logger=logger)
        self.should_exit = False
        self._hooks = Hooks(on_startup, after_startup, on_shutdown, after_shutdown)
        self._caller = HookCaller(self.context)
        self._lifecycle: Lifecycle | None = None
        # set by the runners (_serving.prepare_app): the next lifespan startup passes them on
        self.run_options: dict[str, object] = {}
        # set by AsgiFastStream.lifespan: a server drives our lifespan, so exit() signals it
        self.served_by_lifespan = False
        # set by the runners (asgi-core run, run()) the moment the server is asked to stop
        # (SIGTERM, SIGINT, exit()), before it drains: make_ready_asgi answers 503 from then on
        self.draining = False

    def _init_kwargs(self) -> dict[str, Any]:
        """The constructor keywords that rebuild this configuration (copies of the hook lists).

        ``from_app`` builds from it: a new constructor parameter goes here, and only here.
        """
        hooks = self._hooks
        return {
            "logger": self.logger,
            "lifespan": self.lifespan_context,
            "title": self.title,
            "version": self.version,
            "description": self.description,
            "terms_of_service": self.terms_of_service,
            "license": self.license,
            "contact": self.contact,
            "tags": self.asyncapi_tags,
            "external_docs": self.external_docs,
            "identifier": self.identifier,
            "on_startup": list(hooks.on_startup),
            "after_startup": list(hooks.after_startup),
            "on_shutdown": list(hooks.on_shutdown),
            "after_shutdown": list(hooks.after_shutdown),
            "startup_timeout": self.startup_timeout,
            "shutdown_timeout": self.shutdown_timeout,
        }

    # -- configuration --------------------------------------------------------------------------

    @property
    def hooks(self) -> Hooks:
        """The four ordered hook lists (``on_startup``, ``after_startup``, ...)."""
        return self._hooks

    @property
    def running(self) -> bool:
        """True from the end of a successful startup until shutdown begins."""
        return self._lifecycle is not None and self._lifecycle.running

    @property
    def brokers(self) -> tuple[Broker, ...]:
        """Every broker, in the order they start (a tuple: add one with ``add_broker``)."""
        return tuple(self._brokers.items)

    @property
    def broker(self) -> Broker | None:
        """The first broker, or None; setting it is ``set_broker``."""
        return self._brokers.items[0] if self._brokers.items else None

    @broker.setter
    def broker(self, broker: Broker | None) -> None:
        self.set_broker(broker)

    def add_broker(self, broker: Broker) -> None:
        """Add a broker, started after the ones before it and stopped before them.

        Add it before the brokers start: at the latest in an ``on_startup`` hook. The same
        broker twice is a ``ConfigError``.
        """
        self._refuse_broker_change("add_broker")
        self._brokers.add(broker, self)
        self._brokers_changed()

    def set_broker(self, broker: Broker | None) -> None:
        """Make ``broker`` the broker: it replaces the first one (or is added if there is none).

        The seed's meaning, e.g. for a broker created in an ``on_startup`` hook; the other
        brokers of a multi-broker app stay (``add_broker`` adds one). Set it before the brokers
        start: in ``on_startup``, not ``after_startup``. None removes the first broker.
        """
        self._refuse_broker_change("set_broker")
        self._brokers.set_first(broker, self)
        self._brokers_changed()

    def _faststream_context(self) -> Any:
        """This app's one FastStream ``HookContext`` (``from_app`` gives it to FastStream hooks)."""
        return self._caller.faststream_context()

    def _refuse_broker_change(self, call: str) -> None:
        if self._lifecycle is not None and self._lifecycle.brokers_fixed:
            raise RuntimeError(
                f"{call}() called on {self!r} after its brokers were started; change the "
                "brokers before start(), or in an on_startup hook at the latest"
            )

    def _brokers_changed(self) -> None:
        self.context.set_global("broker", self.broker)
        if self._lifecycle is not None and self._lifecycle.starting:  # in an on_startup hook
            self._lifecycle.brokers_changed()

    def on_startup(self, func: F) -> F:
        """Add a hook that runs BEFORE the broker starts; it receives the run options it names."""
        self._hooks.add("on_startup", func)
        return func

    def after_startup(self, func: F) -> F:
        """Add a hook that runs AFTER the broker started."""
        self._hooks.add("after_startup", func)
        return func

    def on_shutdown(self, func: F) -> F:
        """Add a hook that runs BEFORE the broker is closed."""
        self._hooks.add("on_shutdown", func)
        return func

    def after_shutdown(self, func: F) -> F:
        """Add a hook that runs AFTER the broker was closed."""
        self._hooks.add("after_shutdown", func)
        return func

    def exit(self) -> None:
        """Stop the service this application runs in, gracefully; sets ``should_exit``.

        In ``run()`` it ends the run. Served by ``AsgiFastStream.run()`` or ``asgi-core run``,
        it starts the server's graceful shutdown (every worker; each runs its shutdown hooks
        once). Under a server someone else started, after a lifespan startup, it sends SIGTERM
        to the current process (gunicorn's own CLI then restarts that worker). Otherwise (e.g.
        after ``start()`` in a test) it only sets ``should_exit``. See ``_process.py``.
        """
        self.should_exit = True
        # on first use, not at import: _process loads signal, which import asgi_core must not
        from asgi_core._process import request_exit

        request_exit(self)

    async def run(
        self,
        log_level: int = 20,  # logging.INFO
        run_extra_options: Mapping[str, object] | None = None,
        sleep_time: float = 0.1,
    ) -> None:
        """Start, wait for SIGINT, SIGTERM or ``exit()``, then stop: a service without HTTP.

        ``run_extra_options`` reach the ``on_startup`` hooks and the lifespan that accept them
        (with ``worker_id=None``); an option none accepts is a ``ConfigError``. Waiting is
        event-driven: ``sleep_time`` is accepted for FastStream compatibility and unused.
        """
        # on first use, not at import: _process loads signal, which import asgi_core must not
        from asgi_core._process import stop_requests

        options = dict(run_extra_options or {})
        check_hook_options(
            self, options, on_startup=self._hooks.on_startup, lifespan=self.lifespan_context
        )
        import logging  # loaded by the first app already (default_logger, _brokers)

        if isinstance(self.logger, logging.Logger):
            self.logger.setLevel(log_level)
        async with stop_requests() as waiter:
            await self.start(**options, worker_id=None)
            try:
                reason = await waiter.wait()
                if self.logger is not None:
                    self.logger.info("asgi_core: %s received, stopping %r", reason, self)
            finally:
                await self.stop()

    # -- running --------------------------------------------------------------------------------

    def _new_lifecycle(self, options: Mapping[str, object]) -> Lifecycle:
        """The run record of one start-to-stop run (the last lifespan scope's, renewed)."""
        lifecycle_class, plan_for = _LIFECYCLE_PARTS or _lifecycle_parts()
        if options:
            options = {**self.run_options, **options}
        else:  # the server's run: read, never changed
            options = self.run_options
        hooks, brokers = self._hooks, self._brokers
        plan = hooks.memo  # dropped by every change of a hook list; pairs, of the broker list
        if plan is None or plan.pairs is not brokers.memo:
            plan = plan_for(hooks, brokers, self._caller, options)
        lifecycle = self._lifecycle
        if lifecycle is None or not lifecycle.released:  # none yet, or a run still holds it
            self._lifecycle = lifecycle = lifecycle_class(self._brokers, self._caller)
        lifecycle.renew(
            plan,
            self.lifespan_context,
            options,
            self.startup_timeout,
            self.shutdown_timeout,
            self._mounted_lifespans() if self._routes else None,
        )
        return lifecycle

    _routes: Sequence[object] = ()  # the apps mounted in this one: none (AsgiFastStream's routes)

    def _mounted_lifespans(self) -> Mounted:
        """What runs the lifespans of the apps mounted in this one (``_routes``, not empty)."""
        raise NotImplementedError("an Application mounts no apps")

    async def start(self, **run_extra_options: object) -> None:
        """Run the startup steps: lifespan, ``on_startup``, broker start, ``after_startup``.

        On failure what had started is undone and the original exception is raised; on
        Python 3.11+ a note on it names the failing step. Nothing stays open in the caller:
        ``stop()`` may be called from another task or cancel scope.
        """
        if self.running:
            raise RuntimeError(f"{self!r} is already started; stop() it before starting again")
        self._refuse_while_starting("start")
        lifecycle = self._new_lifecycle(run_extra_options)
        try:
            failure = await lifecycle.startup()
        except BaseException:  # cancelled: startup undid itself; end what still runs
            await lifecycle.close()
            raise
        if failure is not None:
            await lifecycle.close()
            raise failure.error

    async def stop(self) -> None:
        """Run the shutdown steps once; every step runs even if an earlier one raised.

        Raises the original exception if one step failed, or one ``HookError`` listing them
        (``errors`` holds each exception) if several did. Does nothing if not started. Any task
        may call it, in any cancel scope, not only the one that called ``start()``.
        """
        self._refuse_while_starting("stop")
        lifecycle = self._lifecycle
        if lifecycle is None or not lifecycle.running:
            return
        try:
            failures = await lifecycle.shutdown()
        finally:
            await lifecycle.close()
        if failures:
            from asgi_core._steps import error_for  # loaded with the Lifecycle

            raise error_for("shutdown", failures)

    def _refuse_while_starting(self, call: str) -> None:
        if self._lifecycle is not None and self._lifecycle.starting:
            raise RuntimeError(
                f"{call}() called while start() of {self!r} is still running in another task; "
                f"wait for start() to return before calling {call}(), or cancel the task "
                "running start() (that undoes what it started)"
            )

    async def __aenter__(self) -> Application:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def __repr__(self) -> str:
        if len(self._brokers.items) > 1:
            names = ", ".join(type(broker).__name__ for broker in self._brokers.items)
            return f"<{type(self).__name__} {self.title!r} brokers=[{names}]>"
        return f"<{type(self).__name__} {self.title!r} broker={type(self.broker).__name__}>"
