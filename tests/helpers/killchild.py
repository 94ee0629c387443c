"""Start a writer child, let it work, SIGKILL it at a random moment: the lines it
printed (each one a write it says was committed) up to the kill.

The crash tests of the operations (``test_ops_tx``) and the wall
(``test_wall_tx``) use it: whatever a child acknowledged before the kill must
be in the store afterwards, with its audit entry.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _collect(proc: subprocess.Popen[str], lines: list[str], first: threading.Event) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line.strip())
        first.set()


def kill_mid_work(module: str, args: list[str], rng: random.Random, *, what: str) -> list[str]:
    """Run ``python -m module args…``; once it printed its first line, wait 0–0.3 s and
    SIGKILL it. ``what``: what the first line means, for the failure message."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    first = threading.Event()
    reader = threading.Thread(target=_collect, args=(proc, lines, first))
    reader.start()
    try:
        assert first.wait(60), f"child never {what}"
        time.sleep(rng.uniform(0.0, 0.3))  # a random point mid-work
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join()
        assert proc.stdout is not None
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return lines
