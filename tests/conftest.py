"""Test-wide fixtures: the network guard, and helpers every test may use."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest

GUARD_DIR = Path(__file__).parent / "guard"
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(GUARD_DIR))

import evo_netguard  # noqa: E402

# pg_cluster / pg_db: a real PostgreSQL server for the store tests (tests/helpers/pgfixtures.py)
pytest_plugins = ["tests.helpers.pgfixtures"]

_LOG = Path(tempfile.mkdtemp(prefix="evo-netguard-")) / "violations.log"


CLONE_NEWNET = 0x40000000


def _own_network_namespace(worker: str) -> None:
    """Move this pytest-xdist worker into a network namespace of its own.

    The suite runs in parallel workers (README's test command). Tests bind
    free loopback ports, the demo's fixed ports, nftables tables and veth
    pairs; a port one worker found free could otherwise be taken by another
    before its child bound it. In its own namespace each worker has its own
    loopback, ports and firewall, and nothing it does can reach another.
    Named ``evo-*`` namespaces that lab tests create stay global (their names
    carry the creating process's pid). The namespace is the calling thread's;
    pytest runs the tests on it, and every thread or child process it starts
    inherits it.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise pytest.UsageError(
            f"pytest-xdist worker {worker}: cannot create its own network namespace "
            f"({os.strerror(err)}); the parallel suite needs root (run without -n otherwise)"
        )
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is not None:
        _own_network_namespace(worker)
    evo_netguard.install()
    os.environ["EVENTOPS_NETGUARD"] = "1"
    os.environ["EVENTOPS_NETGUARD_LOG"] = str(_LOG)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(GUARD_DIR), os.environ.get("PYTHONPATH", "")) if p
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[Any]
) -> Generator[None, pluggy.Result[pytest.TestReport]]:
    """Under ``CI=true`` no test may skip: CI installs every tool (iperf3, chromium,
    iproute2, nftables), so a skip there means a missing install step, not an
    optional feature. Outside CI a skip names its reason as usual."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and os.environ.get("CI") == "true":
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        kind = "lab test" if item.get_closest_marker("lab") is not None else "test"
        report.outcome = "failed"
        report.longrepr = f"{kind} skipped under CI=true (every test must run in CI): {reason}"


@pytest.fixture(autouse=True)
def _network_guard() -> Iterator[None]:
    evo_netguard.violations.clear()
    before = _LOG.stat().st_size if _LOG.exists() else 0
    yield
    found = list(evo_netguard.violations)
    if _LOG.exists() and _LOG.stat().st_size > before:
        with _LOG.open(encoding="utf-8") as fh:
            fh.seek(before)
            found += fh.read().splitlines()
    if found:
        pytest.fail("test tried to reach the outside network: " + "; ".join(found), pytrace=False)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated EVENTOPS_DATA_DIR for stores created by the code under test."""
    d = tmp_path / "data"
    d.mkdir()
    monkeypatch.setenv("EVENTOPS_DATA_DIR", str(d))
    return d
