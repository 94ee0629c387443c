"""The lab sets what it claims: checked with tools that are not eventops' probe.

Rates with iperf3 (compared at the layer tbf counts), delay and jitter with a
timestamped UDP stream (one-way: both ends share the host clock; kernel
receive timestamps), loss, duplicates and reordering with a sequence-numbered
UDP stream compared with the kernel's (nftables) and the forwarder's own
counters.
"""

from __future__ import annotations

import asyncio
import os
import statistics

import pytest
from eventops_hardware import linklab
from eventops_hardware.linklab import Direction, Impairment, LinkSpec

from tests.lab.conftest import MakeLab
from tests.lab.tools import binomial_sd_pct, iperf3_udp, udp_stream


async def test_tbf_rate_matches_iperf3_at_the_same_layer(make_lab: MakeLab) -> None:
    spec = LinkSpec(a_to_b=Direction(rate_mbps=100), b_to_a=Direction(rate_mbps=40))
    async with make_lab(spec) as lab:
        assert lab.forwarder is None  # no impairments: kernel bridge
        report = await iperf3_udp(lab, bitrate="150M", length=1400, seconds=2)
        received = report["end"]["sum_received"]
        l2_bps = received["bits_per_second"] * spec.frame_bytes(1400) / 1400
        assert l2_bps == pytest.approx(100e6, rel=0.03)
        assert received["lost_packets"] > 0  # iperf3 offered 150 %: the tbf dropped the rest
        q = await lab.qdisc_stats("a_to_b")
        assert q["kind"] == "tbf" and q["drops"] > 0
        assert (await lab.qdisc_stats("b_to_a"))["options"]["rate"] == 5_000_000  # bytes/s


async def test_rate_through_the_forwarder(make_lab: MakeLab) -> None:
    # A 50 ms queue rides out a sender (iperf3 is not real-time) that stalls on
    # a loaded machine, as a real bottleneck's buffer would.
    spec = LinkSpec.symmetric(rate_mbps=50, buffer_ms=50, impair=Impairment(delay_ms=1.0))
    async with make_lab(spec) as lab:
        assert lab.forwarder is not None
        report = await iperf3_udp(lab, bitrate="100M", length=1400, seconds=2)
        end = report["end"]
        l2_bps = end["sum_received"]["bits_per_second"] * spec.frame_bytes(1400) / 1400
        sent = end["sum_sent"]["bits_per_second"]
        assert l2_bps == pytest.approx(50e6, rel=0.03), f"iperf3 sent {sent / 1e6:.1f} Mbit/s"
        st = (await lab.forwarder.stats())["a_to_b"]
        assert st["kernel_drops"] == 0 and st["egress_drops"] > 0  # the tbf, not the forwarder


async def test_delay_per_direction(make_lab: MakeLab) -> None:
    spec = LinkSpec(a_to_b=Direction(impair=Impairment(delay_ms=3.0)), match="udp")
    async with make_lab(spec) as lab:
        fwd = await udp_stream(lab, count=400, pps=400)
        back = await udp_stream(lab, count=400, pps=400, reverse=True)
    assert fwd.lost == 0 and back.lost == 0
    assert fwd.median_delay_ms == pytest.approx(3.0, abs=0.5)
    assert min(fwd.delays_ms) >= 3.0  # never early
    assert back.median_delay_ms < 0.5


async def test_jitter_spread_and_order(make_lab: MakeLab) -> None:
    free = Impairment(delay_ms=5.0, jitter_ms=2.0, keep_order=False)
    spec = LinkSpec(a_to_b=Direction(impair=free), match="udp")
    async with make_lab(spec) as lab:
        r = await udp_stream(lab, count=1000, pps=1000)
        assert r.lost == 0
        assert min(r.delays_ms) >= 3.0
        assert statistics.median(r.delays_ms) == pytest.approx(5.0, abs=0.5)
        # Uniform 5 ± 2 ms: the middle half of the delays spans 2 ms (the
        # interquartile range, robust to the odd frame a loaded host delays).
        q1, _, q3 = statistics.quantiles(r.delays_ms, n=4)
        assert q3 - q1 == pytest.approx(2.0, rel=0.15)
        assert r.reordered > 50  # 1 ms apart, ±2 ms: jitter reorders
        # Reordered by jitter alone; the forwarder held nothing back on purpose.
        assert lab.forwarder is not None
        assert (await lab.forwarder.stats())["a_to_b"]["reordered"] == 0
        ordered = spec.a_to_b.model_copy(
            update={"impair": free.model_copy(update={"keep_order": True})}
        )
        await lab.forwarder.configure(spec.model_copy(update={"a_to_b": ordered}))
        r2 = await udp_stream(lab, count=1000, pps=1000, port=40001)
        assert r2.reordered == 0 and r2.lost == 0
        assert min(r2.delays_ms) >= 3.0


async def test_nftables_loss_one_percent(make_lab: MakeLab) -> None:
    spec = LinkSpec(a_to_b=Direction(loss_pct=1.0))
    async with make_lab(spec) as lab:
        r = await udp_stream(lab, count=20_000, pps=20_000, size=100)
        dropped = await lab.loss_counters("udp")
    # binomial: five standard deviations for 20,000 datagrams (0.35 points)
    assert r.loss_pct == pytest.approx(1.0, abs=5 * binomial_sd_pct(1.0, 20_000))
    assert r.lost == dropped["a_to_b"] and dropped["b_to_a"] == 0
    assert r.duplicates == 0 and r.reordered == 0


async def test_loss_can_change_while_running(make_lab: MakeLab) -> None:
    async with make_lab(LinkSpec()) as lab:
        clean = await udp_stream(lab, count=2000, pps=10_000, size=100)
        await lab.set_loss("a_to_b", 10.0)
        lossy = await udp_stream(lab, count=2000, pps=10_000, size=100, port=40001)
        await lab.set_rate("a_to_b", 20.0)
        assert (await lab.qdisc_stats("a_to_b"))["options"]["rate"] == 2_500_000
    assert clean.lost == 0
    assert lossy.loss_pct == pytest.approx(10.0, abs=5 * binomial_sd_pct(10.0, 2000))


async def test_duplicates_and_reorders_are_exact_and_seeded(make_lab: MakeLab) -> None:
    imp = Impairment(duplicate_pct=1.0, reorder_pct=1.0, reorder_gap=3)
    spec = LinkSpec(a_to_b=Direction(impair=imp), match="udp", seed=7)
    async with make_lab(spec) as lab:
        assert lab.forwarder is not None
        first = await udp_stream(lab, count=5000, pps=5000)
        st = (await lab.forwarder.reset())["a_to_b"]
        second = await udp_stream(lab, count=5000, pps=5000, port=40001)
        st2 = (await lab.forwarder.stats())["a_to_b"]
    assert first.lost == 0
    assert first.duplicates == st["duplicated"] and first.reordered == st["reordered"]
    assert 25 <= first.duplicates <= 80 and 25 <= first.reordered <= 80
    assert st["hold_timeouts"] == st["kernel_drops"] == st["overload_drops"] == 0
    assert st["frames"] == 5000
    # Same seed, same decisions for the same frames.
    assert second.duplicated_seqs == first.duplicated_seqs
    assert second.reordered_seqs == first.reordered_seqs
    assert st2["duplicated"] == st["duplicated"]


async def test_seeded_forwarder_loss_is_exact(make_lab: MakeLab) -> None:
    spec = LinkSpec(a_to_b=Direction(impair=Impairment(drop_pct=2.0)), match="udp", seed=3)
    async with make_lab(spec) as lab:
        r = await udp_stream(lab, count=3000, pps=5000, size=100)
        assert lab.forwarder is not None
        st = (await lab.forwarder.stats())["a_to_b"]
    assert r.lost == st["dropped"]
    assert r.loss_pct == pytest.approx(2.0, abs=0.8)


@pytest.mark.parametrize("preset", sorted(linklab.PRESETS))
async def test_presets_build_and_carry_traffic(make_lab: MakeLab, preset: str) -> None:
    spec = linklab.PRESETS[preset]()
    async with make_lab(spec) as lab:
        assert (lab.forwarder is not None) == spec.needs_forwarder
        for direction in ("a_to_b", "b_to_a"):
            q = await lab.qdisc_stats(direction)
            rate = getattr(spec, direction).rate_mbps
            assert q["kind"] == "tbf" and q["options"]["rate"] == pytest.approx(rate * 1e6 / 8)
        # 5 ms apart: wider than the WLAN preset's ±3 ms, so keep_order hardly shifts delays.
        r = await udp_stream(lab, count=200, pps=200)
        assert r.received >= 195
        if preset == "wlan-5g-busy":
            assert min(r.delays_ms) >= 1.0 and r.median_delay_ms == pytest.approx(4.0, abs=1.0)


async def test_teardown_and_stale_purge(make_lab: MakeLab) -> None:
    # A namespace named for a process that has exited: stale.
    proc = await asyncio.create_subprocess_exec("true")
    await proc.wait()
    stale = f"evo-lab-{proc.pid}-0m"
    foreign = f"evo-keep-{os.getpid()}"
    await linklab.run("ip", "netns", "add", stale)
    await linklab.run("ip", "netns", "add", foreign)
    try:
        async with make_lab(LinkSpec()) as lab:
            names = linklab._netns_names()
            assert stale not in names and foreign in names
            assert {lab.ns_a, lab.ns_m, lab.ns_b} <= set(names)
            mine = (lab.ns_a, lab.ns_m, lab.ns_b)
        assert not set(mine) & set(linklab._netns_names())
    finally:
        await linklab.run("ip", "netns", "del", foreign, check=False)
        await linklab.run("ip", "netns", "del", stale, check=False)


async def test_teardown_after_an_error_inside(make_lab: MakeLab) -> None:
    spec = LinkSpec(a_to_b=Direction(impair=Impairment(delay_ms=1)))
    names: tuple[str, ...] = ()
    with pytest.raises(RuntimeError, match="boom"):
        async with make_lab(spec) as lab:
            names = (lab.ns_a, lab.ns_m, lab.ns_b)
            assert lab.forwarder is not None
            fwd = lab.forwarder.proc
            raise RuntimeError("boom")
    assert names and not set(names) & set(linklab._netns_names())
    assert fwd.returncode is not None
