"""The engine with scripted drivers on a fake clock: exact raise and clear times."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from eventops.adapters.base import Capabilities, DeviceDriver
from eventops.clock import Clock, FakeClock
from eventops.engine import Engine
from eventops.errors import InvalidRequest, NotFound, NotSupported
from eventops.monitor.poller import DevicePoller, PollResult
from eventops.profile.models import Mast, Profile, Switch
from eventops.store import SQLiteStore
from eventops.store.models import ProbeResultRow
from tests.helpers.wait import eventually

from .factories import T0, demo_profile
from .scripted import ScriptedDriver, ScriptedFleet, parked, run_until

N_DEVICES = 7  # demo: 3 masts, 4 switches


@dataclass
class Rig:
    engine: Engine
    fleet: ScriptedFleet
    clock: FakeClock
    store: SQLiteStore

    @property
    def sleepers(self) -> int:
        # + the downsampler, the probe-results and the engine-alerts watchers
        return len(self.engine._pollers) + 3

    async def to(self, t: float) -> None:
        await run_until(self.clock, t, self.sleepers, lambda: self.engine._pollers.values())

    def alert_times(self) -> list[tuple[str, str, float]]:
        out = []
        for ev in self.engine.bus:
            if ev.type.startswith("alert."):
                t = (ev.ts - T0).total_seconds()
                out.append((ev.type, ev.data["key"], t))
        return out


def profile_with(**alerts: float) -> Profile:
    p = demo_profile()
    return p.model_copy(update={"alerts": p.alerts.model_copy(update=alerts)})


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = FakeClock(T0)
    profile = profile_with(clear_after_s=20)
    fleet = ScriptedFleet(profile, clock)
    async with SQLiteStore(tmp_path / "e.sqlite3") as store:
        engine = Engine(profile, store, clock=clock, driver_factory=fleet.factory)
        await engine.start()
        try:
            yield Rig(engine, fleet, clock, store)
        finally:
            await engine.stop()


async def test_healthy_fleet_polled_on_schedule(rig: Rig) -> None:
    await rig.to(30)
    calls = rig.fleet.calls
    assert calls["sw-core"] == [0, 5, 10, 15, 20, 25, 30]
    assert calls["mast-01"] == [0, 10, 20, 30]
    assert max(rig.fleet.max_in_flight.values()) == 1  # polls never overlap
    assert rig.alert_times() == []
    views = {d: rig.engine.device_view(d) for d in rig.engine.devices}
    assert all(v["health"] == "ok" and v["score"] == 1000 for v in views.values()), views
    lv = rig.engine.link_view("fibre-police")
    assert lv["state"] == "up" and lv["margin_db"] == pytest.approx(11.0)
    assert lv["in_mbps"] == pytest.approx(8.0)  # 1 MB/s of counters
    samples = await rig.store.query_samples(
        "sw-core", "rx_dbm.Ethernet1/1", T0, T0 + timedelta(seconds=30)
    )
    assert [s.value for s in samples] == [-8.0] * 7


async def test_link_down_one_alert_and_masts_upstream_down(rig: Rig) -> None:
    await rig.to(10)
    # at t=12 the stage fibre is cut: both switch ports go down, the masts behind go silent
    await rig.clock.advance(2)
    rig.fleet.ports[("sw-core", "Ethernet1/2")] = {"oper": "DOWN", "rx": None}
    rig.fleet.ports[("sw-stage", "Ethernet1/1")] = {"oper": "DOWN", "rx": None}
    rig.fleet.down |= {"mast-01", "mast-02", "mast-03"}
    await rig.to(60)
    # repaired at t=60
    rig.fleet.ports.clear()
    rig.fleet.down.clear()
    await rig.to(120)
    times = rig.alert_times()
    assert ("alert.raised", "link:fibre-stage:down", 15.0) in times
    raised = [k for kind, k, _ in times if kind == "alert.raised"]
    # no "unreachable" alert for a mast behind the cut link: they are upstream-down
    assert not [k for k in raised if k.endswith(":unreachable")]
    assert sorted(k for k in raised if "upstream" in k) == [
        "device:mast-01:upstream-down",
        "device:mast-02:upstream-down",
        "device:mast-03:upstream-down",
    ]
    assert [k for k in raised if k.startswith("link:")] == ["link:fibre-stage:down"]
    # the link comes back at the first fibre poll after 60 (65); cleared 20 s later
    assert ("alert.cleared", "link:fibre-stage:down", 85.0) in times
    assert rig.engine.link_view("fibre-stage")["state"] == "up"
    assert rig.engine.alerts.open_alerts() == []


async def test_unreachable_within_two_intervals_with_backoff(rig: Rig) -> None:
    await rig.to(10)
    rig.fleet.down.add("mast-02")  # stops answering just after its t=10 poll
    await rig.to(30)
    v = rig.engine.device_view("mast-02")
    assert v["reachable"] is False and v["health"] == "critical"
    assert ("alert.raised", "device:mast-02:unreachable", 20.0) in rig.alert_times()
    await rig.to(100)
    # backoff: polls at 20 (fail), 30 (after 1x), 50 (2x), 90 (4x), 130 (4x, capped)
    polled = [
        (e.ts - T0).total_seconds()
        for e in rig.engine.bus
        if e.type == "device" and e.subject == "mast-02"
    ]
    assert polled == [0, 10, 20, 30, 50, 90]
    rig.fleet.down.clear()
    await rig.to(140)
    assert rig.engine.device_view("mast-02")["reachable"] is True
    assert rig.fleet.calls["mast-02"][-2:] == [130, 140]


async def test_hanging_device_times_out_on_the_clock(rig: Rig) -> None:
    await rig.to(5)
    rig.fleet.hang.add("mc-fire")
    await rig.to(20)
    st = rig.engine.devices["mc-fire"]
    assert st.reachable is False and st.error == "no answer to GET …/status within 4 s"
    times = rig.alert_times()
    # mc-fire's poll at 10 hangs, times out at 14 -> the device and the link alert at 14
    assert ("alert.raised", "device:mc-fire:unreachable", 14.0) in times


async def test_stale_data_is_shown_as_of(rig: Rig) -> None:
    await rig.to(10)
    rig.fleet.hang.add("mast-03")
    await rig.to(40)
    v = rig.engine.device_view("mast-03")
    assert v["stale"] is True and v["stale_label"] == "as of 18:00:10 CEST"


async def test_reboot_raises_warning_then_clears(rig: Rig) -> None:
    await rig.to(20)
    rig.fleet.boot_at["mast-01"] = 25.0
    await rig.to(80)
    times = [x for x in rig.alert_times() if "reboot" in x[1]]
    assert times == [
        ("alert.raised", "device:mast-01:reboot", 30.0),
        ("alert.cleared", "device:mast-01:reboot", 60.0),
    ]


async def test_flapping_port_reported_as_flapping(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    profile = profile_with(clear_after_s=30, flap_transitions=4, flap_window_s=120)
    fleet = ScriptedFleet(profile, clock)
    async with SQLiteStore(tmp_path / "f.sqlite3") as store:
        engine = Engine(profile, store, clock=clock, driver_factory=fleet.factory)
        await engine.start()
        rig = Rig(engine, fleet, clock, store)
        try:
            for t in range(0, 60, 10):  # fire link down for 5 s every 10 s
                await rig.to(t + 1)
                fleet.ports[("mc-fire", "sfp0")] = {"oper": "DOWN", "rx": None}
                await rig.to(t + 6)
                fleet.ports.clear()
            await rig.to(150)
        finally:
            await engine.stop()
    fire = [x for x in rig.alert_times() if x[1] == "link:fibre-fire:down"]
    assert fire == [
        ("alert.raised", "link:fibre-fire:down", 5.0),
        ("alert.flapping", "link:fibre-fire:down", 25.0),
        ("alert.cleared", "link:fibre-fire:down", 90.0),
    ]


async def test_handover_baseline_then_drift_alert(rig: Rig) -> None:
    await rig.to(10)
    await rig.engine.record_probe_result(
        ProbeResultRow(
            ts=rig.clock.now(),
            target="fibre-police",
            kind="acceptance",
            passed=True,
            result={"throughput_mbps": 498.0},
        )
    )
    h = await rig.engine.handover("fibre-police", "police", "technik")
    assert h.record["ends"]["a"]["rx_dbm"] == -8.0
    assert h.record["acceptance"]["passed"] is True
    assert h.record["ends"]["b"]["margin_db"] == pytest.approx(11.0)
    with pytest.raises(InvalidRequest, match="not tagged for fire"):
        await rig.engine.handover("fibre-police", "fire", "technik")
    # a bend: mc-police receives 2.5 dB less than at handover
    rig.fleet.ports[("mc-police", "sfp0")] = {"rx": -10.5}
    await rig.to(20)
    drift = [x for x in rig.alert_times() if "drift" in x[1]]
    assert drift == [("alert.raised", "link:fibre-police:drift.b", 15.0)]
    audit = await rig.store.audit_entries()
    assert [(e.actor, e.action, e.target) for e in audit] == [
        ("technik", "link.handover", "fibre-police")
    ]
    lv = rig.engine.link_view("fibre-police")
    assert lv["handed_to"] == "police" and lv["proof"]["throughput_mbps"] == 498.0


async def test_maintenance_suppresses_alerts(rig: Rig) -> None:
    await rig.to(10)
    await rig.engine.set_maintenance("mast-01", True, "technik", "apply #3")
    rig.fleet.down.add("mast-01")
    await rig.to(40)
    assert not [x for x in rig.alert_times() if "mast-01" in x[1]]
    await rig.engine.set_maintenance("mast-01", False, "technik")
    await rig.to(60)
    assert [x[1] for x in rig.alert_times() if "mast-01" in x[1]] == ["device:mast-01:unreachable"]


async def test_reload_adds_and_removes_devices(rig: Rig) -> None:
    await rig.to(10)
    p = rig.engine.profile
    mast = p.mast("mast-03")
    new_mast = mast.model_copy(update={"id": "mast-04", "hostname": "mast-04"})
    newp = Profile.model_validate(
        {
            **p.model_dump(mode="python"),
            "masts": [m.model_dump(mode="python") for m in p.masts if m.id != "mast-02"]
            + [new_mast.model_dump(mode="python")],
        }
    )
    rig.fleet.profile = newp
    summary = await rig.engine.reload(newp, actor="technik")
    assert summary == {"added": ["mast-04"], "removed": ["mast-02"], "changed": []}
    await rig.to(30)
    assert rig.fleet.calls["mast-04"] == [10, 20, 30]
    assert rig.fleet.calls["mast-02"] == [0, 10]
    assert "mast-02" not in rig.engine.devices
    assert rig.engine.device_view("mast-04")["health"] == "ok"
    assert [e.action for e in await rig.store.audit_entries()] == ["profile.reload"]


async def test_poller_bounded_concurrency() -> None:
    clock = FakeClock(T0)
    profile = demo_profile()
    fleet = ScriptedFleet(profile, clock)
    gate = asyncio.Event()
    active = [0]
    peak = [0]

    class Slow(ScriptedDriver):
        async def status(self):  # type: ignore[no-untyped-def]
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            try:
                await gate.wait()
                return await super().status()
            finally:
                active[0] -= 1

    limit = asyncio.Semaphore(2)
    results: list[PollResult] = []

    async def keep(r: PollResult) -> None:
        results.append(r)

    pollers = [
        DevicePoller(
            d.id,
            Slow(fleet, d.id, d.management, clock),
            interval_s=10,
            timeout_s=60,
            clock=clock,
            limit=limit,
            on_result=keep,
        )
        for d in profile.devices
    ]
    for p in pollers:
        p.start()
    await eventually(lambda: active[0] == 2, what="two polls under way")
    assert active[0] == 2  # the rest wait for the semaphore
    gate.set()
    await parked(clock, len(pollers))
    assert peak[0] == 2 and len(results) == len(pollers) and all(r.ok for r in results)
    for p in pollers:
        await p.stop()


def test_probe_throughput_from_any_result_shape() -> None:
    from eventops.engine import probe_throughput_mbps

    assert probe_throughput_mbps({"throughput_mbps": 480}) == 480.0
    assert probe_throughput_mbps({"received_bps": 4.8e8}) == pytest.approx(480.0)
    assert probe_throughput_mbps({"end": {"sum_received": {"bits_per_second": 9.4e8}}}) == 940.0
    assert probe_throughput_mbps({"passed": True}) is None


async def test_staggered_first_polls_spread_over_the_interval(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    profile = demo_profile()
    fleet = ScriptedFleet(profile, clock)
    async with SQLiteStore(tmp_path / "st.sqlite3") as store:
        engine = Engine(profile, store, clock=clock, driver_factory=fleet.factory, stagger=True)
        await engine.start()
        rig = Rig(engine, fleet, clock, store)
        try:
            await rig.to(20)
        finally:
            await engine.stop()
    firsts = {d: calls[0] for d, calls in fleet.calls.items()}
    assert len(firsts) == N_DEVICES and len(set(firsts.values())) > 1
    for d, t in firsts.items():
        assert 0 <= t < engine.devices[d].interval_s
    # afterwards each keeps its own cadence
    for d, calls in fleet.calls.items():
        gaps = [b - a for a, b in itertools.pairwise(calls)]
        assert gaps == pytest.approx([engine.devices[d].interval_s] * len(gaps)), d


async def test_engine_sends_alerts_to_the_profile_webhook(tmp_path: Path) -> None:
    from aiohttp import web

    got: list[dict[str, object]] = []

    async def receive(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response()

    app = web.Application()
    app.router.add_post("/alertmanager", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    clock = FakeClock(T0)
    profile = profile_with(clear_after_s=10)
    profile = profile.model_copy(
        update={
            "alerts": profile.alerts.model_copy(
                update={"webhook_url": f"http://127.0.0.1:{port}/alertmanager"}
            )
        }
    )
    fleet = ScriptedFleet(profile, clock)
    try:
        async with SQLiteStore(tmp_path / "w.sqlite3") as store:
            engine = Engine(profile, store, clock=clock, driver_factory=fleet.factory)
            await engine.start()
            rig = Rig(engine, fleet, clock, store)
            try:
                await rig.to(5)
                fleet.ports[("mc-fire", "sfp0")] = {"oper": "DOWN", "rx": None}
                await rig.to(10)
                fleet.ports.clear()
                await rig.to(30)
                assert engine.webhook is not None
                await engine.webhook.drain()
            finally:
                await engine.stop()
    finally:
        await runner.cleanup()
    alerts = [a for body in got for a in body["alerts"]]  # type: ignore[attr-defined]
    fire = [a for a in alerts if a["labels"]["key"] == "link:fibre-fire:down"]
    assert [a["status"] for a in fire] == ["firing", "resolved"]
    assert fire[0]["startsAt"] == "2026-06-18T16:00:10.000Z"
    assert fire[1]["endsAt"] == "2026-06-18T16:00:25.000Z"


async def test_a_site_under_an_apply_is_in_maintenance(tmp_path: Path) -> None:
    from eventops.provision.lock import SiteLock

    clock = FakeClock(T0)
    profile = profile_with(clear_after_s=10)
    fleet = ScriptedFleet(profile, clock)
    locks = tmp_path / "store.sqlite3.locks"
    async with SQLiteStore(tmp_path / "m.sqlite3", now=clock.now) as store:
        engine = Engine(profile, store, clock=clock, driver_factory=fleet.factory, lock_dir=locks)
        await engine.start()

        async def to(t: float) -> None:
            # + the downsampler, probe-results, engine-alerts and site-locks watchers
            await run_until(clock, t, len(engine._pollers) + 4, lambda: engine._pollers.values())

        try:
            await to(5)
            async with SiteLock(locks, ["marktplatz"], actor="technik", purpose="apply"):
                await to(10)
                assert sorted(engine.maintenance) == ["mast-01", "mast-02", "mc-police", "sw-core"]
                assert engine.maintenance["mast-01"] == "apply by technik"
                fleet.down.add("mast-01")  # rebooting under the apply
                await to(30)
                assert not [a for a in engine.alerts.open_alerts() if a.subject == "mast-01"]
            await to(50)
            assert engine.maintenance == {}
            assert [a.key for a in engine.alerts.open_alerts()] == ["device:mast-01:unreachable"]
        finally:
            await engine.stop()
        audit = [(e.actor, e.action, e.target) for e in await store.audit_entries()]
    assert ("provisioning", "device.maintenance", "mast-01") in audit


def test_held_site_locks_ignores_released_and_dead_holders(tmp_path: Path) -> None:
    import json
    import socket
    import subprocess

    from eventops.engine import held_site_locks

    dead = subprocess.Popen(["true"])
    dead.wait()
    host = socket.gethostname()
    (tmp_path / "site-a.lock").write_text("", encoding="utf-8")  # released
    (tmp_path / "site-b.lock").write_text(
        json.dumps({"pid": dead.pid, "host": host, "actor": "x"}), encoding="utf-8"
    )
    (tmp_path / "site-c.lock").write_text(
        json.dumps({"pid": 1, "host": "other-laptop", "actor": "maria"}), encoding="utf-8"
    )
    (tmp_path / "site-d.lock").write_text("{garbage", encoding="utf-8")
    assert held_site_locks(tmp_path, ["a", "b", "c", "d", "e"]) == {"c": "maria"}


async def test_reboot_refused_before_any_device_io_when_the_driver_cannot(rig: Rig) -> None:
    opened: list[str] = []

    class NoReboot(ScriptedDriver):
        capabilities = Capabilities(reboot=False)

        async def open(self) -> None:
            opened.append(self.device_id)
            await super().open()

    def factory(device: Mast | Switch, clock: Clock, timeout: float) -> DeviceDriver:
        return NoReboot(rig.fleet, device.id, device.management, clock)

    rig.engine.driver_factory = factory
    with pytest.raises(NotSupported, match=r"sw-core: its driver .* offers no reboot"):
        await rig.engine.reboot("sw-core", "technik")
    assert opened == [] and "sw-core" not in rig.fleet.boot_at
    assert rig.engine.capabilities("sw-core").reboot is False
    assert rig.engine.device_view("sw-core")["capabilities"]["reboot"] is False
    audit = [a for a in await rig.store.audit_entries() if a.action == "device.reboot"]
    assert [(a.target, a.after["ok"]) for a in audit] == [("sw-core", False)]
    with pytest.raises(NotFound):
        await rig.engine.reboot("nope", "technik")
