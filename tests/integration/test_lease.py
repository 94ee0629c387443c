"""The leader lease on a real PostgreSQL server (the pg_db fixture): compare-and-set on the
server's clock, a fencing token that only goes up, and a fenced store that refuses a
deposed engine's late writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from eventops.clock import FakeClock
from eventops.errors import StoreError
from eventops.store import SQLiteStore
from eventops.store.fenced import FENCED, FencedStore, fenced_store, unwrap
from eventops.store.lease import Fenced, LeaderLease, LeaseUnavailable, fenced_url
from eventops.store.models import AlertRow
from eventops.store.postgres import PostgresStore
from tests.helpers.pgfixtures import PgDatabase

EVENT = "xmas-market"


def lease(db: PgDatabase, address: str, *, ttl: float = 30.0, event: str = EVENT) -> LeaderLease:
    return LeaderLease(db.dsn, event, address=address, ttl_s=ttl)


async def test_one_holder_at_a_time_and_the_token_only_goes_up(pg_db: PgDatabase) -> None:
    async with lease(pg_db, "http://a:1") as a, lease(pg_db, "http://b:1") as b:
        assert await a.acquire()
        assert a.token == 1 and a.held
        assert not await b.acquire(), "a live lease was taken"
        assert b.token is None and not b.held
        held = await b.current()
        assert held is not None and held.holder == a.holder and held.address == "http://a:1"
        assert held.live and held.token == 1
        assert await a.check() == 1
        # a stops renewing (it died): b takes over once the server's clock says it expired
        # (the term ends in the database, not after a sleep a busy host may stretch)
        await _expire(pg_db)
        assert await b.acquire(), "b did not take the expired lease"
        assert b.token == 2
        assert not await a.renew(), "the deposed holder renewed"
        assert a.token is None and not a.held
        with pytest.raises(Fenced):
            await a.check()
        assert not await a.acquire(), "a took the lease back from a live holder"
        # a clean stop hands over at once, with the next token
        await b.release()
        assert await a.acquire()
        assert a.token == 3
        held = await b.current()
        assert held is not None and held.holder == a.holder and held.token == 3


async def test_racing_engines_elect_exactly_one(pg_db: PgDatabase) -> None:
    leases = [lease(pg_db, f"http://e{i}:1") for i in range(8)]
    for x in leases:
        await x.open()
    try:
        won = await asyncio.gather(*(x.acquire() for x in leases))
        assert won.count(True) == 1
        winner = leases[won.index(True)]
        assert winner.token == 1
        for x in leases:
            if x is not winner:
                with pytest.raises(Fenced):
                    await x.check()
    finally:
        for x in leases:
            await x.close()


async def test_events_have_their_own_lease(pg_db: PgDatabase) -> None:
    async with (
        lease(pg_db, "http://a:1", event="match-day") as a,
        lease(pg_db, "http://b:1", event="festival") as b,
    ):
        assert await a.acquire() and await b.acquire()
        assert a.token == b.token == 1
        got = await a.current()
        assert got is not None and got.address == "http://a:1"


async def test_fenced_store_refuses_the_deposed_engines_late_write(
    pg_db: PgDatabase, tmp_path: Path
) -> None:
    told: list[Fenced] = []
    # a's own clock stands still (a process that was paused, or whose clock runs slow): by
    # its own reckoning it still holds the lease; only the server's check can refuse it
    frozen = FakeClock()
    async with (
        SQLiteStore(tmp_path / "ev.sqlite3") as inner,
        LeaderLease(pg_db.dsn, EVENT, address="http://a:1", ttl_s=30, clock=frozen) as a,
        lease(pg_db, "http://b:1") as b,
    ):
        store = fenced_store(inner, a, told.append)
        assert unwrap(store) is inner
        now = datetime.now(UTC)
        assert await a.acquire()
        first = await store.add_alert(_alert("k1", now))
        assert [r.id for r in await store.list_alerts()] == [first]
        await _expire(pg_db)  # a's term ends on the server's clock
        assert await b.acquire(), "b did not take over"
        assert a.held, "a's own clock should not have noticed"
        with pytest.raises(Fenced) as caught:
            await store.add_alert(_alert("k2", now))
        assert "another engine took over" in caught.value.one_line()
        assert told and isinstance(told[0], Fenced)
        with pytest.raises(Fenced, match="does not hold"):  # the term is over, locally too
            await store.audit("a", "late", EVENT, after={})
        assert isinstance(store, FencedStore) and store.refused == 2
        # the refused writes left nothing behind; reads still pass
        assert [r.key for r in await store.list_alerts()] == ["k1"]
        assert await store.verify_audit() >= 0


def test_the_fence_covers_the_leader_only_writes() -> None:
    # every writer of samples, alerts, applies, restores, handovers and the audit chain
    for name in ("add_samples", "add_alert", "update_alert", "ops_transaction", "record_apply"):
        assert name in FENCED
    for name in ("arm_restore", "clear_restore", "add_handover", "audit", "wall_transaction"):
        assert name in FENCED
    assert "list_alerts" not in FENCED and "put_event" not in FENCED


async def test_bad_settings_and_a_wrong_password_are_one_line(pg_db: PgDatabase) -> None:
    with pytest.raises(StoreError, match="ttl"):
        LeaderLease(pg_db.dsn, EVENT, address="http://a:1", ttl_s=0.0)
    with pytest.raises(StoreError, match="event id"):
        LeaderLease(pg_db.dsn, "", address="http://a:1", ttl_s=5.0)
    wrong = pg_db.dsn.replace(pg_db.password, "not-the-password")
    bad = LeaderLease(wrong, EVENT, address="http://a:1", ttl_s=5.0)
    with pytest.raises(LeaseUnavailable) as caught:
        await bad.open()
    line = caught.value.one_line()
    assert "password refused" in line and "not-the-password" not in line
    with pytest.raises(LeaseUnavailable, match="not open"):
        await bad.acquire()


def _alert(key: str, now: datetime) -> AlertRow:
    return AlertRow(
        key=key,
        severity="warning",
        subject="mast-1",
        summary="test",
        labels={},
        raised_at=now,
    )


async def test_the_database_refuses_a_write_of_a_term_that_is_over(pg_db: PgDatabase) -> None:
    """The backstop under the fenced store's check: a store connection that carries an
    engine's fence settings can write only while that engine holds the lease, on the
    server's clock (a trigger on every leader-only table)."""
    now = datetime.now(UTC)
    async with lease(pg_db, "http://a:1") as a:
        url = fenced_url(pg_db.url, EVENT, a.holder)
        async with (
            PostgresStore(url, event_id=EVENT, password=pg_db.password) as fenced,
            PostgresStore(pg_db.url, event_id=EVENT, password=pg_db.password) as plain,
        ):
            await fenced.put_event(EVENT, "x", now, now, "UTC")  # not a leader-only table
            async with lease(pg_db, "http://b:1") as b:  # opening installs the trigger
                assert "alerts" in b.fenced_tables and "samples" in b.fenced_tables
                with pytest.raises(StoreError, match="fenced"):  # a has not taken it yet
                    await fenced.add_alert(_alert("k0", now))
                assert await a.acquire()
                await fenced.add_alert(_alert("k1", now))
                # the lease is taken away (expired, then taken by b): a's next write is
                # refused by the database, whatever a's own clock believes
                await _expire(pg_db)
                assert await b.acquire()
                assert a.held
                with pytest.raises(StoreError, match="fenced") as caught:
                    await fenced.add_alert(_alert("k2", now))
                assert "k2" not in caught.value.one_line()
                with pytest.raises(StoreError, match="fenced"):
                    await fenced.audit("a", "late", EVENT, after={})
                # a connection without fence settings (store copy, the CLI) is not fenced
                await plain.add_alert(_alert("k3", now))
            assert sorted(r.key for r in await plain.list_alerts()) == ["k1", "k3"]
            assert await plain.verify_audit() >= 0


async def _expire(db: PgDatabase) -> None:
    conn = await asyncpg.connect(db.dsn)
    try:
        await conn.execute("UPDATE engine_lease SET expires_at = now()")
    finally:
        await conn.close()


async def test_the_databases_refusal_comes_back_as_fenced(pg_db: PgDatabase) -> None:
    # the lease check passes (a holds it) but the store's connections are another term's:
    # the trigger refuses in the writing transaction and the engine is told
    told: list[Fenced] = []
    now = datetime.now(UTC)
    url = fenced_url(pg_db.url, EVENT, "engine-of-an-earlier-term")
    # the lease opens after the store, as in serve: the store's tables get the trigger
    async with (
        PostgresStore(url, event_id=EVENT, password=pg_db.password) as inner,
        lease(pg_db, "http://a:1") as a,
    ):
        assert await a.acquire()
        store = fenced_store(inner, a, told.append)
        with pytest.raises(Fenced, match="database refused a late add_alert"):
            await store.add_alert(_alert("k1", now))
        assert len(told) == 1
        assert await store.list_alerts() == []


async def test_a_store_fenced_in_the_database_needs_no_check_per_write(pg_db: PgDatabase) -> None:
    # as serve runs on a PostgreSQL store: the local clock is checked before a write, the
    # database refuses a write of a term that is over; a's clock stands still (paused)
    told: list[Fenced] = []
    now = datetime.now(UTC)
    frozen = FakeClock()
    a = LeaderLease(pg_db.dsn, EVENT, address="http://a:1", ttl_s=30, clock=frozen)
    url = fenced_url(pg_db.url, EVENT, a.holder)
    async with (
        PostgresStore(url, event_id=EVENT, password=pg_db.password) as inner,
        a,
        lease(pg_db, "http://b:1") as b,
    ):
        store = fenced_store(inner, a, told.append, fenced_in_database=True)
        with pytest.raises(Fenced, match="does not hold"):  # no term yet: refused locally
            await store.add_alert(_alert("k0", now))
        assert await a.acquire()
        await store.add_alert(_alert("k1", now))
        await _expire(pg_db)
        assert await b.acquire()
        with pytest.raises(Fenced, match="database refused a late add_alert"):
            await store.add_alert(_alert("k2", now))
        assert len(told) == 2
        assert [r.key for r in await store.list_alerts()] == ["k1"]
