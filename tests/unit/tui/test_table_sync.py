"""The Masts table redraws changed cells only, and off-screen rows when they scroll into view."""

from __future__ import annotations

from typing import Any

from textual.coordinate import Coordinate

from eventops.tui.app import EventOpsApp
from eventops.tui.client import StreamEvent, WhoAmI
from eventops.tui.config import TuiConfig
from eventops.tui.screens.devices import DevicesTable


def device(i: int, clients: int, **kw: Any) -> dict[str, Any]:
    return {
        "id": f"mast-{i:03d}",
        "kind": "mast",
        "site": "s",
        "reachable": True,
        "health": "ok",
        "clients": clients,
        **kw,
    }


async def test_incremental_and_deferred_rows() -> None:
    app = EventOpsApp(None, TuiConfig(language="en", timezone="UTC", refresh_s=10))
    async with app.run_test(size=(100, 30)) as pilot:
        app.who = WhoAmI(name="t", role="technician")
        await app.setup_role()
        snap = {"devices": [device(i, 1) for i in range(200)], "links": [], "alerts": []}
        app.state.apply(StreamEvent(id=1, type="snapshot", data=snap))
        app.show_view("masts")
        table = app.query_one("#masts", DevicesTable)
        table.sort_by = "id"
        app.flush()
        await pilot.pause()
        assert table.row_count == 200
        rebuilds = table.rebuilds
        for i in (0, 199):
            ev = {"data": device(i, 42)}
            app.state.apply(StreamEvent(id=2 + i, type="device", data=ev))
        app.flush()
        await pilot.pause()
        assert table.rebuilds == rebuilds  # no rebuild for a value change
        assert str(table.get_cell("mast-000", "clients")) == "42"
        assert "mast-199" in table._pending  # off screen: not drawn yet
        assert str(table.get_cell("mast-199", "clients")) == "1"
        table.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        assert str(table.get_cell("mast-199", "clients")) == "42"
        assert "mast-199" not in table._pending
        # a device going down re-sorts by state: that is a rebuild
        table.sort_by = "state"
        table.sync(None)
        ev = {"data": device(150, 1, reachable=False, error="timeout")}
        app.state.apply(StreamEvent(id=500, type="device", data=ev))
        app.flush()
        await pilot.pause()
        assert table.current_key() is not None
        assert table.coordinate_to_cell_key(Coordinate(0, 0)).row_key.value == "mast-150"
