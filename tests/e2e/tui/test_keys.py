"""Keys of the terminal app: command bar, filter, back, help, keymap, language."""

from __future__ import annotations

from textual.widgets import Input

from eventops.tui.dialogs import HelpScreen, InputScreen
from eventops.tui.screens.alerts import AlertsTable
from eventops.tui.screens.devices import DevicesTable
from tests.e2e.tui.conftest import Rig, until
from tests.e2e.tui.test_pilot import open_alert


async def test_command_bar_completion_filter_invert_and_back(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready and app.state.devices, "views mounted")
        await pilot.press("colon", "m", "a")
        cmd = app.query_one("#cmd", Input)
        await until(pilot, lambda: cmd._suggestion.endswith("masts"), "completion offered")
        await pilot.press("right", "enter")
        assert app.current == "masts"
        table = app.query_one("#masts", DevicesTable)
        await until(pilot, lambda: table.row_count == 3, "three masts")
        await pilot.press("slash", *"mast-01")
        await until(pilot, lambda: table.row_count == 1, "filtered to one")
        await pilot.press("home", "exclamation_mark", "enter")
        await until(pilot, lambda: table.row_count == 2, "inverted filter")
        assert table.filter_text == "!mast-01"
        await pilot.press("escape")  # clears the filter
        await until(pilot, lambda: table.row_count == 3, "filter cleared")
        await pilot.press("escape")  # back to the previous view
        assert app.current == "pulse"
        await pilot.press("colon", *"nonsense", "enter")
        assert app.current == "pulse"


async def test_help_lists_active_bindings_and_keymap_remaps(rig: Rig) -> None:
    await open_alert(rig)
    app = rig.app("technik", config='[keymap]\n"alert.ack" = "k"\n')
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.state.alerts and app.ready, "alerts")
        await pilot.press("colon", *"alerts", "enter")
        table = app.query_one("#alerts", AlertsTable)
        await until(pilot, lambda: table.row_count >= 1, "alert row")
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help open")
        help_lines = dict(app.screen.lines) if isinstance(app.screen, HelpScreen) else {}
        assert help_lines.get("k") == "acknowledge"
        assert "a" not in help_lines
        assert help_lines.get("z") == "silence"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen), "help closed")
        await pilot.press("a")
        await pilot.pause()
        assert len(app.screen_stack) == 1
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, InputScreen), "ack dialog on k")
        await pilot.press("escape")


async def test_german_ui(rig: Rig) -> None:
    app = rig.app("technik", config='language = "de"\n')
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.connected and app.state.devices, "live")
        await pilot.pause()
        assert "Technik" in str(app.top_text())
        await pilot.press("colon", *"masts", "enter")
        table = app.query_one("#masts", DevicesTable)
        await until(pilot, lambda: table.row_count == 3, "three masts")
        labels = [str(c.label) for c in table.columns.values()]
        assert "Zustand" in labels and "Standort" in labels


async def test_enter_opens_device_detail(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.ready and app.state.devices, "views mounted")
        await pilot.press("colon", *"masts", "enter")
        table = app.query_one("#masts", DevicesTable)
        await until(pilot, lambda: table.row_count == 3, "three masts")
        table.move_cursor(row=table.get_row_index("mast-03"))
        await pilot.press("enter")
        await until(pilot, lambda: getattr(app.screen, "key", None) == "mast-03", "detail open")
        body = app.screen.query_one("#detail-body")
        await until(pilot, lambda: "Checks" in str(body.render()), "detail drawn")
        text = str(body.render())
        assert "mast-03" in text and "fibre-stage" in text
        await until(pilot, lambda: "system load" in str(body.render()), "history chart")
        await pilot.press("escape")
        await until(pilot, lambda: len(app.screen_stack) == 1, "back to the table")
