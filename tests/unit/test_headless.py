"""The engine side imports and builds its command line without textual, at run time.

Which package may import what is checked statically by the import-linter contracts in
pyproject.toml (``lint-imports``); what they cannot see is a lazy import inside a function
that runs on import or while the parser is built. This runs the real imports once.
"""

from __future__ import annotations

import subprocess
import sys

HEADLESS = [
    "eventops.cli",
    "eventops.demo",
    "eventops.engine",
    "eventops.server.app",
    "eventops.server.probe",
    "eventops.server.provision",
    "eventops.server.wall",
    "eventops.monitor",
    "eventops.provision",
    "eventops.probe",
    "eventops.wall.service",
    "eventops.wall.sources.x",
    "eventops.wall.sources.mastodon",
    "eventops.wall.sources.replay",
    "eventops.adapters.openwrt",
    "eventops.adapters.restconf",
    "eventops.store",
    "eventops.profile",
    "eventops.tokens",
    "eventops.tui.client",
    "eventops.tui.state",
    "eventops.tui.config",
    "eventops.tui.i18n",
    "eventops_hardware.fleet",
    "eventops_hardware.control",
]


def test_headless_modules_and_cli_parser_run_without_textual() -> None:
    code = (
        "import importlib, sys\n"
        f"for m in {HEADLESS!r}: importlib.import_module(m)\n"
        "from eventops.cli import build_parser; build_parser()\n"
        "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
