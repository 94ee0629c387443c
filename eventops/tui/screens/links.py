"""The links view: fibre and radio links with margin, traffic and proof; the handover.

``h`` (technicians only, on the table and on a link's detail) hands the link
over to one of the authorities it is tagged for: pick the authority, confirm,
and the engine decides. A refusal (409: no fresh reading, or no proof newer
than the last change) is shown with the engine's reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding

from eventops.errors import ApiError
from eventops.tui.client import LinkView
from eventops.tui.core import CoreApp
from eventops.tui.dialogs import ConfirmScreen, PickScreen
from eventops.tui.safe import plain, strip_control
from eventops.tui.screens.detail import DetailScreen
from eventops.tui.state import sparkline
from eventops.tui.tables import HEALTH_ORDER, HEALTH_STYLE, RowTable, link_reason, msg_text, num


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
    DANGEROUS: ClassVar[list[Binding]] = [
        Binding("h", "app.handover", "hand over", id="link.handover"),
    ]
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


class HandoverActions(CoreApp):
    """``h``: hand the link under the cursor (or in the detail screen) over."""

    def _handover_link(self) -> str | None:
        screen = self.screen
        if isinstance(screen, DetailScreen):
            return screen.key if screen.kind == "link" else None
        table = self.current_table()
        return table.current_key() if isinstance(table, LinksTable) else None

    def action_handover(self) -> None:
        if not self.may("handover"):
            return
        key = self._handover_link()
        lk = self.state.links.get(key or "")
        if lk is None:
            return
        if not lk.authorities:
            self.notify(self.tr("handover.none", link=lk.id), severity="warning", markup=False)
            return
        options = [
            (a, plain(a + ("  ← " + self.tr("handover.current") if a == lk.handed_to else "")))
            for a in lk.authorities
        ]

        def confirmed(yes: bool | None, to: str) -> None:
            if yes:
                self.do_handover(lk.id, to)

        def picked(to: str | None) -> None:
            if to is None or to not in lk.authorities:
                return
            q = self.tr("handover.q", link=strip_control(lk.name or lk.id), to=strip_control(to))
            self.push_screen(
                ConfirmScreen(q + " " + self.tr("confirm.yn")), partial(confirmed, to=to)
            )

        self.push_screen(PickScreen(self.tr("handover.pick", link=lk.id), options), picked)

    @work(group="actions", exit_on_error=False)
    async def do_handover(self, link_id: str, to: str) -> None:
        assert self.api is not None
        try:
            row = await self.api.handover(link_id, to)
        except ApiError as exc:
            title = self.tr("handover.refused") if exc.status == 409 else self.tr("error")
            # the engine's reason in the app's language when it sent it as a message
            why = strip_control(
                msg_text(self.tr, self.event_tz(), exc.msg_id, exc.params, exc.one_line())
            )
            self.last_handover_error = why
            self.notify(why[:300], title=title, severity="error", markup=False)
            return
        self.last_handover_error = ""
        self.notify(self.tr("handover.done", link=link_id, to=to, id=row.id or "-"), markup=False)
