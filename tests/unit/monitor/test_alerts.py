"""Alert raise/clear timing: tolerance, hysteresis, flapping, grouping, ack, silences."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from eventops.clock import FakeClock
from eventops.errors import Conflict
from eventops.monitor.alertmanager import AlertmanagerWebhook, alertmanager_payload
from eventops.monitor.alerts import (
    AlertManager,
    Condition,
    device_conditions,
    link_conditions,
)
from eventops.monitor.checks import crit, ok, warn
from eventops.profile.models import AlertTolerances
from eventops.store import SQLiteStore
from eventops.store.models import AlertRow
from tests.helpers.wait import eventually

from .factories import T0


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "s.sqlite3") as s:
        yield s


def cond(sev: str = "critical", summary: str = "link down") -> Condition:
    return Condition("link:l1:down", sev, "l1", summary, {"link": "l1"})  # type: ignore[arg-type]


async def run_series(am: AlertManager, series: list[tuple[float, bool]]) -> list[tuple[str, float]]:
    """Feed (t, condition holds) pairs; return (event kind, t) of every alert event."""
    events: list[tuple[str, float]] = []
    now_t = [0.0]
    am.on_event = lambda kind, a: events.append((kind, now_t[0]))
    for t, holds in series:
        now_t[0] = t
        await am.evaluate("l1", [cond()] if holds else [], T0 + timedelta(seconds=t))
    return events


def every(step: float, until: float, holds: Any) -> list[tuple[float, bool]]:
    out, t = [], 0.0
    while t <= until:
        out.append((t, bool(holds(t))))
        t += step
    return out


async def test_tolerance_delays_raise(store: SQLiteStore) -> None:
    am = AlertManager(store, AlertTolerances(raise_after_s=15, clear_after_s=10))
    # condition from t=10 to t=60, polled every 5 s
    ev = await run_series(am, every(5, 100, lambda t: 10 <= t < 60))
    assert ev == [("raised", 25.0), ("cleared", 70.0)]
    rows = await store.list_alerts()
    assert len(rows) == 1 and rows[0].state == "cleared"
    assert rows[0].raised_at == T0 + timedelta(seconds=25)
    assert rows[0].cleared_at == T0 + timedelta(seconds=70)


async def test_short_blip_below_tolerance_raises_nothing(store: SQLiteStore) -> None:
    am = AlertManager(store, AlertTolerances(raise_after_s=15, clear_after_s=10))
    ev = await run_series(am, every(5, 60, lambda t: 10 <= t < 20))
    assert ev == []
    assert await store.list_alerts() == []


async def test_hysteresis_keeps_one_alert_through_a_gap(store: SQLiteStore) -> None:
    am = AlertManager(
        store, AlertTolerances(raise_after_s=0, clear_after_s=30, flap_transitions=10)
    )
    # on 0-20, off 20-40 (shorter than clear_after), on 40-50, then off for good
    ev = await run_series(am, every(5, 120, lambda t: t < 20 or 40 <= t < 50))
    assert ev == [("raised", 0.0), ("cleared", 80.0)]
    assert len(await store.list_alerts()) == 1


async def test_flapping_reported_as_flapping_then_clears(store: SQLiteStore) -> None:
    am = AlertManager(
        store,
        AlertTolerances(raise_after_s=0, clear_after_s=20, flap_transitions=4, flap_window_s=60),
    )
    # toggles every 5 s from t=0 to t=40, then stays off
    ev = await run_series(am, every(5, 120, lambda t: t <= 40 and int(t / 5) % 2 == 0))
    # transitions at 5 (off), 10 (on), 15 (off), 20 (on): the fourth marks it flapping
    assert ev == [("raised", 0.0), ("flapping", 20.0), ("cleared", 65.0)]
    rows = await store.list_alerts()
    assert [(r.state, r.cleared_at) for r in rows] == [("cleared", T0 + timedelta(seconds=65))]


async def test_flapping_below_tolerance_still_raises_as_flapping(store: SQLiteStore) -> None:
    am = AlertManager(
        store,
        AlertTolerances(raise_after_s=30, clear_after_s=20, flap_transitions=4, flap_window_s=60),
    )
    ev = await run_series(am, every(5, 30, lambda t: int(t / 5) % 2 == 0))
    assert ev[0] == ("raised", 20.0)
    assert (await store.list_alerts())[0].state == "flapping"


async def test_severity_change_updates_the_same_alert(store: SQLiteStore) -> None:
    events: list[tuple[str, AlertRow]] = []
    am = AlertManager(store, AlertTolerances(), on_event=lambda k, a: events.append((k, a)))
    await am.evaluate("l1", [cond("warning", "rx low")], T0)
    await am.evaluate("l1", [cond("critical", "rx very low")], T0 + timedelta(seconds=5))
    assert [(k, a.severity) for k, a in events] == [("raised", "warning"), ("updated", "critical")]
    rows = await store.list_alerts()
    assert [(r.severity, r.summary) for r in rows] == [("critical", "rx very low")]


async def test_ack_silence_and_maintenance(store: SQLiteStore, tmp_path: Path) -> None:
    sent: list[AlertRow] = []

    class Capture(AlertmanagerWebhook):
        def send(self, alert: AlertRow) -> None:
            sent.append(alert)

    am = AlertManager(
        store, AlertTolerances(), notifier=Capture("http://127.0.0.1:9/", FakeClock())
    )
    await am.add_silence({"link": "l2"}, T0 + timedelta(minutes=10), "technik", "splicing", T0)
    c2 = Condition("link:l2:down", "critical", "l2", "l2 down", {"link": "l2"})
    await am.evaluate("l1", [cond()], T0)
    await am.evaluate("l2", [c2], T0)
    assert [a.subject for a in sent] == ["l1"]  # l2 silenced: stored, not sent
    assert {a.subject for a in am.open_alerts()} == {"l1", "l2"}
    first = am.open_alerts()[0]
    assert first.id is not None
    acked = await am.ack(first.id, "technik", "on it")
    assert acked is not None and acked.acked_by == "technik"
    assert (await store.list_alerts())[0].ack_note == "on it"
    with pytest.raises(Conflict, match="already acknowledged by technik"):
        await am.ack(first.id, "anna", "me too")
    assert (await store.list_alerts())[0].acked_by == "technik"
    assert [(e.actor, e.action) for e in await store.audit_entries()] == [
        ("technik", "alert.silence"),
        ("technik", "alert.ack"),
    ]
    # the silence is stored: a restarted manager still holds it back
    am2 = AlertManager(store, AlertTolerances())
    await am2.load(T0 + timedelta(minutes=5))
    assert [s.matchers for s in am2.silences] == [{"link": "l2"}]
    am3 = AlertManager(store, AlertTolerances())
    await am3.load(T0 + timedelta(minutes=10))  # expired by then
    assert am3.silences == []
    # maintenance: nothing new raised for the subject
    am.set_maintenance("mast-9", True)
    cm = Condition("device:mast-9:unreachable", "critical", "mast-9", "gone")
    await am.evaluate("mast-9", [cm], T0)
    assert all(a.subject != "mast-9" for a in am.open_alerts())
    am.set_maintenance("mast-9", False)
    await am.evaluate("mast-9", [cm], T0 + timedelta(seconds=5))
    assert any(a.subject == "mast-9" for a in am.open_alerts())


async def test_open_alerts_survive_restart(store: SQLiteStore) -> None:
    am = AlertManager(store, AlertTolerances(clear_after_s=10))
    await am.evaluate("l1", [cond()], T0)
    am2 = AlertManager(store, AlertTolerances(clear_after_s=10))
    await am2.load(T0 + timedelta(seconds=30))
    assert [a.key for a in am2.open_alerts()] == ["link:l1:down"]
    await am2.evaluate("l1", [], T0 + timedelta(seconds=30))
    await am2.evaluate("l1", [], T0 + timedelta(seconds=40))
    assert am2.open_alerts() == []
    assert len(await store.list_alerts()) == 1


def test_grouping_link_down_hides_the_rest_and_masts_say_upstream() -> None:
    checks = [crit("link", "down: sw-core Ethernet1/2 is DOWN"), warn("rx_power.b", "no rx")]
    conds = link_conditions("fibre-stage", checks)
    assert [c.key for c in conds] == ["link:fibre-stage:down"]
    up = link_conditions("fibre-stage", [ok("link", "up"), warn("rx_power.b", "rx low")])
    assert [(c.key, c.severity) for c in up] == [("link:fibre-stage:rx_power.b", "warning")]
    mast = device_conditions("mast-01", reachable=False, upstream_down="fibre-stage")
    assert [(c.key, c.severity) for c in mast] == [("device:mast-01:upstream-down", "info")]
    alone = device_conditions("mast-01", reachable=False, error="connection refused")
    assert [(c.key, c.summary) for c in alone] == [
        ("device:mast-01:unreachable", "mast-01 unreachable: connection refused")
    ]


def test_alertmanager_payload_shape() -> None:
    firing = AlertRow(
        id=7,
        key="link:l1:down",
        severity="critical",
        subject="l1",
        summary="l1 down",
        raised_at=T0,
        labels={"alertname": "LinkDown", "link": "l1"},
    )
    resolved = firing.model_copy(
        update={"state": "cleared", "cleared_at": T0 + timedelta(minutes=1)}
    )
    body = alertmanager_payload([firing], external_url="http://evo:8470")
    assert body["version"] == "4" and body["status"] == "firing"
    a = body["alerts"][0]
    assert a["labels"]["alertname"] == "LinkDown" and a["labels"]["severity"] == "critical"
    assert a["startsAt"] == "2026-06-18T16:00:00.000Z" and a["endsAt"] == "0001-01-01T00:00:00Z"
    assert a["generatorURL"] == "http://evo:8470/api/v1/alerts/7"
    done = alertmanager_payload([resolved])["alerts"][0]
    assert done["status"] == "resolved" and done["endsAt"] == "2026-06-18T16:01:00.000Z"
    assert done["fingerprint"] == a["fingerprint"]


async def test_webhook_delivers_to_receiver_and_retries(store: SQLiteStore) -> None:
    got: list[dict[str, Any]] = []
    failures = [1]

    async def receive(request: web.Request) -> web.Response:
        if failures[0]:
            failures[0] -= 1
            return web.Response(status=503)
        got.append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    clock = FakeClock()
    hook = AlertmanagerWebhook(f"http://127.0.0.1:{port}/hook", clock)
    await hook.start()
    try:
        am = AlertManager(store, AlertTolerances(clear_after_s=0), notifier=hook)
        await am.evaluate("l1", [cond()], T0)
        # the first post fails with 503; the retry waits 1 s on the injected clock
        await eventually(lambda: bool(clock.pending), within=30, what="the retry waits")
        await clock.advance(1.0)
        await hook.drain()
        assert [b["alerts"][0]["status"] for b in got] == ["firing"]
        await am.evaluate("l1", [], T0 + timedelta(seconds=5))
        await hook.drain()
        assert [b["status"] for b in got] == ["firing", "resolved"]
        assert hook.sent == 2 and hook.failed == 0
    finally:
        await hook.stop()
        await runner.cleanup()
