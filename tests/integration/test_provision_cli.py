"""`eventops plan/apply/drift/rollback` run as a user runs them, against the simulated fleet."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eventops_hardware.fleet import SimFleet
from eventops_hardware.openwrt_mast import OpenWrtMast

from eventops.adapters.base import flatten
from eventops.clock import SystemClock
from eventops.profile import load_profile
from eventops.profile.models import Profile
from eventops.provision.apply import ApplyOptions, Provisioner
from eventops.provision.render import render, resolve
from eventops.store.sqlite import SQLiteStore
from tests.helpers.wait import eventually
from tests.integration.adapters.conftest import demo_profile_copy

REPO = Path(__file__).resolve().parents[2]
KEY = "eventops-demo"


@dataclass
class Cli:
    tmp: Path
    path: Path
    profile: Profile
    fleet: SimFleet

    @property
    def db(self) -> Path:
        return self.tmp / "demo.sqlite3"

    async def start(self, *args: str, stdin: int | None = None) -> asyncio.subprocess.Process:
        env = {**os.environ, "EVENTOPS_DATA_DIR": str(self.tmp)}
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "eventops",
            *args,
            stdin=asyncio.subprocess.DEVNULL if stdin is None else stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=REPO,
            env=env,
        )

    async def run(self, *args: str) -> tuple[int, str, str]:
        proc = await self.start(*args)
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()

    def requests(self) -> int:
        return sum(d.requests for d in self.fleet.devices)


@pytest.fixture
async def cli(tmp_path: Path) -> AsyncIterator[Cli]:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    async with SimFleet(profile) as fleet:
        yield Cli(tmp_path, path, profile, fleet)


async def test_plan_apply_plan_drift_rollback(cli: Cli) -> None:
    rc, out, err = await cli.run("plan", str(cli.path))
    assert rc == 0, err
    assert "~ mast-02:" in out and "~ wireless.radio0.channel: '1' -> '11'" in out
    assert "+ wireless.evo_altstadtfest_staff_2g.key: (secret)" in out
    assert "note: 5g channel 100 is a DFS channel" in out
    assert out.strip().endswith("plan: 7 to change, 0 unchanged, 0 unreachable")
    changes = {d: int(n) for d, n in re.findall(r"^~ (\S+): (\d+) changes?$", out, re.M)}
    rc, out, err = await cli.run("plan", str(cli.path), "--summary")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[:-1] == [f"~ {d}: {n} change{'s' if n != 1 else ''}" for d, n in changes.items()]
    assert len(lines) == 8 and lines[-1] == (
        f"plan: 7 to change, 0 unchanged, 0 unreachable; {sum(changes.values())} changes in all"
    )
    rc, out, _ = await cli.run("plan", str(cli.path), "--json", "--device", "mast-01")
    doc = json.loads(out)
    assert doc["summary"] == {"change": 1, "unchanged": 0, "unreachable": 0, "error": 0}
    assert [d["device"] for d in doc["devices"]] == ["mast-01"]
    assert KEY not in out

    rc, out, err = await cli.run("apply", str(cli.path), "--yes", "--actor", "technik")
    assert rc == 0, out + err
    assert "apply #1: 7 applied — 7 at the new config, 0 at the old one" in out
    assert KEY not in out + err
    rc, out, _ = await cli.run("plan", str(cli.path))
    assert rc == 0 and "plan: 0 to change, 7 unchanged, 0 unreachable" in out
    rc, out, _ = await cli.run("plan", str(cli.path), "--summary")
    assert rc == 0 and out.splitlines()[0] == "  mast-01: no change"
    assert out.splitlines()[-1] == "plan: 0 to change, 7 unchanged, 0 unreachable; 0 changes in all"
    rc, out, _ = await cli.run("drift", str(cli.path))
    assert rc == 0 and "drift: 0 drifted, 0 not readable, 7 devices" in out

    cli.fleet.mast("mast-01").uci["wireless"]["radio1"]["channel"] = "44"
    rc, out, _ = await cli.run("drift", str(cli.path))
    assert rc == 1
    assert "mast-01          drifted (since apply #1)" in out
    assert "~ wireless.radio1.channel: '36' -> '44'" in out
    rc, out, err = await cli.run("rollback", str(cli.path), "--to", "1", "--yes")
    assert rc == 0, out + err
    assert "rollback #2: 1 applied, 6 unchanged" in out
    assert cli.fleet.mast("mast-01").committed("wireless")["radio1"]["channel"] == "36"
    rc, out, err = await cli.run("rollback", str(cli.path), "--to", "42", "--yes")
    assert rc == 6 and err.strip() == "eventops: error: no apply #42 in the event store"
    # the applies a rollback can name, newest first, in the event's time zone
    rc, out, err = await cli.run("applies", str(cli.path))
    assert rc == 0, err
    devs = "mast-01, mast-02, mast-03, sw-core, … (+3)"
    assert re.fullmatch(
        rf"#2     \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d CES?T  \S+ +rollback to #1 +{re.escape(devs)}  "
        r"finished: 1 applied, 6 unchanged\n"
        rf"#1     \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d CES?T  technik +apply +{re.escape(devs)}  "
        r"finished: 7 applied\n",
        out,
    ), out
    rc, out, _ = await cli.run("applies", str(cli.path), "--json", "--limit", "1")
    [doc] = json.loads(out)
    assert doc["id"] == 2 and doc["kind"] == "rollback" and doc["rollback_of"] == 1
    assert len(doc["devices"]) == 7 and doc["started_at"].endswith("+00:00")
    rc, _, err = await cli.run("applies", str(cli.path), "--limit", "0")
    assert rc == 9 and err == "eventops: error: --limit must be 1..10000\n"
    rc, _, err = await cli.run("applies", str(cli.path), "--db", str(cli.tmp / "none.sqlite3"))
    assert rc == 4 and "no event store here yet" in err and err.count("\n") == 1
    rc, out, _ = await cli.run("audit", "show", str(cli.path))
    assert "provision.apply" in out and "provision.rollback" in out


async def test_apply_without_terminal_or_yes_refuses_at_once(cli: Cli) -> None:
    rc, _out, err = await cli.run("apply", str(cli.path))
    assert rc == 6
    assert (
        err.strip()
        == "eventops: error: no terminal to confirm on: pass --yes to apply without asking"
    )
    assert cli.requests() == 0


async def test_apply_on_a_terminal_shows_the_plan_and_asks(cli: Cli) -> None:
    for answer, applied in (("n", False), ("yes", True)):
        master, slave = pty.openpty()
        try:
            os.write(master, f"{answer}\n".encode())
            proc = await cli.start("apply", str(cli.path), "--actor", "technik", stdin=slave)
            out, err = await asyncio.wait_for(proc.communicate(), 90)
        finally:
            os.close(slave)
            os.close(master)
        text = out.decode()
        assert proc.returncode == 0, err.decode()
        assert "plan: 7 to change, 0 unchanged, 0 unreachable" in text
        assert "Apply to 7 devices? [y/N]" in text
        assert ("apply #1: 7 applied" in text) is applied
        channel = cli.fleet.mast("mast-02").committed("wireless")["radio0"]["channel"]
        assert channel == ("11" if applied else "1")


async def test_invalid_profile_never_reaches_a_device(cli: Cli) -> None:
    text = cli.path.read_text(encoding="utf-8").replace("channel = 11", "channel = 14")
    bad = cli.tmp / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    for cmd in ("plan", "apply", "drift"):
        rc, _out, err = await cli.run(cmd, str(bad), *(["--yes"] if cmd == "apply" else []))
        assert rc == 2, (cmd, err)
        assert "masts[1].radios[0].channel: channel 14" in err and "Traceback" not in err
    assert cli.requests() == 0
    assert not cli.db.exists()


async def test_apply_killed_mid_run_leaves_every_device_consistent(cli: Cli) -> None:
    for d in cli.fleet.devices:
        d.slow_s = 0.05
    proc = await cli.start(
        "apply", str(cli.path), "--yes", "--concurrency", "1", "--confirm-timeout", "2"
    )
    masts = [cli.fleet.mast(m) for m in ("mast-01", "mast-02", "mast-03")]
    try:
        async with asyncio.timeout(60):
            while not any(m.pending is not None for m in masts):  # noqa: ASYNC110 - sim state
                await asyncio.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    killed = next(m for m in masts if m.pending is not None)
    assert killed.pending is not None
    deadline = killed.pending.deadline
    await eventually(lambda: killed.clock.monotonic() > deadline, what="the rollback timer ran out")
    for d in cli.fleet.devices:
        d.slow_s = 0.0
    # every mast holds all of the new config or all of the old one
    desired = render(cli.profile)
    states = {}
    for m in masts:
        running = {c: m.committed(c) for c in ("system", "network", "wireless")}
        want = flatten(resolve(desired[m.device_id], running))
        have = flatten(running)
        factory = OpenWrtMast(
            m.device_id, clock=SystemClock(), password="x", hostname=m.device_id
        ).uci
        if all(have.get(p) == v for p, v in want.items() if not p.endswith("..type")):
            states[m.device_id] = "new"
        else:
            assert running == factory, f"{m.device_id} holds a mix of old and new config"
            states[m.device_id] = "old"
    assert killed.rollbacks == 1 and states[killed.device_id] == "old"
    # the next plan shows the truth, and the lock died with the process
    async with SQLiteStore(cli.db) as store:
        found = await store.get_apply(1)
        assert found is not None
        row, rows = found
        assert row.summary["state"] == "running" and row.finished_at is None
        assert {r.device: r.result for r in rows}[killed.device_id] == "applying"
        prov = Provisioner(
            cli.profile,
            store,
            lock_dir=cli.tmp / "demo.sqlite3.locks",
            options=ApplyOptions(confirm_timeout_s=5, poll_s=0.05),
        )
        plan = await prov.plan()
        planned = {d.device: d.state for d in plan.devices}
        for dev, st in states.items():
            assert planned[dev] == ("unchanged" if st == "new" else "change")
        report = await prov.apply(actor="technik")
        assert report.ok
        assert report.notes == [
            f"apply #1 by {row.actor} was interrupted while changing {killed.device_id}; "
            "they are taken as they are now"
        ]
        found = await store.get_apply(1)
        assert found is not None and found[0].summary["state"] == "interrupted"
        assert {d.device for d in report.devices if d.result == "applied"} == {
            d.device for d in plan.devices if d.state == "change"
        }
