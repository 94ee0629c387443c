"""The engine's per-device and per-link state, and pure helpers over it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from eventops.adapters.base import DeviceStatus
from eventops.i18n import Msg
from eventops.monitor import checks as chk
from eventops.monitor.checks import CheckResult, Health, Level, ProbeSummary
from eventops.monitor.rates import PortRates, port_rates
from eventops.profile.models import Mast, Switch
from eventops.store.models import AlertRow, Sample

LinkStateName = Literal["up", "degraded", "down", "unknown"]


NOT_POLLED = Health(Level.ok, 1000, "not polled yet", msg=Msg("health.not_polled"))


@dataclass
class DeviceState:
    id: str
    kind: str
    interval_s: float
    cur: DeviceStatus | None = None
    prev: DeviceStatus | None = None
    reachable: bool | None = None
    """None until the first poll finished."""
    last_ok: datetime | None = None
    last_poll: datetime | None = None
    error: str = ""
    error_msg: Msg | None = None
    """Why the last poll failed, as a message (``error`` in English)."""
    failures: int = 0
    poll_duration_s: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    health: Health = NOT_POLLED
    since: datetime | None = None
    """When the health level last changed."""
    stored: dict[str, Sample] = field(default_factory=dict)
    """A standby's copy of the active engine's newest stored samples, by metric
    (:mod:`eventops.engine.readings`)."""


@dataclass
class LinkState:
    id: str
    state: LinkStateName = "unknown"
    since: datetime | None = None
    reason: str = "not polled yet"
    reason_msg: Msg | None = NOT_POLLED.msg
    checks: list[CheckResult] = field(default_factory=list)
    health: Health = NOT_POLLED
    rx_dbm: dict[str, float | None] = field(default_factory=dict)
    margin_db: float | None = None
    in_bps: float | None = None
    out_bps: float | None = None
    utilisation_pct: float | None = None
    rate_note: str = ""
    """Why there is no rate (in/out/utilisation None), e.g. "counter wrapped (in-octets)"."""
    rate_note_msg: Msg | None = None
    """``rate_note`` as a message (eventops.i18n)."""
    last_ok: datetime | None = None
    proof: ProbeSummary | None = None
    baseline: dict[str, float | None] = field(default_factory=dict)
    handed_to: str | None = None
    down_since_poll: bool = False
    """The link was down until ``since``: masts behind it not yet re-polled stay upstream-down."""


def poll_offset(device_id: str, interval_s: float) -> float:
    """A stable offset within the interval, from the device id (same after a reload)."""
    h = int.from_bytes(hashlib.blake2b(device_id.encode(), digest_size=4).digest(), "big")
    return interval_s * (h / 2**32)


def device_kind(device: Mast | Switch) -> Literal["mast", "switch", "media-converter"]:
    return "mast" if isinstance(device, Mast) else device.kind


def samples_of(st: DeviceState, now: datetime) -> list[Sample]:
    """The samples one poll of ``st`` yields (stored by the engine)."""
    out = [Sample(ts=now, device=st.id, metric="reachable", value=float(bool(st.reachable)))]
    s = st.cur
    if st.reachable and s is not None:
        out.append(Sample(ts=now, device=st.id, metric="poll_s", value=st.poll_duration_s))
        if s.system is not None:
            out.append(Sample(ts=now, device=st.id, metric="uptime_s", value=s.system.uptime_s))
            if s.system.load is not None:
                out.append(Sample(ts=now, device=st.id, metric="load1", value=s.system.load[0]))
            if s.system.memory_total and s.system.memory_available is not None:
                pct = 100.0 * s.system.memory_available / s.system.memory_total
                out.append(Sample(ts=now, device=st.id, metric="mem_free_pct", value=pct))
        for r in s.radios:
            tag = r.band or r.name
            out.append(Sample(ts=now, device=st.id, metric=f"clients.{tag}", value=len(r.clients)))
            if r.utilisation_pct is not None:
                out.append(
                    Sample(ts=now, device=st.id, metric=f"util.{tag}", value=r.utilisation_pct)
                )
            if r.noise_dbm is not None:
                out.append(Sample(ts=now, device=st.id, metric=f"noise.{tag}", value=r.noise_dbm))
        prev = {i.name: i for i in st.prev.interfaces} if st.prev else {}
        for i in s.interfaces:
            out.append(
                Sample(
                    ts=now,
                    device=st.id,
                    metric=f"oper_up.{i.name}",
                    value=float(i.oper_status == "UP"),
                )
            )
            rates = port_rates(st.prev, prev.get(i.name), s, i)
            if isinstance(rates, PortRates):  # no sample where the readings give no rate
                out.append(
                    Sample(ts=now, device=st.id, metric=f"in_bps.{i.name}", value=rates.in_bps)
                )
                out.append(
                    Sample(ts=now, device=st.id, metric=f"out_bps.{i.name}", value=rates.out_bps)
                )
        for o in s.optics:
            rx = chk.optic_rx(o)
            if rx is not None:
                out.append(Sample(ts=now, device=st.id, metric=f"rx_dbm.{o.port}", value=rx))
            if o.tx_power_dbm:
                out.append(
                    Sample(
                        ts=now,
                        device=st.id,
                        metric=f"tx_dbm.{o.port}",
                        value=min(o.tx_power_dbm),
                    )
                )
    return out


def probe_throughput_mbps(result: dict[str, Any]) -> float | None:
    """The delivered rate a probe result proves, in Mb/s, whatever its shape.

    ``throughput_mbps`` / ``received_mbps`` (Mb/s), ``bits_per_second`` or
    ``received_bps`` (bit/s), or iperf3's ``end.sum_received.bits_per_second``.
    """
    for key, scale in (
        ("throughput_mbps", 1.0),
        ("received_mbps", 1.0),
        ("received_bps", 1e-6),
        ("bits_per_second", 1e-6),
    ):
        v = result.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v) * scale
    end = result.get("end")
    if isinstance(end, dict):
        rx = end.get("sum_received")
        if isinstance(rx, dict) and isinstance(rx.get("bits_per_second"), int | float):
            return float(rx["bits_per_second"]) / 1e6
    return None


def alert_view(alert: AlertRow, *, silenced: bool = False) -> dict[str, Any]:
    d = alert.model_dump(mode="json")
    d["silenced"] = silenced
    return d
