"""Listening TCP sockets for the API: Nagle's algorithm off, optionally shared (SO_REUSEPORT).

The socket names IPPROTO_TCP and sets TCP_NODELAY: asyncio turns Nagle off only on sockets
that say they are TCP, and a response written as headers then body would otherwise wait for
the client's delayed ACK (about 40 ms per request; uvicorn's own `bind_socket` leaves the
protocol unnamed).
"""

from __future__ import annotations

import socket

__all__ = ["tcp_listener"]


def tcp_listener(host: str, port: int, *, reuse_port: bool = False,
                 listen: bool = True) -> socket.socket:  # fmt: skip
    """A TCP socket bound to host:port (listening unless told otherwise); `reuse_port` lets
    several processes' sockets share the address (the kernel spreads connections)."""
    if reuse_port and not hasattr(socket, "SO_REUSEPORT"):
        raise OSError("SO_REUSEPORT is not available on this platform")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock
