"""The links view: fibre and radio links with margin, traffic and proof."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text

from eventops.tui.client import LinkView
from eventops.tui.safe import plain
from eventops.tui.state import sparkline
from eventops.tui.tables import HEALTH_ORDER, HEALTH_STYLE, RowTable, link_reason, num


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
    SHRINK: ClassVar[dict[str, int]] = {"name": 10, "handed": 9}
    DROP: ClassVar[tuple[str, ...]] = ("rx_trend", "util_trend", "rx")
    """Margin and Handed-to always stay: they are what a link is handed over on."""

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
        reason = link_reason(self.tr, self.tz, lk)
        return f"{key} {lk.name} {lk.state} {reason} {lk.handed_to or ''}"
