"""The X source through tweepy's AsyncClient against the X API v2 simulator (TLS on loopback)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from eventops_hardware.x_api import XApiSimulator

from eventops.clock import FakeClock
from eventops.errors import WallError
from eventops.profile.models import Wall
from eventops.store import SQLiteStore
from eventops.wall.normalize import NormalPost
from eventops.wall.service import WallPipeline
from eventops.wall.sources.x import XSource
from tests.helpers.wait import eventually
from tests.integration.wallkit import TestTLS, mapped_session

TLS = TestTLS("api.twitter.com")
WALL = Wall(hashtags=["fest"], moderation="post", max_posts_per_author_per_hour=1000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sim(clock: FakeClock) -> AsyncIterator[XApiSimulator]:
    async with XApiSimulator(clock, ssl_context=TLS.server_context()) as s:
        yield s


@pytest.fixture
async def session(sim: XApiSimulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with mapped_session("api.twitter.com", sim.port, TLS) as s:
        yield s


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "wall.sqlite3") as s:
        yield s


def source(
    store: SQLiteStore, clock: FakeClock, session: aiohttp.ClientSession, token: str = "test-bearer"
) -> XSource:
    return XSource(token, "#fest -is:retweet", store, clock, session=session)


async def test_burst_across_pages_loses_none_and_duplicates_none(
    sim: XApiSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    await store.set_cursor("wall:x", str(sim.state.post("early", "before #fest").id))
    burst = sim.state.burst(1000, "fest")
    late: list[int] = []

    def arrive_mid_paging(path: str, query: dict[str, str]) -> None:
        # 50 more tweets land while the source pages back through the burst.
        if path.endswith("/recent") and "next_token" in query and not late:
            late.extend(t.id for t in sim.state.burst(50, "fest", prefix="late"))

    sim.state.on_request = arrive_mid_paging
    src = source(store, clock, session)
    pipe = WallPipeline(WALL, store, clock, [src])
    await pipe.ingest_once()
    searches = [r for r in sim.state.requests if r[1].endswith("/recent")]
    assert len(searches) == 10  # 1000 posts, 100 a page
    stored = {p.id for p in await store.list_posts(limit=5000)}
    assert stored == {f"x:{t.id}" for t in burst}
    assert len(await store.list_decisions()) == 1000  # one decision each, no repeats
    # The posts that arrived while paging come with the next poll, none lost or repeated.
    await pipe.ingest_once()
    stored = {p.id for p in await store.list_posts(limit=5000)}
    assert stored == {f"x:{t}" for t in [*(t.id for t in burst), *late]}
    assert len(await store.list_decisions()) == 1050
    assert await store.get_cursor("wall:x") == str(max(late))


async def test_restart_resumes_from_cursor(
    sim: XApiSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    first = sim.state.burst(250, "fest")
    await WallPipeline(WALL, store, clock, [source(store, clock, session)]).ingest_once()
    assert await store.get_cursor("wall:x") == str(first[-1].id)
    second = [sim.state.post(f"u{i}", f"later {i} #fest") for i in range(30)]
    restarted = source(store, clock, session)
    batch = await restarted.poll()
    posts = [i for i in batch.items if hasattr(i, "native_id")]
    assert [p.native_id for p in posts] == [str(t.id) for t in second]  # oldest first
    last_search = [r for r in sim.state.requests if r[1].endswith("/recent")][-1]
    assert last_search[2]["since_id"] == str(first[-1].id)


async def test_429_waits_until_reset_on_the_clock(
    sim: XApiSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    sim.state.post("anna", "hello #fest")
    sim.state.set_rate_limit("search", remaining=0, reset_in=120)
    src = source(store, clock, session)
    task = asyncio.create_task(src.poll())
    for _ in range(200):
        if clock.pending:
            break
        await asyncio.sleep(0.01)
    assert [r[3] for r in sim.state.requests] == [429]
    reset = int(sim.state.windows["search"][0] + 0.999)
    await clock.advance(100)
    # settled: back asleep on the clock (waiting for the reset) or, wrongly, finished
    await eventually(lambda: clock.pending > 0 or task.done(), what="the source settled")
    assert not task.done() and len(sim.state.requests) == 1  # no retry before the reset
    await clock.advance(21)
    batch = await asyncio.wait_for(task, 10)
    assert [i.text if isinstance(i, NormalPost) else i for i in batch.items] == ["hello #fest"]
    retry = sim.state.requests[1]
    assert retry[3] == 200 and retry[0] >= reset


async def test_deletion_and_edit_propagate(
    sim: XApiSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    a = sim.state.post("anna", "Lovely concert tonight #fest")
    b = sim.state.post("ben", "The stage lights are amazing #fest")
    c = sim.state.post("cem", "Food trucks by the river #fest")
    pipe = WallPipeline(WALL, store, clock, [source(store, clock, session)])
    await pipe.ingest_once()
    assert {p.state for p in await store.list_posts()} == {"approved"}
    sim.state.delete(a.id)
    b2 = sim.state.edit(b.id, "The stage lights are amazing, and the sound too #fest")
    await pipe.ingest_once()
    assert (await store.get_post(f"x:{a.id}")).state == "hidden"  # type: ignore[union-attr]
    assert [d.action for d in await store.list_decisions(f"x:{a.id}")][-1] == "deleted"
    assert (await store.get_post(f"x:{b.id}")).state == "hidden"  # type: ignore[union-attr]
    assert [d.action for d in await store.list_decisions(f"x:{b.id}")][-1] == "edited"
    new = await store.get_post(f"x:{b2.id}")
    assert new is not None and new.state == "approved" and "sound too" in new.text
    assert (await store.get_post(f"x:{c.id}")).state == "approved"  # type: ignore[union-attr]
    # The lookup ran for the shown ids in one batch.
    lookups = [r for r in sim.state.requests if r[1] == "/2/tweets"]
    assert lookups and set(lookups[-1][2]["ids"].split(",")) >= {str(c.id)}


async def test_hostile_posts_are_neutralised_and_rejected(
    sim: XApiSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    sim.state.hostile("fest")
    await WallPipeline(WALL, store, clock, [source(store, clock, session)]).ingest_once()
    posts = await store.list_posts()
    assert len(posts) == 3
    for p in posts:
        assert p.state == "rejected"
        assert "\u202e" not in p.text and "\u200b" not in p.text
    assert any("<script>" in p.text for p in posts)  # kept as text, never as markup
    reasons = {d.reason for d in await store.list_decisions()}
    assert all(r.startswith("blocked word") for r in reasons)


async def test_wrong_token_is_one_line_error(
    sim: XApiSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    with pytest.raises(WallError, match=r"refused the bearer token \(401\)"):
        await source(store, clock, session, token="wrong").poll()
    assert await store.get_cursor("wall:x") is None


async def test_unreachable_api_is_one_line_error(store: SQLiteStore, clock: FakeClock) -> None:
    async with mapped_session("api.twitter.com", 9, TLS) as s:  # nothing listens on port 9
        with pytest.raises(WallError, match=r"cannot reach api\.twitter\.com"):
            await source(store, clock, s).poll()


async def test_429_without_reset_header_waits_a_minute_not_at_once(
    sim: XApiSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    sim.state.set_rate_limit("search", remaining=0, reset_in=30)
    sim.state.omit_reset_header = True
    task = asyncio.create_task(source(store, clock, session).poll())
    for _ in range(200):
        if clock.pending:
            break
        await asyncio.sleep(0.01)
    await clock.advance(59)
    # settled: back asleep on the clock (waiting for the reset) or, wrongly, finished
    await eventually(lambda: clock.pending > 0 or task.done(), what="the source settled")
    assert len(sim.state.requests) == 1 and not task.done()
    await clock.advance(2)
    await asyncio.wait_for(task, 10)
    assert [r[3] for r in sim.state.requests if r[1].endswith("/recent")] == [429, 200]


async def test_links_media_and_authors_are_normalised(
    sim: XApiSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    t = sim.state.post(
        "Stadt_Presse",
        "Programm & Pläne: https://www.stadt.example/fest?tag=2 #fest",
        lang="de",
        media=[("photo", "https://pbs.example/media/a.jpg", "Bühne bei Nacht")],
        name="Stadt <Presse>",
    )
    batch = await source(store, clock, session).poll()
    (post,) = batch.items
    assert isinstance(post, NormalPost)
    assert post.id == f"x:{t.id}" and post.author == "x:stadt_presse"
    assert post.author_name == "Stadt <Presse>"
    assert post.text == "Programm & Pläne: www.stadt.example/fest?tag=2 #fest"
    assert [link.url for link in post.links] == ["https://www.stadt.example/fest?tag=2"]
    assert [(m.kind, m.url, m.description) for m in post.media] == [
        ("photo", "https://pbs.example/media/a.jpg", "Bühne bei Nacht")
    ]
    assert post.lang == "de" and post.created_at == clock.now().replace(microsecond=0)
    assert post.raw_url == f"https://x.com/stadt_presse/status/{t.id}"


async def test_bearer_token_never_reaches_the_log(
    sim: XApiSimulator,
    session: aiohttp.ClientSession,
    store: SQLiteStore,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim.state.post("anna", "hello #fest")
    with caplog.at_level(logging.DEBUG):
        await source(store, clock, session).poll()
    assert "Making API request" in caplog.text  # tweepy did log the request ...
    assert "test-bearer" not in caplog.text  # ... without the token
