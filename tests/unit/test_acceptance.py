"""Acceptance logic against scripted links: Y.1564 steps, hold, RFC 2544 search, safety."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from eventops.api.models.acceptance import AcceptanceConfig, Figures
from eventops.clock import FakeClock
from eventops.errors import ProbeError
from eventops.probe.acceptance import handed_over_to, run_acceptance
from eventops.profile.models import Endpoint, Link, Sla
from eventops.store import SQLiteStore
from eventops.store.models import HandoverRow

MBIT = 1e6


def make_link(capacity_mbps: float = 100.0, **sla: float) -> Link:
    return Link(
        id="fibre-police",
        a=Endpoint(device="sw-core", port="Ethernet1/1"),
        b=Endpoint(device="mc-police", port="sfp0"),
        length_m=850,
        optic="1000BASE-LX",
        capacity_mbps=capacity_mbps,
        sla=Sla(**{"loss_pct": 0.1, "delay_ms": 2.0, "jitter_ms": 0.5, **sla}),
    )


class ScriptedLink:
    """Figures a link with these properties would yield; records every call."""

    def __init__(
        self,
        capacity_bps: float,
        *,
        loss_pct: float = 0.0,
        delay_ms: float | None = 0.4,
        jitter_ms: float | None = 0.05,
        sender_max_bps: float = 1e12,
        frame_bits: int = 8 * 1514,
    ) -> None:
        self.capacity_bps = capacity_bps
        self.loss_pct = loss_pct
        self.delay_ms = delay_ms
        self.jitter_ms = jitter_ms
        self.sender_max_bps = sender_max_bps
        self.frame_bits = frame_bits
        self.calls: list[tuple[float, float]] = []

    async def __call__(self, rate_bps: float, duration_s: float) -> Figures:
        self.calls.append((rate_bps, duration_s))
        sent_bps = min(rate_bps, self.sender_max_bps)
        sent = round(sent_bps * duration_s / self.frame_bits)
        carried = min(sent_bps, self.capacity_bps) / sent_bps
        received = round(sent * carried * (1 - self.loss_pct / 100.0))
        over = sent_bps > self.capacity_bps
        return Figures(
            target_bps=rate_bps,
            duration_s=duration_s,
            sent_packets=sent,
            received_packets=received,
            sender_bps=sent * self.frame_bits / duration_s,
            receiver_bps=received * self.frame_bits / duration_s,
            delay_ms=None if self.delay_ms is None else self.delay_ms + (20.0 if over else 0.0),
            jitter_ms=self.jitter_ms,
            methods={"delay": "scripted"},
        )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "event.sqlite3") as s:
        yield s


FAST = AcceptanceConfig(step_duration_s=2, hold_duration_s=30)


async def test_clean_link_passes_all_steps_and_hold(store: SQLiteStore) -> None:
    link = make_link(100)
    measure = ScriptedLink(100 * MBIT)
    clock = FakeClock()
    result = await run_acceptance(link, measure, store, actor="tech", config=FAST, clock=clock)
    assert result.passed and result.outcome == "passed" and result.failed_step is None
    assert [s.name for s in result.steps] == ["25%", "50%", "75%", "100%"]
    assert measure.calls == [(25e6, 2), (50e6, 2), (75e6, 2), (100e6, 2), (100e6, 30)]
    assert result.hold is not None and result.hold.passed
    step = result.steps[0]
    assert {c.name for c in step.checks} == {"rate", "loss", "delay", "jitter"}
    assert step.figures is not None and step.figures.loss_pct == 0.0
    assert result.throughput_mbps == pytest.approx(100.0, rel=0.01)
    assert result.started_at == clock.now()
    stored = await store.list_probe_results("fibre-police")
    assert len(stored) == 1 and stored[0].kind == "acceptance" and stored[0].passed is True
    assert stored[0].result["steps"][3]["figures"]["receiver_bps"] > 99e6
    assert stored[0].result["throughput_mbps"] == result.throughput_mbps
    actions = [(e.action, e.target, e.actor) for e in await store.audit_entries()]
    assert actions == [
        ("probe.accept.start", "fibre-police", "tech"),
        ("probe.accept", "fibre-police", "tech"),
    ]
    last = (await store.audit_entries())[-1].after
    assert last["passed"] is True and last["probe_result"] == stored[0].id
    assert "PASSED" in result.summary_lines()[-1]


async def test_two_percent_loss_fails_first_step_and_names_it(store: SQLiteStore) -> None:
    measure = ScriptedLink(100 * MBIT, loss_pct=2.0)
    result = await run_acceptance(make_link(100), measure, store, actor="tech", config=FAST)
    assert not result.passed and result.failed_step == "25%"
    assert len(measure.calls) == 1 and result.hold is None
    failing = {c.name for c in result.steps[0].checks if not c.passed}
    assert "loss" in failing
    loss = next(c for c in result.steps[0].checks if c.name == "loss")
    assert loss.value == pytest.approx(2.0, abs=0.05) and loss.limit == 0.1
    assert any("loss" in f for f in result.steps[0].failures())
    assert "FAILED at 25%" in result.summary_lines()[-1]
    stored = await store.list_probe_results("fibre-police")
    assert stored[0].passed is False and stored[0].result["failed_step"] == "25%"


async def test_half_capacity_fails_at_seventy_five_percent(store: SQLiteStore) -> None:
    measure = ScriptedLink(50 * MBIT)
    result = await run_acceptance(make_link(100), measure, store, actor="tech", config=FAST)
    assert [s.passed for s in result.steps] == [True, True, False]
    assert result.failed_step == "75%"
    checks = {c.name: c for c in result.steps[2].checks}
    assert (
        not checks["rate"].passed and checks["rate"].note == "the link delivered less than was sent"
    )
    assert checks["rate"].value == pytest.approx(66.7, abs=0.2)
    assert not checks["loss"].passed and not checks["delay"].passed


async def test_delay_over_sla_and_unmeasured_jitter_fail(store: SQLiteStore) -> None:
    result = await run_acceptance(
        make_link(100, delay_ms=0.3),
        ScriptedLink(100 * MBIT, jitter_ms=None),
        store,
        actor="tech",
        config=FAST,
    )
    checks = {c.name: c for c in result.steps[0].checks}
    assert not checks["delay"].passed and checks["delay"].value == pytest.approx(0.4)
    assert not checks["jitter"].passed and checks["jitter"].note == "not measured"
    assert checks["rate"].passed and checks["loss"].passed


async def test_sender_that_cannot_keep_up_does_not_pass(store: SQLiteStore) -> None:
    measure = ScriptedLink(1000 * MBIT, sender_max_bps=600 * MBIT)
    result = await run_acceptance(make_link(1000), measure, store, actor="tech", config=FAST)
    assert result.failed_step == "75%"
    rate = next(c for c in result.steps[2].checks if c.name == "rate")
    assert rate.note == "the sender could not reach the rate" and rate.value == pytest.approx(
        80, abs=0.1
    )


async def test_measurement_error_fails_its_step(store: SQLiteStore) -> None:
    async def broken(rate_bps: float, duration_s: float) -> Figures:
        raise ProbeError("sink 198.18.0.2:5301: connection refused")

    result = await run_acceptance(make_link(100), broken, store, actor="tech", config=FAST)
    assert result.failed_step == "25%" and result.steps[0].figures is None
    assert result.steps[0].failures() == ["sink 198.18.0.2:5301: connection refused"]
    assert (await store.list_probe_results())[0].passed is False


async def test_search_finds_highest_rate_within_resolution(store: SQLiteStore) -> None:
    cfg = AcceptanceConfig(
        steps_pct=[25], step_duration_s=1, hold_duration_s=0, search=True, search_loss_pct=0.0,
        search_resolution_pct=1.0, search_trial_s=1, search_max_trials=20,
    )  # fmt: skip
    measure = ScriptedLink(63.3 * MBIT)
    result = await run_acceptance(make_link(100), measure, store, actor="tech", config=cfg)
    assert result.search is not None
    hi = result.search.highest_bps
    assert hi is not None and 62.3 * MBIT <= hi <= 63.3 * MBIT
    assert result.search.trials[0].pct == 100 and not result.search.trials[0].passed
    assert result.search.trials[1].pct == 10 and result.search.trials[1].passed
    assert all(t.passed == (t.rate_bps <= 63.3 * MBIT) for t in result.search.trials)
    assert len(result.search.trials) <= 20


async def test_search_on_lossy_link_finds_nothing(store: SQLiteStore) -> None:
    cfg = AcceptanceConfig(steps_pct=[25], step_duration_s=1, hold_duration_s=0, search=True,
                           search_trial_s=1)  # fmt: skip
    result = await run_acceptance(
        make_link(100), ScriptedLink(100 * MBIT, loss_pct=2), store, actor="t", config=cfg
    )
    assert result.search is not None and result.search.highest_bps is None
    assert len(result.search.trials) == 2


async def hand_over(store: SQLiteStore, link_id: str = "fibre-police") -> None:
    # What the engine's handover writes: the record and its audit entry.
    await store.add_handover(
        HandoverRow(ts=datetime.now(UTC), link=link_id, authority="police", actor="lead")
    )
    await store.audit("lead", "link.handover", link_id, after={"to": "police", "handover": 1})


OVER = AcceptanceConfig(steps_pct=[50, 100], step_duration_s=1, hold_duration_s=0, search=True,
                        search_max_pct=120, search_trial_s=1, search_max_trials=3)  # fmt: skip


async def test_handed_over_link_is_not_exceeded_without_force(store: SQLiteStore) -> None:
    await hand_over(store)
    assert await handed_over_to(store, "fibre-police") == "police"
    assert await handed_over_to(store, "fibre-fire") is None
    measure = ScriptedLink(200 * MBIT)
    with pytest.raises(ProbeError, match="handed over to police: refusing to exceed"):
        await run_acceptance(make_link(100), measure, store, actor="tech", config=OVER)
    with pytest.raises(ProbeError, match="confirmation did not match"):
        await run_acceptance(
            make_link(100), measure, store, actor="tech", config=OVER, force=True,
            confirmation="yes",
        )  # fmt: skip
    assert measure.calls == []
    refused = [e for e in await store.audit_entries() if e.action == "probe.accept.refused"]
    assert len(refused) == 2 and refused[0].after["max_bps"] == 120e6
    assert await store.list_probe_results() == []


async def test_forced_run_with_typed_confirmation_is_audited(store: SQLiteStore) -> None:
    await hand_over(store)
    measure = ScriptedLink(200 * MBIT)
    result = await run_acceptance(
        make_link(100), measure, store, actor="tech", config=OVER, force=True,
        confirmation="fibre-police",
    )  # fmt: skip
    assert result.forced and result.handed_over_to == "police"
    assert max(r for r, _ in measure.calls) == 120e6
    actions = [e.action for e in await store.audit_entries()]
    assert actions == ["link.handover", "probe.accept.force", "probe.accept.start", "probe.accept"]


async def test_handed_over_link_within_contract_runs_and_is_capped(store: SQLiteStore) -> None:
    await hand_over(store)
    measure = ScriptedLink(100 * MBIT)
    result = await run_acceptance(make_link(100), measure, store, actor="tech", config=FAST)
    assert result.passed and not result.forced
    assert max(r for r, _ in measure.calls) <= 100e6


async def test_not_handed_over_link_may_be_searched_above_contract(store: SQLiteStore) -> None:
    measure = ScriptedLink(200 * MBIT)
    result = await run_acceptance(make_link(100), measure, store, actor="tech", config=OVER)
    assert result.search is not None and result.search.highest_pct == 120
    assert not result.forced


async def test_cancelled_run_is_audited_as_aborted(store: SQLiteStore) -> None:
    started = asyncio.Event()

    async def slow(rate_bps: float, duration_s: float) -> Figures:
        started.set()
        await asyncio.sleep(3600)
        raise AssertionError("not reached")

    task = asyncio.create_task(run_acceptance(make_link(100), slow, store, actor="tech"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    last = (await store.audit_entries())[-1]
    assert last.action == "probe.accept" and last.after["outcome"] == "aborted"
    assert await store.list_probe_results() == []


def test_config_is_validated() -> None:
    with pytest.raises(ValidationError, match="at least one step"):
        AcceptanceConfig(steps_pct=[])
    with pytest.raises(ValidationError, match="search_min_pct"):
        AcceptanceConfig(search_min_pct=50, search_max_pct=40)
    with pytest.raises(ValidationError):
        AcceptanceConfig(steps_pct=[0])
    assert AcceptanceConfig().max_pct() == 100
    assert OVER.max_pct() == 120
