"""The engine client's probe and provisioning calls."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventops.api import models as m
from eventops.api import paging
from eventops.api.client_base import (
    _A,
    EngineClientBase,
    _make,
    _make_kw,
    _query,
)


class OpsCalls(EngineClientBase):
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
        self,
        devices: Sequence[str] | None = None,
        *,
        confirm: str | None = None,
        confirm_timeout_s: float | None = None,
    ) -> m.ApplyStarted:
        body = _make_kw(
            m.ApplyBody,
            devices=list(devices) if devices is not None else None,
            confirm=confirm,
            confirm_timeout_s=confirm_timeout_s,
        )
        return await self._json(_A.apply_started, "POST", "/api/v1/provision/apply", body)

    async def provision_rollback(
        self,
        apply_id: int,
        *,
        confirm: str | None = None,
        confirm_timeout_s: float | None = None,
    ) -> m.RollbackStarted:
        body = _make_kw(
            m.RollbackBody,
            apply_id=apply_id,
            confirm=confirm,
            confirm_timeout_s=confirm_timeout_s,
        )
        return await self._json(_A.rollback_started, "POST", "/api/v1/provision/rollback", body)

    async def provision_applies(self, limit: int = 50) -> list[m.ApplyRecordView]:
        """The newest ``limit`` applies, newest first (pages followed past 1000)."""
        out: list[m.ApplyRecordView] = []
        cursor: str | None = None
        while len(out) < limit:
            path = "/api/v1/provision/applies" + _query(
                limit=min(limit - len(out), paging.MAX_LIMIT), cursor=cursor
            )
            raw, headers = await self.call_with_headers("GET", path)
            out.extend(_A.applies.validate_json(raw))
            cursor = headers.get(paging.NEXT_CURSOR)
            if not cursor:
                break
        return out

    async def provision_apply_detail(self, apply_id: int) -> m.ApplyDetailView:
        path = f"/api/v1/provision/applies/{int(apply_id)}"
        return await self._json(_A.apply_detail, "GET", path)

    async def provision_running(self) -> m.RunningApplyView | None:
        return await self._json(_A.running_apply, "GET", "/api/v1/provision/running")
