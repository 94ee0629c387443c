"""Provisioning against the simulated fleet: plan, apply, confirm or roll back, drift, rollback."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eventops_hardware.fleet import SimFleet

from eventops.adapters.base import flatten
from eventops.errors import LockBusy
from eventops.profile import load_profile
from eventops.profile.models import Profile
from eventops.provision.apply import (
    ApplyOptions,
    ProgressEvent,
    ProgressQueue,
    Provisioner,
)
from eventops.provision.lock import SiteLock
from eventops.store.sqlite import SQLiteStore
from tests.integration.adapters.conftest import demo_profile_copy

KEY = "eventops-demo"  # the demo's secret (device password and staff PSK)
MASTS = ("mast-01", "mast-02", "mast-03")


@dataclass
class Recorder:
    """Maintenance hook that remembers who was in maintenance."""

    entered: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    async def enter(self, device: str, reason: str) -> None:
        self.entered.append(device)

    async def leave(self, device: str) -> None:
        self.left.append(device)


@dataclass
class Rig:
    tmp: Path
    path: Path
    profile: Profile
    fleet: SimFleet
    store: SQLiteStore
    events: list[ProgressEvent]
    hooks: list[Callable[[ProgressEvent], None]]
    maintenance: Recorder

    def prov(self, profile: Profile | None = None, **opts: Any) -> Provisioner:
        options = ApplyOptions(
            # every device must be read back and confirmed within this on the real clock
            # (else the simulated mast's own timer restores it): room for a busy host
            confirm_timeout_s=opts.pop("confirm_timeout_s", 5.0),
            poll_s=opts.pop("poll_s", 0.05),
            recover_s=opts.pop("recover_s", 2.0),
            **opts,
        )

        def progress(e: ProgressEvent) -> None:
            self.events.append(e)
            for h in self.hooks:
                h(e)

        return Provisioner(
            profile or self.profile,
            self.store,
            lock_dir=self.tmp / "locks",
            options=options,
            progress=progress,
            maintenance=self.maintenance,
            secrets_base=self.path.parent,
        )

    def edit(self, old: str, new: str, count: int = 1) -> Profile:
        text = self.path.read_text(encoding="utf-8")
        assert old in text
        self.path.write_text(text.replace(old, new, count), encoding="utf-8")
        return load_profile(self.path)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    async with SimFleet(profile) as fleet, SQLiteStore(tmp_path / "event.sqlite3") as store:
        yield Rig(tmp_path, path, profile, fleet, store, [], [], Recorder())


def managed(fleet: SimFleet, mast: str, paths: list[str]) -> dict[str, Any]:
    sim = fleet.mast(mast)
    tree = {c: sim.committed(c) for c in ("system", "network", "wireless")}
    flat = flatten(tree)
    return {p: flat.get(p) for p in paths}


async def test_fresh_plan_apply_converges_and_next_plan_is_empty(rig: Rig) -> None:
    prov = rig.prov()
    plan = await prov.plan()
    assert plan.summary() == "7 to change, 0 unchanged, 0 unreachable"
    by = {d.device: d for d in plan.devices}
    m2 = {c.path: c for c in by["mast-02"].changes}
    assert m2["wireless.radio0.channel"].old == "1" and m2["wireless.radio0.channel"].new == "11"
    assert m2["wireless.radio1.htmode"].new == "HE40"  # the mast's own radios win
    assert not any(p.endswith(".hostname") for p in m2)  # the mast already has its name
    assert m2["wireless.default_radio0.disabled"].new == "1"  # factory open SSID goes off air
    key = m2["wireless.evo_altstadtfest_staff_2g.key"]
    assert key.secret and key.new is None and key.render().endswith("(secret)")
    m3 = {c.path: c for c in by["mast-03"].changes}
    assert m3["wireless.radio1.channel"].new == "100"  # the site's radios override the defaults
    assert any("DFS" in n and "1 min" in n for n in by["mast-03"].notes)
    assert by["mc-police"].render() == "~ interfaces.eth0.vlans: [] -> [110]"
    assert plan.waves[-1] == list(MASTS)  # masts behind fibre-stage after its switches
    assert KEY not in plan.model_dump_json()

    report = await prov.apply(actor="technik")
    assert report.ok, report.summary()
    assert report.summary() == "7 applied — 7 at the new config, 0 at the old one"
    assert all(d.checksum for d in report.devices)
    m3r = next(d for d in report.devices if d.device == "mast-03")
    assert any("not a failure" in n for n in m3r.notes)  # DFS wait reported, not failed
    assert sorted(rig.maintenance.entered) == sorted(rig.maintenance.left)
    assert len(rig.maintenance.entered) == 7
    sim = rig.fleet.mast("mast-02")
    assert sim.pending is None  # confirmed, no timer left
    wl = sim.committed("wireless")
    assert wl["radio0"]["channel"] == "11" and wl["evo_altstadtfest_staff_5g"]["key"] == KEY
    assert rig.fleet.switch("mc-police").interface("eth0").vlans == [110]

    again = await prov.plan()
    assert again.summary() == "0 to change, 7 unchanged, 0 unreachable"
    assert {d.checksum for d in again.devices} == {d.checksum for d in report.devices}
    # the record: all devices, backups of the original configs, the audit entry
    found = await rig.store.get_apply(report.apply_id)
    assert found is not None
    row, rows = found
    assert row.summary["state"] == "finished" and row.summary["counts"] == {"applied": 7}
    assert {r.device for r in rows} == {d.id for d in rig.profile.devices}
    assert all("backup" in r.detail for r in rows)
    backup = next(r for r in rows if r.device == "mast-02").detail["backup"]
    assert backup["wireless"]["radio0"]["channel"] == "1"
    stored = json.dumps([r.model_dump(mode="json") for r in rows])
    assert KEY not in stored
    audit = await rig.store.audit_entries()
    assert [e.action for e in audit] == ["provision.apply.start", "provision.apply"]
    assert audit[-1].actor == "technik" and KEY not in json.dumps(audit[-1].after)
    # a second apply changes nothing and takes no new backup
    second = await prov.apply(actor="technik")
    assert second.counts() == {"unchanged": 7}
    found2 = await rig.store.get_apply(second.apply_id)
    assert found2 is not None and not any("backup" in r.detail for r in found2[1])
    assert [r.state for r in await prov.drift()] == ["in-sync"] * 7


async def test_change_that_cuts_a_mast_off_is_rolled_back_by_its_timer(rig: Rig) -> None:
    sim = rig.fleet.mast("mast-02")
    stop = asyncio.Event()

    def cut_off(e: ProgressEvent) -> None:
        # the new config takes the mast off our management network: it stops answering
        if e.device == "mast-02" and e.phase == "verifying":
            sim.down_until = float("inf")

    async def device_side() -> None:
        # rpcd's timer restores the old config; the mast answers again at its old address
        while not stop.is_set():
            sim.committed("wireless")  # the mast's own clock runs on
            if sim.rollbacks:
                sim.down_until = float("-inf")
                return
            await asyncio.sleep(0.05)

    rig.hooks.append(cut_off)
    watcher = asyncio.create_task(device_side())
    try:
        report = await rig.prov().apply(actor="technik")
    finally:
        stop.set()
        await watcher
    res = {d.device: d for d in report.devices}
    m2 = res["mast-02"]
    assert (m2.result, m2.state) == ("rolled_back", "old")
    assert "did not answer after the change" in (m2.reason or "")
    assert "rollback timer restored it" in (m2.reason or "")
    assert sim.rollbacks == 1 and sim.pending is None
    assert sim.committed("wireless")["radio0"]["channel"] == "1"
    assert all(res[d].result == "applied" for d in res if d != "mast-02")
    assert "1 rolled back" in report.summary() and "6 at the new config, 1 at the old one" in (
        report.summary()
    )
    assert "mast-02" in rig.maintenance.left
    plan = await rig.prov().plan()
    assert [d.device for d in plan.devices if d.state == "change"] == ["mast-02"]


async def test_unreachable_wrong_password_and_device_error_stop_only_that_device(
    rig: Rig,
) -> None:
    long = "x" * 300
    profile = rig.edit('description = "Uplink Rathaus"', f'description = "{long}"')
    rig.fleet.wrong_credentials("mast-01")
    await rig.fleet.mast("mast-03").set_unreachable(True)
    report = await rig.prov(profile).apply(actor="technik")
    res = {d.device: d for d in report.devices}
    assert res["mast-01"].result == "failed" and res["mast-01"].state == "old"
    assert "Authentication failed" in (res["mast-01"].reason or "")
    assert res["mast-03"].result == "unreachable"
    assert "connection refused" in (res["mast-03"].reason or "")
    assert res["sw-core"].result == "failed"
    # the switch's own words
    assert "description must be a string of up to 240 characters" in (res["sw-core"].reason or "")
    assert long not in (res["sw-core"].reason or "")
    assert rig.fleet.switch("sw-core").interface("Ethernet1/1").description == ""  # all or nothing
    for ok in ("mast-02", "mc-police", "sw-stage", "mc-fire"):
        assert res[ok].result == "applied", (ok, res[ok].reason)
    assert not report.ok
    assert "mast-01" not in rig.maintenance.entered  # never got as far as a change
    plan = await rig.prov(profile).plan()
    states = {d.device: d.state for d in plan.devices}
    assert states == {
        "mast-01": "error",
        "mast-02": "unchanged",
        "mast-03": "unreachable",
        "sw-core": "change",
        "mc-police": "unchanged",
        "sw-stage": "unchanged",
        "mc-fire": "unchanged",
    }


async def test_two_concurrent_applies_on_one_site_are_refused(rig: Rig) -> None:
    started = asyncio.Event()
    rig.hooks.append(lambda e: started.set() if e.phase == "start" else None)
    for m in MASTS:
        rig.fleet.mast(m).slow_s = 0.05
    first = asyncio.create_task(rig.prov().apply(actor="a"))
    await started.wait()
    with pytest.raises(
        LockBusy, match=r"site \w+ is locked by another apply \(apply by a, pid"
    ) as e:
        await rig.prov().apply(actor="b")
    # since when, in the event's zone with the zone shown (not +00:00)
    assert re.search(r", since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T\)$", str(e.value)), e.value
    report = await first
    assert report.ok
    applies = await rig.store.list_applies()
    assert len(applies) == 1 and applies[0].actor == "a"
    # another process holding a site's lock also refuses us; its death frees the site
    lock_file = rig.tmp / "locks" / "site-buehne.lock"
    code = (
        "import fcntl,sys,time\n"
        f"f=open({str(lock_file)!r},'a+'); fcntl.flock(f, fcntl.LOCK_EX)\n"
        "print('held', flush=True); time.sleep(60)\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        assert (await proc.stdout.readline()).strip() == b"held"
        with pytest.raises(LockBusy, match="site buehne is locked"):
            await rig.prov().apply(actor="b")
    finally:
        proc.kill()
        await proc.wait()
    assert (await rig.prov().apply(actor="b")).counts() == {"unchanged": 7}


async def test_driver_without_device_rollback_that_cannot_restore_is_unknown(rig: Rig) -> None:
    sw = rig.fleet.switch("mc-police")

    def gone(e: ProgressEvent) -> None:
        if e.device == "mc-police" and e.phase == "verifying":
            sw.down_until = float("inf")

    rig.hooks.append(gone)
    report = await rig.prov().apply(actor="technik")
    res = {d.device: d for d in report.devices}
    mc = res["mc-police"]
    assert (mc.result, mc.state) == ("unknown", "unknown")
    assert (mc.reason or "").endswith("unknown — site visit needed")
    assert "restoring the previous config failed" in (mc.reason or "")
    # sw-core is the controller end of mc-police's link: it is not touched
    assert res["sw-core"].result == "skipped" and "mc-police" in (res["sw-core"].reason or "")
    assert res["mast-01"].result == "applied"
    assert "1 unknown (site visit needed)" in report.summary()


async def test_rollback_to_a_recorded_apply_and_drift(rig: Rig) -> None:
    first = await rig.prov().apply(actor="technik")
    assert first.ok
    profile = rig.edit('name = "Altstadtfest-Gast"', 'name = "Altstadtfest-Besucher"')
    second = await rig.prov(profile).apply(actor="technik")
    assert second.counts() == {"applied": 3, "unchanged": 4}
    wl = rig.fleet.mast("mast-01").committed("wireless")
    assert wl["evo_altstadtfest_besucher_2g"]["ssid"] == "Altstadtfest-Besucher"
    assert wl["evo_altstadtfest_gast_2g"]["disabled"] == "1"

    back = await rig.prov(profile).rollback_to(first.apply_id, actor="technik")
    assert back.kind == "rollback" and back.rollback_of == first.apply_id
    assert back.counts() == {"applied": 3, "unchanged": 4}, back.summary()
    wl = rig.fleet.mast("mast-01").committed("wireless")
    assert wl["evo_altstadtfest_gast_2g"]["disabled"] == "0"
    assert wl["evo_altstadtfest_staff_2g"]["key"] == KEY  # the secret came from its reference
    # the profile still says "Besucher": plan shows it, drift does not (matches the last apply)
    plan = await rig.prov(profile).plan()
    assert plan.count("change") == 3
    drift = {r.device: r for r in await rig.prov(profile).drift()}
    assert all(r.state == "in-sync" for r in drift.values())
    assert drift["mast-01"].apply_id == back.apply_id
    # someone changes a mast by hand
    sim = rig.fleet.mast("mast-03")
    sim.uci["wireless"]["radio0"]["txpower"] = "5"
    drift = {r.device: r for r in await rig.prov(profile).drift()}
    assert drift["mast-03"].state == "drifted"
    assert [c.render() for c in drift["mast-03"].changes] == [
        "~ wireless.radio0.txpower: '15' -> '5'"
    ]
    assert drift["mast-01"].state == "in-sync"
    with pytest.raises(Exception, match="no apply #99"):
        await rig.prov(profile).rollback_to(99, actor="technik")
    actions = [e.action for e in await rig.store.audit_entries()]
    assert actions.count("provision.rollback") == 1


async def test_progress_stream_and_device_selection(rig: Rig) -> None:
    q = ProgressQueue()
    prov = rig.prov()
    prov._progress = q
    report = await prov.apply(["mast-01", "sw-stage"], actor="technik")
    assert [d.device for d in report.devices] == ["mast-01", "sw-stage"]
    seen: list[ProgressEvent] = []
    while not q.queue.empty():
        seen.append(q.queue.get_nowait())
    assert seen[0].phase == "start" and seen[-1].phase == "finish"
    done = [e.device for e in seen if e.phase == "done"]
    assert done == ["sw-stage", "mast-01"]  # the mast waits for its uplink's switch
    assert {"staging", "committing", "verifying", "confirming"} <= {
        e.phase for e in seen if e.device == "mast-01"
    }
    with pytest.raises(Exception, match="no device 'nope'"):
        await prov.plan(["nope"])


async def test_lock_is_all_or_nothing(tmp_path: Path) -> None:
    async with SiteLock(tmp_path, ["b"], actor="x", purpose="apply"):
        with pytest.raises(LockBusy):
            async with SiteLock(tmp_path, ["a", "b"], actor="y", purpose="apply"):
                pass
        # "a" was released again when "b" failed
        async with SiteLock(tmp_path, ["a"], actor="y", purpose="apply"):
            pass
