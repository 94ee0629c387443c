"""PostgreSQL store core: connections, migrations, the event's lock and one writer task.

Several engines (one per event) share one database; every row carries its
``event_id`` and every statement names it, so one engine never reads or
writes another event's rows.

Writes go through one writer task on a dedicated connection, as in the SQLite
store: it takes whatever is queued (group commit), runs each job in its own
savepoint so one failing job does not spoil the others, commits with
``synchronous_commit=on`` and only then resolves each caller's future, so an
acknowledged write is on the server's disk. Every write transaction first
takes a transaction-scoped advisory lock on the event: writers of one event
(this process, a standby engine, a CLI command) commit one after another, so
a check made inside a transaction (:class:`~eventops.store.base.OpsTx`,
:class:`~eventops.store.base.WallTx`) still holds when its writes commit;
other events' writers are not held up. Reads use a small pool and see
committed data only.

Timestamps are stored as the same UTC ISO text as in SQLite (``_ts``): the
audit chain hashes that text, rows copy between the two backends unchanged,
and the text sorts in time order.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from eventops.errors import StoreError
from eventops.store.audit import AuditKey
from eventops.store.base import PageReads, Store
from eventops.store.postgres_schema import PG_LATEST, PG_MIGRATIONS
from eventops.store.writer import group_commit_loop

log = logging.getLogger("eventops.store.postgres")

T = TypeVar("T")
PgJob = Callable[[asyncpg.Connection], Awaitable[T]]

MAX_GROUP = 256
SampleColumns = tuple[list[str], list[str], list[int], list[float]]
INSERT_SAMPLES = (
    "INSERT INTO samples (event_id, device, metric, ts_ms, value) "
    "SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[], $5::float8[])"
)
CONNECT_TIMEOUT_S = 10.0
# the server closed or is closing the session: nothing of a statement sent on it took effect
# unless it was a COMMIT (never retried)
LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InterfaceError,
    OSError,
)
_MIGRATION_LOCK = 0x6576_6F70_735F_6D67  # "evops_mg": one migrator per database at a time


def redact_url(url: str) -> str:
    """``url`` without a password (and without query parameters that might carry one)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://<malformed URL>"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    try:
        if parts.port:
            netloc += f":{parts.port}"
    except ValueError:
        pass
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    query = "&".join(
        q for q in parts.query.split("&") if q.split("=", 1)[0] in ("host", "port", "sslmode")
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def event_lock_key(event_id: str) -> int:
    """The advisory lock key (signed 64 bit) that serialises one event's writers."""
    digest = hashlib.sha256(b"eventops.event-writer\n" + event_id.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def check_url(url: str) -> None:
    """Raise :class:`StoreError` unless ``url`` is a ``postgresql://`` URL without a password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise StoreError("[store] url: not a URL") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise StoreError(f"[store] url: scheme {parts.scheme!r} is not postgresql://")
    if parts.password is not None or "password=" in parts.query.lower():
        raise StoreError(
            "[store] url: carries a password; put it in [store] password as a secret "
            "reference (env:NAME or file:PATH)"
        )
    if not parts.path.strip("/"):
        raise StoreError(f"{redact_url(url)}: [store] url names no database")


@dataclass
class _Pending:
    job: PgJob[Any]
    samples: SampleColumns | None = None
    """A plain samples insert: merged with the group's others into one statement."""
    future: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class PostgresCore(Store):
    """Connections, migrations and the one writer task; the domain methods are mixins."""

    def __init__(
        self,
        url: str,
        *,
        event_id: str,
        password: str | None = None,
        migrations: Sequence[tuple[int, str]] = PG_MIGRATIONS,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        audit_key: AuditKey | None = None,
        read_pool: int = 4,
    ) -> None:
        check_url(url)
        if not event_id or len(event_id) > 200:
            raise StoreError("a PostgreSQL store needs an event id (1..200 characters)")
        self.url = url
        self.event_id = event_id
        self.where = f"{redact_url(url)} (event {event_id})"
        self._password = password
        self._audit_key = audit_key
        self._has_mac = True
        self.timeline_reads = PageReads()
        self._migrations = tuple(migrations)
        self._now = now
        self._lock_key = event_lock_key(event_id)
        self._read_pool = read_pool
        self._w: asyncpg.Connection | None = None
        self._pool: asyncpg.Pool | None = None
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    def __repr__(self) -> str:  # never the password
        return f"PostgresStore({self.where})"

    # -- lifecycle ------------------------------------------------------------
    async def _connect(self) -> asyncpg.Connection:
        try:
            conn: asyncpg.Connection = await asyncpg.connect(
                self.url,
                password=self._password,
                timeout=CONNECT_TIMEOUT_S,
                server_settings={
                    "application_name": "eventops",
                    "synchronous_commit": "on",
                    "TimeZone": "UTC",
                    # a writer stopped mid-transaction (SIGSTOP, a hung host) must not hold
                    # the event's lock for ever: the server ends its session
                    "idle_in_transaction_session_timeout": "60000",
                },
            )
        except BaseException as exc:
            raise self._connect_error(exc) from None
        return conn

    def _connect_error(self, exc: BaseException) -> BaseException:
        """One line for a failed connection; never the password or the full DSN."""
        if isinstance(
            exc, asyncpg.InvalidPasswordError | asyncpg.InvalidAuthorizationSpecificationError
        ):
            why = "the server refused the user or password"
        elif isinstance(exc, asyncpg.InvalidCatalogNameError):
            why = "no such database on the server"
        elif isinstance(exc, TimeoutError):
            why = f"no answer within {CONNECT_TIMEOUT_S:.0f} s"
        elif isinstance(exc, socket.gaierror):
            why = "cannot resolve the server's name"
        elif isinstance(exc, OSError):
            why = f"cannot reach the server ({exc.strerror or type(exc).__name__})"
        elif isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError):
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if self._password:
                why = why.replace(self._password, "***")
        else:
            return exc
        return StoreError(f"{self.where}: cannot open event store ({why})")

    async def open(self) -> None:
        try:
            self._w = await self._connect()
            await self._migrate()
            self._has_mac = True
            self._pool = await asyncpg.create_pool(
                self.url,
                password=self._password,
                min_size=1,
                max_size=self._read_pool,
                timeout=CONNECT_TIMEOUT_S,
                server_settings={"application_name": "eventops-read", "TimeZone": "UTC"},
            )
        except StoreError:
            await self._close_connections()
            raise
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            await self._close_connections()
            err = self._connect_error(exc)
            raise err from None
        except BaseException:
            await self._close_connections()
            raise
        self._writer = asyncio.create_task(self._write_loop(), name=f"store-writer:{self.where}")

    async def _migrate(self) -> None:
        conn = self._w
        assert conn is not None
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            if await conn.fetchval("SELECT to_regclass('eventops_schema') IS NULL"):
                # (only then: a role that may write rows but not create tables opens a
                # database an administrator migrated)
                await conn.execute(
                    "CREATE TABLE eventops_schema ("
                    "one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one), version INTEGER NOT NULL)"
                )
            current = await conn.fetchval("SELECT version FROM eventops_schema") or 0
            known = self._migrations[-1][0] if self._migrations else 0
            if current > max(known, PG_LATEST):
                raise StoreError(
                    f"{self.where}: schema version {current} is newer than this eventops knows "
                    f"({known}); upgrade eventops"
                )
            for version, script in self._migrations:
                if version <= current:
                    continue
                await conn.execute(script)
                await conn.execute(
                    "INSERT INTO eventops_schema (version) VALUES ($1) "
                    "ON CONFLICT (one) DO UPDATE SET version = excluded.version",
                    version,
                )
                log.info("store %s migrated to schema %d", self.where, version)

    async def close(self) -> None:
        if self._writer is not None:
            await self._queue.put(None)
            try:
                await self._writer
            finally:
                self._writer = None
        await self._close_connections()

    async def _close_connections(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 10)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                pool.terminate()
        if self._w is not None:
            w, self._w = self._w, None
            try:
                await asyncio.wait_for(w.close(), 10)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                w.terminate()

    async def schema_version(self) -> int:
        return int(await self._fetchval("SELECT version FROM eventops_schema") or 0)

    # -- the writer ------------------------------------------------------------
    async def run_write(
        self, job: PgJob[T], *, durable: bool = False, samples: SampleColumns | None = None
    ) -> T:
        """Run ``job`` on the write connection inside the event's transaction; return after
        commit. (Every commit is durable here; ``durable`` is kept for the SQLite signature.)
        ``samples``: the job only inserts these samples, so the writer may merge it with the
        group's other sample inserts (the job itself runs if the merged insert fails)."""
        self._check_open()
        pending = _Pending(job, samples)
        await self._queue.put(pending)
        result: T = await pending.future
        return result

    @asynccontextmanager
    async def locked_transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction on a connection of its own that holds the event's write lock, for
        bulk work outside the writer (``store copy``): this event's writers, here and in
        other processes, wait until it commits or rolls back."""
        conn = await self._connect()
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", self._lock_key)
                yield conn
        finally:
            await conn.close()

    def _check_open(self) -> None:
        if self._writer is None or self._writer.done():
            raise StoreError(f"{self.where}: store is not open")

    async def _write_loop(self) -> None:
        await group_commit_loop(self._queue, self._commit_group, str(self.where), MAX_GROUP)

    async def _writable(self) -> asyncpg.Connection:
        """The write connection; a new one if the server dropped the old (restart, failover)."""
        if self._w is None or self._w.is_closed():
            if self._w is not None:
                self._w.terminate()
            self._w = None
            self._w = await self._connect()
        return self._w

    async def _begin(self) -> tuple[asyncpg.Connection, Any]:
        """A transaction holding the event's lock, on a live connection.

        A connection the server dropped while idle (restart, failover, an idle timeout)
        shows only when used: then nothing of the group has run yet, so it is retried
        once on a new connection.
        """
        for attempt in (1, 2):
            conn = await self._writable()
            tx = conn.transaction()
            try:
                await tx.start()
                await conn.execute("SELECT pg_advisory_xact_lock($1)", self._lock_key)
            except LOST:
                if not conn.is_closed() or attempt == 2:
                    raise
                log.warning("store %s: connection lost, connecting again", self.where)
                continue
            return conn, tx
        raise AssertionError("unreachable")

    async def _commit_group(self, group: list[_Pending]) -> None:
        results: list[tuple[_Pending, Any, BaseException | None]] = []
        try:
            conn, tx = await self._begin()
            try:
                rest = await self._merged_samples(conn, group, results)
                for p in rest:
                    try:
                        async with conn.transaction():  # a savepoint per job
                            value = await p.job(conn)
                    except Exception as exc:
                        if conn.is_closed():
                            raise  # the connection, not the job: fails the group
                        results.append((p, None, exc))  # the job's own fault: undone alone
                    else:
                        results.append((p, value, None))
            except BaseException:
                if not conn.is_closed():
                    await tx.rollback()
                raise
            await tx.commit()  # a failure here: not known to be committed, so not acknowledged
        except asyncio.CancelledError:
            for p in group:
                if not p.future.done():
                    p.future.set_exception(StoreError(f"{self.where}: write cancelled"))
            raise
        except Exception as exc:
            # not committed (or not known to be): no caller is told its write is stored
            err = StoreError(f"{self.where}: write failed ({_one_line(exc)})")
            for p in group:
                if not p.future.done():
                    p.future.set_exception(err)
            if self._w is not None and not self._w.is_closed():
                try:
                    await self._w.execute("SELECT 1")
                except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    self._w.terminate()
            return
        for p, value, failure in results:
            if p.future.done():
                continue
            if failure is None:
                p.future.set_result(value)
            elif isinstance(failure, asyncpg.PostgresError):
                p.future.set_exception(StoreError(f"{self.where}: {_one_line(failure)}"))
            else:
                p.future.set_exception(failure)

    async def _merged_samples(
        self,
        conn: asyncpg.Connection,
        group: list[_Pending],
        results: list[tuple[_Pending, Any, BaseException | None]],
    ) -> list[_Pending]:
        """Insert the group's sample batches as one statement; the jobs left to run one by one."""
        batches = [p for p in group if p.samples is not None]
        if len(batches) < 2:
            return group
        devices: list[str] = []
        metrics: list[str] = []
        stamps: list[int] = []
        values: list[float] = []
        for p in batches:
            assert p.samples is not None
            devices += p.samples[0]
            metrics += p.samples[1]
            stamps += p.samples[2]
            values += p.samples[3]
        cols: SampleColumns = (devices, metrics, stamps, values)
        try:
            async with conn.transaction():
                await conn.execute(INSERT_SAMPLES, self.event_id, *cols)
        except Exception:
            if conn.is_closed():
                raise
            return group  # one bad batch: each runs alone, in its own savepoint
        results.extend((p, None, None) for p in batches)
        return [p for p in group if p.samples is None]

    # -- reads -------------------------------------------------------------------------
    def _readers(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreError(f"{self.where}: store is not open")
        return self._pool

    async def _read_call(self, how: str, sql: str, params: tuple[Any, ...]) -> Any:
        """One read on the pool; once more on a fresh connection if the server dropped the
        pooled one (reads change nothing, so a retry is safe)."""
        for attempt in (1, 2):
            try:
                return await getattr(self._readers(), how)(sql, *params)
            except LOST as exc:
                if attempt == 2:
                    raise StoreError(f"{self.where}: read failed ({_one_line(exc)})") from None
            except asyncpg.PostgresError as exc:
                raise StoreError(f"{self.where}: read failed ({_one_line(exc)})") from None
        raise AssertionError("unreachable")

    async def _fetch(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        rows = await self._read_call("fetch", sql, params)
        return [dict(r.items()) for r in rows]

    async def _fetchval(self, sql: str, *params: Any) -> Any:
        return await self._read_call("fetchval", sql, params)

    async def integrity_check(self) -> str:
        """``ok`` when the server answers and every table of the schema is there."""
        missing = await self._fetchval(
            "SELECT string_agg(t, ', ') FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL",
            list(TABLES),
        )
        return "ok" if not missing else f"missing tables: {missing}"


TABLES = (
    "events",
    "devices",
    "samples",
    "alerts",
    "probe_results",
    "posts",
    "decisions",
    "audit",
    "applies",
    "apply_devices",
    "cursors",
    "author_blocks",
    "handovers",
    "pending_restores",
    "silences",
)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


async def dicts(c: asyncpg.Connection, sql: str, *params: Any) -> list[dict[str, Any]]:
    """Rows of ``sql`` on ``c`` as plain dicts (the row helpers take mappings)."""
    return [dict(r.items()) for r in await c.fetch(sql, *params)]


class EventFilter:
    """A listing query's conditions on one event's rows, with asyncpg's numbered
    placeholders: :meth:`arg` takes a value and names its ``$n``."""

    def __init__(self, event_id: str) -> None:
        self.params: list[Any] = [event_id]
        self.where = ["event_id = $1"]

    def arg(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def select(self, table: str, order: str, limit: int | None) -> str:
        """``SELECT *`` of the rows that meet every condition, in ``order``."""
        sql = f"SELECT * FROM {table} WHERE {' AND '.join(self.where)} ORDER BY {order}"
        return sql if limit is None else f"{sql} LIMIT {self.arg(limit)}"
