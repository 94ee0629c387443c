"""The row tables of the terminal app: masts/devices, links, alerts, timeline.

Each table knows how to turn one item into cells (always :class:`Text`, so
nothing from the engine is parsed as markup) and keeps the cells it drew:
:meth:`RowTable.sync` redraws only the cells of rows that changed, and
rebuilds only when the set or order of visible rows changed (a new device, a
filter, a re-sort).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar
from zoneinfo import ZoneInfo

from rich.text import Text
from textual.binding import Binding
from textual.dom import DOMNode
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from eventops.tui.client import AlertView, DeviceView, LinkView, TimelineEntry, WallPost
from eventops.tui.config import Thresholds
from eventops.tui.i18n import Tr
from eventops.tui.safe import plain
from eventops.tui.state import LiveState, device_state, sparkline

ItemT = TypeVar("ItemT")

HEALTH_STYLE = {
    "ok": "green",
    "up": "green",
    "warning": "yellow",
    "degraded": "yellow",
    "critical": "bold red",
    "down": "bold red",
    "unknown": "dim",
    "info": "cyan",
}


def fmt_time(ts: datetime | None, tz: ZoneInfo | None) -> str:
    if ts is None:
        return "-"
    return ts.astimezone(tz).strftime("%H:%M:%S")


def num(v: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if v is None else fmt.format(v)


def localize_bindings(node: DOMNode, tr: Tr) -> None:
    """Binding descriptions from the string table, by binding id."""
    for bindings in node._bindings.key_to_bindings.values():
        for i, b in enumerate(bindings):
            if b.id:
                bindings[i] = Binding(
                    b.key,
                    b.action,
                    tr(b.id),
                    show=b.show,
                    key_display=b.key_display,
                    priority=b.priority,
                    id=b.id,
                )


def bind_dangerous_keys(table: RowTable[Any]) -> None:
    """Add the table's mutating bindings; read-only roles never call this."""
    for b in type(table).DANGEROUS:
        translated = Binding(b.key, b.action, table.tr(b.id or b.action), id=b.id)
        table._bindings.key_to_bindings.setdefault(b.key, []).append(translated)
    table.refresh_bindings()


class RowTable(DataTable[Text], Generic[ItemT]):
    """A sortable, filterable table of items keyed by id, redrawn cell by cell."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("space", "mark", "mark", id="row.mark", show=False),
        Binding("s", "sort", "sort", id="row.sort"),
    ]
    DANGEROUS: ClassVar[list[Binding]] = []
    COLUMNS: ClassVar[list[tuple[str, str]]] = []
    """(column key, i18n key of the label)."""
    SORTS: ClassVar[list[str]] = ["id"]

    def __init__(
        self,
        state: LiveState,
        tr: Tr,
        tz: ZoneInfo | None,
        thresholds: Thresholds,
        *,
        id: str,
    ) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.state = state
        self.tr = tr
        self.tz = tz
        self.th = thresholds
        self.filter_text = ""
        self.sort_by = self.SORTS[0]
        self.marked: set[str] = set()
        self._order: list[str] = []
        self._cells: dict[str, tuple[Text, ...]] = {}
        self._index: dict[str, int] = {}
        self._pending: set[str] = set()
        """Changed rows not drawn yet because they are out of sight."""
        self.rebuilds = 0
        localize_bindings(self, tr)

    def on_mount(self) -> None:
        for key, label in self.COLUMNS:
            self.add_column(plain(self.tr(label) if label else ""), key=key)
        self.sync(None)

    # -- what a subclass provides ------------------------------------------------------------
    def items(self) -> Mapping[str, ItemT]:
        raise NotImplementedError

    def cells(self, key: str, item: ItemT) -> tuple[Text, ...]:
        raise NotImplementedError

    def sort_key(self, key: str, item: ItemT) -> Any:
        return key

    def search_text(self, key: str, item: ItemT) -> str:
        return key

    # -- syncing ----------------------------------------------------------------------------
    def visible_keys(self) -> list[str]:
        items = self.items()
        text = self.filter_text
        invert = text.startswith("!")
        needle = (text[1:] if invert else text).lower()
        keys = [
            k
            for k, it in items.items()
            if not needle or ((needle in self.search_text(k, it).lower()) != invert)
        ]
        keys.sort(key=lambda k: (self.sort_key(k, items[k]), k))
        return keys

    def mark_cell(self, key: str) -> Text:
        return Text("●" if key in self.marked else " ", style="bold magenta")

    def sync(self, changed: Iterable[str] | None) -> None:
        """Redraw changed rows (None: everything may have changed).

        Rows scrolled out of sight are only noted; they are drawn when they
        scroll into view (:meth:`watch_scroll_y`).
        """
        if not self.is_mounted:
            return
        order = self.visible_keys()
        items = self.items()
        if order != self._order:
            self._rebuild(order, items)
            return
        lo, hi = self.window()
        for key in self._order if changed is None else changed:
            if key not in items or key not in self._cells:
                continue
            if not lo <= self._index[key] < hi:
                self._pending.add(key)
                continue
            self._draw_row(key, items[key])

    def window(self) -> tuple[int, int]:
        """Row indexes on screen (with a margin of one screen either way)."""
        h = max(self.size.height, 1)
        top = int(self.scroll_y)
        return max(0, top - h), top + 2 * h

    def _draw_row(self, key: str, item: ItemT) -> None:
        self._pending.discard(key)
        new = (self.mark_cell(key), *self.cells(key, item))
        old = self._cells[key]
        for (col, _), a, b in zip(self.COLUMNS, old, new, strict=True):
            if a != b:
                # grow the column only past its widest cell: for anything else
                # textual re-measures the whole column (quadratic on big tables)
                grow = b.cell_len > self.columns[ColumnKey(col)].content_width
                self.update_cell(key, col, b, update_width=grow)
        self._cells[key] = new

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if not self._pending:
            return
        lo, hi = self.window()
        items = self.items()
        for key in [k for k in self._pending if lo <= self._index.get(k, -1) < hi]:
            if key in items and key in self._cells:
                self._draw_row(key, items[key])
            else:
                self._pending.discard(key)

    def _rebuild(self, order: list[str], items: Mapping[str, ItemT]) -> None:
        self.rebuilds += 1
        cur = self.current_key()
        self.clear()
        self._cells = {}
        for key in order:
            row = (self.mark_cell(key), *self.cells(key, items[key]))
            self._cells[key] = row
            self.add_row(*row, key=key)
        self._order = order
        self._index = {k: i for i, k in enumerate(order)}
        self._pending.clear()
        if cur in self._cells:
            self.move_cursor(row=self.get_row_index(cur), animate=False)

    def current_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            rk = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # no valid cursor
            return None
        return None if rk.value is None else str(rk.value)

    def selected_keys(self) -> list[str]:
        """Marked rows that are still shown, else the row under the cursor."""
        marked = [k for k in self._order if k in self.marked]
        if marked:
            return marked
        cur = self.current_key()
        return [cur] if cur else []

    def set_filter(self, text: str) -> None:
        self.filter_text = text
        self.sync(None)

    def action_mark(self) -> None:
        key = self.current_key()
        if key is None:
            return
        self.marked.symmetric_difference_update({key})
        self.sync([key])
        self.action_cursor_down()

    def action_sort(self) -> None:
        i = self.SORTS.index(self.sort_by)
        self.sort_by = self.SORTS[(i + 1) % len(self.SORTS)]
        self.app.notify(
            self.tr("sorted_by", col=self.tr(f"col.{self.sort_by}")), timeout=2, markup=False
        )
        self.sync(None)


HEALTH_ORDER = {
    "down": 0,
    "critical": 0,
    "degraded": 1,
    "warning": 1,
    "unknown": 2,
    "up": 3,
    "ok": 3,
}


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

    def __init__(self, *args: Any, kinds: frozenset[str] | None = None, **kw: Any) -> None:
        self.kinds = kinds
        super().__init__(*args, **kw)

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
        reason = d.error if d.reachable is False and d.error else d.reason
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
        return f"{key} {d.kind} {d.site or ''} {d.health} {d.reason} {d.error}"


class LinksTable(RowTable[LinkView]):
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("mark", ""),
        ("id", "col.id"),
        ("name", "col.name"),
        ("state", "col.state"),
        ("util", "col.util"),
        ("util_trend", "col.trend"),
        ("rx", "col.rx"),
        ("rx_trend", "col.trend"),
        ("margin", "col.margin"),
        ("handed", "col.handed"),
    ]
    SORTS: ClassVar[list[str]] = ["state", "id", "margin"]

    def items(self) -> Mapping[str, LinkView]:
        return self.state.links

    def margin_style(self, m: float | None) -> str:
        if m is None:
            return "dim"
        if m < self.th.margin_crit_db:
            return "bold red"
        if m < self.th.margin_warn_db:
            return "yellow"
        return "green"

    def util_style(self, u: float | None) -> str:
        if u is None:
            return "dim"
        if u >= self.th.util_crit_pct:
            return "bold red"
        if u >= self.th.util_warn_pct:
            return "yellow"
        return ""

    def cells(self, key: str, lk: LinkView) -> tuple[Text, ...]:
        return (
            plain(lk.id, "bold"),
            plain(lk.name),
            plain(
                self.tr(f"state.{lk.state}")
                if lk.state in ("up", "down", "degraded")
                else self.tr("state.unknown"),
                HEALTH_STYLE.get(lk.state, "dim"),
            ),
            plain(num(lk.utilisation_pct, "{:.0f}%"), self.util_style(lk.utilisation_pct)),
            plain(sparkline(self.state.util.get(key, []), 8), "cyan"),
            plain(num(lk.rx_min)),
            plain(sparkline(self.state.rx.get(key, []), 8), "cyan"),
            plain(num(lk.margin_db), self.margin_style(lk.margin_db)),
            plain(lk.handed_to or "-"),
        )

    def sort_key(self, key: str, lk: LinkView) -> Any:
        if self.sort_by == "state":
            return HEALTH_ORDER.get(lk.state, 2)
        if self.sort_by == "margin":
            return lk.margin_db if lk.margin_db is not None else 1e9
        return key

    def search_text(self, key: str, lk: LinkView) -> str:
        return f"{key} {lk.name} {lk.state} {lk.reason} {lk.handed_to or ''}"


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

    def items(self) -> Mapping[str, AlertView]:
        return {str(k): a for k, a in self.state.alerts.items()}

    def cells(self, key: str, a: AlertView) -> tuple[Text, ...]:
        sev = self.tr(f"sev.{a.severity}") + (" 🔕" if a.silenced else "")
        return (
            plain(sev, HEALTH_STYLE[a.severity]),
            plain(a.subject, "bold"),
            plain(a.summary[:80]),
            plain(fmt_time(a.raised_at, self.tz)),
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
        return f"{a.severity} {a.subject} {a.summary} {a.acked_by or ''} {a.ack_note or ''}"


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
            plain(fmt_time(e.ts, self.tz)),
            plain(e.kind),
            plain(e.subject, "bold"),
            plain(e.text[:100]),
        )

    def sort_key(self, key: str, e: TimelineEntry) -> Any:
        if self.sort_by == "subject":
            return e.subject
        return -e.ts.timestamp()

    def search_text(self, key: str, e: TimelineEntry) -> str:
        return f"{e.kind} {e.subject} {e.text}"


WALL_STYLE = {
    "pending": "yellow",
    "approved": "green",
    "rejected": "dim",
    "hidden": "dim",
    "taken_down": "bold red",
}


def rule_note(p: WallPost) -> str:
    """Who or which rule decided last, and why."""
    d = p.last_decision
    if d is None:
        return ""
    who = d.actor.removeprefix("rule:")
    return f"{who}: {d.reason}" if d.reason else who


def media_note(p: WallPost) -> str:
    kinds = p.media_kinds()
    return ", ".join(f"{n}× {k}" for k, n in sorted(Counter(kinds).items()))


class WallTable(RowTable[WallPost]):
    """The wall's moderation queue; the mutating keys are bound for comms only."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("v", "app.wall_states", "states", id="wall.states"),
    ]
    DANGEROUS: ClassVar[list[Binding]] = [
        Binding("a", "app.wall_approve", "approve", id="wall.approve"),
        Binding("r", "app.wall_reject", "reject", id="wall.reject"),
        Binding("p", "app.wall_pin", "pin", id="wall.pin"),
        Binding("t", "app.wall_take_down", "take down", id="wall.take_down"),
        Binding("b", "app.wall_block", "block author", id="wall.block"),
        Binding("u", "app.wall_undo", "undo", id="wall.undo"),
    ]
    COLUMNS: ClassVar[list[tuple[str, str]]] = [
        ("mark", ""),
        ("time", "col.time"),
        ("state", "col.state"),
        ("author", "col.author"),
        ("text", "col.text"),
        ("media", "col.media"),
        ("rule", "col.rule"),
    ]
    SORTS: ClassVar[list[str]] = ["time", "author"]

    def items(self) -> Mapping[str, WallPost]:
        return self.state.wall_posts

    def cells(self, key: str, p: WallPost) -> tuple[Text, ...]:
        state = self.tr(f"wall.state.{p.state}") + (" 📌" if p.pinned else "")
        return (
            plain(fmt_time(p.created_at, self.tz)),
            plain(state, WALL_STYLE.get(p.state, "")),
            plain(p.author.split(":", 1)[-1], "bold"),
            plain(p.text[:60]),
            plain(media_note(p) or "-", "dim"),
            plain(rule_note(p)[:40], "dim"),
        )

    def sort_key(self, key: str, p: WallPost) -> Any:
        if self.sort_by == "author":
            return p.author
        return p.created_at.timestamp()

    def search_text(self, key: str, p: WallPost) -> str:
        return f"{p.author} {p.author_name} {p.text} {p.state} {rule_note(p)}"


TableFactory = Callable[..., RowTable[Any]]
