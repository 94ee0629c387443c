"""PostgresStore's audit chain: append (hash + MAC chains), read, verify — per event."""

from __future__ import annotations

from typing import Any

import asyncpg

from eventops.errors import AuditChainBroken, StoreError
from eventops.store.audit import GENESIS, AuditKey, audit_hash, check_row
from eventops.store.models import AuditEntry
from eventops.store.postgres_core import PostgresCore, _one_line
from eventops.store.sqlite_core import _canon, _dt, _ts

VERIFY_BATCH = 5000


class PostgresAuditMixin(PostgresCore):
    def set_audit_key(self, key: AuditKey | None) -> None:
        """Key every later audit entry (the profile's ``[audit] key``); None: plain chain only."""
        self._audit_key = key

    @property
    def audit_key(self) -> AuditKey | None:
        return self._audit_key

    async def append_audit(
        self,
        c: asyncpg.Connection,
        actor: str,
        action: str,
        target: str,
        before: Any = None,
        after: Any = None,
    ) -> AuditEntry:
        """Append one audit entry on ``c``, inside the caller's write job."""
        return await pg_append_audit(
            c,
            self.event_id,
            _ts(self._now()),
            actor,
            action,
            target,
            before,
            after,
            key=self._audit_key,
        )

    async def audit(
        self, actor: str, action: str, target: str, before: Any = None, after: Any = None
    ) -> AuditEntry:
        async def job(c: asyncpg.Connection) -> AuditEntry:
            return await self.append_audit(c, actor, action, target, before, after)

        return await self.run_write(job, durable=True)

    async def audit_head(self) -> tuple[int, str]:
        rows = await self._fetch(
            "SELECT id, hash FROM audit WHERE event_id=$1 ORDER BY id DESC LIMIT 1", self.event_id
        )
        return (int(rows[0]["id"]), str(rows[0]["hash"])) if rows else (0, GENESIS)

    async def audit_entries(
        self, since_id: int = 0, limit: int = 1000, *, action: str | None = None
    ) -> list[AuditEntry]:
        if action is None:
            rows = await self._fetch(
                "SELECT * FROM audit WHERE event_id=$1 AND id > $2 ORDER BY id LIMIT $3",
                self.event_id,
                since_id,
                limit,
            )
        else:
            rows = await self._fetch(
                "SELECT * FROM audit WHERE event_id=$1 AND id > $2 AND action = $3 "
                "ORDER BY id LIMIT $4",
                self.event_id,
                since_id,
                action,
                limit,
            )
        return [entry_of(r) for r in rows]

    async def verify_audit(self) -> int:
        """Check both chains of this event's log (MACs when a key is set), in batches."""
        prev, prev_mac, expected, count = GENESIS, GENESIS, 1, 0
        key = self._audit_key
        last_id = 0
        while True:
            rows = await self._fetch(
                "SELECT * FROM audit WHERE event_id=$1 AND id > $2 ORDER BY id LIMIT $3",
                self.event_id,
                last_id,
                VERIFY_BATCH,
            )
            for r in rows:
                check_row(self.where, r, expected, prev)
                if key is not None:
                    mac = r["mac"]
                    if mac is None or key.mac(prev_mac, r["hash"]) != mac:
                        raise AuditChainBroken(
                            f"{self.where}: audit entry {r['id']} fails its MAC: written or "
                            "rewritten without the audit key"
                        )
                    prev_mac = mac
                prev, expected, count = r["hash"], expected + 1, count + 1
            if len(rows) < VERIFY_BATCH:
                return count
            last_id = int(rows[-1]["id"])


def entry_of(r: dict[str, Any]) -> AuditEntry:
    return AuditEntry.of_row(r, _dt(r["ts"]))


async def pg_append_audit(
    c: asyncpg.Connection,
    event_id: str,
    ts: str,
    actor: str,
    action: str,
    target: str,
    before: Any = None,
    after: Any = None,
    *,
    key: AuditKey | None = None,
) -> AuditEntry:
    """Append one audit entry inside the caller's transaction (which holds the event's lock).

    The database checks the row again (``audit_chain`` trigger): the next id, the
    previous hash, the hash itself, and no MAC-less row after a keyed one.
    """
    b = None if before is None else _canon(before)
    a = None if after is None else _canon(after)
    last = await c.fetchrow(
        "SELECT id, hash, mac FROM audit WHERE event_id=$1 ORDER BY id DESC LIMIT 1", event_id
    )
    prev = str(last["hash"]) if last else GENESIS
    entry_id = int(last["id"]) + 1 if last else 1
    digest = audit_hash(prev, entry_id, ts, actor, action, target, b, a)
    mac = None
    if key is not None:
        prev_mac = str(last["mac"]) if last and last["mac"] is not None else GENESIS
        mac = key.mac(prev_mac, digest)
    try:
        await c.execute(
            "INSERT INTO audit (event_id, id, ts, actor, action, target, before, after, "
            "prev_hash, hash, mac) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
            event_id,
            entry_id,
            ts,
            actor,
            action,
            target,
            b,
            a,
            prev,
            digest,
            mac,
        )
    except asyncpg.CheckViolationError as exc:
        raise StoreError(f"audit log refused the entry: {_one_line(exc)}") from None
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
