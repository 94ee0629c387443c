"""The map on the authority status page: their items only, coloured, escaped, CSP-safe."""

from __future__ import annotations

import re

from eventops.server.pages import STATUS_CSP
from tests.unit.server.conftest import Served

OTHERS = ("sw-core", "sw-stage", "mc-fire", "fibre-fire", "fibre-stage", "mast-0", "Feuerwache")


def map_of(html: str) -> str:
    m = re.search(r'<section id="map">(.*?)</section>', html, re.S)
    assert m, "no map on the page"
    return m.group(1)


def fill_of(svg: str, element_id: str) -> str:
    m = re.search(
        rf'<g [^>]*id="{re.escape(element_id)}">.*?(?:fill|stroke)="(#[0-9a-f]+)"', svg, re.S
    )
    assert m, f"no {element_id} in the map"
    return m.group(1)


async def test_authority_map_shows_only_its_links_and_devices(served: Served) -> None:
    status, html = await served.get("/status", "police")
    assert status == 200
    svg = map_of(html)
    assert 'id="map-link-fibre-police"' in svg and 'id="map-device-mc-police"' in svg
    assert "Polizeiwache Marktstraße" in svg
    for other in OTHERS:
        assert other not in svg, other
    # the far end (sw-core, not the police's) is an unnamed point so the link has two ends
    assert svg.count("<circle") == 1
    assert "<script" not in svg and "style=" not in svg and "href" not in svg
    assert fill_of(svg, "map-device-mc-police") == "#4cd07d"
    # the technician's page has the whole site
    _, html = await served.get("/status", "technik")
    svg = map_of(html)
    for dev in ("sw-core", "mast-01", "mc-fire", "fibre-fire"):
        assert dev in svg


async def test_a_down_device_is_red(served: Served) -> None:
    served.fleet.down.add("mc-police")
    await served.to(40)
    assert served.engine.devices["mc-police"].reachable is False
    _, html = await served.get("/status", "police")
    svg = map_of(html)
    assert fill_of(svg, "map-device-mc-police") == "#ff5c5c"
    assert fill_of(svg, "map-link-fibre-police") != "#4cd07d"  # not green any more


async def test_hostile_location_text_is_escaped(served: Served) -> None:
    eng = served.engine
    hostile = '</text><script>alert(1)</script><a href="//evil">x</a>'
    devs = {
        "switches": [
            s.model_copy(
                update={"location": s.location.model_copy(update={"description": hostile})}
            )
            if s.id == "mc-police"
            else s
            for s in eng.profile.switches
        ]
    }
    eng.profile = eng.profile.model_copy(update=devs)
    status, html = await served.get("/status", "police")
    assert status == 200
    svg = map_of(html)
    assert "<script" not in html.replace('<script src="/static/status.js" defer></script>', "")
    assert "&lt;/text&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    assert 'href="//evil"' not in svg
    async with served.http.get(served.url + "/status", headers=served.auth("police")) as r:
        assert r.headers["Content-Security-Policy"] == STATUS_CSP


async def test_map_speaks_the_readers_language(served: Served) -> None:
    _, html = await served.get("/status?lang=de", "police")
    assert "<h2>Lageplan</h2>" in html
    assert "mc-police: in Betrieb" in map_of(html)
    _, html = await served.get("/status?lang=en", "police")
    assert "<h2>Map</h2>" in html and "mc-police: up" in map_of(html)
