"""Derived rates: readings that cannot give a rate give a marked "no rate", never > 100 %."""

from __future__ import annotations

import pytest

from eventops.adapters.base import DeviceStatus
from eventops.monitor import checks as c
from eventops.monitor.checks import EndData, Level
from eventops.monitor.rates import NoRate, PortRates, port_rates
from eventops.profile.models import AlertTolerances

from .factories import demo_profile, switch_status

TOL = AlertTolerances()
PORT = "Ethernet1/1"
CAP = 500.0  # fibre-police, Mb/s


def reading(
    octets: int,
    *,
    mono: float | None,
    wall: float | None = None,
    uptime: float = 5000.0,
    read_s: float = 0.01,
) -> DeviceStatus:
    at = wall if wall is not None else (mono or 0.0)
    s = switch_status("sw-core", {PORT: {"rx": -8.0, "in_octets": octets}}, at=at, uptime=uptime)
    return s.model_copy(update={"mono": mono, "read_s": read_s if mono is not None else None})


def rates(prev: DeviceStatus, cur: DeviceStatus) -> PortRates | NoRate | None:
    return port_rates(prev, prev.interfaces[0], cur, cur.interfaces[0], CAP)


def test_plain_rate_over_the_monotonic_interval() -> None:
    # 50 MB in 10 s = 40 Mb/s, 8 % of 500 Mb/s
    got = rates(reading(0, mono=100), reading(50_000_000, mono=110, uptime=5010))
    assert isinstance(got, PortRates)
    assert got.in_bps == pytest.approx(40e6) and got.seconds == pytest.approx(10)


@pytest.mark.parametrize(
    ("prev", "cur", "reason"),
    [
        # a 64-bit counter wrapped: it went down from near 2^64
        (
            reading(2**64 - 1_000, mono=100),
            reading(5_000_000, mono=110, uptime=5010),
            "counter wrapped (in-octets)",
        ),
        # the counter went down from an ordinary value: reset
        (
            reading(9_000_000, mono=100),
            reading(1_000, mono=110, uptime=5010),
            "counter reset (in-octets)",
        ),
        # uptime went down: the device rebooted (its counters may have grown since)
        (
            reading(1_000, mono=100, uptime=5000),
            reading(2_000_000, mono=110, uptime=8),
            "device rebooted (uptime went down)",
        ),
        # our wall clock went back an hour between two polls 10 s apart
        (
            reading(0, mono=100, wall=100),
            reading(1_000_000, mono=110, wall=110 - 3600, uptime=5010),
            "clock jumped (-3590 s on the wall clock in 10 s)",
        ),
        # ... or forward an hour
        (
            reading(0, mono=100, wall=100),
            reading(1_000_000, mono=110, wall=110 + 3600, uptime=5010),
            "clock jumped (+3610 s on the wall clock in 10 s)",
        ),
        # the device's clock jumped: an hour of uptime in 10 s of ours
        (
            reading(0, mono=100),
            reading(1_000_000, mono=110, uptime=5000 + 3610),
            "device clock jumped (uptime +3610 s in 10 s)",
        ),
        # two readings 0.5 s apart
        (
            reading(0, mono=100),
            reading(1_000, mono=100.5, uptime=5000.5),
            "interval too short for a rate (0.5 s between readings that took 0.0 s)",
        ),
        # readings that took longer than half the interval between them
        (
            reading(0, mono=100, read_s=2.0),
            reading(1_000, mono=105, uptime=5005, read_s=2.0),
            "interval too short for a rate (5.0 s between readings that took 4.0 s)",
        ),
        # 1 GB in 10 s on a 500 Mb/s link: 800 Mb/s is impossible, discarded
        (
            reading(0, mono=100),
            reading(1_000_000_000, mono=110, uptime=5010),
            "impossible rate discarded (160 % of 500 Mb/s)",
        ),
    ],
)
def test_readings_that_give_no_rate(prev: DeviceStatus, cur: DeviceStatus, reason: str) -> None:
    got = rates(prev, cur)
    assert isinstance(got, NoRate) and got.reason == reason


def test_without_monotonic_stamps_the_wall_clock_going_back_gives_no_rate() -> None:
    got = rates(reading(0, mono=None, wall=100), reading(10, mono=None, wall=90))
    assert isinstance(got, NoRate) and got.reason == "clock went backwards (-10 s)"


def test_no_rate_is_marked_in_the_checks_and_never_alerts() -> None:
    link = demo_profile().link("fibre-police")
    prev = reading(0, mono=100, wall=100)
    # a wall clock jump of +1 h: the 143-fold "rate" of a naive wall-clock interval
    cur = reading(50_000_000, mono=110, wall=110 + 3600, uptime=5010)
    end = EndData("a", "sw-core", PORT, True, cur, prev, baseline_rx_dbm=-8.0)
    got = {r.name: r for r in c.end_checks(link, end, TOL)}
    util = got["utilisation.a"]
    assert util.level is Level.ok and util.value is None
    assert util.reason == "no rate: clock jumped (+3610 s on the wall clock in 10 s)"
    assert got["errors.a"].level is Level.ok and got["errors.a"].reason.startswith("no rate:")
    # a wrapped counter: no 3,000 % critical either
    wrapped = reading(2**64 - 10, mono=100)
    after = reading(400_000_000, mono=105, uptime=5005)
    end = EndData("a", "sw-core", PORT, True, after, wrapped, baseline_rx_dbm=-8.0)
    util = {r.name: r for r in c.end_checks(link, end, TOL)}["utilisation.a"]
    assert util.level is Level.ok and util.reason == "no rate: counter wrapped (in-octets)"


def test_a_device_clock_set_back_is_no_reboot() -> None:
    prev = reading(0, mono=100, uptime=86_400)
    cur = reading(0, mono=110, uptime=86_410 - 3600)  # its clock went back an hour
    assert c.check_reboot(prev, cur).level is Level.ok
    rebooted = reading(0, mono=110, uptime=4)
    assert c.check_reboot(prev, rebooted).level is Level.warning
