"""The alerts view: its table and the alert actions (goto, acknowledge, silence)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding

from eventops.errors import ApiError
from eventops.tui.client import AlertView
from eventops.tui.core import CoreApp
from eventops.tui.dialogs import InputScreen
from eventops.tui.safe import plain
from eventops.tui.screens.detail import DetailScreen
from eventops.tui.tables import HEALTH_STYLE, RowTable, alert_text, fmt_time

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


class AlertsTable(RowTable[AlertView]):
    BINDINGS: ClassVar[list[Any]] = [
        Binding("g", "app.goto", "goto", id="alert.goto"),
    ]
    DANGEROUS: ClassVar[list[Binding]] = [
        Binding("a", "app.ack", "ack", id="alert.ack"),
        Binding("z", "app.silence", "silence", id="alert.silence"),
    ]
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("mark", ""),
        ("severity", "col.severity"),
        ("subject", "col.subject"),
        ("summary", "col.summary"),
        ("since", "col.since"),
        ("acked", "col.acked"),
    ]
    SORTS: ClassVar[list[str]] = ["severity", "since", "subject"]
    SHRINK: ClassVar[dict[str, int]] = {"summary": 20, "acked": 8, "subject": 12}
    DROP: ClassVar[tuple[str, ...]] = ("acked",)

    def items(self) -> Mapping[str, AlertView]:
        return {str(k): a for k, a in self.state.alerts.items()}

    def cells(self, key: str, a: AlertView) -> tuple[Text, ...]:
        sev = self.tr(f"sev.{a.severity}") + (" 🔕" if a.silenced else "")
        return (
            plain(sev, HEALTH_STYLE[a.severity]),
            plain(a.subject, "bold"),
            plain(alert_text(self.tr, self.tz, a)[:80]),
            plain(fmt_time(a.raised_at, self.tz, zone=False)),
            plain(
                f"{a.acked_by}: {a.ack_note}" if a.acked_by and a.ack_note else a.acked_by or "-"
            ),
        )

    def sort_key(self, key: str, a: AlertView) -> Any:
        if self.sort_by == "severity":
            return (SEVERITY_ORDER[a.severity], -a.raised_at.timestamp())
        if self.sort_by == "since":
            return -a.raised_at.timestamp()
        return a.subject

    def search_text(self, key: str, a: AlertView) -> str:
        text = alert_text(self.tr, self.tz, a)
        return f"{a.severity} {a.subject} {text} {a.acked_by or ''} {a.ack_note or ''}"


class AlertActions(CoreApp):
    """Goto, acknowledge and silence: bound on the alerts table as ``app.*`` actions."""

    def action_goto(self) -> None:
        table = self.current_table()
        if not isinstance(table, AlertsTable):
            return
        key = table.current_key()
        alert = self.state.alerts.get(int(key)) if key else None
        if alert is None:
            return
        if alert.subject in self.state.links:
            self.push_screen(DetailScreen("link", alert.subject))
        elif alert.subject in self.state.devices:
            self.push_screen(DetailScreen("device", alert.subject))

    def action_ack(self) -> None:
        table = self.current_table()
        if not isinstance(table, AlertsTable) or not self.may("ack"):
            return
        ids = [int(k) for k in table.selected_keys()]
        if not ids:
            return

        def done(note: str | None) -> None:
            if note is not None:
                self.do_ack(ids, note)

        self.push_screen(InputScreen(self.tr("ack.prompt", n=len(ids))), done)

    @work(group="actions", exit_on_error=False)
    async def do_ack(self, ids: list[int], note: str) -> None:
        assert self.api is not None
        table = self.current_table()
        ok = 0
        for alert_id in ids:
            try:
                view = await self.api.ack(alert_id, note)
            except ApiError as exc:
                self.notify(
                    self.error_text(exc), title=self.tr("error"), severity="error", markup=False
                )
                continue
            ok += 1
            self.state.put_alert(view)
        if table is not None:
            table.marked.clear()
        self.notify(self.tr("ack.done", n=ok), markup=False)
        self.flush()

    def action_silence(self) -> None:
        table = self.current_table()
        if not isinstance(table, AlertsTable) or not self.may("silence"):
            return
        alerts = [
            self.state.alerts[int(k)] for k in table.selected_keys() if int(k) in self.state.alerts
        ]
        if not alerts:
            return

        def done(value: str | None) -> None:
            if value is None:
                return
            try:
                minutes = float(value.strip() or "60")
                if not 0 < minutes <= 7 * 1440:
                    raise ValueError
            except ValueError:
                self.notify(self.tr("silence.bad"), severity="error", markup=False)
                return
            self.do_silence([a.key for a in alerts], minutes)

        self.push_screen(InputScreen(self.tr("silence.prompt", n=len(alerts)), "60"), done)

    @work(group="actions", exit_on_error=False)
    async def do_silence(self, keys: list[str], minutes: float) -> None:
        assert self.api is not None
        for key in keys:
            try:
                await self.api.silence({"key": key}, minutes * 60, "")
            except ApiError as exc:
                self.notify(
                    self.error_text(exc), title=self.tr("error"), severity="error", markup=False
                )
                return
        self.notify(self.tr("silence.done", n=len(keys)), markup=False)
