"""The wall pipeline: the profile's sources → normaliser → rule chain → store.

:class:`WallPipeline` is what the engine runs: :meth:`WallPipeline.run` reads
every source concurrently, :meth:`WallPipeline.ingest_once` does one poll
cycle of each (the CLI's ``--once``). Every item is handled by
:meth:`WallPipeline.handle`:

- a new post is moderated and stored together with the rule's decision and
  reason (``store.decide`` is atomic with the post's state);
- a post seen before (a stream and a poll both delivered it) is skipped,
  unless its ``version`` changed: then the shown version is hidden at once
  (``edited``) and the new text goes back through the rules;
- an edit that arrives under a new id (X) hides each id it ``replaces``;
- a deletion hides the post (``deleted``) wherever it is; the decision and the
  post's deleted flag are one write.

:meth:`WallPipeline.outcome` says where the posts read so far are now (per
state, as ``wall queue`` lists them); ``counts`` counts events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, timedelta, tzinfo
from pathlib import Path
from typing import Any

import aiohttp

from eventops.clock import Clock
from eventops.errors import WallError
from eventops.i18n import Msg
from eventops.profile.models import MastodonSource as MastodonConf
from eventops.profile.models import Profile, Wall
from eventops.profile.models import ReplaySource as ReplayConf
from eventops.profile.models import XSource as XConf
from eventops.store.base import Store, WallTx
from eventops.store.models import DecisionRow, PostRow
from eventops.wall.moderation import ModerationChain, Verdict
from eventops.wall.normalize import Deletion, NormalPost
from eventops.wall.sources.base import Item, PostSource
from eventops.wall.sources.replay import ReplaySource

log = logging.getLogger(__name__)

VISIBLE = ("approved", "pending")


SessionFor = Callable[[str], aiohttp.ClientSession | None]


def build_sources(
    profile: Profile,
    base_dir: Path,
    store: Store,
    clock: Clock,
    session_for: SessionFor | None = None,
) -> list[PostSource]:
    """The profile's ``[wall] sources`` as source objects.

    ``session_for(name)`` may hand an X or Mastodon source its aiohttp session
    (``eventops demo`` and tests point them at the simulators with a
    :class:`eventops.wall.net.MappedResolver`); otherwise each source opens its own.
    """
    out: list[PostSource] = []
    names: dict[str, int] = {}
    for conf in profile.wall.sources:
        if isinstance(conf, ReplayConf):
            base = "replay"
        elif isinstance(conf, XConf):
            base = "x"
        else:
            base = "mastodon:" + conf.instance.split("://", 1)[1].lower()
        names[base] = names.get(base, 0) + 1
        name = base if names[base] == 1 else f"{base}#{names[base]}"
        if isinstance(conf, ReplayConf):
            path = Path(conf.path)
            if not path.is_absolute():
                path = base_dir / path
            out.append(
                ReplaySource(path, store, clock, speed=conf.speed, loop=conf.loop, name=name)
            )
        elif isinstance(conf, XConf):
            from eventops.wall.sources.x import XSource

            x = XSource.from_profile(conf, profile.wall, store, clock, name=name)
            x.use_session(session_for(name) if session_for else None)
            out.append(x)
        elif isinstance(conf, MastodonConf):
            from eventops.wall.sources.mastodon import MastodonSource

            m = MastodonSource.from_profile(conf, profile.wall, store, clock, name=name)
            m.use_session(session_for(name) if session_for else None)
            out.append(m)
    return out


class WallPipeline:
    def __init__(
        self,
        wall: Wall,
        store: Store,
        clock: Clock,
        sources: Sequence[PostSource] = (),
        chain: ModerationChain | None = None,
        *,
        tz: tzinfo = UTC,
    ) -> None:
        self.wall = wall
        self.store = store
        self.clock = clock
        self.sources = list(sources)
        self.chain = chain or ModerationChain.from_wall(wall, tz)
        self._started = False
        self.counts: dict[str, int] = {}
        """What happened, per event: a post edited twice counts twice (see :meth:`outcome`)."""
        self._touched: dict[str, None] = {}

    async def start(self) -> None:
        """Load runtime blocks, warm the duplicate and rate memory, enforce blocklists."""
        if self._started:
            return
        self._started = True
        now = self.clock.now()
        for block in await self.store.list_author_blocks():
            if block.until is None or block.until > now:
                self.chain.memory.blocked_until[block.author] = block.until
        recent = await self.store.list_posts(limit=5000)
        for row in reversed(recent):
            post = post_from_row(row)
            if post is None:
                continue
            facts = self.chain.facts(post, row.created_at)
            if now - row.created_at < timedelta(hours=6) and row.state != "rejected":
                self.chain.observe(post, Verdict("queue", "restore", ""), facts)
        await self._enforce_blocks(recent)

    async def _enforce_blocks(self, rows: Sequence[PostRow]) -> None:
        from eventops.wall.moderation import rule_blocked_user

        now = self.clock.now()
        for row in rows:
            if row.state not in VISIBLE:
                continue
            post = post_from_row(row)
            if post is None:
                continue
            facts = self.chain.facts(post, now)
            v = rule_blocked_user(post, facts, self.chain.config, self.chain.memory, now)
            if v is not None:
                await self._decide(row.id, "rule:blocked_user", "hide", v.msg, "hidden")

    async def _decide(
        self, post_id: str, actor: str, action: str, why: Msg | None, state: str | None
    ) -> None:
        await self.store.decide(
            DecisionRow(
                post_id=post_id,
                ts=self.clock.now(),
                actor=actor,
                action=action,
                **_reason(why),
            ),
            state,
            False if state in ("hidden", "rejected", "taken_down") else None,
        )

    async def handle(self, item: Item) -> Verdict | None:
        """Moderate and store one item; return the verdict (None: nothing to decide)."""
        if isinstance(item, Deletion):
            row = await self.store.get_post(item.id)
            if row is None or (row.data.get("deleted") and row.state == "hidden"):
                return None
            decision = DecisionRow(
                post_id=item.id,
                ts=self.clock.now(),
                actor=f"source:{item.source}",
                action="deleted",
                **_reason(Msg("wall.why.deleted")),
            )

            async def hide(tx: WallTx) -> None:  # the decision and the flag: one write
                await tx.decide(decision, "hidden", False)
                await tx.mark_deleted(item.id)

            await self.store.wall_transaction(hide)
            self._count("deleted")
            self._touched[item.id] = None
            return None
        post = item
        existing = await self.store.get_post(post.id)
        if existing is not None:
            if existing.data.get("deleted"):
                self._count("repeat")
                return None
            same = existing.data.get("version", "") == post.version
            # Seen before: moderate again only if we stopped before deciding on it.
            if same and await self.store.list_decisions(post.id):
                self._count("repeat")
                return None
            if not same and existing.state in VISIBLE:
                await self._decide(
                    post.id,
                    f"source:{post.source}",
                    "edited",
                    Msg("wall.why.edited"),
                    "hidden",
                )
                self._count("edited")
        for old in post.replaces:
            row = await self.store.get_post(old)
            if row is not None and row.state in VISIBLE:
                await self._decide(
                    old,
                    f"source:{post.source}",
                    "edited",
                    Msg("wall.why.replaced", {"post": post.id}),
                    "hidden",
                )
                self._count("edited")
        now = self.clock.now()
        verdict, facts = self.chain.evaluate(post, now)
        self.chain.observe(post, verdict, facts)
        row = PostRow(
            id=post.id,
            source=post.source,
            author=post.author,
            author_name=post.author_name,
            text=post.text,
            created_at=post.created_at,
            state="pending",
            data=post.data(),
        )
        await self.store.upsert_posts([row])
        await self.store.decide(
            DecisionRow(
                post_id=post.id,
                ts=now,
                actor=f"rule:{verdict.rule}",
                action=verdict.outcome,
                reason=verdict.reason,
                **verdict.reason_msg,
            ),
            verdict.state,
            None,
        )
        self._count(verdict.state)
        self._touched[post.id] = None
        for old in post.replaces:
            self._touched[old] = None
        return verdict

    def _count(self, key: str) -> None:
        self.counts[key] = self.counts.get(key, 0) + 1

    async def outcome(self) -> dict[str, int]:
        """Where the posts this pipeline read are now: count per state, from the store.

        These are the numbers ``wall queue`` shows for the same posts: a post
        queued and then edited or deleted at the source counts once, as hidden.
        ``repeat`` counts items that were already stored unchanged.
        """
        out: dict[str, int] = {}
        for post_id in self._touched:
            row = await self.store.get_post(post_id)
            if row is not None:
                out[row.state] = out.get(row.state, 0) + 1
        if self.counts.get("repeat"):
            out["repeat"] = self.counts["repeat"]
        return out

    async def ingest_once(self) -> dict[str, int]:
        """One poll cycle of every source (a replay reads one pass without waiting).

        A failing source does not stop the others; their failures are raised
        together afterwards as one WallError.
        """
        await self.start()
        failures: list[str] = []
        for source in self.sources:
            try:
                batch = await source.poll(wait=False)
            except WallError as exc:  # the other sources still run
                failures.append(exc.one_line())
                continue
            for item in batch.items:
                await self.handle(item)
            await source.commit(batch)
        if failures:
            raise WallError(
                f"{len(failures)} of {len(self.sources)} wall source(s) failed: "
                + "; ".join(failures)
            )
        return await self.outcome()

    async def _run_source(self, source: PostSource) -> None:
        async for item in source:
            try:
                await self.handle(item)
            except WallError as exc:
                log.warning("wall: %s: %s", source.name, exc.one_line())

    async def run(self) -> None:
        """Read every source until cancelled (or until every source is done)."""
        await self.start()
        try:
            async with asyncio.TaskGroup() as tg:
                for source in self.sources:
                    tg.create_task(self._run_source(source), name=f"wall-source:{source.name}")
        finally:
            for source in self.sources:
                await source.aclose()

    async def aclose(self) -> None:
        for source in self.sources:
            await source.aclose()


def _reason(why: Msg | None) -> dict[str, Any]:
    """A decision's ``reason`` (English) with ``reason_id`` and ``reason_params``."""
    if why is None:
        return {}
    return {
        "reason": why.text("en"),
        "reason_id": why.msg_id,
        "reason_params": why.as_dict()["params"],
    }


def post_from_row(row: PostRow) -> NormalPost | None:
    """A stored post back as a :class:`NormalPost` (None if its data is unreadable)."""
    try:
        return NormalPost.model_validate(
            {
                **row.data,
                "id": row.id,
                "source": row.source,
                "author": row.author,
                "author_name": row.author_name,
                "text": row.text,
                "created_at": row.created_at,
            }
        )
    except ValueError:
        return None
