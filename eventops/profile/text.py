"""Cleaning text that comes from a profile before anything shows it.

A profile's free text (venue, site and authority names, announcement text,
notes, locations, port descriptions …) ends up on the status page, the wall
screens, the TUI and printed reports. Control characters (ESC starts terminal
escape sequences) and Unicode bidi controls (U+202E reverses the text that
follows it) have no business there; they are removed at load, so every later
reader gets clean text. Newlines and tabs stay only in multi-line fields.
"""

from __future__ import annotations

import unicodedata

#: Bidi embeddings, overrides, isolates and marks; the byte-order mark.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)
#: Fields whose text may span lines.
MULTILINE_FIELDS = frozenset({"text_de", "text_en", "description"})


def clean_text(value: str, *, multiline: bool = False) -> str:
    """``value`` without control and bidi-control characters.

    Line and paragraph separators become a newline (multi-line fields) or a
    space; so do newlines and tabs in single-line fields.
    """
    if value.isprintable() and not (BIDI_CONTROLS & set(value)):
        return value
    out: list[str] = []
    for ch in value.replace("\r\n", "\n"):
        if ch in "\n\u2028\u2029":
            out.append("\n" if multiline else " ")
        elif ch == "\t":
            out.append("\t" if multiline else " ")
        elif ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cc":
            continue
        else:
            out.append(ch)
    return "".join(out)


def removed_characters(value: str, *, multiline: bool = False) -> list[str]:
    """The code points :func:`clean_text` drops or replaces in ``value`` (``U+202E`` …)."""
    kept = "\n\t" if multiline else ""
    found: list[str] = []
    for ch in value.replace("\r\n", "\n"):
        bad = (
            ch in BIDI_CONTROLS
            or ch in "\u2028\u2029"
            or (unicodedata.category(ch) == "Cc" and ch not in kept)
        )
        name = f"U+{ord(ch):04X}"
        if bad and name not in found:
            found.append(name)
    return found
