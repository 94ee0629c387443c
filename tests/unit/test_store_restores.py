"""The store's apply-recovery rows: armed restores and unfinished applies (schema 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from eventops.store.migrations import MIGRATIONS
from eventops.store.models import ApplyRow, PendingRestoreRow
from eventops.store.sqlite import SQLiteStore
from tests.helpers.pgfixtures import StoreMaker

T = datetime(2026, 6, 18, 16, 0, tzinfo=UTC)


def restore(device: str, apply_id: int, deadline_s: float) -> PendingRestoreRow:
    return PendingRestoreRow(
        device=device,
        site="buehne",
        apply_id=apply_id,
        driver="restconf",
        armed_at=T,
        deadline=T + timedelta(seconds=deadline_s),
        previous={"interfaces": {"eth0": {"vlans": [], "description": "Bühne"}}},
        withheld=["interfaces.eth0.key"],
    )


async def test_arm_replace_and_clear(make_store: StoreMaker) -> None:
    async with make_store() as store:
        assert await store.pending_restores() == []
        await store.arm_restore(restore("sw-b", 1, 60))
        await store.arm_restore(restore("sw-a", 1, 90))
        assert [(p.device, p.deadline) for p in await store.pending_restores()] == [
            ("sw-b", T + timedelta(seconds=60)),
            ("sw-a", T + timedelta(seconds=90)),
        ]  # earliest deadline first
        await store.arm_restore(restore("sw-b", 2, 120))  # a later apply re-arms the device
        by = {p.device: p for p in await store.pending_restores()}
        assert by["sw-b"] == restore("sw-b", 2, 120)  # round-trips exactly
        assert not await store.clear_restore("sw-b", 1)  # not the apply that armed it now
        assert await store.clear_restore("sw-b", 2)
        assert not await store.clear_restore("sw-b", 2)
        assert [p.device for p in await store.pending_restores()] == ["sw-a"]
    async with make_store() as again:  # durable across a reopen
        assert [p.device for p in await again.pending_restores()] == ["sw-a"]


async def test_unfinished_applies(make_store: StoreMaker) -> None:
    async with make_store() as store:
        a = await store.record_apply(ApplyRow(started_at=T, actor="x", summary={"n": 1}), [])
        b = await store.record_apply(
            ApplyRow(started_at=T, finished_at=T, actor="x", summary={"n": 2}), []
        )
        c = await store.record_apply(ApplyRow(started_at=T, actor="y", summary={"n": 3}), [])
        assert [r.id for r in await store.unfinished_applies()] == [a, c]
        await store.record_apply(ApplyRow(id=a, started_at=T, finished_at=T, actor="x"), [])
        assert [r.id for r in await store.unfinished_applies()] == [c]
        assert b not in [r.id for r in await store.unfinished_applies()]


async def test_schema_4_store_gains_the_restore_table_and_keeps_its_applies(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    four = tuple(m for m in MIGRATIONS if m[0] <= 4)
    async with SQLiteStore(path, migrations=four) as old:
        aid = await old.record_apply(ApplyRow(started_at=T, actor="x", summary={"k": 1}), [])
    async with SQLiteStore(path) as new:
        assert await new.schema_version() == MIGRATIONS[-1][0]
        assert [r.id for r in await new.unfinished_applies()] == [aid]
        await new.arm_restore(restore("sw-a", aid, 10))
        assert len(await new.pending_restores()) == 1
