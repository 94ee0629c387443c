"""A link is handed over only with proof: a passing acceptance newer than the last change
to either end; forcing needs a reason, is audited and heads the report."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from eventops.clock import FakeClock
from eventops.engine import Engine
from eventops.errors import Conflict, InvalidRequest
from eventops.i18n import render_strict
from eventops.server.pages import handover_report
from eventops.store import SQLiteStore
from eventops.store.models import ApplyDeviceRow, ApplyRow, ProbeResultRow

from .factories import T0, demo_profile
from .scripted import ScriptedFleet, run_until

TZ = ZoneInfo("Europe/Berlin")


class Rig:
    def __init__(
        self, engine: Engine, clock: FakeClock, store: SQLiteStore, fleet: ScriptedFleet
    ) -> None:
        self.engine, self.clock, self.store, self.fleet = engine, clock, store, fleet

    async def to(self, t: float) -> None:
        sleepers = len(self.engine._pollers) + 3
        await run_until(self.clock, t, sleepers, lambda: self.engine._pollers.values())

    async def accept(self, passed: bool = True, *, took_s: float = 5.0) -> int:
        """An acceptance run that started ``took_s`` ago and finished now."""
        now = self.clock.now()
        return await self.engine.record_probe_result(
            ProbeResultRow(
                ts=now,
                target="fibre-police",
                kind="acceptance",
                passed=passed,
                result={
                    "started_at": (now - timedelta(seconds=took_s)).isoformat(),
                    "failed_step": None if passed else "75%",
                },
            )
        )

    async def apply(
        self, device: str, result: str = "applied", *, done: bool = True, kind: str = "apply"
    ) -> int:
        now = self.clock.now()
        row = ApplyRow(
            started_at=now - timedelta(seconds=3),
            finished_at=now if done else None,
            actor="anna",
            summary={"kind": kind, "devices": [device]},
        )
        return await self.store.record_apply(row, [ApplyDeviceRow(device=device, result=result)])


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    clock = FakeClock(T0)
    profile = demo_profile()
    fleet = ScriptedFleet(profile, clock)
    async with SQLiteStore(tmp_path / "e.sqlite3") as store:
        engine = Engine(profile, store, clock=clock, driver_factory=fleet.factory)
        await engine.start()
        try:
            r = Rig(engine, clock, store, fleet)
            await r.to(10)
            yield r
        finally:
            await engine.stop()


async def test_refused_without_any_acceptance(rig: Rig) -> None:
    with pytest.raises(Conflict, match=r"no proof \(no acceptance test of the link is recorded\)"):
        await rig.engine.handover("fibre-police", "police", "technik")
    assert await rig.store.list_handovers() == []
    assert [e.action for e in await rig.store.audit_entries()] == []


async def test_refused_when_the_latest_acceptance_failed(rig: Rig) -> None:
    await rig.accept(True)
    await rig.to(15)
    rid = await rig.accept(False)
    with pytest.raises(Conflict, match=rf"acceptance test \(#{rid}, .* CEST\) failed at step 75%"):
        await rig.engine.handover("fibre-police", "police", "technik")


async def test_refused_when_an_apply_on_an_end_is_newer_than_the_proof(rig: Rig) -> None:
    await rig.accept(True)
    await rig.to(15)
    aid = await rig.apply("mc-police")
    with pytest.raises(
        Conflict, match=rf"older than the last change: apply #{aid} changed mc-police"
    ):
        await rig.engine.handover("fibre-police", "police", "technik")
    # an apply that left the end as it was, or one on another device, does not void the proof
    await rig.to(20)
    await rig.accept(True)
    await rig.to(25)
    await rig.apply("mc-police", "unchanged")
    await rig.apply("mast-01")
    h = await rig.engine.handover("fibre-police", "police", "technik")
    assert h.record["proof"]["proven"] is True and "unproven" not in h.record


async def test_a_rollback_on_an_end_voids_the_proof(rig: Rig) -> None:
    await rig.accept(True)
    await rig.to(15)
    rid = await rig.apply("sw-core", "rolled_back", kind="rollback")
    with pytest.raises(
        Conflict, match=rf"older than the last change: rollback #{rid} changed sw-core"
    ):
        await rig.engine.handover("fibre-police", "police", "technik")


async def test_a_restart_of_an_end_after_the_test_voids_the_proof(rig: Rig) -> None:
    """A reboot counts as a change: the device rebuilt what runs from its saved config
    (or is a swapped unit), which the test did not see. Seen from the end's uptime."""
    await rig.accept(True)
    await rig.to(15)
    h = await rig.engine.handover("fibre-police", "police", "technik")  # proven so far
    assert h.record["proof"]["proven"] is True
    await rig.to(20)
    rig.fleet.boot_at["mc-police"] = rig.clock.monotonic()  # power cut at the far end
    await rig.to(40)  # polled again: it is back, with a short uptime
    with pytest.raises(Conflict, match=r"no proof \(mc-police restarted at .* CEST, after the"):
        await rig.engine.handover("fibre-police", "police", "technik")
    await rig.to(45)
    await rig.accept(True)  # a new test after the restart proves it again
    h = await rig.engine.handover("fibre-police", "police", "technik")
    assert h.record["proof"]["proven"] is True


async def test_refused_while_an_apply_on_an_end_has_not_finished(rig: Rig) -> None:
    await rig.to(15)
    aid = await rig.apply("sw-core", done=False)
    await rig.to(20)
    await rig.accept(True, took_s=1)
    with pytest.raises(Conflict, match=rf"apply #{aid} on sw-core has not finished"):
        await rig.engine.handover("fibre-police", "police", "technik")


async def test_a_run_that_began_before_the_apply_is_no_proof(rig: Rig) -> None:
    """Finished after the apply, but started before it: it did not test the new config."""
    await rig.apply("sw-core")
    await rig.to(12)
    await rig.accept(True, took_s=10)
    with pytest.raises(Conflict, match="older than the last change"):
        await rig.engine.handover("fibre-police", "police", "technik")


async def test_a_profile_reload_that_changes_the_link_voids_the_proof(rig: Rig) -> None:
    await rig.accept(True)
    await rig.to(15)
    p = rig.engine.profile
    links = [
        lk.model_copy(update={"capacity_mbps": 1000}) if lk.id == "fibre-police" else lk
        for lk in p.links
    ]
    await rig.engine.reload(p.model_copy(update={"links": links}), actor="anna")
    with pytest.raises(Conflict, match="a profile reload changed link fibre-police"):
        await rig.engine.handover("fibre-police", "police", "technik")


async def test_allowed_with_proof_and_audited_in_one_entry(rig: Rig) -> None:
    await rig.apply("sw-core")
    await rig.to(20)
    rid = await rig.accept(True)
    h = await rig.engine.handover("fibre-police", "police", "technik")
    assert h.record["proof"]["acceptance"] == rid and h.record["acceptance"]["id"] == rid
    [entry] = [e for e in await rig.store.audit_entries() if e.action == "link.handover"]
    assert entry.after == {"to": "police", "acceptance": rid, "handover": h.id}
    assert [x.id for x in await rig.store.list_handovers()] == [h.id]
    html = handover_report(h.model_dump(mode="json"), ZoneInfo("Europe/Berlin"))
    assert "UNPROVEN" not in html


async def test_forced_with_reason_says_so_first(rig: Rig) -> None:
    h = await rig.engine.handover(
        "fibre-police",
        "police",
        "technik",
        force=True,
        reason="  Einsatz \x1b[31mläuft\u202e,\n keine Zeit  ",
    )
    first = h.record["unproven"]
    assert next(iter(h.record)) == "unproven"
    assert first == (
        "HANDED OVER UNPROVEN by technik: no acceptance test of the link is recorded. "
        "Reason given: Einsatz [31mläuft, keine Zeit"
    )
    [entry] = [e for e in await rig.store.audit_entries() if e.action == "link.handover"]
    assert (
        entry.after["forced"] is True and entry.after["reason"] == "Einsatz [31mläuft, keine Zeit"
    )
    html = handover_report(h.model_dump(mode="json"), ZoneInfo("Europe/Berlin"))
    body = html.split("<body>", 1)[1].lstrip()
    assert body.startswith('<p class="unproven"><strong>HANDED OVER UNPROVEN by technik')
    # the German report says the same in German, the engine's reason included
    html = handover_report(h.model_dump(mode="json"), ZoneInfo("Europe/Berlin"), "de")
    body = html.split("<body>", 1)[1].lstrip()
    assert body.startswith(
        '<p class="unproven"><strong>OHNE NACHWEIS ÜBERGEBEN von technik: keine Abnahme der '
        "Strecke aufgezeichnet. Angegebener Grund: Einsatz [31mläuft, keine Zeit</strong>"
    )


async def test_the_reason_is_a_message_in_both_languages(rig: Rig) -> None:
    """The refusal's reason is kept as a message id too: the German report and clients
    render it in German, with the time in the event's zone."""
    await rig.accept(True)
    await rig.to(15)
    aid = await rig.apply("mc-police")
    h = await rig.engine.handover("fibre-police", "police", "technik", force=True, reason="x")
    proof = h.record["proof"]
    assert proof["problem_msg"]["msg_id"] == "proof.older"
    de = render_strict(proof["problem_msg"]["msg_id"], proof["problem_msg"]["params"], "de", TZ)
    assert re.fullmatch(
        rf"die letzte Abnahme \(Nr\. \d+, 2026-\S+ \S+ CEST\) ist älter als die letzte "
        rf"Änderung: Anwenden Nr\. {aid} hat mc-police geändert \(angewendet\) um .* CEST",
        de,
    ), de
    en = render_strict(proof["problem_msg"]["msg_id"], proof["problem_msg"]["params"], "en", TZ)
    assert en == proof["problem"]


async def test_force_needs_a_bounded_reason(rig: Rig) -> None:
    for reason in (None, "", "  \n\t "):
        with pytest.raises(InvalidRequest, match="needs a reason"):
            await rig.engine.handover(
                "fibre-police", "police", "technik", force=True, reason=reason
            )
    with pytest.raises(InvalidRequest, match="at most 500 characters"):
        await rig.engine.handover("fibre-police", "police", "technik", force=True, reason="x" * 501)
    with pytest.raises(InvalidRequest, match="with force only"):
        await rig.engine.handover("fibre-police", "police", "technik", reason="why not")
    assert await rig.store.list_handovers() == []
