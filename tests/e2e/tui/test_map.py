"""The map view against the real engine and simulators of the demo site."""

from __future__ import annotations

from rich.text import Text

from eventops.tui.screens.detail import DetailScreen
from eventops.tui.screens.map import MapView
from tests.e2e.tui.conftest import Rig, until


def cell_style(mv: MapView, col: int, row: int) -> str:
    """The style the map draws one canvas cell with."""
    text = mv.render()
    line = text.split("\n")[row]
    assert isinstance(line, Text)
    spans = [s for s in line.spans if s.start <= col < s.end]
    return " ".join(str(s.style) for s in spans)


async def test_map_shows_the_demo_site_with_a_down_mast_in_red(rig: Rig) -> None:
    await rig.sim.fleet.mast("mast-01").set_unreachable(True)
    await rig.sim.to(40)
    app = rig.app("technik")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(
            pilot,
            lambda: (
                app.ready
                and app.state.devices.get("mast-01") is not None
                and app.state.devices["mast-01"].reachable is False
            ),
            "mast-01 down in the TUI",
        )
        await pilot.press("colon", *"map", "enter")
        mv = app.query_one(MapView)
        await until(pilot, lambda: app.current == "map" and mv.canvas is not None, "map drawn")
        cv = mv._canvas()
        # every placed device of the demo is on the canvas, with its fibre links
        assert set(cv.cells) == {
            "mast-01",
            "mast-02",
            "mast-03",
            "sw-core",
            "mc-police",
            "sw-stage",
            "mc-fire",
        }
        assert set(cv.edge_cells) == {"fibre-police", "fibre-stage", "fibre-fire"}
        col, row = cv.cells["mast-01"]
        assert cv.chars[row][col] == "▲"
        assert "red" in cell_style(mv, col, row)
        col, row = cv.cells["sw-core"]
        assert "green" in cell_style(mv, col, row)
        # the worst item is selected first, its detail below the map
        assert mv.selected == "mast-01"
        detail = mv.detail_text().plain
        assert "Brunnen, Nordseite" in detail and "mast-01" in detail
        screen = "\n".join(ln.plain for ln in mv.render().split("\n"))
        assert "mast-01" in screen
        # tab steps to the next item; enter opens its detail
        await pilot.press("tab")
        assert mv.selected != "mast-01"
        await pilot.press("shift+tab")
        assert mv.selected == "mast-01"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail opened")
        assert isinstance(app.screen, DetailScreen) and app.screen.key == "mast-01"


async def test_map_moves_with_the_arrow_keys_and_follows_the_stream(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready and len(app.state.devices) == 7, "live")
        await pilot.press("colon", *"map", "enter")
        mv = app.query_one(MapView)
        await until(pilot, lambda: mv.canvas is not None, "map drawn")
        mv.select("mast-01")
        cv = mv._canvas()
        await pilot.press("right")
        assert mv.selected != "mast-01"
        c0 = cv.cells["mast-01"][0]
        sel = mv.selected
        assert sel is not None
        c1 = cv.cells[sel][0] if sel in cv.cells else cv.edge_cells[sel][0][0]
        assert c1 > c0
        rig.sim.fleet.link_down("fibre-fire")
        await rig.sim.to(50)
        await until(
            pilot,
            lambda: (
                mv.scene.edges
                and next(e for e in mv.scene.edges if e.id == "fibre-fire").state == "down"
            ),
            "the cut fibre turns down on the map",
        )


async def test_authority_map_has_only_its_own_items(rig: Rig) -> None:
    app = rig.app("police")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready and app.state.links, "live")
        await pilot.press("colon", *"map", "enter")
        mv = app.query_one(MapView)
        await until(pilot, lambda: mv.canvas is not None, "map drawn")
        text = "\n".join(ln.plain for ln in mv.render().split("\n"))
        assert "mc-police" in text
        for other in ("sw-core", "mc-fire", "mast-01", "sw-stage"):
            assert other not in text
        assert [e.id for e in mv.scene.edges] == ["fibre-police"]
