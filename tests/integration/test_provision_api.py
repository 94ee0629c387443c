"""Provisioning through the engine's API, against the simulated fleet.

Plan and apply go through the real server (token auth, roles), progress
arrives on the live stream, and the site lock is shared with ``eventops apply``
run on the command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from eventops_hardware.fleet import SimFleet

from eventops.adapters.base import DeviceDriver, driver_for
from eventops.clock import Clock
from eventops.engine import Engine
from eventops.engine.provisioning import ProvisionService
from eventops.profile import load_profile
from eventops.profile.models import Mast, Profile, Switch
from eventops.provision.apply import ApplyOptions, ApplyReport
from eventops.provision.lock import lock_dir_for
from eventops.server.app import create_app
from eventops.server.provision import PROVISION, provision_extension
from eventops.store import audit_key
from eventops.store.sqlite import SQLiteStore
from tests.integration.adapters.conftest import demo_profile_copy

REPO = Path(__file__).resolve().parents[2]
TOKENS = {
    "technik": "demo-technician-token",
    "police": "demo-police-token",
    "fire": "demo-fire-token",
    "comms": "demo-comms-token",
}


class GatedDriver:
    """A real driver whose commit waits at a gate the test opens (to hold an apply)."""

    def __init__(self, inner: DeviceDriver, gate: Gate) -> None:
        self._inner = inner
        self._gate = gate

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def __aenter__(self) -> GatedDriver:
        await self._inner.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._inner.close()

    async def commit(self, confirm_timeout: float | None = None) -> None:
        self._gate.waiting.set()
        await self._gate.open.wait()
        await self._inner.commit(confirm_timeout=confirm_timeout)


@dataclass
class Gate:
    open: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.open.set()

    def factory(self, dev: Mast | Switch, clock: Clock, timeout: float) -> Any:
        return GatedDriver(driver_for(dev), self)


@dataclass
class Served:
    tmp: Path
    path: Path
    db: Path
    profile: Profile
    fleet: SimFleet
    engine: Engine
    url: str
    http: aiohttp.ClientSession
    gate: Gate
    svc: ProvisionService

    async def engine_wait(self) -> ApplyReport:
        report = await asyncio.wait_for(self.svc.wait(), 60)
        assert report is not None
        return report

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[who]}"}

    async def call(
        self, method: str, path: str, who: str = "technik", body: Any = None
    ) -> tuple[int, Any]:
        async with self.http.request(
            method, self.url + path, headers=self.auth(who), json=body
        ) as r:
            text = await r.text()
            ok = "json" in r.headers.get("Content-Type", "")
            return r.status, json.loads(text) if ok else text

    async def cli(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        base = {
            k: v for k, v in os.environ.items() if k not in ("EVENTOPS_SERVER", "EVENTOPS_TOKEN")
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "eventops",
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=REPO,
            env={**base, "EVENTOPS_DATA_DIR": str(self.tmp), **(env or {})},
        )
        out, err = await asyncio.wait_for(proc.communicate(), 90)
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    db = tmp_path / "demo.sqlite3"
    gate = Gate()
    key = audit_key(profile)  # a keyed store: the engine signs its audit head (apply start)
    async with SimFleet(profile) as fleet, SQLiteStore(db, audit_key=key) as store:
        engine = Engine(profile, store, profile_path=path, lock_dir=lock_dir_for(db))
        await engine.start(poll=False)
        ext = provision_extension(
            options=ApplyOptions(confirm_timeout_s=5.0, poll_s=0.05, recover_s=2.0),
            driver_factory=gate.factory,
        )
        runner = web.AppRunner(create_app(engine, heartbeat_s=0.2, extensions=[ext]))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with aiohttp.ClientSession() as http:
                svc = runner.app[PROVISION]
                yield Served(tmp_path, path, db, profile, fleet, engine, url, http, gate, svc)
        finally:
            gate.open.set()
            await runner.cleanup()
            await engine.stop()


class Stream:
    """The live stream's events, read in the background."""

    def __init__(self, s: Served, who: str = "technik") -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.ready = asyncio.Event()
        self._task = asyncio.create_task(self._read(s, who))

    async def _read(self, s: Served, who: str) -> None:
        async with s.http.get(s.url + "/api/v1/stream", headers=s.auth(who)) as r:
            kind = ""
            async for raw in r.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    self.events.append((kind, json.loads(line[6:])))
                    self.ready.set()

    async def until(self, kind: str) -> dict[str, Any]:
        for _ in range(600):
            for k, d in self.events:
                if k == kind:
                    return d
            await asyncio.sleep(0.02)
        raise AssertionError(f"no {kind} event on the stream: {[k for k, _ in self.events]}")

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


ROUTES = [
    ("POST", "/api/v1/provision/plan", {}),
    ("POST", "/api/v1/provision/apply", {"confirm": "demo"}),
    ("GET", "/api/v1/provision/applies", None),
    ("GET", "/api/v1/provision/applies/1", None),
    ("GET", "/api/v1/provision/running", None),
    ("POST", "/api/v1/provision/rollback", {"apply_id": 1, "confirm": "demo"}),
]


async def test_only_technicians_reach_provisioning(served: Served) -> None:
    for who in ("police", "fire", "comms"):
        for method, path, body in ROUTES:
            status, _ = await served.call(method, path, who, body)
            assert status == 403, (who, method, path, status)
    async with served.http.post(served.url + "/api/v1/provision/plan", json={}) as r:
        assert r.status == 401
    # nothing reached a device and nothing was recorded
    assert await served.engine.store.list_applies() == []


async def test_plan_shows_the_diff_with_secrets_only_as_changed(served: Served) -> None:
    status, plan = await served.call("POST", "/api/v1/provision/plan", body={})
    assert status == 200, plan
    assert plan["summary"]["change"] == 7 and plan["summary"]["unreachable"] == 0
    by = {d["device"]: d for d in plan["devices"]}
    m2 = {c["path"]: c for c in by["mast-02"]["changes"]}
    assert m2["wireless.radio0.channel"]["old"] == "1"
    assert m2["wireless.radio0.channel"]["new"] == "11"
    key = m2["wireless.evo_altstadtfest_staff_2g.key"]
    assert key["secret"] is True and key["new"] is None
    assert "eventops-demo" not in json.dumps(plan)  # the PSK's value never leaves
    assert plan["dangerous"] == []
    status, one = await served.call("POST", "/api/v1/provision/plan", body={"devices": ["mast-01"]})
    assert status == 200 and [d["device"] for d in one["devices"]] == ["mast-01"]
    status, bad = await served.call("POST", "/api/v1/provision/plan", body={"devices": ["nope"]})
    assert status == 400 and "no device 'nope'" in bad["error"]["message"]
    status, bad = await served.call("POST", "/api/v1/provision/plan", body={"devices": "x"})
    assert status == 400
    for timeout in (0, 0.5, 3601, "soon"):  # a run's own confirm timeout: 1 s to 1 h
        status, bad = await served.call(
            "POST", "/api/v1/provision/apply", body={"confirm_timeout_s": timeout}
        )
        assert status == 400 and bad["error"]["field"] == "confirm_timeout_s", bad
    assert (await served.call("GET", "/api/v1/provision/running"))[1] is None


async def test_apply_converges_with_progress_on_the_stream(served: Served) -> None:
    stream, police = Stream(served), Stream(served, "police")
    try:
        await asyncio.wait_for(stream.ready.wait(), 10)  # the snapshot
        await asyncio.wait_for(police.ready.wait(), 10)
        cps = served.engine.checkpoints
        assert cps is not None and cps.latest is None  # not polling: no interval checkpoint
        status, started = await served.call("POST", "/api/v1/provision/apply", body={})
        assert status == 202, started
        # the audit head was signed as the apply started
        assert cps.latest is not None and cps.latest["event"] == served.profile.event.id
        apply_id = started["apply_id"]
        fin = await stream.until("provision.finished")
        assert fin["data"]["apply_id"] == apply_id and fin["data"]["ok"] is True
        steps = [d["data"] for k, d in stream.events if k == "provision"]
        assert steps[0]["phase"] == "start" and steps[0]["apply_id"] == apply_id
        done = {s["device"]: s["result"] for s in steps if s["phase"] == "done"}
        assert set(done) == {d.id for d in served.profile.devices} and set(done.values()) == {
            "applied"
        }
        assert {"staging", "committing", "verifying"} <= {s["phase"] for s in steps}
        # devices were in maintenance while applied, and are out again
        maint = [d for k, d in stream.events if k == "maintenance"]
        assert {m["subject"] for m in maint if m["data"]["on"]} == set(done)
        assert not served.engine.maintenance
        # an authority's stream carries nothing of it
        assert not [k for k, _ in police.events if k.startswith("provision")]
    finally:
        await stream.close()
        await police.close()
    status, plan = await served.call("POST", "/api/v1/provision/plan", body={})
    assert plan["summary"] == {
        "change": 0,
        "unchanged": 7,
        "unreachable": 0,
        "error": 0,
        "text": "0 to change, 7 unchanged, 0 unreachable",
    }
    status, hist = await served.call("GET", "/api/v1/provision/applies")
    assert status == 200 and hist[0]["id"] == apply_id and hist[0]["state"] == "finished"
    assert hist[0]["actor"] == "technik" and hist[0]["counts"] == {"applied": 7}
    status, detail = await served.call("GET", f"/api/v1/provision/applies/{apply_id}")
    assert {r["result"] for r in detail["results"]} == {"applied"}
    assert "backup" not in json.dumps(detail)
    status, again = await served.call("POST", "/api/v1/provision/apply", body={})
    assert status == 409 and again["error"]["message"] == "nothing to change"
    actions = [a.action for a in await served.engine.store.audit_entries()]
    assert "provision.plan" in actions and "provision.apply" in actions


async def test_cli_apply_is_refused_while_the_api_apply_holds_the_site(served: Served) -> None:
    served.gate.open.clear()
    status, started = await served.call("POST", "/api/v1/provision/apply", body={})
    assert status == 202, started
    await asyncio.wait_for(served.gate.waiting.wait(), 20)
    # in-process CLI apply: the site lock says who holds it
    rc, out, err = await served.cli("apply", str(served.path), "--yes", "--db", str(served.db))
    assert rc == 6, (out, err)
    assert "is locked by another apply (apply by technik" in err
    # the CLI through the API: the engine refuses a second run
    rc, out, err = await served.cli(
        "apply",
        str(served.path),
        "--yes",
        "--server",
        served.url,
        "--token",
        "env:EVO_T",
        env={"EVO_T": TOKENS["technik"]},
    )
    assert rc != 0 and "already running" in err, (out, err)
    status, again = await served.call("POST", "/api/v1/provision/apply", body={})
    assert status == 409 and "already running" in again["error"]["message"]
    status, run = await served.call("GET", "/api/v1/provision/running")
    assert run["apply_id"] == started["apply_id"] and run["actor"] == "technik"
    served.gate.open.set()
    svc_report = await served.engine_wait()
    assert svc_report.ok


async def test_dangerous_changes_need_the_typed_confirmation(served: Served) -> None:
    link = served.profile.link("fibre-police")
    results = await served.engine.poll_now([link.a.device, link.b.device])
    assert all(r.ok for r in results)
    await served.engine.handover(
        "fibre-police", "police", "tester", force=True, reason="set-up: no probe here"
    )
    status, plan = await served.call("POST", "/api/v1/provision/plan", body={})
    assert {d["device"] for d in plan["dangerous"]} == {"sw-core", "mc-police"}
    assert "handed over to police" in plan["dangerous"][0]["reason"]
    status, refused = await served.call("POST", "/api/v1/provision/apply", body={})
    assert status == 409 and refused["error"]["code"] == "confirmation_needed"
    assert refused["error"]["confirm"] == "demo"
    assert "2 dangerous changes" in refused["error"]["message"]
    assert {d["device"] for d in refused["error"]["dangerous"]} == {"sw-core", "mc-police"}
    assert len(refused["error"]["reasons"]) == 2
    status, _ = await served.call("POST", "/api/v1/provision/apply", body={"confirm": "yes"})
    assert status == 409
    assert await served.engine.store.list_applies() == []
    # without the handed-over link's devices nothing is dangerous
    status, started = await served.call(
        "POST", "/api/v1/provision/apply", body={"devices": ["mast-01"]}
    )
    assert status == 202
    await served.engine_wait()
    # a rollback always needs the confirmation
    body = {"apply_id": started["apply_id"]}
    status, refused = await served.call("POST", "/api/v1/provision/rollback", body=body)
    assert status == 409 and refused["error"]["confirm"] == "demo"
    status, rb = await served.call(
        "POST", "/api/v1/provision/rollback", body={**body, "confirm": "demo"}
    )
    assert status == 202 and rb["rollback_of"] == started["apply_id"]
    report = await served.engine_wait()
    assert report.kind == "rollback" and report.ok
    status, missing = await served.call(
        "POST", "/api/v1/provision/rollback", body={"apply_id": 999, "confirm": "demo"}
    )
    assert status == 404 and "no apply #999" in missing["error"]["message"]


async def test_cli_plan_and_apply_go_through_the_engine(served: Served) -> None:
    env = {"EVENTOPS_SERVER": served.url, "EVENTOPS_TOKEN": TOKENS["technik"]}
    rc, out, err = await served.cli("plan", str(served.path), "--device", "mast-02", env=env)
    assert rc == 0, err
    assert "~ wireless.radio0.channel: '1' -> '11'" in out
    assert f"plan: 1 to change, 0 unchanged, 0 unreachable (engine at {served.url})" in out
    # an authority's token is refused with a one-line reason
    rc, out, err = await served.cli(
        "plan", str(served.path), env={**env, "EVENTOPS_TOKEN": TOKENS["police"]}
    )
    assert rc == 9 and "403" in err and "technician token" in err and "Traceback" not in err
    rc, out, err = await served.cli(
        "apply", str(served.path), "--yes", "--device", "mast-02", env=env
    )
    assert rc == 0, (out, err)
    assert "mast-02" in out and "applied" in out and "1 applied" in out
    report = await served.engine_wait()
    assert [d.device for d in report.devices] == ["mast-02"] and report.actor == "technik"
    # a dangerous change without --confirm is refused with the phrase to type
    link = served.profile.link("fibre-police")
    assert all(r.ok for r in await served.engine.poll_now([link.a.device, link.b.device]))
    await served.engine.handover(
        "fibre-police", "police", "tester", force=True, reason="set-up: no probe here"
    )
    rc, out, err = await served.cli(
        "apply", str(served.path), "--yes", "--device", "mc-police", env=env
    )
    assert rc == 6 and "--confirm demo" in err and "! dangerous: mc-police" in out
    rc, out, err = await served.cli(
        "apply", str(served.path), "--yes", "--device", "mc-police", "--confirm", "demo", env=env
    )
    assert rc == 0 and "1 applied" in out, (out, err)
    # no engine there: a one-line error
    rc, out, err = await served.cli(
        "plan", str(served.path), env={**env, "EVENTOPS_SERVER": "http://127.0.0.1:1"}
    )
    assert rc == 9 and "cannot reach the engine" in err and "Traceback" not in err
