"""Where a server listens: the seed's binding rules, and the sockets asgi_core binds itself.

Rules: host and port give ``host:port``; a host alone ``host:8000``; a port alone
``127.0.0.1:port``; ``bind`` entries (a string or a list) are added; ``uds`` and ``fd`` add
``unix:PATH`` and ``fd://N``; with none of them, ``127.0.0.1:8000``. asgi_core binds the sockets
itself and hands them to the server, so port 0 reports the port it got, and every runner treats
every kind of address the same way.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from asgi_core.exceptions import ConfigError, StartupFailed

if TYPE_CHECKING:
    import socket

__all__ = [
    "DEFAULT_BIND",
    "announce",
    "as_int",
    "bind_sockets",
    "binds_from",
    "describe_socket",
    "parse_bind",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_BIND = f"{DEFAULT_HOST}:{DEFAULT_PORT}"


def as_int(name: str, value: object, minimum: int) -> int:
    """``value`` (an int or a string of digits) as an int of at least ``minimum``."""
    number = minimum - 1
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    if number < minimum:
        raise ConfigError(f"option {name!r} must be an integer >= {minimum}, not {value!r}")
    return number


def parse_bind(bind: str) -> tuple[str, str, int]:
    """``("unix", path, 0)``, ``("fd", "", n)`` or ``("tcp", host, port)`` for a gunicorn bind."""
    if bind.startswith("unix:"):
        return "unix", bind[5:], 0
    if bind.startswith("fd://"):
        return "fd", "", as_int("bind", bind[5:], 0)
    host, sep, port = bind.rpartition(":")
    if not sep or host.endswith(":"):  # "host" alone, or a bare IPv6 address
        host, port = bind, str(DEFAULT_PORT)
    host = host.strip("[]") or DEFAULT_HOST
    if not port.isdigit() or int(port) > 65535:
        raise ConfigError(
            f"bind address {bind!r} has no valid port; use 'HOST:PORT' (0 picks a free port), "
            "'unix:PATH' or 'fd://N'"
        )
    return "tcp", host, int(port)


def binds_from(options: dict[str, object]) -> list[str]:
    """The addresses the server options in ``options`` ask for (consumed from it)."""
    host, port = options.pop("host", None), options.pop("port", None)
    binds: list[str] = []
    if host is not None or port is not None:
        host = DEFAULT_HOST if host is None else str(host)
        shown = f"[{host}]" if ":" in host else host
        binds.append(f"{shown}:{DEFAULT_PORT if port is None else as_int('port', port, 0)}")
    bind = options.pop("bind", None)
    for entry in [bind] if isinstance(bind, str) else list(bind or ()):  # type: ignore[call-overload]
        if not isinstance(entry, str):
            raise ConfigError(f"option 'bind' takes strings like 'HOST:PORT', not {entry!r}")
        binds.append(entry)
    if options.get("uds") is not None:
        binds.append(f"unix:{options.pop('uds')}")
    if options.get("fd") is not None:
        binds.append(f"fd://{as_int('fd', options.pop('fd'), 0)}")
    for entry in binds:
        parse_bind(entry)
    return binds or [DEFAULT_BIND]


def bind_sockets(binds: list[str]) -> list[socket.socket]:
    """Listening sockets for ``binds``, inheritable by worker processes.

    A TCP address that cannot be bound is a ``StartupFailed`` saying what to do.
    """
    import os
    import socket

    sockets: list[socket.socket] = []
    try:
        for bind in binds:
            kind, host, port = parse_bind(bind)
            if kind == "fd":
                sock = socket.socket(fileno=port)
            elif kind == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                if os.path.exists(host):
                    os.unlink(host)
                sock.bind(host)
            else:
                family = socket.AF_INET6 if ":" in host else socket.AF_INET
                # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only
                # when the listener says TCP (else every small response waits ~40 ms)
                sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((host, port))
                except OSError as exc:
                    sock.close()
                    raise StartupFailed(
                        f"cannot listen on {bind!r}: {exc.strerror}; choose another port "
                        "(0 picks a free one) or stop the process using it"
                    ) from exc
            sock.set_inheritable(True)
            sock.listen(2048)
            sockets.append(sock)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def describe_socket(sock: socket.socket) -> str:
    """``http://host:port`` or ``unix:path`` for a listening socket."""
    import socket

    if sock.family == getattr(socket, "AF_UNIX", None):
        return f"unix:{sock.getsockname()}"
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def announce(sockets: list[socket.socket]) -> None:
    """Print where the server listens (port 0 shows the port it got) on stderr."""
    for sock in sockets:
        print(f"asgi-core: listening on {describe_socket(sock)}", file=sys.stderr, flush=True)
