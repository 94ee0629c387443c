"""UDP and TCP throughput against an in-process sink on loopback."""

from __future__ import annotations

import array
import fcntl
import socket
import struct
import termios
import threading
import time
from typing import Literal

import pytest

from eventops.errors import ProbeError
from eventops.probe import run_tcp, run_udp, start_sink
from eventops.probe.datapath import load_engine
from tests.helpers.wait import eventually


@pytest.mark.parametrize("engine", ["c", "python"])
async def test_udp_rate_exact_accounting(engine: Literal["c", "python"]) -> None:
    sink = await start_sink("127.0.0.1", 0, engine=engine)
    try:
        r = await run_udp(
            "127.0.0.1",
            sink.port,
            rate_bps=50e6,
            size=1000,
            duration=0.5,
            engine=engine,
            interval=0.2,
        )
    finally:
        await sink.close()
    assert r.engine == engine and r.sink_engine == engine
    assert r.sent_packets - r.received_packets == r.lost_packets
    assert r.lost_packets == 0 and r.duplicated == 0 and r.reordered == 0
    # 50 Mbit/s of 1000-byte payloads for ~0.5 s is ~3125 datagrams; pacing never sends
    # more, and a sender stalled by a busy host does not catch up (it sends less)
    assert r.pacing is not None and r.pacing.max_per_ms is not None
    assert r.sent_packets < 3300
    assert r.pacing.stalls > 0 or r.sent_packets > 2500, r.pacing
    assert r.pacing.max_per_ms >= 6  # 6.25 datagrams per ms at this rate
    assert r.methods["throughput"].startswith("receiver counters of batched")
    j = r.iperf3_json()
    assert j["end"]["sum_received"]["lost_packets"] == 0
    assert j["end"]["sum_received"]["bits_per_second"] == r.receiver_payload_bps


async def test_unbatched_stream_reports_delay_and_l2_rate() -> None:
    sink = await start_sink("127.0.0.1", 0)
    try:
        r = await run_udp(
            "127.0.0.1", sink.port, rate_bps=10e6, size=200, duration=0.4, batched=False, layer="l2"
        )
    finally:
        await sink.close()
    assert r.delay is not None and r.delay.samples == r.received_packets > 0
    assert r.delay.min_ms is not None and r.delay.min_ms >= 0
    assert r.delay.jitter_ms is not None
    assert "SO_TIMESTAMPNS" in r.methods["delay"]
    # l2: 200 + 8 + 20 + 14 bytes per datagram on the wire
    assert r.receiver_bps == pytest.approx(r.receiver_payload_bps * 242 / 200)


async def test_tcp_streams() -> None:
    sink = await start_sink("127.0.0.1", 0)
    try:
        r = await run_tcp("127.0.0.1", sink.port, streams=3, duration=0.5, interval=0.2)
    finally:
        await sink.close()
    assert len(r.received_bytes_per_stream) == 3
    assert r.received_bytes == r.sent_bytes > 0


async def test_busy_sink_is_refused() -> None:
    sink = await start_sink("127.0.0.1", 0)
    try:
        import asyncio

        first = asyncio.create_task(run_udp("127.0.0.1", sink.port, rate_bps=1e6, duration=1.0))
        await eventually(lambda: sink.busy, what="the first test is running")
        with pytest.raises(ProbeError, match="sink busy"):
            await run_udp("127.0.0.1", sink.port, rate_bps=1e6, duration=0.2)
        await first
    finally:
        await sink.close()


async def test_refused_and_out_of_range() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(ProbeError, match="connection refused"):
        await run_udp("127.0.0.1", port, rate_bps=1e6, duration=0.2)
    with pytest.raises(ProbeError, match="size 10 out of range"):
        await run_udp("127.0.0.1", port, size=10)
    with pytest.raises(ProbeError, match=r"rate .* out of range"):
        await run_udp("127.0.0.1", port, rate_bps=-5)
    with pytest.raises(ProbeError, match="duration"):
        await run_udp("127.0.0.1", port, duration=0)


async def test_silent_sink_times_out() -> None:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    try:
        with pytest.raises(ProbeError, match=r"no answer within 0\.3 s"):
            await run_udp(
                "127.0.0.1", srv.getsockname()[1], rate_bps=1e6, duration=0.2, control_timeout=0.3
            )
    finally:
        srv.close()


SO_RCVBUFFORCE = 33
"""Linux: SO_RCVBUF above net.core.rmem_max, for a process with CAP_NET_ADMIN (the suite runs
as root)."""


def _queued(sock: socket.socket) -> int:
    """Bytes of the next datagram waiting in ``sock``'s receive queue (0: none)."""
    (n,) = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0" * 4))
    return int(n)


@pytest.mark.parametrize("name", ["c", "python"])
def test_recorded_trace_matches_counts(name: str) -> None:
    """A real stream recorded at the receiver, re-fed to both engines, counts the same."""
    e = load_engine(name)  # type: ignore[arg-type]
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # room for the whole stream in the kernel: a receiver thread a busy host delays reads
    # it late, never loses it (the default buffer holds about 13 ms of it)
    rx.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.connect(rx.getsockname())
    acct = e.Accountant(1 << 16)
    stop = bytearray(1)
    trace = array.array("Q", bytes(8 * 50_000))
    out: dict[str, tuple[int, ...]] = {}
    t = threading.Thread(
        target=lambda: out.update(r=e.recv_stream(rx.fileno(), acct, 0, 9, stop, 10.0, trace))
    )
    t.start()
    sent = e.send_stream(tx.fileno(), 0, 100, 20000.0, 0.5, 0, 9, 64, bytearray(1), None)
    # a stray datagram of another session is counted as foreign, not accounted
    tx.send(b"\x45\x56\x4f\x50" + bytes(40))
    # stop once the receiver has read everything (the stray comes last); the bound only
    # keeps a broken receiver from hanging the test
    deadline = time.monotonic() + 30
    while acct.counters()["received"] < sent[0] or _queued(rx):
        assert time.monotonic() < deadline, (acct.counters(), sent)
        time.sleep(0.01)
    stop[0] = 1
    t.join()
    rx.close()
    tx.close()
    datagrams, _nbytes, foreign, recorded, err = out["r"]
    assert err == 0 and foreign == 1
    assert datagrams == recorded == acct.counters()["received"] == sent[0]
    rec = trace[:recorded]
    for other in ("c", "python"):
        a = load_engine(other).Accountant(1 << 16)
        a.feed(rec.tobytes() if other == "c" else rec)
        assert a.counters() == acct.counters()


async def test_cancelled_run_stops_and_frees_the_sink() -> None:
    import asyncio

    sink = await start_sink("127.0.0.1", 0)
    try:
        task = asyncio.create_task(
            run_udp("127.0.0.1", sink.port, rate_bps=20e6, duration=30, interval=0.1)
        )
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # the sink notices the closed control connection and takes the next test
        await eventually(lambda: not sink._busy, within=30, what="the sink is free again")
        r = await run_udp("127.0.0.1", sink.port, rate_bps=5e6, duration=0.3)
        assert r.lost_packets == 0
    finally:
        await sink.close()


async def test_batched_after_unbatched_on_one_sink() -> None:
    """Timestamps from an unbatched test must not disturb GRO accounting afterwards."""
    sink = await start_sink("127.0.0.1", 0)
    try:
        for batched in (False, True, False, True):
            r = await run_udp(
                "127.0.0.1", sink.port, rate_bps=40e6, size=1400, duration=0.3, batched=batched
            )
            assert r.received_packets == r.sent_packets > 0
            assert r.foreign == 0 and r.duplicated == 0
    finally:
        await sink.close()
