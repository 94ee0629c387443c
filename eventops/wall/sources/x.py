"""X (Twitter) API v2 through tweepy's AsyncClient.

Each poll searches recent tweets newer than the stored ``since_id`` and
follows ``next_token`` page by page until the results reach that id, so a
burst bigger than one page loses nothing; the new ``since_id`` (the first
page's ``newest_id``) is stored only after every post was handled. Then the
ids of posts still queued or shown are re-checked in batches of 100 through
``GET /2/tweets?ids=``: the ones X no longer returns come back as
deletions. An edit arrives as a new id whose ``edit_history_tweet_ids``
lists the shown one; the pipeline hides that at once.

tweepy runs with ``wait_on_rate_limit=False``: on a 429 this source sleeps on
the injected clock until the ``x-rate-limit-reset`` time (60 s if the header
is missing) and repeats the same request.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
import tweepy
from tweepy.asynchronous import AsyncClient

from eventops.clock import Clock
from eventops.errors import WallError
from eventops.profile.models import Wall
from eventops.profile.models import XSource as XConf
from eventops.secrets import SecretRef
from eventops.store.base import Store
from eventops.wall.normalize import (
    Deletion,
    Link,
    Media,
    NormalPost,
    handle,
    links_in_text,
    neutralise,
    plain_to_text,
    safe_link,
    safe_media,
    unique_links,
)
from eventops.wall.sources.base import Batch, Item, PostSource

log = logging.getLogger(__name__)

TWEET_FIELDS = [
    "attachments",
    "author_id",
    "created_at",
    "edit_history_tweet_ids",
    "entities",
    "lang",
    "possibly_sensitive",
    "referenced_tweets",
]
USER_FIELDS = ["name", "username"]
MEDIA_FIELDS = ["alt_text", "preview_image_url", "type", "url"]
EXPANSIONS = ["author_id", "attachments.media_keys"]
MAX_PAGES_FIRST_RUN = 5
"""Without a stored since_id, read at most this many pages back (500 tweets)."""
RECHECK_SHOWN = 300
"""The most recent shown posts re-checked each poll (3 lookups of 100)."""
RECHECK_QUEUED = 100
NO_RESET_WAIT_S = 60.0


class _RedactBearer(logging.Filter):
    """tweepy logs request headers at DEBUG; never let the bearer token reach a log."""

    _pattern = re.compile(r"(Bearer\s+)[^\s'\"]+", re.IGNORECASE)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "bearer" in message.lower():
            record.msg = self._pattern.sub(r"\1[redacted]", message)
            record.args = None
        return True


def _guard_tweepy_logs() -> None:
    for name in ("tweepy.asynchronous.client", "tweepy.client"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactBearer) for f in logger.filters):
            logger.addFilter(_RedactBearer())


def default_query(wall: Wall) -> str:
    if not wall.hashtags:
        raise WallError("wall: an X source needs a query or at least one hashtag")
    tags = " OR ".join(f"#{t}" for t in wall.hashtags)
    return f"({tags}) -is:retweet" if len(wall.hashtags) > 1 else f"{tags} -is:retweet"


class XSource(PostSource):
    def __init__(
        self,
        bearer_token: SecretRef | str,
        query: str,
        store: Store,
        clock: Clock,
        *,
        name: str = "x",
        interval_s: float = 15.0,
        session: aiohttp.ClientSession | None = None,
        page_size: int = 100,
        host: str = "api.twitter.com",
    ) -> None:
        super().__init__(name, store, clock)
        self._token = bearer_token
        self.query = query
        self.interval_s = interval_s
        self.page_size = page_size
        self.host = host
        self._session = session
        self._own_session = session is None
        self._client: AsyncClient | None = None

    @classmethod
    def from_profile(
        cls, conf: XConf, wall: Wall, store: Store, clock: Clock, *, name: str = "x"
    ) -> XSource:
        return cls(
            conf.bearer_token,
            conf.query or default_query(wall),
            store,
            clock,
            name=name,
            interval_s=conf.poll_interval_s,
        )

    def _client_for(self) -> AsyncClient:
        if self._client is None:
            _guard_tweepy_logs()
            token = self._token.reveal() if isinstance(self._token, SecretRef) else self._token
            self._client = AsyncClient(
                bearer_token=token, return_type=dict, wait_on_rate_limit=False
            )
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            self._client.session = self._session
        return self._client

    def use_session(self, session: aiohttp.ClientSession | None) -> None:
        """Use ``session`` (owned by the caller) instead of opening one; None: keep our own."""
        if session is not None:
            self._session = session
            self._own_session = False

    async def aclose(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None
            self._client = None

    async def _call(self, what: str, fn: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
        """One API call; on 429 wait on the clock until the reset, then repeat it."""
        while True:
            try:
                result = await fn()
            except tweepy.TooManyRequests as exc:
                reset = exc.reset_time if isinstance(exc.reset_time, int) else None
                wait = (
                    reset - self.clock.now().timestamp() if reset is not None else NO_RESET_WAIT_S
                )
                wait = max(1.0, wait)
                log.warning("%s: rate limited on %s; retrying in %.0f s", self.name, what, wait)
                await self.clock.sleep(wait)
                continue
            except tweepy.Unauthorized:
                raise WallError(
                    f"{self.name}: {self.host} refused the bearer token (401)"
                ) from None
            except tweepy.Forbidden as exc:
                raise WallError(
                    f"{self.name}: {self.host} forbids {what} (403: {_msg(exc)})"
                ) from None
            except tweepy.BadRequest as exc:
                raise WallError(
                    f"{self.name}: {self.host} rejected {what} (400: {_msg(exc)})"
                ) from None
            except tweepy.TwitterServerError as exc:
                raise WallError(
                    f"{self.name}: {self.host} failed {what} ({exc.response.status})"
                ) from None
            except tweepy.HTTPException as exc:
                raise WallError(
                    f"{self.name}: {self.host} answered {what} with {exc.response.status}"
                ) from None
            except aiohttp.ContentTypeError:
                raise WallError(f"{self.name}: {self.host} answered {what} without JSON") from None
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise WallError(
                    f"{self.name}: cannot reach {self.host} ({type(exc).__name__}: {exc})"
                ) from None
            if not isinstance(result, dict):
                raise WallError(f"{self.name}: {self.host} answered {what} with non-object JSON")
            return result

    async def poll(self, *, wait: bool = True) -> Batch:
        client = self._client_for()
        since = await self.load_cursor()
        pages: list[dict[str, Any]] = []
        token: str | None = None
        newest: str | None = None
        while True:
            params: dict[str, Any] = {
                "max_results": self.page_size,
                "expansions": EXPANSIONS,
                "tweet_fields": TWEET_FIELDS,
                "user_fields": USER_FIELDS,
                "media_fields": MEDIA_FIELDS,
            }
            if since:
                params["since_id"] = since
            if token:
                params["next_token"] = token

            def call(p: dict[str, Any] = params) -> Awaitable[Any]:
                result: Awaitable[Any] = client.search_recent_tweets(self.query, **p)
                return result

            page = await self._call("recent search", call)
            meta = page.get("meta") or {}
            if newest is None:
                newest = meta.get("newest_id")
            pages.append(page)
            token = meta.get("next_token")
            if not token or (since is None and len(pages) >= MAX_PAGES_FIRST_RUN):
                break
        items: list[Item] = []
        seen: set[str] = set()
        for page in reversed(pages):
            for post in reversed(self._normalise_page(page)):
                if post.id not in seen:
                    seen.add(post.id)
                    items.append(post)
        items.extend(await self._recheck())
        return Batch(items, newest if newest else None)

    async def _recheck(self) -> list[Item]:
        """Deletions among the posts this source has queued or shown."""
        client = self._client_for()
        ids: list[str] = []
        for state, limit in (("approved", RECHECK_SHOWN), ("pending", RECHECK_QUEUED)):
            for row in await self.store.list_posts(state, limit=limit):
                if row.source == self.name:
                    ids.append(row.id.split(":", 1)[1])
        gone: list[Item] = []
        for i in range(0, len(ids), 100):
            chunk = ids[i : i + 100]

            def call(c: list[str] = chunk) -> Awaitable[Any]:
                result: Awaitable[Any] = client.get_tweets(
                    c, tweet_fields=["edit_history_tweet_ids"]
                )
                return result

            answer = await self._call("tweet lookup", call)
            present = {str(t.get("id")) for t in answer.get("data") or []}
            for tid in chunk:
                if tid not in present:
                    gone.append(Deletion(id=f"{self.name}:{tid}", source=self.name))
        return gone

    def _normalise_page(self, page: dict[str, Any]) -> list[NormalPost]:
        inc = page.get("includes") or {}
        users = {u.get("id"): u for u in inc.get("users") or [] if isinstance(u, dict)}
        media = {m.get("media_key"): m for m in inc.get("media") or [] if isinstance(m, dict)}
        out = []
        for t in page.get("data") or []:
            try:
                out.append(self.normalise(t, users, media))
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("%s: skipping malformed tweet %r (%s)", self.name, t.get("id"), exc)
        return out

    def normalise(
        self, t: dict[str, Any], users: dict[Any, Any], media: dict[Any, Any]
    ) -> NormalPost:
        tid = str(t["id"])
        if not tid.isdigit():
            raise ValueError("id is not numeric")
        text = str(t["text"])
        links: list[Link] = []
        for u in (t.get("entities") or {}).get("urls") or []:
            short = str(u.get("url", ""))
            if u.get("media_key"):
                text = text.replace(short, "")
                continue
            link = safe_link(str(u.get("expanded_url", "")))
            if link is not None:
                links.append(link)
                text = text.replace(short, str(u.get("display_url") or link.domain))
            else:
                text = text.replace(short, "")
        text = plain_to_text(text)
        links.extend(x for x in links_in_text(text) if x.domain != "t.co")
        author = users.get(t.get("author_id")) or {}
        username = handle(str(author.get("username") or t.get("author_id") or "unknown"))
        refs = {r.get("type") for r in t.get("referenced_tweets") or [] if isinstance(r, dict)}
        media_refs: list[Media] = []
        for key in (t.get("attachments") or {}).get("media_keys") or []:
            m = media.get(key)
            if not m:
                continue
            url = m.get("url") or m.get("preview_image_url")
            ref = safe_media(
                str(m.get("type", "")), url, m.get("preview_image_url"), str(m.get("alt_text", ""))
            )
            if ref is not None:
                media_refs.append(ref)
        history = [str(h) for h in t.get("edit_history_tweet_ids") or [tid]]
        lang = t.get("lang")
        created = t.get("created_at")
        return NormalPost(
            id=f"{self.name}:{tid}",
            source=self.name,
            native_id=tid,
            author=f"x:{username}",
            author_name=neutralise(str(author.get("name", ""))),
            text=text,
            created_at=datetime.fromisoformat(created) if created else self.clock.now(),
            lang=lang if isinstance(lang, str) and lang not in ("und", "zxx", "qme") else None,
            links=unique_links(links),
            media=tuple(media_refs),
            sensitive=bool(t.get("possibly_sensitive", False)),
            is_reply="replied_to" in refs,
            is_boost="retweeted" in refs,
            replaces=tuple(f"{self.name}:{h}" for h in history if h != tid),
            raw_url=f"https://x.com/{username}/status/{tid}",
        )


def _msg(exc: tweepy.HTTPException) -> str:
    msgs = list(getattr(exc, "api_messages", []) or [])
    return neutralise(str(msgs[0]))[:200] if msgs else str(exc.response.status)
