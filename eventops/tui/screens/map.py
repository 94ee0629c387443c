"""The map view (``:map``): masts and fibre links where the profile places them.

The layout is :func:`eventops.sitemap.layout_cells` (pure, unit-tested); this
widget only colours its cells by state, highlights the selected item and
shows its detail below the canvas. Arrow keys move to the nearest item in
that direction, ``tab``/``shift+tab`` step through every item, ``enter`` opens
the item's detail screen. Device ids, reasons and location texts are
untrusted: drawn as plain text, never markup.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding
from textual.events import Resize
from textual.widget import Widget

from eventops.sitemap import Canvas, Edge, Node, Scene, layout_cells, neighbour, scene
from eventops.tui.core import Host, host
from eventops.tui.safe import plain, strip_control
from eventops.tui.screens.detail import DetailScreen
from eventops.tui.tables import localize_bindings

MAP_ROLES = ("technician", "authority")
"""Roles with a ``:map`` view (an authority sees its own links and devices only)."""
STATE_STYLE = {"down": "bold red", "degraded": "yellow", "up": "green", "unknown": "dim"}
DETAIL_LINES = 4


class MapView(Widget, can_focus=True):
    """The site on a terminal canvas, with the selected item's detail."""

    DEFAULT_CSS = """
    MapView { height: 1fr; padding: 0 1; }
    """
    BINDINGS: ClassVar[list[Any]] = [
        Binding("tab", "step(1)", "next", id="map.next", show=False),
        Binding("shift+tab", "step(-1)", "previous", id="map.prev", show=False),
        Binding("left", "move('left')", "", show=False),
        Binding("right", "move('right')", "", show=False),
        Binding("up", "move('up')", "", show=False),
        Binding("down", "move('down')", "", show=False),
        Binding("enter", "open", "open", id="map.open"),
    ]

    def __init__(self, *, id: str = "map") -> None:
        super().__init__(id=id)
        self.selected: str | None = None
        self.scene = Scene()
        self.canvas: Canvas | None = None

    @property
    def evo(self) -> Host:
        return host(self)

    def on_mount(self) -> None:
        localize_bindings(self, self.evo.tr)
        self.sync()

    def on_show(self) -> None:
        self.sync()
        self.focus()

    def on_resize(self, event: Resize) -> None:
        self.canvas = None
        self.refresh()

    def sync(self) -> None:
        """Rebuild the scene from the live state (devices or links changed)."""
        app = self.evo
        st = app.state
        self.scene = scene(
            st.devices.values(), st.links.values(), lang=app.tr.lang, tz=app.config.tz() or UTC
        )
        self.canvas = None
        if self.selected not in self._order():
            order = self._order()
            worst = sorted(order, key=lambda k: (_rank(self._state_of(k)), order.index(k)))
            self.selected = worst[0] if worst else None
        self.refresh()

    # -- items ----------------------------------------------------------------------------------
    def _order(self) -> list[str]:
        """Labelled devices north-west first, then links in profile order."""
        nodes = sorted(
            (n for n in self.scene.nodes.values() if n.label is not None),
            key=lambda n: (-n.lat, n.lon, n.id),
        )
        return [n.id for n in nodes] + [e.id for e in self.scene.edges]

    def _item(self, key: str | None) -> Node | Edge | None:
        if key is None:
            return None
        node = self.scene.nodes.get(key)
        if node is not None:
            return node
        return next((e for e in self.scene.edges if e.id == key), None)

    def _state_of(self, key: str) -> str:
        it = self._item(key)
        return it.state if it is not None else "unknown"

    def select(self, key: str) -> bool:
        if key not in self._order():
            return False
        self.selected = key
        self.refresh()
        return True

    # -- keys -----------------------------------------------------------------------------------
    def action_step(self, delta: int) -> None:
        order = self._order()
        if not order:
            return
        i = order.index(self.selected) if self.selected in order else -delta
        self.select(order[(i + delta) % len(order)])

    def action_move(self, direction: str) -> None:
        cv = self._canvas()
        points = {k: v for k, v in cv.cells.items() if k in self._order()}
        for e in self.scene.edges:  # a link is reachable at its middle
            cells = cv.edge_cells.get(e.id)
            if cells:
                points[e.id] = cells[len(cells) // 2]
        if self.selected is None:
            self.action_step(1)
            return
        nxt = neighbour(points, self.selected, direction)
        if nxt is not None:
            self.select(nxt)

    def action_open(self) -> None:
        key = self.selected
        if key in self.evo.state.devices:
            self.app.push_screen(DetailScreen("device", key))
        elif key in self.evo.state.links:
            self.app.push_screen(DetailScreen("link", key))

    # -- drawing --------------------------------------------------------------------------------
    def _canvas(self) -> Canvas:
        w = max(self.content_region.width, 10)
        h = max(self.content_region.height - DETAIL_LINES - 1, 3)
        if self.canvas is None or (self.canvas.width, self.canvas.height) != (w, h):
            self.canvas = layout_cells(self.scene, w, h)
        return self.canvas

    def render(self) -> Text:
        tr = self.evo.tr
        if not self.scene.nodes:
            t = Text(tr("map.empty"), style="dim")
            if self.scene.unplaced:
                t.append("\n" + tr("map.unplaced", ids=", ".join(self.scene.unplaced)))
            return t
        cv = self._canvas()
        sel = self.selected
        t = Text(no_wrap=True, overflow="crop")
        for r in range(cv.height):
            for c in range(cv.width):
                ch, who = cv.chars[r][c], cv.owner[r][c]
                if not who:
                    t.append(ch)
                    continue
                style = STATE_STYLE.get(self._state_of(who), "dim")
                if who == sel:
                    style += " reverse"
                t.append(ch, style=style)
            t.append("\n")
        t.append("─" * cv.width + "\n", style="dim")
        t.append_text(self.detail_text())
        return t

    def detail_text(self) -> Text:
        """The selected item: name, state, reason, location (or the ends of a link)."""
        tr = self.evo.tr
        t = Text(no_wrap=True, overflow="ellipsis")
        it = self._item(self.selected)
        if it is None:
            t.append(tr("map.hint"), style="dim")
        else:
            word = tr(f"state.{it.state}")
            if isinstance(it, Node):
                t.append_text(plain(it.id, "bold"))
                t.append_text(plain(f"  {it.kind}", "dim"))
            else:
                t.append_text(plain(it.name or it.id, "bold"))
                t.append_text(plain(f"  ({it.id})", "dim"))
            t.append(f"  {word}", style=STATE_STYLE[it.state])
            t.append("\n")
            t.append_text(plain(it.reason or "-"))
            t.append("\n")
            if isinstance(it, Node):
                loc = strip_control(it.description) or "-"
                t.append_text(plain(f"{tr('map.location')}: {loc}  ({it.lat:.5f}, {it.lon:.5f})"))
            else:
                ends = [self.scene.nodes.get(it.a), self.scene.nodes.get(it.b)]
                names = [n.label or "…" for n in ends if n is not None]
                t.append_text(plain(f"{tr('map.ends')}: {' ↔ '.join(names)}"))
        if self.scene.unplaced:
            t.append("\n")
            t.append_text(plain(tr("map.unplaced", ids=", ".join(self.scene.unplaced)), "dim"))
        return t


def _rank(state: str) -> int:
    return {"down": 0, "degraded": 1, "unknown": 2, "up": 3}.get(state, 2)


def map_of(node: Any) -> MapView | None:
    """The app's map view, if it has one."""
    found = node.app.query(MapView)
    return found.first() if found else None
