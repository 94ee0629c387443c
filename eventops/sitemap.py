"""The site map: masts and fibre links placed by the profile's coordinates.

Pure functions, no IO, no Textual and no HTML framework: the TUI's ``:map``
draws :func:`layout_cells` on a terminal canvas, the authority status page
embeds :func:`render_svg`. Both start from a :class:`Scene` built by
:func:`scene` out of the API's device and link views, so what a viewer sees
on the map is exactly what the API let them see: a link end whose device is
not in the given devices becomes an anonymous point (no id, no state, no
description), drawn only so that the link has two ends.

Projection: equirectangular around the scene's mean latitude, x scaled by
cos(latitude), in metres. At a site's size (a few kilometres at most) this
is as good as any other projection and needs no map tiles.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from html import escape
from typing import Literal

from eventops import i18n
from eventops.api.models import DeviceView, LinkView

State = Literal["up", "degraded", "down", "unknown"]
EARTH_M = 6_371_000.0
DEG_M = math.pi * EARTH_M / 180.0
"""Metres per degree of latitude (and of longitude at the equator)."""


def device_state(d: DeviceView) -> State:
    """A device as the map colours it: unreachable or critical is down."""
    if d.reachable is None:
        return "unknown"
    if not d.reachable or d.health == "critical":
        return "down"
    if d.health == "warning":
        return "degraded"
    return "up"


def link_state(lk: LinkView) -> State:
    return lk.state if lk.state in ("up", "degraded", "down") else "unknown"  # type: ignore[return-value]


@dataclass(frozen=True)
class Node:
    id: str
    """Device id; for an anonymous end ``"?"`` plus an index (never shown)."""
    lat: float
    lon: float
    state: State
    kind: str = ""
    label: str | None = None
    """What the map writes next to it; None for an anonymous end."""
    description: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Edge:
    id: str
    a: str
    b: str
    state: State
    name: str = ""
    reason: str = ""


@dataclass
class Scene:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)
    """Devices without coordinates (listed beside the map, not drawn)."""


def device_reason(d: DeviceView, lang: str = "en", tz: tzinfo = UTC) -> str:
    """Why the device is in its state, in ``lang``: the poll error when unreachable."""
    if d.reachable is False and d.error:
        return i18n.render(d.error_id, d.error_params, lang, tz, d.error)
    return i18n.render(d.reason_id, d.reason_params, lang, tz, d.reason)


def scene(
    devices: Iterable[DeviceView],
    links: Iterable[LinkView],
    *,
    lang: str = "en",
    tz: tzinfo = UTC,
) -> Scene:
    """What to draw: placed devices, and links whose two ends have coordinates; reasons
    in ``lang`` (times in them in ``tz``)."""
    out = Scene()
    for d in devices:
        loc = d.location
        if loc is None or loc.lat is None or loc.lon is None:
            out.unplaced.append(d.id)
            continue
        reason = device_reason(d, lang, tz)
        out.nodes[d.id] = Node(
            d.id, loc.lat, loc.lon, device_state(d), d.kind, d.id, loc.description, reason
        )
    anon: dict[tuple[float, float], str] = {}
    for lk in links:
        ends = []
        for e in (lk.a, lk.b):
            if e.device in out.nodes:
                ends.append(e.device)
            elif e.device in out.unplaced or e.lat is None or e.lon is None:
                break
            else:  # a far end this viewer may not see: a point, nothing more
                key = (e.lat, e.lon)
                if key not in anon:
                    anon[key] = f"?{len(anon)}"
                    out.nodes[anon[key]] = Node(anon[key], e.lat, e.lon, "unknown")
                ends.append(anon[key])
        if len(ends) == 2:
            why = i18n.render(lk.reason_id, lk.reason_params, lang, tz, lk.reason)
            out.edges.append(Edge(lk.id, ends[0], ends[1], link_state(lk), lk.name, why))
    return out


# -- projection -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """Metres east/north of the scene's south-west corner, and the scene's extent."""

    lat0: float
    lon0: float
    cos_lat: float
    width_m: float
    height_m: float

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        return (lon - self.lon0) * DEG_M * self.cos_lat, (lat - self.lat0) * DEG_M


def frame(nodes: Iterable[Node]) -> Frame:
    pts = [(n.lat, n.lon) for n in nodes]
    if not pts:
        return Frame(0.0, 0.0, 1.0, 0.0, 0.0)
    lats = [p[0] for p in pts]
    lons = [p[1] for p in pts]
    cos_lat = max(math.cos(math.radians((min(lats) + max(lats)) / 2)), 1e-6)
    return Frame(
        min(lats),
        min(lons),
        cos_lat,
        (max(lons) - min(lons)) * DEG_M * cos_lat,
        (max(lats) - min(lats)) * DEG_M,
    )


def _scale(fr: Frame, width: float, height: float, aspect: float) -> tuple[float, float, float]:
    """Units per metre across, and the offsets that centre the scene in ``width`` × ``height``
    (``aspect``: how many horizontal units one vertical unit is tall)."""
    sx_w = width / fr.width_m if fr.width_m > 0 else math.inf
    sx_h = height * aspect / fr.height_m if fr.height_m > 0 else math.inf
    s = min(sx_w, sx_h)
    if math.isinf(s):
        s = 0.0  # one point (or all on one spot): the middle
    off_x = (width - fr.width_m * s) / 2
    off_y = (height - fr.height_m * s / aspect) / 2
    return s, off_x, off_y


# -- the terminal canvas ----------------------------------------------------------------------


@dataclass
class Canvas:
    """A character grid: ``chars[row][col]``, and what each cell shows (``owner``:
    a node or edge id, or "" for blank), plus each node's cell."""

    width: int
    height: int
    chars: list[list[str]]
    owner: list[list[str]]
    cells: dict[str, tuple[int, int]]
    """Node id → (col, row)."""
    labels: dict[str, tuple[int, int, str]] = field(default_factory=dict)
    """Node id → (col, row, text) of the label written."""
    edge_cells: dict[str, list[tuple[int, int]]] = field(default_factory=dict)


NODE_CHAR = {"mast": "▲", "switch": "■", "media-converter": "◆"}


def _line(c0: int, r0: int, c1: int, r1: int) -> list[tuple[int, int]]:
    """The cells from (c0, r0) to (c1, r1) (Bresenham), both ends included."""
    out = []
    dc, dr = abs(c1 - c0), -abs(r1 - r0)
    sc, sr = (1 if c0 < c1 else -1), (1 if r0 < r1 else -1)
    err = dc + dr
    c, r = c0, r0
    while True:
        out.append((c, r))
        if c == c1 and r == r1:
            return out
        e2 = 2 * err
        if e2 >= dr:
            err += dr
            c += sc
        if e2 <= dc:
            err += dc
            r += sr


def _stroke(dc: int, dr: int) -> str:
    if dr == 0:
        return "─"
    if dc == 0:
        return "│"
    slope = abs(dr) * 2 / abs(dc)  # a row is about two columns tall
    if slope < 0.5:
        return "─"
    if slope > 2.5:
        return "│"
    return "╲" if (dc > 0) == (dr > 0) else "╱"


def _free_near(col: int, row: int, taken: set[tuple[int, int]], w: int, h: int) -> tuple[int, int]:
    """The nearest free cell to (col, row) inside the grid (two devices on one cell)."""
    if (col, row) not in taken:
        return col, row
    for radius in range(1, max(w, h)):
        ring = [
            (col + dc, row + dr)
            for dr in range(-radius, radius + 1)
            for dc in range(-radius, radius + 1)
            if max(abs(dc), abs(dr)) == radius
        ]
        ring.sort(key=lambda p: (abs(p[1] - row), abs(p[0] - col)))
        for c, r in ring:
            if 0 <= c < w and 0 <= r < h and (c, r) not in taken:
                return c, r
    return col, row


def layout_cells(sc: Scene, width: int, height: int, *, aspect: float = 2.0) -> Canvas:
    """Place the scene on a ``width`` × ``height`` grid of terminal cells.

    Cells are ``aspect`` times taller than wide, so distances on the grid keep
    the site's proportions. Links are drawn first, devices on top, then each
    labelled device's id to its right (or left) where the cells are free of
    devices and other labels; a label that fits nowhere is left out.
    """
    w, h = max(width, 1), max(height, 1)
    chars = [[" "] * w for _ in range(h)]
    owner = [[""] * w for _ in range(h)]
    canvas = Canvas(w, h, chars, owner, {})
    if not sc.nodes:
        return canvas
    fr = frame(sc.nodes.values())
    s, off_x, off_y = _scale(fr, w - 1, h - 1, aspect)
    taken: set[tuple[int, int]] = set()
    # place in a stable order (north-west first) so collisions resolve the same way each time
    for n in sorted(sc.nodes.values(), key=lambda n: (-n.lat, n.lon, n.id)):
        x, y = fr.xy(n.lat, n.lon)
        col = round(off_x + x * s)
        row = round(off_y + (fr.height_m - y) * s / aspect)
        col, row = _free_near(min(max(col, 0), w - 1), min(max(row, 0), h - 1), taken, w, h)
        taken.add((col, row))
        canvas.cells[n.id] = (col, row)
    for e in sc.edges:
        (c0, r0), (c1, r1) = canvas.cells[e.a], canvas.cells[e.b]
        stroke = _stroke(c1 - c0, r1 - r0)
        pts = [p for p in _line(c0, r0, c1, r1) if p not in taken]
        canvas.edge_cells[e.id] = pts
        for c, r in pts:
            chars[r][c] = "┼" if owner[r][c] and chars[r][c] != stroke else stroke
            owner[r][c] = e.id
    for nid, (c, r) in canvas.cells.items():
        n = sc.nodes[nid]
        chars[r][c] = NODE_CHAR.get(n.kind, "●")
        owner[r][c] = nid
    blocked = set(taken)
    for nid, (c, r) in sorted(canvas.cells.items(), key=lambda kv: (kv[1][1], kv[1][0])):
        text = sc.nodes[nid].label
        if not text:
            continue
        for start in (c + 2, c - 1 - len(text)):
            span = [(start + i, r) for i in range(-1, len(text) + 1)]  # one blank either side
            if start < 0 or start + len(text) > w or any(p in blocked for p in span):
                continue
            for i, ch in enumerate(text):
                chars[r][start + i] = ch
                owner[r][start + i] = nid
            blocked.update(span)
            canvas.labels[nid] = (start, r, text)
            break
    return canvas


def neighbour(cells: dict[str, tuple[int, int]], start: str, direction: str) -> str | None:
    """The nearest item from ``start`` in ``direction`` (left/right/up/down), by cell
    distance with the off-axis distance weighted double; None if there is none."""
    if start not in cells:
        return None
    c0, r0 = cells[start]
    best: tuple[float, str] | None = None
    for nid, (c, r) in cells.items():
        if nid == start:
            continue
        dc, dr = c - c0, (r - r0) * 2  # rows are about two columns tall
        along, across = {
            "right": (dc, dr),
            "left": (-dc, dr),
            "down": (dr, dc),
            "up": (-dr, dc),
        }[direction]
        if along <= 0:
            continue
        score = along + 2 * abs(across)
        if best is None or (score, nid) < best:
            best = (score, nid)
    return None if best is None else best[1]


# -- SVG --------------------------------------------------------------------------------------

SVG_COLOUR = {"up": "#4cd07d", "degraded": "#f2c94c", "down": "#ff5c5c", "unknown": "#9fb0bd"}


def render_svg(
    sc: Scene, width: int = 640, height: int = 400, pad: int = 40, lang: str = "en"
) -> str:
    """The scene as one inline ``<svg>``: no script, no style element or attribute (only
    presentation attributes, so a strict CSP allows it), no external reference; every
    text from the profile or a device is escaped. Hover titles say name, state, reason
    (state words in ``lang``)."""

    def word(state: State) -> str:
        return i18n.render_strict(f"map.state.{state}", {}, lang)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="sitemap" role="img" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'aria-label="site map">',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#161c22"/>',
    ]
    if not sc.nodes:
        parts.append(
            f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" fill="#9fb0bd">'
            f"{escape(i18n.render_strict('map.no_coordinates', {}, lang))}</text>"
        )
        parts.append("</svg>")
        return "\n".join(parts)
    fr = frame(sc.nodes.values())
    s, off_x, off_y = _scale(fr, width - 2 * pad, height - 2 * pad, 1.0)
    pos: dict[str, tuple[float, float]] = {}
    for n in sc.nodes.values():
        x, y = fr.xy(n.lat, n.lon)
        pos[n.id] = (round(pad + off_x + x * s, 1), round(pad + off_y + (fr.height_m - y) * s, 1))
    for e in sc.edges:
        (x0, y0), (x1, y1) = pos[e.a], pos[e.b]
        title = f"{e.name or e.id} ({e.id}): {word(e.state)}" + (
            f", {e.reason}" if e.reason else ""
        )
        parts.append(
            f'<g class="link state-{e.state}" id="map-link-{escape(e.id)}">'
            f"<title>{escape(title)}</title>"
            f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="{SVG_COLOUR[e.state]}" '
            f'stroke-width="5" stroke-linecap="round"/></g>'
        )
    for n in sc.nodes.values():
        x, y = pos[n.id]
        if n.label is None:
            parts.append(f'<circle cx="{x}" cy="{y}" r="5" fill="#55626d"/>')
            continue
        title = f"{n.id}: {word(n.state)}" + (f", {n.reason}" if n.reason else "")
        if n.description:
            title += f" — {n.description}"
        shape = (
            f'<polygon points="{x},{y - 11} {x - 10},{y + 7} {x + 10},{y + 7}" '
            if n.kind == "mast"
            else f'<rect x="{x - 8}" y="{y - 8}" width="16" height="16" '
        )
        anchor = "end" if x > width * 0.7 else "start"
        tx = x - 14 if anchor == "end" else x + 14
        parts.append(
            f'<g class="device state-{n.state}" id="map-device-{escape(n.id)}">'
            f"<title>{escape(title)}</title>"
            f'{shape}fill="{SVG_COLOUR[n.state]}" stroke="#101418" stroke-width="2"/>'
            f'<text x="{tx}" y="{y + 5}" text-anchor="{anchor}" fill="#e8eef2" '
            f'font-size="14">{escape(n.label)}</text>'
            + (
                f'<text x="{tx}" y="{y + 21}" text-anchor="{anchor}" fill="#9fb0bd" '
                f'font-size="11">{escape(n.description)}</text>'
                if n.description
                else ""
            )
            + "</g>"
        )
    parts.append("</svg>")
    return "\n".join(parts)
