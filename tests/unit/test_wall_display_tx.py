"""Announcements, pause, source deletions and erasure: each one write, checked in it.

Two hubs on one store stand for two engines (or a restarted one whose memory
is stale): what is allowed follows the store, not a hub's memory, and two
people acting at once produce one change and one audit entry.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from eventops.clock import FakeClock
from eventops.errors import Conflict
from eventops.profile import load_profile
from eventops.profile.models import Profile, Wall
from eventops.store.base import Store
from eventops.wall.display import WallHub
from eventops.wall.media import MediaCache
from eventops.wall.normalize import Deletion
from eventops.wall.retention import forget
from eventops.wall.service import WallPipeline
from tests.helpers.pgfixtures import StoreMaker
from tests.helpers.wall_child import POSTS, seed_posts

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def profile() -> Profile:
    return load_profile(REPO / "profiles" / "demo.toml")


@pytest.fixture
async def store(make_store: StoreMaker) -> AsyncIterator[Store]:
    async with make_store() as s:
        yield s


async def _hubs(profile: Profile, store: Store, n: int) -> list[WallHub]:
    hubs = [WallHub(profile, store, FakeClock()) for _ in range(n)]
    for hub in hubs:
        await hub.start(poll=False)
    return hubs


async def _actions(store: Store) -> list[str]:
    return [e.action for e in await store.audit_entries()]


async def test_withdraw_follows_the_store_and_happens_once(profile: Profile, store: Store) -> None:
    a, b = await _hubs(profile, store, 2)
    await a.issue("storm", "polizei")
    assert b.announcement is None  # b's memory is stale ...
    results = await asyncio.gather(
        a.withdraw("comms"), b.withdraw("feuerwehr"), return_exceptions=True
    )
    # ... yet exactly one of the two withdraws it, the other is told it is gone.
    done = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(done) == 1 and done[0]["id"] == "storm" and len(refused) == 1
    assert "no announcement is on the screens" in str(refused[0])
    assert a.announcement is None and b.announcement is None
    assert await _actions(store) == ["wall.announcement.issue", "wall.announcement.withdraw"]
    assert await store.get_cursor("wall.announcement") == ""
    assert await store.verify_audit() == 2


async def test_issue_records_what_it_replaced_as_stored(profile: Profile, store: Store) -> None:
    a, b = await _hubs(profile, store, 2)
    await a.issue("storm", "polizei")
    await b.issue("evacuate-square", "polizei")  # b never saw "storm" in memory
    entries = await store.audit_entries()
    assert entries[-1].before == {"id": "storm"} and entries[-1].after == {"id": "evacuate-square"}


async def test_concurrent_pause_is_one_change(profile: Profile, store: Store) -> None:
    hubs = await _hubs(profile, store, 4)
    await asyncio.gather(*(h.set_paused(True, f"comms{i}") for i, h in enumerate(hubs)))
    await asyncio.gather(*(h.set_paused(False, f"comms{i}") for i, h in enumerate(hubs)))
    assert await _actions(store) == ["wall.pause", "wall.resume"]
    assert await store.get_cursor("wall.paused") == ""


async def test_a_source_deletion_is_one_write(store: Store) -> None:
    await seed_posts(store)
    pipe = WallPipeline(Wall(), store, FakeClock())
    await pipe.handle(Deletion(id=POSTS[0], source="x"))
    row = await store.get_post(POSTS[0])
    assert row is not None and (row.state, row.pinned, row.data.get("deleted")) == (
        "hidden",
        False,
        True,
    )
    assert [d.action for d in await store.list_decisions(POSTS[0])] == ["queue", "deleted"]
    await pipe.handle(Deletion(id=POSTS[0], source="x"))  # a repeat changes nothing
    assert len(await store.list_decisions(POSTS[0])) == 2


class _BrokenDisk(MediaCache):
    async def forget(self, urls: Iterable[str]) -> int:
        raise OSError(5, "Input/output error")


async def test_forget_is_all_or_nothing(tmp_path: Path, store: Store) -> None:
    """If the pictures cannot be deleted, the posts stay and nothing is audited: run it again."""
    await seed_posts(store)
    broken = _BrokenDisk(tmp_path / "media", frozenset())
    with pytest.raises(OSError):
        await forget(store, broken, "x:anna", "datenschutz", "req 7")
    assert len(await store.posts_by_author("x:anna")) == 2
    assert await store.audit_entries() == []
    res = await forget(store, MediaCache(tmp_path / "media", frozenset()), "x:anna", "ds", "r")
    assert res["posts"] == 2 and await store.posts_by_author("x:anna") == []
    assert await _actions(store) == ["wall.forget"]
