"""The store contract on SQLite and PostgreSQL: writes, reads, audit chain, crash safety.

Tests taking ``make_store`` run on both backends; the others are SQLite internals
(file format, PRAGMAs, triggers edited in the file).
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from eventops.errors import AuditChainBroken, StoreError
from eventops.store import SQLiteStore
from eventops.store.migrations import LATEST, MIGRATIONS
from eventops.store.models import (
    AlertRow,
    ApplyDeviceRow,
    ApplyRow,
    DecisionRow,
    DeviceRow,
    PostRow,
    ProbeResultRow,
    Sample,
)
from tests.helpers.killchild import kill_mid_work
from tests.helpers.pgfixtures import StoreMaker

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 6, 18, 12, 0, tzinfo=UTC)


async def test_fresh_store_is_at_latest_schema_in_wal(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "e.sqlite3") as store:
        assert await store.schema_version() == LATEST
    con = sqlite3.connect(tmp_path / "e.sqlite3")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_forward_migration_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite3"
    async with SQLiteStore(path, migrations=MIGRATIONS[:1]) as old:
        assert await old.schema_version() == 1
        await old.add_samples([Sample(ts=T0, device="m1", metric="clients", value=7)])
        await old.audit("anna", "create", "event")
    async with SQLiteStore(path) as new:
        assert await new.schema_version() == LATEST
        got = await new.query_samples("m1", "clients", T0 - timedelta(1), T0 + timedelta(1))
        assert [s.value for s in got] == [7]
        assert await new.verify_audit() == 1
        await new.set_cursor("x:since_id", "123")  # a table from migration 2
        assert await new.get_cursor("x:since_id") == "123"


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite3"
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version={LATEST + 5}")
    con.close()
    with pytest.raises(StoreError, match="newer than this eventops knows"):
        async with SQLiteStore(path):
            pass


async def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open event store"):
        async with SQLiteStore(path):
            pass


async def test_rows_round_trip(make_store: StoreMaker) -> None:
    async with make_store() as s:
        await s.put_event("demo", "Demo", T0, T0 + timedelta(hours=8), "Europe/Berlin")
        await s.put_devices([DeviceRow(id="m1", kind="mast", driver="openwrt", address="http://x")])
        assert [d.id for d in await s.list_devices()] == ["m1"]
        aid = await s.add_alert(
            AlertRow(
                key="link:l1:down", severity="critical", subject="l1", summary="down", raised_at=T0
            )
        )
        await s.update_alert(aid, state="cleared", cleared_at=T0 + timedelta(minutes=1))
        (alert,) = await s.list_alerts()
        assert alert.state == "cleared" and alert.cleared_at == T0 + timedelta(minutes=1)
        assert await s.list_alerts(open_only=True) == []
        with pytest.raises(ValueError):
            await s.update_alert(aid, key="other")
        await s.add_probe_result(
            ProbeResultRow(
                ts=T0, target="l1", kind="acceptance", passed=True, result={"steps": [1]}
            )
        )
        (pr,) = await s.list_probe_results("l1")
        assert pr.passed is True and pr.result == {"steps": [1]}
        post = PostRow(id="x:1", source="x", author="a", text="hi", created_at=T0)
        await s.upsert_posts([post])
        await s.decide(
            DecisionRow(post_id="x:1", ts=T0, actor="presse", action="approve"), "approved", True
        )
        got = await s.get_post("x:1")
        assert got is not None and got.state == "approved" and got.pinned
        assert [d.action for d in await s.list_decisions("x:1")] == ["approve"]
        assert [p.id for p in await s.list_posts("approved")] == ["x:1"]


async def test_times_are_stored_in_utc(tmp_path: Path) -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 6, 18, 14, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    async with SQLiteStore(tmp_path / "e.sqlite3") as s:
        await s.add_alert(
            AlertRow(key="k", severity="info", subject="s", summary="x", raised_at=local)
        )
    con = sqlite3.connect(tmp_path / "e.sqlite3")
    assert (
        con.execute("SELECT raised_at FROM alerts").fetchone()[0].startswith("2026-06-18T12:00:00")
    )


async def test_failing_job_does_not_spoil_its_group(make_store: StoreMaker) -> None:
    async with make_store() as s:

        async def bad(c: object) -> None:
            await c.execute("INSERT INTO nowhere VALUES (1)")  # type: ignore[attr-defined]

        good = [s.add_samples([Sample(ts=T0, device="d", metric="m", value=i)]) for i in range(20)]
        results = await asyncio.gather(*good, s.run_write(bad), return_exceptions=True)
        assert isinstance(results[-1], StoreError)
        assert all(r is None for r in results[:-1])
        got = await s.query_samples("d", "m", T0 - timedelta(1), T0 + timedelta(1))
        assert sorted(x.value for x in got) == list(range(20))


async def test_write_after_close_is_refused(make_store: StoreMaker) -> None:
    s = make_store()
    await s.open()
    await s.close()
    with pytest.raises(StoreError, match="not open"):
        await s.add_samples([])


async def test_apply_is_all_or_nothing(make_store: StoreMaker) -> None:
    async with make_store() as s:
        rows = [ApplyDeviceRow(device="m1", result="ok"), ApplyDeviceRow(device="m1", result="dup")]
        # A duplicate device is an upsert, fine; a foreign-key violation is not.
        aid = await s.record_apply(ApplyRow(started_at=T0, actor="a"), rows)
        got = await s.get_apply(aid)
        assert got is not None and [d.result for d in got[1]] == ["dup"]

        # An apply whose device rows cannot be written leaves no apply behind.
        async def broken_apply(c: Any) -> None:
            await c.execute(
                make_store.sql(
                    "INSERT INTO applies (id, started_at, actor) VALUES (999, '2026-01-01', 'a')",
                    "INSERT INTO applies (event_id, id, started_at, actor) "
                    "VALUES ('demo', 999, '2026-01-01', 'a')",
                )
            )
            await c.execute(
                make_store.sql(
                    "INSERT INTO apply_devices (apply_id, device, result) VALUES (12345, 'm1', 'ok')",
                    "INSERT INTO apply_devices (event_id, apply_id, device, result) "
                    "VALUES ('demo', 12345, 'm1', 'ok')",
                )
            )

        with pytest.raises(StoreError, match=r"(?i)FOREIGN KEY"):
            await s.run_write(broken_apply)
        assert await s.get_apply(999) is None


async def test_audit_chain_detects_tampering(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite3"
    async with SQLiteStore(path) as s:
        for i in range(5):
            await s.audit(
                "anna", "approve", f"post{i}", {"state": "pending"}, {"state": "approved"}
            )
        assert await s.verify_audit() == 5
        entries = await s.audit_entries()
        assert entries[1].prev_hash == entries[0].hash
    con = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        con.execute("UPDATE audit SET actor='mallory' WHERE id=3")
    # Someone who drops the trigger can edit rows, but not without breaking the chain.
    con.execute("DROP TRIGGER audit_no_update")
    con.execute("UPDATE audit SET actor='mallory' WHERE id=3")
    con.commit()
    con.close()
    async with SQLiteStore(path) as s:
        with pytest.raises(AuditChainBroken, match="entry 3 was altered"):
            await s.verify_audit()


async def test_audit_chain_detects_deletion(tmp_path: Path) -> None:
    path = tmp_path / "e.sqlite3"
    async with SQLiteStore(path) as s:
        for i in range(4):
            await s.audit("anna", "x", str(i))
    con = sqlite3.connect(path)
    con.execute("DROP TRIGGER audit_no_delete")
    con.execute("DELETE FROM audit WHERE id=2")
    con.commit()
    con.close()
    async with SQLiteStore(path) as s:
        with pytest.raises(AuditChainBroken, match="entry 2 is missing"):
            await s.verify_audit()


@pytest.mark.slow
def test_acknowledged_writes_survive_sigkill(make_store: StoreMaker) -> None:
    """Kill a writing child at random points; every acknowledged write survives."""
    target = (
        make_store.db.url
        if make_store.db is not None
        else str(make_store.tmp_path / "demo.sqlite3")
    )
    rng = random.Random(20260618)
    acked_samples: set[int] = set()
    acked_applies: set[int] = set()
    acked_audit = 0
    next_i = 0

    async def stored() -> tuple[str, set[int], dict[int, int], int]:
        async with make_store() as s:
            values = await s.query_samples("kill", "n", T0 - timedelta(days=365), T0)
            applies = {}
            for a in await s.list_applies(limit=100_000):
                assert a.id is not None
                got = await s.get_apply(a.id)
                assert got is not None
                applies[a.id] = len(got[1])
            return (
                await s.integrity_check(),
                {int(x.value) for x in values},
                applies,
                (await s.audit_head())[0],
            )

    for _round in range(12):
        acks = kill_mid_work(
            "tests.helpers.store_child",
            [target, str(next_i)],
            rng,
            what="acknowledged a write",
            acked=1,
            window_s=0.4,
        )
        for line in acks:
            kind, value = line.split()
            if kind == "S":
                acked_samples.add(int(value))
                next_i = max(next_i, int(value) + 1)
            elif kind == "A":
                acked_applies.add(int(value))
            elif kind == "U":
                acked_audit = max(acked_audit, int(value))
        next_i += 1  # a write may have committed without its ack being printed
        integrity, samples, applies, head = asyncio.run(stored())
        assert integrity == "ok"
        assert acked_samples <= samples, sorted(acked_samples - samples)[:5]
        assert acked_applies <= set(applies)
        # All or nothing: every stored apply has all of its device rows.
        assert all(n == 8 for n in applies.values()), applies
        assert head >= acked_audit
    assert len(acked_samples) > 12

    async def verify() -> int:
        async with make_store() as s:
            return await s.verify_audit()

    assert asyncio.run(verify()) >= acked_audit


async def test_keyed_chain_and_head(make_store: StoreMaker) -> None:
    from eventops.store.audit import GENESIS, AuditKey

    key = AuditKey.from_secret("k" * 32)
    async with make_store(audit_key=key) as s:
        assert await s.audit_head() == (0, GENESIS)
        first = await s.audit("anna", "create", "event")
        second = await s.audit("bert", "approve", "x:1")
        assert first.mac == key.mac(GENESIS, first.hash)
        assert second.mac == key.mac(str(first.mac), second.hash)
        assert await s.audit_head() == (2, second.hash)
        assert [e.mac for e in await s.audit_entries()] == [first.mac, second.mac]
        assert await s.verify_audit() == 2
        # the same rows under another key do not verify
        s.set_audit_key(AuditKey.from_secret("o" * 32))
        with pytest.raises(AuditChainBroken, match="entry 1 fails its MAC"):
            await s.verify_audit()


async def test_audit_entry_commits_with_its_job(make_store: StoreMaker) -> None:
    """append_audit inside a write job: the entry and the job's rows commit or fail together."""
    from eventops.store.audit import AuditKey

    async with make_store(audit_key=AuditKey.from_secret("k" * 32)) as s:

        async def ok(c: Any) -> None:
            await c.execute(
                make_store.sql(
                    "INSERT INTO cursors (name, value) VALUES ('a', '1')",
                    "INSERT INTO cursors (event_id, name, value) VALUES ('demo', 'a', '1')",
                )
            )
            await s.append_audit(c, "anna", "cursor.set", "a")

        async def fails(c: Any) -> None:
            await s.append_audit(c, "anna", "cursor.set", "b")
            await c.execute("INSERT INTO no_such_table VALUES (1)")

        await s.run_write(ok, durable=True)
        with pytest.raises(StoreError):
            await s.run_write(fails, durable=True)
        assert [e.target for e in await s.audit_entries()] == ["a"]
        assert await s.verify_audit() == 1


def test_short_audit_secret_is_refused() -> None:
    from eventops.errors import SecretError
    from eventops.store.audit import AuditKey

    with pytest.raises(SecretError, match="at least 16 bytes"):
        AuditKey.from_secret("short")
    assert "k" * 32 not in repr(AuditKey.from_secret("k" * 32))


async def test_checkpoint_keeper_signs_when_the_head_moves(make_store: StoreMaker) -> None:
    from eventops.store.audit import AuditKey, Checkpoint, CheckpointKeeper, checkpoint_annotations

    key = AuditKey.from_secret("k" * 32)
    sent: list[dict[str, Any]] = []
    ticks = asyncio.Queue[None]()
    go = asyncio.Event()

    async def sleep(_: float) -> None:
        await ticks.put(None)
        await go.wait()
        go.clear()

    async def sink(cp: dict[str, Any]) -> None:
        sent.append(cp)

    async with make_store(audit_key=key) as s:
        keeper = CheckpointKeeper(s, key, "demo", on_checkpoint=sink, now=lambda: T0)
        task = asyncio.create_task(keeper.run(60, sleep))
        try:
            await asyncio.wait_for(ticks.get(), 5)
            assert [c["seq"] for c in sent] == [0]
            go.set()
            await asyncio.wait_for(ticks.get(), 5)  # head unchanged: nothing new
            assert len(sent) == 1
            entry = await s.audit("anna", "x", "y")
            go.set()
            await asyncio.wait_for(ticks.get(), 5)
            assert [c["seq"] for c in sent] == [0, 1] and sent[-1]["head"] == entry.hash
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    cp = Checkpoint.model_validate(keeper.latest)
    cp.check_signature()
    assert cp.key_id == key.key_id and cp.ts == T0
    notes = checkpoint_annotations(sent[-1])
    assert (
        notes["eventops_audit_seq"] == "1"
        and json.loads(notes["eventops_audit_checkpoint"]) == sent[-1]
    )
