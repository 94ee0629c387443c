"""What the app offers, and only that: capabilities per device, ? and the palette per role,
q inside the demo."""

from __future__ import annotations

from textual.command import CommandList, CommandPalette
from textual.pilot import Pilot

from eventops.tui.app import EventOpsApp, ViewCommands
from eventops.tui.client import Api
from eventops.tui.config import load_config
from eventops.tui.dialogs import ConfirmScreen, HelpScreen, InputScreen
from eventops.tui.screens.detail import DetailScreen
from tests.e2e.tui.conftest import TOKENS, Rig, until

FRAMEWORK = ("Cursor up", "Page down", "Focus Next", "Select", "Top", "Bottom")
"""Textual's own key descriptions: not this app's keys, never in ?."""


def palette(app: EventOpsApp) -> list[str]:
    """The palette's entries for the screen in front (as when ctrl+p opens it there)."""
    return [name for name, _, _ in ViewCommands(app.screen)._commands()]


async def open_detail(app: EventOpsApp, pilot: Pilot[None], device: str) -> DetailScreen:
    while len(app.screen_stack) > 1:
        app.pop_screen()
    app.push_screen(DetailScreen("device", device))
    await until(pilot, lambda: getattr(app.screen, "key", None) == device, f"{device} detail")
    screen = app.screen
    assert isinstance(screen, DetailScreen)

    # its keys are bound on mount, before it first draws
    def drawn() -> bool:
        body = screen.query("#detail-body")
        return bool(body) and "Offers" in str(body.first().render())

    await until(pilot, drawn, "drawn")
    return screen


def bound(screen: DetailScreen) -> set[str]:
    return {b.id or "" for bs in screen._bindings.key_to_bindings.values() for b in bs}


async def test_reboot_only_where_the_driver_offers_it(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.ready and len(app.state.devices) == 7, "devices")
        caps = {k: d.capabilities for k, d in app.state.devices.items()}
        # the device views carry the driver's capabilities (RESTCONF: no reboot)
        assert caps["sw-core"] is not None and caps["sw-core"].reboot is False
        assert caps["mast-01"] is not None and caps["mast-01"].reboot is True
        switch = await open_detail(app, pilot, "sw-core")
        assert "device.reboot" not in bound(switch)
        assert "device.maintenance" in bound(switch)
        assert not any("reboot" in name for name in palette(app))
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        assert isinstance(app.screen, HelpScreen)
        here = dict(app.screen.lines)
        assert "R" not in here and here.get("m") == "maintenance on/off"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "help closed")
        await pilot.press("R")  # not bound here: nothing asks for a reboot
        await pilot.pause()
        assert isinstance(app.screen, DetailScreen)
        assert "Offers            confirm timeout, partial config" in str(
            switch.query_one("#detail-body").render()
        )
        mast = await open_detail(app, pilot, "mast-01")
        assert "device.reboot" in bound(mast)
        assert "reboot (Device mast-01: R)" in palette(app)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, InputScreen), "reboot asks for the id")
        await pilot.press("escape")
    assert not any(ev.type == "device.reboot" for ev in rig.sim.engine.bus)


async def test_help_lists_this_apps_keys_by_view_and_every_command(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready and app.state.links, "views mounted")
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.text()
        for view in app.views:
            assert f":{view} open view" in text, view
        assert ":provision open view: Provision" in text
        assert ":help help" in text and ":quit quit" in text
        # the other views' keys, under their names; the screens that are not open
        assert "Alerts (:alerts)\n" in text and "a acknowledge" in text
        assert "Probe (:probe)\n" in text and "s STAMP probe" in text
        assert "Provision (:provision)\n" in text and "a apply" in text
        assert "R reboot (where the device offers it)" in text
        assert not any(f in text for f in FRAMEWORK)
        # technicians moderate nothing: no wall decisions in their help
        assert "approve" not in text and "undo" not in text
        await pilot.press("escape")


async def test_palette_lists_every_view_and_action_of_the_role(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready and app.state.links, "views mounted")
        names = palette(app)
        for view in app.views:
            assert any(n.endswith(f"(:{view})") for n in names), view
        assert "Provision (:provision)" in names
        for entry in (
            "acknowledge (Alerts: a)",
            "silence (Alerts: z)",
            "maintenance on/off (Masts: m)",
            "acceptance (Probe: a)",
            "reload (Timeline: r)",
            "switch list (Social wall: v)",
            "help (:help, ?)",
            "quit (:quit, q)",
        ):
            assert entry in names, entry
        assert not any("approve" in n or "announce" in n for n in names)
        # an action chosen in the palette runs in its view
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "palette open")
        await pilot.press(*"maintenance on/off (Masts")
        await until(pilot, lambda: app.screen.query_one(CommandList).option_count > 0, "a match")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "maintenance asks")
        assert app.current == "masts"
        await pilot.press("n")


async def test_palette_for_comms_and_authority(rig: Rig) -> None:
    await rig.add_post("replay:1", "Schönes Fest!", "replay:anna")
    comms = rig.app("comms")
    async with comms.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: comms.ready and comms.current == "wall", "comms on the wall")
        names = palette(comms)
        for word in ("approve", "reject", "pin/unpin", "take down", "block author", "undo"):
            assert f"{word} (Social wall: " in " ".join(names), word
        for entry in ("announce (n)", "withdraw announcement (w)", "pause/resume wall (P)"):
            assert entry in names, entry
        assert not any("acknowledge" in n or "Provision" in n for n in names)
    police = rig.app("police")
    async with police.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: police.ready and police.state.links, "authority live")
        names = palette(police)
        assert "announce (n)" in names and "withdraw announcement (w)" in names
        assert not any(
            w in n for n in names for w in ("acknowledge", "maintenance", "approve", "pause")
        )


async def test_q_asks_inside_the_demo_and_quits_elsewhere(rig: Rig) -> None:
    demo_like = EventOpsApp(
        Api(rig.url, TOKENS["technik"]), load_config(rig.config_path), confirm_quit=True
    )
    async with demo_like.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: demo_like.ready, "views mounted")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(demo_like.screen, ConfirmScreen), "asks first")
        assert "End the demo?" in demo_like.screen.question  # type: ignore[attr-defined]
        await pilot.press("n")
        await until(pilot, lambda: len(demo_like.screen_stack) == 1, "still running")
        assert demo_like.is_running
        await pilot.press("colon", *"quit", "enter")  # :quit asks too
        await until(pilot, lambda: isinstance(demo_like.screen, ConfirmScreen), "asks again")
        await pilot.press("y")
        await until(pilot, lambda: not demo_like.is_running, "the demo ends")
    plain = rig.app("technik")
    async with plain.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: plain.ready, "views mounted")
        await pilot.press("q")
        await until(pilot, lambda: not plain.is_running, "quits at once")
        assert not isinstance(plain.screen, ConfirmScreen)
