"""A FastStream application read into what ``asgi_core.Application`` takes.

``AsgiFastStream.from_app(fs_app, routes)`` is the user's way in; it does, in effect:

    settings = settings_from_faststream(fs_app, app_context=...)   # FastStream 0.5.31+ or 0.7.x
    app = AsgiFastStream(settings.broker, routes, **settings.application_kwargs())
    for broker in settings.brokers[1:]:
        app.add_broker(broker)

Rules:

* Brokers: 0.7's ``app.brokers`` (several are allowed), 0.5's ``app.broker``; ``broker`` is
  the first of them or None.
* Metadata: 0.5 keeps it on the app (``title``, ``asyncapi_tags``, ...); 0.7 on its
  ``specification`` (``app.schema``, an ``AsyncAPI`` factory; a custom factory without an
  attribute gives the default). License, contact, tags and external docs come out as plain
  dicts with AsyncAPI's field names (``externalDocs``), URLs as ``str``, unset fields left out,
  whether FastStream held pydantic models (0.5), dataclasses (0.7) or dicts.
* Hooks and lifespan keep FastStream's dependency injection as FastStream set it up: FastStream
  wraps each hook when it is registered (``apply_types(to_async(hook))``, bound in 0.7 to the
  app's context), and those wrapped callables are what runs here, each adapted to
  ``await hook(**options)``: ``on_startup`` hooks and the lifespan get every run option, as
  FastStream passes the CLI's extra options, and its DI picks and casts the ones they name. A
  hook FastStream's DI rejects the options of raises ``ConfigError`` naming it. Messages name
  the user's function, not the wrapper.
* With ``app_context`` (the asgi_core application's ``HookContext``), FastStream 0.5's
  process-wide context is refreshed from it before each hook, so ``Context("app")`` is the
  asgi_core application, as it is FastStream's own ``AsgiFastStream`` after ``as_asgi``. On 0.7
  the hooks stay bound to the FastStream app's context, as FastStream's ``from_app`` leaves them.
* The FastStream app is not changed: its hook lists are copied.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._di import adapt, adapt_lifespan  # mypy knows the package as extras/, not asgi_core_extras

if TYPE_CHECKING:
    from ._di import HookContext

__all__ = ["STAGES", "FastStreamSettings", "is_faststream_app", "settings_from_faststream"]

STAGES = ("on_startup", "after_startup", "on_shutdown", "after_shutdown")
_URL_TYPES = (str, int, float, bool)


@dataclasses.dataclass(frozen=True)
class FastStreamSettings:
    """What an ``asgi_core`` application needs from a FastStream app."""

    brokers: list[Any]
    logger: Any
    lifespan: Callable[..., Any] | None
    title: str
    version: str
    description: str
    terms_of_service: str | None
    license: dict[str, Any] | None
    contact: dict[str, Any] | None
    tags: list[dict[str, Any]] | None
    external_docs: dict[str, Any] | None
    identifier: str | None
    on_startup: list[Callable[..., Any]]
    after_startup: list[Callable[..., Any]]
    on_shutdown: list[Callable[..., Any]]
    after_shutdown: list[Callable[..., Any]]
    specification: Any = None  # 0.7: the app's SpecificationFactory; 0.5: None

    @property
    def broker(self) -> Any:
        """The first broker, or None."""
        return self.brokers[0] if self.brokers else None

    def application_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``asgi_core.Application``, all but the broker.

        The broker is positional-only in ``AsgiFastStream``: pass ``settings.broker`` first.
        """
        kwargs = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        del kwargs["brokers"], kwargs["specification"]
        return kwargs


def is_faststream_app(app: object) -> bool:
    """True for an application object of FastStream's, without importing FastStream."""
    from_faststream = any((c.__module__ or "").startswith("faststream.") for c in type(app).__mro__)
    return from_faststream and hasattr(app, "lifespan_context") and hasattr(app, "on_startup")


def settings_from_faststream(
    app: Any, *, app_context: HookContext | None = None
) -> FastStreamSettings:
    """Read a ``faststream.FastStream`` (or FastStream ``AsgiFastStream``) app, 0.5.31+ or 0.7."""
    if not is_faststream_app(app):
        raise TypeError(
            f"settings_from_faststream needs a FastStream application (faststream.FastStream), "
            f"not {app!r}"
        )
    refresh = None
    if app_context is not None and app_context.shared:
        refresh = app_context.refresh
    spec = getattr(app, "schema", None)  # 0.6+: metadata live on the specification
    source = spec if spec is not None else app
    brokers = getattr(app, "brokers", None)
    if brokers is None:
        brokers = [app.broker] if getattr(app, "broker", None) is not None else []
    hooks = {
        stage: [adapt(hook, hook, before=refresh) for hook in calls]
        for stage, calls in _hook_lists(app).items()
    }
    tags = getattr(source, "tags" if spec is not None else "asyncapi_tags", None)
    return FastStreamSettings(
        brokers=list(brokers),
        logger=app.logger,
        lifespan=_lifespan(app, refresh),
        title=getattr(source, "title", "FastStream"),
        version=getattr(source, "version", "0.1.0"),
        description=getattr(source, "description", None) or "",
        terms_of_service=_text(getattr(source, "terms_of_service", None)),
        license=_plain(getattr(source, "license", None)),
        contact=_plain(getattr(source, "contact", None)),
        tags=[_plain(tag) for tag in tags] if tags else None,
        external_docs=_plain(getattr(source, "external_docs", None)),
        identifier=_text(getattr(source, "identifier", None)),
        specification=spec,
        **hooks,
    )


def _hook_lists(app: Any) -> dict[str, list[Callable[..., Any]]]:
    """FastStream's wrapped hooks, stage by stage (copies of its lists).

    Private in every FastStream release: ``_on_startup_calling``, ``_after_startup_calling``,
    ``_on_shutdown_calling``, ``_after_shutdown_calling`` hold ``apply_types(to_async(hook))``
    (checked on 0.5.31 and 0.7.8); FastStream's own ``AsgiFastStream.from_app`` copies these.
    """
    lists: dict[str, list[Callable[..., Any]]] = {}
    for stage in STAGES:
        calls = getattr(app, f"_{stage}_calling", None)
        if calls is None:
            raise TypeError(
                f"{app!r} has no {stage} hook list where FastStream 0.5.31 to 0.7 keep it "
                f"(_{stage}_calling); this FastStream version is not supported by asgi_core yet"
            )
        lists[stage] = list(calls)
    return lists


def _lifespan(app: Any, refresh: Callable[[], object] | None) -> Callable[..., Any] | None:
    """The app's ``lifespan_context`` as FastStream wrapped it, or None if none was given.

    Without ``lifespan=``, FastStream puts a stand-in of its own there (0.5: ``fake_context``,
    0.7: a lambda returning ``nullcontext()``), recognised by its module.
    """
    context = getattr(app, "lifespan_context", None)
    if context is None:
        return None
    real = inspect.unwrap(context)
    if (getattr(real, "__module__", None) or "").startswith("faststream."):
        return None
    return adapt_lifespan(context, context, before=refresh)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _plain(value: object) -> Any:
    """``value`` as plain data: dicts with AsyncAPI's field names, URLs as ``str``, no ``None``."""
    if value is None or isinstance(value, _URL_TYPES):
        return value
    if isinstance(value, Mapping):
        items = dict(value)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    elif callable(dump := getattr(value, "model_dump", None)):  # pydantic (FastStream 0.5)
        items = dump(by_alias=True, exclude_none=True)
    elif isinstance(value, Sequence):
        return [_plain(item) for item in value]
    else:  # pydantic's AnyHttpUrl, EmailStr ...
        return str(value)
    return {_camel(str(key)): _plain(item) for key, item in items.items() if item is not None}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
