"""PostgreSQL: the operators' audited mutations in one transaction (:class:`~eventops.store.base.OpsTx`).

As in :mod:`eventops.store.sqlite_ops`: the row helpers are module functions
that the store's single-purpose writes share, and :meth:`ops_transaction`
runs the caller's function as one job of the writer, inside the transaction
that holds the event's advisory lock — so a compare-and-set (an alert not
acknowledged twice, an apply not closed twice) holds across every process
writing this event, and commits with its audit entries or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import asyncpg

from eventops.store.base import OpsTx
from eventops.store.models import (
    AlertRow,
    ApplyDeviceRow,
    ApplyRow,
    AuditEntry,
    ProbeResultRow,
    SilenceRow,
)
from eventops.store.postgres_audit import pg_append_audit
from eventops.store.postgres_core import PostgresCore, dicts
from eventops.store.sqlite_core import _canon, _ts
from eventops.store.sqlite_ops import (
    ALERT_COLUMNS,
    alert_row,
    apply_device_row,
    apply_row,
    silence_row,
)

T = TypeVar("T")
AuditWriter = Callable[[str, str, str, Any, Any], Awaitable[AuditEntry]]

__all__ = ["ALERT_COLUMNS", "PostgresOpsMixin", "PostgresOpsTx"]


def rowcount(status: str) -> int:
    """The row count of a command tag (``DELETE 3``, ``UPDATE 1``, ``INSERT 0 1``)."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


async def update_alert(
    c: asyncpg.Connection, event_id: str, alert_id: int, changes: Mapping[str, Any]
) -> None:
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
    sets = ", ".join(f"{k}=${i}" for i, k in enumerate(changes, start=3))
    await c.execute(
        f"UPDATE alerts SET {sets} WHERE event_id=$1 AND id=$2", event_id, alert_id, *values
    )


async def add_probe_result(c: asyncpg.Connection, event_id: str, result: ProbeResultRow) -> int:
    return int(
        await c.fetchval(
            "INSERT INTO probe_results (event_id, ts, target, kind, passed, result) "
            "VALUES ($1,$2,$3,$4,$5,$6) RETURNING id",
            event_id,
            _ts(result.ts),
            result.target,
            result.kind,
            None if result.passed is None else int(result.passed),
            _canon(result.result),
        )
    )


async def record_apply(
    c: asyncpg.Connection, event_id: str, apply: ApplyRow, devices: Sequence[ApplyDeviceRow]
) -> int:
    started = _ts(apply.started_at)
    finished = _ts(apply.finished_at) if apply.finished_at else None
    if apply.id is None:
        apply_id = int(
            await c.fetchval(
                "INSERT INTO applies (event_id, started_at, finished_at, actor, summary) "
                "VALUES ($1,$2,$3,$4,$5) RETURNING id",
                event_id,
                started,
                finished,
                apply.actor,
                _canon(apply.summary),
            )
        )
    else:
        apply_id = apply.id
        await c.execute(
            "INSERT INTO applies (event_id, id, started_at, finished_at, actor, summary) "
            "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (event_id, id) DO UPDATE SET "
            "finished_at=excluded.finished_at, summary=excluded.summary",
            event_id,
            apply_id,
            started,
            finished,
            apply.actor,
            _canon(apply.summary),
        )
    if devices:
        await c.executemany(
            "INSERT INTO apply_devices (event_id, apply_id, device, result, checksum, detail) "
            "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (event_id, apply_id, device) DO UPDATE SET "
            "result=excluded.result, checksum=excluded.checksum, detail=excluded.detail",
            [
                (event_id, apply_id, d.device, d.result, d.checksum, _canon(d.detail))
                for d in devices
            ],
        )
    return apply_id


async def clear_restore(c: asyncpg.Connection, event_id: str, device: str, apply_id: int) -> bool:
    status = await c.execute(
        "DELETE FROM pending_restores WHERE event_id=$1 AND device=$2 AND apply_id=$3",
        event_id,
        device,
        apply_id,
    )
    return rowcount(status) > 0


class PostgresOpsTx(OpsTx):
    """:class:`OpsTx` on the write connection, inside the writer's transaction."""

    def __init__(self, c: asyncpg.Connection, event_id: str, audit: AuditWriter) -> None:
        self._c = c
        self._e = event_id
        self._audit = audit

    async def get_alert(self, alert_id: int) -> AlertRow | None:
        rows = await dicts(
            self._c, "SELECT * FROM alerts WHERE event_id=$1 AND id=$2", self._e, alert_id
        )
        return alert_row(rows[0]) if rows else None

    async def update_alert(self, alert_id: int, **changes: Any) -> None:
        await update_alert(self._c, self._e, alert_id, changes)

    async def add_silence(self, silence: SilenceRow) -> int:
        return int(
            await self._c.fetchval(
                "INSERT INTO silences (event_id, matchers, until, actor, note, created_at) "
                "VALUES ($1,$2,$3,$4,$5,$6) RETURNING id",
                self._e,
                _canon(silence.matchers),
                _ts(silence.until),
                silence.actor,
                silence.note,
                _ts(silence.created_at),
            )
        )

    async def get_silence(self, silence_id: int) -> SilenceRow | None:
        rows = await dicts(
            self._c, "SELECT * FROM silences WHERE event_id=$1 AND id=$2", self._e, silence_id
        )
        return silence_row(rows[0]) if rows else None

    async def remove_silence(self, silence_id: int, by: str, at: datetime) -> None:
        await self._c.execute(
            "UPDATE silences SET removed_at=$3, removed_by=$4 WHERE event_id=$1 AND id=$2",
            self._e,
            silence_id,
            _ts(at),
            by,
        )

    async def add_probe_result(self, result: ProbeResultRow) -> int:
        return await add_probe_result(self._c, self._e, result)

    async def get_apply(self, apply_id: int) -> tuple[ApplyRow, list[ApplyDeviceRow]] | None:
        rows = await dicts(
            self._c, "SELECT * FROM applies WHERE event_id=$1 AND id=$2", self._e, apply_id
        )
        if not rows:
            return None
        devs = await dicts(
            self._c,
            "SELECT * FROM apply_devices WHERE event_id=$1 AND apply_id=$2 "
            'ORDER BY device COLLATE "C"',
            self._e,
            apply_id,
        )
        return apply_row(rows[0]), [apply_device_row(d) for d in devs]

    async def record_apply(self, apply: ApplyRow, devices: Sequence[ApplyDeviceRow]) -> int:
        return await record_apply(self._c, self._e, apply, devices)

    async def clear_restore(self, device: str, apply_id: int) -> bool:
        return await clear_restore(self._c, self._e, device, apply_id)

    async def audit(
        self, actor: str, action: str, target: str, before: Any = None, after: Any = None
    ) -> AuditEntry:
        return await self._audit(actor, action, target, before, after)


class PostgresOpsMixin(PostgresCore):
    """Silences and :meth:`ops_transaction` on :class:`~eventops.store.postgres.PostgresStore`."""

    async def list_silences(self, *, active_at: datetime | None = None) -> list[SilenceRow]:
        sql = "SELECT * FROM silences WHERE event_id=$1 AND removed_at IS NULL"
        params: list[Any] = [self.event_id]
        if active_at is not None:
            sql += " AND until > $2"
            params.append(_ts(active_at))
        return [silence_row(r) for r in await self._fetch(sql + " ORDER BY id", *params)]

    async def ops_transaction(self, fn: Callable[[OpsTx], Awaitable[T]]) -> T:
        now, key, event_id = self._now, self._audit_key, self.event_id

        async def job(c: asyncpg.Connection) -> T:
            async def audit(
                actor: str, action: str, target: str, before: Any, after: Any
            ) -> AuditEntry:
                return await pg_append_audit(
                    c, event_id, _ts(now()), actor, action, target, before, after, key=key
                )

            return await fn(PostgresOpsTx(c, event_id, audit))

        return await self.run_write(job, durable=True)
