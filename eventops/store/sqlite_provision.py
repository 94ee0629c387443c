"""SQLiteStore's provisioning records: applies and pending restores."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

import aiosqlite

from eventops.store import sqlite_ops
from eventops.store.models import (
    ApplyDeviceRow,
    ApplyRow,
    PendingRestoreRow,
)
from eventops.store.sqlite_core import SQLiteCore, _canon, _dt, _ts


class SQLiteProvisionMixin(SQLiteCore):
    # -- provisioning --------------------------------------------------------------
    async def record_apply(self, apply: ApplyRow, devices: Sequence[ApplyDeviceRow]) -> int:
        async def job(c: aiosqlite.Connection) -> int:
            return await sqlite_ops.record_apply(c, apply, devices)

        return await self.run_write(job, durable=True)

    async def get_apply(self, apply_id: int) -> tuple[ApplyRow, list[ApplyDeviceRow]] | None:
        rows = await self._fetch("SELECT * FROM applies WHERE id=?", (apply_id,))
        if not rows:
            return None
        r = rows[0]
        apply = ApplyRow(
            id=r["id"],
            started_at=_dt(r["started_at"]),
            finished_at=_dt(r["finished_at"]) if r["finished_at"] else None,
            actor=r["actor"],
            summary=json.loads(r["summary"]),
        )
        devs = await self._fetch(
            "SELECT * FROM apply_devices WHERE apply_id=? ORDER BY device", (apply_id,)
        )
        return apply, [
            ApplyDeviceRow(
                device=d["device"],
                result=d["result"],
                checksum=d["checksum"],
                detail=json.loads(d["detail"]),
            )
            for d in devs
        ]

    @staticmethod
    def _apply_row(r: sqlite3.Row) -> ApplyRow:
        return ApplyRow(
            id=r["id"],
            started_at=_dt(r["started_at"]),
            finished_at=_dt(r["finished_at"]) if r["finished_at"] else None,
            actor=r["actor"],
            summary=json.loads(r["summary"]),
        )

    async def list_applies(self, limit: int = 100, before: int | None = None) -> list[ApplyRow]:
        if before is None:
            rows = await self._fetch("SELECT * FROM applies ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = await self._fetch(
                "SELECT * FROM applies WHERE id < ? ORDER BY id DESC LIMIT ?", (before, limit)
            )
        return [self._apply_row(r) for r in rows]

    async def device_applies(self, device: str) -> list[tuple[int, ApplyDeviceRow]]:
        rows = await self._fetch(
            "SELECT * FROM apply_devices WHERE device=? ORDER BY apply_id DESC", (device,)
        )
        return [
            (
                int(d["apply_id"]),
                ApplyDeviceRow(
                    device=d["device"],
                    result=d["result"],
                    checksum=d["checksum"],
                    detail=json.loads(d["detail"]),
                ),
            )
            for d in rows
        ]

    async def unfinished_applies(self) -> list[ApplyRow]:
        rows = await self._fetch("SELECT * FROM applies WHERE finished_at IS NULL ORDER BY id")
        return [self._apply_row(r) for r in rows]

    async def arm_restore(self, restore: PendingRestoreRow) -> None:
        async def job(c: aiosqlite.Connection) -> None:
            await c.execute(
                "INSERT INTO pending_restores (device, site, apply_id, driver, armed_at, deadline, "
                "previous, withheld) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(device) DO UPDATE SET "
                "site=excluded.site, apply_id=excluded.apply_id, driver=excluded.driver, "
                "armed_at=excluded.armed_at, deadline=excluded.deadline, "
                "previous=excluded.previous, withheld=excluded.withheld",
                (
                    restore.device,
                    restore.site,
                    restore.apply_id,
                    restore.driver,
                    _ts(restore.armed_at),
                    _ts(restore.deadline),
                    _canon(restore.previous),
                    _canon(restore.withheld),
                ),
            )

        # durable: the restore must outlive a crash that follows the commit
        await self.run_write(job, durable=True)

    async def clear_restore(self, device: str, apply_id: int) -> bool:
        async def job(c: aiosqlite.Connection) -> bool:
            return await sqlite_ops.clear_restore(c, device, apply_id)

        return await self.run_write(job, durable=True)

    async def pending_restores(self) -> list[PendingRestoreRow]:
        rows = await self._fetch("SELECT * FROM pending_restores ORDER BY deadline, device")
        return [
            PendingRestoreRow(
                device=r["device"],
                site=r["site"],
                apply_id=r["apply_id"],
                driver=r["driver"],
                armed_at=_dt(r["armed_at"]),
                deadline=_dt(r["deadline"]),
                previous=json.loads(r["previous"]),
                withheld=json.loads(r["withheld"]),
            )
            for r in rows
        ]
