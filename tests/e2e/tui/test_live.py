"""Views that follow the live stream: silences, the wall queue, the timeline."""

from __future__ import annotations

from typing import Any

from textual.worker import WorkerState

from eventops.tui.dialogs import InputScreen
from eventops.tui.screens.alerts import AlertsTable
from eventops.tui.screens.timeline import TimelineTable
from tests.e2e.tui.conftest import Rig, until
from tests.e2e.tui.test_pilot import open_alert
from tests.e2e.tui.test_wall import open_wall


async def test_a_silence_made_in_the_tui_shows_as_silenced_without_reload(rig: Rig) -> None:
    alert_id = await open_alert(rig)
    app = rig.app("technik")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready and alert_id in app.state.alerts, "alert")
        assert not app.state.alerts[alert_id].silenced
        await pilot.press("colon", *"alerts", "enter")
        table = app.query_one("#alerts", AlertsTable)
        await until(pilot, lambda: table.row_count >= 1, "alerts")
        table.move_cursor(row=table.get_row_index(str(alert_id)))
        assert "🔕" not in str(table.get_cell(str(alert_id), "severity"))
        await pilot.press("z")
        await until(pilot, lambda: isinstance(app.screen, InputScreen), "minutes dialog")
        await pilot.press("enter")
        await until(
            pilot,
            lambda: "🔕" in str(table.get_cell(str(alert_id), "severity")),
            "silenced in the alerts view, from the stream",
        )
        assert app.state.alerts[alert_id].silenced
        # and lifting the silence shows at once too
        [s] = rig.sim.engine.alerts.silences
        await rig.sim.engine.unsilence(s.id, "technik")
        await until(
            pilot,
            lambda: "🔕" not in str(table.get_cell(str(alert_id), "severity")),
            "not silenced any more",
        )


async def test_the_wall_queue_follows_the_stream_not_a_timer(rig: Rig) -> None:
    await rig.add_post("replay:1", "Schönes Fest!", "replay:anna")
    app = rig.app("comms")
    async with app.run_test(size=(80, 24)) as pilot:
        table = await open_wall(app, pilot, 1)
        assert app.api is not None
        # the engine's watch has told about the first post (it may tick after the app started)
        await until(
            pilot, lambda: any(e.type == "wall" for e in rig.sim.engine.bus), "first wall event"
        )
        # ... and the app has taken in the wall's events so far and re-read the queue for them
        told = max(e.id for e in rig.sim.engine.bus if e.type == "wall")

        def settled() -> bool:
            seen = app.state.last_id is not None and app.state.last_id >= told
            busy = any(
                w.group == "wall-poll" and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
                for w in app.workers
            )
            return seen and not busy

        await until(pilot, settled, "the app is up to date with the stream")
        calls: list[str] = []
        real = app.api.wall_queue

        async def counted(*args: Any, **kw: Any) -> Any:
            calls.append(args[0] if args else kw.get("state", ""))
            return await real(*args, **kw)

        app.api.wall_queue = counted  # type: ignore[method-assign]
        for _ in range(30):  # far longer than the old poll period: nothing is fetched
            await pilot.pause(0.02)
        assert calls == []
        last = rig.sim.engine.bus.last_id
        # a post from the sources' pipeline (stored, no verb of the API): the engine tells
        await rig.add_post("replay:2", "Wo ist die Bühne?", "replay:ben")
        await until(pilot, lambda: table.row_count == 2, "the new post in the queue")
        assert calls, "the queue was re-read"
        seen = rig.sim.engine.bus.since(last) or []
        assert [e.data for e in seen if e.type == "wall"] == [{"what": "queue"}]
        assert "wall: 2 pending" in str(app.top_text())


async def test_the_timeline_appends_and_keeps_the_cursor(rig: Rig) -> None:
    alert_id = await open_alert(rig)
    await rig.sim.engine.ack(alert_id, "technik", "crew informed")
    app = rig.app("technik")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready, "ready")
        await pilot.press("colon", *"timeline", "enter")
        table = app.query_one("#timeline", TimelineTable)
        await until(pilot, lambda: table.row_count >= 2, "timeline loaded")
        table.move_cursor(row=1)
        on = table.current_key()
        assert on is not None
        entry = table.entries[on]

        def under_cursor() -> object:
            key = table.current_key()
            return table.entries[key] if key else None

        before = set(table.entries)
        rig.sim.fleet.link_down("fibre-fire")
        await rig.sim.to(50)
        await until(
            pilot,
            lambda: any(e.subject == "fibre-fire" for e in table.entries.values()),
            "the new alert appended from the stream",
        )
        assert before < set(table.entries)  # appended: nothing shown before went away
        assert under_cursor() == entry  # the cursor stays on its entry
        # a maintenance (no alert) is a timeline entry too
        await rig.sim.engine.set_maintenance("mast-02", True, "technik", "antenna swap")
        await until(
            pilot,
            lambda: any(
                e.subject == "mast-02" and "maintenance" in e.kind for e in table.entries.values()
            ),
            "the maintenance appended",
        )
        assert under_cursor() == entry
        n = table.row_count
        for _ in range(10):  # let the screen settle (the key bar, a scroll bar)
            await pilot.pause(0.02)
        rebuilds = table.rebuilds
        await pilot.press("r")  # a full reload: same entries, no jump
        await until(pilot, lambda: not app.timeline_stale, "reloaded")
        for _ in range(10):
            await pilot.pause(0.02)
        assert under_cursor() == entry and table.row_count == n
        assert table.rebuilds == rebuilds
