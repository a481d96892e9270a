"""Mounted apps: the route list, matching, and the scope a mounted app sees.

Rules:

* A mount path is a ``str`` that starts with ``/``; it loses any trailing slash when the lookup
  index is built, so ``/`` and ``""`` are the root mount. Anything else raises ``ValueError``.
* A request's route path is ``path`` minus ``root_path`` when ``path`` starts with ``root_path``
  at a ``/`` boundary (uvicorn puts ``root_path`` in front), else ``path`` itself (hypercorn,
  granian, daphne and gunicorn's own worker do not). The query string is never part of it.
* A mount matches its path and everything below it at a ``/`` boundary: ``/api`` matches
  ``/api``, ``/api/`` and ``/api/x``, never ``/apix``. The longest match wins whatever the
  registration order; among equal paths the first registered wins.
* The mounted app gets a copy of the scope whose ``root_path`` (without a trailing slash) is
  extended by the mount path and whose ``path`` is the full path (``root_path`` + route path),
  so that ``path`` minus ``root_path`` is what lies below the mount (ASGI ``www`` spec:
  PATH_INFO). A scope whose ``path`` or ``root_path`` is not a ``str`` is a ``ScopeError``.

How it works: ``Routes.resolve(scope)`` applies all of these rules in one call and returns the
app and its scope, or None for the caller's not-found answer. ``Routes`` is the public list of
``(path, app)`` pairs. Each mutation checks what it adds and drops the index; the next lookup
rebuilds it as a dict from normalised path to the first pair registered there. A lookup cuts the
route path to the depth of the deepest mount, then back one segment at a time down to the root
mount: at most one dict lookup per segment of the deepest mount, plus one, however many routes
there are and however long the path is.

The per-request fast path (``AsgiFastStream.__call__``) reads ``Routes.hits``, the answers
``resolve`` worked out before: ``hits[root_path][path]`` is ``(app, child root_path)`` or None
(not found), so a repeated request costs two dict lookups and a scope copy. Only a plain
``str`` ``path`` and ``root_path`` that ``resolve`` checked become keys, so a scope whose path is
not a str finds none (bytes and None never equal a str) and goes through ``resolve``; an answer
whose child ``path`` differs from the request's (a ``root_path`` the server did not put in
front of ``path``) is not kept there, and neither is a path or root path longer than
``_MEMO_KEY_LENGTH``. At most ``_MEMO_SIZE`` paths per root path and ``_MEMO_ROOTS`` root paths
are kept (then that table starts over). ``hits`` is one dict for the life of the list, emptied
by every mutation, so the app can hold it; a copy (or an unpickled list) gets a dict of its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from asgi_core._checked_list import CheckedList
from asgi_core.exceptions import scope_error

TYPE_CHECKING = False  # typing is not loaded by import asgi_core
if TYPE_CHECKING:
    from typing import Any

    from asgi_core.types import ASGIApp, Scope

__all__ = ["Routes", "normalize_mount_path", "route_path"]

Route = tuple[str, "ASGIApp"]  # (asgi_core.types is for annotations only: not loaded at import)
_MEMO_SIZE = 1024
_MEMO_KEY_LENGTH = 256  # longer paths are looked up every time: junk paths can't pin memory
_MEMO_ROOTS = 4  # distinct root paths in ``hits`` (one per deployment, in practice)
Hit = tuple["ASGIApp", str]  # the app and the root_path of its child scope


def normalize_mount_path(path: object) -> str:
    """The canonical form of a mount path, or ``ValueError`` naming it."""
    if not isinstance(path, str):
        raise ValueError(f"a mount path must be a str such as '/api', not {path!r}")
    if path and not path.startswith("/"):
        raise ValueError(f"mount path {path!r} must start with '/': use {'/' + path!r}")
    if "?" in path or "#" in path:
        raise ValueError(f"mount path {path!r} must not contain '?' or '#': match on paths only")
    return path.rstrip("/")


def _checked(route: object) -> Route:
    if not isinstance(route, tuple) or len(route) != 2:
        raise ValueError(f"a route must be a (path, asgi_app) pair, not {route!r}")
    path, app = route
    normalize_mount_path(path)
    if not callable(app):
        raise TypeError(f"the app mounted at {path!r} must be an ASGI callable, not {app!r}")
    return (path, app)


class Routes(CheckedList[Route]):
    """The public ``(path, asgi_app)`` list; every change checks entries and resets the index."""

    _index: dict[str, Route] | None = None
    _memo: dict[str, Route | None] | None = None
    _depth = 0  # the most '/' any indexed mount path has

    hits: dict[str, dict[str, Hit | None]]
    """``hits[root_path][path]``: what ``resolve`` answered for a checked scope (module doc)."""

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        super().__init__(_checked(route) for route in routes)
        self.hits = {}

    def resolve(self, scope: Scope) -> tuple[ASGIApp, dict[str, Any]] | None:
        """The app mounted for an ``http``/``websocket`` scope and the child scope it gets.

        None if no mount matches (the caller answers not found). The answer is kept in
        ``hits`` when the child's ``path`` is the request's.
        """
        path = scope.get("path")
        root_path = scope.get("root_path", "")
        if type(path) is not str or type(root_path) is not str:
            if not isinstance(path, str) or not isinstance(root_path, str):
                raise scope_error(
                    scope,
                    f"{scope['type']} scopes need 'path' and 'root_path' as str, "
                    f"not {path!r} and {root_path!r}",
                )
            keep = False  # a str subclass: answered, not kept (keys are plain str)
        else:
            keep = len(path) <= _MEMO_KEY_LENGTH and len(root_path) <= _MEMO_KEY_LENGTH
        if root_path:
            root = root_path.rstrip("/")
            below = route_path(path, root)
            found = self.lookup(below)
            if found is None:
                if keep:
                    self._keep(root_path, path, None)
                return None
            # copy, then set: cheaper than {**scope, ...}, which hashes every key twice
            child = dict(scope)
            child["root_path"] = root + found[0]
            child["path"] = full = root + below
            if keep and full == path:  # the server put root_path in front (uvicorn)
                self._keep(root_path, path, (found[1], child["root_path"]))
            return found[1], child
        found = self.lookup(path)
        if keep:
            self._keep(root_path, path, None if found is None else (found[1], found[0]))
        if found is None:
            return None
        child = dict(scope)  # no root_path: the path stays as it is, the mount is the root path
        child["root_path"] = found[0]
        return found[1], child

    def _keep(self, root_path: str, path: str, hit: Hit | None) -> None:
        hits = self.hits
        below = hits.get(root_path)
        if below is None:
            if len(hits) >= _MEMO_ROOTS:
                hits.clear()
            below = hits[root_path] = {}
        elif len(below) >= _MEMO_SIZE:
            below.clear()
        below[path] = hit

    def lookup(self, path: str) -> Route | None:
        """The ``(normalised mount path, app)`` matching the route path ``path``, if any.

        Answers are memoised per route path (at most ``_MEMO_SIZE`` paths of at most
        ``_MEMO_KEY_LENGTH`` characters, then the memo starts over), so a repeated path, hit or
        miss, costs one dict lookup.
        """
        memo = self._memo
        if memo is None:
            self._index = self._build_index()
            memo = self._memo = {}
        else:
            try:
                return memo[path]
            except KeyError:
                pass
        found = self._walk(path)
        if len(path) <= _MEMO_KEY_LENGTH:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[path] = found
        return found

    def _walk(self, path: str) -> Route | None:
        index = self._index
        assert index is not None  # built with the memo
        candidate = path
        if path.count("/") > self._depth:
            # Nothing deeper than the deepest mount can match: start there, so that a huge
            # path costs one scan rather than a copy and a hash per segment.
            cut = -1
            for _ in range(self._depth + 1):
                cut = path.find("/", cut + 1)
            candidate = path[:cut]
        while True:
            found = index.get(candidate)
            if found is not None:
                return found
            if not candidate:
                return None
            cut = candidate.rfind("/")
            candidate = candidate[:cut] if cut > 0 else ""

    def _build_index(self) -> dict[str, Route]:
        index: dict[str, Route] = {}
        for path, app in self:
            prefix = normalize_mount_path(path)
            index.setdefault(prefix, (prefix, app))
        self._depth = max((prefix.count("/") for prefix in index), default=0)
        return index

    # -- every mutation goes through a check and resets the index (CheckedList) --------------

    def _check(self, route: object) -> Route:
        return _checked(route)

    def _changed(self) -> None:
        self._index = self._memo = None
        self.hits.clear()  # in place: AsgiFastStream holds this dict

    def __reduce__(self) -> tuple[type[Routes], tuple[list[Route]]]:
        # copy, deepcopy and pickle rebuild the list through __init__: a dict of kept answers
        # of its own (the default would share ``hits``, or unpickle entries before it exists)
        return type(self), (list(self),)


def route_path(path: str, root_path: str) -> str:
    """``path`` minus ``root_path`` if it starts with it at a boundary, else ``path``."""
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest or rest[0] == "/":
            return rest
    return path
