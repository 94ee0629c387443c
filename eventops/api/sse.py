"""Server-Sent Events, sans I/O: an encoder to bytes and an incremental decoder from bytes.

Follows the WHATWG HTML "server-sent events" interpretation rules: UTF-8 with
replacement, one leading BOM dropped, lines ending in LF, CR or CRLF (a CR
at the end of one chunk and an LF at the start of the next are one line
end), ``:`` comments, a field without a colon is a field with an empty
value, one space after the colon is dropped, ``data`` lines joined by LF,
an ``id`` containing NUL ignored, ``retry`` only when all ASCII digits, the
last event id kept across events, an event with no data not dispatched, and
an unterminated event at the end of the stream discarded.

Neither side touches a socket: the server writes what :func:`encode_event`
returns, a client feeds what it read to :meth:`SSEDecoder.feed`.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEError", "ServerSentEvent", "encode_comment", "encode_event"]


class SSEError(ValueError):
    """A field that cannot be encoded (a line break in ``event`` or ``id``, NUL in ``id``)."""


@dataclass(frozen=True)
class ServerSentEvent:
    """One dispatched event. ``id`` is the last event id in force when it was dispatched."""

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None
    """The reconnection time (ms) set by the last valid ``retry`` field, if any."""


def _one_line(name: str, value: str) -> str:
    if "\n" in value or "\r" in value:
        raise SSEError(f"{name}: a line break cannot be sent in this field")
    return value


def encode_event(
    data: str,
    *,
    event: str | None = None,
    id: int | str | None = None,
    retry: int | None = None,
) -> bytes:
    """One event as bytes: ``retry``, ``id``, ``event``, then one ``data`` line per line of
    ``data`` (LF, CR and CRLF all split), then the blank line that dispatches it."""
    out: list[str] = []
    if retry is not None:
        if retry < 0:
            raise SSEError("retry: must be a non-negative number of milliseconds")
        out.append(f"retry: {int(retry)}\n")
    if id is not None:
        sid = _one_line("id", str(id))
        if "\0" in sid:
            raise SSEError("id: NUL cannot be sent in an event id")
        out.append(f"id: {sid}\n")
    if event is not None:
        out.append(f"event: {_one_line('event', event)}\n")
    for line in data.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        out.append(f"data: {line}\n")
    out.append("\n")
    return "".join(out).encode("utf-8")


def encode_comment(text: str = "") -> bytes:
    """A comment (e.g. a keep-alive); every line of ``text`` becomes one ``:`` line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "".join(f": {line}\n" if line else ":\n" for line in lines).encode() + b"\n"


class SSEDecoder:
    """Incremental decoder: :meth:`feed` bytes as they arrive, get the complete events.

    ``last_event_id`` is what a reconnecting client sends as ``Last-Event-ID``;
    ``retry`` the server's reconnection time in ms (None until one is set).
    """

    def __init__(self, *, last_event_id: str = "") -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""
        self._started = False
        self._skip_lf = False
        self._data: list[str] = []
        self._event = ""
        self._has_data = False
        self.last_event_id = last_event_id
        self.retry: int | None = None
        self.comments: list[str] = []
        """Comments seen since the last :meth:`feed` call (keep-alives, for liveness)."""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events completed by ``chunk`` (possibly none)."""
        self.comments = []
        text = self._utf8.decode(chunk)
        if not self._started and text:
            self._started = True
            text = text.removeprefix("\ufeff")
        if self._skip_lf and text:
            self._skip_lf = False
            text = text.removeprefix("\n")
        self._buf += text
        events: list[ServerSentEvent] = []
        start = 0
        buf = self._buf
        n = len(buf)
        while True:
            cr = buf.find("\r", start)
            lf = buf.find("\n", start)
            if cr < 0 and lf < 0:
                break
            end = lf if cr < 0 or (0 <= lf < cr) else cr
            line = buf[start:end]
            if buf[end] == "\r":
                if end + 1 < n:
                    start = end + 2 if buf[end + 1] == "\n" else end + 1
                else:
                    start = end + 1
                    self._skip_lf = True  # an LF first in the next chunk ends this line too
            else:
                start = end + 1
            ev = self._line(line)
            if ev is not None:
                events.append(ev)
        self._buf = buf[start:]
        return events

    def _line(self, line: str) -> ServerSentEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            self.comments.append(line[1:].removeprefix(" "))
            return None
        name, colon, value = line.partition(":")
        if colon:
            value = value.removeprefix(" ")
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "id":
            if "\0" not in value:
                self.last_event_id = value
        elif name == "retry" and value and value.isascii() and value.isdigit():
            self.retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        data, event, has = self._data, self._event, self._has_data
        self._data, self._event, self._has_data = [], "", False
        if not has:
            return None
        return ServerSentEvent(
            data="\n".join(data), event=event or "message", id=self.last_event_id, retry=self.retry
        )
