"""The engine client's base: bearer token, one request, typed answers (:class:`_A`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from pydantic import BaseModel, TypeAdapter, ValidationError

from eventops.api import models as m
from eventops.api import paging
from eventops.api.client_errors import error_from_response
from eventops.api.client_failover import transport_for
from eventops.api.client_transport import (
    HttpRequest,
    Transport,
)
from eventops.errors import (
    ApiError,
    InvalidRequest,
)

T = TypeVar("T")


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


class EngineClientBase:
    """The engine API with one bearer token: construction and the request plumbing."""

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
        self.transport: Transport = transport or transport_for(self.base_url)
        """One engine's, or for a comma-separated list one that follows the active engine."""
        self.timeout_s = timeout_s

    async def close(self) -> None:
        await self.transport.close()

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
        raw, _headers = await self.call_with_headers(method, path, body, timeout_s=timeout_s)
        return raw

    async def call_with_headers(
        self,
        method: str,
        path: str,
        body: BaseModel | None = None,
        *,
        timeout_s: float | None = -1.0,
    ) -> tuple[bytes, Mapping[str, str]]:
        """:meth:`call`, with the answer's headers."""
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
        return raw, resp.headers

    async def _pages(self, adapter: TypeAdapter[list[T]], path: str) -> list[T]:
        """Every page of a paged list (``limit``/``cursor``, see eventops.api.paging)."""
        out: list[T] = []
        cursor: str | None = None
        for _ in range(100_000):  # a server that never ends its pages is a bug, not a hang
            sep = "&" if "?" in path else "?"
            url = path + (f"{sep}limit={paging.MAX_LIMIT}")
            if cursor is not None:
                url += "&cursor=" + quote(cursor, safe="")
            raw, headers = await self.call_with_headers("GET", url)
            try:
                out.extend(adapter.validate_json(raw))
            except ValidationError as exc:
                e = exc.errors()[0]
                where = ".".join(str(p) for p in e["loc"]) or "body"
                raise ApiError(
                    f"GET {path.split('?')[0]}: unexpected answer from the engine "
                    f"({where}: {e['msg']})"
                ) from None
            cursor = headers.get(paging.NEXT_CURSOR)
            if not cursor:
                return out
        raise ApiError(f"GET {path.split('?')[0]}: the engine's pages never end")

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


class _A:
    """Type adapters of the answers, built once."""

    anydict = TypeAdapter(dict[str, Any])
    whoami = TypeAdapter(m.WhoAmIView)
    status = TypeAdapter(m.StatusView)
    engines = TypeAdapter(m.EnginesView)
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
