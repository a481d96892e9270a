"""Run options for hooks: pick what a signature accepts, convert values by annotation.

Options come from ``start(**options)``, ``run(run_extra_options=...)`` or the CLI's ``--key value``
pairs, so they are often strings. A hook receives only the options its signature names (all of
them if it takes ``**kwargs``), each converted to the parameter's annotation by
``_convert.convert`` (its docstring lists the types).

A required parameter without an option, or a value that does not convert, raises ``ConfigError``
naming the hook, the option and the expected type.

Before a run starts, ``check_hook_options`` refuses a name that no hook (nor the server) accepts,
listing the valid names and the closest match. It reads the signatures through the same cached
``_plan`` as ``bind_options``, so the check and the call can't disagree about a hook. ``worker_id``
is reserved: asgi_core sets it (None in one process, 0..N-1 in worker processes).

Markers: the plan also notes, once per function, each parameter whose default or ``Annotated``
metadata item is an object of a dependency-injection framework (its type's top-level module is
``faststream`` or ``fast_depends``, or one of ``_FOREIGN``), importing none of them.
``uses_faststream_markers`` says the hook must be called through FastStream's DI (the lifecycle
does that, ``_hooks.HookCaller``); ``marker_problem`` is the error text for a marker nothing would
resolve (another framework's, or FastStream's when FastStream is not installed). A marker
parameter is not an option; a ``Depends(f)`` marker's ``f`` takes options of its own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping

from asgi_core.exceptions import ConfigError

TYPE_CHECKING = False  # typing is not loaded by import asgi_core: only by reading a signature
if TYPE_CHECKING:
    import inspect
    from typing import Any

__all__ = [
    "RESERVED_OPTIONS",
    "accepted_options",
    "bind_options",
    "check_hook_options",
    "convert",
    "did_you_mean",
    "hook_kwargs",
    "marker_problem",
    "markers",
    "uses_faststream_markers",
]

RESERVED_OPTIONS = frozenset({"worker_id"})
FASTSTREAM_PACKAGES = frozenset(("faststream", "fast_depends"))
# Markers of other frameworks that a user may carry over into a hook by mistake.
_FOREIGN = {"fastapi": "FastAPI", "starlette": "Starlette", "typer": "Typer", "click": "Click"}
_FOREIGN.update(pydantic="pydantic", dependency_injector="Dependency Injector")
_INSTALL = "pip install 'asgi-core[faststream]'"


def _hints(func: Callable[..., object], *, extras: bool = False) -> dict[str, Any]:
    import inspect
    import typing  # here, as inspect: reading a signature needs it; import asgi_core does not

    target = func if inspect.isroutine(func) or inspect.isclass(func) else type(func).__call__
    try:
        return typing.get_type_hints(target, include_extras=extras)
    except Exception:  # unresolvable forward references: fall back to the raw annotations
        return {}


def _annotations(func: Callable[..., object], signature: inspect.Signature) -> dict[str, Any]:
    """Each parameter's resolved annotation, else its raw one, else ``Any``."""
    import typing  # on first use, as in _hints: import asgi_core loads no typing

    hints = _hints(func)
    for name, param in signature.parameters.items():
        if name not in hints:
            hints[name] = typing.Any if param.annotation is param.empty else param.annotation
    return hints


def _package(obj: object) -> str:
    return (type(obj).__module__ or "").partition(".")[0]


class _Plan:
    """What a function's signature says, worked out once (a plain class: a NamedTuple would
    cost ~1.5 ms of ``import asgi_core``)."""

    __slots__ = ("hints", "markers", "signature")

    def __init__(
        self,
        signature: inspect.Signature,
        hints: dict[str, Any],
        markers: tuple[tuple[str, object], ...],
    ) -> None:
        self.signature = signature
        self.hints = hints  # every parameter's annotation (_annotations), Annotated stripped
        self.markers = markers  # (parameter, marker) of a DI framework


def _markers_of(func: Callable[..., object], signature: inspect.Signature) -> Iterable[Any]:
    """``(parameter, candidate)`` for each default and ``Annotated`` item of a DI framework."""
    import typing  # on first use, as in _hints: import asgi_core loads no typing

    hints = _hints(func, extras=True)
    for name, param in signature.parameters.items():
        candidates = [] if param.default is param.empty else [param.default]
        annotation = hints.get(name, param.annotation)
        if typing.get_origin(annotation) is typing.Annotated:
            candidates.extend(annotation.__metadata__)
        for candidate in candidates:
            if _package(candidate) in FASTSTREAM_PACKAGES or _package(candidate) in _FOREIGN:
                yield name, candidate


@functools.lru_cache(maxsize=256)
def _plan(func: Callable[..., object]) -> _Plan | None:
    """Signature, resolved annotations and markers of ``func``, worked out once per function."""
    import inspect  # here, not at import time: it costs more than the rest of asgi_core

    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # some builtins have no signature: pass nothing
        return None
    return _Plan(signature, _annotations(func, signature), tuple(_markers_of(func, signature)))


def _plan_of(func: Callable[..., object]) -> _Plan | None:
    try:
        return _plan(func)
    except TypeError:  # an unhashable callable: work it out every time
        return _plan.__wrapped__(func)


def markers(func: Callable[..., object]) -> tuple[tuple[str, object], ...]:
    """``(parameter, marker)`` for each DI framework's marker in ``func``'s signature."""
    plan = _plan_of(func)
    return () if plan is None else plan.markers


def uses_faststream_markers(func: Callable[..., object]) -> bool:
    """True if a parameter of ``func`` uses a FastStream or FastDepends marker."""
    return any(_package(marker) in FASTSTREAM_PACKAGES for _, marker in markers(func))


def marker_problem(func: Callable[..., object], *, hook: str) -> str | None:
    """The error text for a parameter asgi_core can't fill in, or None if there is none.

    A FastStream marker is a problem only when FastStream is not installed (with it, FastStream's
    DI resolves the marker); another framework's marker always is.
    """
    for name, marker in markers(func):
        package = _package(marker)
        option = f"`--{name.replace('_', '-')} VALUE`"
        if package in FASTSTREAM_PACKAGES and not _faststream_installed():
            return (
                f"{hook}: parameter {name!r} uses {marker!r}, a FastStream marker, but FastStream "
                f"is not installed, so nothing would resolve it; install it with `{_INSTALL}`, "
                f"or give the parameter a plain default or pass it as a run option ({option})"
            )
        if package in _FOREIGN:
            return (
                f"{hook}: parameter {name!r} uses {marker!r} from {_FOREIGN[package]}, which "
                f"asgi_core can't resolve (it fills in run options and FastStream's markers); "
                f"give the parameter a plain default or pass it as a run option ({option})"
            )
    return None


def _faststream_installed() -> bool:
    try:
        import faststream  # noqa: F401  (a marker of it or of fast_depends is in use already)
    except ImportError:
        return False
    return True


def accepted_options(funcs: Iterable[Callable[..., object]]) -> tuple[set[str], bool]:
    """The option names ``bind_options`` can pass to ``funcs``; True if one takes ``**kwargs``."""
    names: set[str] = set()
    anything = False
    todo, seen = list(funcs), set()
    while todo:
        func = todo.pop()
        plan = _plan_of(func)
        if plan is None or id(func) in seen:  # no signature: bind_options passes it nothing
            continue
        seen.add(id(func))
        marked = {name for name, _ in plan.markers}
        # FastStream's DI gives a Depends(f) marker's f the options too
        todo.extend(d for _, m in plan.markers if callable(d := getattr(m, "dependency", None)))
        for param in plan.signature.parameters.values():
            if param.kind is param.VAR_KEYWORD:
                anything = True
            elif param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
                if param.name not in marked:
                    names.add(param.name)
    return names - RESERVED_OPTIONS, anything


def did_you_mean(name: str, names: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``names`` to ``name``, or ``""``."""
    import difflib  # here, not at import time: only a mistyped name needs it

    match = difflib.get_close_matches(name, sorted(names), n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def check_hook_options(
    app: object,
    options: Mapping[str, object],
    *,
    on_startup: Iterable[Callable[..., object]],
    lifespan: Callable[..., object] | None,
    server_options: frozenset[str] | None = None,
) -> None:
    """Raise ``ConfigError`` for an option that no hook of ``app`` (nor the server) accepts.

    ``on_startup`` and ``lifespan`` are what receives the options; ``server_options`` the names
    the server takes, or None where no server runs (``Application.run()``).
    """
    takers = [*on_startup, *([] if lifespan is None else [lifespan])]
    accepted, anything = accepted_options(takers)
    valid = accepted | (server_options or set())
    for name in options:
        if name in RESERVED_OPTIONS:
            raise ConfigError(
                f"option {name!r} is set by asgi_core (None in a single process, 0..N-1 in "
                "worker processes); remove it from the options"
            )
        if name in valid or anything:
            continue
        listed = ", ".join(sorted(valid)) or "none"
        what = (
            "any hook"
            if server_options is None
            else "the server nor any on_startup hook or lifespan"
        )
        hint = did_you_mean(name, valid)
        raise ConfigError(
            f"unknown option {name!r}: neither {what} of {app!r} accepts it{hint}"
            f" (valid options: {listed}); add a parameter named {name!r} to an on_startup hook "
            "to receive it"
        )


def convert(value: object, annotation: object, *, hook: str, option: str) -> object:
    """``_convert.convert``: ``value`` as ``annotation``, or ``ConfigError`` (see there).

    A wrapper, so that ``_convert.py`` loads with the first option converted, not with
    ``import asgi_core`` (cli.py and _serving.py import it from here).
    """
    import asgi_core._convert as _convert

    return _convert.convert(value, annotation, hook=hook, option=option)


def _type_name(annotation: object) -> str:
    import asgi_core._convert as _convert  # only for an error message

    return _convert.type_name(annotation)


def hook_kwargs(
    func: Callable[..., object], options: Mapping[str, object], *, hook: str | Callable[[], str]
) -> dict[str, object] | None:
    """``bind_options``, or None if FastStream's DI must call ``func`` (it uses its markers).

    One plan lookup; a marker nothing would resolve is a ``ConfigError`` (``marker_problem``).
    ``hook`` names it in errors, or makes that name (worked out only when a message needs it).
    """
    plan = _plan_of(func)
    if plan is None or not plan.signature.parameters:
        return {}  # nothing to bind (and no parameter to carry a marker)
    if not isinstance(hook, str):
        hook = hook()
    if plan.markers:
        problem = marker_problem(func, hook=hook)
        if problem is not None:
            raise ConfigError(problem)
        if uses_faststream_markers(func):
            return None
    return _bind(plan, options, hook)


def bind_options(
    func: Callable[..., object], options: Mapping[str, object], *, hook: str
) -> dict[str, object]:
    """The keyword arguments to call ``func`` with, out of ``options``."""
    return _bind(_plan_of(func), options, hook)


def _bind(plan: _Plan | None, options: Mapping[str, object], hook: str) -> dict[str, object]:
    if plan is None:
        return {}
    signature, hints = plan.signature, plan.hints
    kwargs: dict[str, object] = {}
    rest: inspect.Parameter | None = None
    for name, param in signature.parameters.items():
        if param.kind is param.VAR_KEYWORD:
            rest = param
            continue
        if param.kind is param.VAR_POSITIONAL:
            continue
        annotation = hints[name]
        if name in options and param.kind is not param.POSITIONAL_ONLY:
            kwargs[name] = convert(options[name], annotation, hook=hook, option=name)
        elif param.default is param.empty:
            given = ", ".join(sorted(options)) or "none"
            raise ConfigError(
                f"{hook} needs the option {name!r} ({_type_name(annotation)}), which was not "
                f"given (options given: {given}); pass it, e.g. `--{name.replace('_', '-')} "
                f"VALUE` on the command line, or give the parameter a default"
            )
    if rest is not None:
        annotation = hints[rest.name]
        for name, value in options.items():
            if name not in kwargs and name not in signature.parameters:
                kwargs[name] = convert(value, annotation, hook=hook, option=name)
    return kwargs
