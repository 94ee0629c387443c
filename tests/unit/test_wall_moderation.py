"""The rule chain: each rule, its order, its reasons, and the blocklist's folding."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventops.errors import WallError
from eventops.profile.models import Wall
from eventops.wall.moderation import (
    DEFAULT_BLOCKLIST,
    Blocklist,
    ModerationChain,
    detect_language,
    fold,
    tokens,
)
from eventops.wall.normalize import Link, Media, NormalPost

NOW = datetime(2026, 6, 18, 18, 0, tzinfo=UTC)
_n = iter(range(10**9))


def post(text: str = "Tolles Konzert heute auf dem Platz", **kw: Any) -> NormalPost:
    i = next(_n)
    base: dict[str, Any] = {
        "id": f"t:{i}",
        "source": "t",
        "native_id": str(i),
        "author": f"t:user{i}",
        "text": text,
        "created_at": NOW,
        "lang": "de",
    }
    base.update(kw)
    return NormalPost(**base)


def chain(**kw: Any) -> ModerationChain:
    return ModerationChain.from_wall(Wall(**kw))


DEFAULTS = Blocklist.build(DEFAULT_BLOCKLIST)


def blocked(text: str, bl: Blocklist = DEFAULTS) -> str | None:
    return bl.match(tokens(fold(text)))


@pytest.mark.parametrize(
    "text",
    [
        "you ASSHOLE",
        "du Arschloch",
        "Du Аrschlосh",  # Cyrillic а, о, с
        "ΗΕΙL ΗΙΤLΕR",  # Greek capitals
        "ＳＩＥＧ　ＨＥＩＬ",  # fullwidth
        "Hurens\u200bohn",  # zero-width space
        "h.u.r.e.n.s.o.h.n",
        "f u c k you",
        "sh!t",
        "$hit show",
        "wh0r3",
        "fuuuuuck",
        "f*ck off",
        "Scheiße",
        "SCHEISSE",
        "Arschlöcher!!",
        "ni99er",
        "Wíchser",  # accent
        "verpiss   dich",
        "motherfuckers",
    ],
)
def test_default_blocklist_survives_obfuscation(text: str) -> None:
    assert blocked(text) is not None, text


@pytest.mark.parametrize(
    "text",
    [
        "Schöne Grüße vom Altstadtfest",
        "Shiitake-Pilze am Stand 4",
        "fickle weather in Scunthorpe",
        "Assessment of the class",
        "Konzert um 20 Uhr, Bühne 3",
        "Hancock and Dickens were there",
        "Spaziergänger am Fluss",
        "Kikeriki! Der Hahn kräht",
    ],
)
def test_default_blocklist_leaves_ordinary_text(text: str) -> None:
    assert blocked(text) is None, text


OBFUSCATIONS: dict[str, Callable[[str], str]] = {
    "upper": str.upper,
    "fullwidth": lambda s: "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s),
    "zero-width": lambda s: "\u200b".join(s),
    "dotted": lambda s: ".".join(s),
    "homoglyph": lambda s: s.translate(str.maketrans("aeopcx", "аеорсх")),
    "accents": lambda s: "".join(c + "\u0301" if c in "aeiou" else c for c in s),
    "leet": lambda s: s.translate(str.maketrans("aeio", "4310")),
}
WORDS = ["hurensohn", "arschloch", "wichser", "asshole", "bitch", "cunt", "schlampe"]


@given(
    st.sampled_from(WORDS),
    st.lists(st.sampled_from(sorted(OBFUSCATIONS)), min_size=1, max_size=3, unique=True),
    st.sampled_from(["", "Hey ", "Ihr seid "]),
)
@settings(max_examples=300)
def test_blocklist_property_any_combination_of_spellings(
    word: str, how: list[str], prefix: str
) -> None:
    text = word
    for name in how:
        text = OBFUSCATIONS[name](text)
    assert blocked(prefix + text + "!") is not None, (text, how)


def test_event_words_and_phrases() -> None:
    bl = Blocklist.build(["spamcoin", "free beer*", "*scam*"])
    assert blocked("Get SPAMCOIN now", bl) == "spamcoin"
    assert blocked("free beerhall tonight", bl) == "free beer*"
    assert blocked("a total megascammer", bl) == "*scam*"
    assert blocked("free beverages", bl) is None


def test_a_blocked_word_without_letters_is_refused() -> None:
    with pytest.raises(WallError, match=r"blocked word '88': has no letters to match"):
        chain(blocked_words=["88"])


def test_rules_in_order_with_reasons() -> None:
    c = chain(
        hashtags=["fest"],
        blocked_users=["@troll", "x:badguy"],
        allowed_users=["stadt_presse"],
        blocked_domains=["spam.example"],
        languages=["de", "en"],
    )
    v = c.moderate(post(author="x:troll", text="Hallo"), NOW)
    assert (v.outcome, v.rule) == ("reject", "blocked_user")
    v = c.moderate(post(author="x:stadt_presse", text="Ihr Arschlöcher"), NOW)
    assert (v.outcome, v.rule, v.reason) == ("reject", "blocked_word", "blocked word '*arschloch*'")
    v = c.moderate(
        post(
            author="x:stadt_presse",
            text="Programm",
            links=(Link(url="https://a.spam.example/x", domain="a.spam.example"),),
        ),
        NOW,
    )
    assert (v.rule, v.reason) == ("link_policy", "link to blocked domain spam.example")
    v = c.moderate(post(author="x:stadt_presse", text="Programm", is_reply=True), NOW)
    assert (v.outcome, v.rule) == ("approve", "allowed_user")
    assert c.moderate(post(is_boost=True), NOW).rule == "boost"
    assert c.moderate(post(is_reply=True), NOW).rule == "reply"
    assert c.moderate(post(is_bot=True), NOW).rule == "bot"
    v = c.moderate(post(lang="fr", text="Bonjour"), NOW)
    assert (v.rule, v.reason) == ("language", "language fr (tagged) is not shown")
    v = c.moderate(post(lang=None, text="Questo è il concerto più bello della città"), NOW)
    assert v.rule == "mode"  # undetectable: a person decides
    v = c.moderate(post(spoiler_text="Blut"), NOW)
    assert (v.outcome, v.rule) == ("reject", "sensitive")
    v = c.moderate(post(text="Ein ganz normaler Beitrag über das Fest heute"), NOW)
    assert (v.outcome, v.rule, v.state) == ("queue", "mode", "pending")


def test_author_name_and_media_description_are_checked() -> None:
    c = chain()
    assert c.moderate(post(author_name="Hurensohn 88"), NOW).rule == "blocked_word"
    m = Media(kind="photo", url="https://m.example/a.jpg", description="f.u.c.k")
    assert c.moderate(post(media=(m,)), NOW).rule == "blocked_word"


def test_allowed_domains_only() -> None:
    c = chain(allowed_domains=["stadt.example"])
    ok = Link(url="https://www.stadt.example/p", domain="www.stadt.example")
    other = Link(url="https://elsewhere.example/", domain="elsewhere.example")
    assert c.moderate(post(links=(ok,)), NOW).rule == "mode"
    assert c.moderate(post(links=(ok, other)), NOW).reason == (
        "link to elsewhere.example, not an allowed domain"
    )


def test_sensitive_allowed_goes_to_a_person_even_in_post_mode() -> None:
    c = chain(moderation="post", allow_sensitive=True)
    assert c.moderate(post(sensitive=True), NOW).outcome == "queue"
    assert c.moderate(post(text="Ganz harmlos und ohne Warnung heute"), NOW).outcome == "approve"


def test_language_detection_fallback() -> None:
    assert detect_language("Heute ist das Wetter auf dem Platz sehr schön") == "de"
    assert detect_language("What a great night, the weather is nice and the band is on") == "en"
    assert detect_language("🎉🎉") is None
    c = chain(languages=["de"])
    v = c.moderate(post(lang=None, text="What a great night and the band is on"), NOW)
    assert (v.rule, v.reason) == ("language", "language en (detected) is not shown")


def test_duplicates_and_near_duplicates() -> None:
    c = chain()
    first = post(text="Kommt alle zum Stand 12 am Marktplatz, heute gibt es Waffeln und Kakao")
    assert c.moderate(first, NOW).rule == "mode"
    v = c.moderate(
        post(text="Kommt alle zum Stand 12 am Marktplatz, heute gibt es Waffeln und Kakao"), NOW
    )
    assert (v.rule, v.reason) == ("duplicate", f"duplicate of {first.id}")
    v = c.moderate(
        post(text="KOMMT alle zum Stand 12 am Marktplatz, heute gibt es Waffeln und Kakao!!!"), NOW
    )
    assert v.rule == "duplicate"
    v = c.moderate(
        post(text="Kommt alle zum Stand 12 am Marktplatz, heute gibt es Waffeln und Tee"), NOW
    )
    assert v.rule == "duplicate" and v.reason.startswith("near-duplicate")
    assert (
        c.moderate(post(text="Ganz anderer Text über die Bühne und das Licht"), NOW).rule == "mode"
    )
    # Outside the window it is new again.
    later = NOW + timedelta(hours=7)
    assert c.moderate(post(text=first.text), later).rule == "mode"


def test_rate_cap_per_author_per_hour() -> None:
    c = chain(max_posts_per_author_per_hour=3)
    outcomes = [
        c.moderate(
            post(author="t:wave", text=f"Angebot Nummer {w} für alle"), NOW + timedelta(minutes=i)
        ).rule
        for i, w in enumerate(["eins", "zwei", "drei", "vier"])
    ]
    assert outcomes == ["mode", "mode", "mode", "rate_cap"]
    assert (
        c.moderate(
            post(author="t:wave", text="Nach einer Stunde wieder da"), NOW + timedelta(minutes=61)
        ).rule
        == "mode"
    )


def test_runtime_block_with_expiry() -> None:
    c = chain()
    c.block("t:spammer", NOW + timedelta(hours=1))
    assert c.moderate(post(author="t:spammer"), NOW).rule == "blocked_user"
    assert (
        c.moderate(
            post(author="t:spammer", text="Wieder da nach der Sperre"), NOW + timedelta(hours=2)
        ).rule
        == "mode"
    )
    c.block("t:spammer", None)
    assert "until lifted" in c.moderate(post(author="t:spammer"), NOW).reason
    c.unblock("t:spammer")
    assert (
        c.moderate(post(author="t:spammer", text="Und wieder frei heute Abend"), NOW).rule == "mode"
    )
