"""Which async library runs the current task, and the error a time limit raises.

A leaf of ``_concurrency``: the package, ``_watchdog.py`` and ``_phases.py`` import it, so none
imports another to get these.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Literal

__all__ = ["DeadlineExceeded", "current_library"]


class DeadlineExceeded(Exception):
    """``run_bounded``'s own time limit ran out (a ``TimeoutError`` the step raised is not this)."""


def current_library() -> Literal["asyncio", "trio"]:
    """Name the async library running the current task (trio only if trio is running it)."""
    trio = sys.modules.get("trio")
    if trio is None:
        return "asyncio"
    probe = _trio_probe
    if probe[0] is not trio:
        probe = _probe_for(trio)
    return "trio" if probe[1]() else "asyncio"


def _probe_for(trio: Any) -> tuple[object, Callable[[], bool]]:
    """``trio.lowlevel.in_trio_task`` (trio 0.29+), or the same test built for an older trio.

    Before 0.29, ``trio.lowlevel.current_task()`` raising ``RuntimeError`` outside a trio task
    is the test. The probe is cached per trio module: this runs on every request of some routes.
    """
    global _trio_probe
    in_trio_task = getattr(trio.lowlevel, "in_trio_task", None)
    if in_trio_task is None:
        current_task = trio.lowlevel.current_task

        def in_trio_task() -> bool:
            try:
                current_task()
            except RuntimeError:
                return False
            return True

    _trio_probe = (trio, in_trio_task)
    return _trio_probe


_trio_probe: tuple[object, Callable[[], bool]] = (None, bool)
