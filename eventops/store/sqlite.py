"""SQLite store: WAL, forward migrations at open, one writer task.

Writes are queued to a single writer task that owns the write connection.
It takes whatever is queued (group commit), runs each job inside its own
SAVEPOINT so one failing job does not spoil the others, commits, and only
then resolves each caller's future: an acknowledged write has committed.
Groups containing audit rows commit with ``synchronous=FULL``; other commits
use ``NORMAL``, which in WAL mode survives a process crash (not power loss).
Reads use a separate connection and see committed data only.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from eventops.errors import AuditChainBroken, StoreError
from eventops.store.audit import GENESIS, AuditKey, audit_hash, check_row
from eventops.store.base import OpsTx, Store, WallTx
from eventops.store.migrations import LATEST, MIGRATIONS
from eventops.store.models import (
    AlertRow,
    ApplyDeviceRow,
    ApplyRow,
    AuditEntry,
    AuthorBlockRow,
    DecisionRow,
    DeviceRow,
    HandoverRow,
    PendingRestoreRow,
    PostRow,
    ProbeResultRow,
    Sample,
    SilenceRow,
    utc,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[[aiosqlite.Connection], Awaitable[T]]

MAX_GROUP = 256


def _ts(value: datetime) -> str:
    return utc(value).isoformat(timespec="microseconds")


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _ms(value: datetime) -> int:
    return int(utc(value).timestamp() * 1000)


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass
class _Pending:
    job: Job[Any]
    durable: bool
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class SQLiteStore(Store):
    def __init__(
        self,
        path: str | Path,
        *,
        migrations: Sequence[tuple[int, str]] = MIGRATIONS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        audit_key: AuditKey | None = None,
    ) -> None:
        self.path = Path(path)
        self._audit_key = audit_key
        self._has_mac = True
        self._migrations = tuple(migrations)
        self._now = now
        self._w: aiosqlite.Connection | None = None
        self._r: aiosqlite.Connection | None = None
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._sync = "NORMAL"

    # -- lifecycle ------------------------------------------------------------
    async def open(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._w = await aiosqlite.connect(self.path, isolation_level=None)
            await self._w.execute("PRAGMA journal_mode=WAL")
            await self._w.execute("PRAGMA synchronous=NORMAL")
            await self._w.execute("PRAGMA foreign_keys=ON")
            await self._w.execute("PRAGMA busy_timeout=5000")
            await self._migrate()
            async with self._w.execute("PRAGMA table_info(audit)") as cur:
                self._has_mac = any(r[1] == "mac" for r in await cur.fetchall())
            self._r = await aiosqlite.connect(
                f"file:{self.path}?mode=ro", uri=True, isolation_level=None
            )
            await self._r.execute("PRAGMA busy_timeout=5000")
        except sqlite3.DatabaseError as exc:
            await self._close_connections()
            raise StoreError(f"{self.path}: cannot open event store ({exc})") from None
        except OSError as exc:
            await self._close_connections()
            raise StoreError(f"{self.path}: cannot open event store ({exc.strerror})") from None
        except BaseException:
            await self._close_connections()
            raise
        self._writer = asyncio.create_task(
            self._write_loop(), name=f"store-writer:{self.path.name}"
        )

    async def _migrate(self) -> None:
        assert self._w is not None
        async with self._w.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        current = int(row[0]) if row else 0
        known = self._migrations[-1][0] if self._migrations else 0
        if current > max(known, LATEST):
            raise StoreError(
                f"{self.path}: schema version {current} is newer than this eventops knows "
                f"({known}); upgrade eventops"
            )
        for version, script in self._migrations:
            if version <= current:
                continue
            statements = [s.strip() for s in _split_sql(script) if s.strip()]
            await self._w.execute("BEGIN IMMEDIATE")
            try:
                for stmt in statements:
                    await self._w.execute(stmt)
                await self._w.execute(f"PRAGMA user_version={version}")
                await self._w.execute("COMMIT")
            except BaseException:
                await self._w.execute("ROLLBACK")
                raise
            log.info("store %s migrated to schema %d", self.path, version)

    async def close(self) -> None:
        if self._writer is not None:
            await self._queue.put(None)
            try:
                await self._writer
            finally:
                self._writer = None
        await self._close_connections()

    async def _close_connections(self) -> None:
        for conn in (self._r, self._w):
            if conn is not None:
                await conn.close()
        self._r = self._w = None

    async def schema_version(self) -> int:
        async with self._read().execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    # -- the writer ------------------------------------------------------------
    async def run_write(self, job: Job[T], *, durable: bool = False) -> T:
        """Run ``job`` on the write connection inside a transaction; return after commit."""
        if self._writer is None or self._writer.done():
            raise StoreError(f"{self.path}: store is not open")
        pending = _Pending(job, durable)
        await self._queue.put(pending)
        result: T = await pending.future
        return result

    async def _write_loop(self) -> None:
        assert self._w is not None
        stop = False
        while not stop:
            first = await self._queue.get()
            if first is None:
                break
            group = [first]
            while len(group) < MAX_GROUP and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
            await self._commit_group(group)
        # Refuse whatever arrived after close.
        while not self._queue.empty():
            p = self._queue.get_nowait()
            if p is not None and not p.future.done():
                p.future.set_exception(StoreError(f"{self.path}: store closed"))

    async def _commit_group(self, group: list[_Pending]) -> None:
        conn = self._w
        assert conn is not None
        want = "FULL" if any(p.durable for p in group) else "NORMAL"
        results: list[tuple[_Pending, Any, BaseException | None]] = []
        try:
            if want != self._sync:
                await conn.execute(f"PRAGMA synchronous={want}")
                self._sync = want
            await conn.execute("BEGIN IMMEDIATE")
            for i, p in enumerate(group):
                await conn.execute(f"SAVEPOINT j{i}")
                try:
                    value = await p.job(conn)
                except Exception as exc:  # the job's own fault: undo it alone
                    await conn.execute(f"ROLLBACK TO j{i}")
                    await conn.execute(f"RELEASE j{i}")
                    results.append((p, None, exc))
                else:
                    await conn.execute(f"RELEASE j{i}")
                    results.append((p, value, None))
            await conn.execute("COMMIT")
        except asyncio.CancelledError:
            for p in group:
                if not p.future.done():
                    p.future.set_exception(StoreError(f"{self.path}: write cancelled"))
            raise
        except Exception as exc:
            try:
                await conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            err = StoreError(f"{self.path}: write failed ({exc})")
            for p in group:
                if not p.future.done():
                    p.future.set_exception(err)
            return
        for p, value, failure in results:
            if p.future.done():
                continue
            if failure is None:
                p.future.set_result(value)
            elif isinstance(failure, sqlite3.Error):
                p.future.set_exception(StoreError(f"{self.path}: {failure}"))
            else:
                p.future.set_exception(failure)

    def _read(self) -> aiosqlite.Connection:
        if self._r is None:
            raise StoreError(f"{self.path}: store is not open")
        return self._r

    async def _fetch(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        conn = self._read()
        conn.row_factory = sqlite3.Row
        async with conn.execute(sql, params) as cur:
            return list(await cur.fetchall())

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
        self, device: str, metric: str, since: datetime, until: datetime
    ) -> list[Sample]:
        rows = await self._fetch(
            "SELECT ts_ms, value FROM samples WHERE device=? AND metric=? AND ts_ms BETWEEN ? AND ? "
            "ORDER BY ts_ms",
            (device, metric, _ms(since), _ms(until)),
        )
        return [
            Sample(
                ts=datetime.fromtimestamp(r["ts_ms"] / 1000, UTC),
                device=device,
                metric=metric,
                value=r["value"],
            )
            for r in rows
        ]

    async def add_alert(self, alert: AlertRow) -> int:
        async def job(c: aiosqlite.Connection) -> int:
            cur = await c.execute(
                "INSERT INTO alerts (key, severity, subject, summary, state, raised_at, cleared_at, "
                "acked_by, ack_note, labels) VALUES (?,?,?,?,?,?,?,?,?,?)",
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
                ),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

        return await self.run_write(job)

    async def update_alert(self, alert_id: int, **changes: Any) -> None:
        from eventops.store import sqlite_ops

        async def job(c: aiosqlite.Connection) -> None:
            await sqlite_ops.update_alert(c, alert_id, changes)

        if set(changes) - sqlite_ops.ALERT_COLUMNS:
            raise ValueError(
                f"cannot update alert fields {sorted(set(changes) - sqlite_ops.ALERT_COLUMNS)}"
            )
        if changes:
            await self.run_write(job)

    async def list_silences(self, *, active_at: datetime | None = None) -> list[SilenceRow]:
        from eventops.store import sqlite_ops

        return await sqlite_ops.list_silences(self._read(), active_at)

    async def ops_transaction(self, fn: Callable[[OpsTx], Awaitable[T]]) -> T:
        from eventops.store import sqlite_ops

        async def job(c: aiosqlite.Connection) -> T:
            async def audit(
                actor: str, action: str, target: str, before: Any, after: Any
            ) -> AuditEntry:
                return await self.append_audit(c, actor, action, target, before, after)

            return await fn(sqlite_ops.SQLiteOpsTx(c, audit))

        return await self.run_write(job, durable=True)

    async def list_alerts(self, *, open_only: bool = False) -> list[AlertRow]:
        where = "WHERE state != 'cleared'" if open_only else ""
        rows = await self._fetch(f"SELECT * FROM alerts {where} ORDER BY id")
        return [
            AlertRow(
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
            )
            for r in rows
        ]

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

    async def add_handover(self, handover: HandoverRow) -> int:
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

    # -- wall -------------------------------------------------------------------
    async def upsert_posts(self, posts: Sequence[PostRow]) -> None:
        rows = [
            (
                p.id,
                p.source,
                p.author,
                p.author_name,
                p.text,
                _ts(p.created_at),
                p.state,
                int(p.pinned),
                _canon(p.data),
            )
            for p in posts
        ]

        async def job(c: aiosqlite.Connection) -> None:
            await c.executemany(
                "INSERT INTO posts (id, source, author, author_name, text, created_at, state, pinned, "
                "data) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                "author_name=excluded.author_name, text=excluded.text, state=excluded.state, "
                "pinned=excluded.pinned, data=excluded.data",
                rows,
            )

        await self.run_write(job)

    @staticmethod
    def _post(r: sqlite3.Row | dict[str, Any]) -> PostRow:
        return _post_row(r)

    async def get_post(self, post_id: str) -> PostRow | None:
        rows = await self._fetch("SELECT * FROM posts WHERE id=?", (post_id,))
        return self._post(rows[0]) if rows else None

    async def list_posts(self, state: str | None = None, limit: int = 500) -> list[PostRow]:
        if state is None:
            rows = await self._fetch(
                "SELECT * FROM posts ORDER BY created_at DESC LIMIT ?", (limit,)
            )
        else:
            rows = await self._fetch(
                "SELECT * FROM posts WHERE state=? ORDER BY created_at DESC LIMIT ?", (state, limit)
            )
        return [self._post(r) for r in rows]

    async def decide(
        self, decision: DecisionRow, new_state: str | None, pinned: bool | None
    ) -> int:
        async def job(c: aiosqlite.Connection) -> int:
            return await _insert_decision(c, decision, new_state, pinned)

        return await self.run_write(job)

    async def wall_transaction(self, fn: Callable[[WallTx], Awaitable[T]]) -> T:
        now = self._now

        async def job(c: aiosqlite.Connection) -> T:
            return await fn(_SQLiteWallTx(c, now, self._audit_key, self._has_mac))

        return await self.run_write(job, durable=True)

    @staticmethod
    def _decision(r: sqlite3.Row | dict[str, Any]) -> DecisionRow:
        return _decision_row(r)

    async def list_decisions(self, post_id: str | None = None) -> list[DecisionRow]:
        if post_id is None:
            rows = await self._fetch("SELECT * FROM decisions ORDER BY id")
        else:
            rows = await self._fetch(
                "SELECT * FROM decisions WHERE post_id=? ORDER BY id", (post_id,)
            )
        return [self._decision(r) for r in rows]

    async def get_decision(self, decision_id: int) -> DecisionRow | None:
        rows = await self._fetch("SELECT * FROM decisions WHERE id=?", (decision_id,))
        return self._decision(rows[0]) if rows else None

    async def decisions_referencing(self, decision_id: int) -> list[DecisionRow]:
        rows = await self._fetch("SELECT * FROM decisions WHERE ref=? ORDER BY id", (decision_id,))
        return [self._decision(r) for r in rows]

    async def posts_by_author(self, author: str, states: Sequence[str] = ()) -> list[PostRow]:
        if states:
            marks = ",".join("?" * len(states))
            rows = await self._fetch(
                f"SELECT * FROM posts WHERE author=? AND state IN ({marks}) ORDER BY created_at",
                (author, *states),
            )
        else:
            rows = await self._fetch(
                "SELECT * FROM posts WHERE author=? ORDER BY created_at", (author,)
            )
        return [self._post(r) for r in rows]

    async def put_author_block(self, block: AuthorBlockRow) -> None:
        async def job(c: aiosqlite.Connection) -> None:
            await _put_author_block(c, block)

        await self.run_write(job)

    async def remove_author_block(self, author: str) -> bool:
        async def job(c: aiosqlite.Connection) -> bool:
            cur = await c.execute("DELETE FROM author_blocks WHERE author=?", (author,))
            return cur.rowcount > 0

        return await self.run_write(job)

    async def list_author_blocks(self) -> list[AuthorBlockRow]:
        rows = await self._fetch("SELECT * FROM author_blocks ORDER BY created_at")
        return [_block_row(r) for r in rows]

    async def find_posts(
        self,
        states: Sequence[str] = (),
        *,
        source: str | None = None,
        author: str | None = None,
        contains: str | None = None,
        pinned: bool | None = None,
        limit: int = 200,
    ) -> list[PostRow]:
        where: list[str] = []
        params: list[Any] = []
        if states:
            where.append(f"state IN ({','.join('?' * len(states))})")
            params.extend(states)
        if pinned is not None:
            where.append("pinned=?")
            params.append(int(pinned))
        if source:
            where.append("source=?")
            params.append(source)
        if author:
            where.append("author=?")
            params.append(author)
        if contains:
            escaped = contains.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(
                "(lower(text) LIKE ? ESCAPE '\\' OR lower(author_name) LIKE ? ESCAPE '\\')"
            )
            params.extend([f"%{escaped}%"] * 2)
        sql = "SELECT * FROM posts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC LIMIT ?"
        rows = await self._fetch(sql, (*params, limit))
        return [self._post(r) for r in rows]

    async def last_decisions(self, post_ids: Sequence[str]) -> dict[str, DecisionRow]:
        out: dict[str, DecisionRow] = {}
        ids = list(dict.fromkeys(post_ids))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._fetch(
                "SELECT * FROM decisions WHERE id IN (SELECT MAX(id) FROM decisions "
                f"WHERE post_id IN ({marks}) GROUP BY post_id)",
                chunk,
            )
            for r in rows:
                d = self._decision(r)
                out[d.post_id] = d
        return out

    async def last_decision_id(self) -> int:
        rows = await self._fetch("SELECT COALESCE(MAX(id), 0) AS m FROM decisions")
        return int(rows[0]["m"])

    async def decision_counts(self) -> list[tuple[str, str, int]]:
        rows = await self._fetch(
            "SELECT actor, action, COUNT(*) AS n FROM decisions GROUP BY actor, action "
            "ORDER BY actor, action"
        )
        return [(r["actor"], r["action"], int(r["n"])) for r in rows]

    async def _delete_posts(
        self, where: str, params: Sequence[Any], author: str | None
    ) -> list[PostRow]:
        async def job(c: aiosqlite.Connection) -> list[PostRow]:
            return await _delete_posts(c, where, params, author)

        return await self.run_write(job, durable=True)

    async def purge_posts(self, before: datetime) -> list[PostRow]:
        return await self._delete_posts("created_at < ?", (_ts(before),), None)

    async def forget_author(self, author: str) -> list[PostRow]:
        return await self._delete_posts("author = ?", (author,), author)

    async def get_cursor(self, name: str) -> str | None:
        rows = await self._fetch("SELECT value FROM cursors WHERE name=?", (name,))
        return str(rows[0]["value"]) if rows else None

    async def set_cursor(self, name: str, value: str) -> None:
        async def job(c: aiosqlite.Connection) -> None:
            await _set_cursor(c, name, value)

        await self.run_write(job)

    # -- provisioning --------------------------------------------------------------
    async def record_apply(self, apply: ApplyRow, devices: Sequence[ApplyDeviceRow]) -> int:
        from eventops.store import sqlite_ops

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

    async def list_applies(self, limit: int = 100) -> list[ApplyRow]:
        rows = await self._fetch("SELECT * FROM applies ORDER BY id DESC LIMIT ?", (limit,))
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
        from eventops.store import sqlite_ops

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

    # -- audit ------------------------------------------------------------------
    def set_audit_key(self, key: AuditKey | None) -> None:
        """Key every later audit entry (the profile's ``[audit] key``); None: plain chain only."""
        self._audit_key = key

    @property
    def audit_key(self) -> AuditKey | None:
        return self._audit_key

    async def append_audit(
        self,
        c: aiosqlite.Connection,
        actor: str,
        action: str,
        target: str,
        before: Any = None,
        after: Any = None,
    ) -> AuditEntry:
        """Append one audit entry on ``c``, inside the caller's write job (see _append_audit)."""
        return await _append_audit(
            c,
            _ts(self._now()),
            actor,
            action,
            target,
            before,
            after,
            key=self._audit_key,
            has_mac=self._has_mac,
        )

    async def audit(
        self, actor: str, action: str, target: str, before: Any = None, after: Any = None
    ) -> AuditEntry:
        async def job(c: aiosqlite.Connection) -> AuditEntry:
            return await self.append_audit(c, actor, action, target, before, after)

        return await self.run_write(job, durable=True)

    async def audit_head(self) -> tuple[int, str]:
        rows = await self._fetch("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1")
        return (int(rows[0]["id"]), str(rows[0]["hash"])) if rows else (0, GENESIS)

    async def audit_entries(self, since_id: int = 0, limit: int = 1000) -> list[AuditEntry]:
        rows = await self._fetch(
            "SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?", (since_id, limit)
        )
        return [
            AuditEntry(
                id=r["id"],
                ts=_dt(r["ts"]),
                actor=r["actor"],
                action=r["action"],
                target=r["target"],
                before=None if r["before"] is None else json.loads(r["before"]),
                after=None if r["after"] is None else json.loads(r["after"]),
                prev_hash=r["prev_hash"],
                hash=r["hash"],
                mac=r["mac"] if self._has_mac else None,
            )
            for r in rows
        ]

    async def verify_audit(self) -> int:
        """Check both chains over the open store (MACs when a key is set).

        ``eventops audit verify`` uses :func:`eventops.store.audit.verify_store`
        instead: read-only, and with a checkpoint.
        """
        prev, prev_mac, expected, count = GENESIS, GENESIS, 1, 0
        key = self._audit_key
        conn = self._read()
        conn.row_factory = sqlite3.Row
        async with conn.execute("SELECT * FROM audit ORDER BY id") as cur:
            async for r in cur:
                check_row(self.path, r, expected, prev)
                if key is not None:
                    mac = r["mac"] if self._has_mac else None
                    if mac is None or key.mac(prev_mac, r["hash"]) != mac:
                        raise AuditChainBroken(
                            f"{self.path}: audit entry {r['id']} fails its MAC: written or "
                            "rewritten without the audit key"
                        )
                    prev_mac = mac
                prev, expected, count = r["hash"], expected + 1, count + 1
        return count

    async def integrity_check(self) -> str:
        rows = await self._fetch("PRAGMA integrity_check")
        return "; ".join(str(r[0]) for r in rows)


def _decision_row(r: sqlite3.Row | dict[str, Any]) -> DecisionRow:
    return DecisionRow(
        id=r["id"],
        post_id=r["post_id"],
        ts=_dt(r["ts"]),
        actor=r["actor"],
        action=r["action"],
        reason=r["reason"],
        ref=r["ref"],
        prev_state=r["prev_state"],
        prev_pinned=None if r["prev_pinned"] is None else bool(r["prev_pinned"]),
    )


def _post_row(r: sqlite3.Row | dict[str, Any]) -> PostRow:
    return PostRow(
        id=r["id"],
        source=r["source"],
        author=r["author"],
        author_name=r["author_name"],
        text=r["text"],
        created_at=_dt(r["created_at"]),
        state=r["state"],
        pinned=bool(r["pinned"]),
        data=json.loads(r["data"]),
    )


def _block_row(r: sqlite3.Row | dict[str, Any]) -> AuthorBlockRow:
    return AuthorBlockRow(
        author=r["author"],
        until=_dt(r["until"]) if r["until"] else None,
        actor=r["actor"],
        reason=r["reason"],
        decision_id=r["decision_id"],
        created_at=_dt(r["created_at"]),
    )


async def _dicts(
    c: aiosqlite.Connection, sql: str, params: Sequence[Any] = ()
) -> list[dict[str, Any]]:
    async with c.execute(sql, params) as cur:
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in await cur.fetchall()]


async def _insert_decision(
    c: aiosqlite.Connection, decision: DecisionRow, new_state: str | None, pinned: bool | None
) -> int:
    async with c.execute("SELECT state, pinned FROM posts WHERE id=?", (decision.post_id,)) as cur:
        before = await cur.fetchone()
    cur = await c.execute(
        "INSERT INTO decisions (post_id, ts, actor, action, reason, prev_state, "
        "prev_pinned, ref) VALUES (?,?,?,?,?,?,?,?)",
        (
            decision.post_id,
            _ts(decision.ts),
            decision.actor,
            decision.action,
            decision.reason,
            before[0] if before else None,
            before[1] if before else None,
            decision.ref,
        ),
    )
    if new_state is not None:
        await c.execute("UPDATE posts SET state=? WHERE id=?", (new_state, decision.post_id))
    if pinned is not None:
        await c.execute("UPDATE posts SET pinned=? WHERE id=?", (int(pinned), decision.post_id))
    assert cur.lastrowid is not None
    return cur.lastrowid


async def _delete_posts(
    c: aiosqlite.Connection, where: str, params: Sequence[Any], author: str | None
) -> list[PostRow]:
    gone = [_post_row(r) for r in await _dicts(c, f"SELECT * FROM posts WHERE {where}", params)]
    ids = [(p.id,) for p in gone]
    await c.executemany("DELETE FROM decisions WHERE post_id=?", ids)
    await c.executemany("DELETE FROM posts WHERE id=?", ids)
    if author is not None:
        await c.execute("DELETE FROM author_blocks WHERE author=?", (author,))
    return gone


async def _put_author_block(c: aiosqlite.Connection, block: AuthorBlockRow) -> None:
    await c.execute(
        "INSERT INTO author_blocks (author, until, actor, reason, decision_id, created_at) "
        "VALUES (?,?,?,?,?,?) ON CONFLICT(author) DO UPDATE SET until=excluded.until, "
        "actor=excluded.actor, reason=excluded.reason, decision_id=excluded.decision_id, "
        "created_at=excluded.created_at",
        (
            block.author,
            _ts(block.until) if block.until else None,
            block.actor,
            block.reason,
            block.decision_id,
            _ts(block.created_at),
        ),
    )


async def _set_cursor(c: aiosqlite.Connection, name: str, value: str) -> None:
    await c.execute(
        "INSERT INTO cursors (name, value) VALUES (?,?) "
        "ON CONFLICT(name) DO UPDATE SET value=excluded.value",
        (name, value),
    )


class _SQLiteWallTx(WallTx):
    """:class:`WallTx` on the write connection, inside the writer's transaction."""

    def __init__(
        self,
        c: aiosqlite.Connection,
        now: Callable[[], datetime],
        key: AuditKey | None = None,
        has_mac: bool = True,
    ) -> None:
        self._c = c
        self._now = now
        self._key = key
        self._has_mac = has_mac

    async def get_post(self, post_id: str) -> PostRow | None:
        rows = await _dicts(self._c, "SELECT * FROM posts WHERE id=?", (post_id,))
        return _post_row(rows[0]) if rows else None

    async def decisions(self, post_id: str) -> list[DecisionRow]:
        rows = await _dicts(
            self._c, "SELECT * FROM decisions WHERE post_id=? ORDER BY id", (post_id,)
        )
        return [_decision_row(r) for r in rows]

    async def get_decision(self, decision_id: int) -> DecisionRow | None:
        rows = await _dicts(self._c, "SELECT * FROM decisions WHERE id=?", (decision_id,))
        return _decision_row(rows[0]) if rows else None

    async def decisions_referencing(self, decision_id: int) -> list[DecisionRow]:
        rows = await _dicts(
            self._c, "SELECT * FROM decisions WHERE ref=? ORDER BY id", (decision_id,)
        )
        return [_decision_row(r) for r in rows]

    async def posts_by_author(self, author: str, states: Sequence[str] = ()) -> list[PostRow]:
        sql, params = "SELECT * FROM posts WHERE author=?", [author]
        if states:
            sql += f" AND state IN ({','.join('?' * len(states))})"
            params.extend(states)
        rows = await _dicts(self._c, sql + " ORDER BY created_at", params)
        return [_post_row(r) for r in rows]

    async def decide(
        self, decision: DecisionRow, new_state: str | None, pinned: bool | None
    ) -> int:
        return await _insert_decision(self._c, decision, new_state, pinned)

    async def mark_deleted(self, post_id: str) -> None:
        await self._c.execute(
            "UPDATE posts SET state='hidden', pinned=0, "
            "data=json_set(data, '$.deleted', json('true')) WHERE id=?",
            (post_id,),
        )

    async def purge_posts(self, before: datetime) -> list[PostRow]:
        return await _delete_posts(self._c, "created_at < ?", (_ts(before),), None)

    async def forget_author(self, author: str) -> list[PostRow]:
        return await _delete_posts(self._c, "author = ?", (author,), author)

    async def get_author_block(self, author: str) -> AuthorBlockRow | None:
        rows = await _dicts(self._c, "SELECT * FROM author_blocks WHERE author=?", (author,))
        return _block_row(rows[0]) if rows else None

    async def put_author_block(self, block: AuthorBlockRow) -> None:
        await _put_author_block(self._c, block)

    async def remove_author_block(self, author: str) -> bool:
        cur = await self._c.execute("DELETE FROM author_blocks WHERE author=?", (author,))
        return cur.rowcount > 0

    async def get_cursor(self, name: str) -> str | None:
        rows = await _dicts(self._c, "SELECT value FROM cursors WHERE name=?", (name,))
        return str(rows[0]["value"]) if rows else None

    async def set_cursor(self, name: str, value: str) -> None:
        await _set_cursor(self._c, name, value)

    async def audit(
        self, actor: str, action: str, target: str, before: Any = None, after: Any = None
    ) -> AuditEntry:
        return await _append_audit(
            self._c,
            _ts(self._now()),
            actor,
            action,
            target,
            before,
            after,
            key=self._key,
            has_mac=self._has_mac,
        )


async def _append_audit(
    c: aiosqlite.Connection,
    ts: str,
    actor: str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
    *,
    key: AuditKey | None = None,
    has_mac: bool = True,
) -> AuditEntry:
    """Append one audit entry inside the caller's transaction (the chain's one writer).

    Every audit row is made here, never by its own INSERT, so that each gets
    both chains: the plain hash and, with the store's audit ``key``, the MAC
    (``has_mac`` False only for a store held at a schema before migration 5).
    """
    b = None if before is None else _canon(before)
    a = None if after is None else _canon(after)
    mac_col = "mac" if has_mac else "NULL"
    async with c.execute(f"SELECT id, hash, {mac_col} FROM audit ORDER BY id DESC LIMIT 1") as cur:
        last = await cur.fetchone()
    prev = last[1] if last else GENESIS
    entry_id = (last[0] + 1) if last else 1
    digest = audit_hash(prev, entry_id, ts, actor, action, target, b, a)
    mac = None
    if key is not None and has_mac:
        prev_mac = last[2] if last and last[2] is not None else GENESIS
        mac = key.mac(prev_mac, digest)
    row = (entry_id, ts, actor, action, target, b, a, prev, digest)
    if has_mac:
        await c.execute(
            "INSERT INTO audit (id, ts, actor, action, target, before, after, prev_hash, "
            "hash, mac) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (*row, mac),
        )
    else:
        await c.execute(
            "INSERT INTO audit (id, ts, actor, action, target, before, after, prev_hash, "
            "hash) VALUES (?,?,?,?,?,?,?,?,?)",
            row,
        )
    return AuditEntry(
        id=entry_id,
        ts=_dt(ts),
        actor=actor,
        action=action,
        target=target,
        before=before,
        after=after,
        prev_hash=prev,
        hash=digest,
        mac=mac,
    )


def _split_sql(script: str) -> list[str]:
    """Split a migration script into statements (triggers keep their inner ';')."""
    out: list[str] = []
    buf: list[str] = []
    depth = 0
    for line in script.splitlines():
        stripped = line.strip().upper()
        buf.append(line)
        if stripped.startswith("CREATE TRIGGER"):
            depth += 1
        if depth and stripped.endswith("END;"):
            depth -= 1
            out.append("\n".join(buf).rstrip().rstrip(";"))
            buf = []
        elif not depth and stripped.endswith(";"):
            out.append("\n".join(buf).rstrip().rstrip(";"))
            buf = []
    if "".join(buf).strip():
        out.append("\n".join(buf))
    return out
