"""A running engine (scripted drivers, fake clock) behind a real server on 127.0.0.1:0."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from eventops.clock import FakeClock
from eventops.engine import Engine
from eventops.monitor.bus import EventBus
from eventops.server.app import create_app
from eventops.store import SQLiteStore
from tests.unit.monitor.factories import T0, demo_profile
from tests.unit.monitor.scripted import ScriptedFleet, run_until

TOKENS = {
    "technik": "demo-technician-token",
    "police": "demo-police-token",
    "fire": "demo-fire-token",
    "comms": "demo-comms-token",
}


@dataclass
class Served:
    engine: Engine
    fleet: ScriptedFleet
    clock: FakeClock
    store: SQLiteStore
    url: str
    http: aiohttp.ClientSession
    runner: web.AppRunner

    async def to(self, t: float) -> None:
        await run_until(
            self.clock,
            t,
            len(self.engine._pollers) + 3,  # + the downsampler, probe-results, engine-alerts
            lambda: self.engine._pollers.values(),
        )

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKENS[who]}"}

    async def get(self, path: str, who: str | None) -> tuple[int, Any]:
        headers = self.auth(who) if who else {}
        async with self.http.get(self.url + path, headers=headers) as r:
            text = await r.text()
            ctype = r.headers.get("Content-Type", "")
            return r.status, json.loads(text) if "json" in ctype else text

    async def post(self, path: str, who: str, body: Any) -> tuple[int, Any]:
        async with self.http.post(self.url + path, headers=self.auth(who), json=body) as r:
            text = await r.text()
            return r.status, json.loads(text) if "json" in r.headers.get(
                "Content-Type", ""
            ) else text


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    clock = FakeClock(T0)
    profile = demo_profile()
    fleet = ScriptedFleet(profile, clock)
    async with SQLiteStore(tmp_path / "srv.sqlite3", now=clock.now) as store:
        engine = Engine(profile, store, clock=clock, driver_factory=fleet.factory)
        engine.bus = EventBus(clock, keep=200)
        await engine.start()
        app = create_app(engine, heartbeat_s=0.2, status_refresh_s=0.3)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as http:
            s = Served(engine, fleet, clock, store, f"http://127.0.0.1:{port}", http, runner)
            try:
                await s.to(10)
                yield s
            finally:
                await runner.cleanup()
                await engine.stop()


class SSE:
    """Reads Server-Sent Events from a response."""

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self.resp = resp
        self.raw: list[str] = []

    async def next(self, wait_s: float = 5.0) -> dict[str, str]:
        ev: dict[str, str] = {}
        async with asyncio.timeout(wait_s):
            while True:
                line = (await self.resp.content.readline()).decode()
                if line == "":
                    raise EOFError
                self.raw.append(line)
                line = line.rstrip("\n")
                if not line:
                    if ev:
                        return ev
                    continue
                if line.startswith(":"):
                    continue
                k, _, v = line.partition(": ")
                ev[k] = v


@pytest.fixture
async def wserved(tmp_path: Path) -> AsyncIterator[Any]:
    from tests.unit.server.wallkit import wall_served

    async for s in wall_served(tmp_path):
        yield s
