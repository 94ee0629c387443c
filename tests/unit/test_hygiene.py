"""The network guard works (which modules run without textual: tests/unit/test_headless.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def test_guard_blocks_outside_addresses() -> None:
    import evo_netguard

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        with pytest.raises(evo_netguard.NetworkGuardViolation):
            s.sendto(b"x", ("192.0.2.1", 9))
        with pytest.raises(evo_netguard.NetworkGuardViolation):
            s.connect(("example.org", 80))
        s.sendto(b"x", ("127.0.0.1", 9))  # loopback is fine
    finally:
        s.close()
        _forget("192.0.2.1", "example.org")  # this test caused them on purpose


def test_guard_reaches_subprocesses() -> None:
    code = (
        "import socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "try:\n    s.sendto(b'x', ('198.51.100.7', 9))\n"
        "except Exception as e:\n    print(type(e).__name__)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "NetworkGuardViolation"
    assert _forget("198.51.100.7") == 1


def _forget(*needles: str) -> int:
    """Drop violations this test caused on purpose; return how many were logged."""
    import evo_netguard

    evo_netguard.violations[:] = [
        v for v in evo_netguard.violations if not any(n in v for n in needles)
    ]
    log = Path(os.environ["EVENTOPS_NETGUARD_LOG"])
    lines = log.read_text().splitlines() if log.exists() else []
    hit = [x for x in lines if any(n in x for n in needles)]
    kept = [x for x in lines if x not in hit]
    log.write_text("".join(x + "\n" for x in kept))
    return len(hit)


def test_guard_allows_registered_namespace_subnet() -> None:
    import evo_netguard

    assert not evo_netguard.permitted(socket.AF_INET, ("10.213.0.2", 5))
    evo_netguard.allow("10.213.0.0/24")
    try:
        assert evo_netguard.permitted(socket.AF_INET, ("10.213.0.2", 5))
    finally:
        evo_netguard.disallow("10.213.0.0/24")
    assert evo_netguard.permitted(socket.AF_INET6, ("::1", 5, 0, 0))
    assert evo_netguard.permitted(socket.AF_INET6, ("::ffff:127.0.0.1", 5, 0, 0))
    assert not evo_netguard.permitted(socket.AF_INET6, ("2001:db8::1", 5, 0, 0))
