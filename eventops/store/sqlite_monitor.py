"""SQLiteStore's events, devices, samples, alerts, handovers and probe results."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from eventops.store import sqlite_ops
from eventops.store.base import check_series
from eventops.store.models import (
    AlertRow,
    DeviceRow,
    HandoverRow,
    ProbeResultRow,
    Sample,
)
from eventops.store.sqlite_audit import _append_audit
from eventops.store.sqlite_core import SQLiteCore, _canon, _dt, _ms, _ts
from eventops.store.timeline import TimelineKey, TimelineRow, read_page


class SQLiteMonitorMixin(SQLiteCore):
    # -- the timeline, a page at a time ---------------------------------------------
    async def timeline_page(
        self, after: TimelineKey | None, limit: int, since: datetime, until: datetime
    ) -> list[TimelineRow]:
        async def fetch(sql: str, params: Sequence[Any]) -> Sequence[Any]:
            return await self._fetch(sql, params)

        return await read_page(
            fetch,
            pg=False,
            after=after,
            limit=limit,
            since=since,
            until=until,
            reads=self.timeline_reads,
        )

    # -- event and devices ---------------------------------------------------------
    async def put_event(
        self, event_id: str, name: str, start: datetime, end: datetime, timezone: str
    ) -> None:
        async def job(c: aiosqlite.Connection) -> None:
            await c.execute(
                "INSERT INTO events (id, name, start_utc, end_utc, timezone) VALUES (?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET name=excluded.name, start_utc=excluded.start_utc, "
                "end_utc=excluded.end_utc, timezone=excluded.timezone",
                (event_id, name, _ts(start), _ts(end), timezone),
            )

        await self.run_write(job)

    async def put_devices(self, devices: Sequence[DeviceRow]) -> None:
        async def job(c: aiosqlite.Connection) -> None:
            await c.executemany(
                "INSERT INTO devices (id, kind, driver, site, address) VALUES (?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET kind=excluded.kind, driver=excluded.driver, "
                "site=excluded.site, address=excluded.address",
                [(d.id, d.kind, d.driver, d.site, d.address) for d in devices],
            )

        await self.run_write(job)

    async def list_devices(self) -> list[DeviceRow]:
        rows = await self._fetch("SELECT id, kind, driver, site, address FROM devices ORDER BY id")
        return [DeviceRow(**dict(r)) for r in rows]

    # -- monitoring ---------------------------------------------------------------
    async def add_samples(self, samples: Sequence[Sample]) -> None:
        rows = [(s.device, s.metric, _ms(s.ts), s.value) for s in samples]

        async def job(c: aiosqlite.Connection) -> None:
            await c.executemany(
                "INSERT INTO samples (device, metric, ts_ms, value) VALUES (?,?,?,?)", rows
            )

        await self.run_write(job)

    async def query_samples(
        self,
        device: str,
        metric: str,
        since: datetime,
        until: datetime,
        *,
        limit: int | None = None,
    ) -> list[Sample]:
        lo, hi = _ms(since), _ms(until)
        if limit is not None:  # the time of the limit-th sample: a page ends with that time
            cut = await self._fetch(
                "SELECT ts_ms FROM samples WHERE device=? AND metric=? AND ts_ms BETWEEN ? AND ? "
                "ORDER BY ts_ms LIMIT 1 OFFSET ?",
                (device, metric, lo, hi, max(0, limit - 1)),
            )
            hi = int(cut[0]["ts_ms"]) if cut else hi
        rows = await self._fetch(
            "SELECT ts_ms, value FROM samples WHERE device=? AND metric=? AND ts_ms BETWEEN ? AND ? "
            "ORDER BY ts_ms, rowid",  # equal times in the order written (stable pages)
            (device, metric, lo, hi),
        )
        return [Sample.at_ms(r["ts_ms"], device, metric, r["value"]) for r in rows]

    async def latest_samples(self, series: Sequence[tuple[str, str]]) -> list[Sample]:
        keys = check_series(series)
        if not keys:
            return []
        rows = await self._fetch(
            "WITH k(device, metric) AS (SELECT json_extract(value, '$[0]'),"
            " json_extract(value, '$[1]') FROM json_each(?))"
            " SELECT k.device AS device, k.metric AS metric, s.ts_ms AS ts_ms, s.value AS value"
            " FROM k JOIN samples s ON s.rowid = (SELECT rowid FROM samples"
            " WHERE device = k.device AND metric = k.metric ORDER BY ts_ms DESC, rowid DESC"
            " LIMIT 1) ORDER BY k.device, k.metric",
            (json.dumps(keys),),
        )
        return [Sample.at_ms(r["ts_ms"], r["device"], r["metric"], r["value"]) for r in rows]

    async def add_alert(self, alert: AlertRow) -> int:
        async def job(c: aiosqlite.Connection) -> int:
            cur = await c.execute(
                "INSERT INTO alerts (key, severity, subject, summary, state, raised_at, cleared_at, "
                "acked_by, ack_note, labels, msg_id, params) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    alert.key,
                    alert.severity,
                    alert.subject,
                    alert.summary,
                    alert.state,
                    _ts(alert.raised_at),
                    _ts(alert.cleared_at) if alert.cleared_at else None,
                    alert.acked_by,
                    alert.ack_note,
                    _canon(alert.labels),
                    alert.msg_id,
                    _canon(alert.params),
                ),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

        return await self.run_write(job)

    _ALERT_COLUMNS = sqlite_ops.ALERT_COLUMNS

    async def update_alert(self, alert_id: int, **changes: Any) -> None:
        unknown = set(changes) - self._ALERT_COLUMNS
        if unknown:
            raise ValueError(f"cannot update alert fields {sorted(unknown)}")

        async def job(c: aiosqlite.Connection) -> None:
            await sqlite_ops.update_alert(c, alert_id, changes)

        if changes:
            await self.run_write(job)

    async def list_alerts(
        self,
        *,
        open_only: bool = False,
        after_id: int | None = None,
        limit: int | None = None,
        subjects: Collection[str] | None = None,
    ) -> list[AlertRow]:
        where, params = ["1"], list[Any]()
        if open_only:
            where.append("state != 'cleared'")
        if after_id is not None:
            where.append("id > ?")
            params.append(after_id)
        if subjects is not None:
            where.append(f"subject IN ({','.join('?' * len(subjects))})")
            params += sorted(subjects)
        sql = f"SELECT * FROM alerts WHERE {' AND '.join(where)} ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [sqlite_ops.alert_row(dict(r)) for r in await self._fetch(sql, params)]

    async def downsample_samples(self, before: datetime, bucket_s: int) -> int:
        if bucket_s <= 0:
            raise ValueError("bucket_s must be positive")
        cutoff = _ms(before)
        size = bucket_s * 1000

        async def job(c: aiosqlite.Connection) -> int:
            # only buckets wholly before the cutoff, and only those not yet reduced
            end = cutoff - cutoff % size
            await c.execute("DROP TABLE IF EXISTS temp.ds")
            await c.execute(
                "CREATE TEMP TABLE ds AS SELECT device, metric, (ts_ms / ?) AS b, "
                "COUNT(*) AS n, AVG(value) AS v FROM samples WHERE ts_ms < ? "
                "GROUP BY device, metric, b HAVING n > 1",
                (size, end),
            )
            cur = await c.execute(
                "DELETE FROM samples WHERE ts_ms < ? AND EXISTS (SELECT 1 FROM ds WHERE "
                "ds.device = samples.device AND ds.metric = samples.metric "
                "AND ds.b = samples.ts_ms / ?)",
                (end, size),
            )
            removed = cur.rowcount
            await c.execute(
                "INSERT INTO samples (device, metric, ts_ms, value) "
                "SELECT device, metric, b * ? + ? / 2, v FROM ds",
                (size, size),
            )
            cur2 = await c.execute("SELECT COUNT(*) FROM ds")
            row = await cur2.fetchone()
            await c.execute("DROP TABLE temp.ds")
            return removed - (int(row[0]) if row else 0)

        return await self.run_write(job)

    async def purge_samples(self, before: datetime) -> int:
        cutoff = _ms(before)

        async def job(c: aiosqlite.Connection) -> int:
            cur = await c.execute("DELETE FROM samples WHERE ts_ms < ?", (cutoff,))
            return cur.rowcount

        return await self.run_write(job)

    async def add_handover(
        self, handover: HandoverRow, *, audit_action: str | None = None, audit_after: Any = None
    ) -> int:
        async def job(c: aiosqlite.Connection) -> int:
            cur = await c.execute(
                "INSERT INTO handovers (ts, link, authority, actor, record) VALUES (?,?,?,?,?)",
                (
                    _ts(handover.ts),
                    handover.link,
                    handover.authority,
                    handover.actor,
                    _canon(handover.record),
                ),
            )
            assert cur.lastrowid is not None
            if audit_action is not None:  # the row and its audit entry commit together
                after = {**audit_after, "handover": cur.lastrowid} if audit_after else None
                await _append_audit(
                    c,
                    _ts(self._now()),
                    handover.actor,
                    audit_action,
                    handover.link,
                    None,
                    after,
                    key=self._audit_key,
                    has_mac=self._has_mac,
                )
            return cur.lastrowid

        return await self.run_write(job, durable=True)

    async def list_handovers(self, link: str | None = None) -> list[HandoverRow]:
        if link is None:
            rows = await self._fetch("SELECT * FROM handovers ORDER BY id")
        else:
            rows = await self._fetch("SELECT * FROM handovers WHERE link=? ORDER BY id", (link,))
        return [
            HandoverRow(
                id=r["id"],
                ts=_dt(r["ts"]),
                link=r["link"],
                authority=r["authority"],
                actor=r["actor"],
                record=json.loads(r["record"]),
            )
            for r in rows
        ]

    async def add_probe_result(self, result: ProbeResultRow) -> int:
        async def job(c: aiosqlite.Connection) -> int:
            return await sqlite_ops.add_probe_result(c, result)

        return await self.run_write(job)

    async def list_probe_results(self, target: str | None = None) -> list[ProbeResultRow]:
        if target is None:
            rows = await self._fetch("SELECT * FROM probe_results ORDER BY id")
        else:
            rows = await self._fetch(
                "SELECT * FROM probe_results WHERE target=? ORDER BY id", (target,)
            )
        return [
            ProbeResultRow(
                id=r["id"],
                ts=_dt(r["ts"]),
                target=r["target"],
                kind=r["kind"],
                passed=None if r["passed"] is None else bool(r["passed"]),
                result=json.loads(r["result"]),
            )
            for r in rows
        ]
