"""SQLiteStore's social wall: posts, decisions, author blocks, cursors."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from eventops.store.audit import AuditKey
from eventops.store.base import WallTx
from eventops.store.models import (
    AuditEntry,
    AuthorBlockRow,
    DecisionRow,
    PostRow,
)
from eventops.store.sqlite_audit import _append_audit
from eventops.store.sqlite_core import SQLiteCore, T, _canon, _dt, _ts


class SQLiteWallMixin(SQLiteCore):
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

    async def list_decisions(
        self, post_id: str | None = None, *, after_id: int | None = None, limit: int | None = None
    ) -> list[DecisionRow]:
        where, params = ["1"], list[Any]()
        if post_id is not None:
            where.append("post_id = ?")
            params.append(post_id)
        if after_id is not None:
            where.append("id > ?")
            params.append(after_id)
        sql = f"SELECT * FROM decisions WHERE {' AND '.join(where)} ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [self._decision(r) for r in await self._fetch(sql, params)]

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


def _decision_row(r: sqlite3.Row | dict[str, Any]) -> DecisionRow:
    return DecisionRow(
        id=r["id"],
        post_id=r["post_id"],
        ts=_dt(r["ts"]),
        actor=r["actor"],
        action=r["action"],
        reason=r["reason"],
        reason_id=r["reason_id"],
        reason_params=json.loads(r["reason_params"]),
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
        "INSERT INTO decisions (post_id, ts, actor, action, reason, reason_id, reason_params, "
        "prev_state, prev_pinned, ref) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            decision.post_id,
            _ts(decision.ts),
            decision.actor,
            decision.action,
            decision.reason,
            decision.reason_id,
            _canon(decision.reason_params),
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

    async def decision_audit(self, decision_id: int, action: str) -> dict[str, Any] | None:
        rows = await _dicts(
            self._c,
            "SELECT after FROM audit WHERE action=? AND json_valid(after) "
            "AND json_extract(after, '$.decision')=? ORDER BY id DESC LIMIT 1",
            (action, decision_id),
        )
        if not rows or rows[0]["after"] is None:
            return None
        after = json.loads(rows[0]["after"])
        return after if isinstance(after, dict) else None

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
