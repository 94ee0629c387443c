"""eventops' probe measures what the lab sets, and acceptance judges lab links rightly.

The probe's sender runs in end A's namespace, its sink and STAMP reflector in
end B's (each on an event loop of its own inside the namespace). Rates are
compared at the layer tbf counts: the probe's ``l2`` (payload + UDP + IP +
Ethernet header) is exactly that with ``overhead_bytes=0``. Loss, duplicates
and reorders use the unbatched stream and are compared with the kernel's
(nftables) and the forwarder's own counters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from eventops_hardware.linklab import Direction, Impairment, Lab, LinkSpec, NetnsLoop

from eventops import probe
from eventops.api.models.acceptance import AcceptanceConfig, AcceptanceResult, Figures
from eventops.probe.accept_measure import ProbeMeasure
from eventops.probe.acceptance import run_acceptance
from eventops.profile.models import Endpoint, Link, ProbeTarget, Sla
from eventops.store import SQLiteStore
from tests.lab.conftest import MakeLab
from tests.lab.tools import binomial_sd_pct

SINK_PORT = 5301
STAMP_PORT = 8620


@asynccontextmanager
async def probed(make_lab: MakeLab, spec: LinkSpec) -> AsyncIterator[tuple[Lab, NetnsLoop]]:
    """A lab link with a sink and a stateful STAMP reflector at end B; A's loop."""
    async with AsyncExitStack() as stack:
        lab = await stack.enter_async_context(make_lab(spec))
        far = await stack.enter_async_context(lab.loop("b"))
        near = await stack.enter_async_context(lab.loop("a"))
        sink = await far.call(probe.start_sink(lab.addr_b, SINK_PORT))
        stack.push_async_callback(lambda: far.call(sink.close()))
        refl = await far.call(probe.start_reflector(lab.addr_b, STAMP_PORT, stateful=True))
        stack.push_async_callback(lambda: far.call(refl.close()))
        yield lab, near


async def test_rate_within_three_percent_at_the_same_layer(make_lab: MakeLab) -> None:
    spec = LinkSpec(a_to_b=Direction(rate_mbps=100))
    async with probed(make_lab, spec) as (lab, near):
        for batched in (True, False):
            r = await near.call(
                probe.run_udp(
                    lab.addr_b,
                    SINK_PORT,
                    rate_bps=150e6,
                    size=1400,
                    duration=2,
                    batched=batched,
                    layer="l2",
                )
            )
            assert r.layer == "l2"
            assert r.receiver_bps == pytest.approx(100e6, rel=0.03), f"batched={batched}"
            assert r.lost_packets > 0  # offered 150 %


async def test_delay_within_half_a_millisecond(make_lab: MakeLab) -> None:
    spec = LinkSpec(a_to_b=Direction(impair=Impairment(delay_ms=3.0)), match="udp")
    async with probed(make_lab, spec) as (lab, near):
        r = await near.call(
            probe.run_udp(
                lab.addr_b, SINK_PORT, rate_bps=2e6, size=200, duration=1, batched=False, layer="l2"
            )
        )
        assert r.delay is not None and r.delay.one_way and r.delay.samples > 100
        assert r.delay.mean_ms == pytest.approx(3.0, abs=0.5)
        s = await near.call(
            probe.run_stamp(lab.addr_b, STAMP_PORT, count=200, interval=0.002, wait_s=0.3)
        )
        # Only the A→B direction is delayed: the round trip carries it once.
        assert s.rtt.p50_ms == pytest.approx(3.0, abs=0.5)


async def test_one_percent_loss_within_three_tenths(make_lab: MakeLab) -> None:
    spec = LinkSpec(a_to_b=Direction(loss_pct=1.0))
    async with probed(make_lab, spec) as (lab, near):
        r = await near.call(
            probe.run_udp(
                lab.addr_b,
                SINK_PORT,
                rate_bps=20_000 * 8 * 214,
                size=172,
                duration=1,
                batched=False,
                layer="l2",
            )
        )
        dropped = await lab.loss_counters("udp")
    assert r.sent_packets > 15_000
    # binomial: five standard deviations for the datagrams sent (about 0.4 points here)
    assert r.lost_percent == pytest.approx(1.0, abs=5 * binomial_sd_pct(1.0, r.sent_packets))
    assert r.lost_packets == dropped["a_to_b"]  # exactly what nftables dropped
    assert r.duplicated == 0 and r.reordered == 0


async def test_duplicates_and_reorders_counted_exactly(make_lab: MakeLab) -> None:
    imp = Impairment(duplicate_pct=1.0, reorder_pct=1.0, reorder_gap=3)
    spec = LinkSpec(a_to_b=Direction(impair=imp), match="udp", seed=11)
    async with probed(make_lab, spec) as (lab, near):
        assert lab.forwarder is not None
        await lab.forwarder.reset()
        r = await near.call(
            probe.run_udp(
                lab.addr_b,
                SINK_PORT,
                rate_bps=5000 * 8 * 242,
                size=200,
                duration=1,
                batched=False,
                layer="l2",
            )
        )
        st = (await lab.forwarder.stats())["a_to_b"]
    assert st["frames"] == r.sent_packets and st["kernel_drops"] == 0
    assert st["hold_timeouts"] == st["overload_drops"] == 0
    assert r.lost_packets == 0
    assert r.duplicated == st["duplicated"] > 10
    assert r.reordered == st["reordered"] > 10


def link(capacity_mbps: float) -> Link:
    return Link(
        id="fibre-lab",
        a=Endpoint(device="sw-a", port="p1"),
        b=Endpoint(device="sw-b", port="p1"),
        length_m=1000,
        optic="1000BASE-LX",
        capacity_mbps=capacity_mbps,
        sla=Sla(loss_pct=0.1, delay_ms=2.0, jitter_ms=0.5),
        probe=ProbeTarget(reflector=f"198.18.0.2:{STAMP_PORT}", sink=f"198.18.0.2:{SINK_PORT}"),
    )


QUICK = AcceptanceConfig(step_duration_s=1, hold_duration_s=2)


async def accept(near: NetnsLoop, lab: Lab, tmp: Path, capacity_mbps: float) -> AcceptanceResult:
    measure = ProbeMeasure((lab.addr_b, SINK_PORT), (lab.addr_b, STAMP_PORT), stamp_wait_s=0.3)

    async def in_a(rate_bps: float, duration_s: float) -> Figures:
        return await near.call(measure(rate_bps, duration_s))

    async with SQLiteStore(tmp / "event.sqlite3") as store:
        result = await run_acceptance(link(capacity_mbps), in_a, store, actor="lab", config=QUICK)
        stored = await store.list_probe_results("fibre-lab")
        assert stored[-1].passed is result.passed
    return result


async def test_acceptance_passes_on_a_clean_link(make_lab: MakeLab, tmp_path: Path) -> None:
    # A 100 Mbit/s line, 90 Mbit/s contracted (at the same layer).
    async with probed(make_lab, LinkSpec.symmetric(rate_mbps=100)) as (lab, near):
        result = await accept(near, lab, tmp_path, 90)
    assert result.passed, result.summary_lines()
    assert result.hold is not None and result.hold.figures is not None
    assert result.throughput_mbps == pytest.approx(90, rel=0.03)


async def test_acceptance_fails_on_two_percent_loss(make_lab: MakeLab, tmp_path: Path) -> None:
    spec = LinkSpec.symmetric(rate_mbps=100, loss_pct=2.0)
    async with probed(make_lab, spec) as (lab, near):
        result = await accept(near, lab, tmp_path, 90)
    assert not result.passed and result.failed_step == "25%"
    step = result.steps[0]
    loss = next(c for c in step.checks if c.name == "loss")
    assert not loss.passed and loss.value is not None, loss
    # nftables drops each datagram with probability 2 %: the measured share is binomial, so
    # it is judged against five standard deviations for the datagrams this step sent (CI
    # once measured 1.35 % of about 2,000, 2.1 sigma low); the lab's forwarder can only add
    # drops when the host is busy (3.0 % seen once), never remove any, so the upper bound
    # is looser still
    assert step.figures is not None and step.figures.sent_packets > 1000, step.figures
    sigma = binomial_sd_pct(2.0, step.figures.sent_packets)
    assert 2.0 - 5 * sigma <= loss.value <= 4.5 + 5 * sigma, (loss, sigma)


async def test_acceptance_fails_on_half_the_capacity(make_lab: MakeLab, tmp_path: Path) -> None:
    async with probed(make_lab, LinkSpec.symmetric(rate_mbps=45)) as (lab, near):
        result = await accept(near, lab, tmp_path, 90)
    steps = result.steps
    assert not result.passed and result.failed_step in ("50%", "75%")
    assert steps[0].passed and steps[-1].name == result.failed_step
    failing = {c.name for c in steps[-1].checks if not c.passed}
    # 50 % of 90 is the link's own 45 Mbit/s: there the shaper's queue fills, and whether
    # delay and jitter fail before the first drop depends on how evenly a busy host sends
    # (CI's parallel run once stopped at 50 % on delay and jitter alone); above it, the
    # excess can only be dropped
    assert failing & {"loss", "delay", "jitter"}, failing
    if result.failed_step == "75%":
        assert "loss" in failing, failing
