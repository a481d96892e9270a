"""FastStream's dependency injection for hooks written for asgi_core.

    from asgi_core_extras.faststream._di import HookContext, inject, marker_problem

    if uses_faststream_markers(hook):         # Context(), Depends(), faststream.Logger, ...
        hook = inject(hook, app_context=context)   # one HookContext per application
    elif (text := marker_problem(hook, hook=name)) is not None:
        raise ConfigError(text)

Rules:

* A hook "uses FastStream's markers" when a parameter's default, or an ``Annotated`` metadata
  item, is an object whose type comes from ``faststream`` or ``fast_depends``. Detecting it
  imports neither: the user's module imported them already, or the hook has none. The rule,
  and ``marker_problem``, live in the core (``asgi_core._options``), re-exported here; the core
  calls ``inject``/``inject_lifespan`` for such hooks (``asgi_core._hooks.HookCaller``).
* ``inject`` calls the hook through FastStream's own machinery, ``faststream.apply_types``
  (fast_depends), resolving ``Context(...)`` from FastStream's context, so the hook gets what it
  would get under FastStream. The result takes ``**options``: every run option reaches
  FastStream's DI, which picks and casts (pydantic) the ones the hook names, as FastStream does
  for its ``on_startup`` hooks and lifespan. A missing or invalid option is a ``ConfigError``
  naming the hook and the option. Sync hooks stay on the event loop's thread (asgi_core's rule
  for every hook; FastStream would run them in a worker thread).
* What the context holds: ``HookContext(values)`` reads the live mapping ``values`` (the
  application's ``context``: ``app``, ``broker``, ``logger``, and what hooks set) before every
  call. FastStream 0.5 has one process-wide context (``faststream.context``): the values become
  its globals, as FastStream's own ``AsgiFastStream`` sets ``app`` there, except ``logger``, which
  stays the broker's logger when the broker set one (what a hook gets under FastStream).
  FastStream 0.6+ has a context per application: the ``HookContext`` owns one
  (``faststream.context.ContextRepo``) shared by every hook of the application, so what one
  hook ``set_global``\\s, the next one sees. A value None for ``app``, ``broker`` or ``logger`` is
  asgi_core's "not set" (no broker yet) and is not copied. FastStream 0.7 itself offers hooks
  only ``app`` and ``context``; here they also get ``broker`` and ``logger``.
* A default that asgi_core's option binding cannot interpret (a marker of an uninstalled
  FastStream, or of another framework) is never passed on silently: ``marker_problem`` returns
  the error text naming the hook, the parameter and what to do.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

# the detection rule is the core's: its cached signature plan reads each hook once
from asgi_core._options import marker_problem, uses_faststream_markers
from asgi_core.exceptions import ConfigError

__all__ = [
    "HookContext",
    "adapt",
    "adapt_lifespan",
    "inject",
    "inject_lifespan",
    "marker_problem",
    "uses_faststream_markers",
]

_UNSET_WHEN_NONE = frozenset(("app", "broker", "logger"))  # asgi_core's None means "not set"


def _generation() -> tuple[Any, Any]:
    """``(process-wide context or None, ContextRepo class)`` of the installed FastStream.

    0.5.x exports its one context as ``faststream.context``; 0.7.x exports the class as
    ``faststream.context.ContextRepo`` (checked on 0.5.31 and 0.7.8).
    """
    import faststream

    shared = getattr(faststream, "context", None)
    if shared is not None and callable(getattr(shared, "set_global", None)):
        return shared, type(shared)
    from faststream.context import ContextRepo

    return None, ContextRepo


class HookContext:
    """The FastStream context that the injected hooks of one application resolve markers from."""

    def __init__(self, values: Mapping[str, object]) -> None:
        shared, repo_class = _generation()
        self.values = values
        self.shared = shared is not None
        self.repository: Any = shared if shared is not None else repo_class()

    def refresh(self) -> Any:
        """Copy the current ``values`` into the repository; return the repository."""
        repository = self.repository
        for key, value in self.values.items():
            if key == "context":  # FastStream's key for the repository itself
                continue
            if value is None and key in _UNSET_WHEN_NONE:
                continue  # e.g. no broker yet: leave FastStream's own value, or none
            if key == "logger" and self.shared and repository.get("logger") is not None:
                continue  # FastStream 0.5: the broker's logger, as under FastStream
            repository.set_global(key, value)
        return repository


def _apply_types_options(context: HookContext, *, lifespan: bool) -> dict[str, Any]:
    """What FastStream passes to ``apply_types`` for hooks (or, ``lifespan``, its lifespan).

    fast_depends 3 (FastStream 0.6+): pydantic errors (``use_fastdepends_errors=False``), the
    app's context as ``context__``, ``cast_result=False`` for the lifespan. fast_depends 2
    (FastStream 0.5): defaults; the lifespan's return annotation dropped (``wrap_model``).
    Checked on 0.5.31 (fast_depends 2.4.12) and 0.7.8 (fast_depends 3.0.9).
    """
    try:
        from fast_depends.pydantic import PydanticSerializer
    except ImportError:  # fast_depends 2
        if not lifespan:
            return {}
        return {"wrap_model": _drop_response_model}
    options: dict[str, Any] = {
        "serializer_cls": PydanticSerializer(use_fastdepends_errors=False),
        "context__": context.repository,
    }
    if lifespan:
        options["cast_result"] = False
    return options


def _drop_response_model(model: Any) -> Any:
    model.response_model = None  # FastStream 0.5's drop_response_type, for its lifespan
    return model


def _option_error(hook: str, func: Callable[..., object], error: Exception) -> ConfigError | None:
    """A ``ConfigError`` for arguments FastStream's DI rejected; None for any other error.

    fast_depends names the model of a function's arguments after the function, so a
    ValidationError with that title is about the arguments, not something the body raised.
    """
    errors = getattr(error, "errors", None)
    if getattr(error, "title", None) != getattr(func, "__name__", None) or not callable(errors):
        return None
    problems = []
    for item in errors():
        where = ".".join(str(part) for part in item.get("loc", ())) or "?"
        problems.append(f"{where!r}: {item.get('msg', '')}")
    return ConfigError(
        f"{hook}: FastStream's dependency injection rejected its arguments "
        f"({'; '.join(problems)}); pass each missing or invalid run option, e.g. "
        "`--name VALUE` on the command line, or give the parameter a default"
    )


def _raise_option_error(name: str, original: Callable[..., object], error: Exception) -> None:
    """Raise the ``ConfigError`` for ``error`` if it is about the arguments; else return."""
    translated = _option_error(name, inspect.unwrap(original), error)
    if translated is not None:
        raise translated from error


def _described(original: Callable[..., object]) -> str:
    real = inspect.unwrap(original)
    return f"{getattr(real, '__module__', '?')}.{getattr(real, '__qualname__', real)}"


def adapt(
    call: Callable[..., Any],
    original: Callable[..., object],
    *,
    before: Callable[[], object] | None = None,
) -> Callable[..., Awaitable[Any]]:
    """An ``async (**options)`` hook: ``before()``, then ``call(**options)``, awaited.

    Named after ``original`` (messages name the user's function); an argument ValidationError
    becomes a ``ConfigError``.
    """
    name = _described(original)

    async def hook(**options: Any) -> Any:
        if before is not None:
            before()
        try:
            result = call(**options)
            return await result if inspect.isawaitable(result) else result
        except ValueError as error:  # pydantic's and fast_depends' ValidationError
            _raise_option_error(name, original, error)
            raise

    _name_after(hook, original)
    return hook


def adapt_lifespan(
    call: Callable[..., Any],
    original: Callable[..., object],
    *,
    before: Callable[[], object] | None = None,
) -> Callable[..., Any]:
    """A ``(**options) -> async context manager`` lifespan: ``before()``, then ``call``."""
    name = _described(original)

    def lifespan(**options: Any) -> Any:
        if before is not None:
            before()
        try:
            return call(**options)
        except ValueError as error:  # pydantic's and fast_depends' ValidationError
            _raise_option_error(name, original, error)
            raise

    _name_after(lifespan, original)
    return lifespan


def _name_after(wrapper: Callable[..., object], original: Callable[..., object]) -> None:
    """Give ``wrapper`` the names of the user's function under ``original``, for messages.

    No ``__wrapped__``: asgi_core's option binding must see the wrapper's ``**options``, not
    the hook's own parameters, so that every option reaches FastStream's DI.
    """
    real = inspect.unwrap(original)
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        value = getattr(real, attribute, None)
        if value is not None:
            setattr(wrapper, attribute, value)


def inject(func: Callable[..., Any], *, app_context: HookContext) -> Callable[..., Awaitable[Any]]:
    """``func`` as an ``async (**options)`` hook called through FastStream's DI."""
    from faststream import apply_types

    injected = apply_types(func, **_apply_types_options(app_context, lifespan=False))
    return adapt(injected, func, before=app_context.refresh)


def inject_lifespan(func: Callable[..., Any], *, app_context: HookContext) -> Callable[..., Any]:
    """A lifespan factory called through FastStream's DI, as FastStream calls its ``lifespan=``."""
    from faststream import apply_types

    injected = apply_types(func, **_apply_types_options(app_context, lifespan=True))
    return adapt_lifespan(injected, func, before=app_context.refresh)
