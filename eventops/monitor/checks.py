"""Health rules as pure functions.

Every check takes plain data (a device's status, the previous status, the
profile's settings) and returns :class:`CheckResult` values: ok, warning or
critical, each with a reason a technician can act on. Nothing here does IO or
reads a clock: the caller passes ``now`` where time matters.

A device's health is the worst of its checks, with a 0-1000 score to sort by
(1000 healthy, 0 unreachable); a fibre link combines the port checks of both
ends with its last probe result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from zoneinfo import ZoneInfo

from eventops.adapters.base import (
    DeviceStatus,
    InterfaceStatus,
    OpticStatus,
    RadioStatus,
)
from eventops.monitor.rates import NoRate, PortRates, port_rates
from eventops.profile.models import AlertTolerances, Link, Mast, Profile, Radio, RxThresholds


class Level(IntEnum):
    ok = 0
    warning = 1
    critical = 2

    @property
    def label(self) -> str:
        return self.name


@dataclass(frozen=True)
class CheckResult:
    name: str
    """Stable check name, e.g. ``radio.5g.channel`` or ``rx_power.a``."""
    level: Level
    reason: str
    value: float | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "level": self.level.label,
            "reason": self.reason,
            "value": self.value,
        }


def ok(name: str, reason: str = "ok", value: float | None = None) -> CheckResult:
    return CheckResult(name, Level.ok, reason, value)


def warn(name: str, reason: str, value: float | None = None) -> CheckResult:
    return CheckResult(name, Level.warning, reason, value)


def crit(name: str, reason: str, value: float | None = None) -> CheckResult:
    return CheckResult(name, Level.critical, reason, value)


@dataclass(frozen=True)
class Health:
    level: Level
    score: int
    """0-1000: 1000 healthy; the worst check sets the band, each further problem lowers it."""
    reason: str
    checks: tuple[CheckResult, ...] = ()

    @property
    def problems(self) -> list[CheckResult]:
        return [c for c in self.checks if c.level is not Level.ok]


_BAND_SCORE = {Level.ok: 1000, Level.warning: 600, Level.critical: 200}


def health(checks: Iterable[CheckResult], *, reachable: bool = True) -> Health:
    """The worst check wins; the score sorts devices within a level."""
    items = tuple(checks)
    if not reachable:
        return Health(Level.critical, 0, "unreachable", items)
    if not items:
        return Health(Level.ok, 1000, "ok", items)
    worst = max(items, key=lambda c: c.level)
    rest = [c for c in items if c.level is not Level.ok and c is not worst]
    others = len(rest)
    deduct = sum(40 if c.level is Level.critical else 20 for c in rest)
    floor = {Level.ok: 1000, Level.warning: 301, Level.critical: 1}[worst.level]
    score = max(floor, _BAND_SCORE[worst.level] - deduct)
    reason = worst.reason if worst.level else "ok"
    if others:
        reason += f" (+{others} more)"
    return Health(worst.level, score, reason, items)


# -- masts ----------------------------------------------------------------------


@dataclass(frozen=True)
class MastLimits:
    """Thresholds for mast checks that the profile does not carry."""

    clients_warn: int = 80
    clients_crit: int = 120
    noise_warn_dbm: float = -85.0
    noise_crit_dbm: float = -75.0
    load_warn: float = 2.0
    load_crit: float = 4.0
    mem_warn_pct: float = 15.0
    mem_crit_pct: float = 5.0
    tx_power_low_db: float = 3.0
    """A radio transmitting this much below its provisioned power is a warning."""
    uplink_min_mbps: float = 1000.0
    utilisation_warn_pct: float = 70.0
    utilisation_crit_pct: float = 90.0


UPLINK_NAMES = ("uplink", "wan", "lan", "eth0")


def provisioned_radios(profile: Profile, mast: Mast) -> list[Radio]:
    """The radios a mast should run: its own, else its site's, else the event defaults."""
    if mast.radios is not None:
        return list(mast.radios)
    site = profile.site_of(mast)
    if site is not None and site.mast.radios is not None:
        return list(site.mast.radios)
    return list(profile.defaults.mast.radios or [])


def _radio_for(radios: Sequence[RadioStatus], band: str) -> RadioStatus | None:
    for r in radios:
        if r.band == band:
            return r
    return None


def check_radio(
    want: Radio, got: RadioStatus | None, limits: MastLimits = MastLimits()
) -> list[CheckResult]:
    n = f"radio.{want.band}"
    if got is None:
        return [crit(n, f"{want.band} radio missing")]
    if not got.up:
        return [crit(n, f"{want.band} radio {got.name} is down")]
    out = [ok(n, f"{want.band} radio up")]
    if got.channel is not None and got.channel != want.channel:
        out.append(
            warn(
                f"{n}.channel", f"{want.band} on channel {got.channel}, provisioned {want.channel}"
            )
        )
    if got.width_mhz is not None and got.width_mhz != want.width:
        out.append(
            warn(f"{n}.width", f"{want.band} width {got.width_mhz} MHz, provisioned {want.width}")
        )
    if got.tx_power_dbm is not None:
        if got.tx_power_dbm > want.tx_power_dbm + 1:
            out.append(
                crit(
                    f"{n}.txpower",
                    f"{want.band} tx power {got.tx_power_dbm:g} dBm above provisioned "
                    f"{want.tx_power_dbm:g} dBm",
                    got.tx_power_dbm,
                )
            )
        elif got.tx_power_dbm < want.tx_power_dbm - limits.tx_power_low_db:
            out.append(
                warn(
                    f"{n}.txpower",
                    f"{want.band} tx power {got.tx_power_dbm:g} dBm, provisioned "
                    f"{want.tx_power_dbm:g} dBm",
                    got.tx_power_dbm,
                )
            )
    clients = len(got.clients)
    if clients >= limits.clients_crit:
        out.append(crit(f"{n}.clients", f"{clients} clients on {want.band}", clients))
    elif clients >= limits.clients_warn:
        out.append(warn(f"{n}.clients", f"{clients} clients on {want.band}", clients))
    if got.utilisation_pct is not None:
        u = got.utilisation_pct
        if u >= limits.utilisation_crit_pct:
            out.append(crit(f"{n}.utilisation", f"{want.band} channel {u:.0f}% busy", u))
        elif u >= limits.utilisation_warn_pct:
            out.append(warn(f"{n}.utilisation", f"{want.band} channel {u:.0f}% busy", u))
    if got.noise_dbm is not None:
        nz = got.noise_dbm
        if nz >= limits.noise_crit_dbm:
            out.append(crit(f"{n}.noise", f"{want.band} noise floor {nz:g} dBm", nz))
        elif nz >= limits.noise_warn_dbm:
            out.append(warn(f"{n}.noise", f"{want.band} noise floor {nz:g} dBm", nz))
    return out


def mast_uplink(status: DeviceStatus) -> InterfaceStatus | None:
    """The interface that carries the mast's traffic.

    The first of the usual uplink names that is up (a mast fed on its LAN
    bridge leaves ``wan`` unplugged); if none is up, the first that exists.
    """
    by_name = {i.name: i for i in status.interfaces}
    known = [by_name[n] for n in UPLINK_NAMES if n in by_name]
    for iface in known:
        if iface.oper_status == "UP" and iface.carrier is not False:
            return iface
    if known:
        return known[0]
    return status.interfaces[0] if status.interfaces else None


def check_uplink(iface: InterfaceStatus | None, limits: MastLimits = MastLimits()) -> CheckResult:
    if iface is None:
        return ok("uplink", "uplink not reported")
    if iface.carrier is False or iface.oper_status in ("DOWN", "LOWER_LAYER_DOWN"):
        return crit("uplink", f"uplink {iface.name} has no carrier")
    if iface.speed_mbps is not None and iface.speed_mbps < limits.uplink_min_mbps:
        return warn(
            "uplink.speed",
            f"uplink {iface.name} at {iface.speed_mbps:g} Mb/s (expected {limits.uplink_min_mbps:g})",
            iface.speed_mbps,
        )
    return ok("uplink", f"uplink {iface.name} up")


def check_system(status: DeviceStatus, limits: MastLimits = MastLimits()) -> list[CheckResult]:
    sysinfo = status.system
    if sysinfo is None:
        return []
    out: list[CheckResult] = []
    if sysinfo.load is not None:
        load1 = sysinfo.load[0]
        if load1 >= limits.load_crit:
            out.append(crit("cpu", f"load {load1:.2f}", load1))
        elif load1 >= limits.load_warn:
            out.append(warn("cpu", f"load {load1:.2f}", load1))
        else:
            out.append(ok("cpu", f"load {load1:.2f}", load1))
    if sysinfo.memory_total and sysinfo.memory_available is not None:
        pct = 100.0 * sysinfo.memory_available / sysinfo.memory_total
        if pct <= limits.mem_crit_pct:
            out.append(crit("memory", f"{pct:.0f}% memory free", pct))
        elif pct <= limits.mem_warn_pct:
            out.append(warn("memory", f"{pct:.0f}% memory free", pct))
        else:
            out.append(ok("memory", f"{pct:.0f}% memory free", pct))
    return out


def check_reboot(prev: DeviceStatus | None, cur: DeviceStatus) -> CheckResult:
    """A reboot shows as uptime going backwards between two polls."""
    if prev is None:
        return ok("reboot", "first poll")
    before, after = _uptime(prev), _uptime(cur)
    if cur.mono is not None and prev.mono is not None:
        elapsed = cur.mono - prev.mono
    else:
        elapsed = (cur.ts - prev.ts).total_seconds()
    # a device that rebooted since the last poll has been up for less than the time since;
    # an uptime that only went down (the device's clock was set back) is no reboot
    if after + 1.0 < before + elapsed and after < before and after <= elapsed + 5.0:
        return warn("reboot", f"rebooted (uptime {after:.0f} s, was {before:.0f} s)", after)
    return ok("reboot", f"up {after:.0f} s", after)


def _uptime(s: DeviceStatus) -> float:
    return s.system.uptime_s if s.system is not None else s.facts.uptime_s


def mast_checks(
    profile: Profile,
    mast: Mast,
    cur: DeviceStatus,
    prev: DeviceStatus | None = None,
    limits: MastLimits | None = None,
) -> list[CheckResult]:
    lim = limits or MastLimits(
        utilisation_warn_pct=profile.alerts.utilisation_warn_pct,
        utilisation_crit_pct=profile.alerts.utilisation_crit_pct,
    )
    out: list[CheckResult] = [check_reboot(prev, cur)]
    radios_na = not_available(cur, "iwinfo")
    for want in provisioned_radios(profile, mast):
        if not want.enabled:
            continue
        if radios_na is not None and _radio_for(cur.radios, want.band) is None:
            out.append(ok(f"radio.{want.band}", radios_na))
        else:
            out.extend(check_radio(want, _radio_for(cur.radios, want.band), lim))
    uplink_na = not_available(cur, "network.interface")
    if uplink_na is not None and not cur.interfaces:
        out.append(ok("uplink", uplink_na))
    else:
        out.append(check_uplink(mast_uplink(cur), lim))
    system_na = not_available(cur, "system")
    if system_na is not None and cur.system is None:
        out.append(ok("system", system_na))
    out.extend(check_system(cur, lim))
    return out


def not_available(status: DeviceStatus, obj: str) -> str | None:
    """``"not available: <reason>"`` if the device does not offer ``obj`` (absent or
    denied by the ACL): its checks are shown as such, never alerted on."""
    if obj not in status.unsupported:
        return None
    return f"not available: {status.unavailable.get(obj, f'{obj} not offered')}"


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
        return warn(name, "no rx power reading")
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
    text = f"rx {rx_dbm:.1f} dBm, margin {margin:.1f} dB ({optic})"
    if rx_dbm <= crit_low or rx_dbm >= crit_high:
        return crit(name, text, rx_dbm)
    if rx_dbm <= warn_low or rx_dbm >= warn_high:
        return warn(name, text, rx_dbm)
    return ok(name, text, rx_dbm)


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
        return ok(name, "no rx reading")
    worst = Level.ok
    why = "within module thresholds"
    for sev, th in optic.thresholds.items():
        level = _MODULE_SEVERITY.get(sev.lower())
        if level is None:
            continue
        if th.input_power_lower is not None and rx < th.input_power_lower and level > worst:
            worst, why = level, f"rx {rx:.1f} dBm below module {sev} {th.input_power_lower:g} dBm"
        if th.input_power_upper is not None and rx > th.input_power_upper and level > worst:
            worst, why = level, f"rx {rx:.1f} dBm above module {sev} {th.input_power_upper:g} dBm"
    return CheckResult(name, worst, why, rx)


def check_drift(
    name: str, rx_dbm: float | None, baseline_dbm: float | None, tol: AlertTolerances
) -> CheckResult:
    """A drop from the handover baseline: a bend, a dirty connector, a crushed cable."""
    if rx_dbm is None or baseline_dbm is None:
        return ok(name, "no baseline")
    drop = baseline_dbm - rx_dbm
    text = f"rx {drop:+.1f} dB below handover baseline {baseline_dbm:.1f} dBm"
    if drop >= tol.drift_crit_db:
        return crit(name, text, drop)
    if drop >= tol.drift_warn_db:
        return warn(name, text, drop)
    return ok(name, f"within {max(drop, 0.0):.1f} dB of baseline", drop)


def no_rate(name: str, rates: NoRate | None) -> CheckResult:
    """The check's result when the readings give no rate (marked, never an alert)."""
    if rates is None:
        return ok(name, "no rate yet")
    return ok(name, f"no rate: {rates.reason}")


def check_errors(
    name: str, rates: PortRates | NoRate | None, crit_per_s: float = 10.0
) -> CheckResult:
    if not isinstance(rates, PortRates):
        return no_rate(name, rates)
    per_s = rates.errors / rates.seconds
    if rates.errors and per_s >= crit_per_s:
        return crit(name, f"{rates.errors} input errors in {rates.seconds:.0f} s", per_s)
    if rates.errors:
        return warn(name, f"{rates.errors} input errors in {rates.seconds:.0f} s", per_s)
    return ok(name, "no errors", 0.0)


def check_flaps(name: str, rates: PortRates | NoRate | None) -> CheckResult:
    """Carrier lost and regained between two polls: a flap oper-status alone never shows.

    A single transition is a plain up or down, which the link state reports.
    """
    if isinstance(rates, NoRate):
        return ok(name, f"no count: {rates.reason}")
    if rates is None or rates.carrier_transitions < 2:
        return ok(name, "carrier stable", float(rates.carrier_transitions if rates else 0))
    n = rates.carrier_transitions
    return warn(name, f"carrier changed {n} times in {rates.seconds:.0f} s", float(n))


def check_utilisation(
    name: str, rates: PortRates | NoRate | None, capacity_mbps: float, tol: AlertTolerances
) -> CheckResult:
    if not isinstance(rates, PortRates):
        return no_rate(name, rates)
    pct = 100.0 * max(rates.in_bps, rates.out_bps) / (capacity_mbps * 1e6)
    text = f"{pct:.0f}% of {capacity_mbps:g} Mb/s"
    if pct >= tol.utilisation_crit_pct:
        return crit(name, text, pct)
    if pct >= tol.utilisation_warn_pct:
        return warn(name, text, pct)
    return ok(name, text, pct)


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
        return [crit(f"end.{n}", f"{e.device} unreachable")]
    iface = find_interface(e.cur, e.port)
    if iface is None:
        return [crit(f"oper.{n}", f"{e.device} {e.port} not reported")]
    out: list[CheckResult] = []
    if iface.oper_status != "UP":
        out.append(crit(f"oper.{n}", f"{e.device} {e.port} is {iface.oper_status}"))
    else:
        out.append(ok(f"oper.{n}", f"{e.device} {e.port} up"))
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


def link_down_reason(link: Link, ends: Sequence[EndData]) -> str | None:
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
            return f"{e.device} {e.port} is {iface.oper_status}"
    if seen == 0:
        return "both ends unreachable"
    return None


def check_probe(last: ProbeSummary | None) -> CheckResult:
    if last is None:
        return ok("probe", "no proof yet")
    if last.passed is False:
        return warn("probe", f"last {last.kind} failed at {last.ts:%H:%M:%S}Z")
    return ok("probe", f"last {last.kind} {'passed' if last.passed else 'ran'}")


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
) -> list[CheckResult]:
    out: list[CheckResult] = []
    down = link_down_reason(link, ends)
    out.append(crit("link", f"down: {down}") if down else ok("link", "up"))
    for e in ends:
        out.extend(c for c in end_checks(link, e, tol) if not c.name.startswith("oper."))
    out.append(check_probe(probe))
    return out


# -- staleness --------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    stale: bool
    as_of: datetime | None
    label: str = field(default="")


def freshness(
    last_ok: datetime | None, now: datetime, interval_s: float, tz: ZoneInfo
) -> Freshness:
    """Data older than two poll intervals is stale and shown "as of hh:mm:ss"."""
    if last_ok is None:
        return Freshness(True, None, "no data yet")
    age = (now - last_ok).total_seconds()
    if age > 2 * interval_s:
        return Freshness(True, last_ok, f"as of {last_ok.astimezone(tz):%H:%M:%S}")
    return Freshness(False, last_ok, "")
