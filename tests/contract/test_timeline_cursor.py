"""The timeline's cursor reaches the store as a key: a cursor we never give is a 400.

The store reads the page after the cursor's (time, kind, row id) with an index range,
so the time must be one the server writes (UTC, to the microsecond); any other is
refused with one line, never read as some other time and never a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from eventops.api import paging

from .conftest import WHO, Rig


async def get(rig: Rig, path: str) -> tuple[int, Any, str | None]:
    headers = {"Authorization": f"Bearer {WHO['technician']}"}
    async with rig.http.get(rig.url + path, headers=headers) as r:
        return r.status, await r.json(content_type=None), r.headers.get(paging.NEXT_CURSOR)


@pytest.mark.parametrize(
    "key",
    [
        ("garbage", "audit:x", 1),
        ("2026-06-18T12:00:00.5", "audit:x", 1),  # not written as the server writes times
        ("2026-06-18T12:00:00", "audit:x", 1),
        ("2026-06-18T12:00:00.000000+00:00", "audit:x", 1),
        ("2026-13-01T12:00:00.000000", "audit:x", 1),
        (" 2026-06-18T12:00:00.000000", "audit:x", 1),
        ("2026-06-18T12:00:00.000000", "audit:x", True),
        ("2026-06-18T12:00:00.000000", 5, 1),
        ("2026-06-18T12:00:00.000000", "audit:\x00", 1),  # no store holds such a kind
        ("2026-06-18T12:00:00.000000", "audit:\ud800", 1),
    ],
)
async def test_a_cursor_with_a_key_the_server_never_wrote_is_a_400(
    rig: Rig, key: tuple[Any, ...]
) -> None:
    cursor = paging.make_cursor("timeline", key)
    status, body, _ = await get(rig, f"/api/v1/timeline?cursor={cursor}")
    assert status == 400, body
    assert "cursor: not a cursor this list gave" in str(body)


async def test_a_cursor_between_two_kinds_pages_on_from_there(rig: Rig) -> None:
    for n in range(5):
        await rig.store.audit("technik", f"test.{n}", f"item-{n}")
    status, whole, _ = await get(rig, "/api/v1/timeline?limit=1000")
    assert status == 200 and len(whole) >= 5
    first = datetime.fromisoformat(whole[0]["ts"])
    t = first.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    # a key no entry has: after every audit kind of that time that sorts before "audit:test.2"
    cursor = paging.make_cursor("timeline", (t, "audit:test.2", 0))
    status, rest, _ = await get(rig, f"/api/v1/timeline?limit=1000&cursor={cursor}")
    assert status == 200
    after = (first, "audit:test.2", 0)
    want = [
        e for e in whole if (datetime.fromisoformat(e["ts"]), e["kind"], e["data"]["id"]) > after
    ]
    assert rest == want and 0 < len(rest) < len(whole)
