"""The app's shared state, and the protocol the views reach it through.

Views and screens (``eventops.tui.screens``) never import the app class: they
reach it through :class:`Host` (``host(self)``), which names only what they
use. The per-view action mixins (``screens.*.…Actions``) extend
:class:`CoreApp`; ``eventops.tui.app.EventOpsApp`` composes them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, Protocol, cast

from rich.text import Text
from textual import events, work
from textual.app import App
from textual.dom import DOMNode
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Static

from eventops import timefmt
from eventops.errors import ApiError, EventOpsError
from eventops.tui.client import Api, Engines, LiveStream, StreamEvent, WhoAmI
from eventops.tui.config import TuiConfig
from eventops.tui.i18n import Tr
from eventops.tui.safe import plain
from eventops.tui.state import LiveState
from eventops.tui.tables import RowTable, fmt_time, localize_bindings, msg_text

TABLE_VIEWS = ("masts", "devices", "links", "alerts", "timeline", "wall")
WALL_DECISIONS = ("wall_approve", "wall_reject", "wall_pin", "wall_take_down", "wall_block")
MUTATIONS: dict[str, frozenset[str]] = {
    "technician": frozenset({"ack", "silence", "maintenance", "reboot", "handover"}),
    "comms": frozenset({*WALL_DECISIONS, "wall_undo", "announce", "withdraw", "pause_wall"}),
    "authority": frozenset({"announce", "withdraw"}),
}
"""What each role may change; a binding for anything else is never added."""
ALL_MUTATIONS = frozenset().union(*MUTATIONS.values())


class Host(Protocol):
    """What a view or screen asks of the app (satisfied by :class:`CoreApp`)."""

    api: Api | None
    config: TuiConfig
    tr: Tr
    state: LiveState
    views: tuple[str, ...]
    connected: bool
    alive: bool | None
    down_reason: str
    stream_listeners: list[Callable[[StreamEvent], None]]
    state_listeners: list[Callable[[], None]]

    @property
    def role(self) -> str | None: ...

    def may(self, action: str) -> bool: ...

    def event_tz(self) -> tzinfo: ...

    def error_text(self, exc: EventOpsError) -> str: ...

    def paint_top(self, screen: Screen[Any]) -> None: ...

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...


def host(node: DOMNode) -> Host:
    """The running app of a view, typed by what views use (no import of the app class)."""
    return cast(Host, node.app)


class CoreApp(App[None]):
    """The app's state and what every view and action asks of it."""

    def __init__(
        self,
        api: Api | None,
        config: TuiConfig,
        *,
        animate: bool = False,
        confirm_quit: bool = False,
    ) -> None:
        super().__init__()
        self.confirm_quit = confirm_quit
        """q asks first (inside ``eventops demo``, where quitting ends the demo)."""
        self.alive: bool | None = None
        """While disconnected: whether the engine answers its health check (None: unknown)."""
        self.down_reason = ""
        """Why the engine does not answer (``alive`` False)."""
        self.fatal: EventOpsError | None = None
        """Why the app stopped by itself (a refused token): the command prints it."""
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
        self.hold_no = 0
        """Keys typed behind an enter/esc that closes the bar: handed on once it is closed."""
        self.stream_listeners: list[Callable[[StreamEvent], None]] = []
        """Open screens that follow the live stream themselves (the Provision view)."""
        self.state_listeners: list[Callable[[], None]] = []
        """Open screens told each time the stream is lost, the engine checked, or it is back
        (``connected``, ``alive``, ``down_reason`` hold the news)."""
        self.engines: Engines | None = None
        """Which engine answers and whether the event has a live standby (technicians:
        ``/api/v1/engines``; None for other roles, or before it was read)."""
        self.last_handover_error = ""
        """The engine's reason for the last refused handover (shown as a notification)."""
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

    def event_tz(self) -> tzinfo:
        """The event's zone, as the engine reports it: every time shown is in it.

        Before the engine answered (or from an engine that does not say): the
        config's ``timezone``, else the machine's own zone."""
        local = datetime.now().astimezone().tzinfo or UTC
        fallback = self.config.tz() or local
        tz_name = self.who.timezone if self.who is not None else None
        return timefmt.zone(tz_name, fallback)

    def error_text(self, exc: EventOpsError) -> str:
        """An error as one line in the app's language: the catalogue's text when the engine
        sent its message id, else the engine's (English) words."""
        return msg_text(self.tr, self.event_tz(), exc.msg_id, exc.params, exc.one_line())

    def may(self, action: str) -> bool:
        """The token's role may do this mutating action."""
        return self.role is not None and action in MUTATIONS.get(self.role, frozenset())

    def mutates(self, table: RowTable[Any]) -> bool:
        """The table's dangerous keys are bound (every one of its actions is allowed)."""
        actions = [b.action.removeprefix("app.") for b in type(table).DANGEROUS]
        return bool(actions) and all(self.may(a) for a in actions)

    def view_title(self, screen: Screen[Any] | None = None) -> str:
        """The name of what the screen shows: its own ``view_title()``, else the current view."""
        title = getattr(screen, "view_title", None)
        if callable(title):
            return str(title())
        return self.tr("view." + self.current)

    def indicators(self, screen: Screen[Any] | None = None) -> list[str]:
        """What narrows the view on the main screen: the wall's list, an active filter."""
        if screen is not None and screen is not self.screen_stack[0]:
            return []
        out: list[str] = []
        if self.current == "wall":
            out.append(self.tr("header.list", state=self.tr(f"wall.state.{self.wall_state}")))
        table = self.current_table()
        if table is not None and table.filter_text:
            out.append(
                self.tr(
                    "header.filter",
                    text=table.filter_text[:24],
                    n=table.row_count,
                    total=len(table.items()),
                )
            )
        return out

    def top_text(self, screen: Screen[Any] | None = None) -> Text:
        """One line, most important first, so a narrow terminal cuts only the end:
        the view's name and what narrows it, the connection (and, for technicians under a lease,
        the engine's role and its standby: :meth:`engine_text`), then who and the wall."""
        tr = self.tr
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" eventops ", style="bold reverse")
        t.append(" ")
        t.append_text(plain(self.view_title(screen), "bold"))
        for ind in self.indicators(screen):
            t.append(" ")
            t.append_text(plain(f"[{ind}]", "bold yellow"))
        t.append(" · ")
        if self.connected:
            t.append(tr("conn.live"), style="green")
        else:
            t.append(tr("conn.lost") if self.who else tr("conn.connecting"), style="bold red")
        t.append(f" {fmt_time(self.state.as_of, self.event_tz())}")
        if not self.connected and self.state.as_of is not None:
            t.append(f" ({tr('stale')})", style="yellow")
        engine = self.engine_text()
        if engine is not None:
            t.append(" · ")
            t.append_text(engine)
        ann = self.state.announcement
        if ann is not None:
            t.append(" · ")
            t.append_text(plain(f"📣 {ann.title(tr.lang)}", "bold white on red"))
        if self.who is not None:
            t.append(" · ")
            t.append_text(plain(self.who.name, "bold"))
            t.append(f" · {tr('role.' + self.who.role)}")
            if self.read_only:
                t.append(f" 🔒 {tr('read_only')}", style="bold yellow")
        if self.state.wall_pending is not None and "wall" in self.views:
            t.append(f" · {tr('header.wall', n=self.state.wall_pending)}")
            if self.state.wall_paused:
                t.append(f" ⏸ {tr('wall.paused')}", style="bold yellow")
        return t

    @work(exclusive=True, group="engines", exit_on_error=False)
    async def refresh_engines(self) -> None:
        """Which engine answers and whether a standby is live, for the header (technicians
        only: the route is theirs). An engine that does not know the route (404) or refuses
        it shows nothing; an unreachable one keeps what was known (the header says it is
        disconnected, and the reconnect reads it again)."""
        if self.api is None or self.role != "technician":
            return
        try:
            view: Engines | None = await self.api.engines()
        except ApiError as exc:
            if exc.status not in (403, 404):
                return
            view = None
        if view != self.engines:
            self.engines = view
            self.paint()

    def engine_text(self) -> Text | None:
        """The engine's role under the event's lease and its standby, for technicians while
        connected; None for a single engine (no lease), other roles, or not known yet."""
        v = self.engines
        if v is None or v.role == "single" or self.role != "technician" or not self.connected:
            return None
        tr = self.tr
        if v.role == "active":
            if v.standby_live:
                return Text(tr("engine.standby_ok"), style="green")
            if v.standby_expected:
                return Text(tr("engine.no_standby"), style="bold yellow")
            return Text(tr("engine.alone"))
        if v.role == "standby":
            if v.active:
                return plain(tr("engine.standby", active=_host_port(v.active)), "yellow")
            return Text(tr("engine.orphan"), style="bold yellow")
        return Text(tr("engine.deposed"), style="bold red")

    def paint_top(self, screen: Screen[Any]) -> None:
        for top in screen.query("#top"):
            assert isinstance(top, Static)
            top.update(self.top_text(screen))
        for banner in screen.query("#banner"):
            assert isinstance(banner, Static)
            if self.connected or (self.who is None and not self.error):
                banner.remove_class("shown")
            else:
                banner.update(self.banner_text())
                banner.add_class("shown")

    def banner_text(self) -> Text:
        """Why there is no live data, in words: is the engine gone, or only the stream?"""
        tr = self.tr
        msg = Text(" ⚠ ", style="bold")
        url = self.api.base_url if self.api is not None else "-"
        if self.alive is False:
            msg.append_text(plain(tr("banner.down", url=url, reason=self.down_reason)))
        elif self.alive is True:
            msg.append(tr("banner.alive"))
            msg.append_text(plain(f" ({self.error})" if self.error else ""))
        else:
            msg.append(tr("banner.lost"))
            msg.append_text(plain(f" ({self.error})" if self.error else ""))
        if self.state.as_of is not None:
            at = fmt_time(self.state.as_of, self.event_tz())
            msg.append(" " + tr("banner.stale", at=at))
        if self.alive is not True:
            msg.append(" " + tr("banner.retry"))
        return msg

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

    if TYPE_CHECKING:
        # Provided by the composition root (eventops.tui.app.EventOpsApp), which draws
        # every view; declared here for the mixins that ask for a redraw.

        def flush(self) -> None:
            """One refresh tick: draw what changed since the last one."""

        def paint(self) -> None:
            """Draw the header and the Pulse."""


def _host_port(url: str) -> str:
    """``host:port`` of an engine's address (the engine's word: without a scheme, path or
    credentials, bounded; shown as plain text). Cut by hand: a hostile address need not
    parse as a URL, and then its credentials must not be shown either."""
    rest = url.partition("://")[2] or url
    for sep in "/?#":
        rest = rest.partition(sep)[0]
    return rest.rpartition("@")[2][:48]
