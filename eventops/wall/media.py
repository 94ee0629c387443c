"""The wall's media cache: avatars and thumbnails fetched server-side, never hot-linked.

Screens only ever load ``/wall/<event>/media/<key>`` from our own server. The
server fetches each picture once through :class:`MediaCache`:

- only from allowlisted hosts (the profile's ``wall.media_hosts``, plus the
  configured Mastodon instances and X's picture host), http(s), no redirects
  off the allowlist;
- at most ``wall.media_max_bytes`` (the body is read in chunks and abandoned
  when it grows past the limit);
- only raster images: the ``Content-Type`` must be JPEG, PNG, GIF or WebP and
  the first bytes must match it (no SVG, no HTML pretending to be a picture).

A file is stored under the SHA-256 of its source URL, with its type in a
sidecar line, so the key reveals nothing and one URL is fetched once.
Retention deletes files by age (:meth:`MediaCache.purge`) or by post
(:meth:`MediaCache.forget`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from eventops.errors import WallError
from eventops.profile.models import MastodonSource, Wall, XSource

log = logging.getLogger(__name__)

IMAGE_TYPES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}
X_MEDIA_HOSTS = ("pbs.twimg.com", "abs.twimg.com")


def media_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def allowed_hosts(wall: Wall) -> frozenset[str]:
    """Hosts (``host`` or ``host:port``, lower case) the server may fetch pictures from."""
    hosts = {h.lower() for h in wall.media_hosts}
    for src in wall.sources:
        if isinstance(src, MastodonSource):
            hosts.add(urlsplit(src.instance).netloc.lower())
        elif isinstance(src, XSource):
            hosts.update(X_MEDIA_HOSTS)
    return frozenset(hosts)


def sniff_ok(ctype: str, head: bytes) -> bool:
    magics = IMAGE_TYPES.get(ctype)
    if magics is None:
        return False
    if ctype == "image/webp":
        return head[:4] == b"RIFF" and head[8:12] == b"WEBP"
    return any(head.startswith(m) for m in magics)


class MediaCache:
    def __init__(
        self,
        root: Path,
        hosts: Iterable[str],
        *,
        max_bytes: int = 2_000_000,
        timeout_s: float = 10.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.root = root
        self.hosts = frozenset(h.lower() for h in hosts)
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self._session = session
        self._own_session = session is None
        self._inflight: dict[str, asyncio.Future[str | None]] = {}
        self._failed: dict[str, float] = {}
        """URL → monotonic time before which it is not tried again."""
        self.retry_failed_s = 600.0

    async def aclose(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
            )
            self._own_session = True
        return self._session

    def allowed(self, url: str) -> bool:
        try:
            parts = urlsplit(url)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or parts.username or parts.password:
            return False
        netloc = parts.netloc.lower()
        return netloc in self.hosts or (parts.hostname or "") in self.hosts

    def worth_trying(self, url: str) -> bool:
        """Allowed, not cached, and not failed recently (a broken URL is not hammered)."""
        if not self.allowed(url) or self.cached(url) is not None:
            return False
        return self._failed.get(url, 0.0) <= time.monotonic()

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.bin", self.root / f"{key}.type"

    def cached(self, url: str) -> str | None:
        """The key of ``url`` if its picture is in the cache."""
        key = media_key(url)
        return key if self._paths(key)[1].exists() else None

    def read(self, key: str) -> tuple[bytes, str] | None:
        """A cached picture and its type (blocking: call through a thread)."""
        if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            return None
        body, meta = self._paths(key)
        try:
            ctype = meta.read_text(encoding="ascii").strip()
            data = body.read_bytes()
        except OSError:
            return None
        if ctype not in IMAGE_TYPES:
            return None
        return data, ctype

    async def fetch(self, url: str) -> str:
        """Fetch ``url`` into the cache (once, however many ask); return its key."""
        key = media_key(url)
        if self._paths(key)[1].exists():
            return key
        running = self._inflight.get(key)
        if running is not None:
            got = await asyncio.shield(running)
            if got is None:
                raise WallError(f"media {url[:120]}: fetch failed")
            return got
        fut: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            await self._fetch(url, key)
        except WallError:
            self._failed[url] = time.monotonic() + self.retry_failed_s
            fut.set_result(None)
            raise
        except BaseException:
            fut.set_result(None)
            raise
        else:
            fut.set_result(key)
        finally:
            self._inflight.pop(key, None)
        return key

    async def _fetch(self, url: str, key: str) -> None:
        if not self.allowed(url):
            raise WallError(f"media {url[:120]}: host not on the media allowlist")
        chunks: list[bytes] = []
        size = 0
        try:
            async with self._http().get(url, allow_redirects=False) as resp:
                if resp.status != 200:
                    raise WallError(f"media {url[:120]}: HTTP {resp.status}")
                ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if ctype not in IMAGE_TYPES:
                    raise WallError(f"media {url[:120]}: not a picture ({ctype[:60] or 'no type'})")
                declared = resp.content_length
                if declared is not None and declared > self.max_bytes:
                    raise WallError(f"media {url[:120]}: {declared} bytes, over the limit")
                async for chunk in resp.content.iter_chunked(65536):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise WallError(
                            f"media {url[:120]}: more than {self.max_bytes} bytes, abandoned"
                        )
                    chunks.append(chunk)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise WallError(f"media {url[:120]}: {type(exc).__name__}") from None
        data = b"".join(chunks)
        if not sniff_ok(ctype, data[:16]):
            raise WallError(f"media {url[:120]}: content does not look like {ctype}")
        await asyncio.to_thread(self._write, key, data, ctype)

    def _write(self, key: str, data: bytes, ctype: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        body, meta = self._paths(key)
        tmp = body.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, body)
        meta.write_text(ctype + "\n", encoding="ascii")

    def _purge(self, older_than_s: float) -> int:
        if not self.root.exists():
            return 0
        cutoff = time.time() - older_than_s
        n = 0
        for p in self.root.iterdir():
            if p.suffix == ".bin" and p.stat().st_mtime < cutoff:
                p.unlink(missing_ok=True)
                p.with_suffix(".type").unlink(missing_ok=True)
                n += 1
        return n

    async def purge(self, older_than_s: float) -> int:
        """Delete pictures fetched more than ``older_than_s`` ago; return how many."""
        return await asyncio.to_thread(self._purge, older_than_s)

    def _forget(self, urls: list[str]) -> int:
        n = 0
        for url in urls:
            body, meta = self._paths(media_key(url))
            if body.exists():
                n += 1
            body.unlink(missing_ok=True)
            meta.unlink(missing_ok=True)
        return n

    async def forget(self, urls: Iterable[str]) -> int:
        """Delete the cached copies of these source URLs; return how many existed."""
        return await asyncio.to_thread(self._forget, list(urls))


def post_media_urls(data: dict[str, object], avatar: bool = True) -> list[str]:
    """Every source URL of a stored post's pictures (avatar, previews, media)."""
    urls: list[str] = []
    if avatar and isinstance(data.get("avatar_url"), str):
        urls.append(str(data["avatar_url"]))
    media = data.get("media")
    if isinstance(media, list):
        for m in media:
            if isinstance(m, dict):
                for k in ("preview_url", "url"):
                    if isinstance(m.get(k), str):
                        urls.append(str(m[k]))
    return urls


def default_media_dir(store_path: Path) -> Path:
    return store_path.with_name(store_path.stem + "-media")
