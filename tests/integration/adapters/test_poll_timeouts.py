"""Per-request timeouts and discovery outside the poll (issue 19).

The simulators hold each answer back by ``lag_s`` on the fake clock they
share with the drivers and the engine, so "answers every request in 1.9 s"
and "the whole poll takes longer than 4 s" are exact, not wall-clock races.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path

from eventops_hardware.fleet import SimFleet
from eventops_hardware.openwrt_mast import OpenWrtMast
from eventops_hardware.simbase import SimDevice

from eventops.adapters.openwrt import OpenWrtDriver
from eventops.clock import FakeClock
from eventops.engine import Engine
from eventops.monitor.poller import DevicePoller, PollResult
from eventops.profile import load_profile
from eventops.store import SQLiteStore

from ..simrig import REPO, on_free_ports, preset_masts
from .conftest import management

OLD_BUDGET_S = 4.0
"""The whole-poll budget the poller used to apply."""


async def _quiet(pollers: Iterable[DevicePoller], sims: dict[str, SimDevice]) -> None:
    """Wait (briefly, in real time) until every poller sleeps or its device holds an answer."""
    group = list(pollers)

    def idle() -> bool:
        return all(p.sleeping or sims[p.device_id].lagging > 0 for p in group)

    for _ in range(5000):
        if idle():
            await asyncio.sleep(0.002)
            if idle():
                return
        await asyncio.sleep(0.001)
    raise AssertionError("pollers did not settle")


async def _run(
    clock: FakeClock,
    until: float,
    pollers: Iterable[DevicePoller] | None,
    sims: dict[str, SimDevice],
    engine: Engine | None = None,
    step: float = 0.1,
) -> None:
    while clock.monotonic() < until - 1e-9:
        group = list(engine._pollers.values()) if engine is not None else list(pollers or ())
        await _quiet(group, sims)
        await clock.advance(min(step, until - clock.monotonic()))


async def _one_poll(mast: OpenWrtMast, clock: FakeClock) -> PollResult:
    results: list[PollResult] = []

    async def got(r: PollResult) -> None:
        results.append(r)

    drv = OpenWrtDriver(mast.device_id, management(mast.url), clock=clock, timeout=2.0)
    poller = DevicePoller(
        mast.device_id,
        drv,
        interval_s=10.0,
        timeout_s=2.0,
        clock=clock,
        limit=asyncio.Semaphore(1),
        on_result=got,
    )
    poller.start()
    try:
        sims: dict[str, SimDevice] = {mast.device_id: mast}
        while not results:
            await _quiet([poller], sims)
            # straight to the next wake-up (the held answer, or the request's timeout):
            # the transport also bounds each request on the wall clock, so the 1.9 s of
            # fake time must not cost real seconds of small steps
            due = clock.next_due
            await clock.advance(0.1 if due is None else max(0.0, due - clock.monotonic()))
    finally:
        await poller.stop()
    return results[0]


async def test_a_mast_answering_each_request_within_its_timeout_is_reachable(
    clock: FakeClock, mast: OpenWrtMast, mast_password: str
) -> None:
    mast.lag_s = 1.9  # each answer 0.1 s inside the 2 s request timeout
    before = mast.requests
    res = await _one_poll(mast, clock)
    assert res.ok, res.error
    # login + two batches, each 1.9 s: longer than the old whole-poll budget
    assert mast.requests - before >= 3
    assert res.duration_s > OLD_BUDGET_S
    mast.lag_s = 2.1  # now each request is late: the message names the one that was
    res = await _one_poll(mast, clock)
    assert not res.ok
    assert res.error == "no answer to ubus call session login within 2 s"


async def test_a_healthy_fleet_raises_no_alert_across_an_engine_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    base = load_profile(REPO / "profiles" / "demo.toml")
    polling = base.polling.model_copy(update={"timeout_s": 2.0})
    profile = on_free_ports(base.model_copy(update={"polling": polling}))
    async with (
        SimFleet(profile, clock=clock) as fleet,
        SQLiteStore(tmp_path / "restart.sqlite3", now=clock.now) as store,
    ):
        sims: dict[str, SimDevice] = {**fleet.masts, **fleet.switches}
        first = Engine(profile, store, clock=clock)
        assert await preset_masts(profile, first) == []
        # every answer takes 1.5 s (the timeout is 2 s): a switch's first poll after a
        # start (host-meta, the RESTCONF root, three reads) takes 7.5 s, a mast's 4.5 s
        for sim in sims.values():
            sim.lag_s = 1.5
        raised: list[str] = []
        await first.start()
        try:
            await _run(clock, 30, None, sims, first)
        finally:
            await first.stop()
        raised += [e.data["key"] for e in first.bus if e.type == "alert.raised"]
        second = Engine(profile, store, clock=clock)  # a new engine on the same store
        await second.start()
        try:
            await _run(clock, 60, None, sims, second)
            assert all(st.reachable for st in second.devices.values()), {
                d: st.error for d, st in second.devices.items()
            }
            assert {second.link_view(lk.id)["state"] for lk in profile.links} == {"up"}
            slowest = max(st.poll_duration_s for st in second.devices.values())
        finally:
            await second.stop()
        raised += [e.data["key"] for e in second.bus if e.type == "alert.raised"]
        assert raised == []
        assert await store.list_alerts() == []
        assert slowest > OLD_BUDGET_S  # the polls really took longer than the old budget
