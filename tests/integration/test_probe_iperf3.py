"""Our iperf3 client against the real Debian ``iperf3 -s`` on loopback.

What both sides count of the same bytes is compared exactly; sent against received, where
bytes still in flight when the test ends make the difference, within 5 %.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventops.errors import ProbeError
from eventops.probe import run_iperf3
from tests.integration.stock_iperf3 import StockServer, free_port, key_paths, stock_client


@pytest.fixture
def server(tmp_path: Path) -> Iterator[StockServer]:
    s = StockServer(tmp_path, once=True)
    try:
        yield s
    finally:
        s.stop()


async def test_udp_matches_server_report(server: StockServer) -> None:
    r = await run_iperf3("127.0.0.1", server.port, udp=True, rate_bps=80e6, size=1200, duration=1)
    rep = server.report()
    got = rep["end"]["sum_received"]
    assert rep["start"]["test_start"]["protocol"] == "UDP"
    assert rep["start"]["test_start"]["blksize"] == 1200
    assert r.received_packets == got["packets"]
    # Datagrams still in flight when the server stops counting are ours but not its.
    assert r.sent_packets is not None and r.sent_packets >= got["packets"]
    assert r.received_bytes == got["bytes"]
    # Loss on a busy loopback is possible (the server's socket buffer); what
    # must hold is that we report exactly what the server counted.
    assert r.lost_packets == got["lost_packets"]
    assert r.jitter_ms == pytest.approx(got["jitter_ms"])
    # 80 Mbit/s of 1200-byte datagrams for 1 s, unless the sender lost the CPU
    # for long (a stall it reports: it catches up only at a bounded rate)
    assert r.pacing is not None and r.pacing.target_pps == pytest.approx(80e6 / 9600)
    assert r.sent_packets < 8700
    assert r.pacing.stalls > 0 or r.sent_packets > 7500
    j = r.iperf3_json()
    assert j["end"]["sum_received"]["bytes"] == got["bytes"]
    assert j["end"]["sum"]["lost_percent"] == pytest.approx(
        100.0 * got["lost_packets"] / r.sent_packets
    )


async def test_tcp_matches_server_report(server: StockServer) -> None:
    r = await run_iperf3("127.0.0.1", server.port, udp=False, streams=2, duration=1)
    rep = server.report()
    assert rep["start"]["test_start"]["num_streams"] == 2
    assert r.received_bytes == rep["end"]["sum_received"]["bytes"] > 0
    assert r.received_bytes <= r.sent_bytes
    assert r.forward is not None and r.forward.retransmits is not None


async def test_reverse_tcp_against_stock_server(server: StockServer) -> None:
    r = await run_iperf3("127.0.0.1", server.port, streams=2, duration=1, reverse=True)
    rep = server.report()
    assert rep["start"]["test_start"]["reverse"] == 1
    # the server sent; we received: our figure within 1 % of its sent bytes
    assert r.direction == "reverse" and r.forward is None
    assert r.sent_bytes == rep["end"]["sum_sent"]["bytes"]
    assert r.received_bytes == pytest.approx(r.sent_bytes, rel=0.05)
    assert r.iperf3_json()["start"]["test_start"]["reverse"] == 1


async def test_reverse_udp_loss_and_jitter_are_ours(server: StockServer) -> None:
    r = await run_iperf3(
        "127.0.0.1", server.port, udp=True, rate_bps=20e6, size=1400, duration=1, reverse=True
    )
    rep = server.report()
    sent = rep["end"]["sum_sent"]
    assert r.sent_packets == sent["packets"] and r.sent_bytes == sent["bytes"]
    assert r.received_packets is not None and r.lost_packets is not None
    assert r.received_bytes == pytest.approx(sent["bytes"], rel=0.05)
    assert r.lost_packets >= 0 and r.jitter_ms is not None and r.jitter_ms > 0


@pytest.mark.parametrize("udp", [False, True])
async def test_bidir_against_stock_server(server: StockServer, udp: bool) -> None:
    r = await run_iperf3(
        "127.0.0.1", server.port, udp=udp, rate_bps=10e6 if udp else None, duration=1, bidir=True
    )
    rep = server.report()
    assert r.forward is not None and r.reverse is not None
    assert r.forward.received_bytes == rep["end"]["sum_received"]["bytes"] > 0
    assert r.reverse.sent_bytes == rep["end"]["sum_sent_bidir_reverse"]["bytes"] > 0
    assert r.reverse.received_bytes == pytest.approx(r.reverse.sent_bytes, rel=0.05)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ({"udp": True, "duration": 2}, ["-u", "-t", "2"]),
        ({"duration": 2, "streams": 2}, ["-t", "2", "-P", "2"]),
        ({"duration": 1, "reverse": True}, ["-t", "1", "-R"]),
        ({"udp": True, "duration": 1, "reverse": True}, ["-u", "-t", "1", "-R"]),
        ({"udp": True, "duration": 1, "bidir": True}, ["-u", "-t", "1", "--bidir"]),
        ({"duration": 1, "bidir": True}, ["-t", "1", "--bidir"]),
    ],
)
async def test_json_document_has_every_iperf3_field(
    tmp_path: Path, ours: dict[str, object], theirs: list[str]
) -> None:
    """Same field paths and JSON types as a real ``iperf3 -c -J`` of the same test."""
    srv = StockServer(tmp_path, once=True)
    try:
        real = await asyncio.to_thread(stock_client, srv.port, *theirs)
    finally:
        srv.stop()
    srv = StockServer(tmp_path, once=True)
    try:
        r = await run_iperf3("127.0.0.1", srv.port, **ours)  # type: ignore[arg-type]
    finally:
        srv.stop()
    want, got = key_paths(real), key_paths(r.iperf3_json())
    assert len(want) >= 80
    assert want - got == set(), "missing"
    assert got - want == set(), "extra"
    # the same one-second intervals; stock iperf3 adds a short last one when its end timer
    # fires a few milliseconds after a tick (a busy host), so those are not counted
    assert len(_whole(r.iperf3_json())) == len(_whole(real))


def _whole(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for i in doc["intervals"] if i["sum"]["seconds"] >= 0.1]


async def test_default_udp_length_is_iperf3s(server: StockServer) -> None:
    r = await run_iperf3("127.0.0.1", server.port, udp=True, duration=1)
    rep = server.report()
    # iperf3's rule: the control connection's MSS (loopback: large), else 1460
    assert r.size == rep["start"]["test_start"]["blksize"]
    assert r.target_bps == 1e6


async def test_busy_server_is_one_line_error(tmp_path: Path) -> None:
    srv = StockServer(tmp_path, once=False)
    try:
        running = asyncio.Event()
        first = asyncio.create_task(
            run_iperf3(
                "127.0.0.1", srv.port, udp=True, rate_bps=1e6, duration=4,
                on_interval=lambda _: running.set(),
            )
        )  # fmt: skip
        await asyncio.wait_for(running.wait(), 30)  # the first test is running (1 s in)
        with pytest.raises(ProbeError) as exc:
            await run_iperf3("127.0.0.1", srv.port, udp=True, rate_bps=1e6, duration=1)
        assert "busy (ACCESS_DENIED)" in exc.value.one_line()
        assert "\n" not in str(exc.value)
        done = await first
        assert done.received_packets == done.sent_packets
    finally:
        srv.stop()


async def test_refused_and_bad_input() -> None:
    port = free_port()
    with pytest.raises(ProbeError, match="connection refused"):
        await run_iperf3("127.0.0.1", port, udp=True, rate_bps=1e6, duration=1)
    with pytest.raises(ProbeError, match="size 70000 out of range"):
        await run_iperf3("127.0.0.1", port, udp=True, size=70000)
    with pytest.raises(ProbeError, match="streams 0 out of range"):
        await run_iperf3("127.0.0.1", port, streams=0)
    with pytest.raises(ProbeError, match="port 70000 out of range"):
        await run_iperf3("127.0.0.1", 70000)
    with pytest.raises(ProbeError, match=r"duration 0.5 s out of range"):
        await run_iperf3("127.0.0.1", port, duration=0.5)
    with pytest.raises(ProbeError, match="one of reverse and bidir"):
        await run_iperf3("127.0.0.1", port, reverse=True, bidir=True)


async def test_intervals_reach_the_caller_while_the_test_runs(server: StockServer) -> None:
    seen: list[dict[str, float]] = []
    r = await run_iperf3("127.0.0.1", server.port, duration=2, on_interval=seen.append)
    assert len(seen) >= 1  # one line per second before the last
    first = seen[0]
    assert 0.0 <= first["start"] < first["end"]
    assert first["sent_bytes"] > 0 and first["received_bytes"] == 0  # forward: we only send
    assert sum(iv["sent_bytes"] for iv in seen) <= r.sent_bytes
