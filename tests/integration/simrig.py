"""The engine against the simulators of a whole profile, on free loopback ports."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventops_hardware.fleet import SimFleet

from eventops.clock import FakeClock
from eventops.demo import preset_masts
from eventops.engine import Engine
from eventops.profile import load_profile
from eventops.profile.models import Mast, Profile, Switch
from eventops.store import SQLiteStore
from tests.unit.monitor.scripted import run_until

REPO = Path(__file__).resolve().parents[2]


def free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def on_free_ports(profile: Profile) -> Profile:
    """The same profile with every device moved to a free loopback port."""
    ports = iter(free_ports(len(profile.masts) + len(profile.switches)))

    def moved(d: Mast | Switch) -> Any:
        url = f"http://127.0.0.1:{next(ports)}"
        return d.model_copy(update={"management": d.management.model_copy(update={"url": url})})

    # model_copy keeps the secrets' base folder (a re-validation would lose it)
    return profile.model_copy(
        update={
            "masts": [moved(m) for m in profile.masts],
            "switches": [moved(s) for s in profile.switches],
        }
    )


@dataclass
class SimRig:
    engine: Engine
    fleet: SimFleet
    clock: FakeClock
    store: SQLiteStore

    async def to(self, t: float) -> None:
        # strict: a poll in flight is real network IO, so time waits for it
        await run_until(
            self.clock,
            t,
            len(self.engine._pollers) + 2,  # + the downsampler and the probe-results watcher
            lambda: self.engine._pollers.values(),
            strict=True,
        )

    def alerts(self) -> list[tuple[str, str, float]]:
        t0 = self.clock._start
        return [
            (ev.type, ev.data["key"], (ev.ts - t0).total_seconds())
            for ev in self.engine.bus
            if ev.type.startswith("alert.")
        ]


@asynccontextmanager
async def sim_rig(tmp_path: Path, **alerts: float) -> AsyncIterator[SimRig]:
    clock = FakeClock()
    base = load_profile(REPO / "profiles" / "demo.toml")
    profile = on_free_ports(
        base.model_copy(update={"alerts": base.alerts.model_copy(update=alerts)})
    )
    async with (
        SimFleet(profile, clock=clock) as fleet,
        SQLiteStore(tmp_path / "sim.sqlite3", now=clock.now) as store,
    ):
        engine = Engine(profile, store, clock=clock)
        # the masts as after a provisioning run
        assert await preset_masts(profile, engine) == []
        await engine.start()
        try:
            yield SimRig(engine, fleet, clock, store)
        finally:
            await engine.stop()
