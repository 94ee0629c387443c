"""The stateful STAMP reflector's session table: reset, idle timeout, bound; signals."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from eventops.errors import ProbeError
from eventops.probe.reflector import Reflector
from eventops.probe.stamp import pack_sender, parse_reflector


def _exchange(sock: socket.socket, port: int, seqs: list[int], ssid: int = 0) -> list[int]:
    """Send sender packets; the reflector's own sequence numbers of the replies."""
    out = []
    for s in seqs:
        sock.sendto(pack_sender(s, time.time_ns(), 0x8001, ssid), ("127.0.0.1", port))
        sock.settimeout(5)
        data = sock.recv(2048)
        rep = parse_reflector(data)
        assert rep.sender_seq == s
        out.append(rep.seq)
    return out


@pytest.fixture
def client() -> Iterator[socket.socket]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    try:
        yield s
    finally:
        s.close()


async def test_session_restarts_at_sequence_zero(client: socket.socket) -> None:
    refl = Reflector("127.0.0.1", 0, stateful=True)
    await refl.start()
    try:
        first = await asyncio.to_thread(_exchange, client, refl.port, [0, 1, 2, 4])
        # a second run from the same address and port (twampy does this)
        second = await asyncio.to_thread(_exchange, client, refl.port, [0, 1, 2])
    finally:
        await refl.close()
    assert first == [0, 1, 2, 3]  # the reflector counts what it received
    assert second == [0, 1, 2]  # not 4, 5, 6: that read as -100 % / +100 % loss
    assert refl.stats.sessions == 2


async def test_session_restarts_after_idle_timeout(client: socket.socket) -> None:
    now = [1000.0]
    refl = Reflector("127.0.0.1", 0, stateful=True, idle_timeout_s=30, clock=lambda: now[0])
    await refl.start()
    try:
        a = await asyncio.to_thread(_exchange, client, refl.port, [5, 6])
        now[0] += 29
        b = await asyncio.to_thread(_exchange, client, refl.port, [7])
        now[0] += 31
        c = await asyncio.to_thread(_exchange, client, refl.port, [9, 10])
    finally:
        await refl.close()
    assert (a, b, c) == ([0, 1], [2], [0, 1])
    assert refl.stats.sessions == 2


async def test_session_table_is_bounded(client: socket.socket) -> None:
    refl = Reflector("127.0.0.1", 0, stateful=True, max_sessions=3)
    await refl.start()
    try:
        for ssid in range(1, 6):
            await asyncio.to_thread(_exchange, client, refl.port, [0, 1], ssid)
        # the most recent session is still counted
        again = await asyncio.to_thread(_exchange, client, refl.port, [2], 5)
    finally:
        await refl.close()
    assert refl.session_count == 3
    assert refl.stats.evicted == 2 and refl.stats.sessions == 5
    assert again == [2]


def test_reflector_limits_are_checked() -> None:
    with pytest.raises(ProbeError, match="idle timeout 0 s out of range"):
        Reflector("127.0.0.1", 0, stateful=True, idle_timeout_s=0)
    with pytest.raises(ProbeError, match="max sessions 0 out of range"):
        Reflector("127.0.0.1", 0, stateful=True, max_sessions=0)


def test_help_says_how_sessions_end() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "eventops", "probe", "reflect", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    text = " ".join(r.stdout.split())
    assert "restarts at sender sequence 0 or after --idle-timeout" in text
    assert "--max-sessions" in text and "least recently seen dropped first" in text


@pytest.mark.parametrize(
    ("cmd", "final"),
    [
        (["sink", "--bind", "127.0.0.1", "--port", "0"], "sink stopped ({sig}): 0 test(s)"),
        (
            ["reflect", "--bind", "127.0.0.1", "--port", "0", "--stateful"],
            "reflector stopped ({sig}): reflected 0, malformed 0, sessions 0, evicted 0",
        ),
    ],
)
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_signals_print_final_statistics(cmd: list[str], final: str, sig: str) -> None:
    p = subprocess.Popen(
        [sys.executable, "-u", "-m", "eventops", "probe", *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert p.stdout is not None
        first = p.stdout.readline()  # "... listening on ..." once it serves
        assert "127.0.0.1" in first
        p.send_signal(getattr(signal, sig))
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, err
    assert final.format(sig=sig) in out
    assert "Traceback" not in err
