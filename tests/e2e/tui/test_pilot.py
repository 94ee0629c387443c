"""The terminal app against a real engine and simulated devices on loopback."""

from __future__ import annotations

from eventops.tui.tables import AlertsTable, DevicesTable
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
