"""Our iperf3 client against the real Debian ``iperf3 -s`` on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventops.errors import ProbeError
from eventops.probe import run_iperf3

IPERF3 = "/usr/bin/iperf3"
pytestmark = pytest.mark.skipif(not Path(IPERF3).exists(), reason="Debian iperf3 not installed")


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def _listening(port: int) -> bool:
    want = f":{port:04X} "
    with open("/proc/net/tcp", encoding="ascii") as fh:
        return any(want in line and line.split()[3] == "0A" for line in fh)


class Server:
    def __init__(self, tmp: Path, *, once: bool) -> None:
        self.port = _free_port()
        self.log = tmp / f"iperf3-{self.port}.json"
        args = [
            IPERF3,
            "-s",
            "-J",
            "--logfile",
            str(self.log),
            "-B",
            "127.0.0.1",
            "-p",
            str(self.port),
        ]
        self.proc = subprocess.Popen([*args, "-1"] if once else args)
        deadline = time.monotonic() + 5
        while not _listening(self.port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("iperf3 -s did not start")
            time.sleep(0.02)

    def report(self) -> dict[str, Any]:
        self.proc.wait(10)
        data: dict[str, Any] = json.loads(self.log.read_text())
        return data

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path, once=True)
    try:
        yield s
    finally:
        s.stop()


async def test_udp_matches_server_report(server: Server) -> None:
    r = await run_iperf3("127.0.0.1", server.port, udp=True, rate_bps=80e6, size=1200, duration=1)
    rep = server.report()
    got = rep["end"]["sum_received"]
    assert rep["start"]["test_start"]["protocol"] == "UDP"
    assert rep["start"]["test_start"]["blksize"] == 1200
    assert r.server_packets == got["packets"]
    # Datagrams still in flight when the server stops counting are ours but not its.
    assert r.sent_packets is not None and r.sent_packets >= got["packets"]
    assert r.server_bytes == got["bytes"]
    # Loss on a busy loopback is possible (the server's socket buffer); what
    # must hold is that we report exactly what the server counted.
    assert r.server_lost_packets == got["lost_packets"]
    assert r.server_jitter_ms == pytest.approx(got["jitter_ms"])
    # 80 Mbit/s of 1200-byte datagrams for 1 s
    assert 7500 < r.sent_packets < 8700  # type: ignore[operator]
    j = r.iperf3_json()
    assert j["end"]["sum_received"]["bytes"] == got["bytes"]


async def test_tcp_matches_server_report(server: Server) -> None:
    r = await run_iperf3("127.0.0.1", server.port, udp=False, streams=2, duration=1)
    rep = server.report()
    assert rep["start"]["test_start"]["num_streams"] == 2
    assert r.server_bytes == rep["end"]["sum_received"]["bytes"] > 0
    assert r.server_bytes <= r.sent_bytes


async def test_busy_server_is_one_line_error(tmp_path: Path) -> None:
    srv = Server(tmp_path, once=False)
    try:
        first = asyncio.create_task(
            run_iperf3("127.0.0.1", srv.port, udp=True, rate_bps=1e6, duration=2)
        )
        await asyncio.sleep(0.8)  # the first test is running
        with pytest.raises(ProbeError) as exc:
            await run_iperf3("127.0.0.1", srv.port, udp=True, rate_bps=1e6, duration=1)
        assert "busy (ACCESS_DENIED)" in exc.value.one_line()
        assert "\n" not in str(exc.value)
        done = await first
        assert done.server_packets == done.sent_packets
    finally:
        srv.stop()


async def test_refused_and_bad_input() -> None:
    port = _free_port()
    with pytest.raises(ProbeError, match="connection refused"):
        await run_iperf3("127.0.0.1", port, udp=True, rate_bps=1e6, duration=1)
    with pytest.raises(ProbeError, match="size 70000 out of range"):
        await run_iperf3("127.0.0.1", port, udp=True, size=70000)
    with pytest.raises(ProbeError, match="streams 0 out of range"):
        await run_iperf3("127.0.0.1", port, streams=0)
