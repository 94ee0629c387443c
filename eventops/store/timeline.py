"""The timeline's rows a page at a time: keyset pagination over several tables.

The timeline (:func:`eventops.monitor.history.timeline`) merges alerts raised
and cleared, probe results, moderation decisions, handovers and audit entries
into one list ordered by the key ``(time, kind, row id)``. A page of it is read
as a k-way merge: one query per source, each asking its own index for at most
``limit + 1`` rows after the cursor's key, merged here by the same key and cut
to ``limit + 1`` — so a page reads at most ``sources × (limit + 1)`` rows, however
long the event ran, and the caller learns from the extra row whether more follow.

Why not one ``UNION ALL … ORDER BY … LIMIT``: each branch would need its
``LIMIT`` pushed down to stay cheap, which PostgreSQL's Merge Append does but
SQLite's compound-select merge does not promise; the per-source queries are plain
index range scans on both backends, and the merge (a few hundred rows) is exact.

The key's order inside one time: the kind's text, then the row id. Each source has
one kind (``alert.raised`` …), except the audit log, whose kind is ``audit:`` plus
the entry's action. A source of one kind ``K`` compares with the cursor's
``(t, k, i)`` as: ``K > k`` — its rows of time ``t`` all follow (``time >= t``);
``K < k`` — none does (``time > t``); ``K == k`` — ``(time, id) > (t, i)``. The
audit log compares by ``(time, action, id)`` when ``k`` is an audit kind, and like
a source of one kind otherwise (every ``audit:…`` is above ``k`` or below it, as
``k`` is above or below the prefix). Times are compared as the stored UTC text
(:func:`eventops.store.sqlite_core._ts`), which sorts as the times do; PostgreSQL
compares the action with the ``"C"`` collation (code point order, as Python).

Both backends share this module (same tables, same stored text); the SQLite store
never imports the PostgreSQL one, so nothing here does either.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventops.store.base import PageReads
from eventops.store.models import AuditEntry, HandoverRow, ProbeResultRow, Row, utc
from eventops.store.sqlite_core import _dt, _ts
from eventops.store.sqlite_ops import alert_row
from eventops.store.sqlite_wall import _decision_row

TimelineKey = tuple[datetime, str, int]
"""(time in UTC, kind, row id): the timeline's order, unique per entry."""

Fetch = Callable[[str, Sequence[Any]], Awaitable[Sequence[Mapping[str, Any]]]]
"""Runs one query (``?`` or ``$n`` placeholders, as the backend wants) and returns its rows."""


@dataclass(frozen=True)
class TimelineRow:
    """One timeline entry as stored: its key and the row it comes from."""

    ts: datetime
    kind: str
    id: int
    row: Row

    @property
    def key(self) -> TimelineKey:
        return (self.ts, self.kind, self.id)


@dataclass(frozen=True)
class Source:
    kind: str
    """The entries' kind; for a source with ``action``, the prefix of it."""
    table: str
    ts: str
    """The column with the entry's time."""
    action: str | None = None
    """The column appended to ``kind`` (the audit log's action)."""


SOURCES: tuple[Source, ...] = (
    Source("alert.raised", "alerts", "raised_at"),
    Source("alert.cleared", "alerts", "cleared_at"),
    Source("probe", "probe_results", "ts"),
    Source("moderation", "decisions", "ts"),
    Source("handover", "handovers", "ts"),
    Source("audit:", "audit", "ts", action="action"),
)


def row_of(src: Source, r: Mapping[str, Any]) -> TimelineRow:
    """The stored row ``r`` of ``src`` as a :class:`TimelineRow` (its model and key)."""
    ts, rid = _dt(r[src.ts]), int(r["id"])
    model: Row
    if src.table == "alerts":
        model = alert_row(r)
    elif src.table == "probe_results":
        model = ProbeResultRow(
            id=rid,
            ts=ts,
            target=r["target"],
            kind=r["kind"],
            passed=None if r["passed"] is None else bool(r["passed"]),
            result=json.loads(r["result"]),
        )
    elif src.table == "decisions":
        model = _decision_row(dict(r))
    elif src.table == "handovers":
        model = HandoverRow(
            id=rid,
            ts=ts,
            link=r["link"],
            authority=r["authority"],
            actor=r["actor"],
            record=json.loads(r["record"]),
        )
    else:
        model = AuditEntry(
            id=rid,
            ts=ts,
            actor=r["actor"],
            action=r["action"],
            target=r["target"],
            before=None if r["before"] is None else json.loads(r["before"]),
            after=None if r["after"] is None else json.loads(r["after"]),
            prev_hash=r["prev_hash"],
            hash=r["hash"],
            mac=r["mac"] if "mac" in r.keys() else None,  # noqa: SIM118 (a sqlite3.Row)
        )
    kind = src.kind + r[src.action] if src.action else src.kind
    return TimelineRow(ts, kind, rid, model)


def source_query(
    src: Source,
    after: TimelineKey | None,
    since: datetime,
    until: datetime,
    n: int,
    *,
    pg: bool,
) -> tuple[str, list[Any]]:
    """The query of at most ``n`` rows of ``src`` after ``after`` in key order, and its
    parameters. PostgreSQL's queries take the event's id as ``$1`` (not in the list)."""
    params: list[Any] = []

    def p(value: Any) -> str:
        params.append(value)
        return f"${len(params) + 1}" if pg else "?"

    ts = src.ts
    action = None if src.action is None else (f'{src.action} COLLATE "C"' if pg else src.action)
    where = ["event_id = $1"] if pg else []
    # one lower bound, so that the index range starts at it: the cursor's when it lies
    # within the window (then every row after it is after ``since`` too), else ``since``
    if after is None or after[0] < since:
        where.append(f"{ts} >= {p(_ts(since))}")
    else:
        t, kind, rid = _ts(after[0]), after[1], after[2]
        if action is not None and kind.startswith(src.kind):
            where.append(f"({ts}, {action}, id) > ({p(t)}, {p(kind[len(src.kind) :])}, {p(rid)})")
        elif src.kind > kind:
            where.append(f"{ts} >= {p(t)}")
        elif src.kind < kind:
            where.append(f"{ts} > {p(t)}")
        else:
            where.append(f"({ts}, id) > ({p(t)}, {p(rid)})")
    where.append(f"{ts} <= {p(_ts(until))}")
    order = f"{ts}, {action}, id" if action is not None else f"{ts}, id"
    sql = f"SELECT * FROM {src.table} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT {p(n)}"
    return sql, params


async def read_page(
    fetch: Fetch,
    *,
    pg: bool,
    after: TimelineKey | None,
    limit: int,
    since: datetime,
    until: datetime,
    reads: PageReads,
) -> list[TimelineRow]:
    """At most ``limit + 1`` timeline rows after ``after`` (None: from the start), within
    ``since``..``until`` (inclusive), in key order: see the module's docstring."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    n = limit + 1
    after = None if after is None else (utc(after[0]), after[1], after[2])
    parts: list[list[TimelineRow]] = []
    for src in SOURCES:
        sql, params = source_query(src, after, utc(since), utc(until), n, pg=pg)
        rows = await fetch(sql, params)
        reads.queries += 1
        reads.rows += len(rows)
        parts.append([row_of(src, r) for r in rows])
    merged = heapq.merge(*parts, key=lambda t: t.key)
    return [row for _, row in zip(range(n), merged, strict=False)]
