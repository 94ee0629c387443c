"""STAMP codec: pure functions, checked against scapy's layers."""

from __future__ import annotations

import pytest
from scapy.contrib.stamp import (
    STAMPSessionReflectorTestUnauthenticated,
    STAMPSessionSenderTestUnauthenticated,
)

from eventops.probe.stamp import (
    decode_error_estimate,
    encode_error_estimate,
    ns_from_ntp,
    ntp_from_ns,
    pack_reflector,
    pack_sender,
    parse_reflector,
    parse_sender,
)
from eventops.probe.stats import delay_stats, pacing_report, percentile, rfc3550_jitter


def test_ntp_round_trip() -> None:
    ns = 1_780_000_000_123_456_789
    back = ns_from_ntp(ntp_from_ns(ns))
    assert abs(back - ns) <= 1
    assert ntp_from_ns(0) >> 32 == 2_208_988_800


@pytest.mark.parametrize("seconds", [1e-9, 1e-6, 1e-3, 0.5, 30.0])
def test_error_estimate(seconds: float) -> None:
    value = encode_error_estimate(seconds, synchronized=True)
    sync, err = decode_error_estimate(value)
    assert sync is True
    assert err is not None and err >= seconds * 0.999
    assert err <= seconds * 1.02 + 2**-32
    assert decode_error_estimate(0x0100) == (False, None)  # multiplier 0 is invalid


def test_sender_and_reflector_layouts_match_scapy() -> None:
    t1 = 1_780_000_000_000_000_000
    raw = pack_sender(7, t1, encode_error_estimate(1e-3, synchronized=False), 0x1234)
    assert len(raw) == 44
    s = STAMPSessionSenderTestUnauthenticated(raw)
    assert (s.seq, s.ssid) == (7, 0x1234)
    req = parse_sender(raw)
    reply = pack_reflector(99, t1 + 3000, 0x8101, req, t1 + 1000, 61, 44)
    assert len(reply) == 44
    r = STAMPSessionReflectorTestUnauthenticated(reply)
    assert (r.seq, r.seq_sender, r.ssid, r.ttl_sender) == (99, 7, 0x1234, 61)
    assert r.err_estimate.S == 1 and r.err_estimate.multiplier == 1
    p = parse_reflector(reply)
    assert p.t1 == req.t1 and ns_from_ntp(p.t2) - ns_from_ntp(p.t1) == pytest.approx(1000, abs=2)
    assert p.ttl == 61 and p.length == 44


def test_short_replies() -> None:
    req = parse_sender(pack_sender(1, 10**18, 0x0101, 5))
    full = pack_reflector(1, 10**18, 0x0101, req, 10**18, 64, 44)
    assert parse_reflector(full[:41]).ttl == 64  # TWAMP-Light, 41 octets
    assert parse_reflector(full[:38]).ttl is None  # some send 38
    with pytest.raises(ValueError, match="truncated: 37 octets"):
        parse_reflector(full[:37])
    with pytest.raises(ValueError, match="sender packet of 10 octets"):
        parse_sender(b"\0" * 10)


def test_stats_functions() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 100) == 4.0
    # constant transit: no jitter; one step of 16 ms gives 1 ms
    assert rfc3550_jitter([5.0, 5.0, 5.0]) == 0.0
    assert rfc3550_jitter([0.0, 16.0]) == 1.0
    d = delay_stats([(0, 1.0), (1, 3.0), (3, 2.0)], method="m")
    assert d.samples == 3 and d.min_ms == 1.0 and d.max_ms == 3.0
    assert d.ipdv_mean_abs_ms == 2.0  # only seq 0→1 are consecutive
    assert d.histogram is not None and sum(d.histogram.counts) == 3
    p = pacing_report([10] * 200, 10_000.0, 0.2)
    assert p.pacing_error_max_pct == 0.0 and p.max_per_ms == 10 and p.windows_100ms == 2
    p = pacing_report([20, 0] * 100, 10_000.0, 0.2)
    assert p.max_per_ms == 20 and p.idle_ms_fraction == 0.5 and p.pacing_error_max_pct == 0.0
    p = pacing_report([9] * 100 + [11] * 100, 10_000.0, 0.2)
    assert p.pacing_error_max_pct == pytest.approx(10.0)
