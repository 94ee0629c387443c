"""Free loopback ports for simulators, tests and benchmarks."""

from __future__ import annotations

import socket


def free_ports(n: int, host: str = "127.0.0.1") -> list[int]:
    """``n`` distinct ports the kernel just handed out on ``host``.

    They are closed again before returning, so another process could take one
    in between; acceptable for tests and benchmarks, which bind them at once.
    """
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()
