from __future__ import annotations

import asyncio

from eventops.clock import FakeClock
from eventops.profile.models import User
from eventops.tokens import match_token, new_token, token_hash


async def test_fake_clock_wakes_sleepers_in_order() -> None:
    clock = FakeClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, s: float) -> None:
        await clock.sleep(s)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper("b", 5)), asyncio.create_task(sleeper("a", 2))]
    await asyncio.sleep(0)
    await clock.advance(1)
    assert woke == []
    await clock.advance(10)
    assert woke == [("a", 2.0), ("b", 5.0)]
    assert clock.monotonic() == 11
    await asyncio.gather(*tasks)


def test_tokens_match_by_hash() -> None:
    t1, t2 = new_token(), new_token()
    assert t1 != t2 and t1.startswith("evo_")
    users = [
        User(name="a", role="technician", token_sha256=token_hash(t1)),
        User(name="b", role="comms", token_sha256=token_hash(t2)),
    ]
    assert match_token(t2, users) is users[1]
    assert match_token("evo_wrong", users) is None
