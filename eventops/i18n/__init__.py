"""Messages in the viewer's language: ids with parameters, rendered from one catalogue.

Checks and alerts carry a message id and its parameters (e.g.
``msg_id="rx.power", params={"dbm": -21.3, "margin": 2.2, "optic": "1000BASE-LX"}``)
next to the English text that scripts read. Clients render them in German or
English with :func:`render`; nothing here imports a UI toolkit, so the server
pages, the report, the CLI and the terminal app share it.

Template fields (``str.format`` syntax) take:

- numbers with a format spec (``{dbm:.1f}``); German output uses a decimal comma;
- ``{at:time}``: an ISO 8601 UTC time shown as the event's local time with its
  zone (``14:03:12 CEST``, :mod:`eventops.timefmt`);
- ``{kind:t}``: a term looked up as ``term.<value>`` in the catalogue (its own
  value when there is no such term);
- a nested message ``{"msg_id": ..., "params": {...}}`` rendered in place;
- a list of nested messages, each rendered in place, joined with ``", "``.

A unit test checks that every id has both languages with the same fields and
that every place in the code that creates a message passes exactly those fields.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any, TypeVar

from eventops import timefmt
from eventops.errors import EventOpsError
from eventops.i18n.messages import MESSAGES as _CORE
from eventops.i18n.messages_errors import ERROR_MESSAGES
from eventops.i18n.messages_probe import PROBE_MESSAGES
from eventops.i18n.messages_wall import WALL_MESSAGES

__all__ = [
    "LANGUAGES",
    "MESSAGES",
    "MissingParam",
    "Msg",
    "lang_of",
    "placeholders",
    "refusal",
    "render",
    "render_strict",
]

E = TypeVar("E", bound=EventOpsError)

_PARTS = (_CORE, WALL_MESSAGES, PROBE_MESSAGES, ERROR_MESSAGES)
MESSAGES: dict[str, dict[str, str]] = {k: v for part in _PARTS for k, v in part.items()}
"""The catalogue: the core's (checks, alerts, pages, report, terms), the wall's, the
probe's and the refusals' messages, in one table (an id is defined once)."""
if len(MESSAGES) != sum(map(len, _PARTS)):
    raise ImportError("a message id is defined twice in eventops.i18n's catalogue")

LANGUAGES = ("de", "en")
MAX_DEPTH = 4
"""Nested messages deeper than this are shown by id (a loop in stored data cannot hang us)."""


class MissingParam(KeyError):
    """A template names a field the message does not carry."""


def placeholders(text: str) -> set[str]:
    """The field names a template uses."""
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def lang_of(value: str | None) -> str:
    """``de`` or ``en`` from a language tag or an Accept-Language header (English otherwise)."""
    if not value:
        return "en"
    for part in value.split(",")[:20]:
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return "en"


@dataclass(frozen=True)
class Msg:
    """A message id with its parameters (JSON-able values or nested messages)."""

    msg_id: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"msg_id": self.msg_id, "params": _plain(self.params)}

    def text(self, lang: str = "en", tz: tzinfo = UTC) -> str:
        return render_strict(self.msg_id, self.params, lang, tz)


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    def one(v: Any) -> Any:
        if isinstance(v, list):
            return [one(x) for x in v]
        return v.as_dict() if isinstance(v, Msg) else v

    return {k: one(v) for k, v in params.items()}


MAX_LIST = 32
"""A list field shows at most this many messages (stored data cannot make a line endless)."""


class _Formatter(string.Formatter):
    def __init__(self, lang: str, tz: tzinfo, depth: int) -> None:
        self.lang, self.tz, self.depth = lang, tz, depth

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        if key not in kwargs:
            raise MissingParam(key)
        return kwargs[str(key)]

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, list) and not format_spec:
            return ", ".join(self.format_field(v, "") for v in value[:MAX_LIST])
        if isinstance(value, Msg):
            value = value.as_dict()
        if isinstance(value, dict) and isinstance(value.get("msg_id"), str):
            params = value.get("params")
            return _render(
                value["msg_id"],
                params if isinstance(params, dict) else {},
                self.lang,
                self.tz,
                self.depth + 1,
            )
        if format_spec in ("time", "day", "stamp"):
            if value is None or value == "":
                return "-"
            fn = {"time": timefmt.clock, "day": timefmt.day_clock, "stamp": timefmt.stamp}
            return fn[format_spec](value, self.tz)
        if format_spec == "t":
            entry = MESSAGES.get(f"term.{value}")
            return entry[self.lang] if entry else str(value)
        if value is None:
            return "-"
        if isinstance(value, bool):
            return str(value).lower()
        text = format(value, format_spec)
        if self.lang == "de" and isinstance(value, int | float):
            text = text.replace(".", ",")
        return text


def _render(msg_id: str, params: Mapping[str, Any], lang: str, tz: tzinfo, depth: int) -> str:
    if depth > MAX_DEPTH:
        return msg_id
    entry = MESSAGES.get(msg_id)
    if entry is None:
        raise KeyError(msg_id)
    return _Formatter(lang if lang in LANGUAGES else "en", tz, depth).vformat(
        entry[lang if lang in LANGUAGES else "en"], (), params
    )


def render_strict(
    msg_id: str, params: Mapping[str, Any] | None = None, lang: str = "en", tz: tzinfo = UTC
) -> str:
    """The message in ``lang``; raises ``KeyError`` for an unknown id or a missing field."""
    return _render(msg_id, params or {}, lang, tz, 0)


def render(
    msg_id: str | None,
    params: Mapping[str, Any] | None,
    lang: str,
    tz: tzinfo = UTC,
    fallback: str = "",
) -> str:
    """The message in ``lang``, or ``fallback`` (the English text) when it cannot be rendered
    (no id, an id this version does not know, a stored message with other fields)."""
    if not msg_id:
        return fallback
    try:
        return _render(msg_id, params or {}, lang, tz, 0)
    except (KeyError, ValueError, TypeError, IndexError):
        return fallback or msg_id


def refusal(cls: type[E], msg: Msg, tz: tzinfo = UTC, **kw: Any) -> E:
    """An error of ``cls`` whose English text is ``msg`` in English and which carries
    ``msg`` (its id and parameters) for clients that show it in another language:
    ``raise refusal(WallConflict, Msg("wall.err.pinned", {"post": post_id}))``."""
    return cls(msg.text("en", tz), **kw).with_msg(msg.msg_id, msg.as_dict()["params"])
