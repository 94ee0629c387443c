"""STAMP sender against our reflector and against misbehaving reflectors, on loopback."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from scapy.utils import rdpcap

from eventops.errors import ProbeError
from eventops.probe import run_stamp, start_reflector
from eventops.probe.stamp import pack_reflector, parse_sender
from tests.helpers.wait import eventually

Answer = Callable[[int, bytes], list[bytes]]


class _Fake(asyncio.DatagramProtocol):
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.n = 0
        self.transport: asyncio.DatagramTransport | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        assert self.transport is not None
        for out in self.answer(self.n, data):
            self.transport.sendto(out, addr)
        self.n += 1


async def _fake(answer: Answer) -> AsyncIterator[int]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: _Fake(answer), local_addr=("127.0.0.1", 0)
    )
    proto.transport = transport
    try:
        yield transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


def _reply(data: bytes, seq: int | None = None, size: int = 44, error: int = 0x0101) -> bytes:
    req = parse_sender(data)
    now = time.time_ns()
    return pack_reflector(req.seq if seq is None else seq, now, error, req, now, 64, 44)[:size]


@pytest.mark.parametrize("stateful", [False, True])
async def test_against_our_reflector(stateful: bool, tmp_path: Path) -> None:
    refl = await start_reflector("127.0.0.1", 0, stateful=stateful)
    try:
        r = await run_stamp(
            "127.0.0.1",
            refl.port,
            count=40,
            interval=0.001,
            ssid=321,
            pcap=tmp_path / "s.pcap",
            pcap_packets=5,
        )
    finally:
        await refl.close()
    assert r.sent == r.replies == 40 and r.round_trip_lost == 0
    assert refl.stats.reflected == 40
    assert r.rtt.samples == 40 and r.rtt.min_ms is not None and r.rtt.min_ms > 0
    assert r.rtt.p99_ms is not None and r.rtt.p99_ms >= r.rtt.p50_ms  # type: ignore[operator]
    assert r.reflector_error_estimate_s == pytest.approx(1e-3, rel=0.02)
    assert sum(r.anomalies.model_dump().values()) == 0
    assert "T4−T1" in r.methods["rtt"]
    assert len(rdpcap(str(tmp_path / "s.pcap"))) == 10


async def test_stateful_reflector_separates_forward_and_backward_loss() -> None:
    def answer(n: int, data: bytes) -> list[bytes]:
        req = parse_sender(data)
        if req.seq % 5 == 4:
            return []  # lost on the way out: the reflector never counts it
        count = answer.counter  # type: ignore[attr-defined]
        answer.counter += 1  # type: ignore[attr-defined]
        if count % 7 == 6:
            return []  # counted, but the reply is lost on the way back
        return [_reply(data, seq=count)]

    answer.counter = 0  # type: ignore[attr-defined]
    async for port in _fake(answer):
        r = await run_stamp("127.0.0.1", port, count=50, interval=0.0005, wait_s=2)
    assert r.reflector_mode == "stateful"
    assert r.sent == 50 and r.replies == 35
    assert r.forward_lost == 10 and r.backward_lost == 5
    assert r.round_trip_lost == 15


async def test_bad_replies_are_counted_not_fatal() -> None:
    def answer(n: int, data: bytes) -> list[bytes]:
        kind = n % 6
        if kind == 0:
            return [_reply(data)[:20]]  # truncated
        if kind == 1:
            return [os.urandom(44)]  # garbage: unknown sender seq (almost surely)
        if kind == 2:
            return [_reply(data), _reply(data)]  # duplicate
        if kind == 3:
            return [_reply(data, size=38)]  # short TWAMP-Light reply: used
        if kind == 4:
            return [_reply(data, error=0x0100)]  # multiplier 0: counted, used
        return [_reply(data)]

    async for port in _fake(answer):
        r = await run_stamp("127.0.0.1", port, count=30, interval=0.0005, wait_s=2)
    a = r.anomalies
    assert a.truncated == 5 and a.duplicate == 5 and a.short_twamp_light == 5
    assert a.bad_error_estimate == 5 and a.unknown_seq == 5
    assert r.replies == 20 and r.round_trip_lost == 10


async def test_silent_and_refused_reflectors() -> None:
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        with pytest.raises(ProbeError, match=r"no valid reply within 0\.3 s to 3 packets"):
            await run_stamp(
                "127.0.0.1", silent.getsockname()[1], count=3, interval=0.01, wait_s=0.3
            )
    finally:
        silent.close()
    free = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(ProbeError, match="port refused"):
        await run_stamp("127.0.0.1", port, count=3, interval=0.01, wait_s=0.3)


async def test_only_garbage_is_an_error_naming_the_reasons() -> None:
    async for port in _fake(lambda n, d: [b"xx"]):
        with pytest.raises(ProbeError, match=r"unusable replies .*truncated 3"):
            await run_stamp("127.0.0.1", port, count=3, interval=0.001, wait_s=2)


async def test_reflector_survives_malformed_requests() -> None:
    refl = await start_reflector("127.0.0.1", 0)
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"abc", ("127.0.0.1", refl.port))
        s.close()
        await eventually(lambda: refl.stats.malformed == 1, what="the reflector counted it")
        r = await run_stamp("127.0.0.1", refl.port, count=5, interval=0.001)
        assert r.replies == 5
    finally:
        await refl.close()


async def test_out_of_range_arguments() -> None:
    with pytest.raises(ProbeError, match="count 0 out of range"):
        await run_stamp("127.0.0.1", 862, count=0)
    with pytest.raises(ProbeError, match="SSID 0 out of range"):
        await run_stamp("127.0.0.1", 862, ssid=0)
    with pytest.raises(ProbeError, match="packet size 20 out of range"):
        await run_stamp("127.0.0.1", 862, size=20)
