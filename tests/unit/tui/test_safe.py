from __future__ import annotations

import pytest
from rich.console import Console

from eventops.tui.safe import plain, strip_control

CORPUS = [
    "[@click=app.quit]x[/]",
    "[bold]b[/bold]",
    "[link=https://evil.example]x[/link]",
    ":warning: :smile:",
    "\\[escaped]",
]


@pytest.mark.parametrize("text", CORPUS)
def test_markup_stays_literal(text: str) -> None:
    t = plain(text)
    assert t.plain == text
    assert not t.spans
    console = Console(width=200, record=True, color_system=None, emoji=False)
    console.print(t)
    assert console.export_text().rstrip("\n") == text


def test_control_characters_are_removed() -> None:
    assert strip_control("a\x1b[31mb\x07c\x00d\x9be\u202eRTL") == "a[31mbcdeRTL"
    assert strip_control("two\nlines\tand\rcr") == "two lines and cr"
    assert strip_control(None) == ""
    assert plain("x\x1by").plain == "xy"
