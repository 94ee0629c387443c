"""The wall's modules import without textual (the core runs headless)."""

from __future__ import annotations

import subprocess
import sys

MODULES = (
    "eventops.wall.service",
    "eventops.wall.manual",
    "eventops.wall.sources.x",
    "eventops.wall.sources.mastodon",
    "eventops.wall.sources.replay",
    "eventops.cli.wall_cmd",
)


def test_wall_imports_without_textual() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in MODULES)
        + (
            "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
            "assert not bad, bad\n"
        )
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
