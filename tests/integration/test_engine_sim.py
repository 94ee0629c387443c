"""The engine against the simulators: a fault injected, the right alert raised and cleared.

Real drivers speak ubus JSON-RPC and RESTCONF to simulators on loopback; the
engine, the simulators and the poll schedule share one fake clock, so the
alert times are exact.
"""

from __future__ import annotations

from pathlib import Path

from eventops.i18n import render

from .simrig import sim_rig


async def test_degrading_optics_drift_then_down_then_repaired(tmp_path: Path) -> None:
    async with sim_rig(tmp_path, clear_after_s=20) as rig:
        await rig.to(10)
        assert rig.alerts() == []  # a healthy, provisioned site raises nothing
        views = {d: rig.engine.device_view(d) for d in rig.engine.devices}
        assert all(v["health"] == "ok" for v in views.values()), views
        h = await rig.engine.handover(
            "fibre-police", "police", "technik", force=True, reason="set-up: optics only"
        )
        baseline = h.record["ends"]["b"]["rx_dbm"]
        assert baseline is not None and -19 < baseline < -3
        rig.fleet.degrade_optics("fibre-police", step_db=1.0, every_s=10.0)
        await rig.to(200)
        got = [(kind, key) for kind, key, _ in rig.alerts()]
        drift = [x for x in rig.alerts() if x[1] == "link:fibre-police:drift.b"]
        # 1 dB more loss every 10 s from t=10: over 2 dB below the baseline at the
        # poll at 40 (a warning), at least 4 dB at the poll at 60 (critical)
        assert drift[:2] == [
            ("alert.raised", "link:fibre-police:drift.b", 40.0),
            ("alert.updated", "link:fibre-police:drift.b", 60.0),
        ]
        assert ("alert.raised", "link:fibre-police:down") in got
        down_at = next(t for k, key, t in rig.alerts() if key == "link:fibre-police:down")
        # below sensitivity (-19 dBm) the link drops
        assert down_at - 10 >= (baseline + 19) // 1 * 10
        lv = rig.engine.link_view("fibre-police")
        assert lv["state"] == "down"
        rig.fleet.restore_link("fibre-police")
        await rig.to(260)
        assert rig.engine.link_view("fibre-police")["state"] == "up"
        assert rig.engine.alerts.open_alerts() == []
        cleared = {key for kind, key, _ in rig.alerts() if kind == "alert.cleared"}
        assert {"link:fibre-police:down", "link:fibre-police:drift.b"} <= cleared


async def test_mast_reboot_unreachable_then_reboot_warning(tmp_path: Path) -> None:
    async with sim_rig(tmp_path, clear_after_s=30) as rig:
        await rig.to(20)
        rig.fleet.mast("mast-02").boot_s = 25.0
        rig.fleet.reboot("mast-02")
        await rig.to(120)
        mast = [(k, key, t) for k, key, t in rig.alerts() if key.startswith("device:mast-02")]
        # down from 20 to 45: polls fail at 30 and 40 (backoff 1x, then 2x: next at 60);
        # at 60 it answers with a reset uptime
        assert mast == [
            ("alert.raised", "device:mast-02:unreachable", 30.0),
            ("alert.raised", "device:mast-02:reboot", 60.0),
            ("alert.cleared", "device:mast-02:unreachable", 90.0),
            ("alert.cleared", "device:mast-02:reboot", 100.0),
        ]
        assert [key for _, key, _ in rig.alerts() if "mast-02" not in key] == []


async def test_crc_errors_and_link_cut(tmp_path: Path) -> None:
    async with sim_rig(tmp_path, clear_after_s=10) as rig:
        await rig.to(10)
        rig.fleet.crc_errors("fibre-fire", per_s=50.0)
        rig.fleet.link_down("fibre-stage")
        await rig.to(30)
        keys = {key for kind, key, _ in rig.alerts() if kind == "alert.raised"}
        assert "link:fibre-fire:errors.b" in keys or "link:fibre-fire:errors.a" in keys
        assert "link:fibre-stage:down" in keys
        raised_stage = [key for key in keys if "fibre-stage" in key]
        assert raised_stage == ["link:fibre-stage:down"]  # one alert for the cut link
        rig.fleet.restore_link("fibre-fire")
        rig.fleet.link_up("fibre-stage")
        await rig.to(60)
        assert rig.engine.alerts.open_alerts() == []


async def test_clock_jumps_and_a_counter_wrap_give_no_rate_and_no_alert(tmp_path: Path) -> None:
    async with sim_rig(tmp_path, clear_after_s=20) as rig:
        await rig.to(20)
        port = rig.fleet.switch("sw-core").ports["Ethernet1/1"]  # fibre-police, controller end
        # the 64-bit in-octets counter set to 7.5 s of traffic below its top: the poll at 25
        # reads it near the top (an impossible jump up), the poll at 30 after its wrap
        assert port.rate_bps > 0
        port.counters["in-octets"] = float(2**64) - port.rate_bps / 8 * 7.5
        await rig.to(40)
        rig.clock.jump(3600)  # our wall clock (and the devices') set an hour forward
        await rig.to(60)
        rig.clock.jump(-7200)  # ... and two hours back
        await rig.to(80)
        views = [e.data for e in rig.engine.bus if e.type == "link" and e.subject == "fibre-police"]
        utils = [v["utilisation_pct"] for v in views if v["utilisation_pct"] is not None]
        assert utils and max(utils) <= 100.0
        notes = [v["rate_note"] for v in views if v["rate_note"]]
        assert any(n.startswith("impossible rate discarded") for n in notes), notes
        assert any(n.startswith("counter wrapped (in-octets)") for n in notes), notes
        assert any(n.startswith("clock jumped (+3605 s") for n in notes), notes
        assert any(n.startswith("clock jumped (-7195 s") for n in notes), notes
        for v in views:  # a marked "no rate" has no figure
            if v["rate_note"]:
                assert v["utilisation_pct"] is None and v["in_mbps"] is None
                # and says why as a message too (the German detail view shows it)
                assert render(v["rate_note_id"], v["rate_note_params"], "en") == v["rate_note"]
        german = {render(v["rate_note_id"], v["rate_note_params"], "de") for v in views}
        assert "Zähler übergelaufen (in-octets)" in german, german
        assert rig.alerts() == []  # no utilisation alert, no false reboot, nothing
        # the rate comes back once two clean readings follow each other
        assert rig.engine.link_view("fibre-police")["utilisation_pct"] is not None
