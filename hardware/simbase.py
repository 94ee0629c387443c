"""What every device simulator shares: a loopback listener and transport faults.

A :class:`SimDevice` owns one low-level aiohttp server (no router, no
per-app machinery, so a fleet of hundreds stays cheap) on exactly the host
and port it was given, plain HTTP or HTTPS with a :class:`SimIdentity`.
Subclasses implement :meth:`SimDevice.handle` for the device's own protocol.

Transport faults live here, driven from the control API or a test's handle:

- ``set_unreachable(True)``: the listener and every open connection close
  (connection refused) until ``set_unreachable(False)``;
- ``slow_s``: every answer is delayed by that many (real) seconds;
- ``lag_s``: every answer is delayed by that many seconds on the device
  clock (simulated time: with a test's fake clock, the delay ends when the
  test moves the clock; ``lagging`` counts the answers held back now);
- ``malformed``: answers are cut off mid-JSON;
- ``http_500``: answers are ``500 Internal Server Error``;
- a reboot window (``down_until``, on the device clock): connections are
  dropped without an answer;
- ``freeze()``: requests are accepted but never answered (the device lost
  its management path, e.g. through a change it just committed) until
  ``clear_faults()``; a device whose writes are plain HTTP verbs sets
  ``freeze_after_write`` to freeze right after answering the next write.

A client that hangs up before its answer (it gave up on a slow request) is
counted in ``hangups``; it is not an error of the simulator and logs nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web
from aiohttp.web_request import BaseRequest

from eventops.clock import Clock

from .tls import SimIdentity


class SimPortInUse(OSError):
    """The address a simulator should listen on is taken."""


class SimDevice:
    kind = "device"

    def __init__(
        self,
        device_id: str,
        *,
        clock: Clock,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: SimIdentity | None = None,
    ) -> None:
        self.device_id = device_id
        self.clock = clock
        self.host = host
        self.port = port
        self.tls = tls
        self.slow_s = 0.0
        self.lag_s = 0.0
        self.lagging = 0
        """Answers held back by ``lag_s`` right now."""
        self.malformed = False
        self.http_500 = False
        self.unreachable = False
        self.down_until = float("-inf")
        self.freeze_after_write = False
        self._thawed = asyncio.Event()
        self._thawed.set()
        self.requests = 0
        self.hangups = 0
        """Requests whose client disconnected before the answer."""
        self._server: web.Server | None = None
        self._listener: asyncio.base_events.Server | None = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._listener is not None

    async def start(self) -> None:
        if self._listener is not None:
            return
        self._server = web.Server(self._dispatch, access_log=None)
        loop = asyncio.get_running_loop()
        ssl_ctx = self.tls.server_context() if self.tls else None
        try:
            self._listener = await loop.create_server(
                self._server, self.host, self.port, ssl=ssl_ctx, reuse_address=True
            )
        except OSError as exc:
            self._server = None
            raise SimPortInUse(
                exc.errno,
                f"{self.device_id}: cannot listen on {self.host}:{self.port} ({exc.strerror})",
            ) from None
        sock = self._listener.sockets[0]
        self.port = int(sock.getsockname()[1])

    async def stop(self) -> None:
        listener, server = self._listener, self._server
        self._listener = None
        self._server = None
        if listener is not None:
            listener.close()
        if server is not None:
            await server.shutdown(0.1)
        if listener is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(listener.wait_closed(), 1.0)

    async def set_unreachable(self, on: bool) -> None:
        """Close the listener (connection refused) or open it again on the same port."""
        self.unreachable = on
        if on:
            await self.stop()
        else:
            await self.start()

    def clear_faults(self) -> None:
        self.slow_s = 0.0
        self.lag_s = 0.0
        self.malformed = False
        self.http_500 = False
        self.freeze_after_write = False
        self._thawed.set()

    def freeze(self) -> None:
        """Accept requests and never answer them (until :meth:`clear_faults`)."""
        self._thawed.clear()

    @property
    def frozen(self) -> bool:
        return not self._thawed.is_set()

    def wrote(self) -> None:
        """Called by a device after it answered a write: ``freeze_after_write`` takes effect."""
        if self.freeze_after_write:
            self.freeze_after_write = False
            self.freeze()

    # -- requests ----------------------------------------------------------

    @property
    def booting(self) -> bool:
        return self.clock.monotonic() < self.down_until

    async def _dispatch(self, request: BaseRequest) -> web.StreamResponse:
        self.requests += 1
        if self.slow_s > 0:
            await asyncio.sleep(self.slow_s)
        if self.lag_s > 0:
            self.lagging += 1
            try:
                await self.clock.sleep(self.lag_s)
            finally:
                self.lagging -= 1
        await self._thawed.wait()
        if self.booting:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=503)
        if self.http_500:
            return web.Response(
                status=500, text="<h1>500 Internal Server Error</h1>", content_type="text/html"
            )
        try:
            resp = await self.handle(request)
        except ConnectionResetError:
            # the client hung up (e.g. gave up on a slow answer): nothing to answer,
            # and nothing to log as an error
            self.hangups += 1
            return web.Response(status=400)
        if request.transport is None or request.transport.is_closing():
            self.hangups += 1
            return web.Response(status=400)
        if self.malformed and isinstance(resp, web.Response) and resp.body:
            body = resp.body if isinstance(resp.body, bytes) else b"{}"
            cut = web.Response(
                status=resp.status,
                body=body[: max(1, len(body) // 2)],
                content_type=resp.content_type,
            )
            return cut
        return resp

    async def handle(self, request: BaseRequest) -> web.StreamResponse:
        raise NotImplementedError

    # -- for the control API -----------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.device_id,
            "kind": self.kind,
            "url": self.url,
            "running": self.running,
            "faults": {
                "unreachable": self.unreachable,
                "slow_s": self.slow_s,
                "lag_s": self.lag_s,
                "malformed": self.malformed,
                "http_500": self.http_500,
                "booting": self.booting,
                "frozen": self.frozen,
            },
        }
