"""Independent measuring tools for the lab's self-tests.

Deliberately simple and separate from eventops' probe: a sequence-numbered,
timestamped UDP stream (one-way delay from kernel receive timestamps; both
ends share the host's clock), and iperf3 for rates. Sockets are created in
the lab's namespaces and driven from threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import socket
import statistics
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from eventops_hardware.linklab import Lab

HEADER = struct.Struct("!IQ")  # seq, sender CLOCK_REALTIME ns
SO_TIMESTAMPNS = 35


@dataclass
class StreamResult:
    sent: int
    received: int = 0
    duplicates: int = 0
    reordered: int = 0
    seen: set[int] = field(default_factory=set)
    duplicated_seqs: list[int] = field(default_factory=list)
    reordered_seqs: list[int] = field(default_factory=list)
    delays_ms: list[float] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.sent - len(self.seen)

    @property
    def loss_pct(self) -> float:
        return 100.0 * self.lost / self.sent

    @property
    def median_delay_ms(self) -> float:
        return statistics.median(self.delays_ms)


def binomial_sd_pct(pct: float, n: int) -> float:
    """Standard deviation, in points, of the share lost when each of ``n`` is lost at ``pct``."""
    p = pct / 100.0
    return 100.0 * math.sqrt(p * (1.0 - p) / n)


def _realtime() -> None:
    """SCHED_FIFO 1 for the calling thread (Linux: per thread), as the lab's forwarder:
    a sender preempted between its timestamp and its send would show as link delay."""
    with contextlib.suppress(OSError):
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))


def _receive(sock: socket.socket, result: StreamResult, done_sending: list[bool]) -> None:
    _realtime()
    next_exp = 0
    idle_since: float | None = None
    while True:
        try:
            data, anc, _, _ = sock.recvmsg(65536, 64)
        except TimeoutError:
            if done_sending:
                if idle_since is None:
                    idle_since = time.monotonic()
                if time.monotonic() - idle_since > 0.3:
                    return
            continue
        idle_since = None
        if len(data) < HEADER.size:
            continue
        seq, sent_ns = HEADER.unpack_from(data)
        rx_ns = time.time_ns()
        for level, kind, raw in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", raw[:16])
                rx_ns = sec * 1_000_000_000 + nsec
        result.received += 1
        if seq in result.seen:
            result.duplicates += 1
            result.duplicated_seqs.append(seq)
            continue
        result.seen.add(seq)
        result.delays_ms.append((rx_ns - sent_ns) / 1e6)
        if seq < next_exp:
            result.reordered += 1
            result.reordered_seqs.append(seq)
        else:
            next_exp = seq + 1


def _send(sock: socket.socket, dest: tuple[str, int], count: int, pps: float, size: int) -> None:
    _realtime()
    pad = bytes(max(0, size - HEADER.size))
    start = time.monotonic()
    for seq in range(count):
        due = start + seq / pps
        delay = due - time.monotonic()
        if delay > 0.0005:
            time.sleep(delay)
        sock.sendto(HEADER.pack(seq, time.time_ns()) + pad, dest)


async def udp_stream(
    lab: Lab,
    *,
    count: int,
    pps: float,
    size: int = 200,
    port: int = 40000,
    reverse: bool = False,
) -> StreamResult:
    """Send ``count`` datagrams at ``pps`` from A to B (or B to A); what arrived."""
    tx_end, rx_end = ("b", "a") if reverse else ("a", "b")
    rx_addr = lab.addr_a if reverse else lab.addr_b
    rx = lab.socket(rx_end)  # type: ignore[arg-type]
    tx = lab.socket(tx_end)  # type: ignore[arg-type]
    try:
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        rx.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        rx.bind((rx_addr, port))
        rx.settimeout(0.05)
        result = StreamResult(sent=count)
        done: list[bool] = []
        receiver = asyncio.create_task(asyncio.to_thread(_receive, rx, result, done))
        try:
            await asyncio.to_thread(_send, tx, (rx_addr, port), count, pps, size)
        finally:
            done.append(True)
            await receiver
        return result
    finally:
        rx.close()
        tx.close()


async def _wait_listening(lab: Lab, end: str, port: int) -> None:
    for _ in range(100):
        out = await lab.run(end, "ss", "-Hltn", f"sport = :{port}")  # type: ignore[arg-type]
        if out.strip():
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"iperf3 server did not listen on port {port}")


async def iperf3_udp(
    lab: Lab, *, bitrate: str, length: int = 1400, seconds: float = 2.0, port: int = 5201
) -> dict[str, Any]:
    """iperf3 UDP from A to B; the client's ``-J`` report."""
    # Both ends at real-time priority 1, as the forwarder: on a loaded machine an
    # ordinary iperf3 stalls, then bursts to catch up, and the tbf queue drops
    # the burst, so the measured rate says more about the host than the link.
    server = await lab.exec("b", "chrt", "-f", "1", "iperf3", "-s", "-1", "-p", str(port))
    try:
        await _wait_listening(lab, "b", port)
        out = await lab.run(
            "a", "chrt", "-f", "1", "iperf3", "-c", lab.addr_b, "-p", str(port), "-u", "-b", bitrate,
            "-l", str(length), "-t", str(seconds), "-J",
        )  # fmt: skip
        report: dict[str, Any] = json.loads(out)
        return report
    finally:
        if server.returncode is None:
            server.terminate()
        await server.wait()
