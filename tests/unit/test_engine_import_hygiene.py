"""The engine, server and monitor import and run without textual (the TUI is one client)."""

from __future__ import annotations

import subprocess
import sys

MODULES = [
    "eventops.engine",
    "eventops.demo",
    "eventops.monitor.checks",
    "eventops.monitor.alerts",
    "eventops.monitor.poller",
    "eventops.monitor.history",
    "eventops.monitor.bus",
    "eventops.server.app",
    "eventops.server.auth",
    "eventops.server.metrics",
    "eventops.server.pages",
    "eventops.cli.engine_cmd",
    "eventops.cli.demo_cmd",
]


def test_engine_modules_import_without_textual() -> None:
    code = (
        "import importlib, sys\n"
        f"for m in {MODULES!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k == 'textual' or k.startswith('textual.'))\n"
        "assert not bad, bad\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
