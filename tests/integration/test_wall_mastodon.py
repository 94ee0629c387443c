"""The Mastodon source against the Mastodon simulator: paging, rate limits, streaming."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from eventops_hardware.mastodon_api import MastodonSimulator

from eventops.clock import FakeClock
from eventops.errors import WallError
from eventops.profile.models import Wall
from eventops.store import SQLiteStore
from eventops.wall.service import WallPipeline
from eventops.wall.sources.mastodon import MastodonSource
from tests.helpers.wait import eventually

WALL = Wall(hashtags=["fest"], moderation="post", max_posts_per_author_per_hour=1000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def sim(clock: FakeClock) -> AsyncIterator[MastodonSimulator]:
    async with MastodonSimulator(clock) as s:
        yield s


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "wall.sqlite3") as s:
        yield s


def source(
    sim: MastodonSimulator,
    store: SQLiteStore,
    clock: FakeClock,
    session: aiohttp.ClientSession,
    *,
    token: str | None = "test-token",
    stream: bool = False,
) -> MastodonSource:
    return MastodonSource(
        sim.url,
        ["fest"],
        store,
        clock,
        token=token,
        stream=stream,
        session=session,
        name="mastodon:social.example",
    )


async def test_burst_across_pages_loses_none_and_duplicates_none(
    sim: MastodonSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    first = sim.state.post("anna", "Guten Abend #fest")
    src = source(sim, store, clock, session)
    pipe = WallPipeline(WALL, store, clock, [src])
    await pipe.ingest_once()
    assert await store.get_cursor("wall:mastodon:social.example") == str(first.id)
    burst = sim.state.burst(1000, "fest")
    await pipe.ingest_once()
    timeline = [r for r in sim.state.requests if "/timelines/tag/" in r[1]]
    assert len(timeline) == 1 + 25  # 40 a page
    stored = {p.id for p in await store.list_posts(limit=5000)}
    assert stored == {f"mastodon:social.example:{s.id}" for s in [first, *burst]}
    assert len(await store.list_decisions()) == 1001
    await pipe.ingest_once()  # nothing new: no repeats
    assert len(await store.list_decisions()) == 1001
    assert await store.get_cursor("wall:mastodon:social.example") == str(burst[-1].id)


async def test_restart_resumes_from_cursor(
    sim: MastodonSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    sim.state.burst(50, "fest")
    await WallPipeline(WALL, store, clock, [source(sim, store, clock, session)]).ingest_once()
    later = [sim.state.post(f"u{i}", f"Später {i} #fest") for i in range(45)]
    batch = await source(sim, store, clock, session).poll()
    assert [i.id for i in batch.items] == [f"mastodon:social.example:{s.id}" for s in later]
    assert batch.cursor == str(later[-1].id)


async def test_429_waits_until_iso_reset(
    sim: MastodonSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    sim.state.post("anna", "Hallo #fest")
    sim.state.set_rate_limit(remaining=0, reset_in=90)
    task = asyncio.create_task(source(sim, store, clock, session).poll())
    await eventually(lambda: clock.pending > 0, what="the source waits on the clock")
    assert [r[3] for r in sim.state.requests] == [429]
    await clock.advance(80)
    # settled: back asleep on the clock (waiting for the reset) or, wrongly, finished
    await eventually(lambda: clock.pending > 0 or task.done(), what="the source settled")
    assert not task.done() and len(sim.state.requests) == 1
    await clock.advance(11)
    batch = await asyncio.wait_for(task, 10)
    assert len(batch.items) == 1
    assert (
        sim.state.requests[1][3] == 200
        and sim.state.requests[1][0] >= sim.state.requests[0][0] + 90
    )


async def test_recheck_hides_deleted_posts_without_stream(
    sim: MastodonSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    a = sim.state.post("anna", "Das Feuerwerk war großartig #fest")
    b = sim.state.post("ben", "Die Band spielt noch bis Mitternacht #fest")
    pipe = WallPipeline(WALL, store, clock, [source(sim, store, clock, session)])
    await pipe.ingest_once()
    sim.state.delete(a.id)
    await pipe.ingest_once()
    assert (await store.get_post(f"mastodon:social.example:{a.id}")).state == "hidden"  # type: ignore[union-attr]
    assert (await store.get_post(f"mastodon:social.example:{b.id}")).state == "approved"  # type: ignore[union-attr]


async def test_stream_delivers_updates_deletions_and_edits(
    sim: MastodonSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    src = source(sim, store, clock, session, stream=True)
    pipe = WallPipeline(WALL, store, clock, [src])
    runner = asyncio.create_task(pipe.run())
    try:
        await eventually(lambda: bool(sim.state.streams), what="the stream is open")
        assert "/api/v2/instance" in [r[1] for r in sim.state.requests]  # asks for the stream URL
        s = sim.state.post("anna", "Live vom Marktplatz #fest")
        pid = f"mastodon:social.example:{s.id}"

        async def state_is(want: str) -> bool:
            p = await store.get_post(pid)
            return p is not None and p.state == want

        await eventually(lambda: state_is("approved"))
        sim.state.edit(s.id, "Live vom Marktplatz, jetzt mit Feuerwerk #fest")

        async def edited() -> bool:
            return len(await store.list_decisions(pid)) == 3

        await eventually(edited)
        actions = [d.action for d in await store.list_decisions(pid)]
        assert actions == ["approve", "edited", "approve"]
        p = await store.get_post(pid)
        assert p is not None and "Feuerwerk" in p.text and p.state == "approved"
        sim.state.delete(s.id)
        await eventually(lambda: state_is("hidden"))
        assert [d.action for d in await store.list_decisions(pid)][-1] == "deleted"
    finally:
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner


async def test_hostile_html_is_reduced_to_text(
    sim: MastodonSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    sim.state.hostile("fest")
    await WallPipeline(WALL, store, clock, [source(sim, store, clock, session)]).ingest_once()
    posts = await store.list_posts()
    assert len(posts) == 2
    for p in posts:
        assert "<" not in p.text and "alert" not in p.text and "\u202e" not in p.text
        assert p.state == "rejected"
        assert all(link["url"].startswith("https://") for link in p.data["links"])


async def test_wrong_token_is_one_line_error(
    sim: MastodonSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    with pytest.raises(WallError, match=r"refused the access token \(401\)"):
        await source(sim, store, clock, session, token="nope").poll()


async def test_non_json_answer_is_one_line_error(
    store: SQLiteStore, clock: FakeClock, session: aiohttp.ClientSession
) -> None:
    from aiohttp import web

    async def maintenance(req: web.Request) -> web.Response:
        return web.Response(text="<html>maintenance</html>")

    app = web.Application()
    app.router.add_get("/{tail:.*}", maintenance)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        src = MastodonSource(f"http://127.0.0.1:{port}", ["fest"], store, clock, session=session)
        with pytest.raises(WallError, match="without JSON"):
            await src.poll()
    finally:
        await runner.cleanup()


async def test_last_request_of_a_window_makes_the_next_wait(
    sim: MastodonSimulator, session: aiohttp.ClientSession, store: SQLiteStore, clock: FakeClock
) -> None:
    sim.state.post("anna", "Hallo #fest")
    sim.state.set_rate_limit(remaining=1, reset_in=120)
    src = source(sim, store, clock, session)
    await src.poll()  # uses the window's last request
    task = asyncio.create_task(src.poll())
    await eventually(lambda: clock.pending > 0, what="the source waits on the clock")
    assert len(sim.state.requests) == 1  # waits for the reset instead of earning a 429
    await clock.advance(121)
    await asyncio.wait_for(task, 10)
    assert [r[3] for r in sim.state.requests] == [200, 200]
