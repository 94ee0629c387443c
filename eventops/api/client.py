"""One client of the engine API, used by the TUI, the CLI's ``--server`` paths and
the probe's remote path.

:class:`EngineClient` has one typed method per route of
:mod:`eventops.api.routes` (same name as the route) returning the response
models of :mod:`eventops.api.models`. The HTTP work goes through a
:class:`Transport`, as in httpx: :class:`AiohttpTransport` by default,
:class:`MemoryTransport` (a handler function, no sockets) in tests.

Errors: an error answer becomes the domain class of :mod:`eventops.errors`
named by the body's ``code`` (or, for an older engine answering plain text,
by the HTTP status); each is also an :class:`~eventops.errors.ApiError` with
the ``status``, so ``except NotFound`` and ``except ApiError`` both work.
A connection that fails becomes :class:`EngineUnreachable`, worded for a
person ("cannot reach the engine at …: connection refused").

:meth:`EngineClient.stream` follows ``/api/v1/stream`` with the SSE decoder of
:mod:`eventops.api.sse`, reconnecting with ``Last-Event-ID`` after a drop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence

from eventops.api.client_base import (
    _A,
    B,
    EngineClientBase,
    _make,
    _make_kw,
    _q,
    _query,
)
from eventops.api.client_errors import (
    _BY_CODE,
    _BY_STATUS,
    PLAIN_TEXT,
    EngineUnreachable,
    RemoteConfirmationNeeded,
    RemoteConflict,
    RemoteForbidden,
    RemoteInvalidRequest,
    RemoteNotAuthenticated,
    RemoteNotFound,
    RemoteRefused,
    RemoteUnavailable,
    _error_of,
    _one_line,
    error_from_response,
)
from eventops.api.client_monitor import MonitorCalls
from eventops.api.client_ops import OpsCalls
from eventops.api.client_transport import (
    AiohttpTransport,
    Handler,
    HttpRequest,
    HttpResponse,
    MemoryResponse,
    MemoryTransport,
    StreamMessage,
    StreamResync,
    Transport,
    _AiohttpResponse,
    _human,
    _reason,
    _why,
    parse_stream_id,
)
from eventops.api.client_wall import WallCalls
from eventops.api.sse import SSEDecoder
from eventops.errors import (
    ApiError,
    Forbidden,
    NotAuthenticated,
)

__all__ = [
    "PLAIN_TEXT",
    "_A",
    "_BY_CODE",
    "_BY_STATUS",
    "AiohttpTransport",
    "B",
    "EngineClient",
    "EngineClientBase",
    "EngineUnreachable",
    "Handler",
    "HttpRequest",
    "HttpResponse",
    "MemoryResponse",
    "MemoryTransport",
    "MonitorCalls",
    "OpsCalls",
    "RemoteConfirmationNeeded",
    "RemoteConflict",
    "RemoteForbidden",
    "RemoteInvalidRequest",
    "RemoteNotAuthenticated",
    "RemoteNotFound",
    "RemoteRefused",
    "RemoteUnavailable",
    "StreamMessage",
    "StreamResync",
    "Transport",
    "WallCalls",
    "_AiohttpResponse",
    "_error_of",
    "_human",
    "_make",
    "_make_kw",
    "_one_line",
    "_q",
    "_query",
    "_reason",
    "_why",
    "error_from_response",
    "parse_stream_id",
]


class EngineClient(MonitorCalls, OpsCalls, WallCalls):
    """The engine API with one bearer token."""

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def alive(self, timeout_s: float = 3.0, *, attempts: int = 2) -> bool:
        """Whether the engine answers ``GET /healthz`` within ``timeout_s`` (no token needed).

        What a client asks after losing its stream or a request mid-way, to tell a
        person "engine unreachable" from "engine alive" instead of guessing. A
        second attempt covers a pooled connection that died with the stream."""
        req = HttpRequest("GET", "/healthz", {"Accept": "text/plain"}, timeout_s=timeout_s)
        for _ in range(max(1, attempts)):
            try:
                resp = await self.transport.send(req)
                try:
                    await resp.read()
                finally:
                    await resp.close()
            except ApiError:
                continue
            return resp.status == 200
        return False

    # -- the live stream ------------------------------------------------------------------
    async def stream_once(
        self,
        last_event_id: str | None = None,
        *,
        idle_timeout_s: float | None = 60.0,
        on_open: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncGenerator[StreamMessage, None]:
        """One connection to the live stream: its events until the server ends it.

        Raises the mapped error for a refused connection, :class:`EngineUnreachable`
        for a failed or dropped one, :class:`StreamResync` when the server dropped
        this client for falling behind (reconnect without ``Last-Event-ID``).
        Events whose id or JSON cannot be read are skipped. ``on_open`` is awaited
        once the server has accepted the connection (before any event).
        """
        headers = dict(self.headers, Accept="text/event-stream")
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        req = HttpRequest(
            "GET", "/api/v1/stream", headers, timeout_s=None, read_timeout_s=idle_timeout_s
        )
        resp = await self.transport.send(req)
        try:
            if resp.status >= 400:
                raise error_from_response(resp.status, await resp.read(), "GET /api/v1/stream")
            if on_open is not None:
                await on_open()
            decoder = SSEDecoder()
            async for chunk in resp.chunks():
                for ev in decoder.feed(chunk):
                    if ev.event == "resync":
                        raise StreamResync("the live stream fell behind; resynchronising")
                    event_id = parse_stream_id(ev.id)
                    try:
                        payload = json.loads(ev.data) if ev.data else {}
                    except ValueError:
                        continue
                    if event_id is not None and isinstance(payload, dict):
                        yield StreamMessage(
                            id=event_id, type=ev.event, data=payload, stream_id=ev.id
                        )
        finally:
            await resp.close()

    async def stream(
        self,
        *,
        last_event_id: str | None = None,
        backoff_s: Sequence[float] = (0.5, 1.0, 2.0, 5.0),
        idle_timeout_s: float | None = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> AsyncIterator[StreamMessage]:
        """The live stream for ever: reconnects after a drop with ``Last-Event-ID`` (the
        server sends the gap, or a fresh snapshot when the gap is gone), backing off
        while it fails. A refused token (401/403) ends it with the error."""
        last = last_event_id
        attempt = 0
        while True:
            try:
                async for msg in self.stream_once(last, idle_timeout_s=idle_timeout_s):
                    attempt = 0
                    last = msg.stream_id
                    yield msg
            except StreamResync:
                last = None
                attempt = 0
            except (NotAuthenticated, Forbidden):
                raise
            except ApiError:
                pass
            await sleep(backoff_s[min(attempt, len(backoff_s) - 1)])
            attempt += 1
