"""``eventops tui``: one screen for the whole event, k9s-style.

The app is a client of the engine's API (:mod:`eventops.tui.client`): it
loads who it is, follows the live stream and draws coalesced updates once per
refresh tick. What exists depends on the token's role (:data:`MUTATIONS`):
mutating bindings are added by ``bind_dangerous_keys`` only where the role may
use every one of them, never greyed out — technicians get acknowledge, silence
and maintenance and see the wall read-only; comms get the wall's decisions,
announcements and pause; an authority gets nothing but issuing and withdrawing
announcements, and the header shows a lock.

The wall (``:wall``) has no moderation stream: its queue and the announcement
are polled (rescheduled after each run) and re-read right after each action.

Keys: ``:`` command bar (with completion), ``/`` filter (``!`` inverts),
``esc`` back, ``?`` help, ``space`` mark rows, ``ctrl+p`` command palette.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.suggester import SuggestFromList
from textual.widgets import ContentSwitcher, DataTable, Footer, Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from eventops.errors import ApiError, EventOpsError
from eventops.tui.client import Api, DeviceDetail, LiveStream, StreamEvent, WallPost, WhoAmI
from eventops.tui.config import TuiConfig
from eventops.tui.i18n import Tr
from eventops.tui.probe_view import PROBE_ROLES, ProbeView, bind_probe_keys
from eventops.tui.safe import plain, strip_control
from eventops.tui.state import LiveState, device_state, sparkline
from eventops.tui.tables import (
    HEALTH_STYLE,
    AlertsTable,
    DevicesTable,
    LinksTable,
    RowTable,
    TimelineTable,
    WallTable,
    bind_dangerous_keys,
    fmt_time,
    localize_bindings,
    media_note,
    num,
    rule_note,
)

THEMES = {"dark": "textual-dark", "light": "textual-light", "terminal": "ansi-dark"}

VIEWS_BY_ROLE: dict[str, tuple[str, ...]] = {
    "technician": ("pulse", "masts", "devices", "links", "alerts", "timeline"),
    "authority": ("pulse", "devices", "links", "alerts"),
    "comms": ("none",),
}
TABLE_VIEWS = ("masts", "devices", "links", "alerts", "timeline", "wall")
WALL_VIEWERS = ("technician", "comms")
"""Roles that see the wall queue (technicians read-only)."""
WALL_STATES = ("pending", "approved", "all")
"""What the wall view cycles through with ``v``."""
WALL_DECISIONS = ("wall_approve", "wall_reject", "wall_pin", "wall_take_down", "wall_block")
MUTATIONS: dict[str, frozenset[str]] = {
    "technician": frozenset({"ack", "silence", "maintenance", "reboot"}),
    "comms": frozenset({*WALL_DECISIONS, "wall_undo", "announce", "withdraw", "pause_wall"}),
    "authority": frozenset({"announce", "withdraw"}),
}
"""What each role may change; a binding for anything else is never added."""
ALL_MUTATIONS = frozenset().union(*MUTATIONS.values())
BARS = frozenset({"cmd", "filter"})
"""The command bar and the filter (ids of their Inputs)."""
BAR_ACTIONS = frozenset({"command_bar", "filter"})
"""The ':' and '/' bindings: priority keys, but text inside a text field."""
ACTIVITY_EVENTS = frozenset({"provision", "provision.finished", "provision.failed", "probe.ended"})
"""Stream events after which the Pulse re-reads what runs (an apply, probes)."""


class PulseView(Static):
    """The event at a glance."""

    def show(self, state: LiveState, tr: Tr, app: EventOpsApp) -> None:
        th = app.config.thresholds
        t = Text(no_wrap=False)
        has_masts = any(d.kind == "mast" for d in state.devices.values())

        def line(label: str, parts: list[tuple[str, int, str]]) -> None:
            t.append(f"{label:<16}", style="bold")
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
        t.append(f"{tr('pulse.margin'):<16}", style="bold")
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
            t.append(f"{tr('pulse.clients'):<16}", style="bold")
            t.append(f"{state.wlan_clients():>4}\n")
        if state.wall_pending is not None and "wall" in app.views:
            t.append(f"{tr('pulse.wall'):<16}", style="bold")
            t.append(f"{state.wall_pending:>4} ", style="yellow" if state.wall_pending else "dim")
            t.append(tr("wall.state.pending"), style="" if state.wall_pending else "dim")
            if state.wall_paused:
                t.append(f"   ⏸ {tr('wall.paused')}", style="bold yellow")
            t.append("\n")
        if state.announcement is not None:
            ann = state.announcement
            t.append(f"{tr('pulse.announcement'):<16}", style="bold")
            t.append_text(plain(f"📣 {ann.title(tr.lang)}", "bold red"))
            t.append_text(plain(f" ({ann.issued_by or '-'})", "dim"))
            t.append("\n")
        run = state.running_apply
        if run is not None:
            t.append(f"{tr('pulse.apply'):<16}", style="bold")
            t.append(f"#{run.apply_id} {tr('pulse.kind.' + run.kind)} ", style="bold cyan")
            t.append(f"{run.done}/{run.total} ")
            t.append_text(plain(f"({run.actor})", "dim"))
            t.append("\n")
        for pr in state.running_probes:
            t.append(f"{tr('pulse.probe'):<16}", style="bold")
            t.append(f"{pr.kind} ", style="bold cyan")
            t.append_text(plain(pr.target))
            t.append_text(plain(f" ({pr.actor})", "dim"))
            t.append("\n")
        t.append(f"{tr('pulse.as_of'):<16}", style="bold")
        t.append(fmt_time(state.as_of, app.config.tz()))
        if not app.connected:
            t.append("  " + tr("stale"), style="bold yellow")
        self.update(t)


class DetailScreen(Screen[None]):
    """One device or link: facts, checks, its links, recent alerts, a chart."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "app.pop_screen", "back", id="detail.back")]

    def __init__(self, kind: str, key: str) -> None:
        super().__init__()
        self.kind = kind
        self.key = key
        self.history: dict[str, list[float]] = {}
        self.detail: DeviceDetail | None = None
        """The device's last polled status (radios, clients, interfaces, optics)."""

    def compose(self) -> ComposeResult:
        yield Static(id="top")
        yield Static(id="banner")
        with VerticalScroll():
            yield Static(id="detail-body")
        yield Footer()

    def on_mount(self) -> None:
        app = self.evo
        localize_bindings(self, app.tr)
        if self.kind == "device":
            for key, action in (("m", "maintenance"), ("R", "reboot")):
                if app.may(action):  # dangerous: absent for roles that may not
                    self._bindings.key_to_bindings.setdefault(key, []).append(
                        Binding(
                            key, f"app.{action}", app.tr(f"device.{action}"), id=f"device.{action}"
                        )
                    )
            self.refresh_bindings()
        app.paint_top(self)
        self.redraw()
        self.load_history()
        self.load_status()

    @work(exclusive=True, group="status")
    async def load_status(self) -> None:
        """Fetch the device's last polled status (again, after it changed)."""
        app = self.evo
        if self.kind != "device" or app.api is None:
            return
        try:
            self.detail = await app.api.device(self.key)
        except ApiError:
            return  # shown without it; the next change tries again
        self.redraw()

    @property
    def evo(self) -> EventOpsApp:
        assert isinstance(self.app, EventOpsApp)
        return self.app

    @work(exclusive=True, group="history")
    async def load_history(self) -> None:
        app = self.evo
        if self.kind != "device" or app.api is None:
            return
        ports = [
            end.port
            for lk in app.state.links.values()
            for end in (lk.a, lk.b)
            if end is not None and end.device == self.key
        ]
        metrics = ["clients.2g", "clients.5g", "load1", *(f"rx_dbm.{p}" for p in ports), "poll_s"]
        for metric in metrics:
            try:
                pts = await app.api.history(self.key, metric)
            except ApiError:
                continue
            if pts:
                self.history[metric] = [v for _, v in pts]
        self.redraw()

    def redraw(self) -> None:
        if not self.query("#detail-body"):
            return  # not composed yet (a refresh tick right after the push)
        app = self.evo
        tr, tz, st = app.tr, app.config.tz(), app.state
        t = Text()

        def row(label: str, value: Text | str) -> None:
            t.append(f"{tr(label):<18}", style="bold")
            t.append_text(value if isinstance(value, Text) else plain(value))
            t.append("\n")

        if self.kind == "device":
            d = st.devices.get(self.key)
            if d is None:
                t.append(tr("detail.gone"), style="yellow")
                self.query_one("#detail-body", Static).update(t)
                return
            ds = device_state(d)
            row("col.id", plain(d.id, "bold"))
            row("col.kind", d.kind)
            row("col.site", d.site or "-")
            row("col.state", plain(tr(f"state.{ds}"), HEALTH_STYLE[ds]))
            row("col.reason", d.error if d.reachable is False and d.error else d.reason)
            row("col.since", fmt_time(d.since, tz))
            row("col.clients", "-" if d.clients is None else str(d.clients))
            row("col.uptime", "-" if d.uptime_s is None else f"{d.uptime_s / 3600:.1f} h")
            row("detail.uplink", d.uplink or "-")
            row("detail.maintenance", tr("yes") if d.maintenance else tr("no"))
            row("detail.as_of", fmt_time(d.as_of, tz) + (f"  {tr('stale')}" if d.stale else ""))
            checks = d.checks
            links = [
                lk
                for lk in st.links.values()
                if self.key in (lk.a.device if lk.a else "", lk.b.device if lk.b else "")
            ]
        else:
            lk0 = st.links.get(self.key)
            if lk0 is None:
                t.append(tr("detail.gone"), style="yellow")
                self.query_one("#detail-body", Static).update(t)
                return
            row("col.id", plain(lk0.id, "bold"))
            row("col.name", lk0.name)
            row(
                "col.state",
                plain(
                    tr(f"state.{lk0.state}")
                    if lk0.state in ("up", "down", "degraded")
                    else tr("state.unknown"),
                    HEALTH_STYLE.get(lk0.state, "dim"),
                ),
            )
            row("col.reason", lk0.reason)
            row("col.since", fmt_time(lk0.since, tz))
            ends = " ↔ ".join(f"{e.device}:{e.port}" for e in (lk0.a, lk0.b) if e)
            row("detail.ends", ends)
            row(
                "detail.traffic",
                f"{num(lk0.in_mbps)} / {num(lk0.out_mbps)} Mbit/s, {num(lk0.utilisation_pct, '{:.0f}')} %",
            )
            row("col.rx", f"{num(lk0.rx_min)} dBm  {sparkline(st.rx.get(lk0.id, []), 20)}")
            row("col.margin", f"{num(lk0.margin_db)} dB")
            row("col.handed", lk0.handed_to or "-")
            if lk0.proof is not None:
                p = lk0.proof
                verdict = tr("yes") if p.passed else tr("no") if p.passed is False else "-"
                row(
                    "detail.proof",
                    f"{fmt_time(p.ts, tz)} {p.kind} {num(p.throughput_mbps)} Mbit/s ✓={verdict}",
                )
            else:
                row("detail.proof", "-")
            checks = lk0.checks
            links = []
        if self.history:
            t.append(f"\n{tr('detail.history')}\n", style="bold underline")
            for metric, vals in self.history.items():
                t.append(f"  {metric:<10} ")
                t.append(sparkline(vals, 40), style="cyan")
                t.append("\n")
        t.append(f"\n{tr('detail.checks')}\n", style="bold underline")
        for c in checks:
            t.append("  ")
            t.append(
                f"{tr('sev.' + c.level) if c.level != 'ok' else 'ok':<9}",
                style=HEALTH_STYLE.get(c.level, ""),
            )
            t.append_text(plain(f"{c.name}: {c.reason}"))
            t.append("\n")
        if self.kind == "device" and self.detail is not None:
            self._status_sections(t)
        if links:
            t.append(f"\n{tr('detail.links')}\n", style="bold underline")
            for lk in links:
                t.append("  ")
                t.append_text(plain(lk.id, "bold"))
                t.append(
                    f"  {tr('state.' + lk.state) if lk.state in ('up', 'down', 'degraded') else '-'}",
                    style=HEALTH_STYLE.get(lk.state, "dim"),
                )
                t.append(f"  rx {num(lk.rx_min)} dBm  {tr('col.margin')} {num(lk.margin_db)} dB\n")
        t.append(f"\n{tr('detail.alerts')}\n", style="bold underline")
        mine = [a for a in st.alerts.values() if a.subject == self.key]
        if not mine:
            t.append(f"  {tr('none')}\n", style="dim")
        for a in sorted(mine, key=lambda a: a.raised_at, reverse=True)[:10]:
            t.append(f"  {fmt_time(a.raised_at, tz)} ")
            t.append(f"{tr('sev.' + a.severity):<9}", style=HEALTH_STYLE[a.severity])
            t.append_text(plain(a.summary))
            t.append("\n")
        self.query_one("#detail-body", Static).update(t)

    def _status_sections(self, t: Text) -> None:
        """Facts, radios, clients, interfaces and optics from the last poll."""
        tr, det = self.evo.tr, self.detail
        assert det is not None

        def head(key: str) -> None:
            t.append(f"\n{tr(key)}\n", style="bold underline")

        def cols(values: list[tuple[object, int]], style: str = "") -> None:
            t.append("  ")
            for v, w in values:
                t.append_text(plain(f"{strip_control(v)[: abs(w)]:<{abs(w)}} ", style))
            t.append("\n")

        if det.facts is not None:
            f = det.facts
            head("detail.facts")
            cols([(f.hostname or "-", 24), (f.vendor, 12), (f.model, 20)])
            cols([(f.firmware or "-", 24), (f.serial or "-", 33)], "dim")
        if det.radios:
            head("detail.radios")
            cols(
                [(tr(k), w) for k, w in RADIO_COLS],
                "bold",
            )
            for r in det.radios:
                cols(
                    [
                        (r.name, 12),
                        (r.ssid, 20),
                        (r.band or "-", 4),
                        (num(r.channel, "{:.0f}"), 4),
                        (num(r.width_mhz, "{:.0f}"), 5),
                        (num(r.tx_power_dbm, "{:.0f}"), 5),
                        (num(r.noise_dbm, "{:.0f}"), 6),
                        (num(r.utilisation_pct, "{:.0f}"), 5),
                        (len(r.clients), 4),
                    ],
                    "" if r.up else "red",
                )
            clients = [(r, c) for r in det.radios for c in r.clients]
            head("detail.wlan_clients")
            if not clients:
                t.append(f"  {tr('none')}\n", style="dim")
            else:
                cols([(tr(k), w) for k, w in CLIENT_COLS], "bold")
            for r, c in sorted(clients, key=lambda rc: rc[1].signal_dbm or -200.0)[:50]:
                sig = c.signal_dbm
                style = "" if sig is None or sig >= -70 else "yellow" if sig >= -80 else "red"
                cols(
                    [
                        (c.mac, 18),
                        (r.name, 12),
                        (num(sig, "{:.0f}"), 6),
                        (num(None if c.rx_rate_kbps is None else c.rx_rate_kbps / 1000), 8),
                        (num(None if c.tx_rate_kbps is None else c.tx_rate_kbps / 1000), 8),
                    ],
                    style,
                )
        if det.interfaces:
            head("detail.interfaces")
            cols([(tr(k), w) for k, w in IFACE_COLS], "bold")
            for i in det.interfaces:
                up = i.oper_status.upper() == "UP"
                cols(
                    [
                        (i.name, 14),
                        (i.oper_status, 8),
                        (num(i.speed_mbps, "{:.0f}"), 7),
                        (i.in_errors + i.in_fcs_errors, 8),
                        (i.out_errors, 8),
                        (i.carrier_transitions, 6),
                    ],
                    "" if up else "yellow",
                )
        if det.optics:
            head("detail.optics")
            cols([(tr(k), w) for k, w in OPTIC_COLS], "bold")

            def lanes(v: tuple[float, ...]) -> str:
                return "/".join(f"{x:.1f}" for x in v) or "-"

            for o in det.optics:
                cols(
                    [
                        (o.port, 14),
                        (lanes(o.rx_power_dbm), 12),
                        (lanes(o.tx_power_dbm), 12),
                        (lanes(o.laser_bias_ma), 10),
                        (num(o.temperature_c), 6),
                        (num(o.margin_db), 7),
                        (o.link or "", 16),
                    ]
                )
                if o.peer is not None:
                    p = o.peer
                    cols([(f"  ↔ {p.device}:{p.port}", 60)], "dim")
                    cols(
                        [
                            ("", 14),
                            (lanes(p.rx_power_dbm), 12),
                            (lanes(p.tx_power_dbm), 12),
                            (lanes(p.laser_bias_ma), 10),
                            (num(p.temperature_c), 6),
                            (num(p.margin_db), 7),
                        ],
                        "dim",
                    )


RADIO_COLS = [
    ("detail.col.iface", 12),
    ("detail.col.ssid", 20),
    ("detail.col.band", 4),
    ("detail.col.channel", 4),
    ("detail.col.width", 5),
    ("detail.col.txpower", 5),
    ("detail.col.noise", 6),
    ("detail.col.util", 5),
    ("col.clients", 4),
]
CLIENT_COLS = [
    ("detail.col.mac", 18),
    ("detail.col.iface", 12),
    ("detail.col.signal", 6),
    ("detail.col.rx_rate", 8),
    ("detail.col.tx_rate", 8),
]
IFACE_COLS = [
    ("detail.col.iface", 14),
    ("detail.col.oper", 8),
    ("detail.col.speed", 7),
    ("detail.col.in_err", 8),
    ("detail.col.out_err", 8),
    ("detail.col.flaps", 6),
]
OPTIC_COLS = [
    ("detail.col.port", 14),
    ("detail.col.rx", 12),
    ("detail.col.tx", 12),
    ("detail.col.bias", 10),
    ("detail.col.temp", 6),
    ("col.margin", 7),
    ("detail.col.link", 16),
]


class Localized:
    """Screens translate their binding descriptions when mounted."""

    def _localize(self) -> None:
        assert isinstance(self, Screen)
        app = self.app
        if isinstance(app, EventOpsApp):
            localize_bindings(self, app.tr)


class InputScreen(Localized, ModalScreen[str | None]):
    """Asks for one line of text (a note, a duration); esc cancels."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "cancel", "cancel", id="dialog.cancel")]

    def __init__(self, prompt: str, value: str = "") -> None:
        super().__init__()
        self.prompt = prompt
        self.value = value

    def on_mount(self) -> None:
        self._localize()

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(plain(self.prompt))
            yield Input(value=self.value, id="dialog-input")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(Localized, ModalScreen[bool]):
    BINDINGS: ClassVar[list[Any]] = [
        Binding("y,j", "yes", "yes", id="dialog.yes"),
        Binding("n,escape", "no", "no", id="dialog.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def on_mount(self) -> None:
        self._localize()

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(plain(self.question))

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


class PickScreen(Localized, ModalScreen[str | None]):
    """Picks one of a few options (an announcement template); esc cancels."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "cancel", "cancel", id="dialog.cancel")]

    def __init__(self, prompt: str, options: list[tuple[str, Text]]) -> None:
        super().__init__()
        self.prompt = prompt
        self.options = options

    def on_mount(self) -> None:
        self._localize()
        self.query_one(OptionList).focus()

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(plain(self.prompt, "bold"))
            yield OptionList(*(Option(label, id=key) for key, label in self.options))

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(Localized, ModalScreen[None]):
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape,question_mark,q", "app.pop_screen", "close", id="help.close")
    ]

    def __init__(self, lines: list[tuple[str, str]], title: str) -> None:
        super().__init__()
        self.lines = lines
        self.title_text = title

    def on_mount(self) -> None:
        self._localize()

    def compose(self) -> ComposeResult:
        t = Text()
        t.append(self.title_text + "\n\n", style="bold")
        for key, desc in self.lines:
            t.append(f"{key:>10}  ", style="bold cyan")
            t.append_text(plain(desc))
            t.append("\n")
        with VerticalScroll(id="dialog"):
            yield Static(t, id="help-body")


class ViewCommands(Provider):
    """The views and commands in the command palette."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app = self.app
        assert isinstance(app, EventOpsApp)
        out: list[tuple[str, str, Callable[[], Any]]] = [
            (f"{app.tr('view.' + v)} (:{v})", app.tr("palette.view"), partial(app.show_view, v))
            for v in app.views
            if v != "none"
        ]
        for theme in THEMES:
            out.append((f"{app.tr('palette.theme')}: {theme}", "", partial(app.set_theme, theme)))
        return out

    async def discover(self) -> Hits:
        for name, help_text, cb in self._commands():
            yield DiscoveryHit(name, cb, help=help_text)

    async def search(self, query: str) -> AsyncIterator[Hit]:
        matcher = self.matcher(query)
        for name, help_text, cb in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), cb, help=help_text)


class EventOpsApp(App[None]):
    TITLE = "eventops"
    CSS = """
    #top { height: 1; background: $primary-background; color: $text; }
    #banner { height: auto; background: $error; color: $text; display: none; }
    #banner.shown { display: block; }
    #views { height: 1fr; }
    #views.stale { tint: $background 40%; }
    #cmd, #filter { display: none; height: 1; border: none; padding: 0 1; }
    #cmd.shown, #filter.shown { display: block; }
    PulseView { padding: 1 2; height: 1fr; }
    #none { padding: 1 2; }
    #wall-table { height: 1fr; }
    #wall-preview { height: auto; max-height: 12; border-top: solid $primary; padding: 0 1; }
    #dialog OptionList { height: auto; max-height: 12; }
    #detail-body { padding: 0 1; }
    #dialog { width: 70; max-width: 95%; height: auto; max-height: 90%; border: round $primary;
              background: $surface; padding: 0 1; }
    ModalScreen { align: center middle; }
    """
    COMMANDS: ClassVar[set[Any]] = App.COMMANDS | {ViewCommands}
    BINDINGS: ClassVar[list[Any]] = [
        # priority: taken when the key arrives, before keys queued behind it are
        # handed to the focused view (check_action passes them on to an Input)
        Binding(
            "colon", "command_bar", "command", id="app.command", key_display=":", priority=True
        ),
        Binding("slash", "filter", "filter", id="app.filter", key_display="/", priority=True),
        Binding("escape", "go_back", "back", id="app.back"),
        Binding("question_mark", "help", "help", id="app.help", key_display="?"),
        Binding("q", "quit", "quit", id="app.quit"),
    ]

    def __init__(self, api: Api | None, config: TuiConfig, *, animate: bool = False) -> None:
        super().__init__()
        self.api = api
        self.config = config
        self.tr = Tr(config.lang())
        self.state = LiveState(series_len=config.series_len)
        self.who: WhoAmI | None = None
        self.connected = False
        self.error = ""
        self.views: tuple[str, ...] = ("pulse",)
        self.current = "pulse"
        self.history: list[str] = []
        self.stream: LiveStream | None = None
        self.timeline_loaded = False
        self.wall_state = "pending"
        self.has_wall = False
        """The engine has the wall mounted (found out once the role is known)."""
        self.wall_undo: list[list[int]] = []
        """Decision ids of this session's wall actions, one list per keystroke."""
        self.ready = False
        """The role's views are mounted."""
        self.held: list[events.Key] | None = None
        """Keys typed behind an enter/esc that closes the bar: handed on once it is closed."""
        self.stream_listeners: list[Callable[[StreamEvent], None]] = []
        """Open screens that follow the live stream themselves (the Provision view)."""
        if not animate:
            self.animation_level = "none"
        localize_bindings(self, self.tr)
        self.set_keymap(config.keymap)

    @property
    def role(self) -> str | None:
        return self.who.role if self.who else None

    @property
    def read_only(self) -> bool:
        """Nothing to change but (for an authority) announcements: the header shows a lock.

        Comms change the wall: without one on this engine they are read-only too.
        """
        return not (self.role == "technician" or (self.role == "comms" and self.has_wall))

    def may(self, action: str) -> bool:
        """The token's role may do this mutating action."""
        return self.role is not None and action in MUTATIONS.get(self.role, frozenset())

    def mutates(self, table: RowTable[Any]) -> bool:
        """The table's dangerous keys are bound (every one of its actions is allowed)."""
        actions = [b.action.removeprefix("app.") for b in type(table).DANGEROUS]
        return bool(actions) and all(self.may(a) for a in actions)

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="top")
        yield Static(id="banner")
        with ContentSwitcher(initial="pulse", id="views"):
            yield PulseView(id="pulse")
        yield Input(id="cmd", placeholder=":", disabled=True)
        yield Input(id="filter", placeholder="/", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.theme = THEMES[self.config.theme]
        self.paint()
        self.set_interval(self.config.refresh_s, self.flush)
        if self.api is not None:
            self.connect()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A worker that failed unexpectedly becomes a titled notification, not a crash."""
        if event.state == WorkerState.ERROR and event.worker.error is not None:
            err = event.worker.error
            msg = (
                err.one_line() if isinstance(err, EventOpsError) else f"{type(err).__name__}: {err}"
            )
            self.notify(msg[:300], title=self.tr("error"), severity="error", markup=False)

    async def on_unmount(self) -> None:
        self.workers.cancel_all()
        if self.api is not None:
            await self.api.close()

    def set_theme(self, name: str) -> None:
        self.theme = THEMES[name]

    # -- connecting ------------------------------------------------------------------------------
    @work(exclusive=True, group="connect", exit_on_error=False)
    async def connect(self) -> None:
        assert self.api is not None
        attempt = 0
        while self.who is None:
            try:
                self.who = await self.api.whoami()
            except ApiError as exc:
                self.on_stream_state(False, exc.one_line())
                await asyncio.sleep(
                    self.config.backoff_s[min(attempt, len(self.config.backoff_s) - 1)]
                )
                attempt += 1
        await self.setup_role()
        self.stream = LiveStream(
            self.api, self.on_stream_event, self.on_stream_state, backoff_s=self.config.backoff_s
        )
        await self.stream.run()

    async def setup_role(self) -> None:
        assert self.who is not None
        self.views = VIEWS_BY_ROLE[self.who.role]
        has_wall = self.has_wall = await self.probe_wall()
        if has_wall and self.who.role in WALL_VIEWERS:
            self.views = (*(v for v in self.views if v != "none"), "wall")
        if self.who.role in PROBE_ROLES:
            self.views = (*(v for v in self.views if v != "none"), "probe")
        switcher = self.query_one("#views", ContentSwitcher)
        args = (self.state, self.tr, self.config.tz(), self.config.thresholds)
        widgets: list[Any] = []
        for v in self.views:
            if v == "masts":
                widgets.append(DevicesTable(*args, id="masts", kinds=frozenset({"mast"})))
            elif v == "devices":
                widgets.append(DevicesTable(*args, id="devices"))
            elif v == "links":
                widgets.append(LinksTable(*args, id="links"))
            elif v == "alerts":
                widgets.append(AlertsTable(*args, id="alerts"))
            elif v == "timeline":
                widgets.append(TimelineTable(*args, id="timeline"))
            elif v == "wall":
                widgets.append(
                    Vertical(
                        WallTable(*args, id="wall-table"), Static(id="wall-preview"), id="wall"
                    )
                )
            elif v == "probe":
                widgets.append(ProbeView(id="probe"))
            elif v == "none":
                widgets.append(Static(plain(self.tr("none.comms")), id="none"))
        for w in widgets:
            w.display = False  # the switcher shows one at a time
        await switcher.mount_all(widgets)
        for table in self.query(RowTable):
            if self.mutates(table):
                bind_dangerous_keys(table)
        if has_wall:
            self.bind_announcement_keys()
        if self.who.role in PROBE_ROLES:
            for pv in self.query(ProbeView):
                bind_probe_keys(pv)
        words = [*self.views, "help", "quit", *(f"theme {t}" for t in THEMES)]
        if self.who.role == "technician":
            words.append("provision")
        # the ":" that opened the bar may or may not land in it: complete both forms
        self.query_one("#cmd", Input).suggester = SuggestFromList(
            [*words, *(f":{w}" for w in words)], case_sensitive=False
        )
        if "none" in self.views:
            self.show_view("none")
        elif self.views == ("wall",):
            self.show_view("wall", remember=False)
        self.ready = True
        self.paint()
        if has_wall:
            self.poll_wall()
        self.refresh_activity()

    async def probe_wall(self) -> bool:
        """Whether the engine has the wall mounted (its announcements answer)."""
        if self.api is None:
            return False
        try:
            ann = await self.api.wall_announcements()
        except ApiError as exc:
            return exc.status != 404  # anything but "not here" is a passing problem
        self.state.set_announcements(ann.active, ann.templates, ann.paused)
        return True

    def bind_announcement_keys(self) -> None:
        """Announcements (comms, authorities) and pause (comms): only for roles that may."""
        keys = [
            Binding("n", "announce", self.tr("wall.announce"), id="wall.announce"),
            Binding("w", "withdraw", self.tr("wall.withdraw"), id="wall.withdraw"),
            Binding("P", "pause_wall", self.tr("wall.pause"), id="wall.pause", key_display="P"),
        ]
        for b in keys:
            if self.may(b.action):
                self._bindings.key_to_bindings.setdefault(b.key, []).append(b)
        self.refresh_bindings()

    @work(exclusive=True, group="wall-poll", exit_on_error=False)
    async def poll_wall(self) -> None:
        """The wall has no moderation stream: poll, rescheduled after each run (never overlaps)."""
        while True:
            await self.refresh_wall()
            await asyncio.sleep(self.config.wall_poll_s)

    async def refresh_wall(self) -> None:
        if self.api is None:
            return
        try:
            if "wall" in self.views:
                posts = await self.api.wall_queue(self.wall_state, limit=1000)
                if self.wall_state != "pending":
                    pending = len(await self.api.wall_queue("pending", limit=1000))
                else:
                    pending = len(posts)
                self.state.set_wall_posts(posts)
                self.state.set_wall_pending(pending)
            ann = await self.api.wall_announcements()
        except ApiError:
            return  # the connection banner tells; the next poll tries again
        self.state.set_announcements(ann.active, ann.templates, ann.paused)

    def on_stream_event(self, ev: StreamEvent) -> None:
        self.state.apply(ev)
        for listener in list(self.stream_listeners):
            listener(ev)
        if ev.type == "probe.progress":
            data = ev.data.get("data") or {}
            for pv in self.query(ProbeView):
                pv.on_progress(data)
            if data.get("phase") == "start":
                self.refresh_activity()
        elif ev.type in ACTIVITY_EVENTS:
            self.refresh_activity()

    @work(exclusive=True, group="activity", exit_on_error=False)
    async def refresh_activity(self) -> None:
        """The running apply and probe runs, for the Pulse (technicians only)."""
        if self.api is None or self.role != "technician":
            return
        try:
            apply = await self.api.provision_running()
        except ApiError as exc:
            if exc.status not in (403, 404):  # 404: no provisioning on this engine
                return
            apply = None
        try:
            probes = await self.api.probes_running()
        except ApiError as exc:
            if exc.status not in (403, 404):
                return
            probes = []
        self.state.set_activity(apply, probes)

    def on_stream_state(self, connected: bool, error: str) -> None:
        changed = connected != self.connected or error != self.error
        if connected and not self.connected and self.ready:
            self.refresh_activity()  # catch up on what started or ended meanwhile
        self.connected, self.error = connected, error
        if changed:
            self.paint()

    # -- drawing -----------------------------------------------------------------------------------
    def top_text(self) -> Text:
        tr = self.tr
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" eventops ", style="bold reverse")
        if self.who is not None:
            t.append(" ")
            t.append_text(plain(self.who.name, "bold"))
            t.append(f" · {tr('role.' + self.who.role)}")
            if self.read_only:
                t.append(f" 🔒 {tr('read_only')}", style="bold yellow")
        ann = self.state.announcement
        if ann is not None:
            t.append(" · ")
            t.append_text(plain(f"📣 {ann.title(tr.lang)}", "bold white on red"))
        if self.state.wall_pending is not None and "wall" in self.views:
            t.append(f" · {tr('header.wall', n=self.state.wall_pending)}")
            if self.state.wall_paused:
                t.append(f" ⏸ {tr('wall.paused')}", style="bold yellow")
        t.append(" · ")
        if self.connected:
            t.append(tr("conn.live"), style="green")
        else:
            t.append(tr("conn.lost") if self.who else tr("conn.connecting"), style="bold red")
        t.append(f" · {tr('pulse.as_of')} {fmt_time(self.state.as_of, self.config.tz())}")
        if not self.connected and self.state.as_of is not None:
            t.append(f" ({tr('stale')})", style="yellow")
        t.append(f" · {tr('view.' + self.current)}", style="bold")
        return t

    def paint_top(self, screen: Screen[Any]) -> None:
        for top in screen.query("#top"):
            assert isinstance(top, Static)
            top.update(self.top_text())
        for banner in screen.query("#banner"):
            assert isinstance(banner, Static)
            if self.connected or (self.who is None and not self.error):
                banner.remove_class("shown")
            else:
                msg = Text(" ⚠ ", style="bold")
                msg.append(self.tr("banner.lost"))
                msg.append_text(plain(f" ({self.error})" if self.error else ""))
                if self.state.as_of is not None:
                    msg.append(
                        " "
                        + self.tr("banner.stale", at=fmt_time(self.state.as_of, self.config.tz()))
                    )
                msg.append(" " + self.tr("banner.retry"))
                banner.update(msg)
                banner.add_class("shown")

    def paint(self) -> None:
        if not self.screen_stack:
            return
        self.paint_top(self.screen)
        if self.screen is not self.screen_stack[0]:
            self.paint_top(self.screen_stack[0])
        # query(), not query_one(): during shutdown the widgets may already be gone
        for views in self.query("#views"):
            views.set_class(not self.connected and self.who is not None, "stale")
        for pulse in self.query(PulseView):
            pulse.show(self.state, self.tr, self)

    def flush(self) -> None:
        """One refresh tick: draw what changed since the last one."""
        dirty = self.state.take_dirty()
        if not dirty:
            return
        self.paint()
        view = self.current
        for table in self.query(RowTable):
            if table.id != view or isinstance(table, TimelineTable):
                continue
            if isinstance(table, DevicesTable):
                table.sync(None if dirty.structure else dirty.devices)
            elif isinstance(table, LinksTable):
                table.sync(None if dirty.structure else dirty.links)
            elif isinstance(table, AlertsTable) and (dirty.alerts or dirty.structure):
                table.sync(None)
        if dirty.wall or dirty.structure:
            for wt in self.query(WallTable):
                wt.sync(None)
            self.show_preview()
        if view == "probe" and (dirty.links or dirty.structure):
            for pv in self.query(ProbeView):
                pv.sync_links()
                pv.redraw()
        if view == "timeline" and dirty.alerts:
            self.load_timeline()  # alerts are timeline entries: fetch the new ones
        if isinstance(self.screen, DetailScreen):
            key = self.screen.key
            if dirty.structure or dirty.alerts or key in dirty.devices or key in dirty.links:
                self.screen.redraw()
            if key in dirty.devices:
                self.screen.load_status()

    # -- views and navigation ----------------------------------------------------------------------
    def show_view(self, name: str, *, remember: bool = True) -> bool:
        if name not in self.views and name != "pulse":
            self.notify(self.tr("no_such_view", name=name), severity="warning", markup=False)
            return False
        while len(self.screen_stack) > 1:
            self.pop_screen()
        if remember and name != self.current:
            self.history.append(self.current)
        self.current = name
        self.query_one("#views", ContentSwitcher).current = name
        widget = self._table_in(name)
        if widget is not None:
            widget.sync(None)
            widget.focus()
        if name == "wall":
            self.show_preview()
        if name == "probe":
            for pv in self.query(ProbeView):
                pv.shown()
        if name == "timeline" and not self.timeline_loaded:
            self.action_reload_timeline()
        self.paint()
        return True

    def _table_in(self, name: str) -> RowTable[Any] | None:
        """The view's table (the view itself, or the table in it)."""
        if name not in TABLE_VIEWS:
            return None
        w = self.query_one(f"#{name}")
        if isinstance(w, RowTable):
            return w
        inner = w.query(RowTable)
        return inner.first() if inner else None

    def current_table(self) -> RowTable[Any] | None:
        return self._table_in(self.current)

    def action_command_bar(self) -> None:
        while len(self.screen_stack) > 1:  # the bar lives on the main screen
            self.pop_screen()
        cmd = self.query_one("#cmd", Input)
        cmd.value = ""
        self._open_input(cmd)

    def _open_input(self, inp: Input) -> None:
        """Show and focus the bar at once, so keys already queued behind the ``:`` or
        ``/`` (a burst from tmux send-keys, a paste) land in it: ``focus()`` would
        defer the change until after them, and they would go to the view below."""
        inp.disabled = False
        inp.add_class("shown")
        inp.screen.set_focus(inp)
        inp.cursor_position = len(inp.value)

    def action_filter(self) -> None:
        table = self.current_table()
        if table is None or len(self.screen_stack) > 1:
            return  # no table of the main screen in front to filter
        f = self.query_one("#filter", Input)
        f.value = table.filter_text
        self._open_input(f)

    async def on_event(self, event: events.Event) -> None:
        """Keys typed right behind the enter or esc that closes the bar (one burst from
        tmux send-keys, a paste) wait until it is closed and the view has the focus,
        instead of going into the closing bar."""
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self.held is not None:
                self.held.append(event)
                return
            f = self.focused
            if event.key in ("enter", "escape") and isinstance(f, Input) and f.id in BARS:
                self.held = []
                self.set_timer(1.0, self._release_keys)  # never hold on for long
        await super().on_event(event)

    def _release_soon(self) -> None:
        """After the focus changes already queued: hand on the keys held meanwhile."""
        self.call_later(self._release_keys)

    async def _release_keys(self) -> None:
        held, self.held = self.held, None
        while held:
            await self.on_event(held.pop(0))
            if self.held is not None:  # that key closes the bar again: keep the order
                self.held[:0] = held
                return

    def _hide_inputs(self) -> bool:
        hidden = False
        for inp in self.query("#cmd, #filter"):
            if inp.has_class("shown"):
                inp.remove_class("shown")
                inp.disabled = True
                hidden = True
        if hidden:
            table = self.current_table()
            if table is not None:
                table.focus()
        return hidden

    def action_go_back(self) -> None:
        if self._hide_inputs():
            self._release_soon()
            return
        if len(self.screen_stack) > 1:
            self.pop_screen()
            return
        table = self.current_table()
        if table is not None and table.filter_text:
            table.set_filter("")
            return
        if self.history:
            self.show_view(self.history.pop(), remember=False)

    @on(Input.Submitted, "#cmd")
    def run_command(self, event: Input.Submitted) -> None:
        try:
            self._run_command(event.value)
        finally:
            self._release_soon()

    def _run_command(self, value: str) -> None:
        text = value.strip().lstrip(":").strip()
        self._hide_inputs()
        if not text:
            return
        word, _, arg = text.partition(" ")
        word = word.lower()
        if word in ("q", "quit"):
            self.exit()
        elif word == "help":
            self.action_help()
        elif word == "theme" and arg in THEMES:
            self.set_theme(arg)
        elif word in self.views:
            self.show_view(word)
        elif word == "provision" and self.role == "technician":
            self.open_provision()
        else:
            self.notify(self.tr("unknown_command", cmd=text[:40]), severity="warning", markup=False)

    def open_provision(self) -> None:
        """The Provision view (technicians only): a screen of its own module."""
        from eventops.tui.provision import ProvisionScreen

        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(ProvisionScreen())

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        table = self.current_table()
        if table is not None:
            table.set_filter(event.value)

    @on(Input.Submitted, "#filter")
    def filter_done(self, event: Input.Submitted) -> None:
        f = self.query_one("#filter", Input)
        f.remove_class("shown")
        f.disabled = True
        table = self.current_table()
        if table is not None:
            table.focus()
        self._release_soon()

    def action_help(self) -> None:
        lines: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        for active in self.screen.active_bindings.values():
            b = active.binding
            if not b.description:
                continue
            item = (self.get_key_display(b), b.description)
            if item not in seen:
                seen.add(item)
                lines.append(item)
        lines.append(("ctrl+p", self.tr("help.palette")))
        cmds = ", ".join(f":{v}" for v in self.views if v != "none")
        lines.append((":", cmds))
        self.push_screen(HelpScreen(lines, self.tr("help.title")))

    @on(DataTable.RowSelected)
    def row_selected(self, event: DataTable.RowSelected) -> None:
        table = event.data_table
        key = None if event.row_key.value is None else str(event.row_key.value)
        if key is None:
            return
        if isinstance(table, DevicesTable):
            self.push_screen(DetailScreen("device", key))
        elif isinstance(table, LinksTable):
            self.push_screen(DetailScreen("link", key))
        elif isinstance(table, AlertsTable):
            self.action_goto()

    @on(DataTable.RowHighlighted, "#wall-table")
    def wall_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_preview()

    def show_preview(self) -> None:
        """The post under the cursor in full: text, author, media, the rule that decided."""
        tr = self.tr
        for preview in self.query("#wall-preview"):
            assert isinstance(preview, Static)
            table = self.query_one(WallTable)
            key = table.current_key()
            post = self.state.wall_posts.get(key) if key else None
            if post is None:
                preview.update(plain(tr("wall.empty"), "dim"))
                continue
            t = Text()
            t.append_text(plain(post.author_name or post.author, "bold"))
            t.append_text(plain(f"  {post.author}  ·  {post.source}  ·  ", "dim"))
            t.append(fmt_time(post.created_at, self.config.tz()), style="dim")
            t.append("  ")
            t.append(tr(f"wall.state.{post.state}") + (" 📌" if post.pinned else ""), style="bold")
            t.append("\n")
            t.append(strip_control(post.text))  # Text.append: never parsed as markup
            t.append("\n")
            t.append(f"{tr('col.media')}: ", style="bold")
            t.append_text(plain(media_note(post) or tr("none")))
            t.append(f"   {tr('col.rule')}: ", style="bold")
            t.append_text(plain(rule_note(post) or "-"))
            preview.update(t)

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

    # -- mutating actions (bound for technicians only) ----------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in BAR_ACTIONS:
            # ':' and '/' typed into a text field (the bar itself, a note) are text
            return not isinstance(self.focused, Input) and not isinstance(self.screen, ModalScreen)
        return action not in ALL_MUTATIONS or self.may(action)

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
                self.notify(exc.one_line(), title=self.tr("error"), severity="error", markup=False)
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
                self.notify(exc.one_line(), title=self.tr("error"), severity="error", markup=False)
                return
        self.notify(self.tr("silence.done", n=len(keys)), markup=False)

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
            self.notify(exc.one_line(), title=self.tr("error"), severity="error", markup=False)
            return
        self.notify(self.tr("reboot.sent", dev=device_id), markup=False)

    @work(group="actions", exit_on_error=False)
    async def do_maintenance(self, device_id: str, on: bool) -> None:
        assert self.api is not None
        try:
            await self.api.maintenance(device_id, on)
        except ApiError as exc:
            self.notify(exc.one_line(), title=self.tr("error"), severity="error", markup=False)

    # -- the wall (decisions for comms; announcements for comms and authorities) --------------------
    def action_wall_states(self) -> None:
        """Cycle which posts the wall view lists: pending, approved, all."""
        i = WALL_STATES.index(self.wall_state) if self.wall_state in WALL_STATES else 0
        self.wall_state = WALL_STATES[(i + 1) % len(WALL_STATES)]
        self.notify(
            self.tr("wall.showing", state=self.tr(f"wall.state.{self.wall_state}")),
            timeout=2,
            markup=False,
        )
        self.poll_wall()  # restart the poll: the new list at once

    def _wall_selection(self) -> list[WallPost]:
        table = self.current_table()
        if not isinstance(table, WallTable):
            return []
        return [
            self.state.wall_posts[k] for k in table.selected_keys() if k in self.state.wall_posts
        ]

    def action_wall_approve(self) -> None:
        self._wall_decide("approve")

    def action_wall_reject(self) -> None:
        self._wall_decide("reject")

    def action_wall_pin(self) -> None:
        self._wall_decide("pin")

    def action_wall_take_down(self) -> None:
        self._wall_decide("take_down")

    def _wall_decide(self, action: str) -> None:
        if not self.may("wall_" + action.removesuffix("_author")):
            return
        posts = self._wall_selection()
        if posts:
            self.do_wall_decide(posts, action)

    def action_wall_block(self) -> None:
        """Block the author of the post under the cursor (hides all their posts; undoable)."""
        if not self.may("wall_block"):
            return
        table = self.current_table()
        key = table.current_key() if isinstance(table, WallTable) else None
        post = self.state.wall_posts.get(key or "")
        if post is None:
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.do_wall_decide([post], "block_author")

        q = self.tr("wall.block_q", author=strip_control(post.author))
        self.push_screen(ConfirmScreen(q + " " + self.tr("confirm.yn")), done)

    @work(group="actions", exit_on_error=False)
    async def do_wall_decide(self, posts: list[WallPost], action: str) -> None:
        assert self.api is not None
        done: list[int] = []
        for post in posts:
            act = "unpin" if action == "pin" and post.pinned else action
            try:
                did = await self.api.wall_decide(post.id, act)
            except ApiError as exc:
                self.notify(exc.one_line(), title=self.tr("error"), severity="error", markup=False)
                continue
            if did is not None:
                done.append(did)
        if done:
            self.wall_undo.append(done)
        for table in self.query(WallTable):
            table.marked.clear()
        self.notify(
            self.tr("wall.done", n=len(done), action=self.tr(f"wall.did.{action}")), markup=False
        )
        await self.refresh_wall()
        self.flush()

    def action_wall_undo(self) -> None:
        if not self.may("wall_undo"):
            return
        if not self.wall_undo:
            self.notify(self.tr("wall.nothing_to_undo"), severity="warning", markup=False)
            return
        self.do_wall_undo(self.wall_undo.pop())

    @work(group="actions", exit_on_error=False)
    async def do_wall_undo(self, ids: list[int]) -> None:
        assert self.api is not None
        n = 0
        for did in reversed(ids):
            try:
                await self.api.wall_undo(did)
            except ApiError as exc:
                self.notify(exc.one_line(), title=self.tr("error"), severity="error", markup=False)
                continue
            n += 1
        self.notify(self.tr("wall.undone", n=n), markup=False)
        await self.refresh_wall()
        self.flush()

    def action_announce(self) -> None:
        """Pick one of the profile's templates, confirm, issue it on every screen."""
        if not self.may("announce"):
            return
        lang = self.tr.lang
        templates = {a.id: a for a in self.state.templates}
        if not templates:
            self.notify(self.tr("wall.no_templates"), severity="warning", markup=False)
            return
        options = []
        for a in templates.values():
            label = plain(a.title(lang), "bold")
            label.append_text(plain(f"  {a.text(lang)[:60]}", "dim"))
            options.append((a.id, label))

        def confirmed(yes: bool | None, ann_id: str) -> None:
            if yes:
                self.do_announce(ann_id)

        def picked(ann_id: str | None) -> None:
            if ann_id is None or ann_id not in templates:
                return
            q = self.tr("wall.announce_q", title=strip_control(templates[ann_id].title(lang)))
            self.push_screen(
                ConfirmScreen(q + " " + self.tr("confirm.yn")),
                partial(confirmed, ann_id=ann_id),
            )

        self.push_screen(PickScreen(self.tr("wall.pick"), options), picked)

    @work(group="actions", exit_on_error=False)
    async def do_announce(self, ann_id: str) -> None:
        assert self.api is not None
        try:
            await self.api.wall_issue(ann_id)
        except ApiError as exc:
            self.notify(exc.one_line(), title=self.tr("error"), severity="error", markup=False)
            return
        self.notify(self.tr("wall.announced"), markup=False)
        await self.refresh_wall()
        self.flush()

    def action_withdraw(self) -> None:
        if not self.may("withdraw"):
            return
        ann = self.state.announcement
        if ann is None:
            self.notify(self.tr("wall.no_announcement"), severity="warning", markup=False)
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.do_withdraw()

        q = self.tr("wall.withdraw_q", title=strip_control(ann.title(self.tr.lang)))
        self.push_screen(ConfirmScreen(q + " " + self.tr("confirm.yn")), done)

    @work(group="actions", exit_on_error=False)
    async def do_withdraw(self) -> None:
        assert self.api is not None
        try:
            await self.api.wall_withdraw()
        except ApiError as exc:
            self.notify(exc.one_line(), title=self.tr("error"), severity="error", markup=False)
            return
        self.notify(self.tr("wall.withdrawn"), markup=False)
        await self.refresh_wall()
        self.flush()

    def action_pause_wall(self) -> None:
        if not self.may("pause_wall"):
            return
        on = not self.state.wall_paused

        def done(yes: bool | None) -> None:
            if yes:
                self.do_pause(on)

        q = self.tr("wall.pause_q" if on else "wall.resume_q")
        self.push_screen(ConfirmScreen(q + " " + self.tr("confirm.yn")), done)

    @work(group="actions", exit_on_error=False)
    async def do_pause(self, on: bool) -> None:
        assert self.api is not None
        try:
            await self.api.wall_pause(on)
        except ApiError as exc:
            self.notify(exc.one_line(), title=self.tr("error"), severity="error", markup=False)
            return
        await self.refresh_wall()
        self.flush()

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


__all__ = ["EventOpsApp"]
