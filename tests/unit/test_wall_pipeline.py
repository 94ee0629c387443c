"""Pipeline, replay source and manual decisions against a real SQLite store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from eventops.clock import FakeClock
from eventops.errors import WallError
from eventops.profile.models import Wall
from eventops.store import SQLiteStore
from eventops.wall.manual import ManualModeration
from eventops.wall.normalize import Deletion, NormalPost
from eventops.wall.service import WallPipeline
from eventops.wall.sources.replay import ReplaySource, load_replay
from tests.helpers.wait import eventually

WALL = Wall(hashtags=["fest"], moderation="post", languages=["de", "en"])


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(tmp_path: Path, clock: FakeClock) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "wall.sqlite3", now=clock.now) as s:
        yield s


def feed(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    p = tmp_path / "feed.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return p


RECORDS: list[dict[str, Any]] = [
    {
        "at": 0,
        "id": "a",
        "author": "anna",
        "author_name": "Anna",
        "text": "Was für ein schöner Abend auf dem Fest heute",
        "lang": "de",
    },
    {
        "at": 0,
        "id": "b",
        "author": "ben",
        "html": "<p>Great <b>band</b> at the <a href='https://fest.example/'>fest</a><script>x()</script></p>",
        "lang": "en",
    },
    {
        "at": 5,
        "id": "c",
        "author": "troll",
        "text": "Ihr seid alle H.U.R.E.N.S.Ö.H.N.E",
        "lang": "de",
    },
    {
        "at": 10,
        "id": "a2",
        "edit_of": "a",
        "author": "anna",
        "text": "Was für ein schöner Abend auf dem Fest heute, danke an alle Helfer",
        "lang": "de",
    },
    {"at": 12, "delete": "b"},
]


async def test_replay_plays_on_the_clock_and_edits_and_deletions_propagate(
    tmp_path: Path, store: SQLiteStore, clock: FakeClock
) -> None:
    src = ReplaySource(feed(tmp_path, RECORDS), store, clock, loop=False)
    pipe = WallPipeline(WALL, store, clock, [src])
    runner = asyncio.create_task(pipe.run())

    async def current() -> dict[str, str]:
        return {p.id: p.state for p in await store.list_posts()}

    first = {"replay:a": "approved", "replay:b": "approved"}
    await eventually(lambda: _eq(current(), first), what=f"the posts at 0 s: {first}")
    b = await store.get_post("replay:b")
    assert b is not None and b.text == "Great band at the fest"
    assert b.data["links"] == [{"url": "https://fest.example/", "domain": "fest.example"}]
    await clock.advance(5)
    await eventually(lambda: _eq(current(), {**first, "replay:c": "rejected"}), what="c rejected")
    assert [d.reason for d in await store.list_decisions("replay:c")] == [
        "blocked word '*hurensohn*'"
    ]
    await clock.advance(7)
    await asyncio.wait_for(runner, 5)
    states = {p.id: p.state for p in await store.list_posts()}
    assert states == {
        "replay:a": "hidden",
        "replay:a2": "approved",
        "replay:b": "hidden",
        "replay:c": "rejected",
    }
    assert [d.action for d in await store.list_decisions("replay:a")] == ["approve", "edited"]
    assert [d.action for d in await store.list_decisions("replay:b")] == ["approve", "deleted"]
    assert await store.get_cursor("wall:replay") == "1:5"


async def test_replay_restart_resumes_without_gaps_or_repeats(
    tmp_path: Path, store: SQLiteStore, clock: FakeClock
) -> None:
    path = feed(tmp_path, RECORDS)
    first = ReplaySource(path, store, clock, loop=False)
    it = aiter(first)
    got = [await anext(it), await anext(it)]  # the two records at 0 s
    assert [x.id for x in got] == ["replay:a", "replay:b"]
    task = asyncio.ensure_future(anext(it))  # asks for more: the first batch is handled
    await eventually(lambda: clock.pending > 0, what="the source waits for 5 s on the clock")
    await clock.advance(5)
    third = await task
    assert third.id == "replay:c"
    assert isinstance(it, AsyncGenerator)  # ReplaySource.__aiter__ is an async generator
    await it.aclose()  # "crash" after handing out c but before it was handled
    assert await store.get_cursor("wall:replay") == "1:2"
    second = ReplaySource(path, store, clock, loop=False)
    rest = [x async for x in _drain(second, clock)]
    assert [x.id for x in rest] == ["replay:c", "replay:a2", "replay:b"]


async def _drain(src: ReplaySource, clock: FakeClock) -> AsyncIterator[NormalPost | Deletion]:
    it = aiter(src)
    while True:
        task = asyncio.ensure_future(anext(it))
        while not task.done():
            await clock.advance(1)
            await asyncio.sleep(0)
        try:
            yield task.result()
        except StopAsyncIteration:
            return


async def test_looping_replay_gives_new_ids(
    tmp_path: Path, store: SQLiteStore, clock: FakeClock
) -> None:
    src = ReplaySource(feed(tmp_path, RECORDS[:1]), store, clock, loop=True)
    assert [x.id for x in (await src.poll()).items] == ["replay:a"]
    assert [x.id for x in (await src.poll()).items] == ["replay:a~2"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", r"feed.jsonl:2: not JSON"),
        (
            '{"at": 1, "id": "x", "author": "a"}',
            r"feed.jsonl:2: a post needs exactly one of 'text' or 'html'",
        ),
        (
            '{"at": 1, "id": "x", "author": "a", "text": "t", "colour": 1}',
            r"feed.jsonl:2: colour: Extra inputs",
        ),
        (
            '{"at": -1, "delete": "x"}',
            r"feed.jsonl:2: at: Input should be greater than or equal to 0",
        ),
        (
            '{"at": 0, "delete": "x", "id": "y", "text": "t", "author": "a"}',
            r"exactly one of 'id' or 'delete'",
        ),
    ],
)
def test_bad_replay_lines_are_named(tmp_path: Path, line: str, message: str) -> None:
    p = tmp_path / "feed.jsonl"
    p.write_text(
        '{"at": 0, "id": "ok", "author": "a", "text": "fine"}\n' + line + "\n", encoding="utf-8"
    )
    with pytest.raises(WallError, match=message):
        load_replay(p)


def test_missing_replay_file(tmp_path: Path) -> None:
    with pytest.raises(WallError, match=r"nothing.jsonl: cannot read replay feed"):
        load_replay(tmp_path / "nothing.jsonl")


async def _ingest(
    tmp_path: Path, store: SQLiteStore, clock: FakeClock, wall: Wall, records: list[dict[str, Any]]
) -> WallPipeline:
    pipe = WallPipeline(
        wall, store, clock, [ReplaySource(feed(tmp_path, records), store, clock, loop=False)]
    )
    await pipe.ingest_once()
    return pipe


POSTS = [
    {"at": 0, "id": str(i), "author": a, "text": t, "lang": "de"}
    for i, (a, t) in enumerate(
        [
            ("anna", "Der Umzug war heute wunderschön"),
            ("spammer", "Kauft alle meine Sachen am Stand sieben"),
            ("spammer", "Noch ein ganz anderer Beitrag von mir heute"),
            ("ben", "Die Feuerwehr hat super geholfen"),
        ]
    )
]


async def test_manual_decisions_are_audited_and_undoable(
    tmp_path: Path, store: SQLiteStore, clock: FakeClock
) -> None:
    pipe = await _ingest(tmp_path, store, clock, Wall(), POSTS)  # pre-moderation
    assert {p.state for p in await store.list_posts()} == {"pending"}
    desk = ManualModeration(store, clock, pipe.chain)
    d1 = await desk.decide("replay:0", "approve", "maria", "schönes Bild")
    await desk.decide("replay:0", "pin", "maria")
    post = await store.get_post("replay:0")
    assert post is not None and (post.state, post.pinned) == ("approved", True)
    with pytest.raises(WallError, match="decided on since"):
        await desk.undo(d1, "maria")
    d3 = await desk.decide("replay:0", "take_down", "jonas", "Bildrechte unklar")
    post = await store.get_post("replay:0")
    assert post is not None and (post.state, post.pinned) == ("taken_down", False)
    await desk.undo(d3, "maria", "Rechte geklärt")
    post = await store.get_post("replay:0")
    assert post is not None and (post.state, post.pinned) == ("approved", True)
    with pytest.raises(WallError, match="already undone"):
        await desk.undo(d3, "maria")
    with pytest.raises(WallError, match="cannot take down a post that is pending"):
        await desk.decide("replay:3", "take_down", "maria")
    with pytest.raises(WallError, match="a person's user name"):
        await desk.decide("replay:3", "approve", "rule:mode")
    with pytest.raises(WallError, match="no such post"):
        await desk.decide("replay:99", "approve", "maria")
    entries = await store.audit_entries()
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("maria", "wall.approve", "replay:0"),
        ("maria", "wall.pin", "replay:0"),
        ("jonas", "wall.take_down", "replay:0"),
        ("maria", "wall.undo", "replay:0"),
    ]
    assert entries[2].before == {"state": "approved", "pinned": True}
    assert entries[2].after["reason"] == "Bildrechte unklar"
    assert entries[2].ts == clock.now()
    assert await store.verify_audit() == 4


async def test_block_author_hides_approved_posts_expires_and_undoes(
    tmp_path: Path, store: SQLiteStore, clock: FakeClock
) -> None:
    pipe = await _ingest(tmp_path, store, clock, WALL, POSTS)  # post-moderation: all approved
    desk = ManualModeration(store, clock, pipe.chain)
    block = await desk.block_author(
        "replay:1", "maria", "Werbung", until=clock.now() + timedelta(hours=2)
    )
    states = {p.id: p.state for p in await store.list_posts()}
    assert states == {
        "replay:0": "approved",
        "replay:1": "hidden",
        "replay:2": "hidden",
        "replay:3": "approved",
    }
    # New posts from the blocked author are rejected while the block lasts ...
    v = await pipe.handle(
        _post("spam-new", "replay:spammer", "Wieder da mit neuen Angeboten", clock)
    )
    assert v is not None and v.rule == "blocked_user"
    # ... a restarted pipeline knows the block from the store ...
    fresh = WallPipeline(WALL, store, clock, [])
    await fresh.start()
    v = await fresh.handle(
        _post("spam-new2", "replay:spammer", "Und noch einmal etwas Neues", clock)
    )
    assert v is not None and v.rule == "blocked_user"
    # ... and it expires.
    await clock.advance(3 * 3600)
    v = await fresh.handle(
        _post("spam-new3", "replay:spammer", "Nach der Sperre ein neuer Text", clock)
    )
    assert v is not None and v.rule == "mode"
    await desk.undo(block, "maria", "Irrtum")
    states = {p.id: p.state for p in await store.list_posts()}
    assert states["replay:1"] == "approved" and states["replay:2"] == "approved"
    assert await store.list_author_blocks() == []


async def test_profile_blocklist_hides_already_shown_posts_at_start(
    tmp_path: Path, store: SQLiteStore, clock: FakeClock
) -> None:
    await _ingest(tmp_path, store, clock, WALL, POSTS)
    strict = Wall(moderation="post", blocked_users=["@spammer"])
    await WallPipeline(strict, store, clock, []).start()
    states = {p.id: p.state for p in await store.list_posts()}
    assert states["replay:1"] == "hidden" and states["replay:2"] == "hidden"
    assert states["replay:0"] == "approved"


async def test_repeated_delivery_is_not_moderated_twice(
    tmp_path: Path, store: SQLiteStore, clock: FakeClock
) -> None:
    pipe = WallPipeline(WALL, store, clock, [])
    p = _post("m1", "mastodon:anna@social.example", "Ein schöner Tag auf dem Fest", clock)
    assert await pipe.handle(p) is not None
    assert await pipe.handle(p) is None
    edited = p.model_copy(
        update={
            "text": "Ein schöner Tag auf dem Fest, mit Musik",
            "version": "2026-06-18T16:01:00Z",
        }
    )
    v = await pipe.handle(edited)
    assert v is not None and v.outcome == "approve"  # not a duplicate of its own old version
    assert [d.action for d in await store.list_decisions("m1")] == ["approve", "edited", "approve"]


def _post(pid: str, author: str, text: str, clock: FakeClock) -> NormalPost:
    return NormalPost(
        id=pid,
        source="t",
        native_id=pid,
        author=author,
        text=text,
        created_at=clock.now(),
        lang="de",
    )


async def test_a_post_stored_without_its_decision_is_moderated_when_seen_again(
    store: SQLiteStore, clock: FakeClock
) -> None:
    from eventops.store.models import PostRow

    p = _post(
        "half", "t:anna", "Ein Beitrag, bei dem wir mitten im Speichern stehen blieben", clock
    )
    await store.upsert_posts(
        [
            PostRow(
                id=p.id,
                source=p.source,
                author=p.author,
                text=p.text,
                created_at=p.created_at,
                data=p.data(),
            )
        ]
    )
    v = await WallPipeline(WALL, store, clock, []).handle(p)
    assert v is not None and v.outcome == "approve"
    assert [d.action for d in await store.list_decisions("half")] == ["approve"]


async def _eq(got: Awaitable[dict[str, str]], want: dict[str, str]) -> bool:
    return await got == want
