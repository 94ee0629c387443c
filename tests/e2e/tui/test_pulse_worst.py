"""The Pulse names the worst items with their reason, and opens them."""

from __future__ import annotations

from eventops.tui.screens.detail import DetailScreen
from eventops.tui.screens.pulse import PulseView
from eventops.tui.tables import device_reason
from tests.e2e.tui.conftest import Rig, until


async def test_pulse_lists_the_worst_items_by_name_and_jumps_to_them(rig: Rig) -> None:
    await rig.sim.fleet.mast("mast-02").set_unreachable(True)
    rig.sim.fleet.link_down("fibre-fire")
    await rig.sim.to(45)
    app = rig.app("technik")
    async with app.run_test(size=(80, 24)) as pilot:
        pulse = app.query_one(PulseView)

        def text() -> str:
            return str(pulse.render())

        await until(
            pilot,
            lambda: "mast-02 unreachable" in text() and "fibre-fire down" in text(),
            "the worst items by name",
        )
        # with the reason: the engine's own words
        lines = text().splitlines()
        mast_line = next(ln for ln in lines if "mast-02 unreachable" in ln)
        assert mast_line.split("mast-02 unreachable", 1)[1].startswith(": ")
        dev = app.state.devices["mast-02"]
        reason = device_reason(app.tr, app.config.tz(), dev)  # in the app's language
        assert dev.error and reason and reason[:20] in mast_line
        # nothing that is up is listed
        assert "mast-01 " not in text() and "fibre-police " not in text()
        keys = [w.key for w in pulse.worst]
        assert set(keys) >= {"mast-02", "fibre-fire"}
        # down before degraded; enter opens the picked one, down picks the next
        assert pulse.has_focus
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail")
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.key == keys[0]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen), "back")
        second = pulse.worst[1]
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail")
        assert isinstance(app.screen, DetailScreen)
        assert (app.screen.kind, app.screen.key) == (second.kind, second.key)
