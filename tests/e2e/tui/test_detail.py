"""Device detail: radios, clients, interfaces, optics; the dangerous reboot."""

from __future__ import annotations

from textual.widgets import Input

from eventops.tui.screens.detail import DetailScreen
from eventops.tui.screens.devices import DevicesTable
from tests.e2e.tui.conftest import Rig, until


async def test_mast_detail_shows_ssid_channel_and_a_client(rig: Rig) -> None:
    sim = rig.sim.fleet.mast("mast-02")
    ifname = str(sim._ifaces()[0]["ifname"])
    mac = sim.join_client(ifname, "02:00:5e:aa:bb:cc", signal=-66.0)
    await rig.sim.to(22)
    app = rig.app("technik")
    async with app.run_test(size=(160, 60)) as pilot:
        await until(pilot, lambda: app.ready and app.state.devices, "views mounted")
        await pilot.press("colon", *"masts", "enter")
        table = app.query_one("#masts", DevicesTable)
        await until(pilot, lambda: table.row_count == 3, "three masts")
        table.move_cursor(row=table.get_row_index("mast-02"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail open")
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        body = screen.query_one("#detail-body")
        await until(pilot, lambda: "WLAN clients" in str(body.render()), "status drawn")
        text = str(body.render())
        det = screen.detail
        assert det is not None
        radio = next(r for r in det.radios if r.name == ifname)
        rrow = next(ln for ln in text.splitlines() if ln.strip().startswith(ifname))
        assert radio.ssid and radio.ssid in rrow
        assert f" {radio.channel} " in rrow.split(radio.ssid, 1)[1]
        row = next(ln for ln in text.splitlines() if mac in ln)
        assert ifname in row and "-6" in row  # the client's signal, dBm
        assert "Interfaces" in text
        # technicians get the dangerous reboot binding
        assert "app.reboot" in {
            b.action for bs in screen._bindings.key_to_bindings.values() for b in bs
        }
        # a wrong id does not reboot; the right one does
        await pilot.press("R")
        await until(pilot, lambda: app.screen.__class__.__name__ == "InputScreen", "confirm")
        await pilot.press(*"mast-01", "enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "back in the detail")
        await pilot.pause(0.2)
        assert not any(ev.type == "device.reboot" for ev in rig.sim.engine.bus)
        await pilot.press("R")
        await until(pilot, lambda: app.screen.__class__.__name__ == "InputScreen", "confirm")
        assert isinstance(app.screen.query_one("#dialog-input"), Input)
        await pilot.press(*"mast-02", "enter")
        await until(
            pilot,
            lambda: any(ev.type == "device.reboot" for ev in rig.sim.engine.bus),
            "reboot reached the engine",
        )
    await rig.sim.to(70)
    raised = [key for kind, key, _ in rig.sim.alerts() if kind == "alert.raised"]
    assert "device:mast-02:reboot" in raised


async def test_switch_detail_shows_optics_of_both_ends(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(160, 60)) as pilot:
        await until(pilot, lambda: app.ready and app.state.devices, "views mounted")
        app.push_screen(DetailScreen("device", "mc-police"))
        await until(pilot, lambda: app.screen.query("#detail-body"), "detail open")
        body = app.screen.query_one("#detail-body")
        await until(pilot, lambda: "Optics" in str(body.render()), "optics drawn")
        text = str(body.render())
        assert "sfp0" in text and "↔ sw-core:Ethernet1/1" in text


async def test_authority_detail_has_no_reboot(rig: Rig) -> None:
    app = rig.app("police")
    async with app.run_test(size=(160, 60)) as pilot:
        await until(pilot, lambda: app.ready and "mc-police" in app.state.devices, "mounted")
        app.push_screen(DetailScreen("device", "mc-police"))
        await until(pilot, lambda: app.screen.query("#detail-body"), "detail open")
        screen = app.screen
        body = screen.query_one("#detail-body")
        await until(pilot, lambda: "Optics" in str(body.render()), "optics drawn")
        text = str(body.render())
        assert "sw-core" not in text  # the far end is not the police's
        actions = {b.action for bs in screen._bindings.key_to_bindings.values() for b in bs}
        assert "app.reboot" not in actions and "app.maintenance" not in actions
        await pilot.press("R")
        await pilot.pause(0.1)
        assert isinstance(app.screen, DetailScreen)
