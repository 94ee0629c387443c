"""Mastodon over aiohttp: the hashtag timeline, and the streaming API where a token allows.

Polling reads ``GET /api/v1/timelines/tag/:tag`` (further hashtags as
``any[]``) forward from the stored ``min_id``, page by page (40 a page)
until a page comes back short, so nothing between two polls is lost; the
newest id is stored once the posts are handled. Without a cursor the first
poll takes the newest page only.

With a token and ``stream = true`` the source also listens to
``/api/v1/streaming/hashtag``: ``update`` events arrive at once,
``delete`` hides a post everywhere, ``status.update`` sends the edited post
back through moderation (the pipeline hides the shown version first). The
stream reconnects after a pause; polling carries on meanwhile and the
pipeline drops posts it has already seen. Without a stream, the shown and
queued posts are re-checked each poll (``GET /api/v1/statuses?id[]=``).

Rate limits: a 429 waits until ``X-RateLimit-Reset`` (ISO 8601) on the
injected clock and repeats the request; a response that leaves
``X-RateLimit-Remaining`` at 0 makes the next request wait the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from eventops.clock import Clock
from eventops.errors import WallError
from eventops.profile.models import MastodonSource as MastodonConf
from eventops.profile.models import Wall
from eventops.secrets import SecretRef
from eventops.store.base import Store
from eventops.wall.normalize import (
    Deletion,
    Media,
    NormalPost,
    handle,
    html_to_text,
    neutralise,
    safe_link,
    safe_media,
)
from eventops.wall.sources.base import Batch, Item, PostSource

log = logging.getLogger(__name__)

PAGE = 40
MAX_PAGES = 25
"""At most 1,000 posts per poll; the rest follow in the next poll (the cursor keeps them)."""
RECHECK = 200
STREAM_RETRY_S = 5.0
NO_RESET_WAIT_S = 60.0


class MastodonSource(PostSource):
    def __init__(
        self,
        instance: str,
        hashtags: list[str],
        store: Store,
        clock: Clock,
        *,
        token: SecretRef | str | None = None,
        stream: bool = True,
        name: str | None = None,
        interval_s: float = 15.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        if not hashtags:
            raise WallError(f"mastodon {instance}: the wall needs at least one hashtag")
        self.instance = instance.rstrip("/")
        self.host = self.instance.split("://", 1)[1].lower()
        super().__init__(name or f"mastodon:{self.host}", store, clock)
        self.hashtags = [t.lower() for t in hashtags]
        self._token = token
        self.stream = stream and token is not None
        self.interval_s = interval_s
        self._session = session
        self._own_session = session is None
        self._wait_until: datetime | None = None
        self._polls = 0

    @classmethod
    def from_profile(
        cls, conf: MastodonConf, wall: Wall, store: Store, clock: Clock, *, name: str | None = None
    ) -> MastodonSource:
        return cls(
            conf.instance,
            wall.hashtags,
            store,
            clock,
            token=conf.token,
            stream=conf.stream,
            name=name,
            interval_s=conf.poll_interval_s,
        )

    # -- http -------------------------------------------------------------------
    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    def _headers(self) -> dict[str, str]:
        if self._token is None:
            return {}
        token = self._token.reveal() if isinstance(self._token, SecretRef) else self._token
        return {"Authorization": f"Bearer {token}"}

    def use_session(self, session: aiohttp.ClientSession | None) -> None:
        """Use ``session`` (owned by the caller) instead of opening one; None: keep our own."""
        if session is not None:
            self._session = session
            self._own_session = False

    async def aclose(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _reset_of(self, headers: Any) -> datetime | None:
        raw = headers.get("X-RateLimit-Reset")
        if not raw:
            return None
        try:
            return datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None

    async def _get(self, path: str, params: list[tuple[str, str]]) -> tuple[Any, Any]:
        """GET JSON; waits out rate limits on the clock; faults become WallError."""
        url = self.instance + path
        while True:
            if self._wait_until is not None:
                wait = (self._wait_until - self.clock.now()).total_seconds()
                self._wait_until = None
                if wait > 0:
                    await self.clock.sleep(wait)
            try:
                async with self._http().get(url, params=params, headers=self._headers()) as r:
                    if r.status == 429:
                        reset = self._reset_of(r.headers)
                        wait = (
                            (reset - self.clock.now()).total_seconds() if reset else NO_RESET_WAIT_S
                        )
                        log.warning("%s: rate limited; retrying in %.0f s", self.name, wait)
                        await self.clock.sleep(max(1.0, wait))
                        continue
                    if r.headers.get("X-RateLimit-Remaining") == "0":
                        self._wait_until = self._reset_of(r.headers)
                    if r.status == 401:
                        raise WallError(f"{self.name}: {self.host} refused the access token (401)")
                    if r.status == 404:
                        raise WallError(f"{self.name}: {self.host} has no {path} (404)")
                    if r.status >= 400:
                        raise WallError(
                            f"{self.name}: {self.host} answered {path} with {r.status} "
                            f"({await _error_text(r)})"
                        )
                    try:
                        body = await r.json(content_type=None)
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        raise WallError(
                            f"{self.name}: {self.host} answered {path} without JSON"
                        ) from None
                    return body, r.headers
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise WallError(
                    f"{self.name}: cannot reach {self.host} ({type(exc).__name__}: {exc})"
                ) from None

    # -- polling ---------------------------------------------------------------
    async def poll(self, *, wait: bool = True) -> Batch:
        cursor = await self.load_cursor()
        path = f"/api/v1/timelines/tag/{quote(self.hashtags[0], safe='')}"
        extra = [("any[]", t) for t in self.hashtags[1:]]
        statuses: list[dict[str, Any]] = []
        min_id = cursor
        for _ in range(MAX_PAGES):
            params = [("limit", str(PAGE)), *extra]
            if min_id:
                params.append(("min_id", min_id))
            page, _headers = await self._get(path, params)
            if not isinstance(page, list):
                raise WallError(
                    f"{self.name}: {self.host} answered the timeline with non-list JSON"
                )
            statuses.extend(s for s in page if isinstance(s, dict))
            ids = [
                int(s["id"]) for s in page if isinstance(s, dict) and str(s.get("id", "")).isdigit()
            ]
            if not ids or cursor is None or len(page) < PAGE:
                if ids:
                    min_id = str(max(ids))
                break
            min_id = str(max(ids))
        items: list[Item] = []
        seen: set[str] = set()
        for s in sorted(
            statuses, key=lambda s: int(s["id"]) if str(s.get("id", "")).isdigit() else 0
        ):
            try:
                post = self.normalise(s)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("%s: skipping malformed status %r (%s)", self.name, s.get("id"), exc)
                continue
            if post.id not in seen:
                seen.add(post.id)
                items.append(post)
        self._polls += 1
        if not self.stream or self._polls % 10 == 0:
            items.extend(await self._recheck())
        new_cursor = min_id if min_id and min_id != cursor else None
        return Batch(items, new_cursor)

    async def _recheck(self) -> list[Item]:
        ids: list[str] = []
        for state, limit in (("approved", RECHECK), ("pending", RECHECK // 2)):
            for row in await self.store.list_posts(state, limit=limit):
                if row.source == self.name:
                    ids.append(row.id.rsplit(":", 1)[1])
        gone: list[Item] = []
        for i in range(0, len(ids), 20):
            chunk = ids[i : i + 20]
            found, _ = await self._get("/api/v1/statuses", [("id[]", x) for x in chunk])
            present = {str(s.get("id")) for s in found or [] if isinstance(s, dict)}
            gone.extend(
                Deletion(id=f"{self.name}:{x}", source=self.name) for x in chunk if x not in present
            )
        return gone

    def normalise(self, s: dict[str, Any]) -> NormalPost:
        sid = str(s["id"])
        if not sid.isdigit():
            raise ValueError("id is not numeric")
        boost = s.get("reblog")
        original = boost if isinstance(boost, dict) else s
        text, links = html_to_text(str(original.get("content") or ""))
        account = original.get("account") or {}
        acct = handle(str(account.get("acct") or account.get("username") or "unknown"))
        if "@" not in acct:
            acct = f"{acct}@{self.host}"
        media: list[Media] = []
        for m in original.get("media_attachments") or []:
            if isinstance(m, dict):
                ref = safe_media(
                    str(m.get("type", "")),
                    m.get("url") or m.get("remote_url"),
                    m.get("preview_url"),
                    str(m.get("description") or ""),
                )
                if ref is not None:
                    media.append(ref)
        url = safe_link(str(s.get("url") or ""))
        created = str(s.get("created_at") or "")
        lang = original.get("language")
        return NormalPost(
            id=f"{self.name}:{sid}",
            source=self.name,
            native_id=sid,
            author=f"mastodon:{acct}",
            author_name=neutralise(str(account.get("display_name") or "")),
            text=text,
            created_at=datetime.fromisoformat(created.replace("Z", "+00:00"))
            if created
            else self.clock.now(),
            lang=lang if isinstance(lang, str) and lang else None,
            links=links,
            media=tuple(media),
            sensitive=bool(original.get("sensitive")),
            spoiler_text=neutralise(str(original.get("spoiler_text") or "")),
            is_reply=original.get("in_reply_to_id") is not None,
            is_boost=isinstance(boost, dict),
            is_bot=bool(account.get("bot")),
            raw_url=url.url if url else None,
            version=str(original.get("edited_at") or ""),
        )

    # -- streaming ---------------------------------------------------------------
    async def _stream(self, queue: asyncio.Queue[Item]) -> None:
        """Feed stream events into ``queue``; reconnect after a pause; stop on 401."""
        tags = self.hashtags
        while True:
            try:
                await asyncio.gather(*(self._stream_tag(tag, queue) for tag in tags))
            except WallError as exc:
                log.warning("%s: stream: %s", self.name, exc.one_line())
                if "(401)" in str(exc):
                    return
            await self.clock.sleep(STREAM_RETRY_S)

    async def _streaming_base(self) -> str:
        """The streaming server the instance names (``configuration.urls.streaming``)."""
        try:
            info, _ = await self._get("/api/v2/instance", [])
        except WallError:
            return self.instance
        urls = ((info or {}).get("configuration") or {}).get("urls") or {}
        raw = urls.get("streaming") if isinstance(urls, dict) else None
        if not isinstance(raw, str) or not raw:
            return self.instance
        for ws, http in (("wss://", "https://"), ("ws://", "http://")):
            if raw.startswith(ws):
                raw = http + raw[len(ws) :]
        link = safe_link(raw)
        if link is None or (
            link.url.startswith("http://") and self.instance.startswith("https://")
        ):
            return self.instance
        return link.url.rstrip("/")

    async def _stream_tag(self, tag: str, queue: asyncio.Queue[Item]) -> None:
        url = f"{await self._streaming_base()}/api/v1/streaming/hashtag"
        timeout = aiohttp.ClientTimeout(total=None, sock_read=90)
        try:
            async with self._http().get(
                url, params={"tag": tag}, headers=self._headers(), timeout=timeout
            ) as r:
                if r.status == 401:
                    raise WallError(f"{self.name}: {self.host} refused the stream token (401)")
                if r.status != 200:
                    raise WallError(f"{self.name}: stream answered {r.status}")
                event, data = "", []
                async for raw in r.content:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if line.startswith(":"):
                        continue
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].lstrip(" "))
                    elif line == "":
                        if event and data:
                            item = self._event(event, "\n".join(data))
                            if item is not None:
                                await queue.put(item)
                        event, data = "", []
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise WallError(f"{self.name}: stream lost ({type(exc).__name__})") from None

    def _event(self, event: str, payload: str) -> Item | None:
        try:
            if event == "delete":
                sid = payload.strip().strip('"')
                return (
                    Deletion(id=f"{self.name}:{sid}", source=self.name) if sid.isdigit() else None
                )
            if event in ("update", "status.update"):
                body = json.loads(payload)
                return self.normalise(body) if isinstance(body, dict) else None
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("%s: skipping malformed %s event (%s)", self.name, event, exc)
        return None

    async def __aiter__(self) -> AsyncIterator[Item]:
        if not self.stream:
            async for item in super().__aiter__():
                yield item
            return
        queue: asyncio.Queue[Item] = asyncio.Queue()
        streamer = asyncio.create_task(self._stream(queue), name=f"{self.name}:stream")
        try:
            while True:
                try:
                    batch = await self.poll()
                except WallError as exc:
                    log.warning("wall source %s: %s", self.name, exc.one_line())
                    batch = Batch()
                for item in batch.items:
                    yield item
                await self.commit(batch)
                sleeper = asyncio.ensure_future(self.clock.sleep(self.interval_s))
                try:
                    while not sleeper.done():
                        getter = asyncio.ensure_future(queue.get())
                        await asyncio.wait({sleeper, getter}, return_when=asyncio.FIRST_COMPLETED)
                        if getter.done():
                            yield getter.result()
                        else:
                            getter.cancel()
                finally:
                    sleeper.cancel()
        finally:
            streamer.cancel()
            await asyncio.gather(streamer, return_exceptions=True)


async def _error_text(r: aiohttp.ClientResponse) -> str:
    try:
        body = await r.json(content_type=None)
        if isinstance(body, dict) and "error" in body:
            return neutralise(str(body["error"]))[:200]
    except (ValueError, aiohttp.ClientError):
        pass
    return r.reason or "error"
