"""Under CI=true a lab test that cannot get its namespaces fails instead of skipping."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET = "tests/lab/test_linklab.py::test_teardown_after_an_error_inside"


async def run_pytest(ci: str | None) -> tuple[int, str]:
    # a fresh run: no CI flag, and nothing of an outer (e.g. xdist worker) run
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("PYTEST_")}
    env["EVENTOPS_LAB_DISABLE"] = "simulated for this test"
    if ci is not None:
        env["CI"] = ci
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rsf", TARGET,
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_skip_outside_ci_names_the_reason() -> None:
    code, out = await run_pytest(None)
    assert code == 0, out
    assert "1 skipped" in out and "disabled by EVENTOPS_LAB_DISABLE" in out


async def test_skip_under_ci_fails() -> None:
    code, out = await run_pytest("true")
    assert code == 1, out
    assert "1 failed" in out
    assert "lab test skipped under CI=true" in out and "simulated for this test" in out
