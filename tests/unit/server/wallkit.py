"""The served engine with the wall mounted, plus helpers to put posts in the store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from eventops.clock import FakeClock
from eventops.engine import Engine
from eventops.monitor.bus import EventBus
from eventops.profile.models import Profile
from eventops.server.app import create_app
from eventops.server.wall import WALL, WallServer, wall_extension
from eventops.store import SQLiteStore
from eventops.store.models import DecisionRow, PostRow
from tests.unit.monitor.factories import T0, demo_profile
from tests.unit.monitor.scripted import ScriptedFleet
from tests.unit.server.conftest import Served


@dataclass
class WallServed(Served):
    media_dir: Path
    port: int

    @property
    def wall(self) -> WallServer:
        return self.runner.app[WALL]

    async def add_post(
        self,
        pid: str,
        text: str = "Hallo Altstadtfest",
        author: str = "replay:anna",
        *,
        state: str = "pending",
        at: datetime | None = None,
        data: dict[str, Any] | None = None,
    ) -> PostRow:
        row = PostRow(
            id=pid,
            source="replay",
            author=author,
            author_name=author.split(":")[-1].title(),
            text=text,
            created_at=at or self.clock.now() - timedelta(minutes=2),
            state="pending",
            data=data or {},
        )
        await self.store.upsert_posts([row])
        await self.store.decide(
            DecisionRow(post_id=pid, ts=self.clock.now(), actor="rule:mode", action="queue"),
            state,
            None,
        )
        await self.wall.hub.refresh()
        return row

    async def delete(self, path: str, who: str) -> tuple[int, Any]:
        async with self.http.delete(self.url + path, headers=self.auth(who)) as r:
            text = await r.text()
            return r.status, text


async def start_wall_server(
    engine: Engine, media_dir: Path, port: int = 0, heartbeat_s: float = 0.3
) -> web.AppRunner:
    app = create_app(
        engine,
        heartbeat_s=0.2,
        status_refresh_s=0.3,
        extensions=[wall_extension(media_dir=media_dir, heartbeat_s=heartbeat_s)],
    )
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    return runner


async def wall_served(
    tmp_path: Path, profile: Profile | None = None, heartbeat_s: float = 0.3
) -> AsyncIterator[WallServed]:
    clock = FakeClock(T0)
    profile = profile or demo_profile()
    fleet = ScriptedFleet(profile, clock)
    media_dir = tmp_path / "media"
    async with SQLiteStore(tmp_path / "wall.sqlite3", now=clock.now) as store:
        engine = Engine(profile, store, clock=clock, driver_factory=fleet.factory)
        engine.bus = EventBus(clock, keep=200)
        await engine.start(poll=False)
        runner = await start_wall_server(engine, media_dir, heartbeat_s=heartbeat_s)
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as http:
            s = WallServed(
                engine,
                fleet,
                clock,
                store,
                f"http://127.0.0.1:{port}",
                http,
                runner,
                media_dir,
                port,
            )
            try:
                yield s
            finally:
                await s.runner.cleanup()
                await engine.stop()
