"""Under CI=true any skipped test fails (CI installs every tool); outside CI it skips."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGET = "tests/helpers/skip_always.py"


async def run_pytest(ci: str | None, *args: str) -> tuple[int, str]:
    # a fresh run: no CI flag, and nothing of an outer (e.g. xdist worker) run
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("PYTEST_")}
    if ci is not None:
        env["CI"] = ci
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rsf", *(args or [TARGET]),
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


async def test_skip_outside_ci_is_a_skip() -> None:
    code, out = await run_pytest(None)
    assert code == 0, out
    assert "1 skipped" in out and "simulated for the CI rule" in out


async def test_skip_under_ci_fails_with_the_reason() -> None:
    code, out = await run_pytest("true")
    assert code == 1, out
    assert "1 failed" in out
    assert "test skipped under CI=true" in out and "simulated for the CI rule" in out


BROWSER = "tests/e2e/test_status_page.py::test_page_without_token_is_401_and_comms_403"


async def test_missing_chromium_skips_outside_ci_and_fails_under_ci() -> None:
    """The browser tests' skip (no Debian chromium) is a failure under CI=true, as the lab's."""
    code, out = await run_pytest(None, "-p", "tests.helpers.no_chromium", BROWSER)
    assert code == 0 and "1 skipped" in out and "chromium is not installed" in out, out
    code, out = await run_pytest("true", "-p", "tests.helpers.no_chromium", BROWSER)
    assert (code == 1 and "1 error" in out) or "1 failed" in out, out
    assert "skipped under CI=true" in out and "chromium is not installed" in out, out
