"""JSON-able views of the engine's devices and links (what the API serves)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from eventops.adapters.base import Capabilities, OpticStatus, driver_class
from eventops.engine import readings as _readings
from eventops.engine.state import alert_view
from eventops.errors import EventOpsError, InvalidRequest, NotFound
from eventops.i18n import Msg, refusal
from eventops.monitor import checks as chk
from eventops.monitor.history import TimelineEntry
from eventops.monitor.history import timeline_page as _timeline_page
from eventops.profile.models import Endpoint, Link, Mast, Switch
from eventops.store.models import HandoverRow
from eventops.store.timeline import TimelineKey

if TYPE_CHECKING:
    from eventops.engine.monitoring import Engine


def capabilities_of(device: Mast | Switch) -> Capabilities:
    """What the device's driver declares it can do (read from the class: no I/O)."""
    try:
        return driver_class(device.driver).capabilities
    except EventOpsError:
        return Capabilities(reboot=False)


def _msg_fields(prefix: str, msg: Msg | None) -> dict[str, Any]:
    """``<prefix>_id`` and ``<prefix>_params`` of a view (clients render them)."""
    if msg is None:
        return {f"{prefix}_id": None, f"{prefix}_params": {}}
    d = msg.as_dict()
    return {f"{prefix}_id": d["msg_id"], f"{prefix}_params": d["params"]}


def device_view(engine: Engine, device_id: str) -> dict[str, Any]:
    st = engine.devices[device_id]
    d = engine.profile.device(device_id)
    now = engine.clock.now()
    fresh = chk.freshness(st.last_ok, now, st.interval_s, engine.profile.event.tz)
    s = st.cur
    return {
        "id": st.id,
        "kind": st.kind,
        "site": d.site,
        "reachable": st.reachable,
        "error": st.error,
        **_msg_fields("error", st.error_msg),
        "health": st.health.level.label if st.reachable is not None else "unknown",
        "score": st.health.score,
        "reason": st.health.reason,
        **_msg_fields("reason", st.health.msg),
        "since": st.since.isoformat() if st.since else None,
        "stale": fresh.stale,
        "as_of": fresh.as_of.isoformat() if fresh.as_of else None,
        "stale_label": fresh.label,
        "maintenance": device_id in engine.maintenance,
        "interval_s": st.interval_s,
        "uptime_s": (s.system.uptime_s if s.system else s.facts.uptime_s) if s else None,
        "clients": sum(len(r.clients) for r in s.radios) if s else None,
        "checks": [c.as_dict() for c in st.checks],
        "uplink": d.uplink if isinstance(d, Mast) else None,
        "capabilities": engine.capabilities(device_id).model_dump(mode="json"),
        "location": d.location.model_dump(mode="json"),
        "source": "this" if st.reachable is not None else None,
        "stored_at": None,
        **(_readings.device_fields(engine, device_id) or {}),
    }


def device_detail(engine: Engine, device_id: str) -> dict[str, Any]:
    """:meth:`device_view` plus the last polled status: facts, radios with their
    clients, interfaces and optics (empty lists before the first good poll)."""
    out = device_view(engine, device_id)
    s = engine.devices[device_id].cur
    out["status_ts"] = s.ts.isoformat() if s else None
    out["facts"] = s.facts.model_dump(mode="json") if s else None
    out["system"] = s.system.model_dump(mode="json") if s and s.system else None
    out["radios"] = [r.model_dump(mode="json") for r in s.radios] if s else []
    out["interfaces"] = [i.model_dump(mode="json") for i in s.interfaces] if s else []
    out["optics"] = [optic_view(engine, device_id, o) for o in s.optics] if s else []
    return out


def optic_view(engine: Engine, device_id: str, optic: OpticStatus) -> dict[str, Any]:
    """One optic with its rx margin above the sensitivity of the link's optic
    type, when a link of the profile ends on this port (the link id is given
    too; the API redacts it for an authority that must not see it)."""
    o = optic.model_dump(mode="json")
    o["margin_db"] = None
    o["link"] = None
    for link in engine.links_of(device_id):
        for end in (link.a, link.b):
            if end.device == device_id and end.port == optic.port:
                o["link"] = link.id
                rx = chk.optic_rx(optic)
                if rx is not None:
                    o["margin_db"] = round(chk.rx_margin(rx, link.optic), 2)
                o["peer"] = peer_optic(engine, link, end)
    return o


def peer_optic(engine: Engine, link: Link, end: Endpoint) -> dict[str, Any] | None:
    """The far end's optic of ``link`` as last polled (None if never polled)."""
    far = link.b if end is link.a else link.a
    st = engine.devices.get(far.device)
    optic = chk.find_optic(st.cur if st else None, far.port)
    if optic is None:
        return None
    rx = chk.optic_rx(optic)
    return {
        "device": far.device,
        "port": far.port,
        "rx_power_dbm": optic.rx_power_dbm,
        "tx_power_dbm": optic.tx_power_dbm,
        "laser_bias_ma": optic.laser_bias_ma,
        "temperature_c": optic.temperature_c,
        "margin_db": None if rx is None else round(chk.rx_margin(rx, link.optic), 2),
    }


def link_view(engine: Engine, link_id: str) -> dict[str, Any]:
    ls = engine.links[link_id]
    link = engine.profile.link(link_id)
    now = engine.clock.now()
    interval = max(
        engine.devices[link.a.device].interval_s, engine.devices[link.b.device].interval_s
    )
    fresh = chk.freshness(ls.last_ok, now, interval, engine.profile.event.tz)
    proof = ls.proof
    polled = any(engine.devices[e.device].reachable is not None for e in (link.a, link.b))
    return {
        "id": link.id,
        "name": link.name or link.id,
        "state": ls.state,
        "since": ls.since.isoformat() if ls.since else None,
        "reason": ls.reason,
        **_msg_fields("reason", ls.reason_msg),
        "health": ls.health.level.label,
        "score": ls.health.score,
        "capacity_mbps": link.capacity_mbps,
        "optic": link.optic,
        "in_mbps": None if ls.in_bps is None else ls.in_bps / 1e6,
        "out_mbps": None if ls.out_bps is None else ls.out_bps / 1e6,
        "utilisation_pct": ls.utilisation_pct,
        "rate_note": ls.rate_note,
        **_msg_fields("rate_note", ls.rate_note_msg),
        "rx_dbm": ls.rx_dbm,
        "margin_db": ls.margin_db,
        "baseline_dbm": ls.baseline,
        "handed_to": ls.handed_to,
        "proof": None
        if proof is None
        else {
            "ts": proof.ts.isoformat(),
            "kind": proof.kind,
            "passed": proof.passed,
            "throughput_mbps": proof.throughput_mbps,
        },
        "stale": fresh.stale,
        "as_of": fresh.as_of.isoformat() if fresh.as_of else None,
        "stale_label": fresh.label,
        "a": end_view(engine, link.a),
        "b": end_view(engine, link.b),
        "authorities": list(link.authorities),
        "checks": [c.as_dict() for c in ls.checks],
        "source": "this" if polled else None,
        "stored_at": None,
        **(_readings.link_fields(engine, link) or {}),
    }


def end_view(engine: Engine, end: Endpoint) -> dict[str, Any]:
    """One end of a link: device, port and where the device stands (no description)."""
    loc = engine.profile.device(end.device).location
    return {"device": end.device, "port": end.port, "lat": loc.lat, "lon": loc.lon}


# -- reads the API serves (the caller's view filters them) ------------------------------------


async def alerts(
    engine: Engine,
    *,
    include_closed: bool,
    after_id: int | None = None,
    limit: int | None = None,
    subjects: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """Alerts in id order after ``after_id``, at most ``limit``, about ``subjects`` (None:
    any). The open ones come from memory; with the closed ones, the store reads the page."""
    now = engine.clock.now()
    if include_closed:
        rows = await engine.store.list_alerts(after_id=after_id, limit=limit, subjects=subjects)
    else:
        rows = [
            a
            for a in sorted(engine.alerts.open_alerts(), key=lambda a: a.id or 0)
            if (after_id is None or (a.id or 0) > after_id)
            and (subjects is None or a.subject in subjects)
        ][:limit]
    return [alert_view(a, silenced=engine.alerts.silenced(a, now)) for a in rows]


def silences(engine: Engine) -> list[dict[str, Any]]:
    return [
        {
            "id": s.id,
            "matchers": s.matchers,
            "until": s.until.isoformat(),
            "by": s.by,
            "note": s.note,
        }
        for s in engine.alerts.silences
    ]


async def history(
    engine: Engine,
    device: str,
    metric: str,
    since: datetime | None,
    until: datetime | None,
    *,
    after_ts: datetime | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """The series' points in ``since``..``until`` (the last hour by default). A page: from
    the time ``after_ts`` on (all of its points), at least ``limit`` of them, ending with
    every point of the last time (the store reads that page, not the whole window)."""
    if not device or not metric:
        raise refusal(InvalidRequest, Msg("err.device_metric"))
    end = until or engine.clock.now()
    start = since or end - timedelta(hours=1)
    ms = timedelta(milliseconds=1)
    if after_ts is not None and after_ts - start > ms:  # (a ms early: the store's are whole)
        start = after_ts - ms
    samples = await engine.store.query_samples(device, metric, start, end, limit=limit)
    return {
        "device": device,
        "metric": metric,
        "points": [[s.ts.isoformat(), s.value] for s in samples],
    }


async def timeline(
    engine: Engine,
    since: datetime | None,
    until: datetime | None,
    *,
    after: TimelineKey | None,
    limit: int,
) -> list[TimelineEntry]:
    """At most ``limit + 1`` of the timeline's entries after the key ``after``, in its order
    (the server serves ``limit`` of them; one more tells it a next page follows). The store
    reads only that page's rows."""
    return await _timeline_page(engine.store, after=after, limit=limit, since=since, until=until)


async def handovers(engine: Engine) -> list[HandoverRow]:
    return await engine.store.list_handovers()


async def handover_record(engine: Engine, handover_id: int) -> HandoverRow:
    row = next((h for h in await engine.store.list_handovers() if h.id == handover_id), None)
    if row is None:
        raise refusal(NotFound, Msg("err.no_handover", {"id": handover_id}))
    return row
