"""The timeline read a page at a time by the store (keyset pagination), on SQLite and PostgreSQL.

Each page is one index range query per source, merged: the pages, walked with any
limit, are exactly the whole timeline as the read-everything path builds it; rows
written between two pages with the cursor's very time neither repeat nor skip an
entry; and a page reads at most ``sources × (limit + 1)`` rows, through the indexes,
however many rows the event holds.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eventops.monitor import history
from eventops.monitor.history import TimelineEntry
from eventops.store.base import PageReads, Store
from eventops.store.models import (
    AlertRow,
    DecisionRow,
    HandoverRow,
    PostRow,
    ProbeResultRow,
    Sample,
)
from eventops.store.postgres import PostgresStore
from eventops.store.timeline import SOURCES, Source, TimelineKey, read_page, source_queries
from tests.helpers.pgfixtures import StoreMaker

T0 = datetime(2026, 6, 18, 12, 0, tzinfo=UTC)
ACTIONS = ("probe.run", "a.b", "zz", "handover", "wall.approve", "ärger")
"""Audit actions whose kinds sort before, between and after each other (and non-ASCII)."""


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t


def key(e: TimelineEntry) -> TimelineKey:
    return (e.ts, e.kind, int(e.data["id"]))


async def write_one_of_each(store: Store, clock: Clock, ts: datetime, n: int) -> None:
    """One row of every source (two alert entries when ``n`` is even) at time ``ts``."""
    clock.t = ts
    aid = await store.add_alert(
        AlertRow(key=f"k:{n}", severity="warning", subject="sw-core", summary=f"s{n}", raised_at=ts)
    )
    if n % 2 == 0:
        await store.update_alert(aid, state="cleared", cleared_at=ts)
    await store.add_probe_result(
        ProbeResultRow(ts=ts, target="fibre-police", kind="stamp", passed=n % 3 == 0, result={})
    )
    await store.decide(
        DecisionRow(post_id="x:1", ts=ts, actor="rule:mode", action="queue"), "pending", None
    )
    await store.add_handover(
        HandoverRow(ts=ts, link="fibre-police", authority="polizei", actor="technik")
    )
    await store.audit("technik", ACTIONS[n % len(ACTIONS)], f"t{n}")


async def fill(store: Store, clock: Clock, rounds: int) -> None:
    await store.upsert_posts(
        [PostRow(id="x:1", source="x", author="a", author_name="A", text="t", created_at=T0)]
    )
    for n in range(rounds):
        # few distinct times: most entries share theirs with others of every kind
        await write_one_of_each(store, clock, T0 + timedelta(seconds=n // 4), n)


async def walk(
    store: Store, limit: int, since: datetime | None = None, until: datetime | None = None
) -> list[TimelineEntry]:
    out: list[TimelineEntry] = []
    after: TimelineKey | None = None
    while True:
        page = await history.timeline_page(
            store, after=after, limit=limit, since=since, until=until
        )
        assert len(page) <= limit + 1
        out += page[:limit]
        if len(page) <= limit:
            return out
        after = key(page[limit - 1])


def dumps(entries: list[TimelineEntry]) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json") for e in entries]


async def test_pages_of_every_limit_are_the_whole_timeline(make_store: StoreMaker) -> None:
    clock = Clock()
    async with make_store(now=clock) as s:
        await fill(s, clock, 12)
        whole = await history.timeline(s)  # every row read at once, sorted in Python
        assert len(whole) == 12 * 5 + 6
        assert len({key(e) for e in whole}) == len(whole)
        assert [key(e) for e in whole] == sorted(key(e) for e in whole)
        for limit in range(1, len(whole) + 2):
            assert dumps(await walk(s, limit)) == dumps(whole), f"limit {limit}"
        # a window of time: its bounds inclusive, as the full read's
        lo, hi = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
        window = await history.timeline(s, lo, hi)
        assert window and len(window) < len(whole)
        for limit in (1, 2, 5, 7, len(window), len(window) + 1):
            assert dumps(await walk(s, limit, lo, hi)) == dumps(window), f"limit {limit}"
        # a cursor of a kind no source has, between the kinds of one time
        mid = (T0 + timedelta(seconds=1), "b", 0)
        page = await history.timeline_page(s, after=mid, limit=1000)
        assert [key(e) for e in page] == [k for k in map(key, whole) if k > mid]


async def test_rows_written_between_pages_with_the_cursors_time_repeat_or_skip_nothing(
    make_store: StoreMaker,
) -> None:
    clock = Clock()
    async with make_store(now=clock) as s:
        await fill(s, clock, 10)
        before = {key(e) for e in await history.timeline(s)}
        walked: list[TimelineKey] = []
        after: TimelineKey | None = None
        extra = 100
        while True:
            page = await history.timeline_page(s, after=after, limit=3)
            walked += [key(e) for e in page[:3]]
            if len(page) <= 3:
                break
            after = key(page[2])
            # more rows of every kind with the time of the cursor, ids above every id so far
            await write_one_of_each(s, clock, after[0], extra)
            extra += 1
        assert extra > 100 + 10
        twice = [k for k, n in Counter(walked).items() if n > 1]
        assert twice == []
        assert walked == sorted(walked)  # in order: nothing went back before a cursor
        assert before - set(walked) == set()  # nothing there at the start was skipped
        # what was written behind a cursor is not shown; what was written ahead of it is
        now = [key(e) for e in await history.timeline(s)]
        assert set(walked) < set(now)


def counted_reads(store: Store) -> tuple[int, int, int]:
    r = store.timeline_reads
    return r.queries, r.keys, r.rows


async def test_a_page_reads_o_limit_rows_through_the_indexes(make_store: StoreMaker) -> None:
    clock = Clock()
    rounds = 120
    async with make_store(now=clock) as s:
        await fill(s, clock, rounds)
        total = len(await history.timeline(s))
        assert total == rounds * 5 + rounds // 2
        tables = len({src.table for src in SOURCES})
        for limit in (1, 10, 50):
            after: TimelineKey | None = None
            pages = 0
            while True:
                q0, k0, r0 = counted_reads(s)
                page = await history.timeline_page(s, after=after, limit=limit)
                q1, k1, r1 = counted_reads(s)
                # one key query per source (the cursor's own source: up to two more, for the
                # rest of the cursor's time), then the chosen rows by id, one per table
                assert len(SOURCES) < q1 - q0 <= len(SOURCES) + 2 + tables
                assert k1 - k0 <= len(SOURCES) * (limit + 1), (limit, pages, k1 - k0)
                # only the rows the page shows (an alert row: its raised and cleared entries)
                assert 0 < r1 - r0 <= len(page) <= limit + 1
                pages += 1
                if len(page) <= limit:
                    break
                after = key(page[limit - 1])
            assert pages == -(-total // limit)
        # the database itself reads no more than that: every query is an index range scan
        if make_store.pg:
            await assert_pg_plans(make_store, limit=10)
        else:
            assert_sqlite_plans(make_store, limit=10)


def cursors() -> Iterator[TimelineKey | None]:
    t = T0 + timedelta(seconds=7)
    yield None
    for kind in ("alert.cleared", "audit:handover", "audit:", "handover", "probe", "zzz"):
        yield (t, kind, 5)


def queries(
    after: TimelineKey | None, limit: int, *, pg: bool
) -> Iterator[tuple[Source, str, list[Any]]]:
    for src in SOURCES:
        for sql, params in source_queries(src, after, T0, T0 + timedelta(days=1), limit + 1, pg=pg):
            yield src, sql, params


def assert_sqlite_plans(make_store: StoreMaker, limit: int) -> None:
    import sqlite3

    con = sqlite3.connect(make_store.tmp_path / "demo.sqlite3")
    try:
        for after in cursors():
            for src, sql, params in queries(after, limit, pg=False):
                plan = " | ".join(r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql, params))
                # the keys come from the index alone, in its order
                assert plan.startswith(f"SEARCH {src.table} USING COVERING INDEX"), plan
                assert "|" not in plan, (src, after, plan)  # no sort, nothing else
                # seeking to the cursor itself, not to its time only
                for column in ("id>", "action=", "action>"):
                    if f" {column[:-1]} {column[-1]} ?" in sql:
                        assert f"{column}?" in plan, (src, after, sql, plan)
    finally:
        con.close()


async def assert_pg_plans(make_store: StoreMaker, limit: int) -> None:
    import asyncpg

    assert make_store.db is not None
    conn = await asyncpg.connect(make_store.db.dsn)
    try:
        # The planner may rightly prefer a scan of a table this small; what is asserted is
        # that the indexes answer each query reading no more than the page (the benchmark,
        # benchmarks/timeline_paging.py, shows the planner's own choice on a large event).
        await conn.execute("ANALYZE")
        await conn.execute("SET enable_seqscan = off; SET enable_sort = off")
        for after in cursors():
            for src, sql, params in queries(after, limit, pg=True):
                raw = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, "demo", *params)
                plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
                nodes = list(plan_nodes(plan))
                kinds = [n["Node Type"] for n in nodes]
                assert "Seq Scan" not in kinds and "Sort" not in kinds, (src, after, kinds)
                # no node of the plan touched more rows than the page asks for
                touched = max(n["Actual Rows"] + n.get("Rows Removed by Filter", 0) for n in nodes)
                assert touched <= limit + 1, (src, after, touched, kinds)
    finally:
        await conn.close()


def plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from plan_nodes(child)


@pytest.mark.parametrize(
    "after",
    [(T0, "audit:x", 1), (T0, "", 0), (T0, "\uffff", -(2**63) + 1)],
)
async def test_odd_but_valid_cursors_read_the_same_as_the_full_timeline(
    make_store: StoreMaker, after: TimelineKey
) -> None:
    clock = Clock()
    async with make_store(now=clock) as s:
        await fill(s, clock, 6)
        whole = [key(e) for e in await history.timeline(s)]
        page = await history.timeline_page(s, after=after, limit=1000)
        assert [key(e) for e in page] == [k for k in whole if k > after]


# -- the other paged lists the store holds: alerts and wall decisions, in id order ----------


async def test_alert_and_decision_pages_are_the_whole_list_in_id_order(
    make_store: StoreMaker,
) -> None:
    clock = Clock()
    async with make_store(now=clock) as s:
        await fill(s, clock, 8)
        for n in range(24):
            await s.add_alert(
                AlertRow(
                    key=f"p:{n}",
                    severity="info",
                    subject=("mast-a", "mast-b", "link-c")[n % 3],
                    summary=f"p{n}",
                    raised_at=T0,
                    state="cleared" if n % 4 == 0 else "open",
                )
            )
            await s.decide(
                DecisionRow(post_id=f"x:{n % 3}", ts=T0, actor="anna", action="approve"),
                "approved",
                None,
            )
        everything = await s.list_alerts()
        assert len(everything) == 8 + 24
        for subjects in (None, {"mast-a", "link-c"}, set(), {"nowhere"}):
            for open_only in (False, True):
                want = [
                    a.id
                    for a in everything
                    if (subjects is None or a.subject in subjects)
                    and not (open_only and a.state == "cleared")
                ]
                for limit in (1, 2, 5, 100):
                    got: list[int | None] = []
                    after: int | None = None
                    while True:
                        page = await s.list_alerts(
                            open_only=open_only, after_id=after, limit=limit, subjects=subjects
                        )
                        assert len(page) <= limit
                        got += [a.id for a in page]
                        if len(page) < limit:
                            break
                        after = page[-1].id
                    assert got == want, (subjects, open_only, limit)
        decisions = await s.list_decisions()
        assert len(decisions) == 8 + 24
        for post in (None, "x:1", "x:9"):
            want = [d.id for d in decisions if post is None or d.post_id == post]
            for limit in (1, 3, 100):
                got = []
                after = None
                while True:
                    dpage = await s.list_decisions(post, after_id=after, limit=limit)
                    got += [d.id for d in dpage]
                    if len(dpage) < limit:
                        break
                    after = dpage[-1].id
                assert got == want, (post, limit)
        # a cursor beyond every id, or before every id
        assert await s.list_decisions(after_id=2**63 - 1, limit=5) == []
        lowest = await s.list_decisions(after_id=-(2**63) + 1, limit=2)
        assert [d.id for d in lowest] == [d.id for d in decisions[:2]]


async def test_a_page_of_samples_ends_with_every_sample_of_its_last_time(
    make_store: StoreMaker,
) -> None:
    async with make_store() as s:
        times = [T0 + timedelta(seconds=k // 3) for k in range(30)]  # three samples a second
        await s.add_samples(
            [Sample(ts=t, device="d", metric="m", value=float(k)) for k, t in enumerate(times)]
        )
        hi = T0 + timedelta(days=1)
        whole = await s.query_samples("d", "m", T0, hi)
        assert len(whole) == 30
        for limit in range(1, 33):
            got = await s.query_samples("d", "m", T0, hi, limit=limit)
            upto = -(-limit // 3) * 3  # the limit-th sample's time, all of it
            assert sorted(x.value for x in got) == [float(k) for k in range(min(upto, 30))]
        # from a later time on, within the window, and an empty window
        got = await s.query_samples("d", "m", T0 + timedelta(seconds=4), hi, limit=4)
        assert sorted(x.value for x in got) == [float(k) for k in range(12, 18)]
        assert await s.query_samples("d", "m", hi, hi, limit=1) == []


async def test_rows_deleted_between_the_keys_and_the_rows_are_read_again(
    make_store: StoreMaker,
) -> None:
    """A page reads keys, then the chosen rows: decisions deleted in between (an author
    forgotten) are not shown, and the page is still ``limit + 1`` of what is left."""
    clock = Clock()
    async with make_store(now=clock) as s:
        await fill(s, clock, 6)
        forgotten = False

        async def fetch(sql: str, params: Sequence[Any]) -> Sequence[Mapping[str, Any]]:
            nonlocal forgotten
            if not forgotten and sql.startswith("SELECT * FROM decisions"):
                forgotten = True  # the keys are read, the rows not yet: the author's posts go
                await s.forget_author("a")
            if isinstance(s, PostgresStore):
                return await s._fetch(sql, s.event_id, *params)
            return [dict(r) for r in await s._fetch(sql, params)]

        reads = PageReads()
        rows = await read_page(
            fetch, pg=make_store.pg, after=None, limit=30, since=T0, until=T0 + timedelta(days=1),
            reads=reads,
        )  # fmt: skip
        assert forgotten
        left = [key(e) for e in await history.timeline(s)]
        assert all(k[1] != "moderation" for k in left)
        assert [r.key for r in rows] == left[:31]
        assert reads.queries > 2 * len(SOURCES)  # the keys were read twice


async def test_pages_through_many_rows_of_one_time(make_store: StoreMaker) -> None:
    """One write's many rows (an author's block hides every post) share a time: the pages
    seek into that time at the cursor and walk it in order."""
    clock = Clock()
    async with make_store(now=clock) as s:
        await fill(s, clock, 2)
        for n in range(60):
            await s.decide(
                DecisionRow(post_id="x:1", ts=T0, actor="anna", action="hide"), "hidden", None
            )
            await s.audit("anna", ("wall.hide", "wall.block")[n % 2], f"x:{n}")
        whole = await history.timeline(s)
        assert len({e.ts for e in whole}) == 1 and len(whole) > 120
        for limit in (1, 7, 59, 61):
            assert dumps(await walk(s, limit)) == dumps(whole), f"limit {limit}"
