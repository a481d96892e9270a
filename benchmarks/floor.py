"""The hand-written floor: the least code that can answer each ASGI event correctly.

These are the baselines every ratio is taken against: a prebuilt 404, a prebuilt WebSocket
refusal, a lifespan loop that only runs its hooks, and a dict dispatcher over exact paths. They
check nothing and allocate nothing per call; a library can't be cheaper than them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from benchmarks.fixtures import (
    NOT_FOUND_BODY,
    App,
    Message,
    NoopBroker,
    Prebuilt,
    Receive,
    Scope,
    Send,
)

__all__ = [
    "STAGES",
    "BareClose",
    "BareLifespan",
    "BarePing",
    "DictDispatcher",
    "Hook",
    "bare_not_found",
    "by_stage",
    "noop_hooks",
]

Hook = Callable[[], Awaitable[None]]
STAGES = ("on_startup", "after_startup", "on_shutdown", "after_shutdown")


def noop_hooks(count: int) -> list[Hook]:
    """``count`` distinct async hooks that do nothing."""

    def make() -> Hook:
        async def hook() -> None:
            return None

        return hook

    return [make() for _ in range(count)]


def by_stage(hooks: Sequence[Hook]) -> dict[str, list[Hook]]:
    """Deal the hooks round-robin over the four stages, in order."""
    return {stage: list(hooks[index::4]) for index, stage in enumerate(STAGES)}


def bare_not_found() -> Prebuilt:
    """The floor for HTTP: a 404 whose two messages are built once."""
    return Prebuilt(404, NOT_FOUND_BODY)


class BareClose:
    """The floor for WebSocket: a prebuilt ``websocket.close`` before accept."""

    def __init__(self) -> None:
        self.close: Message = {"type": "websocket.close", "code": 1000, "reason": "Not Found"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(self.close)


class DictDispatcher:
    """Exact-path dispatch through one dict lookup; misses get the prebuilt 404 or close."""

    def __init__(self, routes: Sequence[tuple[str, App]]) -> None:
        self.table = dict(reversed(routes))  # the first registered path wins
        self.not_found: App = bare_not_found()
        self.refuse: App = BareClose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.table.get(scope["path"])
        if app is None:
            app = self.not_found if scope["type"] == "http" else self.refuse
        await app(scope, receive, send)


class BarePing:
    """A hand-written health check: 204 if the broker answers its ping, 500 otherwise."""

    def __init__(self, broker: NoopBroker) -> None:
        self.broker = broker
        self.healthy = Prebuilt(204, b"")
        self.unhealthy = Prebuilt(500, b"")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.healthy if await self.broker.ping(None) else self.unhealthy
        await response(scope, receive, send)


class BareLifespan:
    """The floor for lifespan: run the hooks and the broker around the two replies, no checks."""

    def __init__(self, hooks: Sequence[Hook], broker: NoopBroker) -> None:
        stages = by_stage(hooks)
        self.starting = [*stages["on_startup"], broker.start, *stages["after_startup"]]
        self.stopping = [*stages["on_shutdown"], broker.close, *stages["after_shutdown"]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        try:
            for hook in self.starting:
                await hook()
        except Exception as exc:
            await send({"type": "lifespan.startup.failed", "message": repr(exc)})
            return
        await send({"type": "lifespan.startup.complete"})
        await receive()
        try:
            for hook in self.stopping:
                await hook()
        except Exception as exc:
            await send({"type": "lifespan.shutdown.failed", "message": repr(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})
