"""The masts and devices views: their table and the device actions (maintenance, reboot)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding

from eventops.errors import ApiError
from eventops.tui.client import DeviceView
from eventops.tui.core import CoreApp
from eventops.tui.dialogs import ConfirmScreen, InputScreen
from eventops.tui.safe import plain
from eventops.tui.screens.detail import DetailScreen, offers
from eventops.tui.state import device_state, sparkline
from eventops.tui.tables import HEALTH_ORDER, HEALTH_STYLE, RowTable, device_reason


class DevicesTable(RowTable[DeviceView]):
    DANGEROUS: ClassVar[list[Binding]] = [
        Binding("m", "app.maintenance", "maintenance", id="device.maintenance")
    ]
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("mark", ""),
        ("id", "col.id"),
        ("kind", "col.kind"),
        ("site", "col.site"),
        ("state", "col.state"),
        ("clients", "col.clients"),
        ("trend", "col.trend"),
        ("uptime", "col.uptime"),
        ("reason", "col.reason"),
    ]
    SORTS: ClassVar[list[str]] = ["state", "id", "site", "clients"]
    SHRINK: ClassVar[dict[str, int]] = {"reason": 16, "site": 8, "kind": 6}
    DROP: ClassVar[tuple[str, ...]] = ("trend", "uptime", "clients")

    def __init__(self, *args: Any, kinds: frozenset[str] | None = None, **kw: Any) -> None:
        self.kinds = kinds
        super().__init__(*args, **kw)

    def drop_order(self) -> tuple[str, ...]:
        # one kind only (the masts view): its column says nothing, it goes first
        return self.DROP if self.kinds is None or len(self.kinds) > 1 else ("kind", *self.DROP)

    def items(self) -> Mapping[str, DeviceView]:
        if self.kinds is None:
            return self.state.devices
        return {k: d for k, d in self.state.devices.items() if d.kind in self.kinds}

    def cells(self, key: str, d: DeviceView) -> tuple[Text, ...]:
        st = device_state(d)
        state = self.tr(f"state.{st}") + (" ⚒" if d.maintenance else "")
        uptime = (
            "-"
            if d.uptime_s is None
            else f"{int(d.uptime_s // 3600)}h{int(d.uptime_s % 3600 // 60):02d}"
        )
        reason = device_reason(self.tr, self.tz, d)
        return (
            plain(d.id, "bold"),
            plain(self.tr(f"kind.{d.kind}") if f"kind.{d.kind}" in self.tr.keys else d.kind),
            plain(d.site or "-"),
            plain(state, HEALTH_STYLE[st]),
            plain("-" if d.clients is None else str(d.clients)),
            plain(sparkline(self.state.clients.get(key, []), 10), "cyan"),
            plain(uptime),
            plain(reason[:60], "dim" if d.stale else ""),
        )

    def sort_key(self, key: str, d: DeviceView) -> Any:
        if self.sort_by == "state":
            return (HEALTH_ORDER[device_state(d)], d.score)
        if self.sort_by == "site":
            return d.site or ""
        if self.sort_by == "clients":
            return -(d.clients or 0)
        return key

    def search_text(self, key: str, d: DeviceView) -> str:
        return f"{key} {d.kind} {d.site or ''} {d.health} {device_reason(self.tr, self.tz, d)}"


class DeviceActions(CoreApp):
    """Maintenance and reboot (technicians): bound as ``app.maintenance``, ``app.reboot``."""

    def action_maintenance(self) -> None:
        if not self.may("maintenance"):
            return
        if isinstance(self.screen, DetailScreen) and self.screen.kind == "device":
            key: str | None = self.screen.key
        else:
            table = self.current_table()
            key = table.current_key() if isinstance(table, DevicesTable) else None
        dev = self.state.devices.get(key or "")
        if dev is None:
            return
        on = not dev.maintenance
        q = self.tr("maint.on" if on else "maint.off", dev=dev.id)

        def done(yes: bool | None) -> None:
            if yes:
                self.do_maintenance(dev.id, on)

        self.push_screen(ConfirmScreen(q + " " + self.tr("confirm.yn")), done)

    def action_reboot(self) -> None:
        """Reboot the device of the open detail: confirmed by typing its id."""
        if not self.may("reboot") or not isinstance(self.screen, DetailScreen):
            return
        if self.screen.kind != "device":
            return
        dev = self.screen.key
        if not offers(self.state.devices.get(dev), "reboot"):
            self.notify(self.tr("cap.missing", dev=dev, verb=self.tr("cap.reboot")), markup=False)
            return

        def done(typed: str | None) -> None:
            if typed is None:
                return
            if typed.strip() == dev:
                self.do_reboot(dev)
            else:
                self.notify(self.tr("reboot.mismatch"), severity="warning", markup=False)

        self.push_screen(InputScreen(self.tr("reboot.confirm", dev=dev)), done)

    @work(group="actions", exit_on_error=False)
    async def do_reboot(self, device_id: str) -> None:
        assert self.api is not None
        try:
            await self.api.reboot(device_id)
        except ApiError as exc:
            self.notify(
                self.error_text(exc), title=self.tr("error"), severity="error", markup=False
            )
            return
        self.notify(self.tr("reboot.sent", dev=device_id), markup=False)

    @work(group="actions", exit_on_error=False)
    async def do_maintenance(self, device_id: str, on: bool) -> None:
        assert self.api is not None
        try:
            await self.api.maintenance(device_id, on)
        except ApiError as exc:
            self.notify(
                self.error_text(exc), title=self.tr("error"), severity="error", markup=False
            )
