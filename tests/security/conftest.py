"""The whole engine (monitoring, provisioning, probes, the wall) behind its app,
for the hostile-input, role and cross-site tests.

:func:`full_app` builds what ``eventops serve`` builds (``build_engine``)
around scripted device drivers and a fake clock, so every route the product
mounts is mounted here too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from eventops.clock import FakeClock
from eventops.engine import Engine
from eventops.engine.build import build_engine
from eventops.monitor.bus import EventBus
from eventops.profile import Profile
from eventops.server.app import create_app
from eventops.store import SQLiteStore
from tests.unit.monitor.factories import T0, demo_profile
from tests.unit.monitor.scripted import ScriptedFleet

TOKENS = {
    "technician": "demo-technician-token",
    "authority": "demo-police-token",
    "comms": "demo-comms-token",
}
OTHER_AUTHORITY = "demo-fire-token"


@dataclass
class FullApp:
    app: web.Application
    engine: Engine
    store: SQLiteStore
    clock: FakeClock
    fleet: ScriptedFleet


@asynccontextmanager
async def full_app(
    tmp_path: Path, *, heartbeat_s: float = 15.0, profile: Profile | None = None
) -> AsyncIterator[FullApp]:
    clock = FakeClock(T0)
    profile = profile or demo_profile()
    fleet = ScriptedFleet(profile, clock)
    path = tmp_path / "engine.sqlite3"
    async with SQLiteStore(path, now=clock.now) as store:
        engine = build_engine(
            profile,
            store,
            store_path=path,
            clock=clock,
            driver_factory=fleet.factory,
            provision_driver_factory=fleet.factory,
        )
        engine.bus = EventBus(clock, keep=200)
        await engine.start(poll=False)
        try:
            yield FullApp(create_app(engine, heartbeat_s=heartbeat_s), engine, store, clock, fleet)
        finally:
            await engine.stop()


def routes_of(app: web.Application) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves (HEAD aside)."""
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if route.method in ("HEAD", "*") or not path:
            continue
        out.append((route.method, str(path)))
    return sorted(set(out))
