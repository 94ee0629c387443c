"""The authority status page in headless Chromium (Debian's), driven by Playwright."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright, expect

from tests.unit.server.conftest import Served

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Any]:
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")

    async with async_playwright() as pw:
        ctx = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=ARGS,
            headless=True,
        )
        try:
            yield ctx.pages[0] if ctx.pages else await ctx.new_page()
        finally:
            await ctx.close()


async def test_authority_sees_only_its_link_greyed_when_stale(
    served: Served, page: Any, tmp_path: Path
) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("requestfailed", lambda r: problems.append(f"failed {r.url}"))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))

    resp = await page.goto(served.url + "/status?token=demo-police-token")
    assert resp is not None and resp.status == 200
    assert page.url == served.url + "/status"  # token moved into a cookie
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    rows = page.locator("#links tbody tr")
    assert await rows.count() == 1
    row = page.locator("#link-fibre-police")
    assert await row.locator(".c-state").inner_text() == "UP"
    assert await row.locator(".c-capacity").inner_text() == "500 Mb/s"
    assert await row.locator(".c-margin").inner_text() == "11.0 dB"
    body = await page.content()
    assert "fibre-fire" not in body and "Feuerwehr" not in body
    # the script refreshes from the API: a drop in rx power shows without a reload
    served.fleet.ports[("mc-police", "sfp0")] = {"rx": -17.0}
    await served.to(15)
    await expect(row.locator(".c-margin")).to_have_text("2.0 dB")
    assert await row.locator(".c-state").inner_text() == "DEGRADED"
    # mc-police stops answering: after two intervals the row is greyed "as of"
    served.fleet.hang.add("mc-police")
    served.fleet.hang.add("sw-core")
    await served.to(40)
    await expect(row).to_have_class(re.compile(r"\bstale\b"))
    asof = await row.locator(".asof").inner_text()
    assert asof.strip().startswith("as of 18:00:")
    await page.screenshot(path=str(tmp_path / "status.png"))
    # the engine goes away: the whole page greys out, saying since when
    await served.runner.cleanup()
    await expect(page.locator("body")).to_have_class(re.compile(r"\boffline\b"))
    assert "no connection to the engine" in await page.locator("#updated").inner_text()
    assert all(u.startswith(served.url) for u in requests), requests
    assert [p for p in problems if "Failed to load resource" not in p and "failed" not in p] == []


async def test_page_without_token_is_401_and_comms_403(served: Served, page: Any) -> None:
    resp = await page.goto(served.url + "/status")
    assert resp is not None and resp.status == 401
    assert (await page.content()).count("unauthorized") == 1
    resp = await page.goto(served.url + "/status?token=demo-comms-token")
    assert resp is not None and resp.status == 403
