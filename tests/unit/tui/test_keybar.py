"""The key bar's fitting: full labels, short labels, two lines, then leaving keys out."""

from __future__ import annotations

from eventops.tui.keybar import Hint, layout


def h(key: str, label: str, short: str, id: str) -> Hint:
    return Hint(key, label, short, id)


OWN = [h(k, f"action number {k}", f"act{k}", f"wall.{k}") for k in "abcdefghij"]
SORT = h("s", "sort", "sort", "row.sort")
GLOBALS = [
    h(":", "command", "cmd", "app.command"),
    h("/", "filter", "filter", "app.filter"),
    h("esc", "back", "back", "app.back"),
    h("q", "quit", "quit", "app.quit"),
    h("?", "help", "help", "app.help"),
]


def ids(lines: list[list[Hint]]) -> list[str]:
    return [x.id for line in lines for x in line]


def test_one_line_with_full_labels_when_it_fits() -> None:
    lines, short = layout([SORT, *GLOBALS], 80)
    assert len(lines) == 1 and not short


def test_short_labels_then_two_lines() -> None:
    lines, short = layout([*OWN[:3], SORT, *GLOBALS], 80)
    assert short and len(lines) == 1  # full labels do not fit, short ones do
    lines, short = layout([*OWN, SORT, *GLOBALS], 72)
    assert short and len(lines) == 2
    assert ids(lines) == [x.id for x in [*OWN, SORT, *GLOBALS]]


def test_globals_go_first_then_sort_then_own_from_the_end_help_stays() -> None:
    lines, _ = layout([*OWN, SORT, *GLOBALS], 40)
    kept = ids(lines)
    assert len(lines) == 2 and all(
        sum(len(x.key) + len(x.short) + 3 for x in ln) < 40 for ln in lines
    )
    assert "app.help" in kept
    assert "app.quit" not in kept and "row.sort" not in kept
    own = [x for x in kept if x.startswith("wall.")]
    assert own == [f"wall.{k}" for k in "abcdefghij"][: len(own)]  # cut from the end only
