"""The adapters, the simulators and their commands import without textual."""

from __future__ import annotations

import subprocess
import sys


def test_adapters_and_simulators_import_without_textual() -> None:
    code = (
        "import sys\n"
        "import eventops.adapters.openwrt, eventops.adapters.restconf\n"
        "import eventops.cli.devices_cmd, eventops.cli.sim_cmd\n"
        "import eventops_hardware.fleet, eventops_hardware.control\n"
        "assert 'textual' not in sys.modules, 'textual was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
