"""What every route module of the server shares: the app keys of the live streams,
the route-module hook, the strict JSON body parser and the bounded path ids."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from eventops.engine import Engine
from eventops.errors import InvalidRequest, NotFound
from eventops.i18n import Msg, refusal
from eventops.server.auth import ENGINE

STREAMS = web.AppKey("eventops_streams", set[asyncio.Task[Any]])
HEARTBEAT_S = web.AppKey("eventops_heartbeat_s", float)

Extension = Callable[[web.Application], None]
"""A route module's hook: mounts its routes on the app (see create_app's extensions)."""

M = TypeVar("M", bound=BaseModel)

MAX_ID = 2**63 - 1
"""Numeric ids are SQLite integers: a path id beyond this names nothing (404)."""
_ID = re.compile(r"[0-9]{1,19}")
_JSON_CHARSETS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})
_NOT_JSON_TYPES = ("application/x-www-form-urlencoded", "multipart/", "text/")


def check_json_type(request: web.Request) -> None:
    """415 for a body that declares itself something JSON cannot be: a form, text, or a
    charset other than UTF-8 (or its ASCII subset)."""
    ctype = request.content_type.lower()
    if ctype.startswith(_NOT_JSON_TYPES):
        raise web.HTTPUnsupportedMediaType(
            text=f"request body must be JSON (Content-Type: application/json), not {ctype[:40]}"
        )
    charset = request.charset
    if charset is not None and charset.strip().lower() not in _JSON_CHARSETS:
        raise web.HTTPUnsupportedMediaType(
            text=f"request body must be UTF-8 JSON; charset {charset[:40]!r} is not supported"
        )


async def body_of(request: web.Request, model: type[M]) -> M:
    """The request's JSON body parsed by ``model`` (one of :mod:`eventops.api.models`:
    strict, closed, finite); InvalidRequest names what is wrong.

    The body is bounded by the app's ``client_max_size`` (413); the parser
    (pydantic-core's) bounds nesting depth and reads any integer without
    Python's digit limit, so neither reaches a handler; the models bound
    their numbers."""
    check_json_type(request)
    raw = await request.read()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        if first["type"] == "json_invalid" or not raw.strip():
            why = str(first.get("ctx", {}).get("error", ""))[:80]
            english = "request body is not JSON" + (f": {why}" if why else "")
            raise InvalidRequest(english).with_msg("err.not_json", {}) from None
        where = ".".join(str(p) for p in first["loc"]) or "body"
        msg = invalid_value(where, first)
        raise InvalidRequest(f"{where}: {first['msg']}", field=where).with_msg(
            msg.msg_id, msg.as_dict()["params"]
        ) from None


_PYDANTIC: dict[str, tuple[str, tuple[str, ...]]] = {
    "missing": ("err.v.missing", ()),
    "extra_forbidden": ("err.v.extra", ()),
    "string_too_long": ("err.v.too_long", ("max_length",)),
    "string_too_short": ("err.v.too_short", ("min_length",)),
    "too_long": ("err.v.too_many", ("max_length",)),
    "greater_than": ("err.v.gt", ("gt",)),
    "greater_than_equal": ("err.v.ge", ("ge",)),
    "less_than": ("err.v.lt", ("lt",)),
    "less_than_equal": ("err.v.le", ("le",)),
    "literal_error": ("err.v.one_of", ("expected",)),
}
"""pydantic's error types a person meets most, as messages with their limits."""


def invalid_value(where: str, err: Any) -> Msg:
    """A body or option field pydantic refused, as a message for the reader's language
    (the API's English ``message`` keeps pydantic's own words)."""
    kind, names = _PYDANTIC.get(str(err.get("type")), ("err.v.invalid", ()))
    ctx = err.get("ctx") or {}
    params = {n: str(ctx.get(n, "?"))[:80] for n in names}
    return Msg("err.field", {"field": where, "why": Msg(kind, params)})


def engine_of(request: web.Request) -> Engine:
    return request.app[ENGINE]


def path_id(request: web.Request, what: str, key: str = "id") -> int:
    """The numeric id in the path: ASCII digits, at most :data:`MAX_ID`; anything else
    names nothing (NotFound), so no store ever sees an integer it cannot hold."""
    raw = request.match_info[key]
    if _ID.fullmatch(raw) is None or int(raw) > MAX_ID:
        msg = Msg("err.no_such", {"what": what, "id": repr(raw[:40])})
        raise refusal(NotFound, msg)
    return int(raw)


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
        ts = (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).astimezone(UTC)
    except ValueError:
        raise refusal(InvalidRequest, Msg("err.not_a_time", {"value": repr(value[:40])})) from None
    except OverflowError:  # 0001-01-01T00:00+14:00 is before year 1 in UTC
        ts = datetime.min.replace(tzinfo=UTC)
    if not TIME_RANGE[0] <= ts <= TIME_RANGE[1]:
        msg = Msg("err.time_range", {"value": repr(value[:40])})
        raise refusal(InvalidRequest, msg)
    return ts


TIME_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))
"""Times a query may name: later arithmetic (a window, a bucket) stays within datetime's."""
