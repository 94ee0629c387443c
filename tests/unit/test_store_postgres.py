"""PostgreSQL store specifics: events sharing a database, the audit log's guards in the
database, one-line errors for a bad server, password or database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from eventops.errors import AuditChainBroken, StoreError
from eventops.store.audit import GENESIS, AuditKey
from eventops.store.models import (
    AlertRow,
    ApplyDeviceRow,
    ApplyRow,
    AuthorBlockRow,
    DecisionRow,
    DeviceRow,
    HandoverRow,
    PendingRestoreRow,
    PostRow,
    ProbeResultRow,
    Sample,
    SilenceRow,
)
from eventops.store.postgres import PostgresStore, redact_url
from tests.helpers.pgfixtures import PgDatabase
from tests.helpers.wait import eventually

T0 = datetime(2026, 6, 18, 12, 0, tzinfo=UTC)


def _store(db: PgDatabase, event: str, **kw: object) -> PostgresStore:
    return PostgresStore(db.url, event_id=event, password=db.password, **kw)  # type: ignore[arg-type]


async def _fill(s: PostgresStore, tag: str) -> None:
    await s.put_event(s.event_id, f"Event {tag}", T0, T0 + timedelta(hours=8), "Europe/Berlin")
    await s.put_devices(
        [DeviceRow(id="m1", kind="mast", driver="openwrt", address=f"http://{tag}")]
    )
    await s.add_samples([Sample(ts=T0, device="m1", metric="clients", value=1.0)])
    await s.add_alert(AlertRow(key="k", severity="info", subject="m1", summary=tag, raised_at=T0))
    await s.add_probe_result(ProbeResultRow(ts=T0, target="l1", kind="x", result={"t": tag}))
    await s.upsert_posts([PostRow(id="x:1", source="x", author="a", text=tag, created_at=T0)])
    await s.decide(DecisionRow(post_id="x:1", ts=T0, actor=tag, action="approve"), "approved", None)
    await s.put_author_block(AuthorBlockRow(author="a", actor=tag, reason="r", created_at=T0))
    await s.set_cursor("c", tag)
    await s.record_apply(
        ApplyRow(started_at=T0, actor=tag), [ApplyDeviceRow(device="m1", result="applied")]
    )
    await s.arm_restore(
        PendingRestoreRow(
            device="m1", site="s", apply_id=1, driver="openwrt", armed_at=T0, deadline=T0,
            previous={"t": tag},
        )
    )  # fmt: skip
    await s.add_handover(
        HandoverRow(ts=T0, link="l1", authority="police", actor=tag, record={"t": tag}),
        audit_action="handover",
        audit_after={"t": tag},
    )

    async def silence(tx: object) -> int:
        return await tx.add_silence(  # type: ignore[attr-defined,no-any-return]
            SilenceRow(matchers={"k": tag}, until=T0 + timedelta(days=1), actor=tag, created_at=T0)
        )

    await s.ops_transaction(silence)
    await s.audit(tag, "write", tag)


async def test_two_events_share_a_database_without_seeing_each_other(pg_db: PgDatabase) -> None:
    async with _store(pg_db, "market") as a, _store(pg_db, "match") as b:
        await _fill(a, "market")
        assert await b.list_devices() == []
        assert await b.list_alerts() == []
        assert await b.query_samples("m1", "clients", T0, T0) == []
        await _fill(b, "match")
        for s, tag in ((a, "market"), (b, "match")):
            assert [d.address for d in await s.list_devices()] == [f"http://{tag}"]
            assert [x.summary for x in await s.list_alerts()] == [tag]
            assert len(await s.query_samples("m1", "clients", T0, T0)) == 1
            assert [p.result for p in await s.list_probe_results()] == [{"t": tag}]
            assert [p.text for p in await s.list_posts()] == [tag]
            assert [d.actor for d in await s.list_decisions()] == [tag]
            assert [x.actor for x in await s.list_author_blocks()] == [tag]
            assert await s.get_cursor("c") == tag
            assert [x.actor for x in await s.list_applies()] == [tag]
            assert [r.previous for r in await s.pending_restores()] == [{"t": tag}]
            assert [h.actor for h in await s.list_handovers()] == [tag]
            assert [x.actor for x in await s.list_silences()] == [tag]
            assert await s.decision_counts() == [(tag, "approve", 1)]
            # each event has its own chain, from 1
            entries = await s.audit_entries()
            assert [e.id for e in entries] == [1, 2] and entries[0].prev_hash == GENESIS
            assert await s.verify_audit() == 2
        # purges and forgets stay inside their event
        assert [p.id for p in await a.forget_author("a")] == ["x:1"]
        assert await a.list_posts() == [] and [p.text for p in await b.list_posts()] == ["match"]
        assert await a.purge_samples(T0 + timedelta(days=1)) == 1
        assert len(await b.query_samples("m1", "clients", T0, T0)) == 1
        # an id from the other event is not found here
        (other,) = await b.list_alerts()
        assert other.id is not None
        await a.update_alert(other.id, state="cleared")
        assert [x.state for x in await b.list_alerts()] == ["open"]
        with pytest.raises(StoreError, match="holds event market, not match"):
            await a.put_event("match", "x", T0, T0, "UTC")


async def test_the_database_keeps_the_audit_log_append_only(pg_db: PgDatabase) -> None:
    async with _store(pg_db, "e", audit_key=AuditKey.from_secret("k" * 32)) as s:
        for i in range(3):
            await s.audit("anna", "approve", f"post{i}", {"q": 'a"\\\n\t\x01é€😀'}, None)
        assert await s.verify_audit() == 3
    conn = await asyncpg.connect(pg_db.dsn)
    try:
        for sql in (
            "UPDATE audit SET actor='mallory' WHERE id=2",
            "DELETE FROM audit WHERE id=3",
            "TRUNCATE audit",
        ):
            with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
                await conn.execute(sql)
        last = await conn.fetchrow("SELECT * FROM audit WHERE event_id='e' ORDER BY id DESC")
        assert last is not None
        forged = dict(last.items()) | {"id": 4, "prev_hash": last["hash"], "actor": "mallory"}
        insert = (
            "INSERT INTO audit (event_id, id, ts, actor, action, target, before, after, "
            "prev_hash, hash, mac) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
        )

        async def put(row: dict[str, object]) -> None:
            await conn.execute(
                insert, *(row[k] for k in insert[19 : insert.index(")")].split(", "))
            )

        with pytest.raises(asyncpg.CheckViolationError, match="does not hash to its hash"):
            await put(forged)  # the old hash for new content
        with pytest.raises(asyncpg.CheckViolationError, match="not the next"):
            await put(forged | {"id": 9})
        with pytest.raises(asyncpg.CheckViolationError, match="does not follow"):
            await put(forged | {"prev_hash": GENESIS})
        with pytest.raises(asyncpg.CheckViolationError, match="no MAC"):
            await put(forged | {"mac": None})
        # the owner can switch the guards off; the chain still shows the edit
        await conn.execute("ALTER TABLE audit DISABLE TRIGGER USER")
        await conn.execute("UPDATE audit SET actor='mallory' WHERE event_id='e' AND id=2")
    finally:
        await conn.close()
    async with _store(pg_db, "e") as s:
        with pytest.raises(AuditChainBroken, match="entry 2 was altered"):
            await s.verify_audit()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"password": "wrong-password-123"}, "refused the user or password"),
        ({"db": "no_such_db"}, "no such database"),
        ({"host": "/nonexistent/socket/dir"}, "cannot reach the server"),
    ],
)
async def test_bad_server_password_or_database_is_one_line(
    pg_db: PgDatabase, change: dict[str, str], match: str
) -> None:
    url = pg_db.url
    if "db" in change:
        url = url.replace(f"/{pg_db.name}?", f"/{change['db']}?")
    if "host" in change:
        url = url.split("?")[0] + f"?host={change['host']}"
    password = change.get("password", pg_db.password)
    with pytest.raises(StoreError) as caught:
        async with PostgresStore(url, event_id="e", password=password):
            pass
    msg = str(caught.value)
    assert match in msg and "\n" not in msg
    assert password not in msg and pg_db.password not in msg


def test_urls_with_a_password_are_refused_and_never_shown() -> None:
    with pytest.raises(StoreError, match="carries a password") as caught:
        PostgresStore("postgresql://u:s3cret@db.example/ev", event_id="e")
    assert "s3cret" not in str(caught.value)
    with pytest.raises(StoreError, match="not postgresql"):
        PostgresStore("mysql://u@h/db", event_id="e")
    with pytest.raises(StoreError, match="names no database"):
        PostgresStore("postgresql://u@h/", event_id="e")
    assert redact_url("postgresql://u:pw@h:5433/db?password=pw&host=/s") == (
        "postgresql://u@h:5433/db?host=/s"
    )
    assert "pw" not in repr(PostgresStore("postgresql://u@h/db", event_id="e", password="pw"))


async def test_a_bad_sample_batch_does_not_spoil_the_merged_insert(pg_db: PgDatabase) -> None:
    """The writer merges a group's sample batches into one INSERT; when that fails (here: a NUL,
    which PostgreSQL's text refuses), each batch runs alone and only the bad one fails."""
    async with _store(pg_db, "e") as s:
        good = [s.add_samples([Sample(ts=T0, device="d", metric="m", value=i)]) for i in range(20)]
        bad = s.add_samples([Sample(ts=T0, device="bad\x00", metric="m", value=99)])
        results = await asyncio.gather(*good, bad, return_exceptions=True)
        assert isinstance(results[20], StoreError) and "0x00" in str(results[20])
        assert results[:20] == [None] * 20
        got = await s.query_samples("d", "m", T0, T0)
        assert sorted(x.value for x in got) == list(range(20))
        # and merged batches land as well as single ones
        await asyncio.gather(
            *(s.add_samples([Sample(ts=T0, device="e", metric="m", value=i)]) for i in range(50))
        )
        assert len(await s.query_samples("e", "m", T0, T0)) == 50


async def test_the_store_connects_again_after_the_server_dropped_its_sessions(
    pg_db: PgDatabase,
) -> None:
    """A restart or failover ends the server's sessions: the next write and read go through
    on new connections, and the chain goes on where it was."""
    async with _store(pg_db, "e") as s:
        await s.audit("anna", "before", "x")
        assert await s.list_alerts() == []
        ended = pg_db.cluster.psql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            f"WHERE datname = '{pg_db.name}' AND pid <> pg_backend_pid()",
            db="postgres",
        )
        assert int(ended) >= 2  # the writer's and the readers' sessions
        entry = await s.audit("anna", "after", "x")
        assert entry.id == 2
        assert [e.action for e in await s.audit_entries()] == ["before", "after"]
        assert await s.verify_audit() == 2


async def test_an_engine_role_without_ddl_rights_uses_a_migrated_database(
    pg_db: PgDatabase,
) -> None:
    """An administrator migrates (``eventops store migrate`` as the owner); the engines run as
    a role that may read and write rows only."""
    async with _store(pg_db, "e") as s:  # the owner creates the schema
        await s.audit("admin", "migrate", "db")
    role = f"engine_{pg_db.name}"
    pg_db.cluster.psql(
        f"CREATE ROLE {role} LOGIN PASSWORD 'engine-pw-123';\n"
        f"GRANT CONNECT ON DATABASE {pg_db.name} TO {role};\n",
        db="postgres",
    )
    pg_db.cluster.psql(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};\n"
        f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role};\n",
        db=pg_db.name,
    )
    url = pg_db.url.replace("eventops@", f"{role}@")
    try:
        async with PostgresStore(url, event_id="e", password="engine-pw-123") as s:
            await s.add_alert(
                AlertRow(key="k", severity="info", subject="m", summary="s", raised_at=T0)
            )
            entry = await s.audit("engine", "write", "x")
            assert entry.id == 2 and await s.verify_audit() == 2
        conn = await asyncpg.connect(url, password="engine-pw-123")
        try:
            with pytest.raises(asyncpg.RestrictViolationError, match="append-only"):
                await conn.execute("DELETE FROM audit")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute("ALTER TABLE audit DISABLE TRIGGER USER")
        finally:
            await conn.close()
    finally:
        pg_db.cluster.drop_database(pg_db.name)
        pg_db.cluster.psql(f"DROP ROLE {role}", db="postgres")


async def test_one_events_writers_wait_for_each_other_and_no_other_event(
    pg_db: PgDatabase,
) -> None:
    """The write lock is per event: while a transaction of event A holds it, another
    process's write to A waits (so a check made in a transaction still holds at commit)
    and event B's writes go on."""
    async with (
        _store(pg_db, "a") as a1,
        _store(pg_db, "a") as a2,
        _store(pg_db, "b") as b,
    ):
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND application_name = 'eventops'"
        )
        async with a1.locked_transaction() as conn:
            await conn.execute(
                "INSERT INTO cursors (event_id, name, value) VALUES ('a', 'held', '1')"
            )
            blocked = asyncio.create_task(a2.set_cursor("c", "from a2"))
            await eventually(lambda: _count(conn, waiting, 1), what="a2 waits for the lock")
            await b.set_cursor("c", "from b")  # another event: not held up
            assert await b.get_cursor("c") == "from b"
            assert not blocked.done()
            assert await a2.get_cursor("held") is None  # not committed yet
        await blocked
        assert await a2.get_cursor("c") == "from a2" and await a2.get_cursor("held") == "1"


async def _count(conn: asyncpg.Connection, sql: str, want: int) -> bool:
    return bool(await conn.fetchval(sql) == want)
