"""``eventops tui``: one screen for the whole event, k9s-style.

The app is a client of the engine's API (:mod:`eventops.tui.client`): it
loads who it is, follows the live stream and draws coalesced updates once per
refresh tick. What exists depends on the token's role (:data:`MUTATIONS`):
mutating bindings are added by ``bind_dangerous_keys`` only where the role may
use every one of them, never greyed out — technicians get acknowledge, silence
and maintenance and see the wall read-only; comms get the wall's decisions,
announcements and pause; an authority gets nothing but issuing and withdrawing
announcements, and the header shows a lock.

The wall (``:wall``): its queue and the announcement are re-read when the live
stream says the wall changed (``wall`` events) and right after each action.

Keys: ``:`` command bar (with completion), ``/`` filter (``!`` inverts),
``esc`` back, ``?`` help (this app's keys by view and role, every ``:``
command: :mod:`eventops.tui.discover`), ``space`` mark rows, ``ctrl+p`` command
palette (every view and every action of the role), ``q`` quit. ``q`` quits at
once — the app is only a client, the engine goes on — except inside ``eventops
demo`` (``confirm_quit``), where quitting ends the demo and so ``q`` asks first.
The key hints are :class:`~eventops.tui.keybar.KeyBar`, made for 80×24.

This module is the composition root: the views live in :mod:`eventops.tui.screens`
(one module each, with their actions as mixins over :class:`~eventops.tui.core.CoreApp`),
the dialogs in :mod:`eventops.tui.dialogs`; none of them imports this module.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import ContentSwitcher, DataTable, Input, Static
from textual.worker import Worker, WorkerState

from eventops.api.client import EngineUnreachable
from eventops.errors import ApiError, EventOpsError, Forbidden, NotAuthenticated
from eventops.tui import discover
from eventops.tui.client import LiveStream, StreamEvent, TokenRefused, token_refused
from eventops.tui.core import ALL_MUTATIONS, MUTATIONS, WALL_DECISIONS, CoreApp
from eventops.tui.dialogs import ConfirmScreen, HelpScreen
from eventops.tui.keybar import KeyBar
from eventops.tui.keyhold import KeyHold
from eventops.tui.safe import plain
from eventops.tui.screens.alerts import AlertActions, AlertsTable
from eventops.tui.screens.detail import DetailScreen
from eventops.tui.screens.devices import DeviceActions, DevicesTable
from eventops.tui.screens.links import HandoverActions, LinksTable
from eventops.tui.screens.map import MAP_ROLES, MapView
from eventops.tui.screens.probe import PROBE_ROLES, ProbeView, bind_probe_keys
from eventops.tui.screens.provision import ProvisionScreen
from eventops.tui.screens.pulse import PulseView
from eventops.tui.screens.timeline import TimelineActions, TimelineTable
from eventops.tui.screens.wall import WALL_STATES, WallActions, WallTable
from eventops.tui.tables import RowTable, bind_dangerous_keys

THEMES = {"dark": "textual-dark", "light": "textual-light", "terminal": "ansi-dark"}

VIEWS_BY_ROLE: dict[str, tuple[str, ...]] = {
    "technician": ("pulse", "masts", "devices", "links", "alerts", "timeline"),
    "authority": ("pulse", "devices", "links", "alerts"),
    "comms": ("none",),
}
WALL_VIEWERS = ("technician", "comms")
"""Roles that see the wall queue (technicians read-only)."""
BAR_ACTIONS = frozenset({"command_bar", "filter"})
"""The ':' and '/' bindings: priority keys, but text inside a text field."""
ACTIVITY_EVENTS = frozenset({"provision", "provision.finished", "provision.failed", "probe.ended"})
"""Stream events after which the Pulse re-reads what runs (an apply, probes)."""
STANDBY_ALERTS = "engine:standby:"
"""Alert keys (their prefix) after which the header re-reads the engines of the event."""


class ViewCommands(Provider):
    """The command palette: every view and ``:`` command, and every action the role may take
    (read from the keys bound for it, so the palette offers nothing the role cannot do)."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        app = self.app
        assert isinstance(app, EventOpsApp)
        tr = app.tr
        out: list[tuple[str, str, Callable[[], Any]]] = [
            (f"{tr('view.' + v)} (:{v})", tr("palette.view"), partial(app.show_view, v))
            for v in app.views
            if v != "none"
        ]
        if app.role == "technician":
            out.append(
                (f"{tr('view.provision')} (:provision)", tr("palette.view"), app.open_provision)
            )
        for label, key, view in discover.palette_actions(app, self.screen):
            out.append((label, tr("palette.action"), partial(app.palette_run, key, view)))
        out.append((f"{tr('app.help')} (:help, ?)", "", app.action_help))
        out.append((f"{tr('app.quit')} (:quit, q)", "", app.action_quit))
        for theme in THEMES:
            out.append((f"{tr('palette.theme')}: {theme}", "", partial(app.set_theme, theme)))
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


class EventOpsApp(
    AlertActions, DeviceActions, HandoverActions, TimelineActions, WallActions, KeyHold, CoreApp
):
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
    COMMANDS: ClassVar[set[Any]] = CoreApp.COMMANDS | {ViewCommands}
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

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="top")
        yield Static(id="banner")
        with ContentSwitcher(initial="pulse", id="views"):
            yield PulseView(id="pulse")
        yield Input(id="cmd", placeholder=":", disabled=True)
        yield Input(id="filter", placeholder="/", disabled=True)
        yield KeyBar()

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
        """Who am I, then the live stream; a refused token stops the app (:meth:`stop_fatal`)."""
        assert self.api is not None
        attempt = 0
        try:
            while self.who is None:
                try:
                    self.who = await self.api.whoami()
                except (NotAuthenticated, Forbidden) as exc:
                    raise token_refused(self.api.base_url, exc) from None
                except EngineUnreachable as exc:
                    self.alive, self.down_reason = False, exc.reason
                    self.on_stream_state(False, exc.reason)
                except ApiError as exc:
                    self.alive = None
                    self.on_stream_state(False, exc.one_line())
                if self.who is None:
                    await asyncio.sleep(
                        self.config.backoff_s[min(attempt, len(self.config.backoff_s) - 1)]
                    )
                    attempt += 1
            await self.setup_role()
            self.stream = LiveStream(
                self.api,
                self.on_stream_event,
                self.on_stream_state,
                backoff_s=self.config.backoff_s,
            )
            await self.stream.run()
        except TokenRefused as exc:
            self.stop_fatal(exc)

    def stop_fatal(self, exc: EventOpsError) -> None:
        """Stop with one line (the command prints ``fatal`` and exits non-zero): no retry loop."""
        self.fatal = exc
        self.exit(return_code=exc.exit_code)

    async def setup_role(self) -> None:
        assert self.who is not None
        self.views = VIEWS_BY_ROLE[self.who.role]
        has_wall = self.has_wall = await self.probe_wall()
        if has_wall and self.who.role in WALL_VIEWERS:
            self.views = (*(v for v in self.views if v != "none"), "wall")
        if self.who.role in PROBE_ROLES:
            self.views = (*(v for v in self.views if v != "none"), "probe")
        if self.who.role in MAP_ROLES:
            self.views = (*self.views, "map")
        switcher = self.query_one("#views", ContentSwitcher)
        args = (self.state, self.tr, self.event_tz(), self.config.thresholds)
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
            elif v == "map":
                widgets.append(MapView(id="map"))
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
        if self.who.role == "technician":
            self.refresh_engines()
            self.set_interval(self.config.engines_s, self.refresh_engines)

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
        elif ev.type == "wall" and self.has_wall:
            self.poll_wall()
        elif ev.type == "engine.active" or (
            ev.type.startswith("alert.")
            and str((ev.data.get("data") or {}).get("key", "")).startswith(STANDBY_ALERTS)
        ):
            self.refresh_engines()  # a take-over, or the standby went or came back
        self.note_timeline_event(ev)

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
        if self.stream is not None:
            self.alive, self.down_reason = self.stream.alive, self.stream.down_reason
        changed = connected != self.connected or error != self.error
        if connected and not self.connected and self.ready:
            self.refresh_activity()  # catch up on what started or ended meanwhile
            self.refresh_engines()  # perhaps another engine now (a take-over)
            if self.has_wall:
                self.poll_wall()  # a fresh snapshot carries no wall events
        self.connected, self.error = connected, error
        for listener in list(self.state_listeners):
            listener()
        if changed:
            self.paint()

    # -- drawing -----------------------------------------------------------------------------------
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
        if not self.screen_stack:
            return  # shutting down: a tick after the screens are gone
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
        if view == "map" and (dirty.devices or dirty.links or dirty.structure):
            for mv in self.query(MapView):
                mv.sync()
        if view == "timeline" and (dirty.alerts or self.timeline_stale):
            self.load_timeline()  # alerts and actions are timeline entries: fetch the new ones
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
        if name == "timeline" and (not self.timeline_loaded or self.timeline_stale):
            self.load_timeline()  # all of it the first time, then what is new
        self.refresh_bindings()  # the key bar: e.g. "/" only where a table is in front
        self.paint()
        return True

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
            self.paint()
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
            self.call_later(self.action_quit)
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
        """The Provision view (technicians only): ``screens.provision``."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.push_screen(ProvisionScreen())

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        table = self.current_table()
        if table is not None:
            table.set_filter(event.value)
            self.paint()  # the header shows the active filter

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
        """This app's keys: this view's, the role's, everywhere, the commands, the other views."""
        if isinstance(self.screen, HelpScreen):
            return
        self.push_screen(HelpScreen(discover.help_sections(self), self.tr("help.title")))

    def palette_run(self, key: discover.Key, view: str | None) -> None:
        """Run an action chosen in the palette, in its view (shown first)."""
        if view is not None and view != self.current:
            self.show_view(view)
        self.call_later(self.run_action, key.action, key.node)

    async def action_quit(self) -> None:
        """q: quits; inside ``eventops demo`` it asks first (quitting ends the demo)."""
        if not self.confirm_quit:
            self.exit()
            return
        if isinstance(self.screen, ConfirmScreen):
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen(self.tr("quit.demo_q") + " " + self.tr("confirm.yn")), done)

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

    # -- mutating actions (bound for technicians only) ----------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in BAR_ACTIONS:
            # ':' and '/' typed into a text field (the bar itself, a note) are text
            if isinstance(self.focused, Input) or isinstance(self.screen, ModalScreen):
                return False
            # a filter only where a table of the main screen is in front
            return action != "filter" or (
                self.screen is self.screen_stack[0] and self.current_table() is not None
            )
        return action not in ALL_MUTATIONS or self.may(action)


__all__ = ["ALL_MUTATIONS", "MUTATIONS", "WALL_DECISIONS", "WALL_STATES", "EventOpsApp"]
