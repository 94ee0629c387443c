"""The engine's HTTP API, live stream, /metrics and pages.

:func:`create_app` builds an aiohttp application around a running (or
app-managed) :class:`~eventops.engine.Engine`. Other parts of eventops (the
social wall) mount their routes on the same app through ``extensions`` and
use the same authentication (:mod:`eventops.server.auth`).

REST (JSON, ``/api/v1``): whoami, devices (one device with its last polled
radios, clients, interfaces and optics of both ends; reboot, technicians only),
links, alerts (+ ack), silences, maintenance, history, timeline, handovers
(+ printable report), reload, and
``/api/v1/stream`` — Server-Sent Events whose ids are ``<epoch>-<n>`` (the
engine run and its event id): reconnect with ``Last-Event-ID`` to get the
gap, or a fresh snapshot when the gap is no longer kept or the id is not of
this run; a keep-alive comment on every connection idle for ``heartbeat_s``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from eventops import i18n, sitemap, timefmt
from eventops.api import models as m
from eventops.api import paging
from eventops.api.openapi import build_openapi
from eventops.engine import Engine, alert_view
from eventops.engine import checkpoints as checkpoints
from eventops.engine import views as views
from eventops.errors import InvalidRequest, NotFound
from eventops.monitor.tasks import cancel_and_wait
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
    still_valid,
    view_of,
)
from eventops.server.errors import error_middleware
from eventops.server.metrics import render_metrics
from eventops.store.audit import embed_checkpoint
from eventops.store.models import HandoverRow

log = logging.getLogger(__name__)

STREAMS = web.AppKey("eventops_streams", set[asyncio.Task[Any]])
MANAGE = web.AppKey("eventops_manage_engine", bool)
HEARTBEAT_S = web.AppKey("eventops_heartbeat_s", float)
STATUS_REFRESH_S = web.AppKey("eventops_status_refresh_s", float)
OPENAPI = web.AppKey("eventops_openapi", dict)

Extension = Callable[[web.Application], None]

M = TypeVar("M", bound=BaseModel)
T = Role.technician
A = Role.authority


MAX_ID = 2**63 - 1
"""Numeric ids are SQLite integers: a path id beyond this names nothing (404)."""
_ID = re.compile(r"[0-9]{1,19}")
_JSON_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_NOT_JSON_TYPES = ("application/x-www-form-urlencoded", "multipart/", "text/")


def check_json_type(request: web.Request) -> None:
    """415 for a body that declares itself something JSON cannot be: a form, text, or a
    charset other than UTF-8 (or its ASCII subset)."""
    ctype = request.content_type.lower()
    if ctype.startswith(_NOT_JSON_TYPES):
        raise web.HTTPUnsupportedMediaType(
            text=f"request body must be JSON (Content-Type: application/json), not {ctype[:40]}"
        )
    charset = request.charset
    if charset is not None and charset.strip().lower() not in _JSON_CHARSETS:
        raise web.HTTPUnsupportedMediaType(
            text=f"request body must be UTF-8 JSON; charset {charset[:40]!r} is not supported"
        )


async def body_of(request: web.Request, model: type[M]) -> M:
    """The request's JSON body parsed by ``model`` (one of :mod:`eventops.api.models`:
    strict, closed, finite); InvalidRequest names what is wrong.

    The body is bounded by the app's ``client_max_size`` (413); the parser
    (pydantic-core's) bounds nesting depth and reads any integer without
    Python's digit limit, so neither reaches a handler; the models bound
    their numbers."""
    check_json_type(request)
    raw = await request.read()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid" or not raw.strip():
            why = str(first.get("ctx", {}).get("error", ""))[:80]
            raise InvalidRequest("request body is not JSON" + (f": {why}" if why else "")) from None
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidRequest(f"{where}: {first['msg']}", field=where) from None


def _engine(request: web.Request) -> Engine:
    return request.app[ENGINE]


def path_id(request: web.Request, what: str, key: str = "id") -> int:
    """The numeric id in the path: ASCII digits, at most :data:`MAX_ID`; anything else
    names nothing (NotFound), so no store ever sees an integer it cannot hold."""
    raw = request.match_info[key]
    if _ID.fullmatch(raw) is None or int(raw) > MAX_ID:
        raise NotFound(f"no {what} {raw[:40]!r}")
    return int(raw)


_int_id = path_id


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"not an ISO 8601 time: {value[:40]!r}") from None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _visible_device(view: View, device_id: str) -> str:
    if device_id not in view.devices or device_id not in view.engine.devices:
        raise NotFound(f"no device {device_id[:63]!r}")
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
            "timezone": _engine(request).profile.event.timezone,
        },
    )


async def list_devices(request: web.Request) -> web.Response:
    require(request, T, A)
    view, engine = view_of(request), _engine(request)
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
    view, engine = view_of(request), _engine(request)
    return respond(
        request,
        m.LinkView,
        many=True,
        value=[engine.link_view(lk) for lk in engine.links if lk in view.links],
    )


async def get_link(request: web.Request) -> web.Response:
    require(request, T, A)
    view, engine = view_of(request), _engine(request)
    link = request.match_info["id"]
    if link not in view.links or link not in engine.links:
        raise NotFound(f"no link {link[:63]!r}")
    return respond(request, m.LinkView, value=engine.link_view(link))


async def list_alerts(request: web.Request) -> web.Response:
    require(request, T, A)
    view = view_of(request)
    q = request.query
    limit, after = paging.limit_of(q.get("limit")), paging.cursor_of(q.get("cursor"), "alerts")
    rows = await views.alerts(view.engine, include_closed=q.get("all") == "1")
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
    row = await _engine(request).ack(_int_id(request, "alert"), user.name, body.note)
    return respond(request, m.AlertView, value=alert_view(row))


async def list_silences(request: web.Request) -> web.Response:
    require(request, T)
    return respond(request, m.SilenceView, many=True, value=views.silences(_engine(request)))


async def add_silence(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, m.SilenceBody)
    view = await _engine(request).silence(body.matchers, body.duration_s, user.name, body.note)
    return respond(request, m.SilenceView, value=view, status=201)


async def delete_silence(request: web.Request) -> web.Response:
    user = require(request, T)
    gone = await _engine(request).unsilence(_int_id(request, "silence"), user.name)
    return respond(request, m.SilenceRemoved, value=gone)


async def set_maintenance(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, m.MaintenanceBody)
    dev = request.match_info["id"]
    await _engine(request).set_maintenance(dev, body.on, user.name, body.note)
    return respond(request, m.MaintenanceResult, value={"device": dev, "maintenance": body.on})


async def reboot_device(request: web.Request) -> web.Response:
    user = require(request, T)
    dev = request.match_info["id"]
    await _engine(request).reboot(dev, user.name)
    return respond(request, m.RebootResult, value={"device": dev, "rebooting": True}, status=202)


async def history(request: web.Request) -> web.Response:
    require(request, T, A)
    view = view_of(request)
    q = request.query
    dev, metric = q.get("device", ""), q.get("metric", "")
    if dev and metric:
        _visible_device(view, dev)
    limit, after = paging.limit_of(q.get("limit")), paging.cursor_of(q.get("cursor"), "history")
    out = await views.history(
        view.engine, dev, metric, _parse_time(q.get("since")), _parse_time(q.get("until"))
    )
    pts = list(out["points"])
    stamped = [
        ((_iso(t), n), (t, v))
        for ((_, n), (t, v)) in zip(
            paging.tie_keys([{"t": _iso(t)} for t, _ in pts], "t"), pts, strict=True
        )
    ]
    chosen, nxt = paging.page(
        stamped, lambda kv: kv[0], endpoint="history", limit=limit, after=after
    )
    out = {**out, "points": [p for _, p in chosen], "next_cursor": nxt}
    return respond(request, m.HistoryView, value=out)


def _iso(t: object) -> str:
    return t.isoformat() if isinstance(t, datetime) else str(t)


async def get_timeline(request: web.Request) -> web.Response:
    require(request, T)
    q = request.query
    limit, after = paging.limit_of(q.get("limit")), paging.cursor_of(q.get("cursor"), "timeline")
    items = await views.timeline(
        _engine(request), _parse_time(q.get("since")), _parse_time(q.get("until"))
    )
    items = sorted(items, key=lambda t: str(t["ts"]))
    keyed = list(zip(paging.tie_keys(items, "ts"), items, strict=True))
    chosen, nxt = paging.page(
        keyed, lambda kv: kv[0], endpoint="timeline", limit=limit, after=after
    )
    return _paged(
        respond(request, m.TimelineEntryView, many=True, value=[t for _, t in chosen]), nxt
    )


async def do_handover(request: web.Request) -> web.Response:
    user = require(request, T)
    body = await body_of(request, m.HandoverBody)
    engine = _engine(request)
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
    view, engine = view_of(request), _engine(request)
    hid = _int_id(request, "handover")
    row = await views.handover_record(engine, hid)
    if row.link not in view.links:
        raise NotFound(f"no handover #{hid}")
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
    summary = await _engine(request).reload(actor=user.name)
    return respond(request, m.ReloadResult, value=summary)


async def metrics(request: web.Request) -> web.Response:
    require(request, T, A)
    view = view_of(request)
    seq = await checkpoints.head_seq(view.engine)
    body = view.redact_text(render_metrics(view, seq).decode())
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
            raise InvalidRequest(f"lang: {q[:20]!r} is not one of de, en", field="lang")
        return q
    return i18n.lang_of(request.headers.get("Accept-Language", "")[:200])


async def status_page(request: web.Request) -> web.Response:
    user = require(request, T, A)
    view, engine = view_of(request), _engine(request)
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
    view, engine = view_of(request), _engine(request)
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


def _snapshot(view: View) -> dict[str, Any]:
    engine = view.engine
    now = engine.clock.now()
    return {
        "devices": [engine.device_view(d) for d in engine.devices if d in view.devices],
        "links": [engine.link_view(lk) for lk in engine.links if lk in view.links],
        "alerts": [
            alert_view(a, silenced=engine.alerts.silenced(a, now))
            for a in engine.alerts.open_alerts()
            if view.sees(a.subject)
        ],
    }


def _sse(wire_id: str, kind: str, data: str) -> bytes:
    return f"id: {wire_id}\nevent: {kind}\ndata: {data}\n\n".encode()


KEEP_ALIVE = b": keep-alive\n\n"


async def stream(request: web.Request) -> web.StreamResponse:
    """The live stream. Ids are ``<epoch>-<n>`` (see :class:`~eventops.monitor.bus.EventBus`):
    a ``Last-Event-ID`` of this run gets the gap (or a snapshot when the gap is no
    longer kept); any other (another run, the future, a plain number) a snapshot.
    Every connection gets a keep-alive comment when nothing was written *to it* for
    the heartbeat interval, whatever the other clients receive."""
    current_user(request)
    engine = _engine(request)
    bus = engine.bus
    last = request.headers.get("Last-Event-ID") or request.query.get("last_event_id")
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    task = asyncio.current_task()
    assert task is not None
    request.app[STREAMS].add(task)
    heartbeat = request.app[HEARTBEAT_S]
    loop = asyncio.get_running_loop()
    written = loop.time()

    async def write(chunk: bytes) -> None:
        nonlocal written
        await resp.write(chunk)
        written = loop.time()

    try:
        with bus.subscribe() as sub:
            view = view_of(request)
            point = bus.resume_point(last)
            backlog = bus.since(point) if point is not None else None
            if backlog is None:
                snap_id = bus.last_id
                await write(_sse(bus.wire_id(snap_id), "snapshot", view.dumps(_snapshot(view))))
                # events already in the queue up to the snapshot are in it
                drop_upto = snap_id
            else:
                for ev in backlog:
                    if view.sees_event(ev.scope, ev.subject, ev.authorities):
                        await write(_sse(bus.wire_id(ev.id), ev.type, view.dumps(ev.as_dict())))
                drop_upto = backlog[-1].id if backlog else (point or 0)
            while True:
                wait = max(0.0, written + heartbeat - loop.time())
                try:
                    ev = await asyncio.wait_for(sub.get(), timeout=wait)
                except TimeoutError:
                    if not still_valid(request):
                        break
                    await write(KEEP_ALIVE)
                    continue
                if sub.overflowed:
                    await write(_sse(bus.wire_id(ev.id), "resync", "{}"))
                    break
                if ev.id <= drop_upto:
                    continue
                if ev.type == "reload":
                    if not still_valid(request):
                        break  # token revoked by the reload
                    view = view_of(request)
                if view.sees_event(ev.scope, ev.subject, ev.authorities):
                    await write(_sse(bus.wire_id(ev.id), ev.type, view.dumps(ev.as_dict())))
    except ConnectionResetError:
        pass  # the client went away
    finally:
        request.app[STREAMS].discard(task)
    return resp


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
    app.on_shutdown.append(_close_streams)
    r = app.router
    r.add_get("/healthz", healthz)
    r.add_get("/static/status.css", _static(pages.STATUS_CSS, "text/css"))
    r.add_get("/static/status.js", _static(pages.STATUS_JS, "text/javascript"))
    r.add_get("/status", status_page)
    r.add_get("/metrics", metrics)
    r.add_get("/api/v1/whoami", whoami)
    r.add_get("/api/v1/openapi.json", openapi)
    r.add_get("/api/v1/status", status_json)
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
    from eventops.server.probe import mount_probes
    from eventops.server.provision import PROVISION, mount_provisioning
    from eventops.server.wall import WALL, mount_wall

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


async def _close_streams(app: web.Application) -> None:
    streams: set[asyncio.Task[Any]] = app[STREAMS]
    tasks = [*streams]
    streams.clear()
    await cancel_and_wait(tasks)


def ssl_context(cert: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx
