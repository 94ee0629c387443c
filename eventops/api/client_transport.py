"""The engine client's transports (aiohttp, in-memory) and the live stream's message."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
from pydantic import BaseModel

from eventops.api import models as m
from eventops.api.client_errors import EngineUnreachable
from eventops.errors import ApiError

# -- transports -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    """Path and query, e.g. ``/api/v1/alerts?all=1``."""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    timeout_s: float | None = 10.0
    """The whole exchange; None: no limit (probe runs, the live stream)."""
    read_timeout_s: float | None = None
    """Longest silence between two reads (the live stream's idle limit)."""


class HttpResponse(Protocol):
    status: int
    headers: Mapping[str, str]

    async def read(self) -> bytes: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


class Transport(Protocol):
    """Sends one request to the engine. Failures to reach it raise :class:`EngineUnreachable`."""

    base_url: str

    async def send(self, request: HttpRequest) -> HttpResponse: ...

    async def close(self) -> None: ...


def _why(err: OSError | None) -> str:
    if isinstance(err, socket.gaierror):
        return "host name not known"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    if err is not None and err.errno:
        return os.strerror(err.errno).lower()
    return "no connection"


def _human(base_url: str, exc: BaseException) -> EngineUnreachable:
    before = isinstance(
        exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError | aiohttp.InvalidURL
    )
    return EngineUnreachable(base_url, _reason(exc), connected=not before)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "no answer in time"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return "its TLS certificate is not trusted"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _why(exc.os_error)
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return "the engine closed the connection"
    if isinstance(exc, ssl.SSLError | aiohttp.ClientSSLError):
        return "the TLS handshake failed"
    if isinstance(exc, aiohttp.InvalidURL):
        return "not a URL the client can reach"
    if isinstance(exc, OSError):
        return _why(exc)
    return "the connection failed"


class _AiohttpResponse:
    def __init__(self, resp: aiohttp.ClientResponse, base_url: str) -> None:
        self._resp = resp
        self._base = base_url
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _human(self._base, exc) from None
        finally:
            self._resp.release()

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _human(self._base, exc) from None

    async def close(self) -> None:
        self._resp.release()


class AiohttpTransport:
    """The default transport: one aiohttp session (made on first use unless given)."""

    def __init__(
        self,
        base_url: str,
        *,
        session: aiohttp.ClientSession | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session
        self._own = session is None
        self._ssl = ssl_context

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def send(self, request: HttpRequest) -> HttpResponse:
        timeout = aiohttp.ClientTimeout(
            total=request.timeout_s,
            sock_connect=min(request.timeout_s or 10.0, 10.0),
            sock_read=request.read_timeout_s,
        )
        try:
            resp = await self.session.request(
                request.method,
                self.base_url + request.path,
                headers=dict(request.headers),
                data=request.body,
                timeout=timeout,
                ssl=self._ssl if self._ssl is not None else True,
            )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _human(self.base_url, exc) from None
        return _AiohttpResponse(resp, self.base_url)

    async def close(self) -> None:
        if self._own and self._session is not None:
            await self._session.close()
            self._session = None


@dataclass
class MemoryResponse:
    """An answer of :class:`MemoryTransport`: a body, or chunks (an SSE stream)."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: AsyncIterator[bytes] | None = None

    async def read(self) -> bytes:
        if self.stream is None:
            return self.body
        return b"".join([c async for c in self.stream])

    async def chunks(self) -> AsyncIterator[bytes]:
        if self.body:
            yield self.body
        if self.stream is not None:
            async for c in self.stream:
                yield c

    async def close(self) -> None:
        if self.stream is not None and hasattr(self.stream, "aclose"):
            await self.stream.aclose()


Handler = Callable[[HttpRequest], Awaitable[MemoryResponse]]


class MemoryTransport:
    """No sockets: ``handler`` answers every request (tests, in-process tools)."""

    def __init__(self, handler: Handler, base_url: str = "memory://engine") -> None:
        self.handler = handler
        self.base_url = base_url
        self.requests: list[HttpRequest] = []

    async def send(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        return await self.handler(request)

    async def close(self) -> None:
        return None


# -- the live stream ------------------------------------------------------------------------


class StreamMessage(BaseModel):
    """One event of the live stream (``type`` is the SSE event name, ``data`` its JSON).

    ``id`` is the engine's event number; ``stream_id`` the id as sent
    (``<epoch>-<n>``), which is what a reconnect sends back as ``Last-Event-ID``."""

    id: int
    type: str
    data: dict[str, Any]
    stream_id: str = ""

    def snapshot(self) -> m.SnapshotView:
        """The ``snapshot`` event's state."""
        return m.SnapshotView.model_validate(self.data)

    def event(self) -> m.StreamEventView:
        """Any other event's envelope (``id, ts, type, subject, scope, data``)."""
        return m.StreamEventView.model_validate(self.data)


def parse_stream_id(raw: str) -> int | None:
    """The event number of a wire id (``<epoch>-<n>``, or a plain number from an older
    engine); None when it is neither."""
    n = raw.rpartition("-")[2]
    if not (n.isascii() and n.isdigit()) or len(n) > 19:
        return None
    return int(n)


class StreamResync(ApiError):
    """The server dropped a client that fell behind: reconnect for a fresh snapshot."""
