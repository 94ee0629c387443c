"""The wall display in headless Chromium: moderation reaches every screen, hostile posts stay inert."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.test_status_page import page
from tests.unit.monitor.factories import demo_profile
from tests.unit.server.wallkit import WallServed, start_wall_server, wall_served

pytestmark = pytest.mark.browser
__all__ = ["page"]

API = "/api/v1/wall"

XSS = [
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned = 2">',
    '<a href="javascript:window.__pwned = 3">klick mich</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;:window.__pwned=4">x</a>',
    "&lt;script&gt;window.__pwned = 5&lt;/script&gt; &#x3C;img src=x onerror=alert(5)&#x3E;",
    '<svg onload="window.__pwned = 6"><script>window.__pwned = 7</script></svg>',
    '<div style="background:url(javascript:window.__pwned=8)">css</div>'
    "<style>body{background:url(http://evil.example/x.png)}</style>",
    "\u202egnp.exe\u202c Gewinnspiel \u2067nur heute\u2069",
    '"><iframe srcdoc="<script>parent.__pwned=9</script>"></iframe>',
]


@pytest.fixture
async def screen_served(tmp_path: Path) -> AsyncIterator[WallServed]:
    profile = demo_profile()
    wall = profile.wall.model_copy(update={"screen_offline_blank_s": 3.0})
    async for s in wall_served(tmp_path, profile.model_copy(update={"wall": wall})):
        yield s


def _watch(page: Any) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"pageerror {e}"))
    page.on("dialog", lambda d: problems.append(f"dialog {d.message}"))
    page.on("request", lambda r: requests.append(r.url))
    return problems, requests


async def test_approve_take_down_announce_and_recover_after_restart(
    screen_served: WallServed, page: Any, tmp_path: Path
) -> None:
    s = screen_served
    problems, requests = _watch(page)
    await s.add_post("replay:1", "Grüße vom Marktplatz!", "replay:anna", state="approved")
    await s.add_post("replay:2", "Die Band ist großartig", "replay:bert")
    resp = await page.goto(s.url + "/wall/demo")
    assert resp is not None and resp.status == 200
    assert "trusted-types" in resp.headers["content-security-policy"]
    posts = page.locator("#grid article.post")
    await expect(posts).to_have_count(1)
    await expect(posts.first.locator(".text")).to_have_text("Grüße vom Marktplatz!")
    await expect(posts.first.locator(".name")).to_have_text("Anna")

    # approve: the post appears
    st, _ = await s.post(f"{API}/posts/replay:2/decisions", "comms", {"action": "approve"})
    assert st == 201
    await expect(page.locator('article[data-id="replay:2"] .text')).to_have_text(
        "Die Band ist großartig"
    )
    # pin: pinned first
    await s.post(f"{API}/posts/replay:1/decisions", "comms", {"action": "pin"})
    await expect(posts.first).to_have_class(re.compile(r"\bpinned\b"))
    await expect(posts.first).to_have_attribute("data-id", "replay:1")
    # take down: it vanishes
    await s.post(f"{API}/posts/replay:1/decisions", "comms", {"action": "take_down"})
    await expect(page.locator('article[data-id="replay:1"]')).to_have_count(0)
    await expect(posts).to_have_count(1)

    # an announcement overlays the screen, and survives a reload
    overlay = page.locator("#announcement")
    await expect(overlay).to_be_hidden()
    await s.post(f"{API}/announcements", "police", {"id": "storm"})
    await expect(overlay).to_be_visible()
    await expect(page.locator("#ann-title-de")).to_have_text("Unwetterwarnung")
    await expect(page.locator("#ann-title-en")).to_have_text("Severe weather warning")
    await page.reload()
    await expect(overlay).to_be_visible()
    await s.delete(f"{API}/announcements/active", "comms")
    await expect(overlay).to_be_hidden()

    # pause: the event slide, no posts
    await s.post(f"{API}/pause", "comms", {"on": True})
    await expect(page.locator("body")).to_have_class(re.compile(r"\bpaused\b"))
    await expect(page.locator("#slide")).to_be_visible()
    await expect(page.locator("#slide-name")).to_have_text("Altstadtfest Demo")
    await s.post(f"{API}/pause", "comms", {"on": False})
    await expect(page.locator("#slide")).to_be_hidden()

    # the server dies; meanwhile a post is taken down: the screen blanks, then recovers
    await s.runner.cleanup()
    await s.store.upsert_posts([])  # the store stays; only the server is gone
    from eventops.wall.manual import ManualModeration

    await ManualModeration(s.store, s.clock).decide("replay:2", "take_down", "presse")
    await expect(page.locator("body")).to_have_class(re.compile(r"\bblank\b"))
    await expect(page.locator("#grid article")).to_have_count(0)
    await s.add_post("replay:3", "Wieder da", "replay:cem", state="approved")
    s.runner = await start_wall_server(s.engine, s.media_dir, port=s.port)
    await expect(page.locator('article[data-id="replay:3"]')).to_be_visible()
    await expect(page.locator('article[data-id="replay:2"]')).to_have_count(0)
    await expect(page.locator("body")).not_to_have_class(re.compile(r"\bblank\b"))
    await page.screenshot(path=str(tmp_path / "wall.png"))
    assert all(u.startswith(s.url) for u in requests), requests
    assert [
        p for p in problems if "ERR_CONNECTION_REFUSED" not in p and "Failed to load" not in p
    ] == []


async def test_xss_corpus_renders_inert(screen_served: WallServed, page: Any) -> None:
    s = screen_served
    problems, requests = _watch(page)
    for i, text in enumerate(XSS):
        await s.add_post(
            f"replay:x{i}",
            text,
            "replay:mallory",
            state="approved",
            data={
                "avatar_url": "javascript:window.__pwned=10",
                "media": [{"kind": "photo", "url": "http://evil.example/a.png"}],
            },
        )
    # a hostile display name too
    await s.add_post("replay:name", "harmlos", "replay:eve", state="approved")
    await s.store.upsert_posts(
        [
            (await s.store.get_post("replay:name")).model_copy(  # type: ignore[union-attr]
                update={"author_name": '<img src=x onerror="window.__pwned=11">'}
            )
        ]
    )
    await s.wall.hub.refresh()
    await page.set_viewport_size({"width": 2560, "height": 1440})
    await page.goto(s.url + "/wall/demo")
    cards = page.locator("#grid article.post")
    await expect(cards).to_have_count(len(XSS) + 1)
    await asyncio.sleep(0.5)  # give any injected handler its chance to run
    assert await page.evaluate("typeof window.__pwned") == "undefined"
    assert await page.evaluate("parent.__pwned === undefined")
    # nothing but our own elements inside the cards
    tags = await page.evaluate(
        "Array.from(document.querySelectorAll('#grid *')).map(e => e.tagName.toLowerCase())"
    )
    assert set(tags) <= {"article", "header", "div", "bdi", "time", "p", "span"}, set(tags)
    attrs = await page.evaluate(
        "Array.from(document.querySelectorAll('#grid *')).flatMap(e => e.getAttributeNames())"
    )
    assert set(attrs) <= {"class", "data-id", "datetime", "dir"}, set(attrs)
    for i, text in enumerate(XSS):
        got = await page.locator(f'article[data-id="replay:x{i}"] .text').text_content()
        assert got == text
    name = page.locator('article[data-id="replay:name"] .name')
    assert await name.text_content() == '<img src=x onerror="window.__pwned=11">'
    # the bidi override is confined to its own isolated paragraph
    rtl = page.locator(f'article[data-id="replay:x{XSS.index(XSS[7])}"]')
    assert await rtl.locator(".text").evaluate("e => getComputedStyle(e).unicodeBidi") == "isolate"
    assert await rtl.locator(".name").text_content() == "Mallory"
    assert all(u.startswith(s.url) for u in requests), requests
    assert problems == []


async def test_long_wall_rotates_pages_with_pinned_first(tmp_path: Path, page: Any) -> None:
    profile = demo_profile()
    wall = profile.wall.model_copy(update={"screen_rotate_s": 2.0})
    async for s in wall_served(tmp_path, profile.model_copy(update={"wall": wall})):
        for i in range(5):
            await s.add_post(f"replay:r{i}", f"Beitrag {i}", f"replay:u{i}", state="approved")
        await s.post(f"{API}/posts/replay:r0/decisions", "comms", {"action": "pin"})
        await page.set_viewport_size({"width": 800, "height": 700})  # room for two cards
        await page.goto(s.url + "/wall/demo")
        cards = page.locator("#grid article.post")
        await expect(cards).to_have_count(2)
        await expect(page.locator("body")).to_have_attribute("data-count", "5")
        seen: set[str] = set()
        for _ in range(60):  # every page comes round, the pinned post stays on each
            assert await cards.first.get_attribute("data-id") == "replay:r0"
            seen.add(str(await cards.nth(1).get_attribute("data-id")))
            if len(seen) == 4:
                break
            await page.wait_for_timeout(500)
        assert seen == {"replay:r1", "replay:r2", "replay:r3", "replay:r4"}
        # relative time is shown, in both languages' short form
        assert await cards.first.locator("time").inner_text() == "2 min"
