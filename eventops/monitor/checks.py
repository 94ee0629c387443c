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

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from eventops import timefmt
from eventops.adapters.base import (
    DeviceStatus,
    InterfaceStatus,
    RadioStatus,
)
from eventops.i18n import Msg
from eventops.monitor.checks_base import (
    _BAND_SCORE,
    CheckResult,
    Health,
    Level,
    crit,
    health,
    ok,
    warn,
)
from eventops.monitor.checks_fibre import (
    _MODULE_SEVERITY,
    MODULE_ALARM_DB,
    MODULE_WARN_DB,
    OPTIC_WINDOWS,
    EndData,
    OpticWindow,
    ProbeSummary,
    check_drift,
    check_errors,
    check_flaps,
    check_module_thresholds,
    check_probe,
    check_rx_power,
    check_utilisation,
    end_checks,
    find_interface,
    find_optic,
    link_checks,
    link_down_msg,
    link_down_reason,
    module_default_thresholds,
    no_rate,
    optic_rx,
    rx_margin,
)
from eventops.monitor.rates import NoRate, PortRates, port_rates
from eventops.profile.models import Mast, Profile, Radio

__all__ = [
    "MODULE_ALARM_DB",
    "MODULE_WARN_DB",
    "OPTIC_WINDOWS",
    "UPLINK_NAMES",
    "_BAND_SCORE",
    "_MODULE_SEVERITY",
    "CheckResult",
    "EndData",
    "Freshness",
    "Health",
    "Level",
    "MastLimits",
    "NoRate",
    "OpticWindow",
    "PortRates",
    "ProbeSummary",
    "_radio_for",
    "_uptime",
    "check_drift",
    "check_errors",
    "check_flaps",
    "check_module_thresholds",
    "check_probe",
    "check_radio",
    "check_reboot",
    "check_rx_power",
    "check_system",
    "check_uplink",
    "check_utilisation",
    "crit",
    "end_checks",
    "find_interface",
    "find_optic",
    "freshness",
    "health",
    "link_checks",
    "link_down_msg",
    "link_down_reason",
    "mast_checks",
    "mast_uplink",
    "module_default_thresholds",
    "no_rate",
    "not_available",
    "ok",
    "optic_rx",
    "port_rates",
    "provisioned_radios",
    "rx_margin",
    "warn",
]


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
        return [crit(n, "radio.missing", band=want.band)]
    if not got.up:
        return [crit(n, "radio.down", band=want.band, radio=got.name)]
    out = [ok(n, "radio.up", band=want.band)]
    if got.channel is not None and got.channel != want.channel:
        out.append(
            warn(
                f"{n}.channel",
                "radio.channel",
                band=want.band,
                channel=got.channel,
                want=want.channel,
            )
        )
    if got.width_mhz is not None and got.width_mhz != want.width:
        out.append(
            warn(f"{n}.width", "radio.width", band=want.band, width=got.width_mhz, want=want.width)
        )
    if got.tx_power_dbm is not None:
        if got.tx_power_dbm > want.tx_power_dbm + 1:
            out.append(
                crit(
                    f"{n}.txpower",
                    "radio.txpower_high",
                    got.tx_power_dbm,
                    band=want.band,
                    dbm=got.tx_power_dbm,
                    want=want.tx_power_dbm,
                )
            )
        elif got.tx_power_dbm < want.tx_power_dbm - limits.tx_power_low_db:
            out.append(
                warn(
                    f"{n}.txpower",
                    "radio.txpower_low",
                    got.tx_power_dbm,
                    band=want.band,
                    dbm=got.tx_power_dbm,
                    want=want.tx_power_dbm,
                )
            )
    clients = len(got.clients)
    if clients >= limits.clients_crit:
        out.append(crit(f"{n}.clients", "radio.clients", clients, n=clients, band=want.band))
    elif clients >= limits.clients_warn:
        out.append(warn(f"{n}.clients", "radio.clients", clients, n=clients, band=want.band))
    if got.utilisation_pct is not None:
        u = got.utilisation_pct
        if u >= limits.utilisation_crit_pct:
            out.append(crit(f"{n}.utilisation", "radio.busy", u, band=want.band, pct=u))
        elif u >= limits.utilisation_warn_pct:
            out.append(warn(f"{n}.utilisation", "radio.busy", u, band=want.band, pct=u))
    if got.noise_dbm is not None:
        nz = got.noise_dbm
        if nz >= limits.noise_crit_dbm:
            out.append(crit(f"{n}.noise", "radio.noise", nz, band=want.band, dbm=nz))
        elif nz >= limits.noise_warn_dbm:
            out.append(warn(f"{n}.noise", "radio.noise", nz, band=want.band, dbm=nz))
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
        return ok("uplink", "uplink.unreported")
    if iface.carrier is False or iface.oper_status in ("DOWN", "LOWER_LAYER_DOWN"):
        return crit("uplink", "uplink.no_carrier", iface=iface.name)
    if iface.speed_mbps is not None and iface.speed_mbps < limits.uplink_min_mbps:
        return warn(
            "uplink.speed",
            "uplink.slow",
            iface.speed_mbps,
            iface=iface.name,
            mbps=iface.speed_mbps,
            want=limits.uplink_min_mbps,
        )
    return ok("uplink", "uplink.up", iface=iface.name)


def check_system(status: DeviceStatus, limits: MastLimits = MastLimits()) -> list[CheckResult]:
    sysinfo = status.system
    if sysinfo is None:
        return []
    out: list[CheckResult] = []
    if sysinfo.load is not None:
        load1 = sysinfo.load[0]
        if load1 >= limits.load_crit:
            out.append(crit("cpu", "cpu.load", load1, load=load1))
        elif load1 >= limits.load_warn:
            out.append(warn("cpu", "cpu.load", load1, load=load1))
        else:
            out.append(ok("cpu", "cpu.load", load1, load=load1))
    if sysinfo.memory_total and sysinfo.memory_available is not None:
        pct = 100.0 * sysinfo.memory_available / sysinfo.memory_total
        if pct <= limits.mem_crit_pct:
            out.append(crit("memory", "memory.free", pct, pct=pct))
        elif pct <= limits.mem_warn_pct:
            out.append(warn("memory", "memory.free", pct, pct=pct))
        else:
            out.append(ok("memory", "memory.free", pct, pct=pct))
    return out


def check_reboot(prev: DeviceStatus | None, cur: DeviceStatus) -> CheckResult:
    """A reboot shows as uptime going backwards between two polls."""
    if prev is None:
        return ok("reboot", "reboot.first")
    before, after = _uptime(prev), _uptime(cur)
    if cur.mono is not None and prev.mono is not None:
        elapsed = cur.mono - prev.mono
    else:
        elapsed = (cur.ts - prev.ts).total_seconds()
    # a device that rebooted since the last poll has been up for less than the time since;
    # an uptime that only went down (the device's clock was set back) is no reboot
    if after + 1.0 < before + elapsed and after < before and after <= elapsed + 5.0:
        return warn("reboot", "reboot.rebooted", after, uptime=after, was=before)
    return ok("reboot", "reboot.up", after, uptime=after)


def _uptime(s: DeviceStatus) -> float:
    return s.system.uptime_s if s.system is not None else s.facts.uptime_s


def booted_at(s: DeviceStatus) -> datetime | None:
    """When the device last started, on our clock (the reading's time less its uptime);
    None when it reports no uptime."""
    up = _uptime(s)
    return s.ts - timedelta(seconds=up) if up > 0 else None


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
            out.append(ok(f"radio.{want.band}", radios_na.msg_id, **radios_na.params))
        else:
            out.extend(check_radio(want, _radio_for(cur.radios, want.band), lim))
    uplink_na = not_available(cur, "network.interface")
    if uplink_na is not None and not cur.interfaces:
        out.append(ok("uplink", uplink_na.msg_id, **uplink_na.params))
    else:
        out.append(check_uplink(mast_uplink(cur), lim))
    system_na = not_available(cur, "system")
    if system_na is not None and cur.system is None:
        out.append(ok("system", system_na.msg_id, **system_na.params))
    out.extend(check_system(cur, lim))
    return out


def not_available(status: DeviceStatus, obj: str) -> Msg | None:
    """``"not available: <reason>"`` if the device does not offer ``obj`` (absent or
    denied by the ACL): its checks are shown as such, never alerted on. The reason
    is the device's own answer when it gave one."""
    if obj not in status.unsupported:
        return None
    why = status.unavailable.get(obj)
    return Msg(
        "check.not_available",
        {"why": why if why else Msg("check.not_offered", {"obj": obj}).as_dict()},
    )


# -- staleness --------------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    stale: bool
    as_of: datetime | None
    label: str = field(default="")


def freshness(
    last_ok: datetime | None, now: datetime, interval_s: float, tz: ZoneInfo
) -> Freshness:
    """Data older than two poll intervals is stale and shown "as of hh:mm:ss CEST"."""
    if last_ok is None:
        return Freshness(True, None, "no data yet")
    age = (now - last_ok).total_seconds()
    if age > 2 * interval_s:
        return Freshness(True, last_ok, f"as of {timefmt.clock(last_ok, tz)}")
    return Freshness(False, last_ok, "")
