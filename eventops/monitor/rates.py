"""Rates from two counter readings, or a marked "no rate" when the readings cannot give one.

A rate is a counter difference over the time between two readings. Either
side can be wrong, and a wrong rate becomes a false alert (a 3,626 %
utilisation critical after a clock jump), so each of these gives no rate
but a :class:`NoRate` with the reason, shown as such and never alerted on:

- the counter went down: reset, or a 64-bit (or 32-bit) wrap;
- the device rebooted: its uptime went down;
- our wall clock jumped: it moved backwards, or differs from the monotonic
  clock over the interval by more than :data:`CLOCK_SLACK_S` (or 10 %);
- the device's clock jumped: its uptime moved far more than our interval;
- the interval is shorter than a reading: under :data:`MIN_INTERVAL_S`, or
  the two readings themselves took more than half of it (the moment each
  counter was read is only known to within its request's round trip);
- the result is impossible: above the capacity it is measured against
  (the link's capacity, or the port's speed). Such a figure is not clamped to
  100 %: it is discarded.

The interval is measured on the monotonic clock at the moment the driver
read the counters (:attr:`DeviceStatus.mono`), not when the whole poll
ended, so a slow request before or after the counters does not stretch or
shrink it. Readings without a monotonic stamp fall back to the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventops.adapters.base import DeviceStatus, InterfaceStatus
from eventops.i18n import Msg

MIN_INTERVAL_S = 1.0
"""No rate over less than this between two readings."""
CLOCK_SLACK_S = 2.0
"""How far wall and monotonic intervals (or the device's uptime) may differ before
it counts as a clock jump (or 10 % of the interval, if larger)."""
READ_SHARE = 0.5
"""The two readings may take at most this share of the interval between them."""
WRAP_NEAR = 2**63
"""A counter that was above this before going down most likely wrapped at 2^64."""


@dataclass(frozen=True)
class PortRates:
    seconds: float
    in_bps: float
    out_bps: float
    errors: int
    carrier_transitions: int


@dataclass(frozen=True)
class NoRate:
    """Two readings that give no rate, and why (shown instead of a figure)."""

    msg: Msg

    @property
    def reason(self) -> str:
        """Why, in English (``LinkView.rate_note``)."""
        return self.msg.text("en")


def _uptime(s: DeviceStatus) -> float | None:
    up = s.system.uptime_s if s.system is not None else s.facts.uptime_s
    return up if up > 0 else None


def interval(prev: DeviceStatus, cur: DeviceStatus) -> float | NoRate:
    """Seconds between two readings, or why they cannot be trusted."""
    wall = (cur.ts - prev.ts).total_seconds()
    if cur.mono is not None and prev.mono is not None:
        secs = cur.mono - prev.mono
        if secs <= 0:
            return NoRate(Msg("rate.out_of_order"))
        if wall <= 0 or abs(wall - secs) > max(CLOCK_SLACK_S, 0.1 * secs):
            return NoRate(Msg("rate.clock_jump", {"wall": wall, "secs": secs}))
    else:
        secs = wall
        if secs <= 0:
            return NoRate(Msg("rate.clock_back", {"wall": wall}))
    read = (cur.read_s or 0.0) + (prev.read_s or 0.0)
    if secs < MIN_INTERVAL_S or read > READ_SHARE * secs:
        return NoRate(Msg("rate.short", {"secs": secs, "read": read}))
    before, after = _uptime(prev), _uptime(cur)
    if before is not None and after is not None:
        if after < before:
            return NoRate(Msg("rate.rebooted"))
        if after - before > secs + max(CLOCK_SLACK_S, 0.1 * secs):
            return NoRate(Msg("rate.device_clock", {"up": after - before, "secs": secs}))
    return secs


def port_rates(
    prev_status: DeviceStatus | None,
    prev: InterfaceStatus | None,
    cur_status: DeviceStatus,
    cur: InterfaceStatus,
    capacity_mbps: float | None = None,
) -> PortRates | NoRate | None:
    """Rates of one port between two polls; None when there is no earlier reading.

    ``capacity_mbps``: what the rate is measured against (a link's capacity);
    by default the port's own speed when the device reports one.
    """
    if prev_status is None or prev is None:
        return None
    secs = interval(prev_status, cur_status)
    if isinstance(secs, NoRate):
        return secs
    for name, before, after in (
        ("in-octets", prev.in_octets, cur.in_octets),
        ("out-octets", prev.out_octets, cur.out_octets),
    ):
        if after < before:
            if before >= WRAP_NEAR:
                return NoRate(Msg("rate.counter_wrapped", {"counter": name}))
            return NoRate(Msg("rate.counter_reset", {"counter": name}))
    in_bps = (cur.in_octets - prev.in_octets) * 8 / secs
    out_bps = (cur.out_octets - prev.out_octets) * 8 / secs
    cap = capacity_mbps if capacity_mbps is not None else cur.speed_mbps
    if cap is not None and cap > 0:
        pct = 100.0 * max(in_bps, out_bps) / (cap * 1e6)
        if pct > 100.0:
            return NoRate(Msg("rate.impossible", {"pct": pct, "capacity": cap}))
    errs = (cur.in_errors + cur.in_fcs_errors) - (prev.in_errors + prev.in_fcs_errors)
    flaps = cur.carrier_transitions - prev.carrier_transitions
    return PortRates(secs, in_bps, out_bps, max(errs, 0), max(flaps, 0))
