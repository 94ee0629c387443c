"""Health rules as pure functions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from eventops.monitor import checks as c
from eventops.monitor.checks import EndData, Level, ProbeSummary
from eventops.monitor.rates import NoRate
from eventops.profile.models import AlertTolerances, RxThresholds

from .factories import T0, demo_profile, lx_thresholds, mast_status, switch_status

TOL = AlertTolerances()


def names(results: list[c.CheckResult], level: Level) -> set[str]:
    return {r.name for r in results if r.level is level}


def test_healthy_mast_has_no_problems() -> None:
    p = demo_profile()
    mast = p.mast("mast-01")  # site buehne? no: marktplatz -> defaults 1/36
    got = c.mast_checks(p, mast, mast_status(ch2=1, ch5=36, tx5=20))
    assert [r for r in got if r.level is not Level.ok] == []
    h = c.health(got)
    assert (h.level, h.score, h.reason) == (Level.ok, 1000, "ok")


def test_mast_uses_site_radios_and_flags_wrong_channel_and_width() -> None:
    p = demo_profile()
    mast = p.mast("mast-03")  # site buehne: 2g ch 6, 5g ch 100/80 @ 23 dBm
    assert [r.channel for r in c.provisioned_radios(p, mast)] == [6, 100]
    got = c.mast_checks(p, mast, mast_status(ch5=104, width5=40))
    assert names(got, Level.warning) == {"radio.5g.channel", "radio.5g.width"}
    reasons = {r.name: r.reason for r in got}
    assert reasons["radio.5g.channel"] == "5g on channel 104, provisioned 100"


@pytest.mark.parametrize(
    ("kwargs", "name", "level"),
    [
        ({"up5": False}, "radio.5g", Level.critical),
        ({"tx5": 18.0}, "radio.5g.txpower", Level.warning),
        ({"tx5": 25.0}, "radio.5g.txpower", Level.critical),
        ({"clients": 85}, "radio.5g.clients", Level.warning),
        ({"clients": 130}, "radio.5g.clients", Level.critical),
        ({"util5": 75.0}, "radio.5g.utilisation", Level.warning),
        ({"util5": 95.0}, "radio.5g.utilisation", Level.critical),
        ({"noise5": -80.0}, "radio.5g.noise", Level.warning),
        ({"noise5": -70.0}, "radio.5g.noise", Level.critical),
        ({"carrier": False}, "uplink", Level.critical),
        ({"speed": 100.0}, "uplink.speed", Level.warning),
        ({"load": 2.5}, "cpu", Level.warning),
        ({"load": 5.0}, "cpu", Level.critical),
        ({"mem_free_pct": 10.0}, "memory", Level.warning),
        ({"mem_free_pct": 3.0}, "memory", Level.critical),
    ],
)
def test_mast_rules(kwargs: dict[str, object], name: str, level: Level) -> None:
    p = demo_profile()
    got = c.mast_checks(p, p.mast("mast-03"), mast_status(**kwargs))  # type: ignore[arg-type]
    bad = [r for r in got if r.level is not Level.ok]
    assert [(r.name, r.level) for r in bad] == [(name, level)]
    assert c.health(got).level is level


def test_reboot_detected_from_uptime_reset() -> None:
    before = mast_status(at=0, uptime=5000)
    after = mast_status(at=10, uptime=4)
    assert c.check_reboot(before, after).level is Level.warning
    assert c.check_reboot(before, mast_status(at=10, uptime=5010)).level is Level.ok
    assert c.check_reboot(None, after).level is Level.ok


def test_health_score_orders_by_worst_then_count() -> None:
    one_warn = c.health([c.warn("a", "x"), c.ok("b")])
    two_warn = c.health([c.warn("a", "x"), c.warn("b", "y")])
    one_crit = c.health([c.crit("a", "x")])
    crit_and_warn = c.health([c.crit("a", "x"), c.warn("b", "y")])
    unreachable = c.health([], reachable=False)
    assert 1000 > one_warn.score > two_warn.score > one_crit.score > crit_and_warn.score > 0
    assert unreachable.score == 0 and unreachable.reason == "unreachable"
    assert crit_and_warn.reason == "x (+1 more)"


@pytest.mark.parametrize(
    ("rx", "optic", "level"),
    [
        (-10.0, "1000BASE-LX", Level.ok),
        (-16.5, "1000BASE-LX", Level.warning),  # within 3 dB of -19
        (-18.5, "1000BASE-LX", Level.critical),  # within 1 dB
        (-20.0, "1000BASE-LX", Level.critical),  # below sensitivity
        (-3.5, "1000BASE-LX", Level.warning),  # within 1 dB of overload -3
        (-2.0, "1000BASE-LX", Level.critical),  # overload
        (-8.0, "10GBASE-LR", Level.ok),
        (-12.0, "10GBASE-LR", Level.warning),  # 2.4 dB above -14.4
        (-13.8, "10GBASE-LR", Level.critical),
        (0.8, "10GBASE-LR", Level.critical),
    ],
)
def test_rx_power_against_optic_window(rx: float, optic: str, level: Level) -> None:
    assert c.check_rx_power("rx", rx, optic, TOL).level is level


def test_rx_margin_and_profile_thresholds_override() -> None:
    assert c.rx_margin(-15.0, "1000BASE-LX") == pytest.approx(4.0)
    assert c.rx_margin(-14.0, "10GBASE-LR") == pytest.approx(0.4)
    assert c.rx_margin(-20.0, "1000BASE-LX") == pytest.approx(-1.0)
    strict = RxThresholds(warn_low_dbm=-12.0, crit_low_dbm=-14.0)
    assert c.check_rx_power("rx", -13.0, "1000BASE-LX", TOL, strict).level is Level.warning
    assert c.check_rx_power("rx", -14.5, "1000BASE-LX", TOL, strict).level is Level.critical
    assert c.check_rx_power("rx", None, "1000BASE-LX", TOL).level is Level.warning


def test_module_thresholds() -> None:
    defaults = c.module_default_thresholds("1000BASE-LX")
    assert defaults == {"critical": (-21.0, -1.0), "warning": (-20.0, -2.0)}
    st = switch_status("mc", {"sfp0": {"rx": -20.5, "thresholds": lx_thresholds()}})
    r = c.check_module_thresholds("m", st.optics[0])
    assert r.level is Level.warning and "below module warning -20 dBm" in r.reason
    st = switch_status("mc", {"sfp0": {"rx": -21.5, "thresholds": lx_thresholds()}})
    assert c.check_module_thresholds("m", st.optics[0]).level is Level.critical


def test_drift_from_baseline() -> None:
    assert c.check_drift("d", -9.0, -8.0, TOL).level is Level.ok
    assert c.check_drift("d", -10.5, -8.0, TOL).level is Level.warning
    assert c.check_drift("d", -12.0, -8.0, TOL).level is Level.critical
    assert c.check_drift("d", -12.0, None, TOL).level is Level.ok


def test_counters_give_rates_errors_flaps_utilisation() -> None:
    p = demo_profile()
    link = p.link("fibre-police")  # capacity 500 Mb/s
    prev = switch_status("sw-core", {"Ethernet1/1": {"rx": -8.0, "in_octets": 0}}, at=0)
    cur = switch_status(
        "sw-core",
        {"Ethernet1/1": {"rx": -8.0, "in_octets": 250_000_000, "errors": 3, "flaps": 2}},
        at=5,
    )
    end = EndData("a", "sw-core", "Ethernet1/1", True, cur, prev, baseline_rx_dbm=-8.0)
    got = {r.name: r for r in c.end_checks(link, end, TOL)}
    assert got["utilisation.a"].level is Level.warning  # 400 Mb/s of 500: 80%
    assert got["utilisation.a"].value == pytest.approx(80.0)
    assert got["errors.a"].level is Level.warning
    assert got["flaps.a"].reason == "carrier changed 2 times in 5 s"
    # a counter reset gives no rate rather than a negative one
    reset = switch_status("sw-core", {"Ethernet1/1": {"rx": -8.0, "in_octets": 10}}, at=10)
    got_reset = c.port_rates(cur, cur.interfaces[0], reset, reset.interfaces[0])
    assert isinstance(got_reset, NoRate) and got_reset.reason == "counter reset (in-octets)"


def test_link_combines_both_ends_and_probe() -> None:
    p = demo_profile()
    link = p.link("fibre-police")
    a = switch_status("sw-core", {"Ethernet1/1": {"rx": -8.0}})
    b_down = switch_status("mc-police", {"sfp0": {"oper": "DOWN", "rx": None}})
    ends = [
        EndData("a", "sw-core", "Ethernet1/1", True, a),
        EndData("b", "mc-police", "sfp0", True, b_down),
    ]
    got = c.link_checks(link, ends, TOL)
    assert got[0].name == "link" and got[0].level is Level.critical
    assert got[0].reason == "down: mc-police sfp0 is DOWN"
    b_ok = switch_status("mc-police", {"sfp0": {"rx": -17.0}})
    ends[1] = EndData("b", "mc-police", "sfp0", True, b_ok)
    failed = ProbeSummary(T0, "acceptance", False)
    got = c.link_checks(link, ends, TOL, failed)
    assert {r.name: r.level for r in got if r.level} == {
        "rx_power.b": Level.warning,
        "probe": Level.warning,
    }
    both_gone = [
        EndData("a", "sw-core", "Ethernet1/1", False, None),
        EndData("b", "mc-police", "sfp0", False, None),
    ]
    assert c.link_down_reason(link, both_gone) == "both ends unreachable"


def test_staleness_after_two_intervals() -> None:
    tz = demo_profile().event.tz
    fresh = c.freshness(T0, T0 + timedelta(seconds=10), 5.0, tz)
    stale = c.freshness(T0, T0 + timedelta(seconds=10.5), 5.0, tz)
    assert not fresh.stale
    assert stale.stale and stale.label == "as of 18:00:00 CEST"  # Europe/Berlin, summer
    assert c.freshness(None, T0, 5.0, tz).label == "no data yet"


def test_mast_uplink_is_the_interface_that_is_up() -> None:
    st = mast_status()
    lan_fed = st.model_copy(
        update={
            "interfaces": [
                st.interfaces[0].model_copy(update={"name": "lan"}),
                st.interfaces[0].model_copy(update={"oper_status": "DOWN", "carrier": None}),
            ]
        }
    )
    uplink = c.mast_uplink(lan_fed)
    assert uplink is not None and uplink.name == "lan"
    assert c.check_uplink(uplink).level is Level.ok


@pytest.mark.parametrize(
    ("why", "reason"),
    [
        ("access denied to monitor", "not available: access denied to monitor"),
        ("rpcd-mod-iwinfo not installed", "not available: rpcd-mod-iwinfo not installed"),
    ],
)
def test_mast_without_iwinfo_shows_radios_not_available_without_alerting(
    why: str, reason: str
) -> None:
    p = demo_profile()
    mast = p.mast("mast-01")
    st = mast_status(ch2=1, ch5=36, tx5=20).model_copy(
        update={"radios": [], "unsupported": ["iwinfo"], "unavailable": {"iwinfo": why}}
    )
    got = c.mast_checks(p, mast, st)
    radio = {r.name: r for r in got if r.name.startswith("radio.")}
    assert set(radio) == {"radio.2g", "radio.5g"}
    assert all(r.level is Level.ok and r.reason == reason for r in radio.values())
    assert c.health(got).level is Level.ok
    # the same status without the "unsupported" entry is a missing radio: critical
    plain = st.model_copy(update={"unsupported": [], "unavailable": {}})
    assert names(c.mast_checks(p, mast, plain), Level.critical) == {"radio.2g", "radio.5g"}


def test_mast_without_netifd_or_procd_objects_is_not_available() -> None:
    p = demo_profile()
    st = mast_status(ch2=1, ch5=36, tx5=20).model_copy(
        update={
            "interfaces": [],
            "system": None,
            "unsupported": ["network.interface", "system"],
            "unavailable": {
                "network.interface": "no network.interface object (netifd not running)",
                "system": "access denied to monitor",
            },
        }
    )
    got = {r.name: r for r in c.mast_checks(p, p.mast("mast-01"), st)}
    assert got["uplink"].reason == (
        "not available: no network.interface object (netifd not running)"
    )
    assert got["system"].reason == "not available: access denied to monitor"
    assert all(r.level is Level.ok for r in got.values())
