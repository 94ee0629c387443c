"""The sink tells its own drops from network loss, and each test starts clean."""

from __future__ import annotations

import socket
import struct

from eventops.probe import run_udp, start_sink
from eventops.probe.datapath import HEADER_LEN, MAGIC, drain_udp, udp_socket_drops


def test_socket_drop_counter_counts_receive_buffer_overflow() -> None:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the kernel's minimum
        rx.bind(("127.0.0.1", 0))
        before = udp_socket_drops(rx)
        assert before == 0
        for _ in range(200):
            tx.sendto(bytes(1000), rx.getsockname())
        queued = drain_udp(rx)
        drops = udp_socket_drops(rx)
        assert drops is not None and drops > 0
        # every datagram was either queued or dropped by this socket: nothing else
        assert queued + drops == 200
        assert drain_udp(rx) == 0
    finally:
        rx.close()
        tx.close()


async def test_leftovers_are_drained_and_own_drops_reported() -> None:
    sink = await start_sink("127.0.0.1", 0)
    try:
        # datagrams of an earlier test (another session) still queued on the sink
        tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        old = struct.pack("!IIQQ", MAGIC, 12345, 7, 0) + bytes(200 - HEADER_LEN)
        for _ in range(50):
            tx.sendto(old, ("127.0.0.1", sink.port))
        tx.close()
        r = await run_udp("127.0.0.1", sink.port, rate_bps=2e6, size=200, duration=0.3)
    finally:
        await sink.close()
    assert r.foreign == 0  # drained before the test, not counted against it
    assert r.sink_drops == 0
    assert r.network_lost_packets == r.lost_packets - r.sink_drops
    assert r.lost_packets >= 0 and r.received_packets <= r.sent_packets


async def test_run_json_has_no_jitter_where_none_was_measured() -> None:
    sink = await start_sink("127.0.0.1", 0)
    try:
        batched = await run_udp("127.0.0.1", sink.port, rate_bps=2e6, size=200, duration=0.2)
        unbatched = await run_udp(
            "127.0.0.1", sink.port, rate_bps=2e6, size=200, duration=0.3, batched=False
        )
    finally:
        await sink.close()
    assert batched.iperf3_json()["end"]["sum_received"]["jitter_ms"] is None
    assert isinstance(unbatched.iperf3_json()["end"]["sum_received"]["jitter_ms"], float)
