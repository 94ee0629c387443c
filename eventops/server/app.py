"""The engine's HTTP API, live stream, /metrics and pages.

:func:`create_app` builds an aiohttp application around a running (or
app-managed) :class:`~eventops.engine.Engine`. Other parts of eventops (the
social wall) mount their routes on the same app through ``extensions`` and
use the same authentication (:mod:`eventops.server.auth`).

REST (JSON, ``/api/v1``): whoami, devices (one device with its last polled
radios, clients, interfaces and optics of both ends; reboot, technicians only),
links, alerts (+ ack), silences, maintenance, history, timeline, handovers
(+ printable report), reload, engines (active and standbys under the lease,
:mod:`eventops.server.standby`), and
``/api/v1/stream`` — Server-Sent Events whose ids are ``<epoch>-<n>`` (the
engine run and its event id): reconnect with ``Last-Event-ID`` to get the
gap, or a fresh snapshot when the gap is no longer kept or the id is not of
this run; a keep-alive comment on every connection idle for ``heartbeat_s``.
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from eventops import i18n, sitemap, timefmt
from eventops.api import models as m
from eventops.api import paging
from eventops.api.openapi import build_openapi
from eventops.engine import Engine, alert_view
from eventops.engine import checkpoints as checkpoints
from eventops.engine import views as views
from eventops.errors import InvalidRequest, NotFound
from eventops.i18n import Msg, refusal
from eventops.monitor.history import TimelineEntry
from eventops.profile.models import Role
from eventops.server import pages
from eventops.server.auth import (
    ENGINE,
    PAGES,
    TLS,
    View,
    auth_middleware,
    current_user,
    json_response,
    redact_for,
    require,
    respond,
    view_of,
)
from eventops.server.common import (
    HEARTBEAT_S,
    STREAMS,
    Extension,
    body_of,
    engine_of,
    parse_time,
    path_id,
)
from eventops.server.errors import error_middleware
from eventops.server.metrics import render_metrics
from eventops.server.probe import mount_probes
from eventops.server.provision import PROVISION, mount_provisioning
from eventops.server.standby import ELECTION
from eventops.server.standby import engines as engines_view
from eventops.server.stream import close_streams, stream
from eventops.server.wall import WALL, mount_wall
from eventops.store.audit import embed_checkpoint
from eventops.store.models import HandoverRow
from eventops.store.timeline import TimelineKey

log = logging.getLogger(__name__)

MANAGE = web.AppKey("eventops_manage_engine", bool)
STATUS_REFRESH_S = web.AppKey("eventops_status_refresh_s", float)
OPENAPI = web.AppKey("eventops_openapi", dict)

T = Role.technician
A = Role.authority


def _visible_device(view: View, device_id: str) -> str:
    if device_id not in view.devices or device_id not in view.engine.devices:
        raise refusal(NotFound, Msg("err.unknown_device", {"device": repr(device_id[:63])}))
    return device_id


# -- handlers -------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def openapi(request: web.Request) -> web.Response:
    current_user(request)
    return json_response(request, request.app[OPENAPI])


async def whoami(request: web.Request) -> web.Response:
    u = current_user(request)
    return respond(
        request,
        m.WhoAmIView,
        value={
            "name": u.name,
            "role": u.role.value,
            "authority": u.authority,
            "timezone": engine_of(request).profile.event.timezone,
        },
    )


async def list_devices(request: web.Request) -> web.Response:
    require(request, T, A)
    view, engine = view_of(request), engine_of(request)
    return respond(
        request,
        m.DeviceView,
        many=True,
        value=[engine.device_view(d) for d in engine.devices if d in view.devices],
    )


async def get_device(request: web.Request) -> web.Response:
    require(request, T, A)
    view = view_of(request)
    detail = view.engine.device_detail(_visible_device(view, request.match_info["id"]))
    for optic in detail["optics"]:
        # an authority learns nothing of a link or a far end that is not its own
        if optic.get("link") not in view.links:
            optic["link"] = None
            optic["margin_db"] = None
            optic["peer"] = None
        elif optic.get("peer") and optic["peer"]["device"] not in view.devices:
            optic["peer"] = None
    return respond(request, m.DeviceDetailView, value=detail)


async def list_links(request: web.Request) -> web.Response:
    require(request, T, A)
    view, engine = view_of(request), engine_of(request)
    return respond(
        request,
        m.LinkView,
        many=True,
        value=[engine.link_view(lk) for lk in engine.links if lk in view.links],
    )


async def get_link(request: web.Request) -> web.Response:
    require(request, T, A)
    view, engine = view_of(request), engine_of(request)
    link = request.match_info["id"]
    if link not in view.links or link not in engine.links:
        raise refusal(NotFound, Msg("err.unknown_link", {"link": repr(link[:63])}))
    return respond(request, m.LinkView, value=engine.link_view(link))


async def list_alerts(request: web.Request) -> web.Response:
    require(request, T, A)
    view = view_of(request)
    q = request.query
    limit, after = (
        paging.limit_of(q.get("limit")),
        paging.cursor_of(q.get("cursor"), "alerts", (int,)),
    )
    # the page (and one more: a next page follows) of the alerts this caller sees
    rows = await views.alerts(
        view.engine,
        include_closed=q.get("all") == "1",
        after_id=None if after is None else int(after[0]),
        limit=limit + 1,
        subjects=None if view.user.role is Role.technician else view.links | view.devices,
    )
    items, nxt = paging.page(
        [a for a in rows if view.sees(a["subject"])],
        lambda a: (int(a["id"]),),
        endpoint="alerts",
        limit=limit,
        after=after,
    )
    return _paged(respond(request, m.AlertView, many=True, value=items), nxt)


def _paged(resp: web.Response, next_cursor: str | None) -> web.Response:
    if next_cursor is not None:
        resp.headers[paging.NEXT_CURSOR] = next_cursor
    return resp


async def ack_alert(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, m.AckBody)
    row = await engine_of(request).ack(path_id(request, "alert"), user.name, body.note)
    return respond(request, m.AlertView, value=alert_view(row))


async def list_silences(request: web.Request) -> web.Response:
    require(request, T)
    return respond(request, m.SilenceView, many=True, value=views.silences(engine_of(request)))


async def add_silence(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, m.SilenceBody)
    view = await engine_of(request).silence(body.matchers, body.duration_s, user.name, body.note)
    return respond(request, m.SilenceView, value=view, status=201)


async def delete_silence(request: web.Request) -> web.Response:
    user = require(request, T)
    gone = await engine_of(request).unsilence(path_id(request, "silence"), user.name)
    return respond(request, m.SilenceRemoved, value=gone)


async def set_maintenance(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, m.MaintenanceBody)
    dev = request.match_info["id"]
    await engine_of(request).set_maintenance(dev, body.on, user.name, body.note)
    return respond(request, m.MaintenanceResult, value={"device": dev, "maintenance": body.on})


async def reboot_device(request: web.Request) -> web.Response:
    user = require(request, T)
    dev = request.match_info["id"]
    await engine_of(request).reboot(dev, user.name)
    return respond(request, m.RebootResult, value={"device": dev, "rebooting": True}, status=202)


async def history(request: web.Request) -> web.Response:
    require(request, T, A)
    view = view_of(request)
    q = request.query
    dev, metric = q.get("device", ""), q.get("metric", "")
    if dev and metric:
        _visible_device(view, dev)
    limit, after = (
        paging.limit_of(q.get("limit")),
        paging.cursor_of(q.get("cursor"), "history", (str, str, int)),
    )
    since, until, after_ts = parse_time(q.get("since")), parse_time(q.get("until")), None
    if after is not None:
        after_ts = _history_after(str(after[0]))
    want = limit + 1
    while True:  # the store reads a page from the cursor's time; more if too few follow it
        out = await views.history(
            view.engine, dev, metric, since, until, after_ts=after_ts, limit=want
        )
        # (time, value, n-th such point): the same order and keys whatever order a store
        # returns points of one time in (SQLite: as written; PostgreSQL: unspecified)
        pts = sorted(out["points"], key=lambda p: (_iso(p[0]), repr(p[1])))
        stamped = [
            ((_iso(t), repr(v), n), (t, v))
            for ((_, n), (t, v)) in zip(
                paging.tie_keys([{"k": (_iso(t), repr(v))} for t, v in pts], "k"),
                pts,
                strict=True,
            )
        ]
        following = sum(1 for k, _ in stamped if after is None or k > after)
        if len(pts) < want or following > limit:
            break
        # the cursor's own time had too many points before it: once more, with that many more
        want = len(pts) + limit + 1 - following
    chosen, nxt = paging.page(
        stamped, lambda kv: kv[0], endpoint="history", limit=limit, after=after
    )
    out = {**out, "points": [p for _, p in chosen], "next_cursor": nxt}
    return respond(request, m.HistoryView, value=out)


def _iso(t: object) -> str:
    return t.isoformat() if isinstance(t, datetime) else str(t)


HISTORY_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(\+00:00|Z)?")
"""A history cursor's time: UTC (or no zone), so that its text sorts as the points' do."""


def _history_after(ts: str) -> datetime:
    """The time of a history cursor; a 400 unless a UTC time in the points' own format
    (the page is read from that time on: any other text would not sort as its time)."""
    try:
        t = datetime.fromisoformat(ts) if HISTORY_TS.fullmatch(ts) else None
    except ValueError:
        t = None
    if t is None:
        raise paging.bad_cursor()
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


async def get_timeline(request: web.Request) -> web.Response:
    require(request, T)
    q = request.query
    limit, after = (
        paging.limit_of(q.get("limit")),
        _timeline_after(paging.cursor_of(q.get("cursor"), "timeline", (str, str, int))),
    )
    items = await views.timeline(
        engine_of(request),
        parse_time(q.get("since")),
        parse_time(q.get("until")),
        after=after,
        limit=limit,
    )
    chosen = items[:limit]  # the store read at most limit + 1: the extra one says more follow
    nxt = (
        paging.make_cursor("timeline", _timeline_key(chosen[-1]))
        if len(items) > limit and chosen
        else None
    )
    page = [t.model_dump(mode="json") for t in chosen]
    return _paged(respond(request, m.TimelineEntryView, many=True, value=page), nxt)


TIMELINE_TS = "%Y-%m-%dT%H:%M:%S.%f"
"""The time in a timeline cursor's key: UTC, to the microsecond, no offset."""


def _timeline_key(entry: TimelineEntry) -> paging.Key:
    """(time, kind, row id): unique and fixed for each entry, so a page never shifts when
    entries are added with the same time (a coarse clock, one transaction's rows)."""
    row = entry.data.get("id")
    return (
        entry.ts.astimezone(UTC).strftime(TIMELINE_TS),
        entry.kind,
        row if isinstance(row, int) else 0,
    )


def _storable(text: str) -> bool:
    """Text a store can hold and compare (no NUL, no lone surrogate), as every kind is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text and len(text) <= paging.MAX_CURSOR_CHARS


def _timeline_after(key: paging.Key | None) -> TimelineKey | None:
    """The store's key of a cursor's (time, kind, row id); a 400 unless the time is written
    exactly as :func:`_timeline_key` writes one (no cursor of ours is written otherwise)."""
    if key is None:
        return None
    ts, kind, row = key
    try:
        t = datetime.strptime(ts, TIMELINE_TS).replace(tzinfo=UTC)
    except ValueError:
        t = None
    if t is None or t.strftime(TIMELINE_TS) != ts or not _storable(kind):
        raise paging.bad_cursor()
    return (t, kind, row)


async def do_handover(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, m.HandoverBody)
    engine = engine_of(request)
    row = await engine.handover(
        request.match_info["id"], body.to, user.name, force=body.force, reason=body.reason
    )
    out = _handover_json(row)
    if engine.checkpoints is not None and row.id is not None:
        out["audit_checkpoint"] = engine.checkpoints.handovers.get(row.id)
    return respond(request, m.HandoverView, value=out, status=201)


def _handover_json(row: HandoverRow) -> dict[str, Any]:
    """A handover as the API shows it: ``unproven`` first when it was forced without proof."""
    return {"unproven": row.record.get("unproven"), **row.model_dump(mode="json")}


async def list_handovers(request: web.Request) -> web.Response:
    require(request, T, A)
    view = view_of(request)
    rows = await views.handovers(view.engine)
    return respond(
        request,
        m.HandoverView,
        many=True,
        value=[_handover_json(h) for h in rows if h.link in view.links],
    )


async def handover_report(request: web.Request) -> web.Response:
    require(request, T, A)
    view, engine = view_of(request), engine_of(request)
    hid = path_id(request, "handover")
    row = await views.handover_record(engine, hid)
    if row.link not in view.links:
        raise refusal(NotFound, Msg("err.no_handover", {"id": hid}))
    html = pages.handover_report(
        row.model_dump(mode="json"), engine.profile.event.tz, _lang(request)
    )
    # the signed audit head goes in after redaction: not one byte of it may change
    page = embed_checkpoint(view.redact_text(html), await checkpoints.for_report(engine, hid))
    return web.Response(
        text=page,
        content_type="text/html",
        headers={"Content-Security-Policy": pages.report_csp(), **pages.SECURITY_HEADERS},
    )


async def reload_profile(request: web.Request) -> web.Response:
    user = require(request, T)
    summary = await engine_of(request).reload(actor=user.name)
    return respond(request, m.ReloadResult, value=summary)


async def metrics(request: web.Request) -> web.Response:
    require(request, T, A)
    view = view_of(request)
    seq = await checkpoints.head_seq(view.engine)
    election = request.app.get(ELECTION)
    body = view.redact_text(render_metrics(view, seq, election).decode())
    return web.Response(
        text=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"}
    )


def _status_links(view: View) -> list[dict[str, Any]]:
    engine = view.engine
    return [engine.link_view(lk) for lk in engine.links if lk in view.links]


def _lang(request: web.Request) -> str:
    """The reader's language: ``?lang=de|en``, else the browser's Accept-Language (else en)."""
    q = request.query.get("lang")
    if q is not None:
        if q not in i18n.LANGUAGES:
            msg = Msg("err.lang", {"lang": repr(q[:20])})
            raise refusal(InvalidRequest, msg, field="lang")
        return q
    return i18n.lang_of(request.headers.get("Accept-Language", "")[:200])


async def status_page(request: web.Request) -> web.Response:
    user = require(request, T, A)
    view, engine = view_of(request), engine_of(request)
    p = engine.profile
    who = (
        next((a.name for a in p.authorities if a.id == user.authority), user.authority or "")
        if user.role is A
        else None
    )
    links = _status_links(view)
    devices = [engine.device_view(d) for d in engine.devices if d in view.devices]
    lang = _lang(request)
    site = sitemap.scene(
        [m.DeviceView.model_validate(d) for d in devices],
        [m.LinkView.model_validate(lv) for lv in links],
        lang=lang,
        tz=p.event.tz,
    )
    html = pages.status_page(
        p.event.name,
        who,
        links,
        p.event.tz,
        engine.clock.now(),
        request.app[STATUS_REFRESH_S],
        map_svg=sitemap.render_svg(site, lang=lang),
        lang=lang,
    )
    return web.Response(
        text=view.redact_text(html),
        content_type="text/html",
        headers={"Content-Security-Policy": pages.STATUS_CSP, **pages.SECURITY_HEADERS},
    )


async def status_json(request: web.Request) -> web.Response:
    require(request, T, A)
    view, engine = view_of(request), engine_of(request)
    tz = engine.profile.event.tz
    links = []
    for lv in _status_links(view):
        links.append(
            {
                "id": lv["id"],
                "state": lv["state"],
                "stale": lv["stale"],
                "cells": pages.link_cells(lv, tz, _lang(request)),
            }
        )
    return respond(
        request,
        m.StatusView,
        value={"updated": timefmt.clock(engine.clock.now(), tz), "links": links},
    )


def _static(body: str, ctype: str) -> Callable[[web.Request], Any]:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            text=body, content_type=ctype, headers={"X-Content-Type-Options": "nosniff"}
        )

    return handler


# -- the live stream ---------------------------------------------------------------------


# -- the app -------------------------------------------------------------------------------


def create_app(
    engine: Engine,
    *,
    manage_engine: bool = False,
    extensions: Sequence[Extension] = (),
    tls: bool = False,
    heartbeat_s: float = 15.0,
    status_refresh_s: float = 5.0,
) -> web.Application:
    """The aiohttp app; ``manage_engine``: start and stop the engine with the app."""
    app = web.Application(
        middlewares=[error_middleware(redact_for), auth_middleware], client_max_size=256 * 1024
    )
    app[ENGINE] = engine
    app[TLS] = tls
    app[STREAMS] = set()
    app[MANAGE] = manage_engine
    app[HEARTBEAT_S] = heartbeat_s
    app[STATUS_REFRESH_S] = status_refresh_s
    app[OPENAPI] = build_openapi()
    app[PAGES] = frozenset({"/status", "/api/v1/handovers/{id}/report"})
    app.cleanup_ctx.append(_engine_ctx)
    app.on_shutdown.append(close_streams)
    r = app.router
    r.add_get("/healthz", healthz)
    r.add_get("/static/status.css", _static(pages.STATUS_CSS, "text/css"))
    r.add_get("/static/status.js", _static(pages.STATUS_JS, "text/javascript"))
    r.add_get("/status", status_page)
    r.add_get("/metrics", metrics)
    r.add_get("/api/v1/whoami", whoami)
    r.add_get("/api/v1/openapi.json", openapi)
    r.add_get("/api/v1/status", status_json)
    r.add_get("/api/v1/engines", engines_view)
    r.add_get("/api/v1/devices", list_devices)
    r.add_get("/api/v1/devices/{id}", get_device)
    r.add_post("/api/v1/devices/{id}/maintenance", set_maintenance)
    r.add_post("/api/v1/devices/{id}/reboot", reboot_device)
    r.add_get("/api/v1/links", list_links)
    r.add_get("/api/v1/links/{id}", get_link)
    r.add_post("/api/v1/links/{id}/handover", do_handover)
    r.add_get("/api/v1/alerts", list_alerts)
    r.add_post("/api/v1/alerts/{id}/ack", ack_alert)
    r.add_get("/api/v1/silences", list_silences)
    r.add_post("/api/v1/silences", add_silence)
    r.add_delete("/api/v1/silences/{id}", delete_silence)
    r.add_get("/api/v1/history", history)
    r.add_get("/api/v1/timeline", get_timeline)
    r.add_get("/api/v1/handovers", list_handovers)
    r.add_get("/api/v1/handovers/{id}/report", handover_report)
    r.add_post("/api/v1/reload", reload_profile)
    r.add_get("/api/v1/stream", stream)
    _mount_services(app, engine)
    for ext in extensions:
        ext(app)
    return app


def _mount_services(app: web.Application, engine: Engine) -> None:
    """The routes of the services the engine carries (see eventops.engine.build_engine)."""
    mount_probes(app)
    if engine.provision is not None:
        app[PROVISION] = engine.provision
        mount_provisioning(app)
    if engine.wall is not None:
        app[WALL] = engine.wall
        mount_wall(app)


async def _engine_ctx(app: web.Application) -> AsyncIterator[None]:
    engine = app[ENGINE]
    if app[MANAGE]:
        await engine.start()
    try:
        yield
    finally:
        if app[MANAGE]:
            await engine.stop()


def ssl_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx
