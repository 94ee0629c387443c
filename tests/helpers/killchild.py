"""Start a writer child, let it work, SIGKILL it at a random moment: the lines it
printed (each one a write it says was committed) up to the kill.

The crash tests of the store (``test_store``), the operations (``test_ops_tx``)
and the wall (``test_wall_tx``) use it: whatever a child acknowledged before the kill must
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


def _collect(
    proc: subprocess.Popen[str], lines: list[str], working: threading.Event, acked: int
) -> None:
    assert proc.stdout is not None
    n = 0
    for line in proc.stdout:
        lines.append(line.strip())
        n += line.strip() != "C"  # "C": the child met a conflict and wrote nothing
        if n >= acked:
            working.set()


def kill_mid_work(
    module: str,
    args: list[str],
    rng: random.Random,
    *,
    what: str,
    acked: int = 3,
    window_s: float = 0.3,
) -> list[str]:
    """Run ``python -m module args…``; once it acknowledged ``acked`` writes (lines other
    than ``C``), wait a random 0–``window_s`` s and SIGKILL it. ``what``: what such a line means, for the
    failure message. Counting from the acknowledged writes, not from the start, keeps
    the rounds' yield (each test asks for a number of them) independent of how slowly a
    busy host starts the child or writes."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    working = threading.Event()
    reader = threading.Thread(target=_collect, args=(proc, lines, working, acked))
    reader.start()
    try:
        assert working.wait(60), f"child never {what} ({acked} times)"
        time.sleep(rng.uniform(0.0, window_s))  # a random point mid-work
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        reader.join()
        assert proc.stdout is not None
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return lines
