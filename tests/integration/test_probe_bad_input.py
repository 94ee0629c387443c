"""Every bad input to the probe is a clean one-line error (issue 17's list, one test each)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest

from eventops.probe import run_udp, start_sink
from eventops.probe.checks import os_reason
from eventops.probe.sink import Sink


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eventops", "probe", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "127.0.0.1", "--port", "70000"], "port 70000 out of range (1..65535)"),
        (["run", "127.0.0.1", "--tcp", "--port", "-1"], "port -1 out of range (1..65535)"),
        (["iperf3", "127.0.0.1", "-p", "70000"], "port 70000 out of range (1..65535)"),
        (["sink", "--port", "70000"], "port 70000 out of range (0..65535)"),
        (["reflect", "--port", "70000"], "port 70000 out of range (0..65535)"),
        (["stamp", "127.0.0.1", "--port", "70000"], "port 70000 out of range (1..65535)"),
        (["iperf3-server", "-p", "70000"], "port 70000 out of range (0..65535)"),
        (["run", "127.0.0.1", "-i", "0"], "interval 0 s out of range (0.01..3600)"),
        (["run", "127.0.0.1", "-i", "-1"], "interval -1 s out of range (0.01..3600)"),
        (["run", "127.0.0.1", "--tcp", "-i", "0"], "interval 0 s out of range"),
        (["sink", "--duration", "0"], "duration 0 s out of range"),
        (["reflect", "--duration", "0"], "duration 0 s out of range"),
        (["iperf3-server", "--duration=-5"], "duration -5 s out of range"),
        (["iperf3", "127.0.0.1", "-t", "0"], "duration 0 s out of range"),
        (["iperf3", "127.0.0.1", "-t", "1.5"], "duration 1.5 s out of range (whole seconds"),
        (["iperf3", "127.0.0.1", "-P", "0"], "streams 0 out of range (1..128)"),
        (["iperf3", "127.0.0.1", "-P", "129"], "streams 129 out of range (1..128)"),
        (["iperf3", "127.0.0.1", "-u", "-l", "70000"], "UDP datagram size 70000 out of range"),
        (["iperf3", "127.0.0.1", "-l", "0"], "TCP write size 0 out of range"),
        (["iperf3", "127.0.0.1", "-b", "fast"], "rate 'fast' is not a rate"),
        (["run", "127.0.0.1", "--tcp", "--streams", "-1"], "streams -1 out of range (1..128)"),
    ],
)
def test_cli_bad_input_is_one_line(args: list[str], message: str) -> None:
    r = _cli(*args)
    assert r.returncode == 7, r.stderr
    assert r.stderr.startswith("eventops: error: ")
    assert r.stderr.count("\n") == 1 and message in r.stderr
    assert "Traceback" not in r.stderr


def test_connect_errors_keep_the_kernels_reason() -> None:
    # what asyncio raises for a failed connect: errno set, strerror hiding the reason
    exc = OSError(113, "Connect call failed ('10.9.9.9', 5301)")
    assert os_reason(exc) == "No route to host"
    assert os_reason(OSError(101, "Connect call failed")) == "Network is unreachable"
    assert os_reason(OSError("Multiple exceptions")) == "Multiple exceptions"


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    s = await start_sink("127.0.0.1", 0)
    try:
        yield s
    finally:
        await s.close()


async def _exchange(port: int, msg: dict[str, Any]) -> dict[str, Any]:
    r, w = await asyncio.open_connection("127.0.0.1", port)
    try:
        w.write(json.dumps(msg).encode() + b"\n")
        await w.drain()
        line = await asyncio.wait_for(r.readline(), 10)
        reply: dict[str, Any] = json.loads(line)
        return reply
    finally:
        w.close()


@pytest.mark.parametrize(
    ("msg", "error"),
    [
        ({"op": "udp"}, "control message without 'session'"),
        ({"op": "tcp", "streams": 2}, "control message without 'session'"),
        ({"op": "tcp", "session": 1, "streams": -1}, "'streams' = -1 out of range (1..128)"),
        ({"op": "tcp", "session": 1, "streams": 1e8}, "'streams' = 100000000.0 out of range"),
        ({"op": "tcp", "session": 1, "streams": "4"}, "'streams' = '4' out of range"),
        ({"op": "tcp", "session": 1}, "control message without 'streams'"),
        ({"op": "udp", "session": -1}, "'session' = -1 out of range"),
        ({"op": "udp", "session": 2**40}, "'session' = 1099511627776 out of range"),
        ({"op": "udp", "session": 1, "window": 3}, "'window' = 3 is not a power of two"),
        ({"op": "udp", "session": 1, "window": 2**40}, "'window' = 1099511627776 out of range"),
        ({"op": "udp", "session": 1, "max_s": -1}, "'max_s' = -1 out of range"),
        ({"op": "udp", "session": 1, "max_s": 1e9}, "'max_s' = 1000000000.0 out of range"),
        ({"op": "udp", "session": 1, "timestamps": "yes"}, "'timestamps' = 'yes' is not a boolean"),
        ({"op": "data", "session": 5}, "data stream for no running test"),
        ({"op": "data"}, "control message without 'session'"),
        ({"op": "nope"}, "unknown op 'nope'"),
    ],
)
async def test_sink_answers_malformed_control_and_keeps_serving(
    sink: Sink, msg: dict[str, Any], error: str, caplog: pytest.LogCaptureFixture
) -> None:
    reply = await _exchange(sink.port, msg)
    assert reply["ok"] is False and error in reply["error"]
    assert "Traceback" not in caplog.text
    r = await run_udp("127.0.0.1", sink.port, rate_bps=1e6, size=200, duration=0.2)
    assert r.received_packets == r.sent_packets > 0
