"""Turning the last polls into checks, health, link state and alert conditions."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from eventops.engine.state import DeviceState, LinkStateName
from eventops.i18n import Msg
from eventops.monitor import checks as chk
from eventops.monitor.alerts import device_conditions, link_conditions
from eventops.monitor.checks import CheckResult, EndData, Level
from eventops.monitor.rates import NoRate, PortRates, port_rates
from eventops.profile.models import Link, Mast

if TYPE_CHECKING:
    from eventops.engine.monitoring import Engine


async def evaluate_device(engine: Engine, st: DeviceState, now: datetime) -> None:
    d = engine.profile.device(st.id)
    checks: list[CheckResult] = []
    if st.reachable and st.cur is not None:
        if isinstance(d, Mast):
            checks = chk.mast_checks(engine.profile, d, st.cur, st.prev)
        else:
            checks = [chk.check_reboot(st.prev, st.cur), *chk.check_system(st.cur)]
    before = st.health.level
    st.checks = checks
    st.health = chk.health(checks, reachable=bool(st.reachable))
    if st.since is None or st.health.level != before:
        st.since = now
    upstream = None
    if isinstance(d, Mast) and d.uplink and not st.reachable:
        ls = engine.links.get(d.uplink)
        # down now, or back up only since this mast's last (failed) poll
        if ls is not None and (
            ls.state == "down"
            or (
                ls.since is not None
                and st.last_poll is not None
                and st.last_poll < ls.since
                and ls.down_since_poll
            )
        ):
            upstream = d.uplink
    conds = device_conditions(
        st.id,
        reachable=bool(st.reachable),
        checks=checks,
        upstream_down=upstream,
        error=st.error,
        error_msg=st.error_msg,
    )
    await engine.alerts.evaluate(st.id, conds, now)
    engine.bus.publish(
        "device", st.id, "device", engine.authorities_of_device(st.id), engine.device_view(st.id)
    )


async def evaluate_link(engine: Engine, link: Link, now: datetime) -> None:
    ls = engine.links[link.id]
    ends = []
    for name, ep in (("a", link.a), ("b", link.b)):
        ds = engine.devices[ep.device]
        ends.append(
            EndData(
                name,
                ep.device,
                ep.port,
                bool(ds.reachable),
                ds.cur,
                ds.prev,
                ls.baseline.get(name),
            )
        )
    checks = chk.link_checks(link, ends, engine.profile.alerts, ls.proof, engine.profile.event.tz)
    reachable = [e for e in ends if e.reachable and e.cur is not None]
    down_msg = chk.link_down_msg(link, ends)
    down = down_msg.text() if down_msg is not None else None
    health = chk.health(checks)
    state: LinkStateName
    if not reachable:
        state = "unknown"
    elif down:
        state = "down"
    elif health.level is not Level.ok:
        state = "degraded"
    else:
        state = "up"
    if state != ls.state:
        ls.since = now
        engine.bus.publish(
            "link.state",
            link.id,
            "link",
            link.authorities,
            {"from": ls.state, "to": state, "reason": down or health.reason},
        )
    prev_state = ls.state
    ls.state, ls.checks, ls.health = state, checks, health
    ls.reason = down or (health.reason if health.level else "up")
    ls.reason_msg = down_msg or (health.msg if health.level else Msg("link.up"))
    if reachable:
        oks = [t for e in reachable if (t := engine.devices[e.device].last_ok) is not None]
        ls.last_ok = min(oks) if oks else ls.last_ok
    ls.rx_dbm = {
        e.end: chk.optic_rx(chk.find_optic(e.cur, e.port)) if e.cur else None for e in ends
    }
    margins = [chk.rx_margin(v, link.optic) for v in ls.rx_dbm.values() if v is not None]
    ls.margin_db = min(margins) if margins else None
    ctl = ends[0] if link.controller_end == "a" else ends[1]
    rates: PortRates | NoRate | None = None
    if ctl.cur is not None and ctl.prev is not None:
        cur_if = chk.find_interface(ctl.cur, ctl.port)
        if cur_if is not None:
            rates = port_rates(
                ctl.prev,
                chk.find_interface(ctl.prev, ctl.port),
                ctl.cur,
                cur_if,
                link.capacity_mbps,
            )
    if isinstance(rates, PortRates):
        ls.in_bps, ls.out_bps = rates.in_bps, rates.out_bps
        ls.utilisation_pct = 100.0 * max(rates.in_bps, rates.out_bps) / (link.capacity_mbps * 1e6)
        ls.rate_note, ls.rate_note_msg = "", None
    elif isinstance(rates, NoRate):  # marked, not a figure: never a utilisation above 100 %
        ls.in_bps = ls.out_bps = ls.utilisation_pct = None
        ls.rate_note, ls.rate_note_msg = rates.reason, rates.msg
    await engine.alerts.evaluate(link.id, link_conditions(link.id, checks), now)
    engine.bus.publish("link", link.id, "link", link.authorities, engine.link_view(link.id))
    if prev_state != state:
        ls.down_since_poll = prev_state == "down"
    if (prev_state == "down") != (state == "down"):
        # masts behind this link: unreachable <-> upstream down, and a prompt re-poll
        for m in engine.profile.masts:
            if m.uplink == link.id and m.id in engine.devices:
                mst = engine.devices[m.id]
                if mst.reachable is False:
                    await evaluate_device(engine, mst, now)
                poller = engine._pollers.get(m.id)
                if poller is not None and prev_state == "down":
                    poller.wake()
