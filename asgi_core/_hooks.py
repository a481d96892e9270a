"""Registering and calling lifecycle hooks.

* Four stages, each an ordered list: ``on_startup`` (receives the run options its signature
  accepts), ``after_startup``, ``on_shutdown``, ``after_shutdown`` (called with no arguments).
* Hooks given to the constructor come first, then decorated ones, in registration order.
* A hook is any callable; if it returns an awaitable, that is awaited. Sync hooks run on the
  event loop's thread, so a slow sync hook blocks it: make long work ``async``.
* ``HookCaller`` calls one application's hooks and its lifespan. A hook gets the run options
  its signature names (``_options.bind_options``), unless a parameter uses FastStream's markers
  (``Context()``, ``Depends()``, ``Logger``...): then it is called through FastStream's own DI
  (``asgi_core_extras.faststream._di.inject``, imported on the first such hook), with every run
  option, and markers resolved from one ``HookContext`` per application over ``app.context``.
  A marker nothing would resolve (another framework's; FastStream's without FastStream) is a
  ``ConfigError`` naming the hook and the parameter, when the hook's step comes. Whether a hook
  has markers is in the cached signature plan, and its injected form is built once per
  application, so a hook without markers costs what it did before.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping

from asgi_core._checked_list import CheckedList
from asgi_core._options import hook_kwargs

TYPE_CHECKING = False  # typing is not loaded by import asgi_core
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any, overload

__all__ = ["STAGES", "Hook", "HookCaller", "HookList", "Hooks", "call_hook", "describe"]

Hook = Callable[..., "Any"]
_CO_COROUTINE = 0x80  # inspect.CO_COROUTINE, CO_VARARGS and CO_VARKEYWORDS (inspect loads slowly)
_COROUTINE_NO_VARARGS = _CO_COROUTINE | 0x04 | 0x08
STAGES = ("on_startup", "after_startup", "on_shutdown", "after_shutdown")


def describe(func: object) -> str:
    """A readable name for a hook: its qualified name and module when it has them."""
    name = getattr(func, "__qualname__", None) or type(func).__qualname__
    module = getattr(func, "__module__", None)
    return f"{module}.{name}" if module and module != "builtins" else str(name)


def _checked(stage: str, func: object) -> Hook:
    if not callable(func):
        raise TypeError(f"{stage} hooks must be callable, not {func!r}")
    return func


class HookList(CheckedList[Hook]):
    """One stage's hooks: a list that checks each hook and drops its owner's plan on a change."""

    __slots__ = ("_owner", "_stage")

    def __init__(self, owner: Hooks, stage: str, hooks: Iterable[Hook] = ()) -> None:
        self._owner = owner
        self._stage = stage
        super().__init__(_checked(stage, f) for f in hooks)

    def _check(self, item: object) -> Hook:
        return _checked(self._stage, item)

    def _changed(self) -> None:
        self._owner.memo = None

    def __reduce__(self) -> tuple[type[list[Hook]], tuple[list[Hook]]]:
        # copy and pickle give a plain list: a list of no application (Hooks.copy makes its own)
        return list, (list(self),)


class _StageList:
    """A stage's list on ``Hooks``: read as it is; a list assigned in its place becomes a
    ``HookList`` of that stage (each hook checked) and drops the plan."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.stage = name
        self.slot = f"_{name}"

    if TYPE_CHECKING:  # the class's attribute is the descriptor; an instance's, its list

        @overload
        def __get__(self, hooks: None, owner: type) -> _StageList: ...
        @overload
        def __get__(self, hooks: Hooks, owner: type | None = None) -> HookList: ...

    def __get__(self, hooks: Hooks | None, owner: type | None = None) -> HookList | _StageList:
        if hooks is None:
            return self
        found: HookList = getattr(hooks, self.slot)
        return found

    def __set__(self, hooks: Hooks, listed: Iterable[Hook]) -> None:
        setattr(hooks, self.slot, HookList(hooks, self.stage, listed))
        hooks.memo = None


class Hooks:
    """The four ordered hook lists of an application.

    Each is a ``HookList``: every change of one (or a list assigned in its place) drops
    ``memo``, the lifecycle plan made of the four (``_steps.Plan``), so a run reuses the plan
    while ``memo`` is set without comparing the lists.
    """

    __slots__ = ("_after_shutdown", "_after_startup", "_on_shutdown", "_on_startup", "memo")

    on_startup = _StageList()
    after_startup = _StageList()
    on_shutdown = _StageList()
    after_shutdown = _StageList()

    def __init__(
        self,
        on_startup: Iterable[Hook] = (),
        after_startup: Iterable[Hook] = (),
        on_shutdown: Iterable[Hook] = (),
        after_shutdown: Iterable[Hook] = (),
    ) -> None:
        self.memo: Any = None  # the plan last made of the four lists, while they are unchanged
        self.on_startup = on_startup
        self.after_startup = after_startup
        self.on_shutdown = on_shutdown
        self.after_shutdown = after_shutdown

    def add(self, stage: str, func: Hook) -> None:
        """Append ``func`` to ``stage``'s list."""
        getattr(self, stage).append(func)

    def copy(self) -> Hooks:
        """New lists with the same hooks: later registrations on one don't reach the other."""
        return Hooks(self.on_startup, self.after_startup, self.on_shutdown, self.after_shutdown)

    def __len__(self) -> int:
        return sum(len(getattr(self, stage)) for stage in STAGES)

    def __reduce__(self) -> tuple[type[Hooks], tuple[list[Hook], ...]]:
        # copy, deepcopy and pickle rebuild it through __init__: lists of its own that say so
        # when they change (the default would set plain lists behind the stage lists)
        return Hooks, tuple(list(getattr(self, stage)) for stage in STAGES)


async def call_hook(func: Hook, kwargs: dict[str, object]) -> None:
    """Call ``func(**kwargs)`` and await the result if it is awaitable."""
    result = func(**kwargs)
    if hasattr(result, "__await__"):
        await result


def _di() -> ModuleType:
    from asgi_core._importer import import_extra  # loaded only for a hook with markers

    return import_extra(
        "asgi_core_extras.faststream._di",
        feature="a hook with FastStream's markers",
        packages=("asgi_core_extras", "faststream"),
        extra="faststream",
    )


class HookCaller:
    """Calls the hooks and the lifespan of one application (see the module docstring)."""

    __slots__ = ("_context", "_faststream", "_injected_forms")

    def __init__(self, context: Mapping[str, object]) -> None:
        self._context = context  # the application's context, read live at every injected call
        self._faststream: Any = None  # its HookContext, made for the first hook with markers
        self._injected_forms: dict[tuple[int, bool], tuple[object, Hook]] = {}

    def faststream_context(self) -> Any:
        """The application's one ``HookContext`` (``asgi_core_extras.faststream._di``)."""
        if self._faststream is None:
            self._faststream = _di().HookContext(self._context)
        return self._faststream

    def _injected(self, func: Hook, *, lifespan: bool) -> Hook:
        """``func`` called through FastStream's DI, built once per application."""
        key = (id(func), lifespan)
        found = self._injected_forms.get(key)
        if found is None or found[0] is not func:
            di = _di()
            inject = di.inject_lifespan if lifespan else di.inject
            injected = inject(func, app_context=self.faststream_context())
            found = self._injected_forms[key] = (func, injected)
        return found[1]

    def call(self, func: Hook, options: Mapping[str, object], kind: str) -> Awaitable[None]:
        """Call the hook ``func`` (``{kind} {describe(func)}`` in messages) with its run options.

        Returns what to await (no coroutine of its own: one frame less per hook). The name is
        worked out only for a message: this runs for every hook of every lifespan cycle.
        """
        kwargs = hook_kwargs(func, options, hook=lambda: f"{kind} {describe(func)}")
        if kwargs is not None:
            return call_hook(func, kwargs)
        return call_hook(self._injected(func, lifespan=False), dict(options))

    def step(self, func: Hook, options: Mapping[str, object], kind: str) -> Callable[[], Any]:
        """What a lifecycle step awaits to call ``func`` (see ``call``).

        An ``async def`` without parameters is its own step: it takes no option, has no marker
        and returns what to await, so no binding and no frame are added for it.
        """
        code = getattr(func, "__code__", None)
        if (
            code is not None
            and code.co_flags & _COROUTINE_NO_VARARGS == _CO_COROUTINE
            and not code.co_argcount
            and not code.co_kwonlyargcount
        ):
            return func
        return functools.partial(self.call, func, options, kind)

    def lifespan(self, func: Hook, options: Mapping[str, object], *, name: str) -> object:
        """What the lifespan factory ``func`` returns, called with the run options it takes."""
        kwargs = hook_kwargs(func, options, hook=name)
        if kwargs is not None:
            return func(**kwargs)
        return self._injected(func, lifespan=True)(**options)
