"""Link probes through the running engine: STAMP, throughput and acceptance.

Mounted with :func:`probe_extension` on the app from
:func:`eventops.server.app.create_app` (technicians only; every run is in the
audit log):

- ``POST /api/v1/probe/stamp``      ``{link | target, count, interval, wait}``
- ``POST /api/v1/probe/throughput`` ``{link, rate, duration, size, batched}``
- ``POST /api/v1/probe/accept``     ``{link, steps, step_time, hold, search, ..., force, confirm}``
- ``GET  /api/v1/probe/results?link=&kind=&limit=``  stored results, oldest first
- ``GET  /api/v1/probe/running``    the runs in flight (``{run, kind, target, link, actor, since}``)

The runs themselves are :class:`eventops.engine.probing.ProbeService`'s
(``engine.probes``); these handlers only translate.

A run holds its request until it is done and answers with the stored probe
result (``{id, ts, target, kind, passed, result}``); a link's result becomes
its proof. One run per link (or target) at a time: a second gets 409. While
it runs, ``probe.progress`` events on the live stream carry its progress
(``phase`` ``start``, ``interval`` (a STAMP or throughput interval),
``step`` (an acceptance line), ``done`` or ``error``), and ``probe.ended`` once
the link is free again; only technicians see them.
The acceptance safety cap applies: exceeding the contract of a handed-over
link needs ``force`` and ``confirm`` equal to the link id, else 403; a
measurement that fails is 502 (``probe_failed``).
A run whose client goes away still finishes, is stored and audited (the
engine holds the link until then); one broken off by the server's shutdown
is audited as aborted.
"""

from __future__ import annotations

import re
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from eventops.errors import InvalidRequest
from eventops.probe.acceptance import AcceptanceConfig
from eventops.profile.models import Role
from eventops.server.app import Extension, body_of
from eventops.server.auth import ENGINE, json_response, require

T = Role.technician
MOUNTED = web.AppKey("eventops_probe_mounted", bool)
HOSTPORT = r"^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$"
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kKmMgG]?)\s*$")
_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}


class _B(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StampBody(_B):
    link: str | None = Field(default=None, min_length=1, max_length=63)
    target: str | None = Field(default=None, pattern=HOSTPORT, max_length=300)
    count: int = Field(default=100, ge=1, le=100_000)
    interval: float = Field(default=0.01, ge=0, le=10)
    wait: float = Field(default=1.0, gt=0, le=60)

    @model_validator(mode="after")
    def _one(self) -> StampBody:
        if (self.link is None) == (self.target is None):
            raise ValueError("give exactly one of link and target")
        return self


class ThroughputBody(_B):
    link: str = Field(min_length=1, max_length=63)
    rate: float | str
    """bit/s at ``layer``, a number or ``100M``/``1G``."""
    duration: float = Field(default=5.0, gt=0, le=3600)
    size: int = Field(default=1472, ge=64, le=9000)
    layer: Literal["l2", "udp-payload"] = "l2"
    batched: bool | None = None
    """None: batched above 50,000 packets/s, one datagram per send below."""

    def rate_bps(self) -> float:
        if isinstance(self.rate, str):
            m = _RATE.match(self.rate)
            if not m:
                raise InvalidRequest(f"rate: {self.rate[:40]!r} is not a rate like 100M")
            value = float(m.group(1)) * _UNITS[m.group(2).lower()]
        else:
            value = float(self.rate)
        if not 0 < value <= 400e9:
            raise InvalidRequest("rate: must be above 0 and at most 400G")
        return value


class AcceptBody(_B):
    link: str = Field(min_length=1, max_length=63)
    steps: list[float] = Field(default_factory=lambda: [25.0, 50.0, 75.0, 100.0], max_length=32)
    step_time: float = Field(default=5.0, gt=0, le=3600)
    hold: float = Field(default=900.0, ge=0, le=86_400)
    hold_pct: float = Field(default=100.0, gt=0, le=1000)
    rate_tolerance: float = Field(default=2.0, ge=0, le=50)
    search: bool = False
    search_loss: float | None = Field(default=None, ge=0, le=100)
    search_max: float = Field(default=100.0, gt=0, le=1000)
    search_time: float = Field(default=5.0, gt=0, le=3600)
    size: int = Field(default=1472, ge=64, le=9000)
    delay_from: Literal["stamp", "stream"] | None = None
    force: bool = False
    confirm: str | None = Field(default=None, max_length=63)

    def config(self) -> AcceptanceConfig:
        try:
            return AcceptanceConfig(
                steps_pct=self.steps,
                step_duration_s=self.step_time,
                hold_duration_s=self.hold,
                hold_pct=self.hold_pct,
                rate_tolerance_pct=self.rate_tolerance,
                search=self.search,
                search_loss_pct=self.search_loss,
                search_max_pct=self.search_max,
                search_trial_s=self.search_time,
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "options"
            raise InvalidRequest(f"acceptance options: {where}: {err['msg']}") from None


# -- handlers: request -> one engine call -> response --------------------------------------


async def probe_stamp(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, StampBody)
    row = await request.app[ENGINE].probes.stamp(
        actor=user.name,
        link=body.link,
        target=body.target,
        count=body.count,
        interval=body.interval,
        wait=body.wait,
    )
    return json_response(request, row.model_dump(mode="json"))


async def probe_throughput(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, ThroughputBody)
    row = await request.app[ENGINE].probes.throughput(
        actor=user.name,
        link=body.link,
        rate_bps=body.rate_bps(),
        duration=body.duration,
        size=body.size,
        layer=body.layer,
        batched=body.batched,
    )
    return json_response(request, row.model_dump(mode="json"))


async def probe_accept(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, AcceptBody)
    row = await request.app[ENGINE].probes.accept(
        actor=user.name,
        link=body.link,
        config=body.config(),
        size=body.size,
        delay_from=body.delay_from,
        force=body.force,
        confirm=body.confirm,
    )
    return json_response(request, row.model_dump(mode="json"))


async def probe_results(request: web.Request) -> web.Response:
    require(request, T)
    q = request.query
    try:
        limit = int(q.get("limit", "100"))
    except ValueError:
        raise InvalidRequest("limit: not a number") from None
    rows = await request.app[ENGINE].probes.results(
        q.get("link") or None, q.get("kind") or None, limit
    )
    return json_response(request, [r.model_dump(mode="json") for r in rows])


async def probe_running(request: web.Request) -> web.Response:
    require(request, T)
    return json_response(request, request.app[ENGINE].probes.runs())


def mount_probes(app: web.Application) -> None:
    """The probe routes (the engine always carries its probe service)."""
    if MOUNTED in app:
        return
    app[MOUNTED] = True
    r = app.router
    r.add_post("/api/v1/probe/stamp", probe_stamp)
    r.add_post("/api/v1/probe/throughput", probe_throughput)
    r.add_post("/api/v1/probe/accept", probe_accept)
    r.add_get("/api/v1/probe/results", probe_results)
    r.add_get("/api/v1/probe/running", probe_running)


def probe_extension() -> Extension:
    """The probe routes, to pass in ``create_app(..., extensions=[...])``."""
    return mount_probes
