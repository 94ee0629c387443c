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

from aiohttp import web
from pydantic import ValidationError

from eventops.api import models as m
from eventops.api.models.acceptance import AcceptanceConfig
from eventops.errors import InvalidRequest
from eventops.i18n import Msg, refusal
from eventops.profile.models import Role
from eventops.server.auth import ENGINE, require, respond
from eventops.server.common import Extension, body_of, invalid_value

T = Role.technician
MOUNTED = web.AppKey("eventops_probe_mounted", bool)


def _acceptance_config(body: m.AcceptBody) -> AcceptanceConfig:
    try:
        return AcceptanceConfig(
            steps_pct=body.steps,
            step_duration_s=body.step_time,
            hold_duration_s=body.hold,
            hold_pct=body.hold_pct,
            rate_tolerance_pct=body.rate_tolerance,
            search=body.search,
            search_loss_pct=body.search_loss,
            search_max_pct=body.search_max,
            search_trial_s=body.search_time,
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "options"
        english = f"acceptance options: {where}: {err['msg']}"
        msg = Msg("err.acceptance_options", {"why": invalid_value(where, err)})
        raise InvalidRequest(english).with_msg(msg.msg_id, msg.as_dict()["params"]) from None


# -- handlers: request -> one engine call -> response --------------------------------------


async def probe_stamp(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, m.StampBody)
    row = await request.app[ENGINE].probes.stamp(
        actor=user.name,
        link=body.link,
        target=body.target,
        count=body.count,
        interval=body.interval,
        wait=body.wait,
    )
    return respond(request, m.ProbeResultView, value=row.model_dump(mode="json"))


async def probe_throughput(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, m.ThroughputBody)
    row = await request.app[ENGINE].probes.throughput(
        actor=user.name,
        link=body.link,
        rate_bps=body.rate_bps(),
        duration=body.duration,
        size=body.size,
        layer=body.layer,
        batched=body.batched,
    )
    return respond(request, m.ProbeResultView, value=row.model_dump(mode="json"))


async def probe_accept(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, m.AcceptBody)
    row = await request.app[ENGINE].probes.accept(
        actor=user.name,
        link=body.link,
        config=_acceptance_config(body),
        size=body.size,
        delay_from=body.delay_from,
        force=body.force,
        confirm=body.confirm,
    )
    return respond(request, m.ProbeResultView, value=row.model_dump(mode="json"))


async def probe_results(request: web.Request) -> web.Response:
    require(request, T)
    q = request.query
    try:
        limit = int(q.get("limit", "100"))
    except ValueError:
        raise refusal(InvalidRequest, Msg("err.limit_nan"), field="limit") from None
    rows = await request.app[ENGINE].probes.results(
        q.get("link") or None, q.get("kind") or None, limit
    )
    return respond(
        request, m.ProbeResultView, many=True, value=[r.model_dump(mode="json") for r in rows]
    )


async def probe_running(request: web.Request) -> web.Response:
    require(request, T)
    return respond(request, m.RunningProbeView, many=True, value=request.app[ENGINE].probes.runs())


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
