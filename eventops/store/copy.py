"""Copy one event's SQLite store into a PostgreSQL database (``eventops store copy``).

An event started on a laptop moves to the server: every row of every table,
the audit log as it is (ids, hashes, MACs — the database's chain guard checks
each row on the way in, so a copy that commits is a chain that verifies).

The copy reads one consistent snapshot of the SQLite file (an engine may keep
writing to it meanwhile) and writes in one PostgreSQL transaction: it commits
whole or not at all. A target that already holds rows of the event is refused
unless ``append`` is given; then rows whose key the target has are kept as
they are, samples are copied only after the target's newest, and the audit
log only if the target's is a beginning of the source's (e.g. to catch up
with what the laptop wrote since an earlier copy).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg

from eventops.errors import StoreError
from eventops.store.postgres import PostgresStore
from eventops.store.postgres_core import TABLES, _one_line
from eventops.store.sqlite import SQLiteStore

BATCH = 5000
Progress = Callable[[str, int, int], None]
"""``progress(table, rows_done, rows_total)``, called after each batch."""

# (table, key columns in PostgreSQL) — keyed tables skip rows the target has (append)
_KEYS: dict[str, tuple[str, ...]] = {
    "devices": ("event_id", "id"),
    "alerts": ("event_id", "id"),
    "probe_results": ("event_id", "id"),
    "posts": ("event_id", "id"),
    "decisions": ("event_id", "id"),
    "author_blocks": ("event_id", "author"),
    "cursors": ("event_id", "name"),
    "applies": ("event_id", "id"),
    "apply_devices": ("event_id", "apply_id", "device"),
    "handovers": ("event_id", "id"),
    "pending_restores": ("event_id", "device"),
    "silences": ("event_id", "id"),
}
_IDENTITY = ("alerts", "probe_results", "decisions", "applies", "handovers", "silences")


@dataclass
class CopyReport:
    event: str
    rows: dict[str, int] = field(default_factory=dict)
    audit_entries: int = 0
    """The target's audit entries for the event after the copy, all verified."""


def source_event(path: Path) -> str:
    """The event id an SQLite store holds (its one ``events`` row)."""
    con = _ro(path)
    try:
        ids = [r[0] for r in con.execute("SELECT id FROM events ORDER BY id")]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: not an event store ({exc})") from None
    finally:
        con.close()
    if len(ids) != 1:
        raise StoreError(
            f"{path}: holds {len(ids)} events ({', '.join(ids) or 'none'}); name one with --event"
        )
    return str(ids[0])


def _ro(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StoreError(f"{path}: no event store here")
    try:
        return sqlite3.connect(
            f"file:{quote(str(path.resolve()))}?mode=ro", uri=True, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open event store ({exc})") from None


async def copy_sqlite_to_postgres(
    source: Path,
    url: str,
    *,
    password: str | None,
    event: str | None = None,
    append: bool = False,
    progress: Progress | None = None,
) -> CopyReport:
    """Copy the event in ``source`` into the database ``url``; see the module's docstring."""
    if not await asyncio.to_thread(source.is_file):
        raise StoreError(f"{source}: no event store here")
    # bring the source to the newest schema first (the one migration path there is)
    async with SQLiteStore(source):
        pass
    event_id = event if event is not None else await asyncio.to_thread(source_event, source)
    target = PostgresStore(url, event_id=event_id, password=password)
    async with target:  # connects, creates or migrates the schema
        try:
            async with target.locked_transaction() as conn:
                report = await _copy(conn, source, event_id, append, progress)
                for table in _IDENTITY:  # ids handed out later follow the copied ones
                    await conn.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), "
                        f"(SELECT last_value FROM {table}_id_seq)))"
                    )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise StoreError(
                f"{target.where}: copy failed, nothing written ({_one_line(exc)})"
            ) from None
        report.audit_entries = await target.verify_audit()
    return report


async def _copy(
    conn: asyncpg.Connection, source: Path, event_id: str, append: bool, progress: Progress | None
) -> CopyReport:
    report = CopyReport(event_id)
    held = {
        t: int(await conn.fetchval(f"SELECT count(*) FROM {t} WHERE event_id=$1", event_id))
        for t in TABLES
        if t != "events"
    }
    if any(held.values()) and not append:
        n = sum(held.values())
        raise StoreError(
            f"the target already holds {n} rows of event {event_id}; "
            "pass --append to add only what it lacks"
        )
    columns = await _pg_columns(conn)
    con = await asyncio.to_thread(_ro, source)
    try:
        await asyncio.to_thread(con.execute, "BEGIN")  # one snapshot of the whole file
        ev = await asyncio.to_thread(
            lambda: con.execute(
                "SELECT id, name, start_utc, end_utc, timezone FROM events WHERE id=?", (event_id,)
            ).fetchone()
        )
        if ev is not None:  # (a store only provisioned from the CLI has none yet)
            await conn.execute(
                "INSERT INTO events (id, name, start_utc, end_utc, timezone) VALUES ($1,$2,$3,$4,$5) "
                "ON CONFLICT (id) DO NOTHING",
                *ev,
            )
        for table in TABLES:
            if table == "events":
                continue
            report.rows[table] = await _copy_table(
                conn, con, table, columns[table], event_id, append, progress
            )
    finally:
        con.close()
    return report


async def _pg_columns(conn: asyncpg.Connection) -> dict[str, list[tuple[str, str]]]:
    rows = await conn.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
    )
    out: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        out.setdefault(r["table_name"], []).append((r["column_name"], r["data_type"]))
    return out


def _coerce(kind: str) -> Callable[[Any], Any]:
    if kind in ("bigint", "integer", "smallint"):
        return lambda v: None if v is None else int(v)
    if kind == "double precision":
        return lambda v: None if v is None else float(v)
    return lambda v: None if v is None else str(v)


async def _copy_table(
    conn: asyncpg.Connection,
    src: sqlite3.Connection,
    table: str,
    cols: list[tuple[str, str]],
    event_id: str,
    append: bool,
    progress: Progress | None,
) -> int:
    names = [c for c, _ in cols if c != "event_id"]
    casts = [_coerce(k) for c, k in cols if c != "event_id"]
    where: str = ""
    params: tuple[Any, ...] = ()
    if append and table == "samples":
        newest = await conn.fetchval("SELECT MAX(ts_ms) FROM samples WHERE event_id=$1", event_id)
        if newest is not None:
            where, params = " WHERE ts_ms > ?", (int(newest),)
    if append and table == "audit":
        where, params = await _audit_tail(conn, src, event_id)
    total = await asyncio.to_thread(
        lambda: int(src.execute(f"SELECT count(*) FROM {table}{where}", params).fetchone()[0])
    )
    count = f"SELECT count(*) FROM {table} WHERE event_id=$1"
    before = int(await conn.fetchval(count, event_id))
    order = " ORDER BY id" if table == "audit" else ""
    cur = await asyncio.to_thread(
        src.execute, f"SELECT {', '.join(names)} FROM {table}{where}{order}", params
    )
    done = 0
    while batch := await asyncio.to_thread(cur.fetchmany, BATCH):
        records = [(event_id, *(f(v) for f, v in zip(casts, row, strict=True))) for row in batch]
        if append and table in _KEYS:
            await _insert_missing(conn, table, ["event_id", *names], _KEYS[table], records)
        elif table == "audit":  # row by row through the chain guard, in order
            await conn.executemany(
                f"INSERT INTO audit (event_id, {', '.join(names)}) VALUES "
                f"({', '.join(f'${i}' for i in range(1, len(names) + 2))})",
                records,
            )
        else:
            await conn.copy_records_to_table(table, records=records, columns=["event_id", *names])
        done += len(records)
        if progress is not None:
            progress(table, done, total)
    return int(await conn.fetchval(count, event_id)) - before  # rows added (append: new ones)


async def _insert_missing(
    conn: asyncpg.Connection,
    table: str,
    names: list[str],
    key: tuple[str, ...],
    records: list[tuple[Any, ...]],
) -> None:
    marks = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    await conn.executemany(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks}) "
        f"ON CONFLICT ({', '.join(key)}) DO NOTHING",
        records,
    )


async def _audit_tail(
    conn: asyncpg.Connection, src: sqlite3.Connection, event_id: str
) -> tuple[str, tuple[Any, ...]]:
    """Where the source's audit log goes on after the target's (which must be its beginning)."""
    head = await conn.fetchrow(
        "SELECT id, hash FROM audit WHERE event_id=$1 ORDER BY id DESC LIMIT 1", event_id
    )
    if head is None:
        return "", ()
    row = await asyncio.to_thread(
        lambda: src.execute("SELECT hash FROM audit WHERE id=?", (int(head["id"]),)).fetchone()
    )
    if row is None or row[0] != head["hash"]:
        raise StoreError(
            f"the target's audit log of event {event_id} is not a beginning of the source's "
            f"(entry {head['id']} differs or is missing): they diverged, nothing copied"
        )
    return " WHERE id > ?", (int(head["id"]),)
