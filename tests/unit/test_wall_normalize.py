"""The normaliser: plain text, safe links, no control or bidi characters, no HTML."""

from __future__ import annotations

import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from eventops.wall.normalize import (
    html_to_text,
    links_in_text,
    neutralise,
    plain_to_text,
    safe_link,
    safe_media,
)

BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def clean(text: str) -> bool:
    for ch in text:
        if ch == "\n" or ch == "\u200d":
            continue
        if ch in BIDI or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            return False
    return True


@given(st.text(max_size=300))
@settings(max_examples=300)
def test_neutralise_leaves_no_control_or_bidi_characters(text: str) -> None:
    out = neutralise(text)
    assert clean(out)
    assert neutralise(out) == out  # idempotent


@given(st.text(alphabet=st.sampled_from(list("<>/\"'=& abcpahrefscript:\u202e\x1b")), max_size=200))
@settings(max_examples=300)
def test_html_to_text_never_yields_markup_or_unsafe_links(source: str) -> None:
    text, links = html_to_text(source)
    assert clean(text)
    for link in links:
        assert link.url.startswith(("http://", "https://"))
        assert not any(c in link.url for c in " <>\"'`")


@given(st.text(max_size=200))
def test_plain_text_is_neutral(source: str) -> None:
    assert clean(plain_to_text(source))


def test_mastodon_html_becomes_text_and_links() -> None:
    html = (
        '<p>Hello <span class="h-card"><a href="https://social.example/@anna">@<span>anna</span></a>'
        '</span> &amp; friends!<br>See <a href="https://fest.example/plan?x=1&amp;y=2" '
        'rel="nofollow" onclick="steal()">the plan</a></p><p><a href="javascript:alert(1)">x</a>'
        "<script>alert(2)</script><img src=x onerror=alert(3)>\u202eevil</p>"
    )
    text, links = html_to_text(html)
    assert text == "Hello @anna & friends!\nSee the plan\n\nxevil"
    assert [link.url for link in links] == [
        "https://social.example/@anna",
        "https://fest.example/plan?x=1&y=2",
    ]
    assert "alert" not in text


def test_x_text_is_unescaped_and_neutralised() -> None:
    assert (
        plain_to_text("a &lt;b&gt; &amp; c\x1b[31m \u202egnp.exe\u202c") == "a <b> & c[31m gnp.exe"
    )


def test_emoji_zwj_sequences_survive() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert neutralise(f"hi {family}") == f"hi {family}"


def test_safe_links() -> None:
    assert safe_link("javascript:alert(1)") is None
    assert safe_link("data:text/html,x") is None
    assert safe_link("https://user:pw@evil.example/") is None
    assert safe_link("https://exa mple.com/") is None
    link = safe_link("HTTPS://Bücher.Example/a#frag")
    assert link is not None
    assert link.url == "https://xn--bcher-kva.example/a" and link.domain == "xn--bcher-kva.example"
    assert [x.domain for x in links_in_text("go to https://a.example/x). or http://b.example")] == [
        "a.example",
        "b.example",
    ]


def test_media_needs_a_safe_url() -> None:
    assert safe_media("image", "javascript:x", None, "") is None
    m = safe_media("gifv", "https://m.example/a.mp4", "https://m.example/a.jpg", "alt\u202e")
    assert m is not None and m.kind == "gif" and m.description == "alt"
