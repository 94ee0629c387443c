"""Stock iperf3 (Debian's 3.12) for interop tests: its server, its client.

Missing iperf3 skips the test, except under ``CI=true`` where it fails (like
the lab tests): interop that silently does not run proves nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

IPERF3 = shutil.which("iperf3") or "/usr/bin/iperf3"


def require_iperf3() -> None:
    if Path(IPERF3).exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("stock iperf3 is not installed; under CI=true interop tests must run")
    pytest.skip("stock iperf3 is not installed")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def listening(port: int) -> bool:
    want = f":{port:04X} "
    with open("/proc/net/tcp", encoding="ascii") as fh:
        return any(want in line and line.split()[3] == "0A" for line in fh)


def wait_listening(port: int, proc: Any = None, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not listening(port):
        if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
            raise RuntimeError(f"nothing listens on {port}")
        time.sleep(0.02)


class StockServer:
    """``iperf3 -s -J`` on loopback, one test (``once``) or many."""

    def __init__(self, tmp: Path, *, once: bool) -> None:
        require_iperf3()
        self.port = free_port()
        self.log = tmp / f"iperf3-{self.port}.json"
        args = [IPERF3, "-s", "-J", "--logfile", str(self.log), "-B", "127.0.0.1"]
        args += ["-p", str(self.port)]
        self.proc = subprocess.Popen([*args, "-1"] if once else args)
        wait_listening(self.port, self.proc)

    def report(self) -> dict[str, Any]:
        self.proc.wait(20)
        data: dict[str, Any] = json.loads(self.log.read_text())
        return data

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)


def stock_client(port: int, *args: str, timeout: float = 60) -> dict[str, Any]:
    """Run ``iperf3 -c 127.0.0.1 -p PORT ARGS -J``; its JSON document."""
    require_iperf3()
    r = subprocess.run(
        [IPERF3, "-c", "127.0.0.1", "-p", str(port), "-J", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    doc: dict[str, Any] = json.loads(r.stdout)
    if r.returncode != 0 or "error" in doc:
        raise AssertionError(f"iperf3 -c failed ({r.returncode}): {doc.get('error')}")
    return doc


def key_paths(obj: Any, prefix: str = "") -> set[tuple[str, str]]:
    """Every field path of a JSON document with its JSON type (numbers as one type)."""
    out: set[tuple[str, str]] = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            out |= key_paths(v, f"{prefix}.{k}")
    elif isinstance(obj, list):
        for v in obj:
            out |= key_paths(v, f"{prefix}[]")
    elif isinstance(obj, bool):
        out.add((prefix, "bool"))
    elif isinstance(obj, int | float):
        out.add((prefix, "number"))
    else:
        out.add((prefix, type(obj).__name__))
    return out
