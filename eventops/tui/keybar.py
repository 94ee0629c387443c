"""The key hints at the bottom of a screen, made to fit a small terminal.

Textual's ``Footer`` puts every binding on one line and cuts what does not
fit: at 80 columns the comms role lost undo, block, announce and pause. This
bar orders the hints by importance — the view's own keys first (its actions,
then the role's actions on the app), the global keys last — and fits them:

1. one line with full labels, else
2. one line with short labels (``short.<binding id>`` in the string table), else
3. two lines with short labels, else
4. two lines with the global keys left out, then the common ``s`` sort, then the
   view's own from the end (``?`` always stays: it lists them all).

Only bindings with a description and ``show=True`` are hints; what is shown
is exactly what the screen's ``active_bindings`` says the keys do now.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static

from eventops.tui.i18n import Tr

GLOBAL_IDS = ("app.command", "app.filter", "app.back", "app.quit", "app.palette", "app.help")
"""The keys every view has, in the order they are shown (after the view's own)."""
LOW_IDS = ("row.sort",)
"""View keys every table has: after the view's own actions, and left out before them."""
KEEP_IDS = frozenset({"app.help"})
"""Never left out: help lists everything that did not fit."""
MAX_LINES = 2


class Hint(NamedTuple):
    key: str
    label: str
    short: str
    id: str


def hints_of(screen: Screen[Any], tr: Tr | None) -> list[Hint]:
    """The screen's shown bindings as hints, the view's own first, the global ones last."""
    own: list[Hint] = []
    glob: dict[str, Hint] = {}
    seen: set[str] = set()
    app = screen.app
    for active in screen.active_bindings.values():
        b = active.binding
        if not b.show or not b.description or b.action in seen:
            continue
        seen.add(b.action)
        bid = b.id or ""
        short_key = f"short.{bid}"
        short = tr(short_key) if tr is not None and short_key in tr.keys else b.description
        hint = Hint(app.get_key_display(b), b.description, short, bid)
        if bid in GLOBAL_IDS:
            glob[bid] = hint
        else:
            own.append(hint)
    if app.ENABLE_COMMAND_PALETTE and "app.palette" not in glob:
        label = tr("help.palette") if tr is not None else "palette"
        short = tr("short.app.palette") if tr is not None else label
        glob["app.palette"] = Hint("^p", label, short, "app.palette")
    taken = {h.key for h in own}  # a screen's own esc (back) over the app's
    low = [h for h in own if h.id in LOW_IDS]
    own = [h for h in own if h.id not in LOW_IDS]
    return own + low + [glob[i] for i in GLOBAL_IDS if i in glob and glob[i].key not in taken]


def _width(h: Hint, short: bool) -> int:
    return len(h.key) + 1 + len(h.short if short else h.label) + 2


def _lines(hints: list[Hint], width: int, short: bool) -> list[list[Hint]]:
    lines: list[list[Hint]] = [[]]
    used = 1
    for h in hints:
        w = _width(h, short)
        if lines[-1] and used + w > width:
            lines.append([])
            used = 1
        lines[-1].append(h)
        used += w
    return lines


def layout(hints: list[Hint], width: int) -> tuple[list[list[Hint]], bool]:
    """The hints in at most :data:`MAX_LINES` lines of ``width``, and whether short labels."""
    for short, max_lines in ((False, 1), (True, 1), (True, MAX_LINES)):
        lines = _lines(hints, width, short)
        if len(lines) <= max_lines:
            return lines, short
    # leave out global keys (last first), then the common view keys, then the view's
    # own from the end, until it fits; ? always stays (it lists everything)
    kept = list(hints)
    order = [h for h in reversed(hints) if h.id in GLOBAL_IDS and h.id not in KEEP_IDS]
    order += [h for h in reversed(hints) if h.id in LOW_IDS]
    order += [h for h in reversed(hints) if h.id not in GLOBAL_IDS and h.id not in LOW_IDS]
    for h in order:
        kept.remove(h)
        lines = _lines(kept, width, True)
        if len(lines) <= MAX_LINES:
            return lines, True
    return _lines(kept, width, True)[:MAX_LINES], True


class KeyBar(Static):
    """The screen's key hints in one or two lines (see the module docstring)."""

    DEFAULT_CSS = """
    KeyBar { dock: bottom; height: auto; max-height: 2; background: $footer-background;
             color: $footer-foreground; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__("", **kw)
        self.lines: list[list[Hint]] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self.redraw)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def on_resize(self) -> None:
        self.redraw()

    def _bindings_changed(self, screen: Screen[Any]) -> None:
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self.redraw)

    def redraw(self) -> None:
        if not self.is_attached:
            return
        tr = getattr(self.app, "tr", None)
        hints = hints_of(self.screen, tr if isinstance(tr, Tr) else None)
        width = self.size.width or self.app.size.width
        self.lines, short = layout(hints, width)
        color = self.app.get_css_variables().get("footer-key-foreground", "yellow")
        key_style = f"bold {color.removeprefix('ansi_')}"
        t = Text(no_wrap=True, overflow="crop")
        for i, line in enumerate(self.lines):
            if i:
                t.append("\n")
            t.append(" ")
            for h in line:
                t.append(h.key, style=key_style)
                t.append(f" {h.short if short else h.label}  ")
        self.update(t)

    def text(self) -> str:
        """What the bar shows, as plain text (tests)."""
        return str(self.render())
