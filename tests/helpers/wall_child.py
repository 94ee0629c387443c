"""Child process for the wall's kill and race tests: a moderator at work.

``python -m tests.helpers.wall_child STORE SEED COUNT USER`` makes random
decisions (approve, reject, pin, unpin, take down, block, undo) on the posts
:func:`seed_posts` stored, through :class:`ManualModeration` as the engine and
the CLI do, and prints one line per decision only after it returned (i.e.
committed): ``D <id>``; ``C`` for a decision the post's state refused.
COUNT 0: until killed.
"""

from __future__ import annotations

import asyncio
import random
import sys
from datetime import UTC, datetime

from eventops.clock import SystemClock
from eventops.errors import Conflict
from eventops.store.base import Store
from eventops.store.models import DecisionRow, PostRow
from eventops.wall.manual import ManualModeration
from tests.helpers.store_child import open_target

AUTHORS = ("x:anna", "x:ben", "x:cem")
POSTS = tuple(f"x:{i}" for i in range(6))
ACTIONS = ("approve", "reject", "pin", "unpin", "take_down", "undo", "block_author")
WEIGHTS = (4, 2, 3, 2, 2, 5, 0.3)
EPOCH = datetime(2026, 6, 18, 18, tzinfo=UTC)


async def seed_posts(store: Store) -> None:
    """Six queued posts, two by each author, each with the rule's decision."""
    await store.upsert_posts(
        [
            PostRow(id=p, source="x", author=AUTHORS[i % 3], text=f"post {i}", created_at=EPOCH)
            for i, p in enumerate(POSTS)
        ]
    )
    for p in POSTS:
        await store.decide(
            DecisionRow(post_id=p, ts=EPOCH, actor="rule:mode", action="queue"), "pending", None
        )


async def moderate(desk: ManualModeration, rng: random.Random, user: str) -> int | None:
    """One random decision; its id, or None if the post's state refused it."""
    post = rng.choice(POSTS)
    (action,) = rng.choices(ACTIONS, WEIGHTS)
    try:
        if action == "undo":
            history = await desk.store.list_decisions(post)
            target = rng.choice(history[-3:])
            assert target.id is not None
            return await desk.undo(target.id, user)
        return await desk.decide(post, action, user)
    except Conflict:  # the post's state (as the write found it) refused it
        return None


async def main(path: str, seed: int, count: int, user: str) -> None:
    rng = random.Random(seed)
    async with open_target(path) as store:
        desk = ManualModeration(store, SystemClock())
        done = 0
        while count == 0 or done < count:
            did = await moderate(desk, rng, user)
            print("C" if did is None else f"D {did}", flush=True)
            done += 1


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
