"""Keys typed right behind the key that closes a bar (``:`` or ``/``) are held until it
has closed, so a burst from tmux send-keys or a paste reaches the view, not the bar."""

from __future__ import annotations

from textual import events
from textual.widgets import Input

from eventops.tui.core import CoreApp

HOLD_BACKSTOP_S = 5.0
"""Keys typed behind the enter/esc that closes a bar wait at most this long for it."""
BARS = frozenset({"cmd", "filter"})
"""The command bar and the filter (ids of their Inputs)."""


class KeyHold(CoreApp):
    async def on_event(self, event: events.Event) -> None:
        """Keys typed right behind the enter or esc that closes the bar (one burst from
        tmux send-keys, a paste) wait until it is closed and the view has the focus,
        instead of going into the closing bar."""
        if isinstance(event, events.Key) and not event.is_forwarded:
            if self.held is not None:
                self.held.append(event)
                return
            f = self.focused
            if event.key in ("enter", "escape") and isinstance(f, Input) and f.id in BARS:
                self.held = []
                self.hold_no += 1
                no = self.hold_no
                # a backstop only (the bar's submit or close releases the keys): it
                # may release only the hold it was set for, or a late timer of an
                # earlier hold would hand keys to a bar that is still closing
                self.set_timer(HOLD_BACKSTOP_S, lambda: self._release_stale(no))
        await super().on_event(event)

    def _release_soon(self) -> None:
        """After the focus changes already queued: hand on the keys held meanwhile."""
        self.call_later(self._release_keys)

    async def _release_stale(self, no: int) -> None:
        if no == self.hold_no and self.held is not None:
            await self._release_keys()

    async def _release_keys(self) -> None:
        held, self.held = self.held, None
        while held:
            await self.on_event(held.pop(0))
            if self.held is not None:  # that key closes the bar again: keep the order
                self.held[:0] = held
                return
