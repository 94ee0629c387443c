"""Probe across a veth pair between two namespaces, rate-limited with tbf."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.lab

NET = "10.213.9"


def _sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=60)


def _lab_available() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None and shutil.which("tc") is not None


@pytest.fixture
def lab() -> Iterator[tuple[str, str]]:
    if not _lab_available():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("lab test needs root, iproute2 and tc")
        pytest.skip("needs root, iproute2 and tc")
    tag = str(os.getpid() % 100000)
    a, b, va, vb = f"evo-ta{tag}", f"evo-tb{tag}", f"evo-x{tag}", f"evo-y{tag}"
    try:
        _sh("ip", "netns", "add", a)
        _sh("ip", "netns", "add", b)
        _sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        _sh("ip", "link", "set", va, "netns", a)
        _sh("ip", "link", "set", vb, "netns", b)
        _sh("ip", "-n", a, "addr", "add", f"{NET}.1/24", "dev", va)
        _sh("ip", "-n", b, "addr", "add", f"{NET}.2/24", "dev", vb)
        for ns, dev in ((a, va), (b, vb)):
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
            _sh("ip", "-n", ns, "link", "set", dev, "up")
        _sh(
            "ip",
            "netns",
            "exec",
            a,
            "tc",
            "qdisc",
            "add",
            "dev",
            va,
            "root",
            "tbf",
            "rate",
            "40mbit",
            "burst",
            "20kb",
            "latency",
            "20ms",
        )
        yield a, b
    finally:
        _sh("ip", "netns", "del", a, check=False)
        _sh("ip", "netns", "del", b, check=False)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["EVENTOPS_NETGUARD_ALLOW"] = f"{NET}.0/24"
    return env


def _serve(ns: str, *args: str) -> subprocess.Popen[str]:
    p = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "eventops", "probe", *args],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert p.stdout is not None
    p.stdout.readline()  # listening
    return p


def _run(ns: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-m", "eventops", "probe", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )


def test_rate_limited_link_exact_accounting(lab: tuple[str, str]) -> None:
    a, b = lab
    sink = _serve(b, "sink", "--bind", f"{NET}.2", "--port", "5301", "--duration", "30")
    refl = _serve(
        b, "reflect", "--bind", f"{NET}.2", "--port", "862", "--stateful", "--duration", "30"
    )
    try:
        r = _run(
            a, "run", f"{NET}.2", "-b", "80M", "-t", "1", "-l", "1200", "--layer", "l2", "--json"
        )
        assert r.returncode == 0, r.stderr
        e = json.loads(r.stdout)["eventops"]
        assert e["sent_packets"] - e["received_packets"] == e["lost_packets"] > 0
        assert e["duplicated"] == 0
        # a veth delivers through the sending CPU's backlog: a sender the scheduler moves
        # to the other core mid-run can overtake its own last datagram (1 reordered of
        # ~4,000 seen once on CI's busy 2 cores); that is the host, and it stays rare
        assert e["reordered"] <= e["received_packets"] // 100
        # tbf passes 40 Mbit/s of L2 bytes (its burst adds a little)
        assert 34e6 < e["receiver_bps"] < 48e6
        # the sender never exceeds its target; a busy host (CI's 2 shared cores, parallel
        # workers) may stall it below, which the receiver's tbf-bound figure does not feel
        assert 50e6 < e["sender_bps"] < 84e6
        t0 = time.monotonic()
        s = _run(a, "stamp", f"{NET}.2", "-c", "20", "-i", "0.005", "--json")
        assert s.returncode == 0, s.stderr
        st = json.loads(s.stdout)
        assert st["replies"] == 20 and st["rtt"]["min_ms"] > 0
        assert time.monotonic() - t0 < 30
    finally:
        for p in (sink, refl):
            p.terminate()
            p.wait(10)
            if p.stdout is not None:
                p.stdout.close()
