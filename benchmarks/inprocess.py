"""In-process benchmarks: ``await app(scope, receive, send)`` with prebuilt scopes, no server.

Two sections share this machinery:

- ``in-process``: the 5-route table (hit path last), a 404 miss, a WebSocket refusal, a
  lifespan cycle with 10 hooks, and ``make_ping_asgi`` on the hit path.
- ``scaling``: hit and miss with 5, 100 and 1000 mounted routes, and lifespan with 0, 10 and
  100 hooks, plus the growth from the smallest to the largest size, round by round.

Before anything is timed, every app is run once and its messages compared with what a correct
answer looks like; a contender that answers wrongly is reported, not timed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from time import perf_counter_ns

from benchmarks.contenders import CONTENDERS, Contender, PendingError
from benchmarks.fixtures import (
    HIT_BODY,
    MISS_PATH,
    App,
    Message,
    NoopBroker,
    Prebuilt,
    Receive,
    Scope,
    Send,
    discard,
    http_receive,
    http_scope,
    lifespan_receive,
    lifespan_scope,
    route_paths,
    websocket_receive,
    websocket_scope,
)
from benchmarks.floor import BareClose, BareLifespan, Hook, bare_not_found, noop_hooks
from benchmarks.harness import Runner, measure, ratio, spread
from benchmarks.reference import BoundedTableLifespan
from benchmarks.results import TIMES, Row

__all__ = ["Case", "Settings", "in_process_cases", "run_cases", "scaling_cases"]

_HIT = ("http.response.start 200", "http.response.body")
_PING = ("http.response.start 204", "http.response.body")
_MISS = ("http.response.start 404", "http.response.body")
_REFUSE = ("websocket.close 1000",)
_LIFESPAN = ("lifespan.startup.complete", "lifespan.shutdown.complete")


@dataclass(frozen=True)
class Settings:
    """How long to measure: rounds, seconds per batch, and which contenders to include."""

    rounds: int
    batch_seconds: float
    contenders: tuple[str, ...] = tuple(contender.name for contender in CONTENDERS)


@dataclass(frozen=True)
class Case:
    """One thing to time for every contender, against the floor named by ``floor``."""

    section: str
    label: str
    floor: str
    build: Callable[[Contender], App]
    run: Callable[[App], Runner]
    check: Callable[[Contender, App], tuple[str, ...]]
    expect: tuple[str, ...]
    # an app timed beside the contenders in the same rounds, shown as the REFERENCE column
    # (the bounded-table lifespan: what issue 12 requires and nothing else), or None
    # (build it, check its answer), or None
    reference: tuple[Callable[[], App], Callable[[], tuple[str, ...]]] | None = None


REFERENCE = "bounded-table reference"
"""The column of ``reference.BoundedTableLifespan``: not a contender, a bound on what to expect."""


_CHUNK = 32
"""Calls timed back to back before the event loop gets an (untimed) turn.

A server's loop runs between requests. Without these turns, the timer handles an app schedules
and cancels (``asyncio.timeout``) would pile up in the loop's heap for the whole batch and make
each later call dearer than it is in service. The two runners repeat the same loop so that no
extra call frame sits between the timer and the app.
"""


def _request_runner(scope: Scope, receive: Receive) -> Callable[[App], Runner]:
    def runner(app: App) -> Runner:
        async def run(count: int) -> int:
            elapsed = 0
            while count > 0:
                step = min(_CHUNK, count)
                start = perf_counter_ns()
                for _ in range(step):
                    await app(scope, receive, discard)
                elapsed += perf_counter_ns() - start
                count -= step
                await asyncio.sleep(0)
            return elapsed

        return run

    return runner


def _lifespan_runner(app: App) -> Runner:
    async def run(count: int) -> int:
        elapsed = 0
        while count > 0:
            step = min(_CHUNK, count)
            start = perf_counter_ns()
            for _ in range(step):
                await app(lifespan_scope(), lifespan_receive(), discard)
            elapsed += perf_counter_ns() - start
            count -= step
            await asyncio.sleep(0)
        return elapsed

    return run


def _call_once(app: App, scope: Scope, receive: Receive, send: Send) -> None:
    async def call() -> None:
        await app(scope, receive, send)

    asyncio.run(call())


def _summary(message: Message) -> str:
    extra = message.get("status", message.get("code"))
    return message["type"] if extra is None else f"{message['type']} {extra}"


def _request_check(scope: Scope, receive: Receive) -> Callable[[Contender, App], tuple[str, ...]]:
    def check(contender: Contender, app: App) -> tuple[str, ...]:
        sent: list[Message] = []

        async def record(message: Message) -> None:
            sent.append(message)

        _call_once(app, dict(scope), receive, record)
        return tuple(_summary(message) for message in sent)

    return check


def _lifespan_check(build: Callable[[Sequence[Hook]], App], count: int) -> tuple[str, ...]:
    """Run one cycle with hooks that count their calls; a missed hook shows in the answer."""
    calls: list[int] = []

    def counting(index: int) -> Hook:
        async def hook() -> None:
            calls.append(index)

        return hook

    sent: list[Message] = []

    async def record(message: Message) -> None:
        sent.append(message)

    app = build([counting(index) for index in range(count)])
    _call_once(app, lifespan_scope(), lifespan_receive(), record)
    answer = tuple(_summary(message) for message in sent)
    return answer if len(calls) == count else (*answer, f"{len(calls)} of {count} hooks ran")


def _http_cases(section: str, label: str, count: int, ping: bool, path: str) -> Case:
    broker = NoopBroker()
    paths = route_paths(count)
    hit: App = Prebuilt(200, HIT_BODY)

    def build(contender: Contender) -> App:
        apps = [hit] * count
        if ping:
            apps[-1] = contender.ping(broker)
        return contender.http(list(zip(paths, apps, strict=True)), broker)

    target = paths[-1] if path == "hit" else MISS_PATH
    scope, receive = http_scope(target), http_receive
    expect = _MISS if path == "miss" else _PING if ping else _HIT
    return Case(
        section,
        label,
        "bare 404",
        build,
        _request_runner(scope, receive),
        _request_check(scope, receive),
        expect,
    )


def _websocket_case(section: str, label: str, count: int) -> Case:
    broker = NoopBroker()
    routes: list[tuple[str, App]] = [(path, Prebuilt(200, HIT_BODY)) for path in route_paths(count)]
    scope = websocket_scope(MISS_PATH)
    return Case(
        section,
        label,
        "bare close",
        lambda contender: contender.http(routes, broker),
        _request_runner(scope, websocket_receive),
        _request_check(scope, websocket_receive),
        _REFUSE,
    )


def _lifespan_case(section: str, label: str, count: int, *, bounded: bool = True) -> Case:
    broker = NoopBroker()
    hooks = noop_hooks(count)

    def build(contender: Contender) -> Callable[[Sequence[Hook], NoopBroker], App]:
        if bounded or contender.unbounded_lifespan is None:
            return contender.lifespan
        return contender.unbounded_lifespan

    def check(contender: Contender, app: App) -> tuple[str, ...]:
        # Rebuilt with counting hooks, so that the timed app's hooks stay no-ops.
        return _lifespan_check(lambda counted: build(contender)(counted, broker), count)

    return Case(
        section,
        label,
        f"bare lifespan, {count} hooks",
        lambda contender: build(contender)(hooks, broker),
        _lifespan_runner,
        check,
        _LIFESPAN,
        _reference(hooks, broker, count) if bounded else None,  # "no time limits" rows: none
    )


def _reference(
    hooks: Sequence[Hook], broker: NoopBroker, count: int
) -> tuple[Callable[[], App], Callable[[], tuple[str, ...]]]:
    def check() -> tuple[str, ...]:
        return _lifespan_check(lambda counted: BoundedTableLifespan(counted, broker), count)

    return (lambda: BoundedTableLifespan(hooks, broker)), check


def _floors() -> dict[str, Runner]:
    broker = NoopBroker()
    floors = {
        "bare 404": _request_runner(http_scope(MISS_PATH), http_receive)(bare_not_found()),
        "bare close": _request_runner(websocket_scope(MISS_PATH), websocket_receive)(BareClose()),
    }
    for count in (0, 10, 100):
        app = BareLifespan(noop_hooks(count), broker)
        floors[f"bare lifespan, {count} hooks"] = _lifespan_runner(app)
    return floors


def in_process_cases() -> list[Case]:
    """The 5-route table against each floor."""
    section = "in-process"
    return [
        _http_cases(section, "route hit", 5, False, "hit"),
        _http_cases(section, "404 miss", 5, False, "miss"),
        _websocket_case(section, "WebSocket refusal", 5),
        _lifespan_case(section, "lifespan, 10 hooks", 10),
        _http_cases(section, "make_ping_asgi hit", 5, True, "hit"),
    ]


SIZES = (5, 100, 1000)
HOOK_COUNTS = (0, 10, 100)
UNBOUNDED_HOOK_COUNTS = (10, 100)


def scaling_cases() -> list[Case]:
    """Hit and miss over growing route tables; lifespan over growing hook lists."""
    section = "scaling"
    cases = []
    for size in SIZES:
        cases.append(_http_cases(section, f"hit, {size} routes", size, False, "hit"))
        cases.append(_http_cases(section, f"miss, {size} routes", size, False, "miss"))
    cases.extend(_lifespan_case(section, f"lifespan, {n} hooks", n) for n in HOOK_COUNTS)
    # what the time limit on every step costs: asgi_core with startup/shutdown_timeout=None
    # (the other contenders have no limits, so these rows repeat their lifespan rows)
    cases.extend(
        _lifespan_case(section, f"lifespan, {n} hooks, no time limits", n, bounded=False)
        for n in UNBOUNDED_HOOK_COUNTS
    )
    return cases


def _growth(cases: Sequence[Case]) -> list[tuple[str, str, str]]:
    labels = {case.label for case in cases}
    small, large = SIZES[0], SIZES[-1]
    pairs = []
    for path in ("hit", "miss"):
        top, bottom = f"{path}, {large} routes", f"{path}, {small} routes"
        if {top, bottom} <= labels:
            pairs.append((f"{path}, {large} ÷ {small} routes", top, bottom))
    return pairs


def _key(label: str, contender: str) -> str:
    return f"{label} | {contender}"


def run_cases(
    cases: Sequence[Case], settings: Settings, progress: Callable[[int], None] | None = None
) -> list[Row]:
    """Check, then time every case for every selected contender, and turn costs into rows."""
    runners = _floors()
    problems: dict[str, str] = {}
    contenders = [c for c in CONTENDERS if c.name in settings.contenders]
    for case in cases:
        if case.reference is not None:
            key = _key(case.label, REFERENCE)
            build_reference, check_reference = case.reference
            answer = check_reference()
            if answer != case.expect:
                problems[key] = f"wrong answer {answer!r}, expected {case.expect!r}"
            else:
                runners[key] = case.run(build_reference())
        for contender in contenders:
            key = _key(case.label, contender.name)
            try:
                app = case.build(contender)
                answer = case.check(contender, app)
            except PendingError as exc:
                problems[key] = f"pending: {exc}"
                continue
            if answer != case.expect:
                problems[key] = f"wrong answer {answer!r}, expected {case.expect!r}"
                continue
            runners[key] = case.run(app)
    costs = measure(runners, settings.rounds, settings.batch_seconds, progress=progress)
    section = cases[0].section
    rows = [
        Row(section, f"floor: {name}", "floor", spread(costs[name]).scaled(1e-3), " µs")
        for name in sorted({case.floor for case in cases})
    ]
    for case in cases:
        names = [contender.name for contender in contenders]
        if case.reference is not None:
            names.append(REFERENCE)
        for name in names:
            key = _key(case.label, name)
            if key in problems:
                rows.append(Row(section, case.label, name, None, TIMES, problems[key]))
                continue
            cost = spread(costs[key]).median / 1000
            figure = ratio(costs, key, case.floor)
            rows.append(Row(section, case.label, name, figure, TIMES, f"{cost:.2f} µs"))
    for label, top, bottom in _growth(cases):
        for contender in contenders:
            pair = _key(top, contender.name), _key(bottom, contender.name)
            if all(key in costs for key in pair):
                rows.append(Row(section, label, contender.name, ratio(costs, *pair), TIMES))
    return rows
