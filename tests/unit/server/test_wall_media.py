"""The media cache: allowlisted hosts, size limit, picture types checked by type and bytes."""

from __future__ import annotations

import asyncio
import re
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from eventops.errors import WallError
from eventops.wall.media import MediaCache, allowed_hosts, media_key
from tests.unit.monitor.factories import demo_profile
from tests.unit.server.wallkit import wall_served


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


class Pictures:
    def __init__(self) -> None:
        self.hits: dict[str, int] = {}
        self.port = 0

    def app(self) -> web.Application:
        async def handler(request: web.Request) -> web.StreamResponse:
            name = request.match_info["name"]
            self.hits[name] = self.hits.get(name, 0) + 1
            if name == "a.png":
                await asyncio.sleep(0.05)
                return web.Response(body=png(), content_type="image/png")
            if name == "fake.png":
                return web.Response(body=b"<svg onload=alert(1)></svg>", content_type="image/png")
            if name == "x.svg":
                return web.Response(body=b"<svg/>", content_type="image/svg+xml")
            if name == "page.html":
                return web.Response(body=b"<script>1</script>", content_type="text/html")
            if name == "declared.png":
                return web.Response(body=png() + b"\0" * 5000, content_type="image/png")
            if name == "endless.png":
                resp = web.StreamResponse(headers={"Content-Type": "image/png"})
                resp.enable_chunked_encoding()
                await resp.prepare(request)
                await resp.write(png())
                for _ in range(20):
                    await resp.write(b"\0" * 1024)
                return resp
            if name == "moved.png":
                raise web.HTTPFound(location="/pics/a.png")
            raise web.HTTPNotFound()

        app = web.Application()
        app.router.add_get("/pics/{name}", handler)
        return app


@pytest.fixture
async def pictures() -> AsyncIterator[Pictures]:
    pics = Pictures()
    runner = web.AppRunner(pics.app())
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    pics.port = runner.addresses[0][1]
    try:
        yield pics
    finally:
        await runner.cleanup()


async def test_fetch_checks_host_type_bytes_and_size(pictures: Pictures, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{pictures.port}/pics"
    cache = MediaCache(tmp_path / "m", [f"127.0.0.1:{pictures.port}"], max_bytes=4096)
    try:
        keys = await asyncio.gather(*(cache.fetch(f"{base}/a.png") for _ in range(5)))
        assert set(keys) == {media_key(f"{base}/a.png")} and pictures.hits["a.png"] == 1
        assert cache.read(keys[0]) == (png(), "image/png")
        cases = {
            "fake.png": "does not look like image/png",
            "x.svg": "not a picture (image/svg+xml)",
            "page.html": "not a picture (text/html)",
            "declared.png": "over the limit",
            "endless.png": "more than 4096 bytes, abandoned",
            "moved.png": "HTTP 302",
            "gone.png": "HTTP 404",
        }
        for name, msg in cases.items():
            with pytest.raises(WallError, match=re.escape(msg)):
                await cache.fetch(f"{base}/{name}")
            assert cache.cached(f"{base}/{name}") is None
        with pytest.raises(WallError, match="not on the media allowlist"):
            await cache.fetch(f"http://localhost:{pictures.port}/pics/a.png")
        with pytest.raises(WallError, match="not on the media allowlist"):
            await cache.fetch("javascript:alert(1)")
        assert "localhost" not in pictures.hits
        assert not cache.worth_trying(f"{base}/gone.png")  # failed: not again for a while
        assert not cache.worth_trying("https://elsewhere.example/a.png")
        assert not cache.worth_trying(f"{base}/a.png")  # cached already
        assert cache.read("../../etc/passwd") is None and cache.read("0" * 64) is None
        assert await cache.forget([f"{base}/a.png"]) == 1
        assert cache.cached(f"{base}/a.png") is None
    finally:
        await cache.aclose()


def test_allowlist_includes_source_hosts() -> None:
    wall = demo_profile().wall.model_copy(
        update={"media_hosts": ["Files.Example:8443"], "sources": []}
    )
    assert allowed_hosts(wall) == {"files.example:8443"}


async def test_screen_gets_cached_avatar_and_thumbnail(pictures: Pictures, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{pictures.port}/pics"
    profile = demo_profile()
    wall = profile.wall.model_copy(update={"media_hosts": [f"127.0.0.1:{pictures.port}"]})
    async for s in wall_served(tmp_path, profile.model_copy(update={"wall": wall})):
        hub = s.wall.hub
        await s.add_post(
            "replay:p",
            state="approved",
            data={
                "avatar_url": f"{base}/a.png",
                "media": [
                    {"kind": "photo", "url": f"{base}/fake.png", "preview_url": f"{base}/a.png"},
                    {"kind": "photo", "url": "https://elsewhere.example/b.png"},
                ],
            },
        )
        for t in list(hub._tasks):
            await t
        view = hub.posts["replay:p"]
        key = media_key(f"{base}/a.png")
        assert view["avatar"] == f"/wall/demo/media/{key}"
        assert view["media"] == [{"src": f"/wall/demo/media/{key}", "alt": ""}]
        async with s.http.get(s.url + view["avatar"]) as r:
            assert r.status == 200 and await r.read() == png()
            assert r.headers["Content-Type"] == "image/png"
            assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "elsewhere" not in str(view)
        # forgetting the author deletes the cached pictures as well
        st, res = await s.post("/api/v1/wall/forget", "comms", {"author": "replay:anna"})
        assert st == 200 and res == {"posts": 1, "media": 1}
        assert (await s.get(view["avatar"], None))[0] == 404
