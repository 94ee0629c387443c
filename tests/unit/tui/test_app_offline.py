"""App behaviour that needs no engine: themes, palette, the layout at 80×24."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.command import CommandList, CommandPalette

from eventops.tui.app import THEMES, EventOpsApp
from eventops.tui.client import WhoAmI
from eventops.tui.config import TuiConfig
from tests.helpers.pilot import until

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("theme", sorted(THEMES))
async def test_themes(theme: str) -> None:
    app = EventOpsApp(None, TuiConfig(theme=theme, language="en"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.theme == THEMES[theme]
        assert app.current_theme.name == THEMES[theme]


async def test_palette_opens_views() -> None:
    app = EventOpsApp(None, TuiConfig(language="en"))
    async with app.run_test(size=(80, 24)) as pilot:
        app.who = WhoAmI(name="t", role="technician")
        await app.setup_role()
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        await pilot.press(*"Links (:links")
        # the palette searches in a worker: choose once the match is offered
        await until(
            pilot,
            lambda: app.screen.query_one(CommandList).highlighted is not None,
            "the match is offered",
        )
        await pilot.press("enter")
        await until(pilot, lambda: app.current == "links", "the links view")


async def test_comms_gets_no_monitoring_views() -> None:
    app = EventOpsApp(None, TuiConfig(language="de"))
    async with app.run_test(size=(80, 24)) as pilot:
        app.who = WhoAmI(name="presse", role="comms")
        await app.setup_role()
        await pilot.pause()
        assert app.views == ("none",) and app.current == "none"
        await pilot.press("colon", *"masts", "enter")
        assert app.current == "none"
        assert "Kommunikation" in str(app.top_text()) and "🔒" in str(app.top_text())


def test_only_the_tui_imports_textual() -> None:
    offenders = []
    for path in (REPO / "eventops").rglob("*.py"):
        if "tui" in path.relative_to(REPO / "eventops").parts[:1]:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            s = line.strip()
            if s.startswith(("import textual", "from textual")):
                offenders.append(f"{path.relative_to(REPO)}: {s}")
    assert not offenders, offenders


def test_banner_says_whether_the_engine_or_only_the_stream_is_gone() -> None:
    from eventops.tui.client import Api

    app = EventOpsApp(Api("http://127.0.0.1:8470", "t"), TuiConfig(language="en"))
    app.who = WhoAmI(name="t", role="technician")
    app.error = "the engine closed the stream"
    app.alive = True
    alive = str(app.banner_text())
    assert "engine alive; reconnecting the live stream" in alive
    assert "(the engine closed the stream)" in alive and "Retrying" not in alive
    app.alive, app.down_reason = False, "connection refused"
    down = str(app.banner_text())
    assert "engine unreachable at http://127.0.0.1:8470: connection refused; state unknown" in down
    assert "Retrying" in down
    de = EventOpsApp(Api("http://127.0.0.1:8470", "t"), TuiConfig(language="de"))
    de.alive, de.down_reason = False, "connection refused"
    assert "Engine nicht erreichbar unter http://127.0.0.1:8470" in str(de.banner_text())
