"""The probe imports without textual (the core runs headless)."""

from __future__ import annotations

import subprocess
import sys


def test_probe_imports_without_textual() -> None:
    code = (
        "import sys, eventops.probe, eventops.cli.probe_cmd; "
        "assert 'textual' not in sys.modules, 'textual imported'; print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
