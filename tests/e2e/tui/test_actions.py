"""More of the app against the real engine: silence, maintenance, timeline, links, bad token."""

from __future__ import annotations

from eventops.tui.client import Api, TokenRefused
from eventops.tui.config import load_config
from eventops.tui.dialogs import ConfirmScreen, InputScreen
from eventops.tui.screens.alerts import AlertsTable
from eventops.tui.screens.detail import DetailScreen
from eventops.tui.screens.devices import DevicesTable
from eventops.tui.screens.links import LinksTable
from eventops.tui.screens.timeline import TimelineTable
from tests.e2e.tui.conftest import Rig, until
from tests.e2e.tui.test_pilot import open_alert


async def test_silence_marked_alerts(rig: Rig) -> None:
    alert_id = await open_alert(rig)
    app = rig.app("technik")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: alert_id in app.state.alerts and app.ready, "alert")
        await pilot.press("colon", *"alerts", "enter")
        table = app.query_one("#alerts", AlertsTable)
        await until(pilot, lambda: table.row_count >= 1, "alerts")
        table.move_cursor(row=table.get_row_index(str(alert_id)))
        await pilot.press("space")
        assert table.marked == {str(alert_id)}
        assert str(table.get_cell(str(alert_id), "mark")) == "●"
        await pilot.press("z")
        await until(pilot, lambda: isinstance(app.screen, InputScreen), "minutes dialog")
        await pilot.press("backspace", "backspace", *"abc", "enter")  # not a number
        await until(pilot, lambda: len(app.screen_stack) == 1, "dialog closed")
        assert not rig.sim.engine.alerts.silences
        await pilot.press("z")
        await until(pilot, lambda: isinstance(app.screen, InputScreen), "minutes dialog")
        await pilot.press("enter")  # the default: 60 minutes
        await until(pilot, lambda: bool(rig.sim.engine.alerts.silences), "silenced in the engine")
    s = rig.sim.engine.alerts.silences[0]
    assert s.by == "technik" and set(s.matchers.values()) == {
        rig.sim.engine.alerts.alert(alert_id).key  # type: ignore[union-attr]
    }


async def test_maintenance_is_confirmed(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.ready and app.state.devices, "live")
        await pilot.press("colon", *"masts", "enter")
        table = app.query_one("#masts", DevicesTable)
        await until(pilot, lambda: table.row_count == 3, "masts")
        table.move_cursor(row=table.get_row_index("mast-01"))
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        await pilot.press("n")
        await until(pilot, lambda: len(app.screen_stack) == 1, "declined")
        assert "mast-01" not in rig.sim.engine.maintenance
        await pilot.press("m")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        await pilot.press("y")
        await until(pilot, lambda: "mast-01" in rig.sim.engine.maintenance, "in maintenance")
        await until(pilot, lambda: "⚒" in str(table.get_cell("mast-01", "state")), "shown")


async def test_timeline_is_searchable(rig: Rig) -> None:
    alert_id = await open_alert(rig)
    await rig.sim.engine.ack(alert_id, "technik", "crew informed")
    app = rig.app("technik")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.ready, "ready")
        await pilot.press("colon", *"timeline", "enter")
        table = app.query_one("#timeline", TimelineTable)
        await until(pilot, lambda: table.row_count > 1, "timeline loaded")
        before = table.row_count
        rig.sim.fleet.link_down("fibre-fire")  # a new alert while the timeline is shown
        await rig.sim.to(50)
        await until(
            pilot,
            lambda: any("fibre-fire" in str(table.get_cell(k, "subject")) for k in table._order),
            "the new alert appears in the timeline",
        )
        total = table.row_count
        assert total > before
        await pilot.press("slash", *"fibre-police", "enter")
        await until(pilot, lambda: 0 < table.row_count < total, "search narrows")
        texts = [str(table.get_cell(k, "subject")) for k in table._order]
        assert all(
            "fibre-police" in t or "fibre-police" in str(table.get_cell(k, "text"))
            for t, k in zip(texts, table._order, strict=True)
        )


async def test_link_detail(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.ready and app.state.links, "live")
        await pilot.press("colon", *"links", "enter")
        table = app.query_one("#links", LinksTable)
        await until(pilot, lambda: table.row_count == 3, "links")
        table.move_cursor(row=table.get_row_index("fibre-police"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail")
        body = str(app.screen.query_one("#detail-body").render())
        assert "sw-core:Ethernet1/1 ↔ mc-police:sfp0" in body
        assert "MoGlI Polizei Lagezentrum" in body


async def test_refused_token_is_a_visible_state(rig: Rig) -> None:
    from eventops.tui.app import EventOpsApp

    app = EventOpsApp(Api(rig.url, "not-a-token"), load_config(rig.config_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.fatal is not None, "the app stops by itself")
    # one clear line for the command to print, a non-zero exit, no retry loop
    assert isinstance(app.fatal, TokenRefused) and app.who is None
    assert app.fatal.one_line() == (
        f"the engine at {rig.url} refused the token (401): "
        "check --token (default env:EVENTOPS_TOKEN) or the config's token"
    )
    assert app.return_code == app.fatal.exit_code != 0
