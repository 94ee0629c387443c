"""What the wall screens show, shared by every screen: the hub.

:class:`WallHub` holds the one moderation state all screens display — the
approved posts (pinned first), the active emergency announcement and the
"pause wall" switch — and pushes every change to every connected screen.

- Posts come from the store, never from the hub's memory alone: after each
  decision made through the API the hub re-reads the approved posts and sends
  the difference (``post`` / ``remove``); a cheap check of the newest decision
  id every ``poll_s`` (and a full re-read every ``full_s``) catches decisions
  made elsewhere (the rule chain, the CLI, a purge or a forget).
- A screen that connects (or reconnects after losing the server) first gets a
  ``snapshot``: everything it should show. Anything taken down meanwhile is
  simply absent from it, so nothing lingers.
- The announcement and the pause switch are stored (``cursors`` table) and
  audited, so they survive a server restart and a screen reload and stay
  until withdrawn.
- A screen gets only public fields: author, text, time, and local URLs of
  cached pictures (``/wall/<event>/media/<key>``); never a source URL.

Each change is encoded once and handed to every screen's queue; a screen too
slow to keep up is cut off and resynchronises from a snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from eventops.clock import Clock
from eventops.errors import Forbidden, WallError
from eventops.i18n import Msg, refusal
from eventops.profile.models import Announcement, Profile
from eventops.store.base import Store, WallTx
from eventops.store.models import PostRow
from eventops.wall.manual import WallConflict
from eventops.wall.media import MediaCache, post_media_urls

log = logging.getLogger(__name__)

ANNOUNCEMENT_KEY = "wall.announcement"
PAUSED_KEY = "wall.paused"
MAX_SHOWN = 200
"""The newest approved posts a screen holds, plus (up to as many) pinned ones of any age."""


def sse(kind: str, data: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def screen_announcement(active: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the public screens get of an announcement: not who issued it."""
    if active is None:
        return None
    return {k: v for k, v in active.items() if k != "issued_by"}


class Screen:
    """One connected screen: a queue of encoded messages."""

    def __init__(self, hub: WallHub, maxsize: int) -> None:
        self.hub = hub
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=maxsize)
        self.overflowed = False

    def put(self, msg: bytes) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(msg)
        except asyncio.QueueFull:
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(b"")  # wake the writer so it closes

    def close(self) -> None:
        self.hub.screens.discard(self)

    def __enter__(self) -> Screen:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class WallHub:
    def __init__(
        self,
        profile: Profile,
        store: Store,
        clock: Clock,
        media: MediaCache | None = None,
        *,
        poll_s: float = 1.0,
        full_s: float = 10.0,
    ) -> None:
        self.profile = profile
        self.store = store
        self.clock = clock
        self.media = media
        self.poll_s = poll_s
        self.full_s = full_s
        self.screens: set[Screen] = set()
        self.posts: dict[str, dict[str, Any]] = {}
        self._rows: dict[str, PostRow] = {}
        self.announcement: dict[str, Any] | None = None
        self.paused: dict[str, Any] | None = None
        self._last_decision = -1
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._poller: asyncio.Task[None] | None = None

    @property
    def event_id(self) -> str:
        return self.profile.event.id

    # -- lifecycle --------------------------------------------------------------------
    async def start(self, *, poll: bool = True) -> None:
        raw = await self.store.get_cursor(ANNOUNCEMENT_KEY)
        self.announcement = json.loads(raw) if raw else None
        if self.announcement is not None and self.template(self.announcement["id"]) is None:
            log.warning("wall: active announcement %s is no longer in the profile", raw)
        raw = await self.store.get_cursor(PAUSED_KEY)
        self.paused = json.loads(raw) if raw else None
        await self.refresh()
        if poll:
            self._poller = asyncio.create_task(self._poll(), name="wall-hub-poll")

    async def stop(self) -> None:
        tasks = [*self._tasks]
        if self._poller is not None:
            tasks.append(self._poller)
            self._poller = None
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()

    async def _poll(self) -> None:
        since_full = 0.0
        while True:
            await self.clock.sleep(self.poll_s)
            since_full += self.poll_s
            try:
                last = await self.store.last_decision_id()
                if last != self._last_decision or since_full >= self.full_s:
                    since_full = 0.0
                    await self.refresh()
            except WallError as exc:
                log.warning("wall: %s", exc.one_line())
            except Exception as exc:  # keep the screens' feed alive; the store may recover
                log.warning("wall: refresh failed (%s)", exc)

    # -- posts --------------------------------------------------------------------------
    def _media_url(self, url: str | None) -> str | None:
        if not url or self.media is None:
            return None
        key = self.media.cached(url)
        return f"/wall/{self.event_id}/media/{key}" if key else None

    def public_post(self, row: PostRow) -> dict[str, Any]:
        media = []
        for m in row.data.get("media") or []:
            if not isinstance(m, dict) or m.get("kind") not in ("photo", "gif", "video"):
                continue
            src = self._media_url(m.get("preview_url")) or self._media_url(m.get("url"))
            if src:
                media.append({"src": src, "alt": str(m.get("description") or "")[:500]})
        return {
            "id": row.id,
            "source": row.source.split(":", 1)[0],
            "author": row.author.split(":", 1)[-1],
            "author_name": row.author_name,
            "avatar": self._media_url(row.data.get("avatar_url")),
            "text": row.text,
            "created_at": row.created_at.isoformat(),
            "pinned": row.pinned,
            "media": media[:4],
        }

    async def refresh(self) -> None:
        """Re-read the approved posts; send screens what changed."""
        async with self._lock:
            self._last_decision = await self.store.last_decision_id()
            rows = await self.store.list_posts("approved", limit=MAX_SHOWN)
            pinned = await self.store.find_posts(("approved",), pinned=True, limit=MAX_SHOWN)
            current = {r.id: r for r in [*pinned, *rows]}
            for pid in [p for p in self.posts if p not in current]:
                del self.posts[pid]
                self._rows.pop(pid, None)
                self.broadcast("remove", {"id": pid})
            for pid, row in current.items():
                view = self.public_post(row)
                if self.posts.get(pid) != view:
                    self.posts[pid] = view
                    self._rows[pid] = row
                    self.broadcast("post", view)
                if self.media is not None:
                    self._fetch_missing(row)

    def _fetch_missing(self, row: PostRow) -> None:
        assert self.media is not None
        urls = [u for u in post_media_urls(row.data) if self.media.worth_trying(u)]
        if urls and not any(t.get_name() == f"media:{row.id}" for t in self._tasks):
            task = asyncio.create_task(self._fetch(row.id, urls), name=f"media:{row.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fetch(self, post_id: str, urls: list[str]) -> None:
        assert self.media is not None
        got = False
        for url in urls:
            try:
                await self.media.fetch(url)
                got = True
            except WallError as exc:
                log.info("wall: %s", exc.one_line())
        row = self._rows.get(post_id)
        if got and row is not None and post_id in self.posts:
            view = self.public_post(row)
            if view != self.posts[post_id]:
                self.posts[post_id] = view
                self.broadcast("post", view)

    # -- announcements and pause -----------------------------------------------------
    def template(self, ann_id: str) -> Announcement | None:
        return next((a for a in self.profile.wall.announcements if a.id == ann_id), None)

    def templates(self) -> list[dict[str, Any]]:
        return [a.model_dump() for a in self.profile.wall.announcements]

    async def issue(
        self, ann_id: str, user: str, issuers: frozenset[str] | None = None
    ) -> dict[str, Any]:
        """Put an announcement on every screen; stored and audited in one transaction.

        ``issuers`` (an authority's own users): an announcement already on the
        screens is replaced only when one of them issued it, since replacing
        it withdraws it; otherwise :class:`~eventops.errors.Forbidden` and
        nothing changes (checked in the same transaction)."""
        tpl = self.template(ann_id)
        if tpl is None:
            known = ", ".join(a.id for a in self.profile.wall.announcements) or "none"
            msg = Msg("wall.err.no_announcement", {"id": repr(ann_id), "known": known})
            raise refusal(WallError, msg)
        active = {
            **tpl.model_dump(),
            "issued_by": user,
            "issued_at": self.clock.now().isoformat(),
        }

        async def tx_body(tx: WallTx) -> None:
            raw = await tx.get_cursor(ANNOUNCEMENT_KEY)
            before = json.loads(raw) if raw else None
            if issuers is not None and before and before.get("issued_by") not in issuers:
                raise refusal(Forbidden, Msg("wall.err.replace_foreign"))
            await tx.set_cursor(ANNOUNCEMENT_KEY, json.dumps(active))
            await tx.audit(
                user,
                "wall.announcement.issue",
                ann_id,
                before={"id": before["id"]} if before else None,
                after={"id": ann_id},
            )

        await self.store.wall_transaction(tx_body)
        self.announcement = active
        self.broadcast("announcement", screen_announcement(active))
        return active

    async def withdraw(
        self, user: str, issuers: frozenset[str] | None = None
    ) -> dict[str, Any] | None:
        """Take the announcement off the screens (audited, one transaction).

        ``issuers``: the announcement is withdrawn only when one of them issued
        it (an authority's own); otherwise :class:`~eventops.errors.Forbidden`
        and nothing changes (checked in the same transaction)."""

        async def tx_body(tx: WallTx) -> dict[str, Any]:
            raw = await tx.get_cursor(ANNOUNCEMENT_KEY)
            if not raw:
                raise refusal(WallConflict, Msg("wall.err.none_on_screens"))
            before: dict[str, Any] = json.loads(raw)
            if issuers is not None and before.get("issued_by") not in issuers:
                raise refusal(Forbidden, Msg("wall.err.withdraw_foreign"))
            await tx.set_cursor(ANNOUNCEMENT_KEY, "")
            await tx.audit(
                user, "wall.announcement.withdraw", before["id"], before={"id": before["id"]}
            )
            return before

        try:
            before = await self.store.wall_transaction(tx_body)
        except WallConflict:
            self.announcement = None  # someone else withdrew it: follow the store
            raise
        self.announcement = None
        self.broadcast("announcement", None)
        return before

    async def set_paused(self, on: bool, user: str, note: str = "") -> None:
        """Pause or resume the wall (audited, one transaction); nothing if already so."""
        value = {"by": user, "at": self.clock.now().isoformat(), "note": note} if on else None

        async def tx_body(tx: WallTx) -> bool:
            if bool(await tx.get_cursor(PAUSED_KEY)) == on:
                return False
            await tx.set_cursor(PAUSED_KEY, json.dumps(value) if value else "")
            await tx.audit(
                user, "wall.pause" if on else "wall.resume", self.event_id, after={"note": note}
            )
            return True

        if not await self.store.wall_transaction(tx_body):
            return
        self.paused = value
        self.broadcast("pause", {"paused": on})

    # -- screens ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        wall = self.profile.wall
        ev = self.profile.event
        return {
            "event": {"id": ev.id, "name": ev.name, "venue": ev.venue, "hashtags": wall.hashtags},
            "posts": sorted(self.posts.values(), key=_order),
            "announcement": screen_announcement(self.announcement),
            "paused": self.paused is not None,
            "blank_s": wall.screen_offline_blank_s,
            "rotate_s": wall.screen_rotate_s,
            "now": self.clock.now().isoformat(),
        }

    def subscribe(self, maxsize: int = 1000) -> Screen:
        screen = Screen(self, maxsize)
        self.screens.add(screen)
        return screen

    def broadcast(self, kind: str, data: Any) -> None:
        msg = sse(kind, data)
        for screen in list(self.screens):
            screen.put(msg)

    def forget_posts(self, ids: Iterable[str]) -> None:
        for pid in ids:
            if self.posts.pop(pid, None) is not None:
                self._rows.pop(pid, None)
                self.broadcast("remove", {"id": pid})


def _order(p: dict[str, Any]) -> tuple[bool, float]:
    return (not p["pinned"], -datetime.fromisoformat(p["created_at"]).timestamp())
