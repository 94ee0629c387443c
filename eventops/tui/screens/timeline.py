"""The timeline view: alerts, decisions and actions in order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding

from eventops.errors import ApiError
from eventops.tui.client import TimelineEntry
from eventops.tui.core import CoreApp
from eventops.tui.safe import plain
from eventops.tui.tables import RowTable, fmt_time, msg_text


class TimelineTable(RowTable[TimelineEntry]):
    BINDINGS: ClassVar[list[Any]] = [
        Binding("r", "app.reload_timeline", "reload", id="timeline.reload"),
    ]
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("mark", ""),
        ("ts", "col.time"),
        ("kind", "col.kind"),
        ("subject", "col.subject"),
        ("text", "col.text"),
    ]
    SORTS: ClassVar[list[str]] = ["ts", "subject"]
    SHRINK: ClassVar[dict[str, int]] = {"text": 20, "kind": 10, "subject": 10}

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.entries: dict[str, TimelineEntry] = {}

    def set_entries(self, entries: list[TimelineEntry]) -> None:
        self.entries = {f"{i:06d}": e for i, e in enumerate(entries)}
        self.sync(None)

    def items(self) -> Mapping[str, TimelineEntry]:
        return self.entries

    def cells(self, key: str, e: TimelineEntry) -> tuple[Text, ...]:
        return (
            plain(fmt_time(e.ts, self.tz, zone=False)),
            plain(self.tr(f"tl.{e.kind}") if f"tl.{e.kind}" in self.tr.keys else e.kind),
            plain(e.subject, "bold"),
            plain(self.entry_text(e)[:100]),
        )

    def sort_key(self, key: str, e: TimelineEntry) -> Any:
        if self.sort_by == "subject":
            return e.subject
        return -e.ts.timestamp()

    def search_text(self, key: str, e: TimelineEntry) -> str:
        return f"{e.kind} {e.subject} {self.entry_text(e)}"

    def entry_text(self, e: TimelineEntry) -> str:
        """An alert's entry in the app's language (other entries as the engine wrote them)."""
        msg_id, params = e.data.get("msg_id"), e.data.get("params")
        if e.kind not in ("alert.raised", "alert.cleared") or not isinstance(msg_id, str):
            return e.text
        text = msg_text(self.tr, self.tz, msg_id, params if isinstance(params, dict) else {}, "")
        if not text:
            return e.text
        if e.kind == "alert.cleared":
            return self.tr("timeline.cleared", text=text)
        sev = e.data.get("severity")
        return f"{self.tr('sev.' + sev)}: {text}" if isinstance(sev, str) else text


class TimelineActions(CoreApp):
    """Loading the timeline (on first show, ``r``, and when alerts change)."""

    def action_reload_timeline(self) -> None:
        self.load_timeline()

    @work(exclusive=True, group="timeline", exit_on_error=False)
    async def load_timeline(self) -> None:
        if self.api is None or "timeline" not in self.views:
            return
        try:
            entries = await self.api.timeline()
        except ApiError as exc:
            self.notify(exc.one_line(), title=self.tr("error"), severity="error", markup=False)
            return
        self.timeline_loaded = True
        for table in self.query(TimelineTable):
            table.set_entries(entries)
