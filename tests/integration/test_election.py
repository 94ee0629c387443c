"""The election in-process on the injected clock (eventops.engine.standby): the lease in
the real PostgreSQL server of the pg_db fixture, the engines' time a FakeClock, so
"at once" and "one renewal step" are counted in clock steps, not seconds."""

from __future__ import annotations

from pathlib import Path

from eventops_hardware.fleet import SimFleet

from eventops.clock import FakeClock
from eventops.engine import Engine, build_engine
from eventops.engine.standby import Election, Role
from eventops.profile import load_profile
from eventops.profile.models import Profile
from eventops.store import SQLiteStore
from eventops.store.fenced import fenced_store
from eventops.store.lease import Fenced, LeaderLease
from tests.helpers.pgfixtures import PgDatabase
from tests.helpers.wait import eventually
from tests.integration.adapters.conftest import demo_profile_copy


class Side:
    """One engine with its election, on its own clock."""

    def __init__(self, profile: Profile, inner: SQLiteStore, lease: LeaderLease) -> None:
        self.lease = lease
        self.election: Election | None = None
        store = fenced_store(inner, lease, self._fenced)
        self.engine: Engine = build_engine(
            profile, store, clock=lease.clock, provisioning=False, wall=False
        )
        self.election = Election(self.engine, lease)

    def _fenced(self, exc: Fenced) -> None:
        if self.election is not None:
            self.election.fenced(exc)


async def _expire(db: PgDatabase) -> None:
    import asyncpg

    conn = await asyncpg.connect(db.dsn)
    try:
        await conn.execute("UPDATE engine_lease SET expires_at = now()")
    finally:
        await conn.close()


async def test_one_polls_the_other_stands_by_and_a_lost_lease_stops_polling_at_once(
    tmp_path: Path, pg_db: PgDatabase
) -> None:
    profile = load_profile(demo_profile_copy(tmp_path))
    clock_a, clock_b = FakeClock(), FakeClock()
    async with (
        SimFleet(profile),
        SQLiteStore(tmp_path / "event.sqlite3") as inner,
        LeaderLease(
            pg_db.dsn, profile.event.id, address="http://a:1", ttl_s=30, clock=clock_a
        ) as lease_a,
        LeaderLease(
            pg_db.dsn, profile.event.id, address="http://b:1", ttl_s=30, clock=clock_b
        ) as lease_b,
    ):
        a, b = Side(profile, inner, lease_a), Side(profile, inner, lease_b)
        ea, eb = a.election, b.election
        assert ea is not None and eb is not None
        await ea.start()
        await eb.start()
        try:
            assert ea.role is Role.ACTIVE and a.engine.polling
            assert sorted(a.engine.supervisor.names)  # pollers and tasks run
            # the standby runs nothing and knows where the active engine is
            assert eb.role is Role.STANDBY and not b.engine.polling
            assert b.engine.supervisor.names == []
            assert eb.active_address == "http://a:1"
            # the lease is taken away (its row expired) and the standby takes it at its
            # next step: one renewal interval on its clock
            await _expire(pg_db)
            await clock_b.advance(eb.renew_s)
            await eventually(lambda: eb.role is Role.ACTIVE and b.engine.polling, what="b polls")
            assert b.engine.polling and b.engine.supervisor.names
            assert lease_b.token == 2
            # within a's next renewal interval on its clock, its renewal or its next write
            # (whichever comes first) is refused by the database: every poller and task of
            # a stops at once
            await clock_a.advance(ea.renew_s)
            await eventually(ea.deposed.is_set, what="a is deposed")
            assert ea.role is Role.DEPOSED
            assert not a.engine.polling and a.engine.supervisor.names == []
            why = ea.reason
            assert "another engine took the lease" in why or "a write was fenced" in why, why
        finally:
            await ea.stop()
            await eb.stop()
        # b stopped cleanly: its lease is released for the next standby at once
        held = await lease_a.current()
        assert held is not None and not held.live and held.token == 2
