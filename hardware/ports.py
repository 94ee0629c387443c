"""Free loopback ports for simulators, tests and benchmarks."""

from __future__ import annotations

import asyncio
import socket
import ssl
from abc import ABC, abstractmethod
from typing import Self

from aiohttp import web


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


async def serve_on_free_port(
    app: web.Application,
    host: str = "127.0.0.1",
    *,
    ssl_context: ssl.SSLContext | None = None,
    shutdown_timeout: float = 0.5,
) -> tuple[web.AppRunner, int]:
    """Run ``app`` on a port the kernel picks on ``host``; return its runner and port.

    The port is read from the listening socket itself, so there is no window
    in which another process could take it.
    """
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, ssl_context=ssl_context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    server = site._server
    assert isinstance(server, asyncio.Server) and server.sockets
    return runner, int(server.sockets[0].getsockname()[1])


class ServedApps(ABC):
    """Lifecycle shared by simulators that serve a device-facing app and a control app.

    A subclass implements :meth:`start` with :meth:`_serve`; stopping and the
    ``async with`` protocol come from here.
    """

    host: str

    def __init__(self, host: str) -> None:
        self.host = host
        self._runners: list[web.AppRunner] = []

    async def _serve(self, app: web.Application, ssl_context: ssl.SSLContext | None = None) -> int:
        runner, port = await serve_on_free_port(app, self.host, ssl_context=ssl_context)
        self._runners.append(runner)
        return port

    @abstractmethod
    async def start(self) -> None:
        """Serve the simulator's apps with :meth:`_serve`."""

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
