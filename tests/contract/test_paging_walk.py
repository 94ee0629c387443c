"""Walking every paged list while rows are written (issue 19): no duplicate, no gap.

Each list is filled past several pages; then a client walks it page by page
with a small limit while, between any two pages, new rows are written — with
the same (fake, standing) clock time as the rows already there, the worst case
for a cursor made of a time. Every row that was there when the walk began is
seen exactly once, no row is seen twice, and the pages come in the list's order.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime, timedelta
from typing import Any

import pytest

from eventops.api import paging
from eventops.store.models import AlertRow, ApplyRow, DecisionRow, PostRow, Sample

from .conftest import WHO, Rig

ROWS = 130
"""Rows in each list before the walk (more than three pages of :data:`LIMIT`)."""
LIMIT = 40

HISTORY = (
    "/api/v1/history?device=sw-core&metric=probe.walk"
    "&since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z"
)


async def get(rig: Rig, path: str) -> tuple[Any, str | None]:
    headers = {"Authorization": f"Bearer {WHO['comms' if 'wall' in path else 'technician']}"}
    async with rig.http.get(rig.url + path, headers=headers) as r:
        body = await r.json(content_type=None)
        assert r.status == 200, body
        if isinstance(body, dict):  # the history: points and next_cursor in the body
            return body["points"], body["next_cursor"]
        return body, r.headers.get(paging.NEXT_CURSOR)


class Writer:
    """Writes one more row of every list each time it is called."""

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        self.n = 0

    async def post(self) -> None:
        await self.rig.store.upsert_posts(
            [
                PostRow(
                    id="walk",
                    source="replay",
                    author="replay:anna",
                    author_name="Anna",
                    text="Hallo Altstadtfest",
                    created_at=self.rig.clock.now() - timedelta(minutes=2),
                )
            ]
        )

    async def __call__(self) -> None:
        store, now, n = self.rig.store, self.rig.clock.now(), self.n
        self.n += 1
        await store.audit("technik", "test.walk", f"row-{n}")
        await store.add_alert(
            AlertRow(
                key=f"test:walk:{n}",
                severity="warning",
                subject="sw-core",
                summary=f"walk {n}",
                raised_at=now,
            )
        )
        await store.decide(
            DecisionRow(post_id="walk", ts=now, actor="rule:mode", action="queue"), "pending", None
        )
        await store.record_apply(
            ApplyRow(
                started_at=now,
                finished_at=now,
                actor="technik",
                summary={"kind": "apply", "state": "applied", "devices": [], "counts": {}},
            ),
            [],
        )
        # a sample between two already there (already walked past, or not yet) and one after
        await store.add_samples(
            [
                Sample(ts=now + timedelta(seconds=n % ROWS), device="sw-core", metric="probe.walk",
                       value=10_000 + n),
                Sample(ts=now + timedelta(seconds=ROWS + n), device="sw-core",
                       metric="probe.walk", value=20_000 + n),
            ]
        )  # fmt: skip


def timeline_id(e: dict[str, Any]) -> Hashable:
    return (e["kind"], e["data"]["id"])


def timeline_key(e: dict[str, Any]) -> Any:
    return (datetime.fromisoformat(e["ts"]), e["kind"], e["data"]["id"])


def row_id(e: dict[str, Any]) -> Hashable:
    return int(e["id"])


def point_id(p: list[Any]) -> Hashable:
    return float(p[1])


def point_key(p: list[Any]) -> Any:
    return datetime.fromisoformat(p[0])


LISTS: dict[str, tuple[str, Callable[[Any], Hashable], Callable[[Any], Any], bool]] = {
    # name: (path, identity, sort key, descending)
    "timeline": ("/api/v1/timeline", timeline_id, timeline_key, False),
    "history": (HISTORY, point_id, point_key, False),
    "alerts": ("/api/v1/alerts?all=1", row_id, row_id, False),
    "applies": ("/api/v1/provision/applies", row_id, row_id, True),
    "decisions": ("/api/v1/wall/decisions", row_id, row_id, False),
}


async def walk(
    rig: Rig, path: str, between: Callable[[], Awaitable[None]]
) -> tuple[list[Any], int]:
    sep = "&" if "?" in path else "?"
    items: list[Any] = []
    cursor: str | None = None
    pages = 0
    while True:
        q = f"{path}{sep}limit={LIMIT}" + (f"&cursor={cursor}" if cursor else "")
        page, cursor = await get(rig, q)
        assert len(page) <= LIMIT
        items += page
        pages += 1
        if cursor is None:
            return items, pages
        for _ in range(3):  # more rows than a page moves on by, on every side of the cursor
            await between()


@pytest.mark.parametrize("name", list(LISTS))
async def test_walking_the_pages_while_rows_are_written_sees_each_row_once(
    rig: Rig, name: str
) -> None:
    path, ident, key, descending = LISTS[name]
    writer = Writer(rig)
    await writer.post()
    for _ in range(ROWS):
        await writer()
    before, nxt = await get(rig, path + ("&" if "?" in path else "?") + "limit=1000")
    assert nxt is None and len(before) >= ROWS
    walked, pages = await walk(rig, path, writer)
    assert pages >= len(before) // LIMIT
    counts = Counter(ident(e) for e in walked)
    twice = [k for k, n in counts.items() if n > 1]
    assert twice == [], f"{name}: seen twice: {twice[:5]}"
    missing = [ident(e) for e in before if ident(e) not in counts]
    assert missing == [], f"{name}: a gap: {missing[:5]}"
    keys = [key(e) for e in walked]
    assert keys == sorted(keys, reverse=descending), f"{name}: pages out of order"
    assert writer.n > ROWS  # rows were really written during the walk


async def test_history_pages_do_not_depend_on_the_stores_order_of_equal_times(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store may return the samples of one time in any order (PostgreSQL: no tiebreak);
    the pages come out the same, each point once."""
    now = rig.clock.now()
    await rig.store.add_samples(
        [
            Sample(ts=now + timedelta(seconds=k // 7), device="sw-core", metric="probe.walk",
                   value=float(k))
            for k in range(ROWS)
        ]
    )  # fmt: skip
    real = rig.store.query_samples
    calls = 0

    async def shuffled(*args: Any, **kw: Any) -> list[Sample]:
        nonlocal calls
        calls += 1
        got = await real(*args, **kw)
        random.Random(calls).shuffle(got)
        return sorted(got, key=lambda s: s.ts)  # in time order, ties in a new order each call

    monkeypatch.setattr(rig.store, "query_samples", shuffled)

    async def nothing() -> None:
        return None

    walked, pages = await walk(rig, HISTORY, nothing)
    assert pages == -(-ROWS // LIMIT) and calls >= pages
    assert sorted(p[1] for p in walked) == [float(k) for k in range(ROWS)]
