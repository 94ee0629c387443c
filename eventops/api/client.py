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
import os
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, urlencode

import aiohttp
from pydantic import BaseModel, TypeAdapter, ValidationError

from eventops.api import models as m
from eventops.api.sse import SSEDecoder
from eventops.errors import (
    ApiError,
    ConfirmationNeeded,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    RequestError,
    Unavailable,
)

T = TypeVar("T")

__all__ = [
    "AiohttpTransport",
    "EngineClient",
    "EngineUnreachable",
    "HttpRequest",
    "HttpResponse",
    "MemoryResponse",
    "MemoryTransport",
    "StreamMessage",
    "Transport",
]


# -- errors as the client raises them -------------------------------------------------------


class EngineUnreachable(ApiError):
    """No answer from the engine: refused, unresolvable, timed out, dropped, TLS failed."""

    title = "Engine unreachable"

    def __init__(self, base_url: str, reason: str) -> None:
        self.base_url = base_url
        self.reason = reason
        super().__init__(f"cannot reach the engine at {base_url}: {reason}")


class RemoteInvalidRequest(InvalidRequest, ApiError):
    pass


class RemoteNotAuthenticated(NotAuthenticated, ApiError):
    pass


class RemoteForbidden(Forbidden, ApiError):
    pass


class RemoteNotFound(NotFound, ApiError):
    pass


class RemoteConflict(Conflict, ApiError):
    pass


class RemoteConfirmationNeeded(ConfirmationNeeded, ApiError):
    """``confirm``: what to type; ``reasons``; ``dangerous``: provisioning's changes."""

    dangerous: list[m.DangerView]


class RemoteUnavailable(Unavailable, ApiError):
    pass


class RemoteRefused(RequestError, ApiError):
    """An error code this client does not know (a newer engine)."""


_BY_CODE: dict[str, type[RequestError]] = {
    InvalidRequest.code: RemoteInvalidRequest,
    NotAuthenticated.code: RemoteNotAuthenticated,
    Forbidden.code: RemoteForbidden,
    NotFound.code: RemoteNotFound,
    Conflict.code: RemoteConflict,
    ConfirmationNeeded.code: RemoteConfirmationNeeded,
    Unavailable.code: RemoteUnavailable,
}
_BY_STATUS: dict[int, type[RequestError]] = {
    400: RemoteInvalidRequest,
    401: RemoteNotAuthenticated,
    403: RemoteForbidden,
    404: RemoteNotFound,
    409: RemoteConflict,
    503: RemoteUnavailable,
}


PLAIN_TEXT = "plain_text"
"""Attribute set on a mapped error: True when the engine answered plain text (an
engine older than the error body), so a client may add method, path and status."""


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return "".join(ch for ch in line if ch.isprintable())[:limit]


def error_from_response(status: int, body: bytes, what: str) -> ApiError:
    """The exception for an error answer (``what``: "GET /api/v1/x", for the message)."""
    detail: m.ErrorDetail | None = None
    legacy: dict[str, Any] | None = None
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raw = None
    if isinstance(raw, dict):
        try:
            detail = m.ErrorBody.model_validate(raw).error
        except ValidationError:
            if isinstance(raw.get("error"), str):
                legacy = raw  # provisioning's older {"error": "...", "dangerous", "confirm"}
    if detail is None:
        if legacy is not None:
            message = _one_line(str(legacy["error"]))
            code = "confirmation_needed" if status == 409 and legacy.get("confirm") else ""
            try:
                danger = [m.DangerView.model_validate(d) for d in legacy.get("dangerous") or []]
            except ValidationError:
                danger = []
            detail = m.ErrorDetail(
                code=code or "refused",
                message=message,
                confirm=str(legacy.get("confirm") or "") or None,
                dangerous=danger or None,
            )
        else:
            text = body.decode("utf-8", "replace").strip()
            first = _one_line(text.splitlines()[0]) if text else ""
            detail = m.ErrorDetail(code="", message=first or f"HTTP {status}")
    message = detail.message or f"HTTP {status}"
    exc = _error_of(status, detail, message, what)
    setattr(exc, PLAIN_TEXT, detail.code == "")
    return exc


def _error_of(status: int, detail: m.ErrorDetail, message: str, what: str) -> ApiError:
    cls = _BY_CODE.get(detail.code) or _BY_STATUS.get(status)
    if cls is RemoteConfirmationNeeded or (detail.code == "" and status == 409 and detail.confirm):
        exc = RemoteConfirmationNeeded(
            message, confirm=detail.confirm or "", reasons=detail.reasons or ()
        )
        exc.dangerous = list(detail.dangerous or [])
        exc.status = status
        return exc
    if cls is None:
        if 400 <= status < 500:
            out: ApiError = RemoteRefused(message)
            out.status = status
            return out
        return ApiError(f"{what}: {status} {message}", status=status)
    err = cls(message)
    assert isinstance(err, ApiError)
    err.status = status
    return err


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
    return EngineUnreachable(base_url, _reason(exc))


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


# -- the client -----------------------------------------------------------------------------


B = TypeVar("B", bound=BaseModel)


def _make(model: type[B], data: dict[str, Any]) -> B:
    """A request body, or :class:`InvalidRequest` naming the field (nothing is sent)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"]) or "body"
        raise InvalidRequest(f"{where}: {e['msg']}") from None


def _make_kw(model: type[B], **data: Any) -> B:
    return _make(model, data)


def _q(value: str) -> str:
    return quote(value, safe="")


def _query(**params: str | int | None) -> str:
    kept = {k: str(v) for k, v in params.items() if v is not None and v != ""}
    return "?" + urlencode(kept) if kept else ""


class EngineClient:
    """The engine API with one bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: Transport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.transport: Transport = transport or AiohttpTransport(self.base_url)
        self.timeout_s = timeout_s

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> EngineClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}

    # -- plumbing -----------------------------------------------------------------------
    async def call(
        self,
        method: str,
        path: str,
        body: BaseModel | None = None,
        *,
        timeout_s: float | None = -1.0,
    ) -> bytes:
        """One request; the raw body of a 2xx answer, else the mapped error."""
        headers = self.headers
        data = None
        if body is not None:
            data = body.model_dump_json(exclude_unset=True, exclude_none=True).encode()
            headers["Content-Type"] = "application/json"
        req = HttpRequest(
            method,
            path,
            headers,
            data,
            timeout_s=self.timeout_s if timeout_s == -1.0 else timeout_s,
        )
        resp = await self.transport.send(req)
        raw = await resp.read()
        if resp.status >= 400:
            raise error_from_response(resp.status, raw, f"{method} {path.split('?')[0]}")
        return raw

    async def _json(
        self,
        adapter: TypeAdapter[T],
        method: str,
        path: str,
        body: BaseModel | None = None,
        *,
        timeout_s: float | None = -1.0,
    ) -> T:
        raw = await self.call(method, path, body, timeout_s=timeout_s)
        try:
            return adapter.validate_json(raw)
        except ValidationError as exc:
            e = exc.errors()[0]
            where = ".".join(str(p) for p in e["loc"]) or "body"
            raise ApiError(
                f"{method} {path.split('?')[0]}: unexpected answer from the engine "
                f"({where}: {e['msg']})"
            ) from None

    # -- who, status -----------------------------------------------------------------------
    async def whoami(self) -> m.WhoAmIView:
        return await self._json(_A.whoami, "GET", "/api/v1/whoami")

    async def status(self) -> m.StatusView:
        return await self._json(_A.status, "GET", "/api/v1/status")

    async def openapi(self) -> dict[str, Any]:
        return await self._json(_A.anydict, "GET", "/api/v1/openapi.json")

    # -- devices ------------------------------------------------------------------------
    async def devices(self) -> list[m.DeviceView]:
        return await self._json(_A.devices, "GET", "/api/v1/devices")

    async def device(self, device_id: str) -> m.DeviceDetailView:
        return await self._json(_A.device, "GET", f"/api/v1/devices/{_q(device_id)}")

    async def maintenance(self, device_id: str, on: bool, note: str = "") -> m.MaintenanceResult:
        body = _make_kw(m.MaintenanceBody, on=on, note=note)
        path = f"/api/v1/devices/{_q(device_id)}/maintenance"
        return await self._json(_A.maintenance, "POST", path, body)

    async def reboot(self, device_id: str) -> m.RebootResult:
        return await self._json(_A.reboot, "POST", f"/api/v1/devices/{_q(device_id)}/reboot")

    # -- links --------------------------------------------------------------------------
    async def links(self) -> list[m.LinkView]:
        return await self._json(_A.links, "GET", "/api/v1/links")

    async def link(self, link_id: str) -> m.LinkView:
        return await self._json(_A.link, "GET", f"/api/v1/links/{_q(link_id)}")

    async def handover(self, link_id: str, to: str) -> m.HandoverView:
        path = f"/api/v1/links/{_q(link_id)}/handover"
        return await self._json(_A.handover, "POST", path, _make_kw(m.HandoverBody, to=to))

    async def handovers(self) -> list[m.HandoverView]:
        return await self._json(_A.handovers, "GET", "/api/v1/handovers")

    async def handover_report(self, handover_id: int) -> str:
        """The printable report (HTML)."""
        raw = await self.call("GET", f"/api/v1/handovers/{int(handover_id)}/report")
        return raw.decode("utf-8", "replace")

    # -- alerts -------------------------------------------------------------------------
    async def alerts(self, *, include_closed: bool = False) -> list[m.AlertView]:
        return await self._json(
            _A.alerts, "GET", "/api/v1/alerts" + ("?all=1" if include_closed else "")
        )

    async def ack(self, alert_id: int, note: str = "") -> m.AlertView:
        path = f"/api/v1/alerts/{int(alert_id)}/ack"
        return await self._json(_A.alert, "POST", path, _make_kw(m.AckBody, note=note))

    async def silences(self) -> list[m.SilenceView]:
        return await self._json(_A.silences, "GET", "/api/v1/silences")

    async def silence(
        self, matchers: dict[str, str], duration_s: float, note: str = ""
    ) -> m.SilenceView:
        body = _make_kw(m.SilenceBody, matchers=matchers, duration_s=float(duration_s), note=note)
        return await self._json(_A.silence, "POST", "/api/v1/silences", body)

    async def unsilence(self, silence_id: int) -> m.SilenceRemoved:
        path = f"/api/v1/silences/{int(silence_id)}"
        return await self._json(_A.unsilence, "DELETE", path)

    # -- history, timeline, reload --------------------------------------------------------
    async def history(
        self,
        device_id: str,
        metric: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> m.HistoryView:
        q = _query(
            device=device_id,
            metric=metric,
            since=since.isoformat() if since else None,
            until=until.isoformat() if until else None,
        )
        return await self._json(_A.history, "GET", "/api/v1/history" + q)

    async def timeline(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[m.TimelineEntryView]:
        q = _query(
            since=since.isoformat() if since else None,
            until=until.isoformat() if until else None,
        )
        return await self._json(_A.timeline, "GET", "/api/v1/timeline" + q)

    async def reload(self) -> m.ReloadResult:
        return await self._json(_A.reload, "POST", "/api/v1/reload")

    # -- probes (a run holds its request until it is done) --------------------------------
    async def probe_stamp(
        self,
        link: str | None = None,
        count: int = 100,
        interval: float = 0.01,
        *,
        target: str | None = None,
        wait: float = 1.0,
    ) -> m.ProbeResultView:
        body = m.StampBody(
            link=link, target=target, count=count, interval=float(interval), wait=float(wait)
        )
        return await self._json(
            _A.probe, "POST", "/api/v1/probe/stamp", body, timeout_s=count * interval + wait + 60.0
        )

    async def probe_throughput(
        self,
        link: str,
        rate: str | float,
        duration: float = 5.0,
        *,
        size: int | None = None,
        layer: str | None = None,
        batched: bool | None = None,
    ) -> m.ProbeResultView:
        extra: dict[str, Any] = {
            k: v
            for k, v in (("size", size), ("layer", layer), ("batched", batched))
            if v is not None
        }
        body = _make(
            m.ThroughputBody, {"link": link, "rate": rate, "duration": float(duration), **extra}
        )
        return await self._json(
            _A.probe, "POST", "/api/v1/probe/throughput", body, timeout_s=duration + 65.0
        )

    async def probe_accept(
        self, link: str, step_time: float = 5.0, hold: float = 60.0, **options: Any
    ) -> m.ProbeResultView:
        """An acceptance run; ``options``: the other fields of :class:`~eventops.api.models.AcceptBody`."""
        body = _make(
            m.AcceptBody,
            {"link": link, "step_time": float(step_time), "hold": float(hold), **options},
        )
        return await self.probe_accept_body(body)

    async def probe_accept_body(self, body: m.AcceptBody) -> m.ProbeResultView:
        n = len(body.steps) + (8 if body.search else 0)
        expect = n * body.step_time + body.hold + (8 * body.search_time if body.search else 0)
        return await self._json(
            _A.probe, "POST", "/api/v1/probe/accept", body, timeout_s=expect + 70.0
        )

    async def probe_results(
        self, link: str | None = None, *, kind: str | None = None, limit: int | None = None
    ) -> list[m.ProbeResultView]:
        q = _query(link=link, kind=kind, limit=limit)
        return await self._json(_A.probes, "GET", "/api/v1/probe/results" + q)

    async def probes_running(self) -> list[m.RunningProbeView]:
        return await self._json(_A.probes_running, "GET", "/api/v1/probe/running")

    # -- provisioning ---------------------------------------------------------------------
    async def provision_plan(self, devices: Sequence[str] | None = None) -> m.PlanView:
        body = _make_kw(m.PlanBody, devices=list(devices) if devices is not None else None)
        return await self._json(_A.plan, "POST", "/api/v1/provision/plan", body, timeout_s=None)

    async def provision_apply(
        self, devices: Sequence[str] | None = None, *, confirm: str | None = None
    ) -> m.ApplyStarted:
        body = _make_kw(
            m.ApplyBody, devices=list(devices) if devices is not None else None, confirm=confirm
        )
        return await self._json(_A.apply_started, "POST", "/api/v1/provision/apply", body)

    async def provision_rollback(
        self, apply_id: int, *, confirm: str | None = None
    ) -> m.RollbackStarted:
        body = _make_kw(m.RollbackBody, apply_id=apply_id, confirm=confirm)
        return await self._json(_A.rollback_started, "POST", "/api/v1/provision/rollback", body)

    async def provision_applies(self, limit: int = 50) -> list[m.ApplyRecordView]:
        path = "/api/v1/provision/applies" + _query(limit=limit)
        return await self._json(_A.applies, "GET", path)

    async def provision_apply_detail(self, apply_id: int) -> m.ApplyDetailView:
        path = f"/api/v1/provision/applies/{int(apply_id)}"
        return await self._json(_A.apply_detail, "GET", path)

    async def provision_running(self) -> m.RunningApplyView | None:
        return await self._json(_A.running_apply, "GET", "/api/v1/provision/running")

    # -- the wall -------------------------------------------------------------------------
    async def wall_queue(
        self,
        state: str = "pending",
        limit: int = 200,
        *,
        source: str | None = None,
        author: str | None = None,
        contains: str | None = None,
    ) -> list[m.QueuedPostView]:
        q = _query(state=state, limit=limit, source=source, author=author, q=contains)
        return await self._json(_A.queue, "GET", "/api/v1/wall/queue" + q)

    async def wall_post(self, post_id: str) -> m.PostDetailView:
        return await self._json(_A.post, "GET", f"/api/v1/wall/posts/{_q(post_id)}")

    async def wall_decide(
        self,
        post_id: str,
        action: str,
        reason: str = "",
        *,
        for_s: float | None = None,
        expect: int | None = None,
    ) -> m.DecisionResult:
        body = _make(
            m.DecisionBody,
            {"action": action, "reason": reason, "for_s": for_s, "expect": expect},
        )
        path = f"/api/v1/wall/posts/{_q(post_id)}/decisions"
        return await self._json(_A.decision, "POST", path, body)

    async def wall_undo(self, decision_id: int, reason: str = "") -> m.UndoResult:
        path = f"/api/v1/wall/decisions/{int(decision_id)}/undo"
        return await self._json(_A.undo, "POST", path, _make_kw(m.UndoBody, reason=reason))

    async def wall_decisions(self, post_id: str | None = None) -> list[m.DecisionView]:
        return await self._json(
            _A.decisions, "GET", "/api/v1/wall/decisions" + _query(post=post_id)
        )

    async def wall_lists(self) -> m.WallListsView:
        return await self._json(_A.lists, "GET", "/api/v1/wall/lists")

    async def wall_block(
        self, author: str, reason: str = "", *, for_s: float | None = None
    ) -> m.BlockResult:
        body = _make_kw(m.BlockBody, author=author, reason=reason, for_s=for_s)
        return await self._json(_A.block, "POST", "/api/v1/wall/blocks", body)

    async def wall_unblock(self, author: str, reason: str = "") -> m.UnblockResult:
        path = f"/api/v1/wall/blocks/{_q(author)}" + _query(reason=reason)
        return await self._json(_A.unblock, "DELETE", path)

    async def wall_counters(self) -> m.CountersView:
        return await self._json(_A.counters, "GET", "/api/v1/wall/counters")

    async def wall_announcements(self) -> m.AnnouncementsView:
        return await self._json(_A.announcements, "GET", "/api/v1/wall/announcements")

    async def wall_issue(self, announcement_id: str) -> m.ActiveAnnouncementView:
        body = _make_kw(m.IssueBody, id=announcement_id)
        return await self._json(_A.active, "POST", "/api/v1/wall/announcements", body)

    async def wall_withdraw(self) -> m.WithdrawResult:
        return await self._json(_A.withdraw, "DELETE", "/api/v1/wall/announcements/active")

    async def wall_pause(self, on: bool, note: str = "") -> m.PauseResult:
        return await self._json(
            _A.pause, "POST", "/api/v1/wall/pause", _make_kw(m.PauseBody, on=on, note=note)
        )

    async def wall_forget(self, author: str, reason: str = "") -> m.ForgetResult:
        body = _make_kw(m.ForgetBody, author=author, reason=reason)
        return await self._json(_A.forget, "POST", "/api/v1/wall/forget", body)

    # -- the live stream ------------------------------------------------------------------
    async def stream_once(
        self,
        last_event_id: str | None = None,
        *,
        idle_timeout_s: float | None = 60.0,
        on_open: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncIterator[StreamMessage]:
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


class _A:
    """Type adapters of the answers, built once."""

    anydict = TypeAdapter(dict[str, Any])
    whoami = TypeAdapter(m.WhoAmIView)
    status = TypeAdapter(m.StatusView)
    devices = TypeAdapter(list[m.DeviceView])
    device = TypeAdapter(m.DeviceDetailView)
    maintenance = TypeAdapter(m.MaintenanceResult)
    reboot = TypeAdapter(m.RebootResult)
    links = TypeAdapter(list[m.LinkView])
    link = TypeAdapter(m.LinkView)
    handover = TypeAdapter(m.HandoverView)
    handovers = TypeAdapter(list[m.HandoverView])
    alerts = TypeAdapter(list[m.AlertView])
    alert = TypeAdapter(m.AlertView)
    silences = TypeAdapter(list[m.SilenceView])
    silence = TypeAdapter(m.SilenceView)
    unsilence = TypeAdapter(m.SilenceRemoved)
    history = TypeAdapter(m.HistoryView)
    timeline = TypeAdapter(list[m.TimelineEntryView])
    reload = TypeAdapter(m.ReloadResult)
    probe = TypeAdapter(m.ProbeResultView)
    probes = TypeAdapter(list[m.ProbeResultView])
    probes_running = TypeAdapter(list[m.RunningProbeView])
    plan = TypeAdapter(m.PlanView)
    apply_started = TypeAdapter(m.ApplyStarted)
    rollback_started = TypeAdapter(m.RollbackStarted)
    applies = TypeAdapter(list[m.ApplyRecordView])
    apply_detail = TypeAdapter(m.ApplyDetailView)
    running_apply: TypeAdapter[m.RunningApplyView | None] = TypeAdapter(m.RunningApplyView | None)
    queue = TypeAdapter(list[m.QueuedPostView])
    post = TypeAdapter(m.PostDetailView)
    decision = TypeAdapter(m.DecisionResult)
    undo = TypeAdapter(m.UndoResult)
    decisions = TypeAdapter(list[m.DecisionView])
    lists = TypeAdapter(m.WallListsView)
    block = TypeAdapter(m.BlockResult)
    unblock = TypeAdapter(m.UnblockResult)
    counters = TypeAdapter(m.CountersView)
    announcements = TypeAdapter(m.AnnouncementsView)
    active = TypeAdapter(m.ActiveAnnouncementView)
    withdraw = TypeAdapter(m.WithdrawResult)
    pause = TypeAdapter(m.PauseResult)
    forget = TypeAdapter(m.ForgetResult)
