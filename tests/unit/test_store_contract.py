"""The store interface's queries, with exact answers, on SQLite and PostgreSQL alike.

What the engine relies on beyond plain round trips: downsampling and retention,
the wall's filters and queue listings, per-device apply history, ordering.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eventops.errors import StoreError
from eventops.store.base import MAX_SERIES, WallTx
from eventops.store.models import (
    ApplyDeviceRow,
    ApplyRow,
    AuthorBlockRow,
    DecisionRow,
    PostRow,
    Sample,
)
from tests.helpers.pgfixtures import StoreMaker

T0 = datetime(2026, 6, 18, 12, 0, tzinfo=UTC)


async def test_downsample_and_purge(make_store: StoreMaker) -> None:
    async with make_store() as s:
        # two series, one sample a second for 4 minutes
        await s.add_samples(
            [
                Sample(ts=T0 + timedelta(seconds=i), device=d, metric="m", value=float(i))
                for d in ("a", "b")
                for i in range(240)
            ]
        )
        # buckets of 60 s wholly before T0+150 s: [0,60) and [60,120) -> one mean each
        removed = await s.downsample_samples(T0 + timedelta(seconds=150), 60)
        assert removed == 2 * (120 - 2)
        got = await s.query_samples("a", "m", T0, T0 + timedelta(minutes=10))
        assert [(x.ts, x.value) for x in got[:2]] == [
            (T0 + timedelta(seconds=30), 29.5),
            (T0 + timedelta(seconds=90), 89.5),
        ]
        assert len(got) == 2 + 120
        assert await s.downsample_samples(T0 + timedelta(seconds=150), 60) == 0  # idempotent
        assert await s.purge_samples(T0 + timedelta(seconds=200)) == 2 * (2 + 80)
        got = await s.query_samples("b", "m", T0, T0 + timedelta(minutes=10))
        assert [x.value for x in got] == [float(i) for i in range(200, 240)]


async def test_latest_samples_is_the_newest_of_each_series(make_store: StoreMaker) -> None:
    async with make_store() as s, make_store("other-event") as other:
        await s.add_samples(
            [
                Sample(ts=T0 + timedelta(seconds=i), device=d, metric=m, value=float(i))
                for i in range(5)
                for d, m in (("a", "reachable"), ("a", "rx_dbm.1"), ("b", "reachable"))
            ]
            + [Sample(ts=T0 - timedelta(hours=1), device="b", metric="uptime_s", value=7.0)]
        )
        await other.add_samples(
            [Sample(ts=T0 + timedelta(hours=1), device="a", metric="reachable", value=9.0)]
        )
        got = await s.latest_samples(
            [
                ("a", "reachable"),
                ("b", "uptime_s"),
                ("a", "rx_dbm.1"),
                ("c", "reachable"),
                ("a", "it's; --"),
            ]
        )
        assert [(x.device, x.metric, x.ts, x.value) for x in got] == [
            ("a", "reachable", T0 + timedelta(seconds=4), 4.0),
            ("a", "rx_dbm.1", T0 + timedelta(seconds=4), 4.0),
            ("b", "uptime_s", T0 - timedelta(hours=1), 7.0),
        ]
        assert await s.latest_samples([]) == []
        with pytest.raises(StoreError, match="at most"):
            await s.latest_samples([("a", "m")] * (MAX_SERIES + 1))


def _post(n: int, author: str, text: str, **kw: Any) -> PostRow:
    return PostRow(
        id=f"x:{n}",
        source=kw.pop("source", "x"),
        author=author,
        author_name=kw.pop("name", author.upper()),
        text=text,
        created_at=T0 + timedelta(minutes=n),
        **kw,
    )


def ids(rows: list[PostRow]) -> list[str]:
    return [p.id for p in rows]


async def test_wall_queries(make_store: StoreMaker) -> None:
    async with make_store() as s:
        await s.upsert_posts(
            [
                _post(1, "anna", "Hello 100% fun_day"),
                _post(2, "bert", "hello again", state="approved", pinned=True),
                _post(3, "anna", "nothing", source="mastodon", state="approved"),
                _post(4, "carl", "x", name="Hello Carl", state="hidden"),
            ]
        )
        assert ids(await s.find_posts()) == ["x:4", "x:3", "x:2", "x:1"]  # newest first
        assert ids(await s.find_posts(["approved"])) == ["x:3", "x:2"]
        assert ids(await s.find_posts(["approved", "hidden"], limit=2)) == ["x:4", "x:3"]
        assert ids(await s.find_posts(contains="HELLO")) == ["x:4", "x:2", "x:1"]
        assert ids(await s.find_posts(contains="100%")) == ["x:1"]  # % is literal
        assert ids(await s.find_posts(contains="o_a")) == []  # so is _ ("hello again")
        assert ids(await s.find_posts(contains="fun_d")) == ["x:1"]
        assert ids(await s.find_posts(pinned=True)) == ["x:2"]
        assert ids(await s.find_posts(source="mastodon", author="anna")) == ["x:3"]
        assert ids(await s.posts_by_author("anna")) == ["x:1", "x:3"]  # oldest first
        assert ids(await s.posts_by_author("anna", ["approved"])) == ["x:3"]
        assert ids(await s.list_posts("approved", limit=1)) == ["x:3"]

        assert await s.last_decision_id() == 0
        d1 = await s.decide(
            DecisionRow(post_id="x:1", ts=T0, actor="p", action="approve"), "approved", None
        )
        d2 = await s.decide(DecisionRow(post_id="x:1", ts=T0, actor="q", action="pin"), None, True)
        d3 = await s.decide(
            DecisionRow(post_id="x:2", ts=T0, actor="p", action="undo", ref=d1), "pending", False
        )
        assert await s.last_decision_id() == d3 > d2 > d1
        last = await s.last_decisions(["x:1", "x:2", "x:3", "x:1"])
        assert {k: v.id for k, v in last.items()} == {"x:1": d2, "x:2": d3}
        assert (last["x:1"].prev_state, last["x:1"].prev_pinned) == ("approved", False)
        assert [d.id for d in await s.decisions_referencing(d1)] == [d3]
        assert await s.decision_counts() == [("p", "approve", 1), ("p", "undo", 1), ("q", "pin", 1)]
        got = await s.get_post("x:1")
        assert got is not None and (got.state, got.pinned) == ("approved", True)

        block = AuthorBlockRow(author="anna", actor="p", reason="spam", created_at=T0)
        await s.put_author_block(block)
        assert await s.list_author_blocks() == [block]
        assert await s.remove_author_block("anna") and not await s.remove_author_block("anna")

        async def deleted_at_source(tx: WallTx) -> None:
            await tx.mark_deleted("x:2")

        await s.wall_transaction(deleted_at_source)
        got = await s.get_post("x:2")
        assert got is not None and (got.state, got.pinned) == ("hidden", False)
        assert got.data == {"deleted": True}

        gone = await s.purge_posts(T0 + timedelta(minutes=2, seconds=30))
        assert sorted(p.id for p in gone) == ["x:1", "x:2"]
        assert ids(await s.find_posts()) == ["x:4", "x:3"]
        assert await s.list_decisions() == []  # their decisions went with them


async def test_apply_history(make_store: StoreMaker) -> None:
    async with make_store() as s:
        ids = []
        for n in range(3):
            ids.append(
                await s.record_apply(
                    ApplyRow(started_at=T0, actor="t", summary={"n": n}),
                    [ApplyDeviceRow(device="m1", result=f"r{n}", detail={"n": n})]
                    + ([ApplyDeviceRow(device="m2", result="ok")] if n == 1 else []),
                )
            )
        assert [(i, d.result) for i, d in await s.device_applies("m1")] == [
            (ids[2], "r2"),
            (ids[1], "r1"),
            (ids[0], "r0"),
        ]
        assert [i for i, _ in await s.device_applies("m2")] == [ids[1]]
        assert [a.id for a in await s.list_applies(limit=2)] == [ids[2], ids[1]]
        assert [a.id for a in await s.list_applies(before=ids[1])] == [ids[0]]
        # closing an apply keeps its start and actor, takes the new summary and rows
        await s.record_apply(
            ApplyRow(id=ids[0], started_at=T0, finished_at=T0, actor="t", summary={"done": 1}),
            [ApplyDeviceRow(device="m1", result="applied", checksum="c")],
        )
        got = await s.get_apply(ids[0])
        assert got is not None
        assert (got[0].finished_at, got[0].summary) == (T0, {"done": 1})
        assert [(d.device, d.result, d.checksum) for d in got[1]] == [("m1", "applied", "c")]
