"""PostgresStore's social wall: posts, decisions, author blocks, cursors (per event)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from eventops.store.audit import AuditKey
from eventops.store.base import WallTx
from eventops.store.models import AuditEntry, AuthorBlockRow, DecisionRow, PostRow
from eventops.store.postgres_audit import pg_append_audit
from eventops.store.postgres_core import EventFilter, PostgresCore, T, dicts
from eventops.store.postgres_ops import rowcount
from eventops.store.sqlite_core import _canon, _ts
from eventops.store.sqlite_wall import _block_row, _decision_row, _post_row


class PostgresWallMixin(PostgresCore):
    async def upsert_posts(self, posts: Sequence[PostRow]) -> None:
        e = self.event_id
        rows = [
            (
                e,
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

        async def job(c: asyncpg.Connection) -> None:
            await c.executemany(
                "INSERT INTO posts (event_id, id, source, author, author_name, text, created_at, "
                "state, pinned, data) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) "
                "ON CONFLICT (event_id, id) DO UPDATE SET author_name=excluded.author_name, "
                "text=excluded.text, state=excluded.state, pinned=excluded.pinned, "
                "data=excluded.data",
                rows,
            )

        if rows:
            await self.run_write(job)
        else:
            self._check_open()

    async def get_post(self, post_id: str) -> PostRow | None:
        rows = await self._fetch(
            "SELECT * FROM posts WHERE event_id=$1 AND id=$2", self.event_id, post_id
        )
        return _post_row(rows[0]) if rows else None

    async def list_posts(self, state: str | None = None, limit: int = 500) -> list[PostRow]:
        if state is None:
            rows = await self._fetch(
                "SELECT * FROM posts WHERE event_id=$1 ORDER BY created_at DESC LIMIT $2",
                self.event_id,
                limit,
            )
        else:
            rows = await self._fetch(
                "SELECT * FROM posts WHERE event_id=$1 AND state=$2 "
                "ORDER BY created_at DESC LIMIT $3",
                self.event_id,
                state,
                limit,
            )
        return [_post_row(r) for r in rows]

    async def decide(
        self, decision: DecisionRow, new_state: str | None, pinned: bool | None
    ) -> int:
        async def job(c: asyncpg.Connection) -> int:
            return await insert_decision(c, self.event_id, decision, new_state, pinned)

        return await self.run_write(job)

    async def wall_transaction(self, fn: Callable[[WallTx], Awaitable[T]]) -> T:
        async def job(c: asyncpg.Connection) -> T:
            return await fn(PostgresWallTx(c, self.event_id, self._now, self._audit_key))

        return await self.run_write(job, durable=True)

    async def list_decisions(
        self, post_id: str | None = None, *, after_id: int | None = None, limit: int | None = None
    ) -> list[DecisionRow]:
        f = EventFilter(self.event_id)
        if post_id is not None:
            f.where.append(f"post_id = {f.arg(post_id)}")
        if after_id is not None:
            f.where.append(f"id > {f.arg(after_id)}")
        sql = f.select("decisions", "id", limit)
        return [_decision_row(r) for r in await self._fetch(sql, *f.params)]

    async def get_decision(self, decision_id: int) -> DecisionRow | None:
        rows = await self._fetch(
            "SELECT * FROM decisions WHERE event_id=$1 AND id=$2", self.event_id, decision_id
        )
        return _decision_row(rows[0]) if rows else None

    async def decisions_referencing(self, decision_id: int) -> list[DecisionRow]:
        rows = await self._fetch(
            "SELECT * FROM decisions WHERE event_id=$1 AND ref=$2 ORDER BY id",
            self.event_id,
            decision_id,
        )
        return [_decision_row(r) for r in rows]

    async def posts_by_author(self, author: str, states: Sequence[str] = ()) -> list[PostRow]:
        rows = await self._fetch(
            "SELECT * FROM posts WHERE event_id=$1 AND author=$2 "
            "AND (cardinality($3::text[]) = 0 OR state = ANY($3::text[])) ORDER BY created_at",
            self.event_id,
            author,
            list(states),
        )
        return [_post_row(r) for r in rows]

    async def put_author_block(self, block: AuthorBlockRow) -> None:
        async def job(c: asyncpg.Connection) -> None:
            await put_author_block(c, self.event_id, block)

        await self.run_write(job)

    async def remove_author_block(self, author: str) -> bool:
        async def job(c: asyncpg.Connection) -> bool:
            status = await c.execute(
                "DELETE FROM author_blocks WHERE event_id=$1 AND author=$2", self.event_id, author
            )
            return rowcount(status) > 0

        return await self.run_write(job)

    async def list_author_blocks(self) -> list[AuthorBlockRow]:
        rows = await self._fetch(
            "SELECT * FROM author_blocks WHERE event_id=$1 ORDER BY created_at", self.event_id
        )
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
        f = EventFilter(self.event_id)
        if states:
            f.where.append(f"state = ANY({f.arg(list(states))}::text[])")
        if pinned is not None:
            f.where.append(f"pinned={f.arg(int(pinned))}")
        if source:
            f.where.append(f"source={f.arg(source)}")
        if author:
            f.where.append(f"author={f.arg(author)}")
        if contains:
            escaped = contains.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            p = f.arg(f"%{escaped}%")
            f.where.append(
                f"(lower(text) LIKE {p} ESCAPE '\\' OR lower(author_name) LIKE {p} ESCAPE '\\')"
            )
        rows = await self._fetch(f.select("posts", "created_at DESC", limit), *f.params)
        return [_post_row(r) for r in rows]

    async def last_decisions(self, post_ids: Sequence[str]) -> dict[str, DecisionRow]:
        ids = list(dict.fromkeys(post_ids))
        if not ids:
            return {}
        rows = await self._fetch(
            "SELECT DISTINCT ON (post_id) * FROM decisions WHERE event_id=$1 "
            "AND post_id = ANY($2::text[]) ORDER BY post_id, id DESC",
            self.event_id,
            ids,
        )
        return {r["post_id"]: _decision_row(r) for r in rows}

    async def last_decision_id(self) -> int:
        return int(
            await self._fetchval(
                "SELECT COALESCE(MAX(id), 0) FROM decisions WHERE event_id=$1", self.event_id
            )
        )

    async def decision_counts(self) -> list[tuple[str, str, int]]:
        rows = await self._fetch(
            "SELECT actor, action, COUNT(*) AS n FROM decisions WHERE event_id=$1 "
            'GROUP BY actor, action ORDER BY actor COLLATE "C", action COLLATE "C"',
            self.event_id,
        )
        return [(r["actor"], r["action"], int(r["n"])) for r in rows]

    async def purge_posts(self, before: datetime) -> list[PostRow]:
        async def job(c: asyncpg.Connection) -> list[PostRow]:
            return await delete_posts(c, self.event_id, "created_at < $2", _ts(before), None)

        return await self.run_write(job, durable=True)

    async def forget_author(self, author: str) -> list[PostRow]:
        async def job(c: asyncpg.Connection) -> list[PostRow]:
            return await delete_posts(c, self.event_id, "author = $2", author, author)

        return await self.run_write(job, durable=True)

    async def get_cursor(self, name: str) -> str | None:
        value = await self._fetchval(
            "SELECT value FROM cursors WHERE event_id=$1 AND name=$2", self.event_id, name
        )
        return None if value is None else str(value)

    async def set_cursor(self, name: str, value: str) -> None:
        async def job(c: asyncpg.Connection) -> None:
            await set_cursor(c, self.event_id, name, value)

        await self.run_write(job)


async def insert_decision(
    c: asyncpg.Connection,
    event_id: str,
    decision: DecisionRow,
    new_state: str | None,
    pinned: bool | None,
) -> int:
    before = await c.fetchrow(
        "SELECT state, pinned FROM posts WHERE event_id=$1 AND id=$2", event_id, decision.post_id
    )
    did = int(
        await c.fetchval(
            "INSERT INTO decisions (event_id, post_id, ts, actor, action, reason, reason_id, "
            "reason_params, prev_state, prev_pinned, ref) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) RETURNING id",
            event_id,
            decision.post_id,
            _ts(decision.ts),
            decision.actor,
            decision.action,
            decision.reason,
            decision.reason_id,
            _canon(decision.reason_params),
            before["state"] if before else None,
            before["pinned"] if before else None,
            decision.ref,
        )
    )
    if new_state is not None or pinned is not None:
        await c.execute(
            "UPDATE posts SET state=COALESCE($3, state), pinned=COALESCE($4, pinned) "
            "WHERE event_id=$1 AND id=$2",
            event_id,
            decision.post_id,
            new_state,
            None if pinned is None else int(pinned),
        )
    return did


async def delete_posts(
    c: asyncpg.Connection, event_id: str, where: str, arg: Any, author: str | None
) -> list[PostRow]:
    gone = [
        _post_row(r)
        for r in await dicts(
            c, f"DELETE FROM posts WHERE event_id=$1 AND {where} RETURNING *", event_id, arg
        )
    ]
    await c.execute(
        "DELETE FROM decisions WHERE event_id=$1 AND post_id = ANY($2::text[])",
        event_id,
        [p.id for p in gone],
    )
    if author is not None:
        await c.execute(
            "DELETE FROM author_blocks WHERE event_id=$1 AND author=$2", event_id, author
        )
    return gone


async def put_author_block(c: asyncpg.Connection, event_id: str, block: AuthorBlockRow) -> None:
    await c.execute(
        "INSERT INTO author_blocks (event_id, author, until, actor, reason, decision_id, "
        "created_at) VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (event_id, author) DO UPDATE "
        "SET until=excluded.until, actor=excluded.actor, reason=excluded.reason, "
        "decision_id=excluded.decision_id, created_at=excluded.created_at",
        event_id,
        block.author,
        _ts(block.until) if block.until else None,
        block.actor,
        block.reason,
        block.decision_id,
        _ts(block.created_at),
    )


async def set_cursor(c: asyncpg.Connection, event_id: str, name: str, value: str) -> None:
    await c.execute(
        "INSERT INTO cursors (event_id, name, value) VALUES ($1,$2,$3) "
        "ON CONFLICT (event_id, name) DO UPDATE SET value=excluded.value",
        event_id,
        name,
        value,
    )


class PostgresWallTx(WallTx):
    """:class:`WallTx` on the write connection, inside the writer's transaction."""

    def __init__(
        self,
        c: asyncpg.Connection,
        event_id: str,
        now: Callable[[], datetime],
        key: AuditKey | None = None,
    ) -> None:
        self._c, self._e, self._now, self._key = c, event_id, now, key

    async def get_post(self, post_id: str) -> PostRow | None:
        rows = await dicts(
            self._c, "SELECT * FROM posts WHERE event_id=$1 AND id=$2", self._e, post_id
        )
        return _post_row(rows[0]) if rows else None

    async def decisions(self, post_id: str) -> list[DecisionRow]:
        rows = await dicts(
            self._c,
            "SELECT * FROM decisions WHERE event_id=$1 AND post_id=$2 ORDER BY id",
            self._e,
            post_id,
        )
        return [_decision_row(r) for r in rows]

    async def get_decision(self, decision_id: int) -> DecisionRow | None:
        rows = await dicts(
            self._c, "SELECT * FROM decisions WHERE event_id=$1 AND id=$2", self._e, decision_id
        )
        return _decision_row(rows[0]) if rows else None

    async def decisions_referencing(self, decision_id: int) -> list[DecisionRow]:
        rows = await dicts(
            self._c,
            "SELECT * FROM decisions WHERE event_id=$1 AND ref=$2 ORDER BY id",
            self._e,
            decision_id,
        )
        return [_decision_row(r) for r in rows]

    async def posts_by_author(self, author: str, states: Sequence[str] = ()) -> list[PostRow]:
        rows = await dicts(
            self._c,
            "SELECT * FROM posts WHERE event_id=$1 AND author=$2 "
            "AND (cardinality($3::text[]) = 0 OR state = ANY($3::text[])) ORDER BY created_at",
            self._e,
            author,
            list(states),
        )
        return [_post_row(r) for r in rows]

    async def decide(
        self, decision: DecisionRow, new_state: str | None, pinned: bool | None
    ) -> int:
        return await insert_decision(self._c, self._e, decision, new_state, pinned)

    async def mark_deleted(self, post_id: str) -> None:
        data = await self._c.fetchval(
            "SELECT data FROM posts WHERE event_id=$1 AND id=$2", self._e, post_id
        )
        if data is None:
            return
        doc = json.loads(data)
        doc = {**doc, "deleted": True} if isinstance(doc, dict) else {"deleted": True}
        await self._c.execute(
            "UPDATE posts SET state='hidden', pinned=0, data=$3 WHERE event_id=$1 AND id=$2",
            self._e,
            post_id,
            _canon(doc),
        )

    async def purge_posts(self, before: datetime) -> list[PostRow]:
        return await delete_posts(self._c, self._e, "created_at < $2", _ts(before), None)

    async def forget_author(self, author: str) -> list[PostRow]:
        return await delete_posts(self._c, self._e, "author = $2", author, author)

    async def get_author_block(self, author: str) -> AuthorBlockRow | None:
        rows = await dicts(
            self._c, "SELECT * FROM author_blocks WHERE event_id=$1 AND author=$2", self._e, author
        )
        return _block_row(rows[0]) if rows else None

    async def put_author_block(self, block: AuthorBlockRow) -> None:
        await put_author_block(self._c, self._e, block)

    async def remove_author_block(self, author: str) -> bool:
        status = await self._c.execute(
            "DELETE FROM author_blocks WHERE event_id=$1 AND author=$2", self._e, author
        )
        return rowcount(status) > 0

    async def decision_audit(self, decision_id: int, action: str) -> dict[str, Any] | None:
        # ``after`` is canonical JSON (sorted keys, no spaces): the LIKE narrows, json decides
        rows = await self._c.fetch(
            "SELECT after FROM audit WHERE event_id=$1 AND action=$2 "
            "AND (after LIKE $3 OR after LIKE $4) ORDER BY id DESC",
            self._e,
            action,
            f'%"decision":{int(decision_id)},%',
            f'%"decision":{int(decision_id)}}}%',
        )
        for r in rows:
            try:
                after = json.loads(r["after"])
            except ValueError:
                continue
            if isinstance(after, dict) and after.get("decision") == decision_id:
                return after
        return None

    async def get_cursor(self, name: str) -> str | None:
        value = await self._c.fetchval(
            "SELECT value FROM cursors WHERE event_id=$1 AND name=$2", self._e, name
        )
        return None if value is None else str(value)

    async def set_cursor(self, name: str, value: str) -> None:
        await set_cursor(self._c, self._e, name, value)

    async def audit(
        self, actor: str, action: str, target: str, before: Any = None, after: Any = None
    ) -> AuditEntry:
        return await pg_append_audit(
            self._c, self._e, _ts(self._now()), actor, action, target, before, after, key=self._key
        )
