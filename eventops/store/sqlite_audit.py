"""SQLiteStore's audit chain: append (hash + MAC chains), read, verify."""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite

from eventops.errors import AuditChainBroken
from eventops.store.audit import GENESIS, AuditKey, audit_hash, check_row
from eventops.store.models import AuditEntry
from eventops.store.sqlite_core import SQLiteCore, _canon, _dt, _ts


class SQLiteAuditMixin(SQLiteCore):
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

    async def audit_entries(
        self, since_id: int = 0, limit: int = 1000, *, action: str | None = None
    ) -> list[AuditEntry]:
        if action is None:
            rows = await self._fetch(
                "SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?", (since_id, limit)
            )
        else:
            rows = await self._fetch(
                "SELECT * FROM audit WHERE id > ? AND action = ? ORDER BY id LIMIT ?",
                (since_id, action, limit),
            )
        return [AuditEntry.of_row(r, _dt(r["ts"]), with_mac=self._has_mac) for r in rows]

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
