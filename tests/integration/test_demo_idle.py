"""An idle demo raises no alert (issue 19: "simulator noise raises alerts nobody injected").

The demo's own set-up — its profile with the demo's short poll intervals
(:func:`eventops.demo.fast`), the simulators of every mast and switch, the
site applied as ``eventops demo`` presets it, the engine as the demo builds
it — on a fake clock, without the demo's fault cycle, for ten simulated
minutes. Nothing was injected, so nothing may be raised; and no figure the
engine derived (link utilisation) is above 100 %: the demo once showed 143 %
on every link end.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from eventops_hardware.fleet import SimFleet

from eventops.clock import FakeClock
from eventops.demo import demo_profile_path, fast, preset_site
from eventops.engine import build_engine
from eventops.profile import load_profile
from eventops.store import SQLiteStore
from tests.unit.monitor.scripted import advance_parked, parked

from .simrig import on_free_ports

IDLE_S = 600.0


@pytest.mark.slow  # ~3,300 real polls over loopback HTTP (the demo's 1 s and 2 s intervals)
async def test_ten_idle_minutes_of_the_demo_raise_no_alert(tmp_path: Path) -> None:
    clock = FakeClock()
    demo = fast(load_profile(demo_profile_path()))
    # The fake clock stands still while a request is in flight (advance_parked), so no
    # request times out on it; the transport also bounds each request by the same
    # seconds on the wall clock, and a busy host (CI's parallel workers, the simulators
    # in this process) once took 1.5 real seconds for a mast's answer: a generous
    # timeout keeps that backstop out of a test about what the engine makes of answers.
    polling = demo.polling.model_copy(update={"timeout_s": 30.0})
    profile = on_free_ports(demo.model_copy(update={"polling": polling}))
    db = tmp_path / "idle.sqlite3"
    async with (
        SimFleet(profile, clock=clock),
        SQLiteStore(db, now=clock.now) as store,
    ):
        assert await preset_site(profile, store, tmp_path / "locks") == []
        engine = build_engine(
            profile,
            store,
            store_path=db,
            clock=clock,
            stagger=True,
            watch_site_locks=False,
        )
        await engine.start()
        util: list[float] = []
        try:
            pollers = list(engine._pollers.values())
            await parked(clock, len(pollers), pollers, strict=True)
            n = clock.pending  # every task of the engine that sleeps on the clock
            while clock.monotonic() < IDLE_S:
                await advance_parked(clock, 1.0, n, engine._pollers.values, strict=True)
                for lk in profile.links:
                    pct = engine.link_view(lk.id).get("utilisation_pct")
                    if isinstance(pct, int | float):
                        util.append(float(pct))
            polls = {d: p.polls for d, p in engine._pollers.items()}
            views = {lk.id: engine.link_view(lk.id)["state"] for lk in profile.links}
        finally:
            await engine.stop()
        raised = [
            (e.type, e.data.get("key"), e.data.get("summary"))
            for e in engine.bus
            if e.type.startswith("alert.")
        ]
        assert raised == []
        assert await store.list_alerts() == []
        assert set(views.values()) == {"up"}, views
        # the engine really polled the whole time: each device about once per interval
        interval = {m.id: profile.polling.mast_interval_s for m in profile.masts}
        interval |= {s.id: profile.polling.fibre_interval_s for s in profile.switches}
        assert polls.keys() == interval.keys()
        for dev, n in polls.items():
            assert n > 0.9 * IDLE_S / interval[dev], (dev, n)
        # a figure on (nearly) every link at every step, none of them impossible
        assert len(util) > 0.9 * len(profile.links) * IDLE_S, len(util)
        assert max(util) <= 100.0, max(util)
