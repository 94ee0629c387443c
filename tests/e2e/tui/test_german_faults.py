"""German output for the demo's faults contains no English check or alert text.

The demo's faults — optics of a fibre link degrading, a link cut, a mast that
does not answer, a mast rebooting, a mast whose radio is gone — are injected
into the simulated event; the terminal app in German and the status page in
German must then show what is wrong in German only. "English" is every word
of the catalogue's English check, alert and page texts that no German text
uses; the English message the API keeps for scripts must not leak through.
"""

from __future__ import annotations

import re
import string
from html.parser import HTMLParser

import aiohttp
from textual.widgets import Static

from eventops.i18n import MESSAGES
from eventops.tui.i18n import STRINGS
from eventops.tui.screens.detail import DetailScreen
from eventops.tui.tables import RowTable
from tests.e2e.tui.conftest import TOKENS, Rig, until


def _words(template: str) -> set[str]:
    literal = "".join(lit for lit, _, _, _ in string.Formatter().parse(template))
    return {w.lower() for w in re.findall(r"[A-Za-z]{4,}", literal)}


GERMAN = set().union(
    *(_words(e["de"]) for e in MESSAGES.values()), *(_words(e["de"]) for e in STRINGS.values())
)
ENGLISH = (
    set().union(*(_words(e["en"]) for k, e in MESSAGES.items() if not k.startswith("term.")))
    - GERMAN
)


WORD = re.compile(r"(?<![-\w])[A-Za-z]{4,}(?![-\w])")
"""A word of text, not a part of an id such as fibre-fire or mast-03."""


def english_in(text: str) -> set[str]:
    return {w for w in WORD.findall(text) if w.lower() in ENGLISH}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def test_the_english_word_list_is_meaningful() -> None:
    for w in ("unreachable", "missing", "radio", "rebooted", "margin", "baseline", "down"):
        assert w in ENGLISH, w
    assert english_in("mast-03 unreachable: no connection") == {"unreachable", "connection"}


async def inject_the_demo_faults(rig: Rig) -> None:
    fleet = rig.sim.fleet
    fleet.degrade_optics("fibre-police", step_db=1.5, every_s=2.0)
    fleet.link_down("fibre-fire")
    await fleet.mast("mast-03").set_unreachable(True)
    fleet.mast("mast-02").boot_s = 4.0
    fleet.reboot("mast-02")
    m1 = fleet.mast("mast-01")
    radio = next(n for n, s in m1.uci["wireless"].items() if s.get(".type") == "wifi-device")
    m1.uci["wireless"][radio]["disabled"] = "1"
    await rig.sim.to(60)


async def test_german_tui_and_status_page_show_the_faults_without_english(rig: Rig) -> None:
    await inject_the_demo_faults(rig)
    alerts = rig.sim.engine.alerts.open_alerts()
    keys = {a.key for a in alerts}
    # the faults really are there, each as an alert with its English text for scripts
    assert "device:mast-03:unreachable" in keys
    assert "link:fibre-fire:down" in keys
    assert any(k.startswith("device:mast-01:radio.") for k in keys)
    assert any(k.startswith("link:fibre-police:") for k in keys)
    assert all(a.msg_id for a in alerts)
    english_summaries = {a.summary for a in alerts}

    app = rig.app("technik", 'language = "de"')
    seen: list[str] = []
    async with app.run_test(size=(200, 60)) as pilot:
        await until(pilot, lambda: app.ready and app.state.alerts, "alerts arrived")

        def tables() -> None:
            for table in app.query(RowTable):
                for i in range(table.row_count):
                    seen.append(" | ".join(str(c) for c in table.get_row_at(i)))

        for view in ("alerts", "masts", "links", "devices"):
            await pilot.press("colon", *view, "enter")
            await pilot.pause(0.1)
        await until(
            pilot,
            lambda: any(t.row_count >= len(alerts) for t in app.query(RowTable)),
            "tables drawn",
        )
        app.flush()
        await pilot.pause(0.1)
        tables()

        def detail_text() -> str:
            return str(app.screen.query_one("#detail-body", Static).render())

        for kind, key in (("device", "mast-01"), ("device", "mast-03"), ("link", "fibre-fire")):
            app.push_screen(DetailScreen(kind, key))
            await until(pilot, lambda: bool(app.screen.query("#detail-body")), "detail open")
            await until(pilot, lambda: "Prüfungen" in detail_text(), "detail drawn")
            seen.append(detail_text())
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, DetailScreen), "detail closed")
        await pilot.press("colon", *"timeline", "enter")
        await until(pilot, lambda: app.timeline_loaded, "timeline loaded")
        app.flush()
        await pilot.pause(0.1)
        tables()
    screen = "\n".join(seen)
    # the faults are on screen, in German
    assert "mast-03 nicht erreichbar" in screen
    assert "Funkmodul" in screen
    assert "fibre-fire ausgefallen" in screen
    assert "| Alarm |" in screen  # the timeline names the kind of entry in German
    assert "Empfang" in screen  # fibre-police's receive power
    assert not english_in(screen), (english_in(screen), screen)
    for summary in english_summaries:
        assert summary not in screen

    headers = {"Authorization": f"Bearer {TOKENS['technik']}", "Accept": "text/html"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{rig.url}/status?lang=de", headers=headers) as resp:
            assert resp.status == 200
            page = _Text()
            page.feed(await resp.text())
        async with http.get(
            f"{rig.url}/api/v1/status",
            headers={**headers, "Accept-Language": "de-DE,de;q=0.9", "Accept": "application/json"},
        ) as resp:
            assert resp.status == 200
            data = await resp.json()
        async with http.get(f"{rig.url}/api/v1/status?lang=fr", headers=headers) as resp:
            assert resp.status == 400
            assert "lang" in (await resp.json())["error"]["message"]
    text = " ".join(page.parts)
    assert "AUSGEFALLEN" in text and "Streckenstatus" in text
    assert not english_in(text), (english_in(text), text)
    cells = " ".join(" ".join(link["cells"].values()) for link in data["links"])
    assert "ausgefallen" in cells.lower()
    assert not english_in(cells), (english_in(cells), cells)


async def test_times_are_in_the_event_zone_whatever_the_config_says(rig: Rig) -> None:
    # the test config says UTC; the engine's event is in Europe/Berlin (simulated 16:00 UTC)
    await rig.sim.to(20)
    rig.sim.fleet.link_down("fibre-fire")
    await rig.sim.to(40)
    app = rig.app("technik")
    assert app.config.timezone == "UTC"
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: app.ready and app.state.alerts, "alerts arrived")
        assert app.who is not None and app.who.timezone == "Europe/Berlin"
        top = str(app.top_text())
        assert re.search(r" · live 18:00:\d\d CEST · ", top), top  # the header's data time
        await pilot.press("colon", *"alerts", "enter")
        table = next(t for t in app.query(RowTable) if t.id == "alerts")
        await until(pilot, lambda: table.row_count > 0, "alerts listed")
        labels = [str(c.label) for c in table.columns.values()]
        assert "Since (CEST)" in labels, labels
        since = str(table.get_row_at(0)[4])  # mark, severity, subject, summary, since
        assert since.startswith("18:00:"), since  # local time, not 16:00 UTC


ACTION_WORDS = (
    set().union(
        *(
            _words(e["en"])
            for k, e in MESSAGES.items()
            if k.startswith(("term.alert.", "term.device.", "term.link.", "term.wall."))
            or k.startswith("tl.")
        )
    )
    - GERMAN
)
"""English words of the timeline's own texts (what was done: acknowledged, handed over …)."""


async def test_german_timeline_names_what_people_did_in_german(rig: Rig) -> None:
    """Not only alerts: acknowledgements, silences, maintenance, a handover and a moderation
    decision are timeline entries the German app shows in German (issue 16, one language)."""
    from eventops.clock import SystemClock
    from eventops.i18n import Msg
    from eventops.wall.manual import ManualModeration

    rig.sim.fleet.link_down("fibre-fire")
    await rig.sim.to(30)
    engine = rig.sim.engine
    [alert] = [a for a in engine.alerts.open_alerts() if a.key == "link:fibre-fire:down"]
    assert alert.id is not None
    await engine.ack(alert.id, "technik", "Bagger")
    await engine.silence({"device": "mast-02"}, 600, "technik", "Umbau")
    await engine.set_maintenance("mast-03", True, "technik", "Mast wird versetzt")
    await engine.handover("fibre-police", "police", "technik", force=True, reason="Einsatz läuft")
    pre = Msg("wall.rule.pre_moderation")  # the rule's reason as the pipeline writes it
    await rig.add_post("replay:1", "Schönes Fest!", "replay:anna", rule=("mode", pre))
    await ManualModeration(rig.sim.store, SystemClock()).decide(
        "replay:1", "approve", "maria", "passt"
    )
    app = rig.app("technik", 'language = "de"')
    async with app.run_test(size=(200, 60)) as pilot:
        await until(pilot, lambda: app.ready, "ready")
        await pilot.press("colon", *"timeline", "enter")
        await until(pilot, lambda: app.timeline_loaded, "timeline loaded")
        table = app._table_in("timeline")
        assert table is not None
        await until(pilot, lambda: table.row_count >= 6, "entries drawn")
        rows = [" | ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]
    screen = "\n".join(rows)
    for german in (
        "technik: Alarm bestätigt",
        "technik: stummgeschaltet",
        "technik: Wartung mast-03",
        "technik hat fibre-police an police übergeben",
        "maria: freigegeben (passt)",
        "| Protokoll |",
        "| Übergabe |",
    ):
        assert german in screen, (german, screen)
    for raw in ("alert.ack", "alert.silence", "device.maintenance", "link.handover", "audit:"):
        assert raw not in screen, (raw, screen)
    leaked = {w for w in WORD.findall(screen) if w.lower() in ACTION_WORDS}
    assert not leaked and not english_in(screen), (leaked, english_in(screen), screen)
