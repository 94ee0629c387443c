"""``eventops audit verify|checkpoint|show`` for an event in a PostgreSQL database, read-only.

As :func:`eventops.store.audit.verify_store` does for an SQLite file: the
connection is read-only (``default_transaction_read_only``; no migration runs),
each fault is its own :class:`~eventops.errors.StoreError` class, and the same
walk (:func:`eventops.store.audit._walk`) checks the hash chain, the keyed
chain and the checkpoint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, tzinfo
from typing import Any

import asyncpg

from eventops.errors import AuditTableMissing, StoreEmpty, StoreError
from eventops.store.audit import AuditKey, Checkpoint, VerifyResult, _walk, checkpoint_applies
from eventops.store.models import AuditEntry
from eventops.store.postgres_core import CONNECT_TIMEOUT_S, _one_line, check_url, redact_url
from eventops.store.sqlite_core import _dt

BATCH = 10_000


@asynccontextmanager
async def _readonly(
    url: str, password: str | None, event: str
) -> AsyncIterator[asyncpg.Connection]:
    check_url(url)
    where = f"{redact_url(url)} (event {event})"
    try:
        conn = await asyncpg.connect(
            url,
            password=password,
            timeout=CONNECT_TIMEOUT_S,
            server_settings={
                "default_transaction_read_only": "on",
                "application_name": "eventops-verify",
            },
        )
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
        raise StoreError(f"{where}: the server refused the user or password") from None
    except asyncpg.InvalidCatalogNameError:
        raise StoreError(f"{where}: no such database on the server") from None
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise StoreError(f"{where}: cannot reach the server ({_one_line(exc)})") from None
    try:
        if await conn.fetchval("SELECT to_regclass('eventops_schema') IS NULL"):
            raise StoreEmpty(f"{where}: a database without an event store's schema")
        if await conn.fetchval("SELECT to_regclass('audit') IS NULL"):
            raise AuditTableMissing(f"{where}: the audit table is missing")
        yield conn
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise StoreError(f"{where}: cannot read the audit table ({_one_line(exc)})") from None
    finally:
        await conn.close()


async def _rows(conn: asyncpg.Connection, event: str, since_id: int = 0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    last = since_id
    while True:
        batch = await conn.fetch(
            "SELECT id, ts, actor, action, target, before, after, prev_hash, hash, mac "
            "FROM audit WHERE event_id=$1 AND id > $2 ORDER BY id LIMIT $3",
            event,
            last,
            BATCH,
        )
        out += [dict(r.items()) for r in batch]
        if len(batch) < BATCH:
            return out
        last = int(batch[-1]["id"])


async def verify_postgres(
    url: str,
    password: str | None,
    event: str,
    key: AuditKey | None = None,
    checkpoint: Checkpoint | None = None,
    tz: tzinfo = UTC,
) -> VerifyResult:
    """Check the event's audit log in the database read-only; the same faults as SQLite's
    (a checkpoint's time in a message shown in ``tz``, the event's zone)."""
    checkpoint_applies(checkpoint, key, event)
    async with _readonly(url, password, event) as conn:
        rows = await _rows(conn, event)
    return _walk(f"{redact_url(url)} (event {event})", rows, key, checkpoint, tz)


async def read_postgres_entries(
    url: str, password: str | None, event: str, since_id: int = 0
) -> list[AuditEntry]:
    """The event's audit entries after ``since_id``, read-only (``eventops audit show``)."""
    async with _readonly(url, password, event) as conn:
        rows = await _rows(conn, event, since_id)
    return [AuditEntry.of_row(r, _dt(r["ts"])) for r in rows]
