"""The row table every list view builds on, and the helpers the views share.

The tables themselves live with their views (``eventops.tui.screens.devices``,
``links``, ``alerts``, ``timeline``, ``wall``).

Each table knows how to turn one item into cells (always :class:`Text`, so
nothing from the engine is parsed as markup) and keeps the cells it drew:
:meth:`RowTable.sync` redraws only the cells of rows that changed, and
rebuilds only when the set or order of visible rows changed (a new device, a
filter, a re-sort).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual.binding import Binding
from textual.dom import DOMNode
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from eventops import i18n, timefmt
from eventops.tui.config import Thresholds
from eventops.tui.i18n import Tr
from eventops.tui.safe import plain
from eventops.tui.state import LiveState

ItemT = TypeVar("ItemT")
Layout = tuple[tuple[str, ...], tuple[tuple[str, int], ...]]
"""The columns shown, and the width of each (narrowed to fit, or its widest cell).

Every column gets its width from us, none is left to textual's auto width: that
is measured when the table next goes idle, so a picture taken right after a
rebuild showed the new rows in columns as wide as their headings ("pendi" for
"pending")."""

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


TIME_COLUMNS = frozenset({"since", "ts", "time", "created"})
"""Columns that show a time of day: their heading names the event's zone."""


def fmt_time(ts: datetime | None, tz: tzinfo | None, *, zone: bool = True) -> str:
    """``14:03:12 CEST`` in the event's zone (``zone=False``: in a column whose heading names it)."""
    return timefmt.clock(ts, tz or UTC, show_zone=zone)


def msg_text(
    tr: Tr, tz: tzinfo | None, msg_id: str | None, params: Mapping[str, Any], fallback: str
) -> str:
    """A check's or alert's message in the app's language.

    In English it is the engine's own text (rendered from the same catalogue, and for a
    failed poll with the full detail: URL, the device's words); otherwise the catalogue's,
    and the engine's English when the engine sent no message id or one this version does
    not know."""
    if tr.lang == "en" and fallback:
        return fallback
    return i18n.render(msg_id, params, tr.lang, tz or UTC, fallback)


def term(tr: Tr, value: str) -> str:
    """A term of the engine's (probe kind, state …) in the app's language, if the catalogue
    has it (``term.<value>``), else as it is."""
    entry = i18n.MESSAGES.get(f"term.{value}")
    return entry[tr.lang] if entry and tr.lang in entry else value


def oper_text(tr: Tr, status: str) -> str:
    """An interface's OpenConfig oper-status (``UP``, ``DOWN`` …) in the app's language."""
    key = f"oper.{status.upper()}"
    return tr(key) if key in tr.keys else status


def device_reason(tr: Tr, tz: tzinfo | None, d: Any) -> str:
    """Why a device is in its state: the poll error when unreachable, else its health reason."""
    if d.reachable is False and d.error:
        return msg_text(tr, tz, d.error_id, d.error_params, d.error)
    return msg_text(tr, tz, d.reason_id, d.reason_params, d.reason)


def link_reason(tr: Tr, tz: tzinfo | None, lk: Any) -> str:
    return msg_text(tr, tz, lk.reason_id, lk.reason_params, lk.reason)


def alert_text(tr: Tr, tz: tzinfo | None, a: Any) -> str:
    return msg_text(tr, tz, a.msg_id, a.params, a.summary)


def check_text(tr: Tr, tz: tzinfo | None, c: Any) -> str:
    return msg_text(tr, tz, c.msg_id, c.params, c.reason)


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
    SHRINK: ClassVar[dict[str, int]] = {}
    """Text columns that may be narrowed (to at least this many cells) when the table
    is wider than the terminal; their text is cut."""
    DROP: ClassVar[tuple[str, ...]] = ()
    """Columns left out, first to last, when narrowing is not enough (low priority first);
    the others always stay."""
    SORTS: ClassVar[list[str]] = ["id"]

    def __init__(
        self,
        state: LiveState,
        tr: Tr,
        tz: tzinfo | None,
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
        self._natural: dict[str, int] = {}
        """The widest cell (or label) of each column."""
        self._layout: Layout | None = None
        """The columns shown and the widths of the narrowed ones."""
        self._zone = ""
        localize_bindings(self, tr)

    def on_mount(self) -> None:
        self._zone = ""
        self._name_zone()
        self.sync(None)

    def _name_zone(self) -> None:
        """Time columns show hh:mm:ss; their heading names the event's zone as of the data
        (CEST or CET: the label follows a change of daylight saving time)."""
        zone = timefmt.zone_label(self.zone_ref() or datetime.now(UTC), self.tz or UTC)
        if zone == self._zone:
            return
        self._zone = zone
        for key, _ in self.COLUMNS:
            col = self.columns.get(ColumnKey(key))
            if key in TIME_COLUMNS and col is not None:
                col.label = self.label(key)
                col.content_width = max(col.content_width, col.label.cell_len)
        self._clear_caches()
        self._require_update_dimensions = True
        self.refresh()

    def on_resize(self) -> None:
        if self.is_mounted and self._layout is not None and self.fit() != self._layout:
            self._rebuild(self._order, self.items())

    # -- fitting the columns to the width ----------------------------------------------------
    def label(self, col: str) -> Text:
        lab = dict(self.COLUMNS)[col]
        if col in TIME_COLUMNS and lab and self._zone:
            return plain(f"{self.tr(lab)} ({self._zone})")
        return plain(self.tr(lab) if lab else "")

    def shown_columns(self) -> list[str]:
        """The columns on screen (the others were left out for want of width)."""
        return [] if self._layout is None else list(self._layout[0])

    def fit(self) -> Layout:
        """Which columns are shown, and how wide each is, at this width."""
        cols = [c for c, _ in self.COLUMNS]
        nat = {c: max(self._natural.get(c, 0), self.label(c).cell_len, 1) for c in cols}
        width = self.size.width
        if len(self._order) + 1 > self.size.height:
            width -= self.styles.scrollbar_size_vertical
        pad = 2 * self.cell_padding

        def least(c: str) -> int:
            return min(nat[c], self.SHRINK[c]) if c in self.SHRINK else nat[c]

        if self.size.width <= 0 or sum(nat[c] + pad for c in cols) <= width:
            return (tuple(cols), tuple(sorted((c, nat[c]) for c in cols)))
        for drop in (None, *self.drop_order()):
            if drop is not None:
                cols.remove(drop)
            if sum(least(c) + pad for c in cols) <= width:
                break
        shrink = [c for c in cols if c in self.SHRINK]
        widths = {c: least(c) for c in shrink}
        spare = width - sum((widths.get(c) or nat[c]) + pad for c in cols)
        while spare > 0 and any(widths[c] < nat[c] for c in shrink):
            for c in shrink:
                if spare > 0 and widths[c] < nat[c]:
                    widths[c] += 1
                    spare -= 1
        return (tuple(cols), tuple(sorted(({c: nat[c] for c in cols} | widths).items())))

    def drop_order(self) -> tuple[str, ...]:
        return self.DROP

    def _measure(self, row: tuple[Text, ...]) -> bool:
        """Note the row's cell widths; whether a column got wider."""
        grew = False
        for (col, _), cell in zip(self.COLUMNS, row, strict=True):
            if cell.cell_len > self._natural.get(col, 0):
                self._natural[col] = cell.cell_len
                grew = True
        return grew

    # -- what a subclass provides ------------------------------------------------------------
    def zone_ref(self) -> datetime | None:
        """The time whose zone (CET or CEST) the time columns name: the data's."""
        return self.state.as_of

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
        self._name_zone()
        order = self.visible_keys()
        items = self.items()
        if order != self._order or self._layout is None:
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
        self._cells[key] = new
        if self._measure(new) and self.fit() != self._layout:
            self._rebuild(self._order, self.items())  # a wider cell changes what fits
            return
        shown = self.shown_columns()
        for (col, _), a, b in zip(self.COLUMNS, old, new, strict=True):
            if a != b and col in shown:
                # widths are ours (a wider cell rebuilt above): textual measures nothing
                self.update_cell(key, col, b, update_width=False)

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
        self._cells = {}
        self._natural = {}
        for key in order:
            row = (self.mark_cell(key), *self.cells(key, items[key]))
            self._cells[key] = row
            self._measure(row)
        self._order = order
        layout = self.fit()
        if layout != self._layout:
            self.clear(columns=True)
            widths = dict(layout[1])
            for col in layout[0]:
                self.add_column(self.label(col), key=col, width=widths[col])
            self._layout = layout
        else:
            self.clear()
        index = [i for i, (col, _) in enumerate(self.COLUMNS) if col in layout[0]]
        for key in order:
            row = self._cells[key]
            self.add_row(*(row[i] for i in index), key=key)
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
