"""The terminal app against a real engine and simulated devices on loopback."""

from __future__ import annotations

import html

from eventops.tui.app import EventOpsApp
from eventops.tui.safe import strip_control
from eventops.tui.screens.alerts import AlertsTable
from eventops.tui.screens.devices import DevicesTable
from tests.e2e.tui.conftest import Rig, until


def cell(table: DevicesTable | AlertsTable, row: str, col: str) -> str:
    return str(table.get_cell(row, col))


async def test_fault_in_simulator_appears_in_masts_table(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: len(app.state.devices) == 7, "snapshot with 7 devices")
        await pilot.press("colon", *"masts", "enter")
        table = app.query_one("#masts", DevicesTable)
        await until(pilot, lambda: table.row_count == 3, "three masts in the table")
        assert cell(table, "mast-02", "state") != "down"
        rig.sim.fleet.wrong_credentials("mast-02")
        await rig.sim.to(40)
        await until(pilot, lambda: cell(table, "mast-02", "state") == "down", "mast-02 down")
        assert "mast-02" in cell(table, "mast-02", "id")


async def open_alert(rig: Rig) -> int:
    rig.sim.fleet.link_down("fibre-police")
    await rig.sim.to(30)
    open_ = [a for a in rig.sim.engine.alerts.open_alerts() if a.subject == "fibre-police"]
    assert open_, "the simulated fibre cut raised no alert"
    assert open_[0].id is not None
    return open_[0].id


async def test_acknowledge_an_alert_with_a_note(rig: Rig) -> None:
    alert_id = await open_alert(rig)
    app = rig.app("technik")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: alert_id in app.state.alerts, "the alert arrives")
        await pilot.press("colon", *"alerts", "enter")
        table = app.query_one("#alerts", AlertsTable)
        await until(pilot, lambda: table.row_count >= 1, "alerts table filled")
        table.move_cursor(row=table.get_row_index(str(alert_id)))
        await pilot.press("a")
        await until(pilot, lambda: app.screen.__class__.__name__ == "InputScreen", "note dialog")
        await pilot.press(*"splice crew on site", "enter")
        await until(
            pilot,
            lambda: "splice crew on site" in cell(table, str(alert_id), "acked"),
            "ack shown in the table",
        )
    # acknowledged in the engine itself, by the token's user
    row = rig.sim.engine.alerts.alert(alert_id)
    assert row is not None and row.acked_by == "technik"
    assert row.ack_note == "splice crew on site"


MUTATING = {"app.ack", "app.silence", "app.maintenance"}


def bound_actions(app: EventOpsApp) -> set[str]:
    out = set()
    for node in [app, *app.query("*")]:
        for bindings in node._bindings.key_to_bindings.values():
            out |= {b.action for b in bindings}
    return out


async def test_authority_has_no_mutating_bindings(rig: Rig) -> None:
    alert_id = await open_alert(rig)
    app = rig.app("police")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: alert_id in app.state.alerts, "its own link's alert arrives")
        assert app.role == "authority" and app.read_only
        assert "timeline" not in app.views and "masts" not in app.views
        # only what the police may see: its link, not the stage or fire links
        assert set(app.state.links) == {"fibre-police"}
        await pilot.press("colon", *"alerts", "enter")
        table = app.query_one("#alerts", AlertsTable)
        await until(pilot, lambda: table.row_count >= 1, "alerts table filled")
        assert not (bound_actions(app) & MUTATING)
        keys = {b.binding.action for b in app.screen.active_bindings.values()}
        assert not (keys & MUTATING)
        await pilot.press("a", "z", "m")
        await pilot.pause()
        assert len(app.screen_stack) == 1  # no dialog opened
        assert "🔒" in str(app.top_text())
    row = rig.sim.engine.alerts.alert(alert_id)
    assert row is not None and row.acked_by is None


async def test_technician_has_the_mutating_bindings(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.ready, "views mounted")
        assert bound_actions(app) >= MUTATING
        assert "🔒" not in str(app.top_text())


async def test_connection_loss_and_recovery_with_catch_up(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.connected and "fibre-fire" in app.state.links, "live")
        assert app.state.links["fibre-fire"].state == "up"
        port = rig.port
        await rig.stop_server()
        await until(pilot, lambda: not app.connected, "the loss is noticed")
        banner = app.query_one("#banner")
        await until(pilot, lambda: banner.has_class("shown"), "banner shown")
        # in words: the engine is gone (its health check fails), not only the stream
        await until(pilot, lambda: app.alive is False, "the health check failed")
        assert f"engine unreachable at http://127.0.0.1:{port}: connection refused; state " in (
            str(banner.render()).replace("\n", " ")
        )
        assert app.query_one("#views").has_class("stale")
        # the event goes on while the TUI is cut off
        rig.sim.fleet.link_down("fibre-fire")
        await rig.sim.to(30)
        assert app.state.links["fibre-fire"].state == "up"  # last known, marked stale
        await rig.start_server(port)
        await until(pilot, lambda: app.connected, "reconnected")
        await until(
            pilot, lambda: app.state.links["fibre-fire"].state == "down", "missed events caught up"
        )
        await until(pilot, lambda: not banner.has_class("shown"), "banner gone")
        assert not app.query_one("#views").has_class("stale")


CORPUS = [
    "[@click=app.quit]click me[/]",
    "[bold red]boom[/bold red]",
    "[link=https://evil.example]x[/link]",
    "\x1b[31mred\x1b[0m and \x07bell",
    "$(rm -rf /) `id` <script>alert(1)</script>",
]


async def test_markup_corpus_renders_literally(rig: Rig) -> None:
    # an alert is acknowledged once (a second ack is a 409): one alert per hostile note
    for link in ("fibre-police", "fibre-fire", "fibre-stage"):
        rig.sim.fleet.link_down(link)
    for mast in ("mast-01", "mast-02", "mast-03"):
        rig.sim.fleet.wrong_credentials(mast)
    await rig.sim.to(30)
    ids = sorted(a.id for a in rig.sim.engine.alerts.open_alerts() if a.id is not None)
    assert len(ids) >= len(CORPUS), ids
    app = rig.app("technik")
    async with app.run_test(size=(200, 48)) as pilot:
        await until(pilot, lambda: set(ids) <= set(app.state.alerts), "the alerts arrive")
        await pilot.press("colon", *"alerts", "enter")
        table = app.query_one("#alerts", AlertsTable)
        await until(pilot, lambda: table.row_count >= len(ids), "alerts table filled")
        for alert_id, note in zip(ids, CORPUS, strict=False):
            # another client (same engine API) writes hostile text into a note
            await rig.sim.engine.ack(alert_id, "technik", note)
            expected = "technik: " + strip_control(note)

            def acked(e: str = expected, a: int = alert_id) -> bool:
                return cell(table, str(a), "acked") == e

            await until(pilot, acked, repr(note))
            assert app.is_running
            text = table.get_cell(str(alert_id), "acked")
            assert not text.spans  # no style came out of the content
            await pilot.pause()
            screen = html.unescape(app.export_screenshot()).replace("\xa0", " ")
            assert strip_control(note)[:12] in screen
            assert "\x1b" not in screen and "\x07" not in screen
