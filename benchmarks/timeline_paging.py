"""Timeline pages per second: the store's keyset page against reading every entry per page.

Fills a store with a three-day festival's timeline (``--rows``, 50,000 by default:
alerts raised and cleared, probe results, moderation decisions, handovers and audit
entries, many of them sharing a second with others), then serves pages of
``--limit`` entries (the API's default, 200) the two ways, in the same run:

- new: :func:`eventops.monitor.history.timeline_page` — the store reads at most
  ``limit + 1`` keys per source after the cursor from its indexes, merges them, and
  fetches the ``limit + 1`` rows chosen by id;
- old (the anchor): what ``GET /api/v1/timeline`` did before — read the whole
  timeline (:func:`eventops.monitor.history.timeline`) and page it in memory
  (:func:`eventops.api.paging.page`).

Both produce the same page and cursor (checked on every page measured). Pages are
taken at cursors spread over the whole timeline (the first page, the middle, the
end), each page's entries dumped as the API does. Printed: pages/s of each path and
the new/old ratio, the index keys and rows the new path fetched per page, and the
database's own plan of each source's query at a cursor in the middle of the event
(PostgreSQL after ANALYZE: an index-only scan under a Limit on a table this size).

SQLite by default; ``--backend postgresql`` starts a throw-away cluster (initdb +
pg_ctl, tests/helpers/pgcluster.py) unless ``--pg-url`` names a database (password in
``$PGPASSWORD``).

Run: ``python benchmarks/timeline_paging.py [--rows 50000] [--limit 200] [--backend sqlite]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
import time
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from eventops.api import paging  # noqa: E402
from eventops.monitor import history  # noqa: E402
from eventops.monitor.history import TimelineEntry  # noqa: E402
from eventops.server.app import _timeline_after, _timeline_key  # noqa: E402
from eventops.store import PostgresStore, SQLiteStore  # noqa: E402
from eventops.store.base import Store  # noqa: E402
from eventops.store.models import (  # noqa: E402
    AlertRow,
    DecisionRow,
    HandoverRow,
    PostRow,
    ProbeResultRow,
)
from eventops.store.timeline import SOURCES, TimelineKey, source_queries  # noqa: E402
from tests.helpers.pgcluster import PgCluster, find_bin_dir  # noqa: E402

T0 = datetime(2026, 6, 18, 14, 0, tzinfo=UTC)
DAYS = 3
BATCH = 500
ACTIONS = ("alert.ack", "silence.add", "device.reboot", "wall.pause", "probe.run")


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t


async def fill(store: Store, clock: Clock, rows: int) -> int:
    """About ``rows`` timeline entries over three days; returns how many there are."""
    await store.upsert_posts(
        [PostRow(id="x:1", source="x", author="a", author_name="A", text="t", created_at=T0)]
    )
    # per "round": 2 alert entries (raised, cleared), probe, decision, handover, 2 audit
    rounds = max(1, rows // 7)
    step = DAYS * 86400 / rounds

    def one(n: int) -> list[Awaitable[Any]]:
        ts = T0 + timedelta(seconds=int(n * step))  # a coarse clock: ties across kinds
        return [
            store.add_alert(
                AlertRow(
                    key=f"k:{n}",
                    severity="warning",
                    subject=f"mast-{n % 40:02d}",
                    summary=f"load high {n}",
                    state="cleared",
                    raised_at=ts,
                    cleared_at=ts + timedelta(seconds=30),
                )
            ),
            store.add_probe_result(
                ProbeResultRow(
                    ts=ts, target="fibre-police", kind="stamp", passed=True, result={"n": n}
                )
            ),
            store.decide(
                DecisionRow(post_id="x:1", ts=ts, actor="rule:mode", action="queue"),
                "pending",
                None,
            ),
            store.add_handover(
                HandoverRow(ts=ts, link="fibre-police", authority="polizei", actor="t")
            ),
        ]

    for i in range(0, rounds, BATCH // 4):
        await asyncio.gather(*(w for n in range(i, min(i + BATCH // 4, rounds)) for w in one(n)))
    # the audit chain: its entries take the store's clock at the write
    for i in range(0, 2 * rounds, BATCH):
        clock.t = T0 + timedelta(seconds=int(i * step / 2))
        await asyncio.gather(
            *(
                store.audit("technik", ACTIONS[k % len(ACTIONS)], f"mast-{k % 40:02d}")
                for k in range(i, min(i + BATCH, 2 * rounds))
            )
        )
    return rounds * 7


Page = tuple[list[dict[str, Any]], str | None]


async def old_page(store: Store, cursor: str | None, limit: int) -> Page:
    after = paging.cursor_of(cursor, "timeline", (str, str, int))
    items = await history.timeline(store)
    chosen, nxt = paging.page(items, _timeline_key, endpoint="timeline", limit=limit, after=after)
    return [t.model_dump(mode="json") for t in chosen], nxt


async def new_page(store: Store, cursor: str | None, limit: int) -> Page:
    after = _timeline_after(paging.cursor_of(cursor, "timeline", (str, str, int)))
    items: list[TimelineEntry] = await history.timeline_page(store, after=after, limit=limit)
    chosen = items[:limit]
    more = len(items) > limit and chosen
    nxt = paging.make_cursor("timeline", _timeline_key(chosen[-1])) if more else None
    return [t.model_dump(mode="json") for t in chosen], nxt


async def measure(store: Store, clock: Clock, rows: int, limit: int, old_pages: int) -> None:
    async with store:
        t = time.perf_counter()
        total = await fill(store, clock, rows)
        print(f"timeline_paging: {total:,} entries written in {time.perf_counter() - t:.1f} s")
        # cursors spread over the timeline: walk it once with the new path
        cursors: list[str | None] = [None]
        cursor: str | None = None
        walked = 0
        t = time.perf_counter()
        while True:
            page, cursor = await new_page(store, cursor, limit)
            walked += len(page)
            if cursor is None:
                break
            cursors.append(cursor)
        walk_s = time.perf_counter() - t
        assert walked == total, (walked, total)
        picks = [cursors[i * (len(cursors) - 1) // max(1, old_pages - 1)] for i in range(old_pages)]
        # the same pages both ways (and the same next cursors)
        for c in picks:
            assert await old_page(store, c, limit) == await new_page(store, c, limit)
        keys0, reads0 = store.timeline_reads.keys, store.timeline_reads.rows
        t = time.perf_counter()
        for c in cursors:
            await new_page(store, c, limit)
        new_s = (time.perf_counter() - t) / len(cursors)
        rows_per_page = (store.timeline_reads.rows - reads0) / len(cursors)
        keys_per_page = (store.timeline_reads.keys - keys0) / len(cursors)
        t = time.perf_counter()
        for c in picks:
            await old_page(store, c, limit)
        old_s = (time.perf_counter() - t) / len(picks)
        mid = _timeline_after(paging.cursor_of(cursors[len(cursors) // 2], "timeline"))
        chosen_plans = await plans(store, mid, limit + 1)
    name = "postgresql" if isinstance(store, PostgresStore) else "sqlite"
    print(
        f"  backend {name}, limit {limit}, {len(cursors)} pages in the whole walk ({walk_s:.2f} s)"
    )
    print(f"  new (keyset, store reads the page): {1 / new_s:>9,.1f} pages/s "
          f"({keys_per_page:,.0f} index keys and {rows_per_page:,.0f} rows fetched per page)")  # fmt: skip
    print(f"  old (read every entry per page):   {1 / old_s:>9,.1f} pages/s "
          f"({total:,} rows read per page, {len(picks)} pages measured)")  # fmt: skip
    print(f"  ratio new/old: {old_s / new_s:,.0f}x")
    print("  the database's own plan of each source's query at a cursor mid-event:")
    for src, plan in chosen_plans:
        print(f"    {src:<14} {plan}")


async def plans(store: Store, after: TimelineKey | None, n: int) -> list[tuple[str, str]]:
    """Each source's key query as the database plans it (after ANALYZE on PostgreSQL)."""
    out = []
    hi = T0 + timedelta(days=DAYS + 1)
    if isinstance(store, PostgresStore):
        await store._fetch("ANALYZE")
    for src in SOURCES:
        if isinstance(store, PostgresStore):
            sql, params = source_queries(src, after, T0, hi, n, pg=True)[0]
            got = await store._fetch("EXPLAIN " + sql, store.event_id, *params)
            lines = [re.sub(r"\s*\(cost=[^)]*\)", "", str(r["QUERY PLAN"])) for r in got]
            text = " / ".join(x.strip(" ->") for x in lines[:2])
        else:
            assert isinstance(store, SQLiteStore)
            sql, params = source_queries(src, after, T0, hi, n, pg=False)[0]
            plan = await store._fetch("EXPLAIN QUERY PLAN " + sql, params)
            text = " / ".join(str(r[3]) for r in plan)
        out.append((src.kind, text[:110]))
    return out


async def main(a: argparse.Namespace) -> None:
    clock = Clock()
    if a.backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="evo-timeline-bench-") as d:
            store = SQLiteStore(Path(d) / "bench.sqlite3", now=clock)
            await measure(store, clock, a.rows, a.limit, a.old_pages)
        return
    cluster = None
    url: str | None = a.pg_url
    password: str | None
    try:
        if url is None:
            bin_dir = find_bin_dir()
            if bin_dir is None:
                raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
            cluster = PgCluster(bin_dir).start()
            url, password = cluster.url(cluster.create_database("bench")), cluster.password
        else:
            password = os.environ.get("PGPASSWORD")
        pg = PostgresStore(url, event_id="bench", password=password, now=clock)
        await measure(pg, clock, a.rows, a.limit, a.old_pages)
    finally:
        if cluster is not None:
            cluster.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000, help="timeline entries to write")
    ap.add_argument("--limit", type=int, default=paging.DEFAULT_LIMIT)
    ap.add_argument("--old-pages", type=int, default=5, help="pages timed on the old path")
    ap.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--pg-url", help="an existing database (password in $PGPASSWORD)")
    asyncio.run(main(ap.parse_args()))
