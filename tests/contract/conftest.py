"""A real engine server on 127.0.0.1 with every extension mounted (wall, probe,
provisioning), scripted drivers and a fake clock, for the contract tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import TypeAdapter, ValidationError

from eventops import probe
from eventops.api import models as m
from eventops.api.routes import Route
from eventops.clock import Clock, FakeClock
from eventops.engine import Engine
from eventops.monitor.bus import EventBus
from eventops.profile.models import Mast, Switch
from eventops.provision.apply import ApplyOptions
from eventops.server.app import create_app
from eventops.server.probe import probe_extension
from eventops.server.provision import provision_extension
from eventops.server.wall import WALL, wall_extension
from eventops.store import SQLiteStore
from eventops.store.models import DecisionRow, PostRow, ProbeResultRow
from tests.unit.monitor.factories import T0, demo_profile
from tests.unit.monitor.scripted import ScriptedFleet, run_until

REPO = Path(__file__).resolve().parents[2]
WHO = {
    "technician": "demo-technician-token",
    "authority": "demo-police-token",
    "comms": "demo-comms-token",
}


@dataclass
class Answer:
    status: int
    ctype: str
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw)


@dataclass
class Rig:
    engine: Engine
    fleet: ScriptedFleet
    clock: FakeClock
    store: SQLiteStore
    url: str
    http: aiohttp.ClientSession
    runner: web.AppRunner
    reflector_port: int

    async def to(self, t: float) -> None:
        await run_until(
            self.clock, t, len(self.engine._pollers) + 3, lambda: self.engine._pollers.values()
        )

    async def call(
        self, method: str, path: str, who: str | None, body: Any = None, *, raw: bytes | None = None
    ) -> Answer:
        headers = {"Authorization": f"Bearer {WHO[who]}"} if who else {}
        kw: dict[str, Any] = {}
        if raw is not None:
            kw["data"] = raw
            headers["Content-Type"] = "application/json"
        elif body is not None:
            kw["json"] = body
        async with self.http.request(method, self.url + path, headers=headers, **kw) as r:
            return Answer(r.status, r.headers.get("Content-Type", ""), await r.read())

    async def add_post(self, pid: str, author: str = "replay:anna") -> None:
        row = PostRow(
            id=pid,
            source="replay",
            author=author,
            author_name="Anna",
            text="Hallo Altstadtfest",
            created_at=self.clock.now() - timedelta(minutes=2),
        )
        await self.store.upsert_posts([row])
        await self.store.decide(
            DecisionRow(post_id=pid, ts=self.clock.now(), actor="rule:mode", action="queue"),
            "pending",
            None,
        )
        await self.runner.app[WALL].hub.refresh()

    async def add_proof(self, link: str = "fibre-police") -> None:
        await self.engine.record_probe_result(
            ProbeResultRow(
                ts=self.clock.now(),
                target=link,
                kind="acceptance",
                passed=True,
                result={"throughput_mbps": 497.5, "loss_pct": 0.0},
            )
        )


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = FakeClock(T0)
    profile = demo_profile()
    fleet = ScriptedFleet(profile, clock)
    refl = await probe.start_reflector("127.0.0.1", 0)

    def drivers(device: Mast | Switch, clock_: Clock, timeout: float) -> Any:
        return fleet.factory(device, clock, 5.0)

    try:
        async with SQLiteStore(tmp_path / "c.sqlite3", now=clock.now) as store:
            engine = Engine(profile, store, clock=clock, driver_factory=fleet.factory)
            engine.bus = EventBus(clock, keep=200)
            await engine.start()
            exts = [
                wall_extension(media_dir=tmp_path / "media", heartbeat_s=0.3),
                probe_extension(),
                provision_extension(
                    lock_dir=tmp_path / "locks",
                    driver_factory=drivers,
                    options=ApplyOptions(confirm_timeout_s=5.0, poll_s=0.05, recover_s=2.0),
                ),
            ]
            app = create_app(engine, heartbeat_s=0.2, status_refresh_s=0.3, extensions=exts)
            runner = web.AppRunner(app, shutdown_timeout=0.5)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            try:
                async with aiohttp.ClientSession() as http:
                    r = Rig(engine, fleet, clock, store, url, http, runner, refl.port)
                    await r.to(10)
                    yield r
            finally:
                await runner.cleanup()
                await engine.stop()
    finally:
        await refl.close()


def response_adapter(route: Route) -> TypeAdapter[Any]:
    assert route.response is not None
    t: Any = route.response
    if route.many:
        t = list[t]
    if route.nullable:
        t = t | None
    return TypeAdapter(t)


def contract_problems(route: Route, ans: Answer) -> str | None:
    """None when ``ans`` is what the contract says; else what differs (one line)."""
    try:
        if ans.status >= 400:
            m.ErrorBody.model_validate_json(ans.raw)
        elif route.response is not None:
            response_adapter(route).validate_json(ans.raw)
    except ValidationError as exc:
        e = exc.errors()[0]
        return f"{'.'.join(map(str, e['loc']))}: {e['type']}: {e['msg']} ({ans.raw[:120]!r})"
    return None


Scenario = Callable[[Rig], Awaitable[tuple[str, Any]]]
