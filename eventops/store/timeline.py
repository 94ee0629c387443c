"""The timeline's rows a page at a time: keyset pagination over several tables.

The timeline (:func:`eventops.monitor.history.timeline`) merges alerts raised
and cleared, probe results, moderation decisions, handovers and audit entries
into one list ordered by the key ``(time, kind, row id)``. A page of it is read
as a k-way merge: one query per source, each asking its own index for the keys
of at most ``limit + 1`` rows after the cursor's key (an index-only scan), merged
here by the same key and cut to ``limit + 1``; then only those rows are fetched, by
id. A page reads at most ``sources × (limit + 1)`` index entries and ``limit + 1``
rows, however long the event ran, and the caller learns from the extra row whether
more follow.

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

Each range starts where the cursor is, however many rows share its time (the hides
of an author's block, the alerts of one poll round): the source whose kind is the
cursor's reads the rest of the cursor's time first (``time = t AND id > i``; the audit
log: ``time = t AND action = a AND id > i``, then ``time = t AND action > a``), then
``time > t`` — each an exact index seek, where a row-value ``(time, id) > (t, i)``
lets SQLite seek to the time only and step over that time's rows before the cursor.

Both backends share this module (same tables, same stored text); the SQLite store
never imports the PostgreSQL one, so nothing here does either.
"""

from __future__ import annotations

import heapq
import itertools
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


def row_of(src: Source, r: Mapping[str, Any], key: TimelineKey) -> TimelineRow:
    """The stored row ``r`` of ``src`` as the :class:`TimelineRow` of ``key``."""
    ts, rid = key[0], key[2]
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
        has_mac = "mac" in r.keys()  # noqa: SIM118 (a sqlite3.Row)
        model = AuditEntry.of_row(r, ts, with_mac=has_mac)
    return TimelineRow(key[0], key[1], key[2], model)


def source_queries(
    src: Source,
    after: TimelineKey | None,
    since: datetime,
    until: datetime,
    n: int,
    *,
    pg: bool,
) -> list[tuple[str, list[Any]]]:
    """The queries of the keys (time, [action,] id) of at most ``n`` rows each of ``src``
    after ``after``, with their parameters: index-only range scans that each seek to where
    they start. Read one after another, their rows are in key order (the rows of the
    cursor's own time first). PostgreSQL's queries take the event's id as ``$1``."""
    ts = src.ts
    action = None if src.action is None else (f'{src.action} COLLATE "C"' if pg else src.action)
    order = f"{ts}, {action}, id" if action is not None else f"{ts}, id"
    cols = f"{src.ts} AS t, {src.action} AS a, id" if src.action else f"{src.ts} AS t, id"
    if after is None or after[0] < since:
        # from ``since`` (a cursor before the window: every row of the window follows it)
        return [_query(src, cols, order, [(f"{ts} >=", _ts(since))], until, n, pg)]
    t, kind, rid = _ts(after[0]), after[1], after[2]
    if action is not None and kind.startswith(src.kind):
        act = kind[len(src.kind) :]
        return [
            _query(src, cols, order, [(f"{ts} =", t), (f"{action} =", act), ("id >", rid)],
                   until, n, pg),
            _query(src, cols, order, [(f"{ts} =", t), (f"{action} >", act)], until, n, pg),
            _query(src, cols, order, [(f"{ts} >", t)], until, n, pg),
        ]  # fmt: skip
    if src.kind == kind:
        return [
            _query(src, cols, order, [(f"{ts} =", t), ("id >", rid)], until, n, pg),
            _query(src, cols, order, [(f"{ts} >", t)], until, n, pg),
        ]
    # every kind of this source sorts after the cursor's (its rows of time t follow) or before
    op = ">=" if src.kind > kind else ">"
    return [_query(src, cols, order, [(f"{ts} {op}", t)], until, n, pg)]


def _query(
    src: Source,
    cols: str,
    order: str,
    conds: list[tuple[str, Any]],
    until: datetime,
    n: int,
    pg: bool,
) -> tuple[str, list[Any]]:
    """One range of ``src`` (``conds``, up to ``until``), its ``LIMIT n`` the last parameter."""
    params: list[Any] = []

    def p(value: Any) -> str:
        params.append(value)
        return f"${len(params) + 1}" if pg else "?"

    where = ["event_id = $1"] if pg else []
    where += [f"{c} {p(v)}" for c, v in conds]
    where.append(f"{src.ts} <= {p(_ts(until))}")
    sql = f"SELECT {cols} FROM {src.table} WHERE {' AND '.join(where)} ORDER BY {order} "
    return sql + f"LIMIT {p(n)}", params


def rows_query(table: str, ids: Sequence[int], *, pg: bool) -> tuple[str, list[Any]]:
    """The query of the rows of ``table`` with these ids (PostgreSQL: the event is ``$1``)."""
    if pg:
        return f"SELECT * FROM {table} WHERE event_id = $1 AND id = ANY($2::bigint[])", [ids]
    return f"SELECT * FROM {table} WHERE id IN ({','.join('?' * len(ids))})", list(ids)


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
    ``since``..``until`` (inclusive), in key order: see the module's docstring.

    Two steps: the keys of at most ``limit + 1`` rows per source (index-only scans),
    merged and cut to ``limit + 1``; then those rows, by id (one query per table). A row
    deleted in between (a purged post's decisions) is read again from the keys."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    n = limit + 1
    lo, hi = utc(since), utc(until)
    after = None if after is None else (utc(after[0]), after[1], after[2])
    for _ in range(3):
        keys: list[list[tuple[str, str, int, Source]]] = []
        for src in SOURCES:
            part: list[tuple[str, str, int, Source]] = []
            for sql, params in source_queries(src, after, lo, hi, n, pg=pg):
                if len(part) >= n:
                    break
                got = await fetch(sql, [*params[:-1], n - len(part)])  # (the LIMIT: what is left)
                reads.queries += 1
                reads.keys += len(got)
                part += [
                    (r["t"], src.kind + (r["a"] if src.action else ""), r["id"], src) for r in got
                ]
            keys.append(part)
        chosen = list(itertools.islice(heapq.merge(*keys), n))
        by_table: dict[str, list[int]] = {}
        for _t, _k, rid, src in chosen:
            by_table.setdefault(src.table, []).append(rid)
        stored: dict[tuple[str, int], Mapping[str, Any]] = {}
        for table, ids in by_table.items():
            sql, params = rows_query(table, sorted(set(ids)), pg=pg)
            got = await fetch(sql, params)
            reads.queries += 1
            reads.rows += len(got)
            stored.update(((table, int(r["id"])), r) for r in got)
        if all((src.table, rid) in stored for _t, _k, rid, src in chosen):
            break
    return [
        row_of(src, stored[(src.table, rid)], (_dt(t), kind, rid))
        for t, kind, rid, src in chosen
        if (src.table, rid) in stored
    ]
