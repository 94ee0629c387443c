"""A hostile profile's text reaches no screen with its control or bidi characters.

The profile's free text (event name, venue, site and authority names, link
names, mast locations, port descriptions, announcement texts) is written
with ESC sequences, BEL, U+202E (right-to-left override) and isolates. Every
place that shows it — the authority status page and its API, the wall
display and its stream, the handover report, the TUI and the CLI — must show
the readable text without those characters.
"""

from __future__ import annotations

import asyncio
import html
import json
import shutil
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer

from eventops.cli import main
from eventops.profile import Profile, load_profile
from eventops.profile.text import BIDI_CONTROLS
from eventops.tui.app import EventOpsApp
from eventops.tui.client import Api
from eventops.tui.config import load_config
from tests.e2e.tui.conftest import TEST_CONFIG, until
from tests.security.conftest import TOKENS, full_app

REPO = Path(__file__).resolve().parents[2]
ESC, BEL, RLO, LRI = "\\u001b", "\\u0007", "\\u202E", "\\u2066"
"""TOML escapes: the profile file itself holds only printable ASCII."""
HOSTILE = {
    'name = "Altstadtfest Demo"': f'name = "Altstadt{RLO}fest{ESC}[2J Demo"',
    'venue = "Marktplatz (simulated)"': f'venue = "Markt{RLO}platz{BEL} (simulated)"',
    'name = "Hauptbühne"': f'name = "Haupt{LRI}bühne{ESC}[5m"',
    'name = "MoGlI Polizei Lagezentrum"': f'name = "MoGlI {RLO}Polizei{ESC}]0;pwned{BEL} Lagezentrum"',
    'name = "Polizeipräsidium, Führungsstab"': f'name = "Polizei{RLO}präsidium{ESC}[31m, Führungsstab"',
    'description = "Brunnen, Nordseite"': f'description = "Brunnen{RLO}, Nord{ESC}seite"',
    'description = "MoGlI Polizei" }': f'description = "MoGlI {RLO}Polizei Port{BEL}" }}',
    'title_de = "Bitte Marktplatz räumen"': f'title_de = "Bitte {RLO}Marktplatz{ESC}[8m räumen"',
    'title_en = "Please clear the market square"': f'title_en = "Please {RLO}clear{BEL} the square"',
}
SHOWN = {
    "event": "Altstadtfest[2J Demo",
    "venue": "Marktplatz (simulated)",
    "link": "MoGlI Polizei]0;pwned Lagezentrum",
    "authority": "Polizeipräsidium[31m, Führungsstab",
    "title_de": "Bitte Marktplatz[8m räumen",
}
"""What the cleaned profile holds (the printable rest of each sequence stays, as text)."""


def _bad(text: str) -> list[str]:
    """Control (other than newline, tab, CR) and bidi-control characters in ``text``."""
    return sorted(
        {
            f"U+{ord(c):04X}"
            for c in text
            if c in BIDI_CONTROLS or (unicodedata.category(c) == "Cc" and c not in "\n\t\r")
        }
    )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Profile]:
    text = (REPO / "profiles" / "demo.toml").read_text(encoding="utf-8")
    for old, new in HOSTILE.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    assert text.isascii() or not _bad(text)  # the file itself is plain printable text
    folder = tmp_path / "event"
    folder.mkdir()
    shutil.copytree(REPO / "profiles" / "demo-secrets", folder / "demo-secrets")
    shutil.copy(REPO / "profiles" / "demo-wall.jsonl", folder / "demo-wall.jsonl")
    path = folder / "hostile.toml"
    path.write_text(text, encoding="utf-8")
    profile = load_profile(path)
    assert profile.event.name == SHOWN["event"] and profile.event.venue == SHOWN["venue"]
    return path, profile


async def test_pages_api_wall_reports_and_cli_show_clean_text(
    hostile: tuple[Path, Profile],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, profile = hostile
    police = {"Authorization": f"Bearer {TOKENS['authority']}"}
    tech = {"Authorization": f"Bearer {TOKENS['technician']}"}
    comms = {"Authorization": f"Bearer {TOKENS['comms']}"}
    async with (
        full_app(tmp_path, profile=profile) as full,
        TestClient(TestServer(full.app), cookie_jar=DummyCookieJar()) as c,
    ):
        shown: dict[str, str] = {}

        async def get(route: str, headers: dict[str, str]) -> str:
            async with c.get(route, headers=headers) as r:
                assert r.status == 200, (route, await r.text())
                text = await r.text()
            if r.content_type == "application/json":
                text = "\n".join(_strings(json.loads(text)))
            shown[route] = text
            return text

        # the authority's status page and what its script reads
        await get("/status", police)
        for route in ("/api/v1/status", "/api/v1/links", "/api/v1/devices", "/api/v1/whoami"):
            await get(route, police)
        await get("/api/v1/devices", tech)
        assert SHOWN["link"] in shown["/api/v1/links"]
        # the announcement on the wall display: its page and its stream
        async with c.post(
            "/api/v1/wall/announcements", headers=comms, json={"id": "evacuate-square"}
        ) as r:
            assert r.status in (200, 201), await r.text()
        await get("/api/v1/wall/announcements", comms)
        await get(f"/wall/{profile.event.id}", {})
        async with c.get(f"/wall/{profile.event.id}/stream") as r:
            assert r.status == 200
            lines: list[str] = []
            for _ in range(200):  # the snapshot comes first; it carries the announcement
                async with asyncio.timeout(20):
                    line = (await r.content.readline()).decode()
                lines.append(line)
                if SHOWN["title_de"] in html.unescape(json.dumps(line, ensure_ascii=False)):
                    break
        stream = "".join(lines)
        assert SHOWN["title_de"] in "\n".join(_strings(_sse_data(stream))), stream[:500]
        shown["wall stream"] = "\n".join(_strings(_sse_data(stream)))
        # the handover report the authority takes away (a baseline needs one reading)
        await full.engine.poll_now([d.id for d in profile.devices])
        async with c.post(
            "/api/v1/links/fibre-police/handover",
            headers=tech,
            json={"to": "police", "force": True, "reason": f"Einsatz{chr(0x202E)} läuft"},
        ) as r:
            assert r.status == 201, await r.text()
            handover = await r.json()
        report = await get(f"/api/v1/handovers/{handover['id']}/report", police)
        assert SHOWN["link"] in html.unescape(report)
        assert SHOWN["authority"] in html.unescape(report)
        # the CLI's handover through this engine: its output and the report it writes
        monkeypatch.setenv("EVENTOPS_TOKEN", TOKENS["technician"])
        cli_report = tmp_path / "fire.html"
        args = ["link", "handover", "fibre-fire", "--to", "fire", "--profile", str(path)]
        args += ["--engine", str(c.make_url("")).rstrip("/"), "--report", str(cli_report)]
        args += ["--force", "--reason", f"Feuer{chr(0x1B)}[2J{chr(0x202E)} Einsatz", "--json"]
        capsys.readouterr()
        assert await asyncio.to_thread(main, args) == 0, capsys.readouterr().err
        out, err = capsys.readouterr()
        shown["cli handover output"] = out + err
        shown["cli handover report"] = cli_report.read_text(encoding="utf-8")
        assert "Feuerwehr, Einsatzleitung" in html.unescape(shown["cli handover report"])
        assert "[2J Einsatz" in out  # the reason, cleaned, in the record
    for where, text in shown.items():
        assert _bad(text) == [], (where, _bad(text))


def _sse_data(stream: str) -> list[Any]:
    out = []
    for line in stream.splitlines():
        if line.startswith("data:"):
            try:
                out.append(json.loads(line[5:]))
            except ValueError:
                out.append(line[5:])
    return out


async def test_tui_shows_clean_text(hostile: tuple[Path, Profile], tmp_path: Path) -> None:
    _, profile = hostile
    config = tmp_path / "tui.toml"
    config.write_text(TEST_CONFIG)
    async with full_app(tmp_path, profile=profile) as full:
        server = TestServer(full.app, host="127.0.0.1")
        await server.start_server()
        try:
            app = EventOpsApp(
                Api(str(server.make_url("")).rstrip("/"), TOKENS["technician"]),
                load_config(config),
            )
            async with app.run_test(size=(200, 50)) as pilot:
                await until(pilot, lambda: len(app.state.devices) > 0, "devices arrive")
                await pilot.press("colon", *"links", "enter")
                await until(
                    pilot,
                    lambda: SHOWN["link"] in _screen(app),
                    "the link's name on the links view",
                )
                screen = _screen(app)
                assert _bad(screen) == [], _bad(screen)
        finally:
            await server.close()


def _screen(app: EventOpsApp) -> str:
    return html.unescape(app.export_screenshot()).replace("\xa0", " ")


def test_cli_output_is_clean(
    hostile: tuple[Path, Profile], capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = hostile
    assert main(["profile", "check", str(path)]) == 0
    out, err = capsys.readouterr()
    # the check says which fields it cleaned, naming the code points, never echoing them
    assert "control or bidi-control characters removed (U+202E, U+001B)" in err
    assert _bad(out) == [] and _bad(err) == [], (out, err)
