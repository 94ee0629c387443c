"""A terminal progress display for plan and apply.

On a terminal: one status line redrawn in place (a bar, the count, the
device last heard of and its step) plus a permanent line for every device
that finishes. Elsewhere (a pipe, a log file): only the permanent lines.
"""

from __future__ import annotations

from typing import TextIO

from eventops.provision.apply import ProgressEvent

WIDTH = 24


class TerminalProgress:
    def __init__(self, stream: TextIO, *, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.total = 0
        self.done = 0
        self._status = False

    def _clear(self) -> None:
        if self._status:
            self.stream.write("\r\x1b[2K")
            self._status = False

    def _bar(self, device: str | None, step: str) -> None:
        if not self.tty or not self.total:
            return
        filled = WIDTH * self.done // self.total
        line = f"[{'#' * filled}{'.' * (WIDTH - filled)}] {self.done}/{self.total}"
        if device:
            line += f"  {device}: {step}"
        self._clear()
        self.stream.write(line[:110])
        self.stream.flush()
        self._status = True

    def __call__(self, e: ProgressEvent) -> None:
        if e.total:
            self.total = e.total
        if e.phase == "start":
            self.done = 0
            self._bar(None, "")
            return
        if e.phase == "finish":
            self._clear()
            self.stream.flush()
            return
        if e.phase == "done" and e.device is not None:
            self.done = e.done
            self._clear()
            mark = {"applied": "ok", "unchanged": "ok"}.get(e.result or "", "!!")
            self.stream.write(f"{mark:>2} {e.device:<16} {e.message}\n")
            self._bar(None, "")
            self.stream.flush()
            return
        if e.phase == "planned":
            self.done = e.done
        self._bar(e.device, e.phase + (f" ({e.message})" if e.message else ""))
