"""Which engines serve an event: one row per engine process in ``engine_presence``.

Every engine that runs under an event's lease (:mod:`eventops.store.lease`),
active or standby, records itself at every step of its election (a
heartbeat): one row per engine process (``holder``, new at every start) with
the address it answers at, its role and when it was last seen, all on the
database server's clock (``now()``). The heartbeat is one statement
(:data:`HEARTBEAT`) that

- inserts or refreshes this engine's row;
- deletes the rows of other engines of the event not seen for ``keep_s``, and
  all but the ``max_rows`` most recently seen ones (the table stays bounded
  whatever crash loop fills it);
- on the lease holder only: marks the event as one that has a standby
  (``engine_lease.standby_seen_at``, set once) when another engine of the
  event is a standby seen within ``live_s``;
- returns the event's rows as they are now, with their age on the server's
  clock, the mark, and (for the lease holder) how long its term has run.

The mark lives in the lease row, not in a presence row, so pruning old rows
never forgets that the event had a standby. Text columns are bounded like the
lease's, the role is one of :data:`ROLES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

ROLES = ("standby", "active", "deposed", "stopped")
"""What a presence row may say an engine is (``stopped``: it stopped cleanly)."""

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS engine_presence (
    event_id   text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
    holder     text NOT NULL CHECK (length(holder) BETWEEN 1 AND 200),
    address    text NOT NULL CHECK (length(address) <= 500),
    role       text NOT NULL CHECK (role IN ({", ".join(f"'{r}'" for r in ROLES)})),
    started_at timestamptz NOT NULL,
    seen_at    timestamptz NOT NULL CHECK (seen_at >= started_at),
    PRIMARY KEY (event_id, holder)
)
"""
MARK_COLUMN = "standby_seen_at"
"""The column of ``engine_lease``: when an active engine first saw a standby of the event."""
HAS_MARK = """
SELECT 1 FROM information_schema.columns
 WHERE table_schema = current_schema() AND table_name = 'engine_lease' AND column_name = $1
"""
ADD_MARK = f"ALTER TABLE engine_lease ADD COLUMN IF NOT EXISTS {MARK_COLUMN} timestamptz"
"""Run only when :data:`HAS_MARK` finds no column (an ALTER locks the table)."""

# $1 event, $2 holder, $3 address, $4 role, $5 keep_s, $6 max_rows, $7 live_s
HEARTBEAT = f"""
WITH me AS (
    INSERT INTO engine_presence AS p (event_id, holder, address, role, started_at, seen_at)
    VALUES ($1, $2, $3, $4, now(), now())
    ON CONFLICT (event_id, holder) DO UPDATE
       SET address = EXCLUDED.address, role = EXCLUDED.role, seen_at = now()
    RETURNING holder, address, role, started_at, seen_at
), gone AS (
    DELETE FROM engine_presence o
     WHERE o.event_id = $1 AND o.holder <> $2
       AND (o.seen_at < now() - make_interval(secs => $5::float8)
            OR o.holder NOT IN (SELECT k.holder FROM engine_presence k
                                 WHERE k.event_id = $1 AND k.holder <> $2
                                 ORDER BY k.seen_at DESC, k.holder
                                 LIMIT $6::int))
    RETURNING o.holder
), mark AS (
    UPDATE engine_lease l SET {MARK_COLUMN} = now()
     WHERE l.event_id = $1 AND l.holder = $2 AND l.expires_at > now()
       AND l.{MARK_COLUMN} IS NULL AND $4::text = 'active'
       AND EXISTS (SELECT 1 FROM engine_presence s
                    WHERE s.event_id = $1 AND s.holder <> $2 AND s.role = 'standby'
                      AND s.seen_at >= now() - make_interval(secs => $7::float8))
    RETURNING l.{MARK_COLUMN} AS seen
), info AS (
    SELECT coalesce((SELECT seen FROM mark), l.{MARK_COLUMN}) AS standby_seen_at,
           CASE WHEN l.holder = $2 AND l.expires_at > now()
                THEN extract(epoch FROM now() - l.acquired_at)::float8 END AS term_s
      FROM engine_lease l WHERE l.event_id = $1
)
SELECT r.holder, r.address, r.role, r.started_at, r.seen_at, r.age_s, r.mine,
       i.standby_seen_at, i.term_s
  FROM (SELECT holder, address, role, started_at, seen_at, 0.0::float8 AS age_s, true AS mine
          FROM me
        UNION ALL
        SELECT holder, address, role, started_at, seen_at,
               extract(epoch FROM now() - seen_at)::float8, false
          FROM engine_presence
         WHERE event_id = $1 AND holder <> $2 AND holder NOT IN (SELECT holder FROM gone)) r
  LEFT JOIN info i ON true
 ORDER BY r.mine DESC, r.seen_at DESC, r.holder
"""

KEEP_S = 86_400.0
"""Rows of engines not seen for a day are deleted (at least 10 absence thresholds)."""
MAX_ROWS = 32
"""At most this many rows of other engines per event are kept (the most recently seen)."""


@dataclass(frozen=True)
class Presence:
    """One engine's row, as the database had it at the heartbeat."""

    holder: str
    address: str
    role: str
    started_at: datetime
    seen_at: datetime
    age_s: float
    """Seconds since it was last seen, on the server's clock (0 for this engine's own)."""
    mine: bool
    """The row of the engine that sent the heartbeat."""


@dataclass(frozen=True)
class PresenceSnapshot:
    """What one heartbeat returned."""

    engines: tuple[Presence, ...]
    """This engine's own row first, then the others, most recently seen first."""
    standby_seen_at: datetime | None
    """When an active engine first saw a standby of this event (None: never)."""
    term_s: float | None
    """How long this engine's term has run on the server's clock; None unless it holds
    the lease."""

    @property
    def others(self) -> tuple[Presence, ...]:
        return tuple(e for e in self.engines if not e.mine)


def snapshot_of(rows: list[Any]) -> PresenceSnapshot:
    """The :class:`PresenceSnapshot` of :data:`HEARTBEAT`'s rows."""
    engines = tuple(
        Presence(
            holder=str(r["holder"]),
            address=str(r["address"]),
            role=str(r["role"]),
            started_at=r["started_at"],
            seen_at=r["seen_at"],
            age_s=max(0.0, float(r["age_s"])),
            mine=bool(r["mine"]),
        )
        for r in rows
    )
    first = rows[0] if rows else None
    term = first["term_s"] if first is not None else None
    return PresenceSnapshot(
        engines=engines,
        standby_seen_at=first["standby_seen_at"] if first is not None else None,
        term_s=None if term is None else max(0.0, float(term)),
    )
