"""What a standby shows before it polls: the active engine's last stored readings.

A standby engine polls nothing, so its own state of every device and link is
"not polled yet". The active engine stores every poll as samples
(:func:`~eventops.engine.state.samples_of`); at each election step the
standby reads the newest sample of the series its views show
(:func:`load_stored`: one store query, an index seek per series) and its
device and link views show those figures, marked ``source: "active"`` with the
time of the stored reading (``stored_at``), instead of "not polled yet":

- a device: reachable (the last poll's ``reachable``), the time of its last
  good poll (``poll_s``, written only for a poll that answered: freshness and
  ``as_of`` as for a polled device), uptime and wireless clients;
- a link: rx power at both ends and the margin, and the controller end's
  rates and utilisation.

The verdict is the active engine's too: its open alerts, which the standby
reloads from the store at every step. A link with an open ``down`` alert is
``down``, one with another open warning or critical alert ``degraded`` (the
alert's text is the reason and its time the ``since``), one whose ends both
answered the active engine's last polls, recently, ``up``; otherwise
``unknown``. A device's health is its worst open alert's severity (``ok``
without one, when its last stored poll answered and is not stale). What
samples do not hold is not invented: the checks list stays empty and a
device's detail (radios, interfaces, optics) too. Once this engine has polled
a device itself (after a take-over), its own reading wins.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from eventops.i18n import Msg
from eventops.monitor import checks as chk
from eventops.profile.models import Link, Mast, Profile
from eventops.store.models import AlertRow, Sample

if TYPE_CHECKING:
    from eventops.engine.monitoring import Engine

DEVICE_METRICS = ("reachable", "poll_s", "uptime_s")
END_METRICS = ("rx_dbm", "in_bps", "out_bps")
CLIENT_BANDS = ("2g", "5g", "6g")


def series_of(profile: Profile) -> list[tuple[str, str]]:
    """The ``(device, metric)`` series the views show, for :func:`load_stored`."""
    out = [(d.id, m) for d in profile.devices for m in DEVICE_METRICS]
    for d in profile.devices:
        if isinstance(d, Mast):  # the bands a mast's status may name (adapters.base.RadioStatus)
            out += [(d.id, f"clients.{band}") for band in CLIENT_BANDS]
    for lk in profile.links:
        for end in (lk.a, lk.b):
            out += [(end.device, f"{m}.{end.port}") for m in END_METRICS]
    return sorted(set(out))


async def load_stored(engine: Engine) -> int:
    """Read the newest stored sample of every series into the devices' states; how many
    series had one."""
    found: dict[str, dict[str, Sample]] = {}
    for s in await engine.store.latest_samples(series_of(engine.profile)):
        found.setdefault(s.device, {})[s.metric] = s
    for dev_id, st in engine.devices.items():
        st.stored = found.get(dev_id, {})
    return sum(len(v) for v in found.values())


def _answered(stored: dict[str, Sample]) -> bool:
    r = stored.get("reachable")
    return r is not None and r.value >= 0.5


def _stored_at(stored: dict[str, Sample]) -> datetime | None:
    r = stored.get("reachable")
    return r.ts if r is not None else None


_RANK = {"info": 0, "warning": 1, "critical": 2}


def _worst(alerts: list[AlertRow]) -> AlertRow | None:
    """The most severe of ``alerts`` (warning or critical), the earliest raised first."""
    found = [a for a in alerts if a.severity in ("warning", "critical")]
    return min(found, key=lambda a: (-_RANK[a.severity], a.raised_at), default=None)


def _verdict(alert: AlertRow) -> dict[str, Any]:
    return {
        "health": alert.severity,
        "reason": alert.summary,
        "reason_id": alert.msg_id,
        "reason_params": dict(alert.params) if alert.msg_id else {},
        "since": alert.raised_at.isoformat(),
    }


def device_fields(engine: Engine, device_id: str) -> dict[str, Any] | None:
    """The fields of a device's view from the active engine's stored reading; None when
    this engine polled the device itself or nothing is stored."""
    st = engine.devices[device_id]
    at = _stored_at(st.stored)
    if st.reachable is not None or at is None:
        return None
    good = st.stored.get("poll_s")
    last_ok = good.ts if good is not None else None
    fresh = chk.freshness(last_ok, engine.clock.now(), st.interval_s, engine.profile.event.tz)
    uptime = st.stored.get("uptime_s")
    clients = [s.value for m, s in st.stored.items() if m.startswith("clients.")]
    reachable = _answered(st.stored)
    msg = Msg("health.stored", {"at": at.isoformat()})
    verdict: dict[str, Any] = {
        "health": "ok" if reachable and not fresh.stale else "unknown",
        "reason": msg.text(),
        "reason_id": msg.msg_id,
        "reason_params": msg.as_dict()["params"],
    }
    worst = _worst([a for a in engine.alerts.open_alerts() if a.subject == device_id])
    if worst is not None:
        verdict = _verdict(worst)
    return {
        "reachable": reachable,
        **verdict,
        "stale": fresh.stale,
        "as_of": fresh.as_of.isoformat() if fresh.as_of else None,
        "stale_label": fresh.label,
        "uptime_s": uptime.value if uptime is not None else None,
        "clients": int(sum(clients)) if clients else None,
        "source": "active",
        "stored_at": at.isoformat(),
    }


def link_fields(engine: Engine, link: Link) -> dict[str, Any] | None:
    """The fields of a link's view from the active engine's stored readings of its ends;
    None when this engine polled an end itself or nothing is stored."""
    ends = {"a": engine.devices[link.a.device], "b": engine.devices[link.b.device]}
    if any(st.reachable is not None for st in ends.values()):
        return None
    times = [t for st in ends.values() if (t := _stored_at(st.stored)) is not None]
    if not times:
        return None
    rx: dict[str, float | None] = {}
    for name, end in (("a", link.a), ("b", link.b)):
        s = ends[name].stored.get(f"rx_dbm.{end.port}")
        rx[name] = s.value if s is not None else None
    margins = [chk.rx_margin(v, link.optic) for v in rx.values() if v is not None]
    ctl = link.a if link.controller_end == "a" else link.b
    stored = ends[link.controller_end].stored
    rin, rout = stored.get(f"in_bps.{ctl.port}"), stored.get(f"out_bps.{ctl.port}")
    in_bps = rin.value if rin is not None else None
    out_bps = rout.value if rout is not None else None
    util = None
    if in_bps is not None and out_bps is not None:
        util = 100.0 * max(in_bps, out_bps) / (link.capacity_mbps * 1e6)
    goods = [s.ts for st in ends.values() if (s := st.stored.get("poll_s")) is not None]
    interval = max(st.interval_s for st in ends.values())
    last_ok = min(goods) if len(goods) == 2 else None
    fresh = chk.freshness(last_ok, engine.clock.now(), interval, engine.profile.event.tz)
    at = max(times)
    msg = Msg("health.stored", {"at": at.isoformat()})
    verdict: dict[str, Any] = {
        "state": "unknown",
        "health": "unknown",
        "reason": msg.text(),
        "reason_id": msg.msg_id,
        "reason_params": msg.as_dict()["params"],
    }
    answered = all(_answered(st.stored) for st in ends.values())
    if answered and not fresh.stale:
        up = Msg("link.up")
        verdict.update(state="up", health="ok", reason=up.text(), reason_id=up.msg_id)
        verdict["reason_params"] = {}
    alerts = [a for a in engine.alerts.open_alerts() if a.subject == link.id]
    down = next((a for a in alerts if a.key == f"link:{link.id}:down"), None)
    worst = down or _worst(alerts)
    if worst is not None:
        verdict = {"state": "down" if worst is down else "degraded", **_verdict(worst)}
    return {
        **verdict,
        "rx_dbm": rx,
        "margin_db": min(margins) if margins else None,
        "in_mbps": None if in_bps is None else in_bps / 1e6,
        "out_mbps": None if out_bps is None else out_bps / 1e6,
        "utilisation_pct": util,
        "stale": fresh.stale,
        "as_of": fresh.as_of.isoformat() if fresh.as_of else None,
        "stale_label": fresh.label,
        "source": "active",
        "stored_at": at.isoformat(),
    }
