"""The Pulse: the event at a glance (masts, links, margin, alerts, wall, runs).

Under the counts, the worst items by name with their reason (down before
degraded); ``up``/``down`` pick one, ``enter`` opens it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

from eventops.tui.core import Host, host
from eventops.tui.i18n import Tr
from eventops.tui.safe import plain
from eventops.tui.screens.detail import DetailScreen
from eventops.tui.state import LiveState, device_state
from eventops.tui.tables import HEALTH_STYLE, device_reason, fmt_time, link_reason

WORST_SHOWN = 6
"""How many of the worst items the Pulse lists by name."""


@dataclass(frozen=True)
class Worst:
    kind: str
    """device or link (what enter opens)."""
    key: str
    state: str
    """down, unreachable or degraded."""
    reason: str


def worst_items(state: LiveState, tr: Tr, tz: tzinfo | None) -> list[Worst]:
    """Devices and links that are down (or unreachable) or degraded, worst first, with
    their reason in the app's language."""
    out: list[tuple[int, str, Worst]] = []
    for d in state.devices.values():
        ds = device_state(d)
        if ds not in ("down", "degraded"):
            continue
        word = "unreachable" if d.reachable is False else ds
        reason = device_reason(tr, tz, d)
        out.append((0 if ds == "down" else 1, d.id, Worst("device", d.id, word, reason)))
    for lk in state.links.values():
        if lk.state not in ("down", "degraded"):
            continue
        rank = 0 if lk.state == "down" else 1
        out.append((rank, lk.id, Worst("link", lk.id, lk.state, link_reason(tr, tz, lk))))
    out.sort(key=lambda x: (x[0], x[1]))
    return [w for _, _, w in out]


class PulseView(Static, can_focus=True):
    """The event at a glance."""

    BINDINGS: ClassVar[list[Any]] = [
        Binding("down,j", "pick(1)", "", show=False),
        Binding("up,k", "pick(-1)", "", show=False),
        Binding("enter", "open_worst", "open", id="pulse.open"),
    ]

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.worst: list[Worst] = []
        self.picked = 0

    def on_show(self) -> None:
        self.focus()

    def action_pick(self, delta: int) -> None:
        n = min(len(self.worst), WORST_SHOWN)
        if n:
            self.picked = (self.picked + delta) % n
            app = host(self)
            self.show(app.state, app.tr, app)

    def action_open_worst(self) -> None:
        """Open the picked worst item's detail (device or link)."""
        if 0 <= self.picked < len(self.worst):
            w = self.worst[self.picked]
            self.app.push_screen(DetailScreen(w.kind, w.key))

    def _worst_lines(self, t: Text, state: LiveState, tr: Tr, w: int) -> None:
        picked = self.worst[self.picked].key if self.picked < len(self.worst) else None
        self.worst = worst_items(state, tr, host(self).config.tz())
        keys = [x.key for x in self.worst]
        self.picked = keys.index(picked) if picked in keys else 0
        if not self.worst:
            return
        t.append(f"{tr('pulse.worst'):<{w}}", style="bold")
        for i, item in enumerate(self.worst[:WORST_SHOWN]):
            if i:
                t.append(" " * w)
            style = "bold red" if item.state in ("down", "unreachable") else "yellow"
            mark = "▶ " if i == self.picked else "  "
            t.append(mark, style="bold")
            t.append_text(plain(item.key, style + (" reverse" if mark.strip() else "")))
            word = tr("state." + item.state)
            t.append(f" {word}", style=style)
            if item.reason:
                # one line each: the reason is cut to what the width leaves
                room = (self.content_region.width or 80) - w - 2 - len(item.key) - len(word) - 3
                reason = f": {item.reason}"
                t.append_text(
                    plain(reason if len(reason) <= room else reason[: max(room - 1, 8)] + "…")
                )
            t.append("\n")
        if len(self.worst) > WORST_SHOWN:
            t.append(
                " " * (w + 2) + tr("pulse.more", n=len(self.worst) - WORST_SHOWN) + "\n", "dim"
            )

    def show(self, state: LiveState, tr: Tr, app: Host) -> None:
        th = app.config.thresholds
        t = Text(no_wrap=False)
        has_masts = any(d.kind == "mast" for d in state.devices.values())
        # the widest label plus a space: no label runs into its value in any language
        w = 1 + max(
            len(tr(k))
            for k in (
                "pulse.masts",
                "pulse.links",
                "pulse.margin",
                "pulse.alerts",
                "pulse.clients",
                "pulse.wall",
                "pulse.announcement",
                "pulse.apply",
                "pulse.probe",
                "pulse.as_of",
                "pulse.worst",
            )
        )

        def line(label: str, parts: list[tuple[str, int, str]]) -> None:
            t.append(f"{label:<{w}}", style="bold")
            for name, n, style in parts:
                t.append(f"{n:>4} ", style=style if n else "dim")
                t.append(f"{name}   ", style="dim" if not n else "")
            t.append("\n")

        if has_masts:
            m = state.mast_counts()
            line(
                tr("pulse.masts"),
                [(tr(f"state.{k}"), m[k], HEALTH_STYLE[k]) for k in ("up", "degraded", "down")],
            )
        lc = state.link_counts()
        line(
            tr("pulse.links"),
            [(tr(f"state.{k}"), lc[k], HEALTH_STYLE[k]) for k in ("up", "degraded", "down")],
        )
        self._worst_lines(t, state, tr, w)
        worst = state.min_margin()
        t.append(f"{tr('pulse.margin'):<{w}}", style="bold")
        if worst is None:
            t.append("-\n", style="dim")
        else:
            lid, mdb = worst
            style = (
                "bold red"
                if mdb < th.margin_crit_db
                else "yellow"
                if mdb < th.margin_warn_db
                else "green"
            )
            t.append(f"{mdb:.1f} dB ", style=style)
            t.append_text(plain(f"({lid})", "dim"))
            t.append("\n")
        ac = state.alert_counts()
        line(
            tr("pulse.alerts"),
            [(tr(f"sev.{k}"), ac[k], HEALTH_STYLE[k]) for k in ("critical", "warning", "info")],
        )
        if has_masts:
            t.append(f"{tr('pulse.clients'):<{w}}", style="bold")
            t.append(f"{state.wlan_clients():>4}\n")
        if state.wall_pending is not None and "wall" in app.views:
            t.append(f"{tr('pulse.wall'):<{w}}", style="bold")
            t.append(f"{state.wall_pending:>4} ", style="yellow" if state.wall_pending else "dim")
            t.append(tr("wall.state.pending"), style="" if state.wall_pending else "dim")
            if state.wall_paused:
                t.append(f"   ⏸ {tr('wall.paused')}", style="bold yellow")
            t.append("\n")
        if state.announcement is not None:
            ann = state.announcement
            t.append(f"{tr('pulse.announcement'):<{w}}", style="bold")
            t.append_text(plain(f"📣 {ann.title(tr.lang)}", "bold red"))
            t.append_text(plain(f" ({ann.issued_by or '-'})", "dim"))
            t.append("\n")
        run = state.running_apply
        if run is not None:
            t.append(f"{tr('pulse.apply'):<{w}}", style="bold")
            t.append(f"#{run.apply_id} {tr('pulse.kind.' + run.kind)} ", style="bold cyan")
            t.append(f"{run.done}/{run.total} ")
            t.append_text(plain(f"({run.actor})", "dim"))
            t.append("\n")
        for pr in state.running_probes:
            t.append(f"{tr('pulse.probe'):<{w}}", style="bold")
            t.append(f"{pr.kind} ", style="bold cyan")
            t.append_text(plain(pr.target))
            t.append_text(plain(f" ({pr.actor})", "dim"))
            t.append("\n")
        t.append(f"{tr('pulse.as_of'):<{w}}", style="bold")
        t.append(fmt_time(state.as_of, app.event_tz()))
        if not app.connected:
            t.append("  " + tr("stale"), style="bold yellow")
        self.update(t)
