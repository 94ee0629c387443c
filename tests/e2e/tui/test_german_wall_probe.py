"""The German terminal app shows the wall's rule reasons, the wall's refusals, the probe's
results with how each figure was measured, and the probe's refusals in German only
(issue 16 follow-up: one language everywhere).

"English" is every word of the wall's and the probe's English catalogue texts that no
German text uses; the engine still sends its English next to each message id (scripts
read it), and it must not reach the German screen.
"""

from __future__ import annotations

import asyncio
import json
import re
import string
from datetime import timedelta

from textual.widgets import Input, OptionList, Static

from eventops.i18n import MESSAGES
from eventops.i18n.messages_errors import ERROR_MESSAGES
from eventops.i18n.messages_probe import PROBE_MESSAGES
from eventops.i18n.messages_wall import WALL_MESSAGES
from eventops.tui.app import EventOpsApp
from eventops.tui.i18n import STRINGS
from eventops.tui.screens.probe import ProbeView
from eventops.tui.screens.wall import WallTable
from eventops.wall.moderation import ChainConfig, ModerationChain
from eventops.wall.normalize import NormalPost
from eventops.wall.service import WallPipeline
from tests.e2e.tui.conftest import Rig, until
from tests.e2e.tui.test_probe import LINK, prig  # noqa: F401  (the fixture)


def _words(template: str) -> set[str]:
    literal = "".join(lit for lit, _, _, _ in string.Formatter().parse(template))
    return {w.lower() for w in re.findall(r"[A-Za-z]{4,}", literal)}


GERMAN = set().union(
    *(_words(e["de"]) for e in MESSAGES.values()), *(_words(e["de"]) for e in STRINGS.values())
)
OURS = {**WALL_MESSAGES, **PROBE_MESSAGES, **ERROR_MESSAGES}
ENGLISH = (
    set().union(*(_words(e["en"]) for k, e in OURS.items() if not k.startswith("term."))) - GERMAN
)
WORD = re.compile(r"(?<![-\w:'])[A-Za-z]{4,}(?![-\w:'])")
"""A word of text, not a part of an id (mast-03, replay:anna) or of a quoted post word."""


def english_in(text: str) -> set[str]:
    return {w for w in WORD.findall(text) if w.lower() in ENGLISH}


def test_the_english_word_list_is_meaningful() -> None:
    for w in ("blocked", "replies", "passed", "measured", "receiver", "undone", "refusing"):
        assert w in ENGLISH, w
    assert english_in("mode: passed every rule; replay:blocked") == {"passed", "every", "rule"}


def notes(app: EventOpsApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def moderate(rig: Rig) -> None:
    """Posts through the real rule chain of a wall that blocks a word, takes German only,
    no replies and shows content-warned posts to a person."""
    wall = rig.sim.engine.profile.wall.model_copy(
        update={
            "blocked_words": ["spamcoin"],
            "languages": ["de"],
            "allow_replies": False,
            "allow_sensitive": True,
            "moderation": "pre",
        }
    )
    chain = ModerationChain(ChainConfig.from_wall(wall, rig.sim.engine.profile.event.tz))
    pipeline = WallPipeline(wall, rig.sim.store, rig.sim.clock, chain=chain)
    now = rig.sim.clock.now()

    def post(n: int, text: str, **kw: object) -> NormalPost:
        base: dict[str, object] = {
            "id": f"replay:{n}",
            "source": "replay",
            "native_id": str(n),
            "author": f"replay:user{n}",
            "text": text,
            "created_at": now - timedelta(minutes=10 - n),
            "lang": "de",
        }
        return NormalPost.model_validate({**base, **kw})

    for p in (
        post(1, "Die Band auf der Hauptbühne ist großartig"),
        post(2, "Billig spamcoin kaufen"),
        post(3, "Great show tonight everyone", lang="en"),
        post(4, "Wann spielt die nächste Band?", is_reply=True),
        post(5, "Fotos vom Feuerwerk", spoiler_text="laut"),
        post(6, "Die Band auf der Hauptbühne ist großartig"),
    ):
        assert await pipeline.handle(p) is not None
    assert rig.runner is not None
    from eventops.server.wall import WALL

    await rig.runner.app[WALL].hub.refresh()


async def test_german_wall_view_names_rules_reasons_and_refusals_in_german(rig: Rig) -> None:
    await moderate(rig)
    app = rig.app("comms", 'language = "de"')
    seen: list[str] = []
    async with app.run_test(size=(200, 50)) as pilot:
        await until(pilot, lambda: app.ready and "wall" in app.views, "wall view mounted")
        table = app.query_one(WallTable)
        await until(pilot, lambda: table.row_count == 2, "the two queued posts")
        await pilot.press("v", "v")  # pending → approved → all
        await until(pilot, lambda: table.row_count == 6, "every post listed")
        preview = app.query_one("#wall-preview", Static)
        for key, p in sorted(app.state.wall_posts.items()):
            table.move_cursor(row=table.get_row_index(key))
            text = p.text
            await until(pilot, lambda: text in str(preview.render()), f"preview of {key}")  # noqa: B023
            seen.append(str(preview.render()))
        seen.extend(" | ".join(str(c) for c in table.get_row_at(i)) for i in range(6))
        # a refusal: pinning a queued post → a German toast from the engine's message
        table.move_cursor(row=table.get_row_index("replay:1"))
        await pilot.pause()
        await pilot.press("p")
        await until(pilot, lambda: any("angeheftet" in n for n in notes(app)), "the refusal")
        seen.extend(notes(app))
    screen = "\n".join(seen)
    for german in (
        "Moderationsart: alle Regeln bestanden; wartet auf eine Person (Vormoderation)",
        "Wortsperre: gesperrtes Wort 'spamcoin'",
        "Sprachregel: Sprache en (von der Quelle angegeben) wird nicht gezeigt",
        "Antwort-Regel: Antworten werden nicht gezeigt",
        "Regel für sensible Inhalte: Inhaltswarnung 'laut': Ein Mensch entscheidet",
        "Duplikatregel: Duplikat von replay:1",
        "Beitrag replay:1: Ein Beitrag, der wartend ist, kann nicht angeheftet werden",
    ):
        assert german in screen, (german, screen)
    assert not english_in(screen), (english_in(screen), screen)
    # the English the engine keeps for scripts is not what the German app shows
    for english in ("blocked word", "is not shown", "passed every rule", "cannot pin"):
        assert english not in screen, english


async def test_german_probe_view_shows_results_methods_and_refusals_in_german(
    prig: Rig,  # noqa: F811  (the fixture)
) -> None:
    engine = prig.sim.engine  # fibre-fire without a probe: a run there is refused
    links_ = [lk.model_copy(update={"probe": None}) if lk.id == "fibre-fire" else lk
              for lk in engine.profile.links]  # fmt: skip
    engine.profile = engine.profile.model_copy(update={"links": links_})
    app = prig.app("technik", 'language = "de"')
    async with app.run_test(size=(200, 60)) as pilot:
        await until(pilot, lambda: LINK in app.state.links and app.ready, "links arrive")
        await pilot.press("colon", *"probe", "enter")
        view = app.query_one(ProbeView)
        links = view.query_one("#probe-links", OptionList)
        await until(pilot, lambda: links.option_count == len(app.state.links), "link list")
        body = view.query_one("#probe-body", Static)
        texts: list[str] = []

        async def run(key: str, answer: str | None, kind: str) -> None:
            before = view.last.id if view.last is not None else None
            await pilot.press(key)
            if answer is not None:
                await until(pilot, lambda: type(app.screen).__name__ == "InputScreen", "ask")
                app.screen.query_one(Input).value = answer
                await pilot.press("enter")
            await until(
                pilot,
                lambda: (
                    view.running is None
                    and view.last is not None
                    and view.last.id != before
                    and view.last.kind == kind
                ),
                f"the {kind} result",
            )
            await pilot.pause(0.05)
            texts.append(str(body.render()))

        links.highlighted = sorted(app.state.links).index(LINK)
        await run("s", None, "stamp")
        # 0.3 s steps, no hold, and the CLI's loaded-host rate tolerance (a sender starved of
        # CPU sends short; what it sends must still arrive)
        await run("a", "0.3 0 50", "acceptance")

        async def refused(answer: str) -> None:
            before = view.error
            await pilot.press("t")
            await until(pilot, lambda: type(app.screen).__name__ == "InputScreen", "ask")
            app.screen.query_one(Input).value = answer
            await pilot.press("enter")
            await until(
                pilot,
                lambda: view.running is None and view.error not in ("", before),
                f"the refusal of {answer}",
            )
            texts.append(str(body.render()))

        # a range check: 1 kbit/s is not one full-size datagram in 5 s
        await refused("1k 5")
        # the sink's own refusal: a test held open on a raw control connection keeps it busy
        sink = next(lk.probe.sink for lk in engine.profile.links if lk.id == LINK and lk.probe)
        assert sink is not None
        host, _, port = sink.rpartition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(b'{"op":"tcp","session":7,"streams":1,"max_s":60}\n')
            await writer.drain()
            assert json.loads(await reader.readline()) == {"ok": True}  # the sink is busy now
            await refused("10M 1")
        finally:
            writer.close()
        # a run that fails: nothing answers at fibre-stage's reflector (ICMP port unreachable)
        for other in ("fibre-stage", "fibre-fire"):
            links.highlighted = sorted(app.state.links).index(other)
            await until(pilot, lambda: view.last is None, f"{other} selected")
            await pilot.press("s")
            await until(pilot, lambda: view.error != "" and view.running is None, "failed")
            texts.append(str(body.render()))
    screen = "\n".join(texts)
    for german in (
        "100/100 Antworten, Verlust",
        "Umlaufzeit ms: min",
        "So wurde gemessen:",
        "STAMP-Umlaufzeit (T4−T1)−(T3−T2)",
        "Stufe 25%:",
        f"{LINK}: BESTANDEN",
        "Empfängerzähler des",
        "halbe mittlere STAMP-Umlaufzeit, unter Last gemessen",
        "STAMP-Reflektor 127.0.0.1:18863: Port abgelehnt (ICMP: Port nicht erreichbar) auf 100 Pakete",
        "Strecke fibre-fire hat im Profil keinen Mess-Reflektor",
        "Rate 1000 bit/s ergibt nicht einmal ein ",
        f"Senke {sink}: belegt, dort läuft schon eine andere Messung",
    ):
        assert german in screen, (german, screen)
    assert not english_in(screen), (english_in(screen), screen)
    for english in (
        "replies",
        "How it was measured",
        "receiver counters",
        "has no probe",
        "below one",
        "sink busy",
    ):
        assert english not in screen, english
