"""SQLite store core: WAL, forward migrations at open, one writer task.

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

from eventops.errors import StoreError
from eventops.store.audit import AuditKey
from eventops.store.base import PageReads, Store
from eventops.store.migrations import LATEST, MIGRATIONS
from eventops.store.models import utc
from eventops.store.writer import group_commit_loop

# The logger keeps the name of the module SQLiteStore is imported from.
log = logging.getLogger("eventops.store.sqlite")

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


class SQLiteCore(Store):
    """Connections, migrations and the one writer task; the domain methods are mixins."""

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
        self.timeline_reads = PageReads()
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
        await group_commit_loop(self._queue, self._commit_group, str(self.path), MAX_GROUP)

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

    async def integrity_check(self) -> str:
        rows = await self._fetch("PRAGMA integrity_check")
        return "; ".join(str(r[0]) for r in rows)


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
