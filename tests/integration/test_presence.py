"""Which engines serve the event, and the alert when its standby is gone
(eventops.store.presence, eventops.engine.presence): in-process elections on FakeClocks
with the lease and the presence table in the real PostgreSQL server of the pg_db fixture.

Ages are the database server's (``now() - seen_at``): "a standby not seen for 80 s" is
made by moving its row's ``seen_at`` back in the database, not by waiting. Each engine's
steps are counted in its clock's renewal steps and its heartbeats.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from eventops.api.client import EngineClient
from eventops.clock import FakeClock
from eventops.engine.presence import MISSING_KEY
from eventops.engine.standby import Role
from eventops.errors import StoreError
from eventops.i18n import render
from eventops.store import SQLiteStore
from eventops.store.lease import LeaderLease
from eventops.store.presence import MAX_ROWS
from tests.helpers.pgfixtures import PgDatabase
from tests.helpers.wait import eventually
from tests.integration.electionkit import (
    TTL_S,
    Side,
    election_profile,
    engine_pair,
    served,
    sql,
    unseen_for,
)
from tests.integration.enginekit import TECH


async def test_a_standby_gone_for_three_ttls_is_alerted_and_cleared_when_one_is_back(
    tmp_path: Path, pg_db: PgDatabase
) -> None:
    async with engine_pair(tmp_path, pg_db) as pair:
        a, b, inner = pair.a, pair.b, pair.inner
        lease_a, lease_b = a.lease, b.lease
        async with EngineClient(a.url, TECH) as api_a:
            assert a.el.role is Role.ACTIVE and b.el.role is Role.STANDBY
            assert a.el.absent_after_s == 3 * TTL_S
            # A's first step saw no standby yet; its next one (in engine_pair) saw B
            view = await api_a.engines()
            assert view.role == "active" and view.address == "http://a:1"
            assert view.standby == "auto" and view.standby_live and view.standby_expected
            rows = {e.address: e for e in view.engines}
            assert set(rows) == {"http://a:1", "http://b:1"}
            assert rows["http://a:1"].this and rows["http://a:1"].role == "active"
            assert rows["http://b:1"].role == "standby" and rows["http://b:1"].live
            assert not rows["http://b:1"].this and rows["http://b:1"].holder == lease_b.holder
            assert 0.0 <= rows["http://b:1"].age_s < TTL_S
            (mark,) = await sql(pg_db, "SELECT standby_seen_at FROM engine_lease")
            assert mark[0] is not None, "the event is marked as one that has a standby"
            # the standby's own view names the active engine
            async with EngineClient(b.url, TECH) as api_b:
                seen_by_b = await api_b.engines()
            assert seen_by_b.role == "standby" and seen_by_b.active == "http://a:1"
            assert {e.address for e in seen_by_b.engines} == {"http://a:1", "http://b:1"}

            # B loses its database: its heartbeats stop (the election goes on, logging it)
            await lease_b.close()
            # not seen for 80 s (< 3 ttls): no alert yet
            await unseen_for(pg_db, lease_b.holder, 80.0)
            await a.step()
            assert a.missing() == [], a.engine.alerts.open_alerts()
            view = await api_a.engines()
            assert view.standby_live and view.standby_expected  # seen 80 s ago: still counts
            assert {e.address: e.live for e in view.engines}["http://b:1"] is True
            # not seen for 100 s (> 3 ttls): the warning is raised, once
            await unseen_for(pg_db, lease_b.holder, 100.0)
            await a.step()
            (alert,) = [x for x in a.engine.alerts.open_alerts() if x.key == MISSING_KEY]
            assert alert.severity == "warning" and alert.subject == "engine"
            assert alert.msg_id == "alert.standby_gone"
            assert alert.params["address"] == "http://b:1"
            assert "no standby engine since" in alert.summary and "http://b:1" in alert.summary
            de = render(alert.msg_id, alert.params, "de")
            assert de.startswith("keine Standby-Engine seit") and "http://b:1" in de
            view = await api_a.engines()
            assert not view.standby_live and view.standby_expected
            assert {e.address: e.live for e in view.engines}["http://b:1"] is False
            listed = [x for x in await api_a.alerts() if x.key == MISSING_KEY]
            assert [x.id for x in listed] == [alert.id]
            await a.step()
            assert a.missing() == [MISSING_KEY], "raised twice"

            # B is back: its next heartbeat is seen by A's next step, and the alert clears
            await lease_b.open()
            await b.step()
            await a.step()
            assert a.missing() == []
            stored = [x for x in await inner.list_alerts() if x.key == MISSING_KEY]
            assert [(x.id, x.state) for x in stored] == [(alert.id, "cleared")]
    # a clean stop says so (the active one after releasing its lease)
    final = await sql(pg_db, "SELECT holder, role FROM engine_presence")
    assert {r["holder"]: r["role"] for r in final} == {
        lease_a.holder: "stopped",
        lease_b.holder: "stopped",
    }


async def test_a_take_over_leaves_the_event_without_a_standby_and_says_so(
    tmp_path: Path, pg_db: PgDatabase
) -> None:
    """A dies while active (its row stays 'active', stale), B takes over: the event had a
    standby, so B alerts that it has none once its term is older than three ttls."""
    async with engine_pair(tmp_path, pg_db) as pair:  # A has seen B: the event has a standby
        a, b = pair.a, pair.b
        await a.lease.close()  # A is gone (and its lease runs out)
        await sql(pg_db, "UPDATE engine_lease SET expires_at = now()")
        await b.step()
        assert b.el.role is Role.ACTIVE
        assert b.missing() == []  # B's term just began
        await sql(pg_db, "UPDATE engine_lease SET acquired_at = now() - interval '1 hour'")
        await b.step()
        (alert,) = [x for x in b.engine.alerts.open_alerts() if x.key == MISSING_KEY]
        assert alert.msg_id == "alert.standby_missing", alert


async def test_a_lone_engine_expects_no_standby_unless_required(
    tmp_path: Path, pg_db: PgDatabase
) -> None:
    for standby in ("auto", "required"):
        profile = election_profile(tmp_path / standby, standby)
        event = f"lone-{standby}"
        profile = profile.model_copy(
            update={"event": profile.event.model_copy(update={"id": event})}
        )
        async with (
            SQLiteStore(tmp_path / standby / "event.sqlite3") as inner,
            LeaderLease(
                pg_db.dsn, event, address="http://a:1", ttl_s=TTL_S, clock=FakeClock()
            ) as lease,
        ):
            a = Side(profile, inner, lease)
            async with served(a):
                await sql(
                    pg_db,
                    "UPDATE engine_lease SET acquired_at = now() - interval '1 hour'"
                    " WHERE event_id = $1",
                    event,
                )
                await a.step()
                assert a.missing() == ([MISSING_KEY] if standby == "required" else []), standby


async def test_the_presence_table_refuses_hostile_rows(pg_db: PgDatabase) -> None:
    async with LeaderLease(pg_db.dsn, "ev", address="http://a:1", ttl_s=TTL_S) as lease:
        await lease.heartbeat("standby", live_s=90.0)
        insert = (
            "INSERT INTO engine_presence (event_id, holder, address, role, started_at, seen_at)"
            " VALUES ($1, $2, $3, $4, now(), now() + make_interval(secs => $5))"
        )
        for args in [
            ("x" * 201, "h", "http://x:1", "standby", 0.0),
            ("", "h", "http://x:1", "standby", 0.0),
            ("ev", "h" * 201, "http://x:1", "standby", 0.0),
            ("ev", "", "http://x:1", "standby", 0.0),
            ("ev", "h", "http://x:1/" + "a" * 500, "standby", 0.0),
            ("ev", "h", "http://x:1", "leader'; DROP TABLE engine_lease; --", 0.0),
            ("ev", "h", "http://x:1", "standby", -60.0),  # seen before it started
        ]:
            with pytest.raises(asyncpg.CheckViolationError):
                await sql(pg_db, insert, *args)
        # the engine's own side refuses them before they reach the database
        with pytest.raises(StoreError, match="role"):
            await lease.heartbeat("leader", live_s=90.0)
        with pytest.raises(StoreError, match="holder id"):
            LeaderLease(pg_db.dsn, "ev", address="http://a:1", ttl_s=TTL_S, holder="h" * 201)
        rows = await sql(pg_db, "SELECT holder, role FROM engine_presence")
        assert [(r["holder"], r["role"]) for r in rows] == [(lease.holder, "standby")]
        assert len(await sql(pg_db, "SELECT 1 FROM engine_lease")) == 0


async def test_the_presence_table_stays_bounded(pg_db: PgDatabase) -> None:
    """A crash loop left hundreds of rows: one heartbeat keeps the most recently seen
    MAX_ROWS of other engines and drops those not seen for a day; other events' rows stay."""
    insert_rows = (
        "INSERT INTO engine_presence (event_id, holder, address, role, started_at, seen_at)"
        " SELECT $1, $4 || i, 'http://d:' || i, 'standby', now() - interval '3 days',"
        " now() - make_interval(secs => $2 + i) FROM generate_series(1, $3) AS i"
    )
    async with LeaderLease(pg_db.dsn, "ev", address="http://a:1", ttl_s=TTL_S) as lease:
        await lease.heartbeat("standby", live_s=90.0)  # the table exists now
        await sql(pg_db, insert_rows, "ev", 60.0, 300, "dead-")  # seen within the last day
        await sql(pg_db, insert_rows, "ev", 200_000.0, 50, "old-")  # gone for more than a day
        await sql(pg_db, insert_rows, "other-event", 200_000.0, 5, "old-")
        snap = await lease.heartbeat("standby", live_s=90.0)
        rows = await sql(pg_db, "SELECT holder, seen_at FROM engine_presence WHERE event_id = 'ev'")
        others = sorted(r["holder"] for r in rows if r["holder"] != lease.holder)
        assert len(others) == MAX_ROWS
        # the most recently seen ones stay: dead-1 .. dead-32 of the first batch
        assert set(others) == {f"dead-{i}" for i in range(1, MAX_ROWS + 1)}
        assert len(snap.engines) == MAX_ROWS + 1 and snap.engines[0].mine
        assert {e.holder for e in snap.others} == set(others)
        assert (
            len(await sql(pg_db, "SELECT 1 FROM engine_presence WHERE event_id = 'other-event'"))
            == 5
        )
        # and a second heartbeat changes nothing
        await lease.heartbeat("standby", live_s=90.0)
        assert len(await sql(pg_db, "SELECT 1 FROM engine_presence WHERE event_id = 'ev'")) == (
            MAX_ROWS + 1
        )


async def test_a_standby_shows_what_the_active_engine_last_stored_not_never_polled(
    tmp_path: Path, pg_db: PgDatabase
) -> None:
    # A's polls once, at its start: what B shows must be exactly those
    async with engine_pair(tmp_path, pg_db, seen=False) as pair:
        a, b, inner, fleet = pair.a, pair.b, pair.inner, pair.fleet
        series = [(d.id, "poll_s") for d in pair.profile.devices]
        series += [("sw-core", "rx_dbm.Ethernet1/1"), ("mc-police", "rx_dbm.sfp0")]
        async with (
            EngineClient(a.url, TECH) as api_a,
            EngineClient(b.url, TECH) as api_b,
        ):
            # A took over and polled every device at once; its polls are in the store
            await eventually(
                lambda: _stored_all(inner, series), within=60, what="A stored its first polls"
            )
            await b.step()
            assert all(st.reachable is None for st in b.engine.devices.values()), "B polled"
            stored = {(s.device, s.metric): s for s in await inner.latest_samples(series)}
            # (as B loaded them from the store at its step; A may raise more meanwhile)
            open_alerts = [x for x in b.engine.alerts.open_alerts() if x.severity != "info"]
            for d in await api_b.devices():
                assert d.source == "active" and d.reachable is True, d
                assert d.stored_at is not None and d.as_of == stored[(d.id, "poll_s")].ts, d
                assert not d.stale and d.checks == [], d
                raised = [x for x in open_alerts if x.subject == d.id]
                if raised:  # the verdict is the active engine's: its worst open alert
                    worst = (
                        "critical" if any(x.severity == "critical" for x in raised) else "warning"
                    )
                    assert d.health == worst and d.reason_id == raised[0].msg_id, d
                    assert d.reason in {x.summary for x in raised if x.severity == worst}, d
                else:
                    assert (d.health, d.reason_id) == ("ok", "health.stored"), d
                    assert "last poll by the active engine" in d.reason
            assert (await api_b.device("mast-01")).clients is not None
            # the active engine's own view is its own reading
            assert {d.source for d in await api_a.devices()} == {"this"}
            link = await api_b.link("fibre-police")
            assert link.source == "active" and link.state == "up" and link.health == "ok"
            assert link.rx_dbm == {
                "a": stored[("sw-core", "rx_dbm.Ethernet1/1")].value,
                "b": stored[("mc-police", "rx_dbm.sfp0")].value,
            }
            assert link.margin_db is not None and not link.stale
            # the verdict is the active engine's open alerts: a link it found down is down
            fleet.link_down("fibre-police")
            await a.step()
            await eventually(
                lambda: _open(inner, "link:fibre-police:down"), within=60, what="A raises it"
            )
            await b.step()
            link = await api_b.link("fibre-police")
            assert link.source == "active" and link.state == "down", link
            (down,) = [x for x in await inner.list_alerts() if x.key == "link:fibre-police:down"]
            assert (link.reason, link.since) == (down.summary, down.raised_at)
            assert link.reason_id == down.msg_id
            # after a take-over the new active engine's own polls win
            await sql(pg_db, "UPDATE engine_lease SET expires_at = now()")
            await a.lease.close()
            await b.step()
            assert b.el.role is Role.ACTIVE
            await eventually(
                lambda: all(st.reachable is not None for st in b.engine.devices.values()),
                within=60,
                what="B polled every device",
            )
            assert {d.source for d in await api_b.devices()} == {"this"}
            assert (await api_b.link("fibre-police")).source == "this"


async def _open(store: SQLiteStore, key: str) -> bool:
    return any(a.key == key for a in await store.list_alerts(open_only=True))


async def _stored_all(store: SQLiteStore, series: list[tuple[str, str]]) -> bool:
    return len(await store.latest_samples(series)) == len(series)
