"""The timeline view: alerts, decisions and actions in order, live.

Entries are keyed by what they are (time, kind, subject, text), not by their
position: a reload or a new entry keeps the cursor on the entry it was on. The
first load fetches everything; after that, stream events that make timeline
entries (alerts, probes, handovers, silences, maintenance, reboots, applies,
moderation, reloads) fetch only what is newer than the newest entry shown, and
append it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding

from eventops.errors import ApiError
from eventops.tui.client import StreamEvent, TimelineEntry
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
        """Replace every entry (a full reload)."""
        self.entries = {entry_key(e): e for e in entries}
        self.sync(None)

    def add_entries(self, entries: list[TimelineEntry]) -> int:
        """Add the entries not shown yet; how many were new."""
        new = {k: e for e in entries if (k := entry_key(e)) not in self.entries}
        if new:
            self.entries.update(new)
            self.sync(None)
        return len(new)

    def newest(self) -> TimelineEntry | None:
        return max(self.entries.values(), key=lambda e: e.ts, default=None)

    def items(self) -> Mapping[str, TimelineEntry]:
        return self.entries

    def cells(self, key: str, e: TimelineEntry) -> tuple[Text, ...]:
        return (
            plain(fmt_time(e.ts, self.tz, zone=False)),
            plain(self.kind_text(e.kind)),
            plain(e.subject, "bold"),
            plain(self.entry_text(e)[:100]),
        )

    def sort_key(self, key: str, e: TimelineEntry) -> Any:
        if self.sort_by == "subject":
            return e.subject
        return -e.ts.timestamp()

    def search_text(self, key: str, e: TimelineEntry) -> str:
        return f"{e.kind} {e.subject} {self.entry_text(e)}"

    def kind_text(self, kind: str) -> str:
        """What an entry is, in the app's language (an audited action's kind: "audit", its
        action is in the text)."""
        key = "tl.audit" if kind.startswith("audit:") else f"tl.{kind}"
        if key not in self.tr.keys:
            return kind
        return kind if self.tr.lang == "en" and key == "tl.audit" else self.tr(key)

    def entry_text(self, e: TimelineEntry) -> str:
        """An entry in the app's language: rendered from its message id (the engine's
        English text when it has none, or one this version does not know)."""
        msg_id, params = e.data.get("msg_id"), e.data.get("params")
        if not isinstance(msg_id, str):
            return e.text
        params = params if isinstance(params, dict) else {}
        if e.kind not in ("alert.raised", "alert.cleared"):
            return msg_text(self.tr, self.tz, msg_id, params, e.text)
        text = msg_text(self.tr, self.tz, msg_id, params, "")
        if not text:
            return e.text
        if e.kind == "alert.cleared":
            return self.tr("timeline.cleared", text=text)
        sev = e.data.get("severity")
        return f"{self.tr('sev.' + sev)}: {text}" if isinstance(sev, str) else text


def entry_key(e: TimelineEntry) -> str:
    """What an entry is, as its row key (stable across reloads)."""
    return f"{e.ts.isoformat()}|{e.kind}|{e.subject}|{e.text}"


TIMELINE_EVENTS = frozenset(
    {
        "handover",
        "silence",
        "silence.removed",
        "maintenance",
        "device.reboot",
        "probe",
        "reload",
        "wall",
        "provision.finished",
        "provision.failed",
    }
)
"""Stream events (besides ``alert.*``) after which the timeline has new entries."""
OVERLAP = timedelta(seconds=1)
"""An incremental fetch starts this much before the newest entry shown (entries
written in the same instant); duplicates are dropped by key."""


class TimelineActions(CoreApp):
    """Loading the timeline: all of it on first show and on ``r``; the new entries after
    stream events that make some (:data:`TIMELINE_EVENTS`, ``alert.*``)."""

    timeline_stale = False
    """A stream event made new entries that are not fetched yet."""

    def note_timeline_event(self, ev: StreamEvent) -> None:
        if ev.type in TIMELINE_EVENTS or ev.type.startswith("alert."):
            self.timeline_stale = True

    def action_reload_timeline(self) -> None:
        self.load_timeline(full=True)

    @work(exclusive=True, group="timeline", exit_on_error=False)
    async def load_timeline(self, full: bool = False) -> None:
        if self.api is None or "timeline" not in self.views:
            return
        tables = list(self.query(TimelineTable))
        newest = tables[0].newest() if tables and self.timeline_loaded and not full else None
        self.timeline_stale = False
        try:
            if newest is None:
                entries = await self.api.timeline()
            else:
                entries = await self.api.timeline(since=newest.ts - OVERLAP)
        except ApiError as exc:
            self.timeline_stale = True
            self.notify(
                self.error_text(exc), title=self.tr("error"), severity="error", markup=False
            )
            return
        self.timeline_loaded = True
        for table in tables:
            if newest is None:
                table.set_entries(entries)
            else:
                table.add_entries(entries)
