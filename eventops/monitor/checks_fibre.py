"""Fibre checks: optic power and thresholds, drift, errors, flaps, utilisation, links."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from eventops import timefmt
from eventops.adapters.base import (
    DeviceStatus,
    InterfaceStatus,
    OpticStatus,
)
from eventops.i18n import Msg
from eventops.monitor.checks_base import (
    CheckResult,
    Level,
    crit,
    ok,
    result,
    warn,
)
from eventops.monitor.rates import NoRate, PortRates, port_rates
from eventops.profile.models import AlertTolerances, Link, RxThresholds

# -- fibre ------------------------------------------------------------------------


@dataclass(frozen=True)
class OpticWindow:
    sensitivity_dbm: float
    overload_dbm: float


#: Receive windows of the standard optics (IEEE 802.3 clauses 38, 52).
OPTIC_WINDOWS: dict[str, OpticWindow] = {
    "1000BASE-LX": OpticWindow(-19.0, -3.0),
    "1000BASE-BX": OpticWindow(-19.5, -3.0),
    "1000BASE-SX": OpticWindow(-17.0, 0.0),
    "10GBASE-LR": OpticWindow(-14.4, 0.5),
    "10GBASE-SR": OpticWindow(-9.9, -1.0),
}

#: Modules usually alarm this far beyond the window, and warn this far.
MODULE_ALARM_DB = 2.0
MODULE_WARN_DB = 1.0


def module_default_thresholds(optic: str) -> dict[str, tuple[float, float]]:
    """What a typical module's own thresholds are: (lower, upper) by severity."""
    w = OPTIC_WINDOWS[optic]
    return {
        "critical": (w.sensitivity_dbm - MODULE_ALARM_DB, w.overload_dbm + MODULE_ALARM_DB),
        "warning": (w.sensitivity_dbm - MODULE_WARN_DB, w.overload_dbm + MODULE_WARN_DB),
    }


def rx_margin(rx_dbm: float, optic: str) -> float:
    """Headroom above the optic's receive sensitivity, dB (negative: below it).

    This is what a dirty connector or a bend eats into; overload is checked
    separately by :func:`check_rx_power`.
    """
    return rx_dbm - OPTIC_WINDOWS[optic].sensitivity_dbm


def check_rx_power(
    name: str,
    rx_dbm: float | None,
    optic: str,
    tol: AlertTolerances,
    rx: RxThresholds | None = None,
) -> CheckResult:
    """Receive power against the optic's window, with the profile's margins or thresholds."""
    if rx_dbm is None:
        return warn(name, "rx.none")
    w = OPTIC_WINDOWS[optic]
    rx = rx or RxThresholds()
    crit_low = (
        rx.crit_low_dbm
        if rx.crit_low_dbm is not None
        else w.sensitivity_dbm + tol.rx_margin_crit_db
    )
    warn_low = (
        rx.warn_low_dbm
        if rx.warn_low_dbm is not None
        else w.sensitivity_dbm + tol.rx_margin_warn_db
    )
    crit_high = rx.crit_high_dbm if rx.crit_high_dbm is not None else w.overload_dbm
    warn_high = (
        rx.warn_high_dbm if rx.warn_high_dbm is not None else w.overload_dbm - tol.rx_margin_crit_db
    )
    margin = rx_margin(rx_dbm, optic)
    level = (
        Level.critical
        if rx_dbm <= crit_low or rx_dbm >= crit_high
        else Level.warning
        if rx_dbm <= warn_low or rx_dbm >= warn_high
        else Level.ok
    )
    return result(name, level, "rx.power", rx_dbm, dbm=rx_dbm, margin=margin, optic=optic)


_MODULE_SEVERITY = {
    "critical": Level.critical,
    "major": Level.critical,
    "alarm": Level.critical,
    "minor": Level.warning,
    "warning": Level.warning,
}


def check_module_thresholds(name: str, optic: OpticStatus) -> CheckResult:
    """Receive power against the module's own alarm/warning thresholds."""
    rx = min(optic.rx_power_dbm) if optic.rx_power_dbm else None
    if rx is None:
        return ok(name, "module.no_rx")
    worst = ok(name, "module.within", rx)
    for sev, th in optic.thresholds.items():
        level = _MODULE_SEVERITY.get(sev.lower())
        if level is None:
            continue
        lo, hi = th.input_power_lower, th.input_power_upper
        if lo is not None and rx < lo and level > worst.level:
            worst = result(name, level, "module.below", rx, dbm=rx, sev=sev, limit=lo)
        if hi is not None and rx > hi and level > worst.level:
            worst = result(name, level, "module.above", rx, dbm=rx, sev=sev, limit=hi)
    return worst


def check_drift(
    name: str, rx_dbm: float | None, baseline_dbm: float | None, tol: AlertTolerances
) -> CheckResult:
    """A drop from the handover baseline: a bend, a dirty connector, a crushed cable."""
    if rx_dbm is None or baseline_dbm is None:
        return ok(name, "drift.no_baseline")
    drop = baseline_dbm - rx_dbm
    if drop >= tol.drift_crit_db:
        return crit(name, "drift.drop", drop, drop=drop, baseline=baseline_dbm)
    if drop >= tol.drift_warn_db:
        return warn(name, "drift.drop", drop, drop=drop, baseline=baseline_dbm)
    return ok(name, "drift.within", drop, drop=max(drop, 0.0))


def no_rate(name: str, rates: NoRate | None) -> CheckResult:
    """The check's result when the readings give no rate (marked, never an alert)."""
    if rates is None:
        return ok(name, "rate.none")
    return ok(name, "rate.unavailable", why=rates.msg)


def check_errors(
    name: str, rates: PortRates | NoRate | None, crit_per_s: float = 10.0
) -> CheckResult:
    if not isinstance(rates, PortRates):
        return no_rate(name, rates)
    per_s = rates.errors / rates.seconds
    if rates.errors and per_s >= crit_per_s:
        return crit(name, "errors.count", per_s, n=rates.errors, secs=rates.seconds)
    if rates.errors:
        return warn(name, "errors.count", per_s, n=rates.errors, secs=rates.seconds)
    return ok(name, "errors.none", 0.0)


def check_flaps(name: str, rates: PortRates | NoRate | None) -> CheckResult:
    """Carrier lost and regained between two polls: a flap oper-status alone never shows.

    A single transition is a plain up or down, which the link state reports.
    """
    if isinstance(rates, NoRate):
        return ok(name, "rate.unavailable", why=rates.msg)
    if rates is None or rates.carrier_transitions < 2:
        return ok(name, "flaps.stable", float(rates.carrier_transitions if rates else 0))
    n = rates.carrier_transitions
    return warn(name, "flaps.count", float(n), n=n, secs=rates.seconds)


def check_utilisation(
    name: str, rates: PortRates | NoRate | None, capacity_mbps: float, tol: AlertTolerances
) -> CheckResult:
    if not isinstance(rates, PortRates):
        return no_rate(name, rates)
    pct = 100.0 * max(rates.in_bps, rates.out_bps) / (capacity_mbps * 1e6)
    if pct >= tol.utilisation_crit_pct:
        return crit(name, "util.pct", pct, pct=pct, capacity=capacity_mbps)
    if pct >= tol.utilisation_warn_pct:
        return warn(name, "util.pct", pct, pct=pct, capacity=capacity_mbps)
    return ok(name, "util.pct", pct, pct=pct, capacity=capacity_mbps)


def find_interface(status: DeviceStatus | None, port: str) -> InterfaceStatus | None:
    if status is None:
        return None
    return next((i for i in status.interfaces if i.name == port), None)


def find_optic(status: DeviceStatus | None, port: str) -> OpticStatus | None:
    if status is None:
        return None
    return next((o for o in status.optics if o.port == port), None)


def optic_rx(optic: OpticStatus | None) -> float | None:
    if optic is None or not optic.present or not optic.rx_power_dbm:
        return None
    return min(optic.rx_power_dbm)


@dataclass(frozen=True)
class EndData:
    """One end of a fibre link as last polled."""

    end: str
    """``a`` or ``b``."""
    device: str
    port: str
    reachable: bool
    cur: DeviceStatus | None
    prev: DeviceStatus | None = None
    baseline_rx_dbm: float | None = None


def end_checks(link: Link, e: EndData, tol: AlertTolerances) -> list[CheckResult]:
    n = e.end
    if not e.reachable or e.cur is None:
        return [crit(f"end.{n}", "end.unreachable", device=e.device)]
    iface = find_interface(e.cur, e.port)
    if iface is None:
        return [crit(f"oper.{n}", "port.unreported", device=e.device, port=e.port)]
    out: list[CheckResult] = []
    if iface.oper_status != "UP":
        out.append(
            crit(f"oper.{n}", "port.status", device=e.device, port=e.port, status=iface.oper_status)
        )
    else:
        out.append(ok(f"oper.{n}", "port.up", device=e.device, port=e.port))
    optic = find_optic(e.cur, e.port)
    rx = optic_rx(optic)
    if iface.oper_status == "UP" or rx is not None:
        out.append(check_rx_power(f"rx_power.{n}", rx, link.optic, tol, link.rx_power))
    if optic is not None and optic.thresholds:
        out.append(check_module_thresholds(f"rx_module.{n}", optic))
    out.append(check_drift(f"drift.{n}", rx, e.baseline_rx_dbm, tol))
    rates = port_rates(e.prev, find_interface(e.prev, e.port), e.cur, iface, link.capacity_mbps)
    out.append(check_errors(f"errors.{n}", rates))
    out.append(check_flaps(f"flaps.{n}", rates))
    out.append(check_utilisation(f"utilisation.{n}", rates, link.capacity_mbps, tol))
    return out


def link_down_msg(link: Link, ends: Sequence[EndData]) -> Msg | None:
    """Why the link carries no traffic, or None when it is up (or we cannot tell)."""
    seen = 0
    for e in ends:
        if not e.reachable or e.cur is None:
            continue
        iface = find_interface(e.cur, e.port)
        if iface is None:
            continue
        seen += 1
        if iface.oper_status != "UP":
            return Msg(
                "port.status", {"device": e.device, "port": e.port, "status": iface.oper_status}
            )
    if seen == 0:
        return Msg("link.both_unreachable")
    return None


def link_down_reason(link: Link, ends: Sequence[EndData]) -> str | None:
    """:func:`link_down_msg` in English."""
    m = link_down_msg(link, ends)
    return None if m is None else m.text()


def check_probe(last: ProbeSummary | None, tz: tzinfo = UTC) -> CheckResult:
    """The link's last proof; a failed one names its time in the event's zone ``tz``."""
    if last is None:
        return ok("probe", "probe.none")
    if last.passed is False:
        return warn("probe", "probe.failed", kind=last.kind, at=timefmt.utc_z(last.ts), tz=tz)
    return ok("probe", "probe.passed" if last.passed else "probe.ran", kind=last.kind)


@dataclass(frozen=True)
class ProbeSummary:
    ts: datetime
    kind: str
    passed: bool | None
    throughput_mbps: float | None = None


def link_checks(
    link: Link,
    ends: Sequence[EndData],
    tol: AlertTolerances,
    probe: ProbeSummary | None = None,
    tz: tzinfo = UTC,
) -> list[CheckResult]:
    out: list[CheckResult] = []
    down = link_down_msg(link, ends)
    out.append(crit("link", "link.down", why=down.as_dict()) if down else ok("link", "link.up"))
    for e in ends:
        out.extend(c for c in end_checks(link, e, tol) if not c.name.startswith("oper."))
    out.append(check_probe(probe, tz))
    return out
