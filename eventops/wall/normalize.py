"""Reduce a post from any source to plain text, safe links and media references.

The wall never stores or renders HTML from a source. Source HTML (Mastodon's
``content``) first goes through nh3, an allowlist sanitiser that keeps only
``<p>``, ``<br>`` and ``<a href>`` with http(s) targets; our own parser then
turns what is left into text and a list of links. Plain-text sources (X) are
entity-decoded. Every text then has control, bidi-override and other
invisible formatting characters neutralised, so a post cannot reorder the
screen's text, hide words or smuggle terminal escapes.
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import nh3
from pydantic import BaseModel, ConfigDict

MAX_TEXT = 5000
"""Longer texts are cut; no wall screen shows more."""

_ZWJ = "\u200d"
# Explicit bidi embeddings, overrides and isolates, plus the marks; all are Cf.
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING_PUNCT = ".,;:!?)]}'\""
_HOST = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")


class Link(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    url: str
    domain: str


class Media(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: str
    """photo, video, gif, audio or unknown."""
    url: str
    preview_url: str | None = None
    description: str = ""


class NormalPost(BaseModel):
    """A post as every source hands it on: plain text, no HTML, safe links only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    """Source-qualified id, e.g. ``x:1790…`` or ``mastodon:social.example:1123``."""
    source: str
    """The source's name, e.g. ``x``, ``mastodon:social.example``, ``replay``."""
    native_id: str
    author: str
    """Source-qualified lower-case handle: ``x:alice``, ``mastodon:bob@social.example``."""
    author_name: str = ""
    text: str
    created_at: datetime
    lang: str | None = None
    links: tuple[Link, ...] = ()
    media: tuple[Media, ...] = ()
    sensitive: bool = False
    spoiler_text: str = ""
    is_reply: bool = False
    is_boost: bool = False
    is_bot: bool = False
    replaces: tuple[str, ...] = ()
    """Ids of earlier versions of this post (an edit): those are hidden at once."""
    raw_url: str | None = None
    """Where the post can be seen at the source."""
    version: str = ""
    """Changes when the source edits the post in place (Mastodon's ``edited_at``)."""

    def data(self) -> dict[str, Any]:
        """Everything but the stored columns, for ``PostRow.data``."""
        return self.model_dump(
            mode="json", exclude={"id", "source", "author", "author_name", "text", "created_at"}
        )


class Deletion(BaseModel):
    """The source says this post is gone."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    source: str


def neutralise(text: str) -> str:
    """Drop control, bidi and invisible formatting characters; keep ``\\n`` and emoji ZWJ.

    Tabs become spaces, CR/LF variants one ``\\n``; runs of blank lines are cut
    to one and the whole text is cut to :data:`MAX_TEXT` characters.
    """
    if text.isascii() and text.isprintable():
        return text[:MAX_TEXT].strip()
    out: list[str] = []
    for ch in text.replace("\r\n", "\n").replace("\r", "\n"):
        if ch == "\n":
            out.append(ch)
            continue
        cat = unicodedata.category(ch)
        if ch in _BIDI:
            continue
        if cat == "Cc":
            out.append(" " if ch == "\t" else "")
        elif cat == "Cf":
            if ch == _ZWJ:
                out.append(ch)
        elif cat in ("Zl", "Zp"):
            out.append("\n")
        elif cat in ("Co", "Cs", "Cn"):
            out.append("\ufffd")
        else:
            out.append(ch)
    s = "".join(out)
    s = re.sub(r"\n{3,}", "\n\n", s)
    s = re.sub(r"[ \u00a0]{2,}", " ", s)
    return s[:MAX_TEXT].strip()


def safe_link(url: str) -> Link | None:
    """``url`` as a safe http(s) link, or None (other schemes, userinfo, bad hosts)."""
    url = neutralise(url).strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    host = parts.hostname.rstrip(".")
    try:
        host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    if not _HOST.match(host):
        return None
    netloc = host if port is None else f"{host}:{port}"
    clean = urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, ""))
    if any(c in clean for c in " <>\"'`\\"):
        return None
    return Link(url=clean, domain=host)


def links_in_text(text: str) -> list[Link]:
    out: list[Link] = []
    for m in _URL_IN_TEXT.finditer(text):
        link = safe_link(m.group(0).rstrip(_TRAILING_PUNCT))
        if link is not None:
            out.append(link)
    return out


def unique_links(links: list[Link]) -> tuple[Link, ...]:
    seen: dict[str, Link] = {}
    for link in links:
        seen.setdefault(link.url, link)
    return tuple(seen.values())


class _TextAndLinks(HTMLParser):
    """Turns nh3's output (only p, br and a[href]) into text and links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[Link] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")
        elif tag == "a":
            href = dict(attrs).get("href")
            link = safe_link(href) if href else None
            if link is not None:
                self.links.append(link)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(source_html: str) -> tuple[str, tuple[Link, ...]]:
    """Sanitise source HTML with nh3's allowlist and reduce it to text plus links."""
    cleaned = nh3.clean(
        source_html[: MAX_TEXT * 4],
        tags={"p", "br", "a"},
        attributes={"a": {"href"}},
        url_schemes={"http", "https"},
        link_rel=None,
        strip_comments=True,
    )
    parser = _TextAndLinks()
    parser.feed(cleaned)
    parser.close()
    text = neutralise("".join(parser.parts))
    return text, unique_links(parser.links + links_in_text(text))


def plain_to_text(source_text: str) -> str:
    """A plain-text source's text (X escapes ``&``, ``<``, ``>``) as neutral text."""
    return neutralise(html.unescape(source_text))


def media_kind(value: str) -> str:
    v = value.lower()
    if v in ("photo", "image"):
        return "photo"
    if v in ("video", "gifv", "animated_gif", "gif", "audio"):
        return {"gifv": "gif", "animated_gif": "gif"}.get(v, v)
    return "unknown"


def safe_media(kind: str, url: str | None, preview: str | None, description: str) -> Media | None:
    """A media reference if its URL is a safe http(s) link."""
    link = safe_link(url) if url else None
    if link is None:
        return None
    pv = safe_link(preview) if preview else None
    return Media(
        kind=media_kind(kind),
        url=link.url,
        preview_url=pv.url if pv else None,
        description=neutralise(description)[:1500],
    )


def handle(value: str) -> str:
    """An account handle, lower-case, without '@' and neutralised."""
    return neutralise(value).strip().lstrip("@").lower()
