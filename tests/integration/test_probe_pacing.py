"""A paced sender that loses the CPU catches up at a bounded rate and the stall is reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from eventops.probe.datapath import CATCHUP
from eventops.probe.stats import pacing_report

CHILD = r"""
import array, json, socket, sys
from eventops.probe.datapath import FMT_EVENTOPS, load_engine
eng = load_engine(sys.argv[1])
rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); rx.bind(("127.0.0.1", 0))
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); tx.connect(rx.getsockname())
per_ms = array.array("I", bytes(4 * 3000))
print("ready", flush=True)
out = eng.send_stream(tx.fileno(), FMT_EVENTOPS, 200, 10000.0, 1.5, 0, 1, 64, bytearray(1), per_ms)
print(json.dumps({"per_ms": list(per_ms), "elapsed": out[4] / 1e9}), flush=True)
"""

PPS = 10000.0


def _stalled_run(p: subprocess.Popen[str]) -> dict[str, Any]:
    try:
        assert p.stdout is not None
        assert p.stdout.readline().strip() == "ready"
        time.sleep(0.4)  # let it run paced, then take its CPU away for 60 ms
        os.kill(p.pid, signal.SIGSTOP)
        time.sleep(0.06)
        os.kill(p.pid, signal.SIGCONT)
        data = json.loads(p.stdout.readline())
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return data  # type: ignore[no-any-return]


@pytest.mark.parametrize("engine", ["c", "python"])
def test_catch_up_after_a_stall_is_bounded_and_reported(engine: str) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, engine], stdout=subprocess.PIPE, text=True
    ) as p:
        data = _stalled_run(p)
    rep = pacing_report(data["per_ms"], PPS, data["elapsed"])
    limit = -(-PPS / 1000 * CATCHUP // 1)  # ceil: 13 datagrams in any millisecond
    assert rep.max_per_ms is not None and rep.max_per_ms <= limit
    assert rep.burst_ratio is not None and rep.burst_ratio <= CATCHUP + 0.1
    assert rep.stalls >= 1 and rep.stalled_ms >= 5
    assert rep.pacing_error_max_pct is not None


def test_stall_detection_on_a_synthetic_trace() -> None:
    per_ms = [10] * 1000
    per_ms[300:340] = [0] * 40  # a 40 ms stall
    per_ms[340:500] = [13, 12, 12, 13] * 40  # catching up at 1.25x
    rep = pacing_report(per_ms, 10000.0, 1.0)
    # behind by more than 2 ms of traffic from ms 302 until the catch-up is done
    assert rep.stalls == 1 and 40 < rep.stalled_ms < 200
    assert rep.pacing_error_max_pct_outside_stalls == 0.0
    assert rep.pacing_error_max_pct is not None and rep.pacing_error_max_pct > 1.0
    # gaps that belong to a low rate are not stalls
    slow = ([1] + [0] * 9) * 100  # 100 pps
    assert pacing_report(slow, 100.0, 1.0).stalls == 0
    # an uneven pacer (bursts every 10 ms) is not excused as a stall
    bursty = ([100] + [0] * 9) * 100
    assert pacing_report(bursty, 10000.0, 1.0).stalls == 0
