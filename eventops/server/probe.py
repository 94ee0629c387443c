"""Link probes through the running engine: STAMP, throughput and acceptance.

Mounted with :func:`probe_extension` on the app from
:func:`eventops.server.app.create_app` (technicians only; every run is in the
audit log):

- ``POST /api/v1/probe/stamp``      ``{link | target, count, interval, wait}``
- ``POST /api/v1/probe/throughput`` ``{link, rate, duration, size, batched}``
- ``POST /api/v1/probe/accept``     ``{link, steps, step_time, hold, search, ..., force, confirm}``
- ``GET  /api/v1/probe/results?link=&kind=&limit=``  stored results, oldest first
- ``GET  /api/v1/probe/running``    the runs in flight (``{run, kind, target, link, actor, since}``)

A run holds its request until it is done and answers with the stored probe
result (``{id, ts, target, kind, passed, result}``); a link's result becomes
its proof. One run per link (or target) at a time: a second gets 409. While
it runs, ``probe.progress`` events on the live stream carry its progress
(``phase`` ``start``, ``interval`` (a STAMP or throughput interval),
``step`` (an acceptance line), ``done`` or ``error``), and ``probe.ended`` once
the link is free again; only technicians see them.
The acceptance safety cap applies: exceeding the contract of a handed-over
link needs ``force`` and ``confirm`` equal to the link id, else 403.
A run whose client goes away still finishes, is stored and audited (the
engine holds the link until then); one broken off by the server's shutdown
is audited as aborted.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from eventops.engine import Engine
from eventops.errors import ProbeError
from eventops.probe.accept_measure import ProbeMeasure, split_hostport
from eventops.probe.acceptance import AcceptanceConfig, handed_over_to, run_acceptance
from eventops.probe.models import Interval, StampInterval
from eventops.probe.stamp import run_stamp
from eventops.probe.throughput import run_udp
from eventops.profile.models import Link, Role
from eventops.server.app import Extension, body_of
from eventops.server.auth import ENGINE, json_response, require
from eventops.store.models import ProbeResultRow

T = Role.technician
HOSTPORT = r"^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$"
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kKmMgG]?)\s*$")
_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}


@dataclass
class ProbeRuns:
    """The runs in flight: one per link or target."""

    busy: set[str] = field(default_factory=set)
    started: int = 0
    running: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Target -> what runs there (run, kind, target, link, actor, since), for the Pulse."""

    @contextmanager
    def claim(
        self,
        key: str,
        *,
        engine: Engine | None = None,
        kind: str = "",
        actor: str = "",
        link: str | None = None,
    ) -> Iterator[int]:
        """Hold ``key`` for one run; when released, ``probe.ended`` goes on the stream."""
        if key in self.busy:
            raise web.HTTPConflict(text=f"a probe run on {key} is already in progress\n")
        self.busy.add(key)
        self.started += 1
        run = self.started
        since = engine.clock.now().isoformat() if engine is not None else None
        self.running[key] = {
            "run": run,
            "kind": kind,
            "target": key,
            "link": link,
            "actor": actor,
            "since": since,
        }
        try:
            yield run
        finally:
            self.busy.discard(key)
            self.running.pop(key, None)
            if engine is not None:
                engine.bus.publish(
                    "probe.ended",
                    link or "",
                    "link" if link else "event",
                    frozenset(),
                    {"run": run, "kind": kind, "target": key},
                )


RUNS = web.AppKey("eventops_probe_runs", ProbeRuns)


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
                raise web.HTTPBadRequest(text=f"rate: {self.rate[:40]!r} is not a rate like 100M\n")
            value = float(m.group(1)) * _UNITS[m.group(2).lower()]
        else:
            value = float(self.rate)
        if not 0 < value <= 400e9:
            raise web.HTTPBadRequest(text="rate: must be above 0 and at most 400G\n")
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
            raise web.HTTPBadRequest(text=f"acceptance options: {where}: {err['msg']}\n") from None


# -- helpers ------------------------------------------------------------------------------


def _engine(request: web.Request) -> Engine:
    return request.app[ENGINE]


def _link(engine: Engine, link_id: str) -> Link:
    try:
        return engine.profile.link(link_id)
    except KeyError:
        raise web.HTTPNotFound(text=f"no link {link_id!r} in the profile\n") from None


def _publisher(
    engine: Engine, run: int, kind: str, target: str, link: str | None
) -> Callable[..., None]:
    """Publishes this run's ``probe.progress`` events (technicians only: no authorities)."""

    def publish(phase: str, **data: Any) -> None:
        engine.bus.publish(
            "probe.progress",
            link or "",
            "link" if link else "event",
            frozenset(),
            {"run": run, "kind": kind, "target": target, "phase": phase, **data},
        )

    return publish


def _failed(publish: Callable[..., None], exc: ProbeError) -> web.HTTPException:
    publish("error", error=exc.one_line())
    return web.HTTPBadGateway(text=f"probe failed: {exc.one_line()}\n")


async def _aborted(
    engine: Engine, actor: str, action: str, target: str, plan: dict[str, Any]
) -> None:
    """A run broken off (the client went away, shutdown) still goes on record."""
    await asyncio.shield(
        engine.store.audit(actor, action, target, after={**plan, "outcome": "aborted"})
    )


async def _store(
    engine: Engine, target: str, kind: str, passed: bool | None, result: dict[str, Any]
) -> ProbeResultRow:
    row = ProbeResultRow(
        ts=engine.clock.now(), target=target, kind=kind, passed=passed, result=result
    )
    rid = await engine.record_probe_result(row)
    return row.model_copy(update={"id": rid})


# -- handlers -----------------------------------------------------------------------------


async def probe_stamp(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, StampBody)
    engine = _engine(request)
    if body.link is not None:
        link = _link(engine, body.link)
        if link.probe is None:
            raise web.HTTPBadRequest(text=f"link {link.id} has no probe reflector in the profile\n")
        host, port = split_hostport(link.probe.reflector)
        target = link.id
    else:
        assert body.target is not None
        host, port = split_hostport(body.target)
        target = body.target
    plan = {"host": host, "port": port, "count": body.count, "interval": body.interval}
    with request.app[RUNS].claim(
        target, engine=engine, kind="stamp", actor=user.name, link=body.link
    ) as run:
        publish = _publisher(engine, run, "stamp", target, body.link)
        await engine.store.audit(user.name, "probe.stamp.start", target, after=plan)
        publish("start", plan=plan)

        def on_interval(iv: StampInterval) -> None:
            publish("interval", interval=iv.model_dump(mode="json"))

        try:
            result = await run_stamp(
                host,
                port,
                count=body.count,
                interval=body.interval,
                wait_s=body.wait,
                progress=on_interval,
                progress_interval=0.5,
            )
        except ProbeError as exc:
            await engine.store.audit(
                user.name, "probe.stamp", target, after={**plan, "error": exc.one_line()}
            )
            raise _failed(publish, exc) from None
        except asyncio.CancelledError:
            await _aborted(engine, user.name, "probe.stamp", target, plan)
            raise
        row = await _store(engine, target, "stamp", None, result.model_dump(mode="json"))
        summary = {
            "probe_result": row.id,
            "replies": result.replies,
            "sent": result.sent,
            "rtt_mean_ms": result.rtt.mean_ms,
        }
        await engine.store.audit(user.name, "probe.stamp", target, after={**plan, **summary})
        publish("done", probe_result=row.id)
    return json_response(request, row.model_dump(mode="json"))


async def probe_throughput(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, ThroughputBody)
    engine = _engine(request)
    link = _link(engine, body.link)
    if link.probe is None or link.probe.sink is None:
        raise web.HTTPBadRequest(text=f"link {link.id} has no probe sink in the profile\n")
    host, port = split_hostport(link.probe.sink)
    rate = body.rate_bps()
    batched = body.batched
    if batched is None:
        batched = rate / (8.0 * (body.size + 42)) > 50_000.0
    plan = {
        "host": host,
        "port": port,
        "rate_bps": rate,
        "layer": body.layer,
        "duration_s": body.duration,
        "size": body.size,
        "batched": batched,
    }
    with request.app[RUNS].claim(
        link.id, engine=engine, kind="throughput", actor=user.name, link=link.id
    ) as run:
        publish = _publisher(engine, run, "throughput", link.id, link.id)
        await engine.store.audit(user.name, "probe.throughput.start", link.id, after=plan)
        publish("start", plan=plan)

        def on_interval(iv: Interval) -> None:
            publish("interval", interval=iv.model_dump(mode="json"))

        try:
            result = await run_udp(
                host,
                port,
                rate_bps=rate,
                size=body.size,
                duration=body.duration,
                batched=batched,
                layer=body.layer,
                interval=min(1.0, body.duration / 4),
                progress=on_interval,
            )
        except ProbeError as exc:
            await engine.store.audit(
                user.name, "probe.throughput", link.id, after={**plan, "error": exc.one_line()}
            )
            raise _failed(publish, exc) from None
        except asyncio.CancelledError:
            await _aborted(engine, user.name, "probe.throughput", link.id, plan)
            raise
        row = await _store(engine, link.id, "throughput", None, result.iperf3_json())
        summary = {
            "probe_result": row.id,
            "receiver_bps": result.receiver_bps,
            "lost_percent": result.lost_percent,
        }
        await engine.store.audit(user.name, "probe.throughput", link.id, after={**plan, **summary})
        publish("done", probe_result=row.id)
    return json_response(request, row.model_dump(mode="json"))


async def probe_accept(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, AcceptBody)
    engine = _engine(request)
    link = _link(engine, body.link)
    cfg = body.config()
    with request.app[RUNS].claim(
        link.id, engine=engine, kind="accept", actor=user.name, link=link.id
    ) as run:
        publish = _publisher(engine, run, "accept", link.id, link.id)

        def on_interval(iv: Interval) -> None:
            publish("interval", interval=iv.model_dump(mode="json"))

        try:
            measure = ProbeMeasure.for_link(
                link, size=body.size, delay_from=body.delay_from, progress=on_interval
            )
        except ProbeError as exc:
            raise web.HTTPBadRequest(text=exc.one_line() + "\n") from None
        authority = await handed_over_to(engine.store, link.id)
        refused = (
            cfg.max_pct() > 100.0
            and authority is not None
            and not (body.force and body.confirm == link.id)
        )
        publish("start", plan={"steps_pct": cfg.steps_pct, "hold_s": cfg.hold_duration_s})
        try:
            result = await run_acceptance(
                link,
                measure,
                engine.store,
                actor=user.name,
                config=cfg,
                force=body.force,
                confirmation=body.confirm,
                clock=engine.clock,
                progress=lambda line: publish("step", line=line),
            )
        except ProbeError as exc:
            publish("error", error=exc.one_line())
            if refused:  # run_acceptance audited the refusal
                raise web.HTTPForbidden(text=exc.one_line() + "\n") from None
            raise web.HTTPBadGateway(text=f"probe failed: {exc.one_line()}\n") from None
        await engine.take_probe_results()  # the stored acceptance is the link's proof now
        rows = [r for r in await engine.store.list_probe_results(link.id) if r.kind == "acceptance"]
        row = rows[-1]
        publish("done", probe_result=row.id, passed=result.passed)
    return json_response(request, row.model_dump(mode="json"))


async def probe_results(request: web.Request) -> web.Response:
    require(request, T)
    engine = _engine(request)
    link = request.query.get("link") or None
    kind = request.query.get("kind") or None
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise web.HTTPBadRequest(text="limit: not a number\n") from None
    if not 1 <= limit <= 10_000:
        raise web.HTTPBadRequest(text="limit: must be 1..10000\n")
    rows = await engine.store.list_probe_results(link)
    if kind is not None:
        rows = [r for r in rows if r.kind == kind]
    return json_response(request, [r.model_dump(mode="json") for r in rows[-limit:]])


async def probe_running(request: web.Request) -> web.Response:
    require(request, T)
    runs = sorted(request.app[RUNS].running.values(), key=lambda r: int(r["run"]))
    return json_response(request, runs)


def probe_extension() -> Extension:
    """The probe routes, to pass in ``create_app(..., extensions=[...])``."""

    def mount(app: web.Application) -> None:
        app[RUNS] = ProbeRuns()
        r = app.router
        r.add_post("/api/v1/probe/stamp", probe_stamp)
        r.add_post("/api/v1/probe/throughput", probe_throughput)
        r.add_post("/api/v1/probe/accept", probe_accept)
        r.add_get("/api/v1/probe/results", probe_results)
        r.add_get("/api/v1/probe/running", probe_running)

    return mount
