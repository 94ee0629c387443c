"""Acks, silences and apply records under crashes and races: one transaction per change.

Every test ends with :func:`check_ops`, which matches rows and audit entries
independently of the code under test: each acknowledged alert has exactly one
``alert.ack`` entry (and no other alert has one), each silence one
``alert.silence`` and — exactly when it is removed — one ``alert.unsilence``,
each apply one start entry and — exactly when it is closed — one closing entry;
and the audit chain verifies.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from eventops.errors import Conflict
from eventops.monitor.alerts import AlertManager, Condition
from eventops.profile.models import AlertTolerances
from eventops.store.base import Store
from tests.helpers.killchild import kill_mid_work
from tests.helpers.ops_child import EPOCH
from tests.helpers.pgfixtures import StoreMaker


async def check_ops(store: Store, make_store: StoreMaker) -> Counter[str]:
    """The invariants in the module doc; how many of each audited change there are."""
    audit = await store.audit_entries(limit=1_000_000)
    assert await store.verify_audit() == len(audit)
    seen: Counter[tuple[str, str]] = Counter()
    for e in audit:
        target = e.target
        if e.action.startswith("provision."):
            target = str(e.after["apply_id"])
        seen[(e.action, target)] += 1
    for (action, target), n in seen.items():
        assert n == 1, f"{n} audit entries {action} {target}"
    acked = {str(a.id) for a in await store.list_alerts() if a.acked_by is not None}
    assert {t for a, t in seen if a == "alert.ack"} == acked
    silences = await make_store.fetch(
        "SELECT id, removed_at FROM silences",
        "SELECT id, removed_at FROM silences WHERE event_id=$1",
    )
    assert {t for a, t in seen if a == "alert.silence"} == {str(i) for i, _ in silences}
    removed = {str(i) for i, gone in silences if gone is not None}
    assert {t for a, t in seen if a == "alert.unsilence"} == removed
    applies = await store.list_applies(limit=1_000_000)
    assert {t for a, t in seen if a == "provision.apply.start"} == {str(r.id) for r in applies}
    closed = {str(r.id) for r in applies if r.finished_at is not None}
    assert {t for a, t in seen if a in ("provision.apply", "provision.apply.interrupted")} == (
        closed
    )
    for r in applies:
        assert (r.finished_at is None) == (r.summary["state"] == "running"), r
    return Counter(a for a, _ in seen)


# -- crash mid-change -------------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_mid_change_leaves_no_row_without_its_audit_entry(
    make_store: StoreMaker, tmp_path: Path
) -> None:
    rng = random.Random(20261206)
    committed: set[str] = set()
    done: Counter[str] = Counter()
    # each round is mostly a child's start-up; PostgreSQL repeats the SQLite rounds' kinds of
    # kill points in fewer rounds to keep the suite's time
    for round_ in range(8 if make_store.pg else 20):
        lines = kill_mid_work(
            "tests.helpers.ops_child",
            [make_store.target, str(tmp_path / "locks"), str(round_), "0", "technik"],
            rng,
            what="reported a change",
        )
        committed |= {line for line in lines if line != "C"}
        done = asyncio.run(_check_after_kill(make_store, frozenset(committed)))
    assert len(committed) >= 20
    assert {"alert.ack", "alert.silence", "alert.unsilence", "provision.apply"} <= set(done), done


async def _check_after_kill(make_store: StoreMaker, committed: frozenset[str]) -> Counter[str]:
    async with make_store() as store:
        assert await store.integrity_check() == "ok"
        audit = await store.audit_entries(limit=1_000_000)
        names = {
            "ack": "alert.ack",
            "silence": "alert.silence",
            "unsilence": "alert.unsilence",
            "apply": "provision.apply",
        }
        have = {
            (e.action, str(e.after["apply_id"]) if e.action == "provision.apply" else e.target)
            for e in audit
        }
        for line in committed:  # what a child was told committed is there
            kind, ident = line.split()
            assert (names[kind], ident) in have, line
        return await check_ops(store, make_store)


# -- races ------------------------------------------------------------------------------------


@pytest.mark.parametrize("connections", [1, 8], ids=["one-store", "eight-connections"])
async def test_eight_technicians_ack_one_alert_and_remove_one_silence_once(
    make_store: StoreMaker, connections: int
) -> None:
    stores = [make_store() for _ in range(connections)]
    for s in stores:
        await s.open()
    try:
        managers = [AlertManager(stores[n % connections], AlertTolerances()) for n in range(8)]
        cond = Condition("link:l1:down", "critical", "l1", "l1 down")
        await managers[0].evaluate("l1", [cond], EPOCH)
        (alert,) = await stores[0].list_alerts()
        assert alert.id is not None
        until = EPOCH + timedelta(hours=1)
        sil = await managers[0].add_silence({"link": "l1"}, until, "anna", "splicing", EPOCH)
        for am in managers[1:]:  # every technician's engine sees the alert and the silence
            await am.load(EPOCH)
        assert all([a.id for a in am.open_alerts()] == [alert.id] for am in managers)
        assert all([s.id for s in am.silences] == [sil.id] for am in managers)

        acks = await asyncio.gather(
            *(am.ack(alert.id, f"tech{n}", "mine") for n, am in enumerate(managers)),
            return_exceptions=True,
        )
        removals = await asyncio.gather(
            *(am.remove_silence(sil.id, f"tech{n}", EPOCH) for n, am in enumerate(managers)),
            return_exceptions=True,
        )

        won = [a for a in acks if not isinstance(a, BaseException)]
        lost = [a for a in acks if isinstance(a, Conflict)]
        assert len(won) == 1 and len(lost) == 7, acks
        winner = won[0].acked_by
        assert all(f"alert {alert.id} was already acknowledged by {winner}" in str(e) for e in lost)
        (stored,) = await stores[0].list_alerts()
        assert stored.acked_by == winner  # nobody overwrote the first ack

        gone = [r for r in removals if not isinstance(r, BaseException)]
        refused = [r for r in removals if isinstance(r, Conflict)]
        assert len(gone) == 1 and len(refused) == 7, removals
        assert all(f"silence #{sil.id} was already removed by tech" in str(e) for e in refused)
        assert all(am.silences == [] for am in managers)  # every engine follows the store
        assert await stores[0].list_silences() == []

        done = await check_ops(stores[0], make_store)
        assert done == Counter({"alert.ack": 1, "alert.silence": 1, "alert.unsilence": 1})
    finally:
        for s in stores:
            await s.close()


async def test_a_refused_change_writes_nothing(make_store: StoreMaker) -> None:
    async with make_store() as store:
        am = AlertManager(store, AlertTolerances())
        sil = await am.add_silence({"link": "l1"}, EPOCH, "anna", "", EPOCH - timedelta(hours=1))
        before = len(await store.audit_entries())

        with pytest.raises(Exception, match="no silence #"):  # expired: nothing to remove
            await am.remove_silence(sil.id, "ben", EPOCH)
        with pytest.raises(Exception, match="alert 42 is not open"):
            await am.ack(42, "ben", "")
        assert len(await store.audit_entries()) == before
        await check_ops(store, make_store)
