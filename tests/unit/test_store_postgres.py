"""PostgreSQL store specifics: events sharing a database, the audit log's guards in the
database, one-line errors for a bad server, password or database."""

from __future__ import annotations

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
