"""PostgresStore's event, devices, samples, alerts, handovers, probe results and applies."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from eventops.errors import StoreError
from eventops.store import postgres_ops as ops
from eventops.store.base import check_series
from eventops.store.models import (
    AlertRow,
    ApplyDeviceRow,
    ApplyRow,
    DeviceRow,
    HandoverRow,
    PendingRestoreRow,
    ProbeResultRow,
    Sample,
)
from eventops.store.postgres_audit import pg_append_audit
from eventops.store.postgres_core import (
    INSERT_SAMPLES,
    EventFilter,
    PostgresCore,
    SampleColumns,
)
from eventops.store.sqlite_core import _canon, _dt, _ms, _ts
from eventops.store.sqlite_ops import alert_row, apply_device_row, apply_row
from eventops.store.timeline import TimelineKey, TimelineRow, read_page


class PostgresMonitorMixin(PostgresCore):
    # -- the timeline, a page at a time ---------------------------------------------
    async def timeline_page(
        self, after: TimelineKey | None, limit: int, since: datetime, until: datetime
    ) -> list[TimelineRow]:
        async def fetch(sql: str, params: Sequence[Any]) -> Sequence[Any]:
            return await self._fetch(sql, self.event_id, *params)

        return await read_page(
            fetch,
            pg=True,
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
        if event_id != self.event_id:
            raise StoreError(
                f"{self.where}: this store holds event {self.event_id}, not {event_id}"
            )

        async def job(c: asyncpg.Connection) -> None:
            await c.execute(
                "INSERT INTO events (id, name, start_utc, end_utc, timezone) VALUES ($1,$2,$3,$4,$5) "
                "ON CONFLICT (id) DO UPDATE SET name=excluded.name, start_utc=excluded.start_utc, "
                "end_utc=excluded.end_utc, timezone=excluded.timezone",
                event_id,
                name,
                _ts(start),
                _ts(end),
                timezone,
            )

        await self.run_write(job)

    async def put_devices(self, devices: Sequence[DeviceRow]) -> None:
        rows = [(self.event_id, d.id, d.kind, d.driver, d.site, d.address) for d in devices]

        async def job(c: asyncpg.Connection) -> None:
            await c.executemany(
                "INSERT INTO devices (event_id, id, kind, driver, site, address) "
                "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (event_id, id) DO UPDATE SET "
                "kind=excluded.kind, driver=excluded.driver, site=excluded.site, "
                "address=excluded.address",
                rows,
            )

        await self.run_write(job)

    async def list_devices(self) -> list[DeviceRow]:
        rows = await self._fetch(
            "SELECT id, kind, driver, site, address FROM devices WHERE event_id=$1 "
            'ORDER BY id COLLATE "C"',
            self.event_id,
        )
        return [DeviceRow(**r) for r in rows]

    # -- monitoring ---------------------------------------------------------------
    async def add_samples(self, samples: Sequence[Sample]) -> None:
        if not samples:
            self._check_open()
            return
        cols: SampleColumns = (
            [s.device for s in samples],
            [s.metric for s in samples],
            [_ms(s.ts) for s in samples],
            [s.value for s in samples],
        )

        async def job(c: asyncpg.Connection) -> None:
            await c.execute(INSERT_SAMPLES, self.event_id, *cols)

        await self.run_write(job, samples=cols)

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
            cut = await self._fetchval(
                "SELECT ts_ms FROM samples WHERE event_id=$1 AND device=$2 AND metric=$3 "
                "AND ts_ms BETWEEN $4 AND $5 ORDER BY ts_ms LIMIT 1 OFFSET $6",
                self.event_id,
                device,
                metric,
                lo,
                hi,
                max(0, limit - 1),
            )
            hi = hi if cut is None else int(cut)
        rows = await self._fetch(
            "SELECT ts_ms, value FROM samples WHERE event_id=$1 AND device=$2 AND metric=$3 "
            "AND ts_ms BETWEEN $4 AND $5 ORDER BY ts_ms",
            self.event_id,
            device,
            metric,
            lo,
            hi,
        )
        return [Sample.at_ms(r["ts_ms"], device, metric, r["value"]) for r in rows]

    async def latest_samples(self, series: Sequence[tuple[str, str]]) -> list[Sample]:
        keys = check_series(series)
        if not keys:
            return []
        rows = await self._fetch(
            "SELECT k.device, k.metric, s.ts_ms, s.value"
            " FROM unnest($2::text[], $3::text[]) AS k(device, metric)"
            " CROSS JOIN LATERAL (SELECT ts_ms, value FROM samples WHERE event_id = $1"
            " AND device = k.device AND metric = k.metric ORDER BY ts_ms DESC LIMIT 1) s"
            " ORDER BY k.device, k.metric",
            self.event_id,
            [d for d, _ in keys],
            [m for _, m in keys],
        )
        return [Sample.at_ms(r["ts_ms"], r["device"], r["metric"], r["value"]) for r in rows]

    async def add_alert(self, alert: AlertRow) -> int:
        async def job(c: asyncpg.Connection) -> int:
            return int(
                await c.fetchval(
                    "INSERT INTO alerts (event_id, key, severity, subject, summary, state, "
                    "raised_at, cleared_at, acked_by, ack_note, labels, msg_id, params) "
                    "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) RETURNING id",
                    self.event_id,
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
                )
            )

        return await self.run_write(job)

    async def update_alert(self, alert_id: int, **changes: Any) -> None:
        unknown = set(changes) - ops.ALERT_COLUMNS
        if unknown:
            raise ValueError(f"cannot update alert fields {sorted(unknown)}")

        async def job(c: asyncpg.Connection) -> None:
            await ops.update_alert(c, self.event_id, alert_id, changes)

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
        f = EventFilter(self.event_id)
        if open_only:
            f.where.append("state != 'cleared'")
        if after_id is not None:
            f.where.append(f"id > {f.arg(after_id)}")
        if subjects is not None:
            f.where.append(f"subject = ANY({f.arg(sorted(subjects))}::text[])")
        sql = f.select("alerts", "id", limit)
        return [alert_row(r) for r in await self._fetch(sql, *f.params)]

    async def downsample_samples(self, before: datetime, bucket_s: int) -> int:
        if bucket_s <= 0:
            raise ValueError("bucket_s must be positive")
        cutoff = _ms(before)
        size = bucket_s * 1000
        end = cutoff - cutoff % size  # only buckets wholly before the cutoff

        async def job(c: asyncpg.Connection) -> int:
            # one statement: the DELETE and the INSERT see the same snapshot, so the
            # means inserted are not deleted again; buckets already of one row are left
            return int(
                await c.fetchval(
                    "WITH ds AS (SELECT device, metric, ts_ms / $2 AS b, avg(value) AS v "
                    "  FROM samples WHERE event_id=$1 AND ts_ms < $3 "
                    "  GROUP BY device, metric, ts_ms / $2 HAVING count(*) > 1), "
                    "del AS (DELETE FROM samples s USING ds WHERE s.event_id=$1 "
                    "  AND s.ts_ms < $3 AND s.device=ds.device AND s.metric=ds.metric "
                    "  AND s.ts_ms / $2 = ds.b RETURNING 1), "
                    "ins AS (INSERT INTO samples (event_id, device, metric, ts_ms, value) "
                    "  SELECT $1, device, metric, b * $2 + $2 / 2, v FROM ds RETURNING 1) "
                    "SELECT (SELECT count(*) FROM del) - (SELECT count(*) FROM ins)",
                    self.event_id,
                    size,
                    end,
                )
            )

        return await self.run_write(job)

    async def purge_samples(self, before: datetime) -> int:
        cutoff = _ms(before)

        async def job(c: asyncpg.Connection) -> int:
            status = await c.execute(
                "DELETE FROM samples WHERE event_id=$1 AND ts_ms < $2", self.event_id, cutoff
            )
            return ops.rowcount(status)

        return await self.run_write(job)

    async def add_handover(
        self, handover: HandoverRow, *, audit_action: str | None = None, audit_after: Any = None
    ) -> int:
        async def job(c: asyncpg.Connection) -> int:
            hid = int(
                await c.fetchval(
                    "INSERT INTO handovers (event_id, ts, link, authority, actor, record) "
                    "VALUES ($1,$2,$3,$4,$5,$6) RETURNING id",
                    self.event_id,
                    _ts(handover.ts),
                    handover.link,
                    handover.authority,
                    handover.actor,
                    _canon(handover.record),
                )
            )
            if audit_action is not None:  # the row and its audit entry commit together
                after = {**audit_after, "handover": hid} if audit_after else None
                await pg_append_audit(
                    c,
                    self.event_id,
                    _ts(self._now()),
                    handover.actor,
                    audit_action,
                    handover.link,
                    None,
                    after,
                    key=self._audit_key,
                )
            return hid

        return await self.run_write(job, durable=True)

    async def list_handovers(self, link: str | None = None) -> list[HandoverRow]:
        if link is None:
            rows = await self._fetch(
                "SELECT * FROM handovers WHERE event_id=$1 ORDER BY id", self.event_id
            )
        else:
            rows = await self._fetch(
                "SELECT * FROM handovers WHERE event_id=$1 AND link=$2 ORDER BY id",
                self.event_id,
                link,
            )
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
        async def job(c: asyncpg.Connection) -> int:
            return await ops.add_probe_result(c, self.event_id, result)

        return await self.run_write(job)

    async def list_probe_results(self, target: str | None = None) -> list[ProbeResultRow]:
        if target is None:
            rows = await self._fetch(
                "SELECT * FROM probe_results WHERE event_id=$1 ORDER BY id", self.event_id
            )
        else:
            rows = await self._fetch(
                "SELECT * FROM probe_results WHERE event_id=$1 AND target=$2 ORDER BY id",
                self.event_id,
                target,
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

    # -- provisioning --------------------------------------------------------------
    async def record_apply(self, apply: ApplyRow, devices: Sequence[ApplyDeviceRow]) -> int:
        async def job(c: asyncpg.Connection) -> int:
            return await ops.record_apply(c, self.event_id, apply, devices)

        return await self.run_write(job, durable=True)

    async def get_apply(self, apply_id: int) -> tuple[ApplyRow, list[ApplyDeviceRow]] | None:
        rows = await self._fetch(
            "SELECT * FROM applies WHERE event_id=$1 AND id=$2", self.event_id, apply_id
        )
        if not rows:
            return None
        devs = await self._fetch(
            "SELECT * FROM apply_devices WHERE event_id=$1 AND apply_id=$2 "
            'ORDER BY device COLLATE "C"',
            self.event_id,
            apply_id,
        )
        return apply_row(rows[0]), [apply_device_row(d) for d in devs]

    async def list_applies(self, limit: int = 100, before: int | None = None) -> list[ApplyRow]:
        if before is None:
            rows = await self._fetch(
                "SELECT * FROM applies WHERE event_id=$1 ORDER BY id DESC LIMIT $2",
                self.event_id,
                limit,
            )
        else:
            rows = await self._fetch(
                "SELECT * FROM applies WHERE event_id=$1 AND id < $2 ORDER BY id DESC LIMIT $3",
                self.event_id,
                before,
                limit,
            )
        return [apply_row(r) for r in rows]

    async def device_applies(self, device: str) -> list[tuple[int, ApplyDeviceRow]]:
        rows = await self._fetch(
            "SELECT * FROM apply_devices WHERE event_id=$1 AND device=$2 ORDER BY apply_id DESC",
            self.event_id,
            device,
        )
        return [(int(d["apply_id"]), apply_device_row(d)) for d in rows]

    async def unfinished_applies(self) -> list[ApplyRow]:
        rows = await self._fetch(
            "SELECT * FROM applies WHERE event_id=$1 AND finished_at IS NULL ORDER BY id",
            self.event_id,
        )
        return [apply_row(r) for r in rows]

    async def arm_restore(self, restore: PendingRestoreRow) -> None:
        async def job(c: asyncpg.Connection) -> None:
            await c.execute(
                "INSERT INTO pending_restores (event_id, device, site, apply_id, driver, "
                "armed_at, deadline, previous, withheld) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) "
                "ON CONFLICT (event_id, device) DO UPDATE SET site=excluded.site, "
                "apply_id=excluded.apply_id, driver=excluded.driver, armed_at=excluded.armed_at, "
                "deadline=excluded.deadline, previous=excluded.previous, withheld=excluded.withheld",
                self.event_id,
                restore.device,
                restore.site,
                restore.apply_id,
                restore.driver,
                _ts(restore.armed_at),
                _ts(restore.deadline),
                _canon(restore.previous),
                _canon(restore.withheld),
            )

        await self.run_write(job, durable=True)

    async def clear_restore(self, device: str, apply_id: int) -> bool:
        async def job(c: asyncpg.Connection) -> bool:
            return await ops.clear_restore(c, self.event_id, device, apply_id)

        return await self.run_write(job, durable=True)

    async def pending_restores(self) -> list[PendingRestoreRow]:
        rows = await self._fetch(
            "SELECT * FROM pending_restores WHERE event_id=$1 "
            'ORDER BY deadline COLLATE "C", device COLLATE "C"',
            self.event_id,
        )
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
