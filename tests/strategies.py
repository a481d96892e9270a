"""Named Hypothesis strategies for ASGI paths, mount tables and lifespan message streams."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = [
    "RECEIVE_RAISES",
    "fuzzed_scopes",
    "hostile_paths",
    "lifespan_endings",
    "lifespan_message",
    "lifespan_messages",
    "mount_paths",
    "odd_values",
    "receive_scripts",
    "request_paths",
    "root_paths",
    "segments",
    "send_faults",
]

segments = st.sampled_from(["a", "b", "api", "apix", "v1", "x", "%2e%2e", "..", "é"])
"""Path segments drawn from a small alphabet, so that generated routes and paths collide often,
including near misses (``api`` / ``apix``), dot segments, encodings and non-ASCII."""

mount_paths = st.lists(segments, max_size=3).map(lambda parts: "/" + "/".join(parts)) | st.lists(
    segments, min_size=1, max_size=3
).map(lambda parts: "/" + "/".join(parts) + "/")
"""Mount paths as users write them: ``/``, ``/api``, ``/api/v1``, sometimes a trailing slash."""

request_paths = st.lists(segments | st.just(""), max_size=5).map(
    lambda parts: "/" + "/".join(parts)
)
"""Request paths: segments of the same alphabet, empty segments (``//``) included."""

root_paths = st.sampled_from(["", "/root", "/root/deep", "/api"])
"""``root_path`` values a server might send, one of them equal to a mount path."""

_valid_lifespan = st.sampled_from([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
_invalid_lifespan: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(
        [{"type": "http.request"}, {"type": "lifespan.startup.complete"}, {}, {"type": None}]
    ),
    st.text(max_size=5),
)
lifespan_message = st.one_of(_valid_lifespan, _valid_lifespan, _valid_lifespan, _invalid_lifespan)
"""One message a server (correct or not) might send on a lifespan scope: mostly a valid type,
sometimes a wrong type, a missing key or something that is not a dict at all."""

lifespan_messages = st.lists(lifespan_message, min_size=1, max_size=5)
"""A whole stream of such messages, valid ones in any order."""

# -- protocol fuzzing (issue 6): scopes, request bodies and server faults --------------------------

odd_values: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.tuples(st.binary(max_size=3), st.binary(max_size=3)),
)
"""A value of the wrong type for almost any scope or message key: ``None``, numbers, ``str``
where ``bytes`` belongs and the reverse, containers."""

_hostile_segments = st.sampled_from(
    ["api", "v1", "secret", "..", ".", "%2e%2e", "%2E%2e", "%2f", "%2F", "%00", "\x00", "é", "ẞ"]
)

hostile_paths: st.SearchStrategy[str] = st.one_of(
    st.lists(_hostile_segments | st.just(""), max_size=6).map(lambda parts: "/" + "/".join(parts)),
    st.lists(_hostile_segments, min_size=1, max_size=4).map("/".join),  # no leading slash
    st.text(max_size=20),
    st.builds(lambda seg, n: "/" + "/".join([seg] * n), _hostile_segments, st.integers(1, 20_000)),
    st.integers(1, 200_000).map(lambda n: "/" * n),
)
"""Request paths a hostile client or a broken server might produce: dot segments (plain and
percent-encoded), encoded slashes and NULs, empty segments (``//``), non-ASCII, no leading slash,
arbitrary text, and huge paths (up to 200 000 characters or 20 000 segments)."""

_HTTP_KEYS = (
    "type",
    "path",
    "root_path",
    "method",
    "headers",
    "query_string",
    "raw_path",
    "scheme",
    "http_version",
    "client",
    "server",
    "asgi",
    "state",
)


@st.composite
def fuzzed_scopes(draw: st.DrawFn) -> tuple[Any, frozenset[str]]:
    """An ``http`` or ``websocket`` scope for the app under test and the keys that were broken.

    Usually a valid scope on one of the routes (or a hostile path), sometimes with keys dropped
    or given a wrong type (``bytes`` where ``str`` belongs and the reverse), an unknown scope
    type, malformed headers, or something that is not a ``dict`` at all (a mapping proxy, a list,
    an object with ``__getitem__`` only). ``"<not a mapping>"`` marks the last case.
    """
    kind = draw(st.sampled_from(["http"] * 5 + ["websocket"]))
    route = draw(
        st.sampled_from(
            [
                *("/hello", "/echo", "/boom", "/health", "/ready", "/docs", "/docs.json"),
                *("/api/x", "/api/v1/y", "/secret", "/apix", "/missing", "/"),
            ]
        )
    )
    path = draw(hostile_paths) if draw(st.integers(0, 2)) == 0 else route
    query = draw(st.sampled_from([b"", b"name=%C3%A9", b"a=1&a=2", b"%ZZ=%", b"x=\xff"]))
    scope: dict[str, Any] = {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "http" if kind == "http" else "ws",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogatepass"),
        "query_string": query,
        "root_path": draw(st.sampled_from(["", "", "/root", "/root/", "/api"])),
        "headers": draw(
            st.lists(
                st.tuples(
                    st.sampled_from([b"content-length", b"content-type", b"host", b"x-a"]),
                    st.sampled_from([b"0", b"5", b"99999999999", b"-1", b"\xb2", b"x", b""]),
                ),
                max_size=3,
            )
        ),
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    if kind == "http":
        scope["method"] = draw(st.sampled_from(["GET", "POST", "HEAD", "PUT", "get"]))
    broken: set[str] = set()
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2]))):
        key = draw(st.sampled_from(_HTTP_KEYS))
        broken.add(key)
        if draw(st.booleans()):
            scope.pop(key, None)
        elif key == "type":
            scope[key] = draw(st.sampled_from(["lifespan.startup", "HTTP", "", b"http", None]))
        elif key == "headers":
            scope[key] = draw(
                odd_values
                | st.lists(st.tuples(st.text(max_size=3), st.text(max_size=3)), max_size=2)
                | st.lists(st.tuples(st.binary(), st.binary(), st.binary()), min_size=1)
            )
        elif key in ("path", "root_path"):
            scope[key] = draw(odd_values | st.builds(lambda p: p.encode(), st.just(path)))
        else:
            scope[key] = draw(odd_values)
    container = draw(st.sampled_from(["dict"] * 6 + ["proxy", "list", "indexable"]))
    if container == "proxy":
        from types import MappingProxyType

        return MappingProxyType(scope), frozenset(broken)
    if container == "list":
        return list(scope.items()), frozenset({"<not a mapping>"})
    if container == "indexable":
        return _Indexable(scope), frozenset({"<not a mapping>"})
    return scope, frozenset(broken)


class _Indexable:
    """Has ``__getitem__`` and nothing else of a mapping: not a valid scope."""

    def __init__(self, items: dict[str, Any]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __repr__(self) -> str:
        return f"_Indexable({len(self._items)} keys)"


RECEIVE_RAISES = "<receive raises>"

receive_scripts: st.SearchStrategy[list[Any]] = st.lists(
    st.one_of(
        st.builds(
            lambda body, more: {"type": "http.request", "body": body, "more_body": more},
            st.binary(max_size=80),
            st.booleans(),
        ),
        st.just({"type": "http.disconnect"}),
        st.just(RECEIVE_RAISES),
        st.builds(lambda value: {"type": "http.request", "body": value}, odd_values),
        st.builds(lambda kind: {"type": kind}, odd_values | st.just("websocket.receive")),
        odd_values,
    ),
    max_size=6,
)
"""What ``receive()`` gives the app, in order: body chunks, ``http.disconnect`` at any point,
malformed messages, and ``RECEIVE_RAISES`` where the server's ``receive`` raises. After the
script the client has gone: ``receive()`` returns ``http.disconnect``."""

send_faults: st.SearchStrategy[int | None] = st.none() | st.integers(0, 3)
"""Which call of ``send()`` raises (0 for the first; ``None``: none), as a server does when the
client went away mid-response."""

lifespan_endings = st.sampled_from(["shutdown", "vanish", "receive raises"])
"""How the server ends a lifespan after its messages: it sends ``lifespan.shutdown``, it never
sends it (the task is cancelled when the server goes away), or its ``receive()`` raises."""
