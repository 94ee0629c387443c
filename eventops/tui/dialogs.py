"""Modal dialogs: one line of text, yes/no, pick one, help."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from eventops.tui.i18n import Tr
from eventops.tui.safe import plain
from eventops.tui.tables import localize_bindings


class Localized:
    """Screens translate their binding descriptions when mounted."""

    def _localize(self) -> None:
        assert isinstance(self, Screen)
        tr = getattr(self.app, "tr", None)
        if isinstance(tr, Tr):
            localize_bindings(self, tr)


class InputScreen(Localized, ModalScreen[str | None]):
    """Asks for one line of text (a note, a duration); esc cancels."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "cancel", "cancel", id="dialog.cancel")]

    def __init__(self, prompt: str, value: str = "") -> None:
        super().__init__()
        self.prompt = prompt
        self.value = value

    def on_mount(self) -> None:
        self._localize()

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(plain(self.prompt))
            yield Input(value=self.value, id="dialog-input")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(Localized, ModalScreen[bool]):
    BINDINGS: ClassVar[list[Any]] = [
        Binding("y,j", "yes", "yes", id="dialog.yes"),
        Binding("n,escape", "no", "no", id="dialog.no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def on_mount(self) -> None:
        self._localize()

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(plain(self.question))

    def action_yes(self) -> None:
        self.dismiss(True)

    def action_no(self) -> None:
        self.dismiss(False)


class PickScreen(Localized, ModalScreen[str | None]):
    """Picks one of a few options (an announcement template); esc cancels."""

    BINDINGS: ClassVar[list[Any]] = [Binding("escape", "cancel", "cancel", id="dialog.cancel")]

    def __init__(self, prompt: str, options: list[tuple[str, Text]]) -> None:
        super().__init__()
        self.prompt = prompt
        self.options = options

    def on_mount(self) -> None:
        self._localize()
        self.query_one(OptionList).focus()

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Static(plain(self.prompt, "bold"))
            yield OptionList(*(Option(label, id=key) for key, label in self.options))

    @on(OptionList.OptionSelected)
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(Localized, ModalScreen[None]):
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape,question_mark,q", "app.pop_screen", "close", id="help.close")
    ]

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]], title: str) -> None:
        super().__init__()
        self.sections = sections
        self.lines = sections[0][1] if sections else []
        """The first section's keys (those of the view in front)."""
        self.title_text = title

    def on_mount(self) -> None:
        self._localize()

    def compose(self) -> ComposeResult:
        t = Text()
        t.append(self.title_text + "\n", style="bold")
        for head, lines in self.sections:
            t.append("\n")
            t.append_text(plain(head, "bold underline"))
            t.append("\n")
            width = max(len(k) for k, _ in lines)
            for key, desc in lines:
                t.append(f"  {key:>{min(width, 12)}}  ", style="bold cyan")
                t.append_text(plain(desc))
                t.append("\n")
        with VerticalScroll(id="dialog"):
            yield Static(t, id="help-body")

    def text(self) -> str:
        """Everything the help says, as plain text (tests)."""
        return "\n".join(
            f"{head}\n" + "\n".join(f"{k} {d}" for k, d in lines) for head, lines in self.sections
        )
