"""Paged lists: limit (1..1000, default 200), an opaque cursor, X-Next-Cursor / next_cursor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from eventops.api import paging
from eventops.api.client import EngineClient
from eventops.store.models import Sample
from tests.unit.monitor.factories import T0

from .conftest import WHO, Rig

N_AUDIT = 450  # more than two default pages of the timeline


async def get(rig: Rig, path: str, who: str = "technician") -> tuple[int, Any, str | None]:
    headers = {"Authorization": f"Bearer {WHO[who]}"}
    async with rig.http.get(rig.url + path, headers=headers) as r:
        body = await r.json(content_type=None)
        return r.status, body, r.headers.get(paging.NEXT_CURSOR)


async def fill_timeline(rig: Rig) -> None:
    for n in range(N_AUDIT):
        await rig.store.audit("technik", "test.mark", f"item-{n:03d}")


async def test_timeline_pages_cover_everything_once(rig: Rig) -> None:
    await fill_timeline(rig)
    status, whole, nxt = await get(rig, "/api/v1/timeline?limit=1000")
    assert status == 200 and nxt is None
    total = len(whole)
    assert total >= N_AUDIT
    status, first, nxt = await get(rig, "/api/v1/timeline")
    assert status == 200 and len(first) == paging.DEFAULT_LIMIT and nxt
    seen = list(first)
    pages = 1
    while nxt:
        status, more, nxt = await get(rig, "/api/v1/timeline?limit=200&cursor=" + nxt)
        assert status == 200 and len(more) <= 200
        seen += more
        pages += 1
    assert seen == whole  # every entry once, in order
    assert pages == -(-total // 200)
    # entries appended after a cursor was handed out do not shift the pages before it
    status, first_50, cursor = await get(rig, "/api/v1/timeline?limit=50")
    assert first_50 == whole[:50] and cursor
    await rig.store.audit("technik", "test.mark", "late")
    status, next_50, _ = await get(rig, f"/api/v1/timeline?limit=50&cursor={cursor}")
    assert next_50 == whole[50:100]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/timeline",
        "/api/v1/alerts",
        "/api/v1/provision/applies",
        "/api/v1/wall/decisions",
        "/api/v1/history?device=sw-core&metric=reachable",
    ],
)
@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("limit=0", "limit: 0 is out of range (1 to 1000)"),
        ("limit=1001", "limit: 1001 is out of range (1 to 1000)"),
        ("limit=ten", "limit: 'ten' is not a whole number"),
        ("cursor=not-a-cursor", "cursor: not a cursor this list gave"),
        # a cursor of another list is refused too
        (
            "cursor=" + paging.make_cursor("elsewhere", (1,)),
            "cursor: not a cursor this list gave",
        ),
        ("cursor=" + "A" * 600, "cursor: not a cursor this list gave"),
    ],
)
async def test_bad_limit_or_cursor_is_a_400_naming_it(
    rig: Rig, path: str, query: str, needle: str
) -> None:
    sep = "&" if "?" in path else "?"
    status, body, _ = await get(rig, path + sep + query)
    assert status == 400, body
    assert needle in str(body)


async def test_history_pages_carry_next_cursor(rig: Rig) -> None:
    await rig.store.add_samples(
        [
            Sample(ts=T0 + timedelta(seconds=i), device="sw-core", metric="probe.x", value=i)
            for i in range(450)
        ]
    )
    q = "/api/v1/history?device=sw-core&metric=probe.x&since=2000-01-01T00:00:00Z"
    q += "&until=2100-01-01T00:00:00Z"
    status, page1, _ = await get(rig, q + "&limit=300")
    assert status == 200 and len(page1["points"]) == 300 and page1["next_cursor"]
    status, page2, _ = await get(rig, q + "&limit=300&cursor=" + page1["next_cursor"])
    assert len(page2["points"]) == 150 and page2["next_cursor"] is None
    assert [p[1] for p in page1["points"] + page2["points"]] == list(range(450))


async def test_engine_client_follows_the_pages(rig: Rig) -> None:
    await fill_timeline(rig)
    status, whole, _ = await get(rig, "/api/v1/timeline?limit=1000")
    assert status == 200
    client = EngineClient(rig.url, WHO["technician"])
    try:
        got = await client.timeline()
        assert [e.model_dump(mode="json")["text"] for e in got] == [w["text"] for w in whole]
        assert len(got) > paging.DEFAULT_LIMIT
        alerts = await client.alerts(include_closed=True)
        assert isinstance(alerts, list)
    finally:
        await client.close()
