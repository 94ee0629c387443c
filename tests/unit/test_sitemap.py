"""The site map's pure layout: coordinates to terminal cells, and the SVG."""

from __future__ import annotations

import itertools
import math
import re
from typing import Any

from eventops.api.models import DeviceView, LinkView
from eventops.sitemap import (
    Node,
    Scene,
    frame,
    layout_cells,
    neighbour,
    render_svg,
    scene,
)


def dev(
    did: str,
    lat: float | None,
    lon: float | None,
    *,
    kind: str = "mast",
    reachable: bool | None = True,
    health: str = "ok",
    desc: str = "",
    **kw: Any,
) -> DeviceView:
    return DeviceView.model_validate(
        {
            "id": did,
            "kind": kind,
            "reachable": reachable,
            "health": health,
            "location": {"lat": lat, "lon": lon, "description": desc},
            **kw,
        }
    )


def link(
    lid: str, a: str, b: str, state: str = "up", ends: dict[str, tuple[float, float]] | None = None
) -> LinkView:
    ends = ends or {}

    def end(d: str) -> dict[str, Any]:
        lat, lon = ends.get(d, (None, None))
        return {"device": d, "port": "p1", "lat": lat, "lon": lon}

    return LinkView.model_validate(
        {"id": lid, "name": lid, "state": state, "a": end(a), "b": end(b)}
    )


def test_corners_of_the_site_land_on_the_corners_of_the_canvas() -> None:
    # a square site of 1 km: north-west and south-east corners
    d_lat = 1000 / 111_195
    d_lon = 1000 / (111_195 * math.cos(math.radians(49.0)))
    sc = scene([dev("nw", 49.0 + d_lat, 8.0), dev("se", 49.0, 8.0 + d_lon)], [])
    cv = layout_cells(sc, 41, 21)  # 40 columns ≙ 20 rows × 2: a square
    assert cv.cells["nw"] == (0, 0)
    assert cv.cells["se"] == (40, 20)


def test_cos_lat_keeps_the_proportions() -> None:
    # 1 km east-west and 500 m north-south at 60° N: twice as wide as tall on the ground
    lat0 = 60.0
    d_lat = 500 / 111_195
    d_lon = 1000 / (111_195 * math.cos(math.radians(lat0 + d_lat / 2)))
    sc = scene([dev("sw", lat0, 10.0), dev("ne", lat0 + d_lat, 10.0 + d_lon)], [])
    cv = layout_cells(sc, 81, 41)
    (c0, r0), (c1, r1) = cv.cells["sw"], cv.cells["ne"]
    across, down = abs(c1 - c0), abs(r1 - r0) * 2  # rows are two columns tall
    assert across == 80
    assert abs(across / down - 2.0) < 0.1
    # without the correction the site would be half as wide again as it is tall
    fr = frame(sc.nodes.values())
    assert abs(fr.width_m / fr.height_m - 2.0) < 0.01


def test_links_are_lines_between_their_ends_and_labels_fit() -> None:
    sc = scene(
        [dev("mast-01", 49.4875, 8.4660), dev("sw-core", 49.4869, 8.4662, kind="switch")],
        [link("fibre-x", "mast-01", "sw-core", "down")],
    )
    cv = layout_cells(sc, 60, 20)
    cells = cv.edge_cells["fibre-x"]
    assert cells, "no line drawn"
    a, b = cv.cells["mast-01"], cv.cells["sw-core"]
    # the line runs between the two devices, cell by cell (8-connected)
    path = [a, *cells, b]
    for (c0, r0), (c1, r1) in itertools.pairwise(path):
        assert max(abs(c1 - c0), abs(r1 - r0)) == 1
    for c, r in cells:
        assert cv.owner[r][c] == "fibre-x"
    assert cv.chars[a[1]][a[0]] == "▲" and cv.chars[b[1]][b[0]] == "■"
    row = "".join(cv.chars[a[1]])
    assert "mast-01" in row and "sw-core" in "".join(cv.chars[b[1]])


def test_labels_never_cover_devices_or_each_other() -> None:
    # four devices a cell apart on one row: not every label fits
    devs = [dev(f"m{i}", 49.0, 8.0 + i * 0.0001) for i in range(4)]
    cv = layout_cells(scene(devs, []), 8, 3)
    drawn = [cv.labels[k] for k in cv.labels]
    assert len(drawn) < 4
    for nid, (c, r) in cv.cells.items():
        assert cv.owner[r][c] == nid  # every device still on its cell
    spans = sorted((c, c + len(t)) for c, _, t in drawn)
    for (_a0, a1), (b0, _) in itertools.pairwise(spans):
        assert a1 < b0


def test_two_devices_on_one_cell_both_show() -> None:
    cv = layout_cells(scene([dev("a", 49.0, 8.0), dev("b", 49.0, 8.0)], []), 20, 10)
    assert cv.cells["a"] != cv.cells["b"]


def test_unplaced_devices_are_listed_and_their_links_not_drawn() -> None:
    sc = scene(
        [dev("a", 49.0, 8.0), dev("nowhere", None, None)],
        [link("l1", "a", "nowhere")],
    )
    assert sc.unplaced == ["nowhere"]
    assert sc.edges == []


def test_a_hidden_far_end_is_an_anonymous_point() -> None:
    # the viewer sees mc-police, not sw-core: the link still has two ends, one without a name
    sc = scene(
        [dev("mc-police", 49.4880, 8.4650, kind="media-converter")],
        [link("fibre-police", "sw-core", "mc-police", ends={"sw-core": (49.4869, 8.4662)})],
    )
    assert "sw-core" not in sc.nodes
    anon = [n for n in sc.nodes.values() if n.label is None]
    assert len(anon) == 1 and anon[0].state == "unknown"
    cv = layout_cells(sc, 40, 12)
    text = "\n".join("".join(r) for r in cv.chars)
    assert "sw-core" not in text and "mc-police" in text


def test_neighbour_follows_the_arrow_keys() -> None:
    cells = {"c": (10, 5), "right": (20, 5), "up": (10, 1), "far-right-up": (30, 0)}
    assert neighbour(cells, "c", "right") == "right"
    assert neighbour(cells, "c", "up") == "up"
    assert neighbour(cells, "c", "left") is None
    assert neighbour(cells, "right", "left") == "c"


def test_svg_colours_states_and_escapes_text() -> None:
    hostile = '<script>alert(1)</script> & "quote"'
    sc = scene(
        [
            dev("mast-07", 49.0, 8.0, reachable=False, error="no answer", desc=hostile),
            dev("sw-1", 49.001, 8.001, kind="switch", health="warning"),
        ],
        [link("fibre-1", "mast-07", "sw-1", "degraded")],
    )
    svg = render_svg(sc)
    assert "<script" not in svg and "&lt;script&gt;" in svg and "&amp;" in svg
    red = re.search(r'id="map-device-mast-07".*?fill="([^"]+)"', svg, re.S)
    assert red and red.group(1) == "#ff5c5c"
    yellow = re.search(r'id="map-link-fibre-1".*?stroke="([^"]+)"', svg, re.S)
    assert yellow and yellow.group(1) == "#f2c94c"
    assert "style" not in svg and "href" not in svg


def test_empty_scene() -> None:
    assert layout_cells(Scene(), 10, 5).cells == {}
    assert "no coordinates" in render_svg(Scene())
    one = Scene(nodes={"x": Node("x", 1.0, 2.0, "up", "mast", "x")})
    assert layout_cells(one, 11, 5).cells["x"] == (5, 2)
