"""Nothing stops silently: failed handlers and dead tasks on the fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from eventops.clock import FakeClock
from eventops.engine import ENGINE_SUBJECT, Engine
from eventops.engine.supervisor import Supervisor
from eventops.monitor.poller import PollResult
from eventops.store import SQLiteStore

from .factories import T0, demo_profile
from .scripted import ScriptedFleet, parked, run_until

SLEEPERS_EXTRA = 3  # the downsampler, the probe-results and the engine-alerts watchers


@pytest.fixture
async def flaky(tmp_path: Path) -> AsyncIterator[tuple[Engine, ScriptedFleet, FakeClock]]:
    """An engine whose result handler raises once, on mast-01's 2nd poll."""
    clock = FakeClock(T0)
    profile = demo_profile()
    fleet = ScriptedFleet(profile, clock)
    async with SQLiteStore(tmp_path / "e.sqlite3") as store:
        engine = Engine(profile, store, clock=clock, driver_factory=fleet.factory)
        real = engine.on_poll
        seen: list[str] = []

        async def on_poll(res: PollResult) -> None:
            seen.append(res.device)
            if res.device == "mast-01" and seen.count("mast-01") == 2:
                raise RuntimeError("handler bug")
            await real(res)

        engine.on_poll = on_poll  # type: ignore[method-assign]
        await engine.start()
        try:
            yield engine, fleet, clock
        finally:
            await engine.stop()


async def test_a_handler_that_raises_once_does_not_stop_the_device(
    flaky: tuple[Engine, ScriptedFleet, FakeClock],
) -> None:
    engine, fleet, clock = flaky
    n = len(engine._pollers) + SLEEPERS_EXTRA
    await run_until(clock, 110, n, lambda: engine._pollers.values())
    # the 2nd poll (t=10) failed in the handler; the device is polled on schedule regardless
    assert fleet.calls["mast-01"] == [float(t) for t in range(0, 111, 10)]
    last = engine.devices["mast-01"].last_poll
    assert last is not None and (last - T0).total_seconds() == 110
    # counted ...
    assert engine.supervisor.failures["poll:mast-01"] == 1
    assert engine._pollers["mast-01"].handler_failures == 1
    assert "RuntimeError: handler bug" in engine.supervisor.last_failure["poll:mast-01"].error
    # ... on the stream at once, and alerted
    failed = [ev for ev in engine.bus if ev.type == "engine.task_failed"]
    assert [(ev.subject, ev.data["task"]) for ev in failed] == [(ENGINE_SUBJECT, "poll:mast-01")]
    alerts = [a for a in engine.alerts.open_alerts() if a.subject == ENGINE_SUBJECT]
    assert [a.key for a in alerts] == ["engine:task:poll:mast-01:failed"]
    assert alerts[0].labels == {"kind": "engine", "task": "poll:mast-01"}
    # the other devices never noticed
    assert fleet.calls["mast-02"] == [float(t) for t in range(0, 111, 10)]


async def test_engine_alert_clears_after_the_hold(
    flaky: tuple[Engine, ScriptedFleet, FakeClock],
) -> None:
    engine, _fleet, clock = flaky
    engine.engine_alert_hold_s = 60.0
    n = len(engine._pollers) + SLEEPERS_EXTRA
    await run_until(clock, 40, n, lambda: engine._pollers.values())
    assert [a.subject for a in engine.alerts.open_alerts()] == [ENGINE_SUBJECT]
    await run_until(clock, 200, n, lambda: engine._pollers.values())
    assert engine.alerts.open_alerts() == []


async def test_a_task_that_dies_is_restarted_with_backoff() -> None:
    clock = FakeClock(T0)
    reported: list[tuple[str, str]] = []

    async def report(name: str, exc: BaseException) -> None:
        reported.append((name, str(exc)))

    sv = Supervisor(clock, on_failure=report, backoff_s=1.0, max_backoff_s=8.0)
    starts: list[float] = []

    async def work() -> None:
        starts.append(clock.monotonic())
        if len(starts) <= 4:
            raise ValueError(f"boom {len(starts)}")
        await asyncio.Event().wait()  # then it runs for good

    sv.spawn("flaky", work)
    try:
        for _ in range(20):
            for _ in range(100):  # let the task run up to its next sleep (or its last start)
                await asyncio.sleep(0)
            if len(starts) >= 5:
                break
            await parked(clock, 1)
            await clock.advance(1.0)
        # died at 0, 1, 3 and 7 (backoff 1, 2, 4 s), then ran for good from 15
        assert starts == [0.0, 1.0, 3.0, 7.0, 15.0]
        assert sv.restarts["flaky"] == 4 and sv.failures["flaky"] == 4
        assert reported == [("flaky", f"boom {i}") for i in range(1, 5)]
        assert sv.names == ["flaky"]
    finally:
        await sv.stop()
    assert sv.names == []


async def test_a_task_that_returns_is_restarted_unless_finite() -> None:
    clock = FakeClock(T0)
    sv = Supervisor(clock, backoff_s=1.0)
    runs = {"forever": 0, "finite": 0}

    async def forever() -> None:
        runs["forever"] += 1

    async def finite() -> None:
        runs["finite"] += 1

    sv.spawn("forever", forever)
    task = sv.spawn("finite", finite, finite=True)
    try:
        await parked(clock, 1)
        await clock.advance(1.0)
        await parked(clock, 1)
        assert runs == {"forever": 2, "finite": 1}
        assert task.done() and not task.cancelled()
        assert sv.failures["forever"] == 2 and "finite" not in sv.failures
    finally:
        await sv.stop()


async def test_a_poll_loop_that_dies_is_restarted(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    profile = demo_profile()
    fleet = ScriptedFleet(profile, clock)
    async with SQLiteStore(tmp_path / "e.sqlite3") as store:
        engine = Engine(profile, store, clock=clock, driver_factory=fleet.factory)
        await engine.start()
        try:
            poller = engine._pollers["mast-01"]
            real = poller.next_delay
            calls = [0]

            def next_delay() -> float:
                calls[0] += 1
                if calls[0] == 2:
                    raise RuntimeError("scheduler bug")
                return real()

            poller.next_delay = next_delay  # type: ignore[method-assign]
            n = len(engine._pollers) + SLEEPERS_EXTRA
            # mast-01 waits out its backoff in the supervisor, not in its poll loop:
            # it counts among the clock's sleepers only
            others = [p for k, p in engine._pollers.items() if k != "mast-01"]
            await run_until(clock, 60, n, lambda: others)
            # died after its t=10 poll; restarted 1 s later (backoff), then on schedule again
            assert fleet.calls["mast-01"] == [0.0, 10.0, 11.0, 21.0, 31.0, 41.0, 51.0]
            assert engine.supervisor.restarts["poll:mast-01"] == 1
            assert engine.supervisor.failures["poll:mast-01"] == 1
            assert any(
                ev.type == "engine.task_failed" and ev.data["task"] == "poll:mast-01"
                for ev in engine.bus
            )
        finally:
            await engine.stop()
