"""Handing a fibre link over to an authority, with an optical baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventops.errors import Conflict, InvalidRequest, NotFound
from eventops.monitor import checks as chk
from eventops.store.models import HandoverRow

if TYPE_CHECKING:
    from eventops.engine.monitoring import Engine


async def load_handovers(engine: Engine) -> None:
    for h in await engine.store.list_handovers():
        note_handover(engine, h)


def note_handover(engine: Engine, h: HandoverRow) -> None:
    ls = engine.links.get(h.link)
    if ls is None:
        return
    ls.handed_to = h.authority
    ends = h.record.get("ends", {})
    ls.baseline = {k: v.get("rx_dbm") for k, v in ends.items() if isinstance(v, dict)}


async def handover(engine: Engine, link_id: str, authority: str, actor: str) -> HandoverRow:
    """Record the link's optics as the baseline and hand it to ``authority``."""
    try:
        link = engine.profile.link(link_id)
    except KeyError:
        raise NotFound(f"no link {link_id!r} in the profile") from None
    if authority not in {a.id for a in engine.profile.authorities}:
        raise InvalidRequest(f"no authority {authority!r} in the profile")
    if authority not in link.authorities:
        raise InvalidRequest(
            f"link {link_id} is not tagged for {authority} (add it to the link's authorities)"
        )
    now = engine.clock.now()
    ends: dict[str, Any] = {}
    for name, ep in (("a", link.a), ("b", link.b)):
        ds = engine.devices[ep.device]
        fresh = chk.freshness(ds.last_ok, now, ds.interval_s, engine.profile.event.tz)
        if not ds.reachable or ds.cur is None or fresh.stale:
            why = ds.error or fresh.label or "no data"
            raise Conflict(f"no fresh reading from {ep.device} ({why}): cannot take a baseline")
        optic = chk.find_optic(ds.cur, ep.port)
        iface = chk.find_interface(ds.cur, ep.port)
        ends[name] = {
            "device": ep.device,
            "port": ep.port,
            "oper_status": iface.oper_status if iface else "NOT_PRESENT",
            "rx_dbm": chk.optic_rx(optic),
            "tx_dbm": min(optic.tx_power_dbm) if optic and optic.tx_power_dbm else None,
            "bias_ma": min(optic.laser_bias_ma) if optic and optic.laser_bias_ma else None,
            "temperature_c": optic.temperature_c if optic else None,
            "vendor": optic.vendor if optic else "",
            "serial": optic.serial if optic else "",
            "pmd": optic.ethernet_pmd if optic else "",
            "margin_db": chk.rx_margin(v, link.optic)
            if (v := chk.optic_rx(optic)) is not None
            else None,
            "read_at": ds.last_ok.isoformat() if ds.last_ok else None,
        }
    for r in await engine.sync_probe_results():  # a run just now, from another process
        await engine.announce_probe(r)
    acceptance = [
        r for r in await engine.store.list_probe_results(link_id) if r.kind == "acceptance"
    ]
    latest = acceptance[-1] if acceptance else None
    record = {
        "link": {
            "id": link.id,
            "name": link.name,
            "optic": link.optic,
            "length_m": link.length_m,
            "capacity_mbps": link.capacity_mbps,
            "sla": link.sla.model_dump(),
        },
        "authority": {
            "id": authority,
            "name": next(a.name for a in engine.profile.authorities if a.id == authority),
        },
        "event": {
            "id": engine.profile.event.id,
            "name": engine.profile.event.name,
            "timezone": engine.profile.event.timezone,
        },
        "ends": ends,
        "acceptance": None
        if latest is None
        else {
            "id": latest.id,
            "ts": latest.ts.isoformat(),
            "passed": latest.passed,
            "result": latest.result,
        },
        "link_state": engine.links[link_id].state,
    }
    row = HandoverRow(ts=now, link=link_id, authority=authority, actor=actor, record=record)
    hid = await engine.store.add_handover(row)
    row = row.model_copy(update={"id": hid})
    note_handover(engine, row)
    await engine.store.audit(
        actor, "link.handover", link_id, after={"to": authority, "handover": hid}
    )
    engine.bus.publish(
        "handover", link_id, "link", link.authorities, {"id": hid, "to": authority, "by": actor}
    )
    return row
