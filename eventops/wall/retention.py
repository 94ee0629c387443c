"""Retention: the wall keeps posts and pictures only as long as the event says.

- :func:`purge` deletes posts (with their decisions) created more than
  ``event.retention_days`` ago and cached pictures fetched that long ago; the
  server runs it periodically (:func:`purge_periodically`), ``eventops wall
  purge`` on demand.
- :func:`forget` deletes everything of one author (a GDPR erasure request):
  posts, decisions, a runtime block, cached avatar and media. The audit log
  records that it happened, who asked and how much was deleted, naming the
  author only by a hash (so the log does not keep what was erased, yet anyone
  holding the handle can check that it was).

Both are one store transaction: the rows go and the audit entry is written
together. Pictures are deleted inside it, before the commit, so a crash
leaves either everything done and audited, or the posts still there (run it
again) — never posts gone without an audit entry.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from typing import Any

from eventops.clock import Clock
from eventops.errors import EventOpsError, WallError
from eventops.store.base import Store, WallTx
from eventops.store.models import PostRow
from eventops.wall.media import MediaCache, post_media_urls

log = logging.getLogger(__name__)


def author_ref(author: str) -> str:
    return "author-sha256:" + hashlib.sha256(author.encode()).hexdigest()


async def purge(
    store: Store,
    media: MediaCache | None,
    clock: Clock,
    retention_days: int,
    actor: str = "retention",
) -> dict[str, Any]:
    """Delete posts and pictures older than the retention; audit it if anything went."""
    keep = timedelta(days=retention_days)
    cutoff = clock.now() - keep

    async def tx_body(tx: WallTx) -> tuple[list[PostRow], dict[str, Any]]:
        gone = await tx.purge_posts(cutoff)
        files = await media.purge(keep.total_seconds()) if media is not None else 0
        result = {"posts": len(gone), "media": files, "before": cutoff.isoformat()}
        if gone or files:
            await tx.audit(actor, "wall.purge", f"{retention_days}d", after=result)
        return gone, result

    gone, result = await store.wall_transaction(tx_body)
    return {**result, "ids": [p.id for p in gone]}


async def forget(
    store: Store, media: MediaCache | None, author: str, user: str, reason: str = ""
) -> dict[str, Any]:
    """Delete every trace of ``author`` (exact author key, e.g. ``x:alice``) and audit it."""
    author = author.strip()
    if not author:
        raise WallError("forget: give the author, e.g. x:alice or mastodon:bob@social.example")
    if not user.strip():
        raise WallError("forget: --user names who handled the request (for the audit log)")

    async def tx_body(tx: WallTx) -> tuple[list[PostRow], dict[str, Any]]:
        gone = await tx.forget_author(author)
        urls = {u for p in gone for u in post_media_urls(p.data)}
        files = await media.forget(urls) if media is not None else 0
        result = {"posts": len(gone), "media": files, "reason": reason}
        await tx.audit(user, "wall.forget", author_ref(author), after=result)
        return gone, result

    gone, result = await store.wall_transaction(tx_body)
    return {**result, "ids": [p.id for p in gone]}


async def purge_periodically(
    store: Store,
    media: MediaCache | None,
    clock: Clock,
    retention_days: int,
    every_s: float = 3600.0,
    on_purged: Any = None,
) -> None:
    """Purge now and then every ``every_s`` until cancelled."""
    while True:
        try:
            res = await purge(store, media, clock, retention_days)
            if res["posts"] or res["media"]:
                log.info("wall: purged %d post(s), %d picture(s)", res["posts"], res["media"])
                if on_purged is not None:
                    on_purged(res["ids"])
        except EventOpsError as exc:
            log.warning("wall: purge: %s", exc.one_line())
        await clock.sleep(every_s)
