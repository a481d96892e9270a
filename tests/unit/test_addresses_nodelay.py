"""Sockets that ``asgi-core run`` binds give accepted connections ``TCP_NODELAY``.

asyncio (what uvicorn serves on) sets ``TCP_NODELAY`` on an accepted connection only when the
listening socket's protocol is ``IPPROTO_TCP``; a socket made with protocol 0 left Nagle's
algorithm on, and every small response waited for the client's delayed ACK (about 40 ms).
"""

from __future__ import annotations

import asyncio
import socket

from asgi_core._addresses import bind_sockets


def test_bound_tcp_socket_says_tcp_protocol() -> None:
    (sock,) = bind_sockets(["127.0.0.1:0"])
    with sock:
        assert sock.proto == socket.IPPROTO_TCP


def test_accepted_connections_on_bound_socket_have_nodelay() -> None:
    (listener,) = bind_sockets(["127.0.0.1:0"])
    seen: list[int] = []

    async def main() -> None:
        accepted = asyncio.Event()

        def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted_sock = writer.get_extra_info("socket")
            seen.append(accepted_sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()
            accepted.set()

        server = await asyncio.start_server(handle, sock=listener)
        async with server:
            host, port = listener.getsockname()[:2]
            _, writer = await asyncio.open_connection(host, port)
            await asyncio.wait_for(accepted.wait(), 10)
            writer.close()

    asyncio.run(main())
    assert seen and seen[0] != 0
