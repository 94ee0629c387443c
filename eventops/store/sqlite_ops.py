"""SQLite: the operators' audited mutations in one transaction (:class:`~eventops.store.base.OpsTx`).

Acks, silences, probe results and apply records are written here on the writer's connection,
inside the job :meth:`SQLiteOpsMixin.ops_transaction` runs, together with their
audit entries (:func:`eventops.store.sqlite_audit._append_audit`, the chain's one
writer). The row helpers are module functions so that the store's own
single-purpose writes (``update_alert``, ``add_probe_result``, ``record_apply``,
``clear_restore``) use
the same SQL.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import aiosqlite

from eventops.store.base import OpsTx
from eventops.store.models import (
    AlertRow,
    ApplyDeviceRow,
    ApplyRow,
    AuditEntry,
    ProbeResultRow,
    SilenceRow,
)
from eventops.store.sqlite_audit import _append_audit
from eventops.store.sqlite_core import SQLiteCore, _canon, _dt, _ts
from eventops.store.sqlite_wall import _dicts

T = TypeVar("T")
Codec = Callable[[Any], str]
AuditWriter = Callable[[str, str, str, Any, Any], Awaitable[AuditEntry]]

ALERT_COLUMNS = frozenset(
    {
        "severity",
        "summary",
        "state",
        "cleared_at",
        "acked_by",
        "ack_note",
        "labels",
        "msg_id",
        "params",
    }
)


# -- row helpers (one SQL for the store's plain writes and the transaction) -------------------


def alert_row(r: Mapping[str, Any]) -> AlertRow:
    return AlertRow(
        id=r["id"],
        key=r["key"],
        severity=r["severity"],
        subject=r["subject"],
        summary=r["summary"],
        state=r["state"],
        raised_at=_dt(r["raised_at"]),
        cleared_at=_dt(r["cleared_at"]) if r["cleared_at"] else None,
        acked_by=r["acked_by"],
        ack_note=r["ack_note"],
        labels=json.loads(r["labels"]),
        msg_id=r["msg_id"],
        params=json.loads(r["params"]),
    )


async def update_alert(c: aiosqlite.Connection, alert_id: int, changes: Mapping[str, Any]) -> None:
    unknown = set(changes) - ALERT_COLUMNS
    if unknown:
        raise ValueError(f"cannot update alert fields {sorted(unknown)}")
    if not changes:
        return
    values = []
    for k, v in changes.items():
        if isinstance(v, datetime):
            v = _ts(v)
        elif k in ("labels", "params"):
            v = _canon(v)
        values.append(v)
    sets = ", ".join(f"{k}=?" for k in changes)
    await c.execute(f"UPDATE alerts SET {sets} WHERE id=?", (*values, alert_id))


async def add_probe_result(c: aiosqlite.Connection, result: ProbeResultRow) -> int:
    cur = await c.execute(
        "INSERT INTO probe_results (ts, target, kind, passed, result) VALUES (?,?,?,?,?)",
        (
            _ts(result.ts),
            result.target,
            result.kind,
            None if result.passed is None else int(result.passed),
            _canon(result.result),
        ),
    )
    assert cur.lastrowid is not None
    return cur.lastrowid


def silence_row(r: Mapping[str, Any]) -> SilenceRow:
    return SilenceRow(
        id=r["id"],
        matchers=json.loads(r["matchers"]),
        until=_dt(r["until"]),
        actor=r["actor"],
        note=r["note"],
        created_at=_dt(r["created_at"]),
        removed_at=_dt(r["removed_at"]) if r["removed_at"] else None,
        removed_by=r["removed_by"],
    )


def apply_row(r: Mapping[str, Any]) -> ApplyRow:
    return ApplyRow(
        id=r["id"],
        started_at=_dt(r["started_at"]),
        finished_at=_dt(r["finished_at"]) if r["finished_at"] else None,
        actor=r["actor"],
        summary=json.loads(r["summary"]),
    )


def apply_device_row(d: Mapping[str, Any]) -> ApplyDeviceRow:
    return ApplyDeviceRow(
        device=d["device"],
        result=d["result"],
        checksum=d["checksum"],
        detail=json.loads(d["detail"]),
    )


async def record_apply(
    c: aiosqlite.Connection, apply: ApplyRow, devices: Sequence[ApplyDeviceRow]
) -> int:
    cur = await c.execute(
        "INSERT INTO applies (id, started_at, finished_at, actor, summary) VALUES (?,?,?,?,?) "
        "ON CONFLICT(id) DO UPDATE SET finished_at=excluded.finished_at, summary=excluded.summary",
        (
            apply.id,
            _ts(apply.started_at),
            _ts(apply.finished_at) if apply.finished_at else None,
            apply.actor,
            _canon(apply.summary),
        ),
    )
    apply_id = apply.id if apply.id is not None else cur.lastrowid
    assert apply_id is not None
    await c.executemany(
        "INSERT INTO apply_devices (apply_id, device, result, checksum, detail) VALUES (?,?,?,?,?) "
        "ON CONFLICT(apply_id, device) DO UPDATE SET result=excluded.result, "
        "checksum=excluded.checksum, detail=excluded.detail",
        [(apply_id, d.device, d.result, d.checksum, _canon(d.detail)) for d in devices],
    )
    return apply_id


async def clear_restore(c: aiosqlite.Connection, device: str, apply_id: int) -> bool:
    cur = await c.execute(
        "DELETE FROM pending_restores WHERE device=? AND apply_id=?", (device, apply_id)
    )
    return cur.rowcount > 0


async def list_silences(
    c: aiosqlite.Connection, active_at: datetime | None = None
) -> list[SilenceRow]:
    sql, params = "SELECT * FROM silences WHERE removed_at IS NULL", []
    if active_at is not None:
        sql += " AND until > ?"
        params.append(_ts(active_at))
    return [silence_row(r) for r in await _dicts(c, sql + " ORDER BY id", params)]


# -- the transaction -----------------------------------------------------------------------


class SQLiteOpsTx(OpsTx):
    """:class:`OpsTx` on the write connection, inside the writer's transaction."""

    def __init__(self, c: aiosqlite.Connection, audit: AuditWriter) -> None:
        self._c = c
        self._audit = audit

    async def get_alert(self, alert_id: int) -> AlertRow | None:
        rows = await _dicts(self._c, "SELECT * FROM alerts WHERE id=?", (alert_id,))
        return alert_row(rows[0]) if rows else None

    async def update_alert(self, alert_id: int, **changes: Any) -> None:
        await update_alert(self._c, alert_id, changes)

    async def add_silence(self, silence: SilenceRow) -> int:
        cur = await self._c.execute(
            "INSERT INTO silences (matchers, until, actor, note, created_at) VALUES (?,?,?,?,?)",
            (
                _canon(silence.matchers),
                _ts(silence.until),
                silence.actor,
                silence.note,
                _ts(silence.created_at),
            ),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    async def get_silence(self, silence_id: int) -> SilenceRow | None:
        rows = await _dicts(self._c, "SELECT * FROM silences WHERE id=?", (silence_id,))
        return silence_row(rows[0]) if rows else None

    async def remove_silence(self, silence_id: int, by: str, at: datetime) -> None:
        await self._c.execute(
            "UPDATE silences SET removed_at=?, removed_by=? WHERE id=?",
            (_ts(at), by, silence_id),
        )

    async def add_probe_result(self, result: ProbeResultRow) -> int:
        return await add_probe_result(self._c, result)

    async def get_apply(self, apply_id: int) -> tuple[ApplyRow, list[ApplyDeviceRow]] | None:
        rows = await _dicts(self._c, "SELECT * FROM applies WHERE id=?", (apply_id,))
        if not rows:
            return None
        devs = await _dicts(
            self._c, "SELECT * FROM apply_devices WHERE apply_id=? ORDER BY device", (apply_id,)
        )
        return apply_row(rows[0]), [apply_device_row(d) for d in devs]

    async def record_apply(self, apply: ApplyRow, devices: Sequence[ApplyDeviceRow]) -> int:
        return await record_apply(self._c, apply, devices)

    async def clear_restore(self, device: str, apply_id: int) -> bool:
        return await clear_restore(self._c, device, apply_id)

    async def audit(
        self, actor: str, action: str, target: str, before: Any = None, after: Any = None
    ) -> AuditEntry:
        return await self._audit(actor, action, target, before, after)


class SQLiteOpsMixin(SQLiteCore):
    """Silences and :meth:`ops_transaction` on :class:`~eventops.store.sqlite.SQLiteStore`."""

    async def list_silences(self, *, active_at: datetime | None = None) -> list[SilenceRow]:
        return await list_silences(self._read(), active_at)

    async def ops_transaction(self, fn: Callable[[OpsTx], Awaitable[T]]) -> T:
        now, key, has_mac = self._now, self._audit_key, self._has_mac

        async def job(c: aiosqlite.Connection) -> T:
            async def audit(
                actor: str, action: str, target: str, before: Any, after: Any
            ) -> AuditEntry:
                return await _append_audit(
                    c, _ts(now()), actor, action, target, before, after, key=key, has_mac=has_mac
                )

            return await fn(SQLiteOpsTx(c, audit))

        return await self.run_write(job, durable=True)
