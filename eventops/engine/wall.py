"""The social wall as an engine service: screens' hub, sources' pipeline, retention.

The engine starts the hub (what every screen shows), the moderation pipeline
reading the profile's sources (when asked to run them) and the retention
purge, each as a supervised task; the moderation verbs here are what the
API calls. Errors are domain errors: an unknown post, decision, block or
announcement is :class:`~eventops.errors.NotFound`; a decision the post's
state forbids is :class:`~eventops.errors.Conflict`.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventops.errors import (
    Conflict,
    EventOpsError,
    InvalidRequest,
    NotFound,
    RequestError,
    WallError,
)
from eventops.i18n import Msg, refusal
from eventops.wall.display import WallHub
from eventops.wall.manual import MANUAL_ACTIONS, ManualModeration
from eventops.wall.media import MediaCache, allowed_hosts
from eventops.wall.retention import forget, purge_periodically
from eventops.wall.service import WallPipeline, build_sources

if TYPE_CHECKING:
    from eventops.engine.monitoring import Engine

STATES = ("pending", "approved", "rejected", "hidden", "taken_down")
TASKS = ("wall-hub", "wall-pipeline", "wall-retention", "wall-watch")
"""The wall's supervised tasks."""
WALL_EVENT = "wall"
"""The live stream's event (scope ``wall``) when the queue, the announcement or the
pause changed; ``data.what`` says which (``queue``, ``announcement``, ``pause``) and
nothing else: clients re-read what they may see."""


class WallService:
    def __init__(
        self,
        engine: Engine,
        *,
        media_dir: Path | None,
        run_sources: bool = False,
        profile_dir: Path | None = None,
        hub_poll_s: float = 1.0,
        retention_every_s: float = 3600.0,
    ) -> None:
        self.engine = engine
        profile = engine.profile
        self.media = (
            MediaCache(
                media_dir, allowed_hosts(profile.wall), max_bytes=profile.wall.media_max_bytes
            )
            if media_dir is not None
            else None
        )
        self.pipeline: WallPipeline | None = None
        if run_sources and profile.wall.sources:
            sources = build_sources(profile, profile_dir or Path("."), engine.store, engine.clock)
            self.pipeline = WallPipeline(
                profile.wall, engine.store, engine.clock, sources, tz=profile.event.tz
            )
        self.hub = WallHub(profile, engine.store, engine.clock, self.media, poll_s=hub_poll_s)
        self.retention_every_s = retention_every_s
        self.watch_s = hub_poll_s
        self._started = False
        self._last_decision: int | None = None

    # -- lifecycle (the engine's) -------------------------------------------------------------

    async def start(self) -> None:
        eng, hub = self.engine, self.hub
        await hub.start(poll=False)
        sv = eng.supervisor
        sv.spawn(TASKS[0], hub._poll)
        if self.pipeline is not None:
            await self.pipeline.start()
            sv.spawn(TASKS[1], self.pipeline.run, finite=True)

        async def retention() -> None:
            await purge_periodically(
                eng.store,
                self.media,
                eng.clock,
                eng.profile.event.retention_days,
                self.retention_every_s,
                hub.forget_posts,
            )

        sv.spawn(TASKS[2], retention)
        self._last_decision = await eng.store.last_decision_id()
        sv.spawn(TASKS[3], self._watch)
        self._started = True

    def changed(self, what: str) -> None:
        """Tell the live stream that the wall's ``what`` changed."""
        self.engine.bus.publish(WALL_EVENT, "", "wall", data={"what": what})

    async def _watch(self) -> None:
        """Posts and decisions that arrive without a verb of this service (the sources'
        pipeline, ``eventops wall ingest`` in another process): every new decision — a
        post's queueing by a rule included — is one ``wall`` event, at most one per
        ``watch_s``. Server-side, so clients follow the stream instead of polling."""
        while True:
            await asyncio.sleep(self.watch_s)
            try:
                last = await self.engine.store.last_decision_id()
            except EventOpsError:
                continue  # the store hiccuped: the next round tells
            if last != self._last_decision:
                self._last_decision = last
                self.changed("queue")

    @property
    def started(self) -> bool:
        return self._started

    async def close(self) -> None:
        """Stop the wall's tasks and close the hub, pipeline and media cache."""
        if not self._started:
            return
        self._started = False
        for name in TASKS:
            await self.engine.supervisor.cancel(name)
        await self.hub.stop()
        if self.pipeline is not None:
            await self.pipeline.aclose()
        if self.media is not None:
            await self.media.aclose()

    def follow_profile(self) -> WallHub:
        """The hub, following profile reloads."""
        self.hub.profile = self.engine.profile
        return self.hub

    def desk(self) -> ManualModeration:
        chain = self.pipeline.chain if self.pipeline is not None else None
        return ManualModeration(
            self.hub.store, self.hub.clock, chain, tz=self.engine.profile.event.tz
        )

    # -- reading ------------------------------------------------------------------------------

    async def queue(
        self,
        state: str,
        *,
        source: str | None,
        author: str | None,
        contains: str | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        if state == "all":
            states: tuple[str, ...] = ()
        elif state in STATES:
            states = (state,)
        else:
            msg = Msg("wall.err.state", {"states": ", ".join(STATES)})
            raise refusal(InvalidRequest, msg, field="state")
        store = self.hub.store
        posts = await store.find_posts(
            states, source=source, author=author, contains=contains, limit=limit
        )
        last = await store.last_decisions([p.id for p in posts])
        out = []
        for p in posts:
            row = p.model_dump(mode="json")
            d = last.get(p.id)
            row["last_decision"] = d.model_dump(mode="json") if d else None
            out.append(row)
        return out

    async def post(self, post_id: str) -> dict[str, Any]:
        store = self.hub.store
        post = await store.get_post(post_id)
        if post is None:
            raise refusal(NotFound, Msg("wall.err.no_post", {"post": post_id}))
        ds = await store.list_decisions(post.id)
        return {
            **post.model_dump(mode="json"),
            "decisions": [d.model_dump(mode="json") for d in ds],
        }

    async def decisions(
        self, post_id: str | None, *, after_id: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Decisions in id order after ``after_id``, at most ``limit`` (the store reads the
        page only; the API asks for one more than it serves, to know a next page follows)."""
        rows = await self.hub.store.list_decisions(post_id, after_id=after_id, limit=limit)
        return [d.model_dump(mode="json") for d in rows]

    async def lists(self) -> dict[str, Any]:
        w = self.follow_profile().profile.wall
        blocks = await self.hub.store.list_author_blocks()
        return {
            "blocked_users": w.blocked_users,
            "allowed_users": w.allowed_users,
            "blocked_words": w.blocked_words,
            "default_blocklist": w.use_default_blocklist,
            "blocked_domains": w.blocked_domains,
            "allowed_domains": w.allowed_domains,
            "author_blocks": [b.model_dump(mode="json") for b in blocks],
        }

    async def counters(self) -> dict[str, Any]:
        rows = await self.hub.store.decision_counts()
        rules: dict[str, dict[str, int]] = {}
        people: dict[str, dict[str, int]] = {}
        for actor, action, n in rows:
            if actor.startswith("rule:"):
                rules.setdefault(actor[5:], {})[action] = n
            elif actor.startswith("source:"):
                rules.setdefault(actor, {})[action] = n
            else:
                people.setdefault(actor, {})[action] = n
        return {"rules": rules, "people": people}

    def announcements(self) -> dict[str, Any]:
        hub = self.follow_profile()
        return {"templates": hub.templates(), "active": hub.announcement, "paused": hub.paused}

    # -- moderation ---------------------------------------------------------------------------

    async def decide(
        self,
        post_id: str,
        action: str,
        actor: str,
        reason: str,
        for_s: float | None,
        expect: int | None = None,
    ) -> dict[str, Any]:
        """One moderation decision; ``expect`` is the last decision the person saw
        (a newer one by someone else refuses with Conflict instead of overriding it)."""
        if action not in MANUAL_ACTIONS:
            msg = Msg("wall.err.action", {"actions": ", ".join(MANUAL_ACTIONS)})
            raise refusal(InvalidRequest, msg, field="action")
        if action != "block_author" and for_s is not None:
            raise refusal(InvalidRequest, Msg("wall.err.for_s"), field="for_s")
        desk = self.desk()
        try:
            if action == "block_author":
                until = self.hub.clock.now() + timedelta(seconds=for_s) if for_s else None
                did = await desk.block_author(post_id, actor, reason, until=until, expect=expect)
            else:
                did = await desk.decide(post_id, action, actor, reason, expect=expect)
        except RequestError:
            raise
        except WallError as exc:
            raise Conflict(exc.one_line()).carry(exc) from None
        await self.hub.refresh()
        self.changed("queue")
        post = await self.hub.store.get_post(post_id)
        return {"decision": did, "post": post.model_dump(mode="json") if post else None}

    async def undo(self, decision_id: int, actor: str, reason: str) -> dict[str, Any]:
        try:
            did = await self.desk().undo(decision_id, actor, reason)
        except RequestError:
            raise
        except WallError as exc:
            raise Conflict(exc.one_line()).carry(exc) from None
        await self.hub.refresh()
        self.changed("queue")
        return {"decision": did}

    async def block(
        self, author: str, actor: str, reason: str, for_s: float | None
    ) -> dict[str, Any]:
        """Block an author by key; with posts, through their newest (hides them all, undoable)."""
        author = author.strip()
        hub = self.hub
        now = hub.clock.now()
        until = now + timedelta(seconds=for_s) if for_s else None
        posts = await hub.store.posts_by_author(author)
        try:
            if posts:
                did: int | None = await self.desk().block_author(
                    posts[-1].id, actor, reason, until=until
                )
            else:
                did = None
                await self.desk().block_key(author, actor, reason, until=until)
        except RequestError:
            raise
        except WallError as exc:
            raise Conflict(exc.one_line()).carry(exc) from None
        await hub.refresh()
        self.changed("queue")
        return {"author": author, "blocked": True, "decision": did, "posts": len(posts)}

    async def unblock(self, author: str, actor: str, reason: str) -> dict[str, Any]:
        if not await self.desk().unblock(author, actor, reason):
            raise refusal(NotFound, Msg("wall.err.not_blocked", {"author": author}))
        self.changed("queue")
        return {"author": author, "blocked": False}

    async def issue(
        self, announcement_id: str, actor: str, issuers: frozenset[str] | None = None
    ) -> dict[str, Any]:
        """``issuers``: replace an announcement on the screens only when one of them issued
        it (an authority's own; else Forbidden)."""
        hub = self.follow_profile()
        if hub.template(announcement_id) is None:
            known = ", ".join(a.id for a in hub.profile.wall.announcements) or "none"
            msg = Msg("wall.err.no_announcement", {"id": repr(announcement_id), "known": known})
            raise refusal(NotFound, msg)
        try:
            out = await hub.issue(announcement_id, actor, issuers)
        except WallError as exc:
            raise Conflict(exc.one_line()).carry(exc) from None
        self.changed("announcement")
        return out

    async def withdraw(
        self, actor: str, issuers: frozenset[str] | None = None
    ) -> dict[str, Any] | None:
        """``issuers``: withdraw only an announcement one of them issued (else Forbidden)."""
        hub = self.follow_profile()
        if hub.announcement is None:
            raise refusal(Conflict, Msg("wall.err.none_on_screens"))
        try:
            out = await hub.withdraw(actor, issuers)
        except WallError as exc:
            raise Conflict(exc.one_line()).carry(exc) from None
        self.changed("announcement")
        return out

    async def set_paused(self, on: bool, actor: str, note: str) -> dict[str, Any]:
        await self.follow_profile().set_paused(on, actor, note)
        self.changed("pause")
        return {"paused": on}

    async def forget(self, author: str, actor: str, reason: str) -> dict[str, Any]:
        try:
            res = await forget(self.hub.store, self.media, author, actor, reason)
        except WallError as exc:
            raise InvalidRequest(exc.one_line()).carry(exc) from None
        if self.pipeline is not None:
            self.pipeline.chain.unblock(author)
        self.hub.forget_posts(res["ids"])
        await self.hub.refresh()
        self.changed("queue")
        return {"posts": res["posts"], "media": res["media"]}
