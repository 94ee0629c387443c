"""The Pulse: the event at a glance (masts, links, margin, alerts, wall, runs)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from eventops.tui.core import Host
from eventops.tui.i18n import Tr
from eventops.tui.safe import plain
from eventops.tui.state import LiveState
from eventops.tui.tables import HEALTH_STYLE, fmt_time


class PulseView(Static):
    """The event at a glance."""

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
