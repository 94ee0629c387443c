"""Keys typed in one burst right after ':' or '/' land in the bar, not in the view below.

``pilot.press`` waits for the app to go idle after every key, which hides the
race; a terminal (tmux send-keys, a paste) delivers the whole burst before the
app handles the first key. :func:`burst` posts the keys the way the driver
does: one after another onto the app's queue, without waiting in between.
"""

from __future__ import annotations

from textual import events
from textual.pilot import Pilot
from textual.widgets import Input

from eventops.tui.dialogs import InputScreen
from eventops.tui.screens.detail import DetailScreen
from eventops.tui.screens.links import LinksTable
from tests.e2e.tui.conftest import Rig, until

CHARS = {"colon": ":", "slash": "/", "enter": "\r", "exclamation_mark": "!"}


def burst(pilot: Pilot[None], *keys: str) -> None:
    driver = pilot.app._driver
    assert driver is not None
    for key in keys:
        ev = events.Key(key, CHARS.get(key, key if len(key) == 1 else None))
        ev.set_sender(pilot.app)
        driver.send_message(ev)


async def test_command_typed_in_one_burst_after_colon(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.ready and app.state.links, "views mounted")
        assert app.current == "pulse"
        await pilot.press("colon", "l", "i", "n", "k", "s", "enter")
        await until(pilot, lambda: app.current == "links", "on the Links view")
        assert isinstance(app.focused, LinksTable)


async def test_burst_after_colon_and_slash_is_not_lost(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.ready and app.state.links, "views mounted")
        assert app.current == "pulse"
        burst(pilot, "colon", *"links", "enter")
        await until(pilot, lambda: app.current == "links", "on the Links view (burst)")
        table = app.query_one("#links", LinksTable)
        await until(pilot, lambda: table.row_count == 3, "three links")
        assert isinstance(app.focused, LinksTable)
        burst(pilot, "slash", *"fire", "enter")
        await until(pilot, lambda: table.filter_text == "fire", "the whole filter text")
        await until(pilot, lambda: table.row_count == 1, "one link left")
        burst(pilot, "colon", *"alerts", "enter")
        await until(pilot, lambda: app.current == "alerts", "on the Alerts view (burst)")


async def test_one_burst_filter_then_command(rig: Rig) -> None:
    """Keys behind the enter that closes the filter go to the view, not into the filter."""
    app = rig.app("technik")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.ready and app.state.links, "views mounted")
        burst(pilot, "colon", *"links", "enter", "slash", *"fire", "enter", "colon", *"masts")
        burst(pilot, "enter")
        await until(pilot, lambda: app.current == "masts", "on the Masts view")
        table = app.query_one("#links", LinksTable)
        assert table.filter_text == "fire"
        assert app.held is None


async def test_colon_in_a_dialog_is_text_and_on_a_detail_opens_the_bar(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.ready and app.state.devices, "views mounted")
        app.push_screen(DetailScreen("device", "mast-01"))
        await until(pilot, lambda: app.screen.query("#detail-body"), "detail open")
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, InputScreen), "the reboot dialog")
        burst(pilot, "colon", "slash", "x")
        field = app.screen.query_one("#dialog-input", Input)
        await until(pilot, lambda: field.value == ":/x", "':' and '/' typed as text")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "back in the detail")
        burst(pilot, "colon", *"alerts", "enter")
        await until(pilot, lambda: app.current == "alerts", "the bar works from the detail")
        assert len(app.screen_stack) == 1
    assert not any(ev.type == "device.reboot" for ev in rig.sim.engine.bus)
