"""The contexts a run holds open: the user's ``lifespan`` and the mounted apps' lifespans.

Rules:

* The user lifespan is entered by the first startup step and exited by the last shutdown step;
  the mounted apps' lifespans are entered by the last startup step and exited by the first
  shutdown step. A context is exited only if it was entered.
* The user lifespan gets the run options it accepts (``HookCaller.lifespan``); what it returns
  must be an async context manager, and what it yields nothing or a mapping, which becomes
  lifespan state. Anything else is a ``TypeError`` naming the lifespan.
* Each context is held by a detached task of its own (``_held.py``), so the stage's time limits
  never interleave with the scopes it opens. ``close()`` cancels and awaits a context task still
  running after a failed or interrupted exit (shielded, within ``shutdown_timeout``).

How it works: a ``Lifecycle`` holds a ``RunContexts`` only for a run that has a context (the
usual run has none, and pays nothing for them); ``startup_steps`` and ``with_exits`` put the
enter and exit steps around the plan's steps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from asgi_core._hooks import describe
from asgi_core._steps import Exit, Plan, Step

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from asgi_core._held import Held
    from asgi_core._hooks import HookCaller

__all__ = ["Mounted", "RunContexts"]

Mounted = Callable[[dict[str, Any]], "AbstractAsyncContextManager[Any]"]


class RunContexts:
    """The user lifespan and the mounted apps of one run, and which of them are held open."""

    __slots__ = (
        "_caller",
        "_lifespan",
        "_lifespan_held",
        "_mounted",
        "_mounted_held",
        "_options",
        "_shutdown_timeout",
        "_state",
    )

    def __init__(
        self,
        lifespan: Callable[..., AbstractAsyncContextManager[Any]] | None,
        mounted: Mounted | None,
        caller: HookCaller,
        options: Mapping[str, object],
        state: dict[str, Any],
        shutdown_timeout: float | None,
    ) -> None:
        self._lifespan = lifespan
        self._mounted = mounted
        self._caller = caller
        self._options = options
        self._state = state  # the run's lifespan state: the user lifespan's yield goes here
        self._shutdown_timeout = shutdown_timeout
        self._lifespan_held: Held | None = None
        self._mounted_held: Held | None = None

    def startup_steps(self, plan: Plan) -> tuple[list[Step], int]:
        """The plan's startup steps between entering the user lifespan and the mounted apps,
        and where the brokers' steps begin among them."""
        steps = [*plan.startup]
        at = plan.at
        if self._lifespan is not None:
            enter = Step(
                self._enter_lifespan, "lifespan context", self._lifespan, suffix=" (enter)"
            )
            steps.insert(0, enter)
            at += 1
        if self._mounted is not None:
            steps.append(
                Step(self._enter_mounted, "lifespans of mounted apps (startup)", timed=False)
            )
        return steps, at

    def with_exits(self, steps: list[Step], error: BaseException | None) -> list[Step]:
        """``steps`` (a shutdown's) between exiting the mounted apps and the user lifespan, for
        each that was entered; ``error`` is what ended the run early, if anything did."""
        if self._mounted_held is not None:
            exit_mounted = Exit(self._mounted_held, error)
            steps.insert(0, Step(exit_mounted, "lifespans of mounted apps (shutdown)", timed=False))
        if self._lifespan_held is not None:
            exit_lifespan = Exit(self._lifespan_held, error)
            steps.append(Step(exit_lifespan, "lifespan context", self._lifespan, suffix=" (exit)"))
        return steps

    async def close(self) -> None:
        """Cancel and await each context task still running (shielded, within shutdown_timeout).

        Every context was exited by now, or failed to exit in time.
        """
        if self._mounted_held is not None:
            await self._mounted_held.close(self._shutdown_timeout)
        if self._lifespan_held is not None:
            await self._lifespan_held.close(self._shutdown_timeout)

    async def _enter_lifespan(self) -> None:
        assert self._lifespan is not None  # only a step when there is one
        name = f"lifespan context {describe(self._lifespan)}"
        context = self._caller.lifespan(self._lifespan, self._options, name=name)
        if not hasattr(context, "__aenter__") or not hasattr(context, "__aexit__"):
            raise TypeError(
                f"lifespan must return an async context manager (decorate it with "
                f"@contextlib.asynccontextmanager), but {name} returned {context!r}"
            )
        from asgi_core._held import Held  # loaded with the first lifespan context

        self._lifespan_held = held = await Held.enter(context)
        value = held.value
        if value is None:
            return
        if not isinstance(value, Mapping):
            raise TypeError(
                f"{name} yielded {value!r}; yield nothing, or a mapping of lifespan state "
                "for request handlers"
            )
        self._state.update(value)

    async def _enter_mounted(self) -> None:
        assert self._mounted is not None  # only a step when there is one
        from asgi_core._held import Held  # loaded with the first mounted app

        self._mounted_held = await Held.enter(self._mounted(self._state))
