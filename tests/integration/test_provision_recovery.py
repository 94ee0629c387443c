"""After a crash: a killed apply is closed as interrupted, and the restore it armed on a
switch that cannot roll back by itself is carried out at its deadline by a fresh process."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from eventops_hardware.fleet import SimFleet

from eventops.adapters.base import DeviceDriver, checksum, driver_for
from eventops.clock import FakeClock
from eventops.profile import load_profile
from eventops.profile.models import Profile
from eventops.provision.apply import ApplyOptions, ProgressEvent, Provisioner
from eventops.provision.lock import SiteLock, lock_dir_for
from eventops.provision.recovery import (
    RestoreOutcome,
    arm,
    reconcile_interrupted,
    resume_pending_restores,
    watch_pending_restores,
)
from eventops.store.models import ApplyDeviceRow, ApplyRow
from eventops.store.sqlite import SQLiteStore
from tests.integration.adapters.conftest import REPO, demo_profile_copy

CONFIRM_S = 300.0
"""Long, so the fresh process meets the restore well before its deadline on the fake clock."""


async def until(cond: Callable[[], bool], limit_s: float = 30.0) -> None:
    async with asyncio.timeout(limit_s):
        while not cond():  # noqa: ASYNC110 - polling another task's state
            await asyncio.sleep(0.01)


async def tick_until(clock: FakeClock, step_s: float, cond: Callable[[], bool]) -> None:
    """Move the fake clock on by ``step_s`` (letting real I/O run between) until ``cond``."""
    async with asyncio.timeout(30):
        while not cond():
            await clock.advance(step_s)
            await asyncio.sleep(0.02)


def factory(profile: Profile, clock: FakeClock) -> Callable[[str], DeviceDriver]:
    return lambda dev_id: driver_for(profile.device(dev_id), clock=clock)


async def test_kill_at_verifying_then_restore_at_the_confirm_timeout(tmp_path: Path) -> None:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    db = tmp_path / "event.sqlite3"
    locks = lock_dir_for(db)
    async with SimFleet(profile) as fleet:
        port = fleet.switch("mc-police").interface("eth0")
        assert port.vlans == []
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.helpers.apply_child",
            str(path),
            str(db),
            str(locks),
            "mc-police",
            str(CONFIRM_S),
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None
            async with asyncio.timeout(60):
                line = await proc.stdout.readline()
            assert line.strip() == b"verifying"
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        assert port.vlans == [110]  # committed by the dead process, never confirmed

        async with SQLiteStore(db) as store:
            (armed,) = await store.pending_restores()
            assert armed.device == "mc-police" and armed.site == profile.device("mc-police").site
            assert armed.previous["interfaces"]["eth0"]["vlans"] == []  # what it held before
            assert armed.deadline - armed.armed_at == timedelta(seconds=CONFIRM_S)
            found = await store.get_apply(armed.apply_id)
            assert found is not None and found[0].summary["state"] == "running"

            # a fresh, engine-less start: its clock begins when the restore was armed
            clock = FakeClock(start=armed.armed_at)
            closed = await reconcile_interrupted(store, locks, clock=clock)
            assert [c.apply_id for c in closed] == [armed.apply_id]
            (dev,) = closed[0].devices
            assert (dev.device, dev.result, dev.state) == ("mc-police", "interrupted", "unknown")
            assert "eventops restores its previous config at" in (dev.reason or "")
            assert closed[0].note == (
                f"apply #{armed.apply_id} by kill-test was interrupted while changing "
                "mc-police; they are taken as they are now"
            )
            found = await store.get_apply(armed.apply_id)
            assert found is not None
            row, rows = found
            assert row.summary["state"] == "interrupted" and row.finished_at == clock.now()
            assert [(r.device, r.result) for r in rows] == [("mc-police", "interrupted")]
            audit = await store.audit_entries()
            assert audit[-1].action == "provision.apply.interrupted"
            assert audit[-1].after["apply_id"] == armed.apply_id
            assert await reconcile_interrupted(store, locks, clock=clock) == []  # once only

            task = asyncio.create_task(
                resume_pending_restores(
                    store, factory(profile, clock), clock, lock_dir=locks, poll_s=0.05
                )
            )
            await until(lambda: clock.pending == 1)  # waiting for the deadline
            await clock.advance(CONFIRM_S - 1)
            assert not task.done() and port.vlans == [110]  # not before the confirm timeout
            await clock.advance(1)
            async with asyncio.timeout(30):
                outcomes = await task
            assert port.vlans == []  # restored at the confirm timeout
            (out,) = outcomes
            assert (out.device, out.result, out.state) == ("mc-police", "restored", "old")
            assert (out.reason or "").startswith(
                f"apply #{armed.apply_id} was interrupted before it confirmed the change; "
            )
            assert "eventops restored the previous config" in (out.reason or "")
            assert await store.pending_restores() == []
            found = await store.get_apply(armed.apply_id)
            assert found is not None
            (rec,) = found[1]
            assert (rec.result, rec.detail["state"]) == ("restored", "old")
            async with driver_for(profile.device("mc-police")) as drv:
                assert rec.checksum == checksum(await drv.get_config())
            assert (await store.audit_entries())[-1].action == "provision.restore"
            assert await store.verify_audit() == len(await store.audit_entries())
            # nothing left to do on the next start
            assert await resume_pending_restores(store, factory(profile, clock), clock) == []


async def test_reconcile_leaves_an_apply_that_is_alive_elsewhere(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    clock = FakeClock()
    async with SQLiteStore(tmp_path / "s.db") as store:
        summary = {
            "kind": "apply",
            "event": "fest",
            "sites": ["buehne"],
            "devices": ["sw-stage", "mast-03"],
            "state": "running",
        }
        aid = await store.record_apply(
            ApplyRow(started_at=clock.now(), actor="anna", summary=summary),
            [
                ApplyDeviceRow(
                    device="sw-stage", result="applied", checksum="c1", detail={"state": "new"}
                )
            ],
        )
        # another process (here: another open file) holds the site: the apply is alive
        async with SiteLock(locks, ["buehne"], actor="anna", purpose="apply"):
            assert await reconcile_interrupted(store, locks, clock=clock) == []
        found = await store.get_apply(aid)
        assert found is not None and found[0].summary["state"] == "running"
        await clock.advance(5)
        (closed,) = await reconcile_interrupted(store, locks, clock=clock)
        assert closed.note == f"apply #{aid} by anna was interrupted"
        assert [(d.device, d.result, d.state) for d in closed.devices] == [
            ("sw-stage", "applied", "new"),
            ("mast-03", "skipped", "old"),
        ]
        found = await store.get_apply(aid)
        assert found is not None
        row, rows = found
        assert row.finished_at == clock.now()
        assert row.summary["counts"] == {"applied": 1, "skipped": 1}
        assert {r.device: r.result for r in rows} == {"sw-stage": "applied", "mast-03": "skipped"}


async def test_a_live_apply_that_confirms_in_time_keeps_its_change(tmp_path: Path) -> None:
    locks = tmp_path / "locks"
    clock = FakeClock()

    def no_driver(dev_id: str) -> DeviceDriver:
        raise AssertionError(f"{dev_id} must not be touched")

    async with SQLiteStore(tmp_path / "s.db") as store:
        await arm(
            store,
            device="sw-core",
            site="rathaus",
            apply_id=7,
            driver="restconf",
            previous={"interfaces": {"Ethernet1/1": {"description": "", "key": "x"}}},
            secrets=set(),
            now=clock.now(),
            seconds=10,
        )
        (p,) = await store.pending_restores()
        assert p.previous == {"interfaces": {"Ethernet1/1": {"description": ""}}}
        assert p.withheld == ["interfaces.Ethernet1/1.key"]  # secrets are never stored
        async with SiteLock(locks, ["rathaus"], actor="live", purpose="apply"):
            task = asyncio.create_task(
                resume_pending_restores(store, no_driver, clock, lock_dir=locks, poll_s=1.0)
            )
            await until(lambda: clock.pending == 1)
            await clock.advance(10)  # deadline: the site is busy, so it waits its turn
            await until(lambda: clock.pending == 1)
            await clock.advance(1)
            await until(lambda: clock.pending == 1)
            assert not task.done()
            assert await store.clear_restore("sw-core", 7)  # the live apply confirmed
        await clock.advance(1)
        async with asyncio.timeout(30):
            assert await task == []


async def test_a_new_apply_first_undoes_what_a_dead_one_left_unconfirmed(tmp_path: Path) -> None:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    async with SimFleet(profile) as fleet, SQLiteStore(tmp_path / "e.db") as store:
        port = fleet.switch("mc-police").interface("eth0")
        port.description = "left by a dead apply"
        await arm(
            store,
            device="mc-police",
            site=profile.device("mc-police").site or "_event",
            apply_id=99,
            driver="restconf",
            previous={"interfaces": {"eth0": {"description": "before"}}},
            secrets=set(),
            now=FakeClock().now(),
            seconds=3600,
        )
        prov = Provisioner(
            profile,
            store,
            lock_dir=tmp_path / "locks",
            options=ApplyOptions(confirm_timeout_s=5.0, poll_s=0.05),
            secrets_base=path.parent,
        )
        report = await prov.apply(["mc-police"], actor="technik")
        assert report.notes == ["mc-police: a change apply #99 left unconfirmed was undone first"]
        assert report.counts() == {"applied": 1}
        assert port.vlans == [110]
        assert await store.pending_restores() == []
        audit = await store.audit_entries()
        assert [e.action for e in audit] == [
            "provision.restore",
            "provision.apply.start",
            "provision.apply",
        ]
        assert audit[0].after["result"] == "restored"
        # the apply read the switch after the restore: its backup holds the restored value
        found = await store.get_apply(report.apply_id)
        assert found is not None
        (rec,) = found[1]
        assert rec.detail["backup"]["interfaces"]["eth0"]["description"] == "before"


@pytest.mark.parametrize("held", [True, False])
async def test_reconcile_with_held_sites_only_closes_applies_on_them(
    tmp_path: Path, held: bool
) -> None:
    clock = FakeClock()
    async with SQLiteStore(tmp_path / "s.db") as store:
        for site in ("a", "b"):
            await store.record_apply(
                ApplyRow(
                    started_at=clock.now(),
                    actor="x",
                    summary={"kind": "apply", "sites": [site], "devices": [], "state": "running"},
                ),
                [],
            )
        closed = await reconcile_interrupted(
            store, tmp_path / "locks", clock=clock, held=["a"] if held else None
        )
        assert [c.apply_id for c in closed] == ([1] if held else [1, 2])


async def test_a_cancelled_apply_is_closed_and_its_restore_stays_armed(tmp_path: Path) -> None:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    async with SimFleet(profile) as fleet, SQLiteStore(tmp_path / "e.db") as store:
        sw = fleet.switch("mc-police")
        verifying = asyncio.Event()

        def hook(e: ProgressEvent) -> None:
            if e.device == "mc-police" and e.phase == "verifying":
                sw.slow_s = 5.0  # the read-back hangs: the engine shuts down meanwhile
                verifying.set()

        prov = Provisioner(
            profile,
            store,
            lock_dir=tmp_path / "locks",
            options=ApplyOptions(confirm_timeout_s=CONFIRM_S, poll_s=0.05),
            progress=hook,
            secrets_base=path.parent,
        )
        task = asyncio.create_task(prov.apply(["mc-police"], actor="technik"))
        async with asyncio.timeout(30):
            await verifying.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        sw.slow_s = 0.0
        assert sw.interface("eth0").vlans == [110]
        (armed,) = await store.pending_restores()
        found = await store.get_apply(armed.apply_id)
        assert found is not None
        row, (rec,) = found
        assert row.summary["state"] == "interrupted" and row.finished_at is not None
        assert rec.result == "interrupted" and "restores its previous config at" in str(
            rec.detail["reason"]
        )
        assert (await store.audit_entries())[-1].action == "provision.apply.interrupted"
        # nothing left for reconcile; the restore is carried out at its deadline
        clock = FakeClock(start=armed.armed_at)
        assert await reconcile_interrupted(store, tmp_path / "locks", clock=clock) == []
        task2 = asyncio.create_task(
            resume_pending_restores(store, factory(profile, clock), clock, poll_s=0.05)
        )
        await until(lambda: clock.pending == 1)
        await clock.advance(CONFIRM_S)
        async with asyncio.timeout(30):
            (out,) = await task2
        assert out.result == "restored" and sw.interface("eth0").vlans == []


async def test_a_restore_that_cannot_be_carried_out_is_unknown_and_audited(
    tmp_path: Path,
) -> None:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    clock = FakeClock()
    async with SimFleet(profile) as fleet, SQLiteStore(tmp_path / "e.db") as store:
        await fleet.switch("mc-police").set_unreachable(True)
        for device in ("mc-police", "sw-removed"):
            await arm(
                store,
                device=device,
                site="marktplatz",
                apply_id=3,
                driver="restconf",
                previous={"interfaces": {"eth0": {"vlans": []}}},
                secrets=set(),
                now=clock.now(),
                seconds=0,
            )
        outs = {
            o.device: o
            for o in await resume_pending_restores(
                store, factory(profile, clock), clock, poll_s=0.05, verify_s=5
            )
        }
        assert {d: (o.result, o.state) for d, o in outs.items()} == {
            "mc-police": ("unknown", "unknown"),
            "sw-removed": ("unknown", "unknown"),
        }
        assert "restoring the previous config failed" in (outs["mc-police"].reason or "")
        assert "connection refused" in (outs["mc-police"].reason or "")
        assert (outs["sw-removed"].reason or "").endswith(
            "cannot restore it (it is no longer in the profile) — unknown — site visit needed"
        )
        assert await store.pending_restores() == []
        audit = await store.audit_entries()
        assert sorted((e.action, e.target) for e in audit) == [
            ("provision.restore", "mc-police"),
            ("provision.restore", "sw-removed"),
        ]


async def test_the_watch_carries_out_restores_armed_while_it_runs(tmp_path: Path) -> None:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    clock = FakeClock()
    async with SimFleet(profile) as fleet, SQLiteStore(tmp_path / "e.db") as store:
        ports = {d: fleet.switch(d).interface("eth0") for d in ("mc-police", "mc-fire")}
        for port in ports.values():
            port.vlans = [999]  # an unconfirmed change a dead apply left

        async def arm_for(device: str, seconds: float) -> None:
            await arm(
                store,
                device=device,
                site=profile.device(device).site or "_event",
                apply_id=5,
                driver="restconf",
                previous={"interfaces": {"eth0": {"vlans": []}}},
                secrets=set(),
                now=clock.now(),
                seconds=seconds,
            )

        await arm_for("mc-police", 10)
        heard: list[RestoreOutcome] = []
        watch = asyncio.create_task(
            watch_pending_restores(
                store,
                factory(profile, clock),
                clock,
                lock_dir=tmp_path / "locks",
                every_s=30,
                poll_s=0.05,
                on_outcome=heard.append,
            )
        )
        try:
            await until(lambda: clock.pending == 2)  # its period, and mc-police's deadline
            await arm_for("mc-fire", 100)  # armed by a process that died while the watch runs
            await clock.advance(10)
            await until(lambda: ports["mc-police"].vlans == [])
            assert ports["mc-fire"].vlans == [999]
            assert clock.monotonic() == 10
            await tick_until(clock, 30, lambda: len(heard) == 1)  # it looks again, finds mc-fire
            await clock.advance(99 - clock.monotonic())
            assert ports["mc-fire"].vlans == [999]  # not before its deadline
            await clock.advance(1)
            await until(lambda: ports["mc-fire"].vlans == [])
            await tick_until(clock, 30, lambda: len(heard) == 2)
            assert [(o.device, o.result) for o in heard] == [
                ("mc-police", "restored"),
                ("mc-fire", "restored"),
            ]
            assert await store.pending_restores() == []
        finally:
            watch.cancel()
            with pytest.raises(asyncio.CancelledError):
                await watch
