"""Eight moderators racing through the HTTP API (issue 19): a clear 409, never an illegal state.

The store-level races are in ``tests/unit/test_wall_tx.py``; here the same
rules hold end to end: eight comms clients decide and undo at random on the
same six posts through the engine's server, concurrently. Every answer is a
201 (done) or a 409 naming the post's state (refused: someone was faster);
never a 5xx. Afterwards each post's whole history is replayed against the
rules (:func:`~tests.unit.test_wall_tx.check_wall`): every decision was legal
from the state it found, nothing was undone twice, each has its audit entry.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from tests.unit.test_wall_tx import check_wall

from .conftest import Rig

POSTS = tuple(f"race-{i}" for i in range(6))
ACTIONS = ("approve", "reject", "pin", "unpin", "take_down", "undo")
WEIGHTS = (4, 2, 3, 2, 2, 5)
ROUNDS = 30


async def test_eight_moderators_over_http_get_201_or_409_and_never_break_the_rules(
    rig: Rig,
) -> None:
    for p in POSTS:
        await rig.add_post(p)
    answers: Counter[int] = Counter()
    refusals: list[str] = []

    async def moderator(n: int) -> None:
        rng = random.Random(n)
        for _ in range(ROUNDS):
            post = rng.choice(POSTS)
            (action,) = rng.choices(ACTIONS, WEIGHTS)
            if action == "undo":
                a = await rig.call("GET", f"/api/v1/wall/decisions?post={post}", "comms")
                assert a.status == 200
                target = rng.choice(a.json()[-3:])
                a = await rig.call(
                    "POST", f"/api/v1/wall/decisions/{target['id']}/undo", "comms", {}
                )
            else:
                a = await rig.call(
                    "POST", f"/api/v1/wall/posts/{post}/decisions", "comms", {"action": action}
                )
            answers[a.status] += 1
            if a.status == 409:
                err = a.json()["error"]
                assert err["code"] == "conflict", err
                refusals.append(err["message"])

    await asyncio.gather(*(moderator(n) for n in range(8)))
    assert set(answers) <= {201, 409}, answers
    assert answers[201] > 20 and answers[409] > 20, answers
    assert all(m for m in refusals)  # each refusal says why
    done = await check_wall(rig.store)
    assert done["undo"] > 3 and done["approve"] > 3, done
