"""The running engine's audit checkpoints leave the machine: in the handover answer and the
printable report the authority takes away, on /metrics and in the alert webhook body.
``audit verify --checkpoint <that report>`` then catches every tamper case."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from eventops.cli import main
from eventops.clock import FakeClock
from eventops.engine import Engine
from eventops.monitor.alertmanager import alertmanager_payload
from eventops.server.app import create_app
from eventops.store import SQLiteStore, audit_key
from eventops.store.audit import read_checkpoint
from tests.security.test_audit_tamper import CASES, DEMO, ENTRIES, _state, _tamper
from tests.unit.monitor.factories import T0, demo_profile
from tests.unit.monitor.scripted import ScriptedFleet, run_until

TECH = {"Authorization": "Bearer demo-technician-token"}
POLICE = {"Authorization": "Bearer demo-police-token"}


@dataclass
class Keyed:
    db: Path
    engine: Engine
    store: SQLiteStore
    client: TestClient[web.Request, web.Application]


@pytest.fixture
async def keyed(tmp_path: Path) -> AsyncIterator[Keyed]:
    clock = FakeClock(T0)
    profile = demo_profile()
    profile = profile.model_copy(
        update={"alerts": profile.alerts.model_copy(update={"webhook_url": "http://127.0.0.1:9/x"})}
    )
    key = audit_key(profile)
    assert key is not None
    fleet = ScriptedFleet(profile, clock)
    db = tmp_path / "store" / "demo.sqlite3"
    db.parent.mkdir()
    async with SQLiteStore(db, now=clock.now, audit_key=key) as store:
        engine = Engine(profile, store, clock=clock, driver_factory=fleet.factory)
        assert engine.checkpoints is not None  # the store keys its chain: the engine signs
        await engine.start()
        try:
            await run_until(clock, 10, len(engine._pollers) + 4, lambda: engine._pollers.values())
            async with TestClient(TestServer(create_app(engine))) as client:
                yield Keyed(db, engine, store, client)
        finally:
            await engine.stop()


async def _handover_report(k: Keyed, out: Path) -> tuple[dict[str, object], Path, Path]:
    for i in range(ENTRIES):  # an event's worth of audited work before the handover
        async with k.client.post(
            "/api/v1/devices/mast-03/maintenance",
            headers=TECH,
            json={"on": i % 2 == 0, "note": f"step {i}"},
        ) as r:
            assert r.status == 200, await r.text()
    async with k.client.post(
        "/api/v1/links/fibre-police/handover",
        headers=TECH,
        json={"to": "police", "force": True, "reason": "proof follows"},
    ) as r:
        assert r.status == 201, await r.text()
        answer = await r.json()
    cp = answer["audit_checkpoint"]
    seq, head = await k.store.audit_head()
    assert (cp["seq"], cp["head"]) == (
        seq,
        head,
    ) and seq > ENTRIES  # the head right after the handover
    # the authority takes the printable report away; and the JSON answer
    async with k.client.get(f"/api/v1/handovers/{answer['id']}/report", headers=POLICE) as r:
        assert r.status == 200
        page = await r.text()
    report, saved = out / "handover.html", out / "handover.json"
    report.write_text(page, encoding="utf-8")
    saved.write_text(json.dumps(answer), encoding="utf-8")
    return cp, report, saved


async def test_handover_report_metrics_and_webhook_carry_the_head(
    keyed: Keyed, tmp_path: Path
) -> None:
    cp, report, saved = await _handover_report(keyed, tmp_path)
    from_report = await asyncio.to_thread(read_checkpoint, report)
    assert from_report.seq == cp["seq"] and from_report.head == cp["head"]
    assert (await asyncio.to_thread(read_checkpoint, saved)).seq == cp["seq"]
    # /metrics: the head's sequence number and the newest checkpoint
    seq, _ = await keyed.store.audit_head()
    for who in (TECH, POLICE):
        async with keyed.client.get("/metrics", headers=who) as r:
            text = await r.text()
        assert f"eventops_audit_head_seq {float(seq)}" in text, text[-800:]
        assert "eventops_audit_checkpoint_seq{" in text
    # the webhook body carries the newest checkpoint as common annotations
    webhook = keyed.engine.webhook
    assert webhook is not None and webhook.annotations is not None
    body = alertmanager_payload([], annotations=webhook.annotations())
    carried = json.loads(body["commonAnnotations"]["eventops_audit_checkpoint"])
    assert keyed.engine.checkpoints is not None
    assert carried == keyed.engine.checkpoints.latest
    assert int(body["commonAnnotations"]["eventops_audit_seq"]) >= int(cp["seq"])


@pytest.mark.parametrize("case", sorted(CASES))
async def test_verify_with_a_real_handover_report_catches_tampering(
    keyed: Keyed, tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, report, _ = await _handover_report(keyed, tmp_path)
    db = keyed.db
    await keyed.engine.stop()
    await keyed.store.close()
    args = ["audit", "verify", str(DEMO), "--db", str(db), "--checkpoint", str(report)]
    assert await asyncio.to_thread(main, args) == 0, capsys.readouterr().err
    capsys.readouterr()
    tamper, exit_code, _ = CASES[case]
    await asyncio.to_thread(_tamper, db, tamper)
    before = await asyncio.to_thread(_state, db)
    code = await asyncio.to_thread(main, args)
    err = capsys.readouterr().err
    assert code == exit_code, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert await asyncio.to_thread(_state, db) == before  # verify changed nothing


async def test_verify_with_a_real_handover_report_catches_an_emptied_file(
    keyed: Keyed, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sixth case: the store file cut to nothing. One line, its own exit code, and the
    file stays empty (no schema written into it)."""
    _, report, _ = await _handover_report(keyed, tmp_path)
    db = keyed.db
    await keyed.engine.stop()
    await keyed.store.close()
    args = ["audit", "verify", str(DEMO), "--db", str(db), "--checkpoint", str(report)]
    assert await asyncio.to_thread(main, args) == 0, capsys.readouterr().err
    capsys.readouterr()
    db.write_bytes(b"")
    before = await asyncio.to_thread(_state, db)
    assert await asyncio.to_thread(main, args) == 10
    err = capsys.readouterr().err
    assert err.strip() == f"eventops: error: {db}: empty file, not an event store", err
    assert await asyncio.to_thread(_state, db) == before and db.stat().st_size == 0


async def test_the_running_engine_signs_its_head_at_intervals(keyed: Keyed) -> None:
    cps = keyed.engine.checkpoints
    assert cps is not None and cps.latest is not None  # signed as the engine started
    first = cps.latest
    assert first["seq"] == (await keyed.store.audit_head())[0]
    async with keyed.client.post(
        "/api/v1/devices/mast-03/maintenance", headers=TECH, json={"on": True}
    ) as r:
        assert r.status == 200
    seq, _ = await keyed.store.audit_head()
    assert seq > first["seq"] and cps.latest == first  # not yet: the interval has not passed
    clock = keyed.engine.clock
    assert isinstance(clock, FakeClock)
    await run_until(
        clock,
        clock.monotonic() + cps.interval_s + 1,
        len(keyed.engine._pollers) + 4,
        lambda: keyed.engine._pollers.values(),
        step=30.0,
    )
    latest = cps.latest
    assert latest is not None and latest["seq"] >= seq and latest["seq"] > first["seq"]
