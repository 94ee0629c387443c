"""Cross-site writes are impossible: a page from another loopback port, in the browser of a
user who holds the token cookie, changes nothing (headless Chromium, Debian's).

Cookies are per host, not per port, and 127.0.0.1 on two ports is the *same site*:
``SameSite=Strict`` alone does not stop the attack (issue 15 paused the wall this way).
What stops it: a write with the cookie must be same-origin and JSON.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import async_playwright

from tests.security.conftest import TOKENS, FullApp, full_app

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

# Every way a foreign page can make a browser send a request with the user's cookie.
ATTACK_JS = r"""
async (api) => {
  const results = [];
  const pause = api + "/api/v1/wall/pause";
  const maint = api + "/api/v1/devices/mast-01/maintenance";
  const silences = api + "/api/v1/silences";
  const reboot = api + "/api/v1/devices/mast-01/reboot";
  const body = JSON.stringify({on: true, note: "xsite"});
  const silence = JSON.stringify({matchers: {subject: "mast-01"}, duration_s: 600});
  async function attempt(name, fn) {
    try { await fn(); results.push(name + ": sent"); }
    catch (e) { results.push(name + ": " + e); }
  }
  for (const [url, b] of [[pause, body], [maint, body], [silences, silence], [reboot, "{}"]]) {
    await attempt("no-cors " + url, () => fetch(url,
      {method: "POST", mode: "no-cors", credentials: "include", body: b}));
    await attempt("no-cors text/plain " + url, () => fetch(url,
      {method: "POST", mode: "no-cors", credentials: "include", body: b,
       headers: {"Content-Type": "text/plain"}}));
    await attempt("no-cors json (not allowed, sent as text/plain?) " + url, () => fetch(url,
      {method: "POST", mode: "no-cors", credentials: "include", body: b,
       headers: {"Content-Type": "application/json"}}));
    await attempt("cors json " + url, () => fetch(url,
      {method: "POST", mode: "cors", credentials: "include", body: b,
       headers: {"Content-Type": "application/json"}}));
    await attempt("beacon " + url, async () => {
      if (!navigator.sendBeacon(url, new Blob([b], {type: "text/plain"}))) throw "refused";
    });
    await attempt("beacon json " + url, async () => {
      if (!navigator.sendBeacon(url, new Blob([b], {type: "application/json"}))) throw "refused";
    });
    await attempt("xhr " + url, () => new Promise((ok) => {
      const x = new XMLHttpRequest();
      x.open("POST", url); x.withCredentials = true;
      x.setRequestHeader("Content-Type", "text/plain");
      x.onloadend = ok; x.send(b);
    }));
  }
  await attempt("no-cors DELETE", () => fetch(api + "/api/v1/wall/announcements/active",
    {method: "DELETE", mode: "no-cors", credentials: "include"}));
  // forms: urlencoded, multipart, and text/plain shaped into JSON
  const forms = [
    [maint, "application/x-www-form-urlencoded", {on: "true", note: "xsite"}],
    [maint, "multipart/form-data", {on: "true"}],
    [maint, "text/plain", {'{"on": true, "note": "': '"}'}],
    [pause, "text/plain", {'{"on": true, "note": "': '"}'}],
    [silences, "text/plain", {'{"matchers": {"subject": "mast-01"}, "duration_s": 600, "note": "': '"}'}],
  ];
  let n = 0;
  for (const [url, enctype, fields] of forms) {
    await attempt("form " + enctype + " " + url, () => new Promise((ok) => {
      const frame = document.createElement("iframe");
      frame.name = "f" + (++n);
      document.body.appendChild(frame);
      const form = document.createElement("form");
      form.method = "POST"; form.action = url; form.enctype = enctype; form.target = frame.name;
      for (const [k, v] of Object.entries(fields)) {
        const i = document.createElement("input");
        i.type = "hidden"; i.name = k; i.value = v; form.appendChild(i);
      }
      document.body.appendChild(form);
      frame.addEventListener("load", () => ok(), {once: true});
      form.submit();
    }));
  }
  return results;
}
"""


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    async with async_playwright() as pw:
        ctx = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, args=ARGS, headless=True
        )
        try:
            yield ctx
        finally:
            await ctx.close()


async def _evil_page(request: web.Request) -> web.Response:
    return web.Response(text="<html><body>cute cats</body></html>", content_type="text/html")


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def _state(full: FullApp) -> dict[str, Any]:
    wall = full.engine.wall
    assert wall is not None
    return {
        "maintenance": dict(full.engine.maintenance),
        "silences": len(full.engine.alerts.silences),
        "paused": wall.announcements()["paused"],
        "announcement": wall.announcements()["active"],
        "audit": [(e.actor, e.action) for e in await full.store.audit_entries()],
        "reboots": dict(full.fleet.boot_at),
    }


async def test_a_page_on_another_port_changes_nothing(tmp_path: Path, browser: Any) -> None:
    seen: list[tuple[str, str, int]] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        resp: web.StreamResponse = await handler(request)
        seen.append((request.method, request.path, resp.status))
        return resp

    async with full_app(tmp_path) as full:
        full.app.middlewares.insert(0, record)
        runner, api = await _serve(full.app)
        evil = web.Application()
        evil.router.add_get("/", _evil_page)
        evil_runner, evil_url = await _serve(evil)
        try:
            assert api.rsplit(":", 1)[0] == evil_url.rsplit(":", 1)[0]  # same host, other port
            page = await browser.new_page()
            # comms opens a page it may not open: 403 and no cookie
            resp = await page.goto(f"{api}/status?token={TOKENS['comms']}")
            assert resp is not None and resp.status == 403
            assert await browser.cookies() == []
            # the technician opens the status page: the cookie is set
            resp = await page.goto(f"{api}/status?token={TOKENS['technician']}")
            assert resp is not None and resp.status == 200 and page.url == f"{api}/status"
            assert [c["name"] for c in await browser.cookies()] == ["evo_token"]
            before = await _state(full)
            seen.clear()

            evil_page = await browser.new_page()
            await evil_page.goto(evil_url + "/")
            results = await evil_page.evaluate(ATTACK_JS, api)
            await evil_page.wait_for_timeout(0)
            after = await _state(full)
            assert after == before, results
            # the attempts did reach the server (the cookie went along) and were refused
            writes = [(m, p, s) for m, p, s in seen if m not in ("GET", "HEAD", "OPTIONS")]
            assert len(writes) >= 10, (seen, results)
            assert all(s in (401, 403, 405, 415) for _, _, s in writes), writes
            print(
                f"\ncross-site: {len(results)} attempts, {len(writes)} writes reached the "
                f"server, all refused: {sorted({s for _, _, s in writes})}"
            )

            # control: the same cookie from the server's own page can write (JSON, same origin)
            status = await page.evaluate(
                """async () => (await fetch("/api/v1/devices/mast-01/maintenance", {
                    method: "POST", headers: {"Content-Type": "application/json"},
                    body: JSON.stringify({on: true, note: "own page"})})).status"""
            )
            assert status == 200
            assert "mast-01" in full.engine.maintenance
        finally:
            await evil_runner.cleanup()
            await runner.cleanup()
