"""Untrusted text (hostnames, SSIDs, author names, post text, error strings) as plain text.

Everything shown in the terminal app that did not come from our own string
table goes through :func:`plain`: control characters (C0, C1, DEL, and the
bidi overrides) are removed and the result is a :class:`rich.text.Text`, which
Textual renders literally — ``[@click=app.quit]`` or ``[bold]`` in a hostname
stay visible characters, never markup.
"""

from __future__ import annotations

import re

from rich.style import Style
from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def strip_control(value: object) -> str:
    """The text without control characters; newlines and tabs become spaces."""
    s = "" if value is None else str(value)
    return _CONTROL.sub("", s.replace("\n", " ").replace("\t", " ").replace("\r", " "))


def plain(value: object, style: str | Style = "") -> Text:
    """A Text that renders exactly the characters of ``value`` (minus control characters)."""
    return Text(strip_control(value), style=style, no_wrap=True, end="")
