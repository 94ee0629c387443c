"""Pages of long lists: ``limit`` and an opaque ``cursor``, the next one in a header.

The timeline, alerts, applies and wall-decision lists answer at most
``limit`` items (default :data:`DEFAULT_LIMIT`, 1 to :data:`MAX_LIMIT`;
anything else is a 400). When more follow, the answer carries the cursor
of the next page in the ``X-Next-Cursor`` header (the body stays the list
it always was); the history answers ``next_cursor`` in its body. A cursor
is opaque to clients: base64url of the endpoint's name and the sort key of
the last item sent, so appending new items never shifts a page. A cursor
that is not one this endpoint gave is a 400. :class:`EngineClient` follows
the cursors, so its callers still get whole lists.

The server asks the store for the page only (``limit + 1`` rows after the
cursor's key: keyset pagination through the store's indexes, see
:mod:`eventops.store.timeline`) and pages those with :func:`page`, so the
order and the cursors are the same as over the whole list.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from eventops.errors import InvalidRequest
from eventops.i18n import Msg, refusal

T = TypeVar("T")

DEFAULT_LIMIT = 200
MAX_LIMIT = 1000
NEXT_CURSOR = "X-Next-Cursor"
"""The response header with the next page's cursor (absent on the last page)."""
MAX_CURSOR_CHARS = 512

Key = tuple[Any, ...]


def limit_of(raw: str | None, default: int = DEFAULT_LIMIT) -> int:
    if raw is None or raw == "":
        return default
    try:
        n = int(raw)
    except ValueError:
        raise InvalidRequest(f"limit: {raw[:20]!r} is not a whole number") from None
    if not 1 <= n <= MAX_LIMIT:
        raise InvalidRequest(f"limit: {n} is out of range (1 to {MAX_LIMIT})")
    return n


def make_cursor(endpoint: str, key: Key) -> str:
    raw = json.dumps([endpoint, list(key)], separators=(",", ":"), default=str)
    return base64.urlsafe_b64encode(raw.encode()).decode("ascii").rstrip("=")


MAX_KEY_INT = 2**63 - 1
"""Integers in a cursor's key stay within SQLite's INTEGER (row ids, counters)."""


def bad_cursor() -> InvalidRequest:
    """The 400 for a cursor that this list did not give out."""
    return refusal(InvalidRequest, Msg("err.cursor"))


def cursor_of(raw: str | None, endpoint: str, shape: tuple[type, ...] | None = None) -> Key | None:
    """The sort key a cursor names, or None for the first page; a 400 for any other cursor.

    ``shape``: the types of the key this list makes (``(int,)`` for a row id,
    ``(str, str, int)`` for a time, a kind and a row id); a key of another length or
    type, or an integer beyond SQLite's, is not a cursor this list gave.
    """
    if raw is None or raw == "":
        return None
    bad = bad_cursor()
    if len(raw) > MAX_CURSOR_CHARS:
        raise bad
    try:
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad from None
    if (
        not isinstance(data, list)
        or len(data) != 2
        or data[0] != endpoint
        or not isinstance(data[1], list)
        or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in data[1])
        or any(isinstance(v, int) and abs(v) > MAX_KEY_INT for v in data[1])
    ):
        raise bad
    if shape is not None and (
        len(data[1]) != len(shape)
        or not all(isinstance(v, t) for v, t in zip(data[1], shape, strict=True))
    ):
        raise bad
    return tuple(data[1])


def page(
    items: Sequence[T],
    key: Callable[[T], Key],
    *,
    endpoint: str,
    limit: int,
    after: Key | None,
    descending: bool = False,
) -> tuple[list[T], str | None]:
    """The items after ``after`` in key order (reversed with ``descending``), at most
    ``limit``, and the next page's cursor (None on the last page)."""
    ordered = sorted(items, key=key, reverse=descending)
    if after is not None:
        try:
            if descending:
                ordered = [x for x in ordered if key(x) < after]
            else:
                ordered = [x for x in ordered if key(x) > after]
        except TypeError:  # a key of another shape than this list's
            raise bad_cursor() from None
    out = ordered[:limit]
    more = len(ordered) > limit
    return out, (make_cursor(endpoint, key(out[-1])) if more and out else None)


def tie_keys(items: Sequence[dict[str, Any]], field: str) -> list[Key]:
    """(value, n): n counts earlier items with the same ``field`` (a stable tiebreak)."""
    seen: dict[Any, int] = {}
    out: list[Key] = []
    for it in items:
        v = it[field]
        n = seen.get(v, 0)
        seen[v] = n + 1
        out.append((v, n))
    return out
