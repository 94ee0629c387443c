"""The wall under crashes and races: one transaction per decision.

Every test ends with :func:`check_wall`, which replays each post's whole
decision history against the rules, independently of the code under test:

- each decision starts from the state the previous one left (the decision and
  the post's state change were one write), and the stored post is where the
  last decision left it;
- each person's decision has exactly one audit entry, and the audit chain
  verifies;
- each action was legal from the state it found (no pin on a taken-down post,
  no reject of an approved one, never taken down and pinned), and each undo
  undid a decision that could be undone at that moment (no double undo).
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from eventops.clock import FakeClock, SystemClock
from eventops.errors import Conflict, NotFound, WallError
from eventops.store.base import Store
from eventops.store.models import DecisionRow
from eventops.wall.manual import ManualModeration, undoable
from tests.helpers.killchild import kill_mid_work
from tests.helpers.pgfixtures import StoreMaker
from tests.helpers.wall_child import POSTS, moderate, seed_posts

REPO = Path(__file__).resolve().parents[2]

# What each person's action may find and what it leaves: (from states, pinned before) → after.
LEGAL: dict[str, tuple[tuple[str, ...], bool | None]] = {
    "approve": (("pending", "rejected"), None),
    "reject": (("pending",), None),
    "pin": (("approved",), False),
    "unpin": (("approved",), True),
    "take_down": (("approved",), None),
    "hide": (("approved", "pending"), None),
}
RESULT: dict[str, tuple[str | None, bool | None]] = {
    "approve": ("approved", None),
    "reject": ("rejected", False),
    "pin": (None, True),
    "unpin": (None, False),
    "take_down": ("taken_down", False),
    "hide": ("hidden", False),
    "block_author": ("hidden", False),
}


async def check_wall(store: Store) -> Counter[str]:
    """Replay every post's history; return how many of each person's action stood."""
    entries = await store.audit_entries(limit=1_000_000)
    assert await store.verify_audit() == len(entries)
    audited: dict[int, dict[str, Any]] = {}
    for e in entries:
        if e.action.startswith("wall.") and isinstance(e.after, dict) and "decision" in e.after:
            did = e.after["decision"]
            assert did not in audited, f"decision {did} audited twice"
            assert e.action == "wall." + (await _action(store, did))
            audited[did] = e.after
    decisions = await store.list_decisions()
    ids = {d.id for d in decisions}
    assert set(audited) <= ids, f"audit entries for missing decisions {set(audited) - ids}"
    done: Counter[str] = Counter()
    for post in await store.list_posts(limit=1000):
        history = [d for d in decisions if d.post_id == post.id]
        state, pinned = "pending", False
        for i, d in enumerate(history):
            where = f"decision {d.id} ({d.action} by {d.actor} on {post.id})"
            assert (d.prev_state, d.prev_pinned) == (state, pinned), f"{where}: state chain broken"
            if d.actor.startswith(("rule:", "source:")):
                state = "pending"  # the only rule decision in these tests: queue
                continue
            assert d.id in audited, f"{where}: no audit entry"
            done[d.action] += 1
            if d.action in LEGAL:
                states, need_pin = LEGAL[d.action]
                assert state in states and need_pin in (None, pinned), f"{where} from {state}"
            if d.action == "undo":
                assert d.ref in undoable(history[:i]), f"{where}: {d.ref} was not undoable"
                target = next(t for t in history if t.id == d.ref)
                new = (target.prev_state, target.prev_pinned)
            else:
                s, p = RESULT[d.action]
                new = (s or state, pinned if p is None else p)
            assert (audited[d.id]["state"], audited[d.id]["pinned"]) == new, where
            state, pinned = new  # type: ignore[assignment]
            assert not (pinned and state != "approved"), f"{where}: {state} and pinned"
        assert (post.state, post.pinned) == (state, pinned), f"{post.id}: stored state differs"
    return done


async def _action(store: Store, did: int) -> str:
    d = await store.get_decision(did)
    assert d is not None, f"audit entry names decision {did}, which does not exist"
    return d.action


# -- undo semantics (issue 16 item 9) -----------------------------------------------------


@pytest.fixture
async def seeded(make_store: StoreMaker) -> Any:
    async with make_store() as store:
        await seed_posts(store)
        yield store


async def _state(store: Store, post_id: str) -> tuple[str, bool]:
    row = await store.get_post(post_id)
    assert row is not None
    return row.state, row.pinned


async def test_undo_walks_back_and_an_undo_can_be_undone(seeded: Store) -> None:
    desk = ManualModeration(seeded, FakeClock())
    p = POSTS[0]
    approve = await desk.decide(p, "approve", "maria")
    pin = await desk.decide(p, "pin", "maria")
    with pytest.raises(Conflict, match=rf"post {p} was decided on since \(decision {pin}: pin"):
        await desk.undo(approve, "maria")
    undo_pin = await desk.undo(pin, "maria")
    assert await _state(seeded, p) == ("approved", False)
    # The dead end of issue 16: the pin and its undo cancel out, so the approve can go.
    redo_pin = await desk.undo(undo_pin, "jonas", "doch anpinnen")
    assert await _state(seeded, p) == ("approved", True)
    with pytest.raises(Conflict, match=f"undo decision {pin} first"):
        await desk.undo(approve, "maria")
    undo_pin2 = await desk.undo(pin, "maria")  # the redo was undone: the pin is live again
    assert await _state(seeded, p) == ("approved", False)
    with pytest.raises(Conflict, match=rf"already undone \(decision {undo_pin2}\)"):
        await desk.undo(pin, "maria")
    with pytest.raises(Conflict, match="decided on since"):
        await desk.undo(redo_pin, "maria")
    undo_approve = await desk.undo(approve, "maria")
    assert await _state(seeded, p) == ("pending", False)
    await desk.undo(undo_approve, "maria")
    assert await _state(seeded, p) == ("approved", False)
    with pytest.raises(Conflict, match="only a person's"):
        await desk.undo(1, "maria")  # the rule's queue decision
    with pytest.raises(NotFound, match="decision 999: no such decision"):
        await desk.undo(999, "maria")
    assert (await check_wall(seeded))["undo"] == 5


async def test_block_undo_restores_only_posts_not_decided_on_since(seeded: Store) -> None:
    desk = ManualModeration(seeded, FakeClock())
    for p in (POSTS[0], POSTS[3]):  # both anna's
        await desk.decide(p, "approve", "maria")
    await desk.decide(POSTS[3], "pin", "maria")
    block = await desk.block_author(POSTS[0], "jonas", "Werbung")
    assert await _state(seeded, POSTS[3]) == ("hidden", False)
    assert [b.author for b in await seeded.list_author_blocks()] == ["x:anna"]
    lifted = await desk.undo(block, "maria", "Irrtum")
    assert await _state(seeded, POSTS[0]) == ("approved", False)
    assert await _state(seeded, POSTS[3]) == ("approved", True)  # pin restored too
    assert await seeded.list_author_blocks() == []
    hide = (await seeded.list_decisions(POSTS[3]))[-2]
    with pytest.raises(Conflict, match="only a person's"):
        await desk.undo(hide.id or 0, "maria")
    # the lift is undoable too: the block is back and hides the author's posts again
    again = await desk.undo(lifted, "jonas", "doch Werbung")
    assert await _state(seeded, POSTS[0]) == ("hidden", False)
    assert await _state(seeded, POSTS[3]) == ("hidden", False)
    [b] = await seeded.list_author_blocks()
    assert (b.author, b.until, b.decision_id, b.reason) == ("x:anna", None, again, "Werbung")
    # and so is that: lifted again, the pin comes back with the post
    await desk.undo(again, "maria")
    assert await _state(seeded, POSTS[3]) == ("approved", True)
    assert await seeded.list_author_blocks() == []
    await check_wall(seeded)


async def test_undoing_a_lift_restores_the_block_with_its_end(seeded: Store) -> None:
    clock = FakeClock()
    desk = ManualModeration(seeded, clock)
    await desk.decide(POSTS[0], "approve", "maria")
    until = clock.now() + timedelta(hours=2)
    block = await desk.block_author(POSTS[0], "jonas", "Spam", until=until)
    lifted = await desk.undo(block, "maria")
    redo = await desk.undo(lifted, "maria")
    [b] = await seeded.list_author_blocks()
    assert b.until == until and b.decision_id == redo  # not a block for ever
    lifted = await desk.undo(redo, "maria")
    await clock.advance(3 * 3600)
    with pytest.raises(Conflict, match=rf"decision {lifted}: the block it lifted would have ended"):
        await desk.undo(lifted, "maria")
    assert await seeded.list_author_blocks() == []  # the refusal wrote nothing
    assert await _state(seeded, POSTS[0]) == ("approved", False)
    await check_wall(seeded)


async def test_refusals_name_the_post_and_its_state(seeded: Store) -> None:
    desk = ManualModeration(seeded, FakeClock())
    p = POSTS[1]
    await desk.decide(p, "approve", "maria")
    await desk.decide(p, "pin", "maria")
    await desk.decide(p, "take_down", "jonas")
    with pytest.raises(Conflict, match=f"post {p}: cannot pin a post that is taken_down"):
        await desk.decide(p, "pin", "maria")
    await desk.decide(POSTS[2], "approve", "maria")
    await desk.decide(POSTS[2], "pin", "maria")
    with pytest.raises(Conflict, match=f"post {POSTS[2]}: cannot reject a post that is approved"):
        await desk.decide(POSTS[2], "reject", "maria")
    with pytest.raises(WallError, match="x:nope: no such post") as exc:
        await desk.decide("x:nope", "approve", "maria")
    assert isinstance(exc.value, NotFound)
    await check_wall(seeded)


async def test_expect_refuses_a_decision_made_on_a_stale_view(seeded: Store) -> None:
    """A approves what she saw pending while B rejected it: A is told, B's decision stands."""
    a, b = ManualModeration(seeded, FakeClock()), ManualModeration(seeded, FakeClock())
    seen = (await seeded.list_decisions(POSTS[5]))[-1].id
    rejected = await b.decide(POSTS[5], "reject", "jonas")
    with pytest.raises(
        Conflict,
        match=rf"post {POSTS[5]}: decided on since you looked \(decision {rejected}: reject by "
        r"jonas\); it is now rejected",
    ):
        await a.decide(POSTS[5], "approve", "maria", expect=seen)
    assert await _state(seeded, POSTS[5]) == ("rejected", False)
    await a.decide(POSTS[5], "approve", "maria", expect=rejected)
    assert await _state(seeded, POSTS[5]) == ("approved", False)
    await check_wall(seeded)


async def test_a_failed_decision_writes_nothing(seeded: Store) -> None:
    """A refusal inside the transaction leaves neither a decision nor an audit entry."""
    desk = ManualModeration(seeded, FakeClock())
    before = (len(await seeded.list_decisions()), len(await seeded.audit_entries()))
    with pytest.raises(Conflict):
        await desk.decide(POSTS[0], "pin", "maria")
    with pytest.raises(Conflict):
        await desk.undo(1, "maria")
    assert (len(await seeded.list_decisions()), len(await seeded.audit_entries())) == before


# -- crash during moderation (issue 19) ----------------------------------------------------


@pytest.mark.slow
def test_sigkill_during_moderation_leaves_no_decision_without_audit(
    make_store: StoreMaker,
) -> None:
    path = make_store.target

    async def seed() -> None:
        async with make_store() as store:
            await seed_posts(store)

    asyncio.run(seed())
    rng = random.Random(20261206)
    acked: set[int] = set()
    done: Counter[str] = Counter()
    # each round is mostly a child's start-up: fewer rounds on PostgreSQL keep the suite's time
    for round_ in range(8 if make_store.pg else 20):
        acks = kill_mid_work(
            "tests.helpers.wall_child",
            [path, str(round_), "0", "m"],
            rng,
            what="acknowledged a decision",
        )
        acked |= {int(line.split()[1]) for line in acks if line.startswith("D ")}
        done = asyncio.run(_check_after_kill(make_store, frozenset(acked)))
    assert len(acked) >= 20
    assert {"approve", "pin", "take_down", "undo"} <= set(done), done


async def _check_after_kill(make_store: StoreMaker, acked: frozenset[int]) -> Counter[str]:
    async with make_store() as store:
        assert await store.integrity_check() == "ok"
        stored = {d.id for d in await store.list_decisions()}
        assert acked <= stored, sorted(acked - stored)[:5]
        return await check_wall(store)


# -- concurrent moderators (issue 19) -------------------------------------------------------


async def _moderators(stores: Sequence[Store], rounds: int) -> Counter[str]:
    outcome: Counter[str] = Counter()

    async def moderator(n: int) -> None:
        desk = ManualModeration(stores[n % len(stores)], SystemClock())
        rng = random.Random(n)
        for _ in range(rounds):
            did = await moderate(desk, rng, f"mod{n}")
            outcome["refused" if did is None else "decided"] += 1

    async with asyncio.TaskGroup() as tg:
        for n in range(8):
            tg.create_task(moderator(n))
    return outcome


@pytest.mark.parametrize("connections", [1, 8], ids=["one-store", "eight-connections"])
async def test_eight_concurrent_moderators_never_break_the_rules(
    make_store: StoreMaker, connections: int
) -> None:
    stores = [make_store() for _ in range(connections)]
    for s in stores:
        await s.open()
    try:
        await seed_posts(stores[0])
        outcome = await _moderators(stores, 60)
        assert outcome["decided"] > 40 and outcome["refused"] > 40, outcome
        done = await check_wall(stores[0])
        assert done["undo"] > 5 and done["pin"] > 0, done
    finally:
        for s in stores:
            await s.close()


@pytest.mark.slow
def test_eight_moderator_processes_never_break_the_rules(make_store: StoreMaker) -> None:
    path = make_store.target

    async def seed() -> None:
        async with make_store() as store:
            await seed_posts(store)

    asyncio.run(seed())
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.wall_child", path, str(n), "40", f"p{n}"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    lines: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        lines += out.splitlines()
    assert len(lines) == 8 * 40
    decided = sum(1 for line in lines if line.startswith("D "))
    assert decided > 20 and len(lines) - decided > 20

    async def check() -> Counter[str]:
        async with make_store() as store:
            assert len({d.id for d in await store.list_decisions()}) >= decided
            return await check_wall(store)

    done = asyncio.run(check())
    assert done["undo"] > 3, done


async def test_decision_row_from_outside_a_transaction_is_still_readable(
    seeded: Store,
) -> None:
    """The store's plain ``decide`` (the rule chain's path) and the wall transaction agree."""
    desk = ManualModeration(seeded, FakeClock())
    did = await desk.decide(POSTS[4], "approve", "maria")
    got = await seeded.get_decision(did)
    assert isinstance(got, DecisionRow) and (got.prev_state, got.action) == ("pending", "approve")
