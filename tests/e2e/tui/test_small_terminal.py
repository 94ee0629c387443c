"""80×24 first: every view of every role names itself in an uncut header, keeps its
key hints on screen and its priority columns in the table (plain-text assertions
next to the snapshots in test_snapshots.py, which cannot fail meaningfully when
they are first written)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from eventops.tui.app import EventOpsApp
from eventops.tui.keybar import KeyBar
from eventops.tui.screens.detail import DetailScreen
from eventops.tui.screens.devices import DevicesTable
from eventops.tui.screens.provision import ProvisionScreen
from eventops.tui.tables import RowTable
from tests.e2e.tui.conftest import Rig, until

W, H = 80, 24

PRIORITY_COLUMNS = {
    "masts": {"id", "state", "reason"},
    "devices": {"id", "kind", "state", "reason"},
    "links": {"id", "name", "state", "util", "margin", "handed"},
    "alerts": {"severity", "subject", "summary", "since"},
    "timeline": {"ts", "kind", "subject", "text"},
    "wall": {"time", "state", "author", "text"},
}
"""What each table keeps at 80 columns (Links: Margin and Handed-to above all)."""


def header(app: EventOpsApp) -> str:
    """The header as the terminal shows it: its first 80 cells."""
    text = app.top_text(app.screen)
    text.truncate(W)
    return str(text)


def hints(app: EventOpsApp) -> tuple[set[str], list[str]]:
    """The ids of the key hints on screen, and the bar's lines."""
    bar = app.screen.query_one(KeyBar)
    lines = bar.text().splitlines()
    return {h.id for line in bar.lines for h in line}, lines


async def check_view(app: EventOpsApp, pilot: Pilot[Any], view: str, keys: set[str]) -> None:
    if app.current != view:
        await pilot.press("colon", *view, "enter")
    await until(pilot, lambda: app.current == view, f"{view} shown")
    title = app.tr(f"view.{view}")
    await until(pilot, lambda: f" {title}" in header(app), f"{view}: its name in the header")
    assert header(app).startswith(f" eventops  {title}")
    table = app._table_in(view)
    if table is not None:
        await until(pilot, lambda: table.row_count > 0, f"{view}: rows")
        assert set(table.shown_columns()) >= PRIORITY_COLUMNS[view], (view, table.shown_columns())
        await until(
            pilot,
            lambda: table.virtual_size.width <= table.size.width,
            f"{view}: the columns fit the width ({table.shown_columns()})",
        )
    await check_hints(app, pilot, view, keys)


async def check_hints(app: EventOpsApp, pilot: Pilot[Any], what: str, keys: set[str]) -> None:
    await until(pilot, lambda: keys <= hints(app)[0], f"{what}: hints {sorted(keys)}")
    ids, lines = hints(app)
    assert "app.help" in ids, what  # ? is always there: it lists what did not fit
    assert 1 <= len(lines) <= 2 and all(len(ln) <= W for ln in lines), (what, lines)


async def test_technician_every_view_at_80x24(rig: Rig) -> None:
    await rig.add_post("replay:1", "Schönes Fest!", "replay:anna")
    rig.sim.fleet.link_down("fibre-fire")
    await rig.sim.to(30)
    app = rig.app("technik")
    async with app.run_test(size=(W, H)) as pilot:
        await until(pilot, lambda: app.ready and app.connected and app.state.alerts, "live")
        await check_view(app, pilot, "pulse", {"app.command", "app.help"})
        await check_view(app, pilot, "masts", {"device.maintenance", "row.sort"})
        await check_view(app, pilot, "devices", {"device.maintenance"})
        await check_view(app, pilot, "links", {"row.sort", "app.filter"})
        await check_view(app, pilot, "alerts", {"alert.ack", "alert.silence", "alert.goto"})
        await check_view(app, pilot, "timeline", {"timeline.reload"})
        await check_view(app, pilot, "wall", {"wall.states"})
        await check_view(app, pilot, "probe", {"probe.stamp", "probe.accept"})
        await check_view(app, pilot, "map", {"map.open", "app.command"})
        assert app.views[-1] == "map"  # every view of the role was visited
        # a device's detail: its own name, its keys (reboot where the device offers it)
        await check_view(app, pilot, "masts", set())
        table = app.query_one("#masts", DevicesTable)
        table.move_cursor(row=table.get_row_index("mast-01"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail open")
        await until(pilot, lambda: "Device mast-01" in header(app), "detail: name in the header")
        await check_hints(app, pilot, "detail", {"device.reboot", "device.maintenance"})
        await pilot.press("escape")
        await until(pilot, lambda: len(app.screen_stack) == 1, "back")
        await pilot.press("colon", *"provision", "enter")
        await until(pilot, lambda: isinstance(app.screen, ProvisionScreen), "provision open")
        await until(pilot, lambda: " Provision" in header(app), "provision: name in header")
        await check_hints(app, pilot, "provision", {"provision.plan", "provision.apply"})


async def test_authority_every_view_at_80x24(rig: Rig) -> None:
    rig.sim.fleet.link_down("fibre-fire")
    await rig.sim.to(30)
    app = rig.app("fire")
    async with app.run_test(size=(W, H)) as pilot:
        await until(pilot, lambda: app.ready and app.connected and app.state.alerts, "live")
        assert app.views == ("pulse", "devices", "links", "alerts", "map")
        for view in app.views:
            await check_view(app, pilot, view, {"app.command", "app.help"})
            assert "🔒" in header(app)  # read-only, and it shows (within 80 cells)
        # its only write: announcements, visible in every view
        await check_hints(app, pilot, "authority", {"wall.announce", "wall.withdraw"})


@pytest.mark.parametrize("lang", ["en", "de"])
async def test_comms_keeps_its_wall_keys_visible_at_80x24(rig: Rig, lang: str) -> None:
    await rig.add_post("replay:1", "Schönes Fest!", "replay:anna")
    await rig.add_post("replay:2", "Wo ist die Bühne?", "replay:ben")
    app = rig.app("comms", config=f'language = "{lang}"\n')
    async with app.run_test(size=(W, H)) as pilot:
        await until(pilot, lambda: app.ready and app.current == "wall", "comms land on the wall")
        await check_view(
            app,
            pilot,
            "wall",
            {
                "wall.approve",
                "wall.reject",
                "wall.undo",
                "wall.block",
                "wall.announce",
                "wall.withdraw",
                "wall.pause",
                "wall.states",
            },
        )
        # the list shown is named in the header, and follows v
        tr = app.tr
        listed = tr("header.list", state=tr("wall.state.pending"))
        assert f"[{listed}]" in header(app)
        await pilot.press("v")
        listed = tr("header.list", state=tr("wall.state.approved"))
        await until(pilot, lambda: f"[{listed}]" in header(app), "mode in the header")


async def test_active_filter_is_shown_in_the_header(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(W, H)) as pilot:
        await until(pilot, lambda: app.ready and app.state.devices, "views mounted")
        await pilot.press("colon", *"masts", "enter")
        table = app.query_one("#masts", RowTable)
        await until(pilot, lambda: table.row_count == 3, "three masts")
        assert "filter" not in header(app)
        await pilot.press("slash", *"mast-01", "enter")
        await until(pilot, lambda: table.row_count == 1, "filtered")
        assert "[filter “mast-01” 1/3]" in header(app)
        await pilot.press("escape")  # clears the filter
        await until(pilot, lambda: "filter" not in header(app), "indicator gone")
