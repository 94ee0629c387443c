"""Mapping the probe's results to acceptance figures, and where each figure came from."""

from __future__ import annotations

import pytest

from eventops.errors import ProbeError
from eventops.probe.accept_measure import ProbeMeasure, figures, split_hostport
from eventops.probe.models import DelayStats, StampResult, UdpResult
from eventops.profile.models import Endpoint, Link, ProbeTarget


def udp(delay: DelayStats | None = None) -> UdpResult:
    return UdpResult(
        host="198.18.0.2", port=5301, engine="c", sink_engine="c", batched=delay is None,
        gso=False, size=1472, layer="l2", target_bps=100e6, duration_s=2.0,
        sent_packets=16_000, sent_bytes=16_000 * 1472, received_packets=15_984,
        received_bytes=15_984 * 1472, lost_packets=16, lost_percent=0.1, duplicated=2,
        reordered=3, late=0, max_reorder_extent=4, foreign=0, sender_bps=96.9e6,
        receiver_bps=96.8e6, receiver_pps=7992, sender_payload_bps=94e6,
        receiver_payload_bps=93.9e6, delay=delay,
        methods={"throughput": "t", "loss": "l", "duplicates": "d", "reordering": "r", "pacing": "p"},
    )  # fmt: skip


def stamp() -> StampResult:
    return StampResult(
        host="198.18.0.2", port=862, ssid=None, sent=200, replies=200, round_trip_lost=0,
        round_trip_loss_percent=0.0, reflector_mode="stateful",
        rtt=DelayStats(method="rtt", one_way=False, samples=200, mean_ms=1.2, p99_ms=3.0),
        forward_jitter_ms=0.07, methods={"rtt": "STAMP round trip", "forward_jitter": "fj"},
    )  # fmt: skip


def test_stream_and_stamp() -> None:
    f = figures(udp(), stamp(), 100e6)
    assert (f.sent_packets, f.received_packets, f.lost_packets) == (16_000, 15_984, 16)
    assert f.loss_pct == pytest.approx(0.1) and f.duplicated == 2 and f.reordered == 3
    assert f.layer == "l2" and f.receiver_bps == 96.8e6
    assert f.delay_ms == pytest.approx(0.6) and f.delay_p99_ms == pytest.approx(1.5)
    assert f.jitter_ms == 0.07
    assert f.methods["delay"].startswith("half the mean STAMP round trip")
    assert f.methods["jitter"] == "fj" and "pacing" not in f.methods


def test_stream_only_uses_one_way_delay() -> None:
    d = DelayStats(method="one-way", one_way=True, samples=900, mean_ms=0.4, p99_ms=0.9,
                   jitter_ms=0.02)  # fmt: skip
    f = figures(udp(d), None, 100e6)
    assert (f.delay_ms, f.delay_p99_ms, f.jitter_ms) == (0.4, 0.9, 0.02)
    assert "one-way" in f.methods["delay"]


def test_no_delay_source_leaves_delay_unmeasured() -> None:
    f = figures(udp(), None, 100e6)
    assert f.delay_ms is None and f.jitter_ms is None and "delay" not in f.methods


def test_for_link_needs_a_sink_and_picks_batching_by_rate() -> None:
    link = Link(
        id="l1", a=Endpoint(device="a", port="p"), b=Endpoint(device="b", port="p"),
        length_m=10, optic="10GBASE-LR", capacity_mbps=10_000,
        probe=ProbeTarget(reflector="[fd00::2]:862", sink="198.18.0.2:5301"),
    )  # fmt: skip
    m = ProbeMeasure.for_link(link)
    assert m.sink == ("198.18.0.2", 5301) and m.reflector == ("fd00::2", 862)
    assert m.delay_from == "stamp"
    assert not m.batched_for(100e6) and m.batched_for(5e9)
    no_sink = link.model_copy(update={"probe": ProbeTarget(reflector="198.18.0.2:862")})
    with pytest.raises(ProbeError, match="l1 has no probe sink"):
        ProbeMeasure.for_link(no_sink)
    with pytest.raises(ProbeError, match="needs a reflector"):
        ProbeMeasure(("198.18.0.2", 5301), None, delay_from="stamp")
    assert split_hostport("[::1]:5301") == ("::1", 5301)
