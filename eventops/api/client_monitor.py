"""The engine client's monitoring calls: who, status, devices, links, alerts, history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventops.api import models as m
from eventops.api.client_base import (
    _A,
    EngineClientBase,
    _make_kw,
    _q,
    _query,
)


class MonitorCalls(EngineClientBase):
    # -- who, status -----------------------------------------------------------------------
    async def whoami(self) -> m.WhoAmIView:
        return await self._json(_A.whoami, "GET", "/api/v1/whoami")

    async def status(self) -> m.StatusView:
        return await self._json(_A.status, "GET", "/api/v1/status")

    async def engines(self) -> m.EnginesView:
        """This engine's role and the engines of the event (``GET /api/v1/engines``)."""
        return await self._json(_A.engines, "GET", "/api/v1/engines")

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

    async def handover(
        self, link_id: str, to: str, *, force: bool = False, reason: str | None = None
    ) -> m.HandoverView:
        """Hand ``link_id`` over to ``to``; refused (409) without a passing acceptance newer
        than the last change to its ends, unless ``force`` with a ``reason``."""
        path = f"/api/v1/links/{_q(link_id)}/handover"
        kw: dict[str, Any] = {"to": to}
        if force or reason is not None:
            kw |= {"force": force, "reason": reason}
        return await self._json(_A.handover, "POST", path, _make_kw(m.HandoverBody, **kw))

    async def handovers(self) -> list[m.HandoverView]:
        return await self._json(_A.handovers, "GET", "/api/v1/handovers")

    async def handover_report(self, handover_id: int) -> str:
        """The printable report (HTML)."""
        raw = await self.call("GET", f"/api/v1/handovers/{int(handover_id)}/report")
        return raw.decode("utf-8", "replace")

    # -- alerts -------------------------------------------------------------------------
    async def alerts(self, *, include_closed: bool = False) -> list[m.AlertView]:
        return await self._pages(_A.alerts, "/api/v1/alerts" + ("?all=1" if include_closed else ""))

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
        first = await self._json(_A.history, "GET", "/api/v1/history" + q)
        points = list(first.points)
        cursor = first.next_cursor
        while cursor:  # every page of points, as one answer
            more = await self._json(
                _A.history, "GET", "/api/v1/history" + q + _query(cursor=cursor).replace("?", "&")
            )
            points.extend(more.points)
            cursor = more.next_cursor
        return first.model_copy(update={"points": points, "next_cursor": None})

    async def timeline(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[m.TimelineEntryView]:
        q = _query(
            since=since.isoformat() if since else None,
            until=until.isoformat() if until else None,
        )
        return await self._pages(_A.timeline, "/api/v1/timeline" + q)

    async def reload(self) -> m.ReloadResult:
        return await self._json(_A.reload, "POST", "/api/v1/reload")
