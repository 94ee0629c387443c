"""The engine against the simulators of a whole profile, on free loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventops_hardware.fleet import SimFleet
from eventops_hardware.ports import free_ports

from eventops.clock import FakeClock
from eventops.engine import Engine
from eventops.errors import DeviceError, EventOpsError
from eventops.monitor.checks import provisioned_radios
from eventops.profile import load_profile
from eventops.profile.models import Mast, Profile, Switch
from eventops.store import SQLiteStore
from tests.unit.monitor.scripted import run_until

REPO = Path(__file__).resolve().parents[2]


async def preset_masts(profile: Profile, engine: Engine) -> list[str]:
    """Put each mast's radios on the profile's channel, width and power, through its driver.

    A quick stand-in for a provisioning run (the demo runs the real apply),
    so that engine tests start from masts on their profile's radios.
    Returns the masts that could not be set.
    """
    failed = []
    for mast in profile.masts:
        driver = engine.driver_factory(mast, engine.clock, mast.management.timeout_s)
        try:
            await driver.open()
            running = await driver.get_config()
            sections = running.get("wireless", {})
            candidate: dict[str, dict[str, Any]] = {}
            for radio in provisioned_radios(profile, mast):
                name = next(
                    (
                        s
                        for s, opts in sections.items()
                        if isinstance(opts, dict) and opts.get("band") == radio.band
                    ),
                    None,
                )
                if name is None:
                    continue
                candidate[name] = {
                    "channel": str(radio.channel),
                    "htmode": f"HE{radio.width}",
                    "txpower": str(int(radio.tx_power_dbm)),
                }
            if candidate:
                await driver.load_candidate({"wireless": candidate})
                if (await driver.compare()).empty:
                    await driver.discard()
                else:
                    await driver.commit()
        except (DeviceError, EventOpsError) as exc:
            failed.append(f"{mast.id} ({exc.one_line()})")
        finally:
            await driver.close()
    return failed


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
            len(self.engine._pollers) + 3,  # + the downsampler, probe-results, engine-alerts
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
