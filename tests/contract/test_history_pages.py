"""The history's pages: the store reads from the cursor's time on, a page's worth of points.

Pages walked with any limit are the whole window's points in order, however many
points share a time (their values too); each page reads O(limit) points, not the
window; a cursor whose time the history never wrote is a 400.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from eventops.api import paging
from eventops.store.models import Sample

from .conftest import WHO, Rig

N = 200
GROUP = 4
"""Points per time (the last two of each time with the same value)."""
HISTORY = (
    "/api/v1/history?device=sw-core&metric=probe.page"
    "&since=2000-01-01T00:00:00Z&until=2100-01-01T00:00:00Z"
)


async def get(rig: Rig, path: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {WHO['technician']}"}
    async with rig.http.get(rig.url + path, headers=headers) as r:
        return r.status, await r.json(content_type=None)


async def fill(rig: Rig) -> None:
    now = rig.clock.now()
    await rig.store.add_samples(
        [
            Sample(
                ts=now + timedelta(milliseconds=250 * (k // GROUP)),
                device="sw-core",
                metric="probe.page",
                value=float(min(k % GROUP, 2) + k // GROUP),
            )
            for k in range(N)
        ]
    )


async def walk(rig: Rig, limit: int) -> list[Any]:
    points: list[Any] = []
    cursor: str | None = None
    while True:
        status, body = await get(
            rig, f"{HISTORY}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        )
        assert status == 200, body
        assert len(body["points"]) <= limit
        points += body["points"]
        cursor = body["next_cursor"]
        if cursor is None:
            return points


async def test_pages_of_every_limit_are_the_whole_window(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    await fill(rig)
    status, whole = await get(rig, f"{HISTORY}&limit=1000")
    assert status == 200 and len(whole["points"]) == N and whole["next_cursor"] is None
    real = rig.store.query_samples
    fetched: list[int] = []

    async def counting(*args: Any, **kw: Any) -> list[Sample]:
        got = await real(*args, **kw)
        fetched.append(len(got))
        return got

    monkeypatch.setattr(rig.store, "query_samples", counting)
    for limit in (*range(1, 12), 37, N - 1, N, N + 1):
        fetched.clear()
        assert await walk(rig, limit) == whole["points"], f"limit {limit}"
        pages = -(-N // limit)
        # per page: limit + 1 points and the rest of the last one's time; once more, with
        # as many more as the cursor's own time had before it, when those were too many
        assert max(fetched) <= limit + 1 + 3 * GROUP, (limit, fetched)
        assert sum(fetched) <= pages * (2 * (limit + 1) + 3 * GROUP), (limit, fetched)
        if limit <= 10:
            assert sum(fetched) < pages * N / 4  # not the whole window per page


@pytest.mark.parametrize(
    "ts",
    [
        "garbage",
        "2026-06-18T12:00:00+02:00",  # not UTC: its text would not sort as its time
        "2026-06-18T12:00:00-02:00",
        "2026-06-18 12:00:00+00:00",
        "20260618T120000",
        "2026-06-18T12:00:00.1234567+00:00",
        "2026-06-18T25:00:00+00:00",
        "２０２６-06-18T12:00:00+00:00",
    ],
)
async def test_a_cursor_with_a_time_the_history_never_wrote_is_a_400(rig: Rig, ts: str) -> None:
    cursor = paging.make_cursor("history", (ts, "1.0", 0))
    status, body = await get(rig, f"{HISTORY}&cursor={cursor}")
    assert status == 400, body
    assert "cursor: not a cursor this list gave" in str(body)


@pytest.mark.parametrize(
    "ts",
    [
        "2026-06-18T16:00:15",  # no zone: UTC
        "2026-06-18T16:00:15Z",
        "2026-06-18T16:00:15.000000+00:00",
        "2026-06-18T16:00:15.5+00:00",
        "2026-06-18T16:00:15.25",
        "2026-06-18T16:00:15.250000+00:00",
        "2000-01-01T00:00:00+00:00",
        "2099-01-01T00:00:00+00:00",
    ],
)
async def test_a_utc_cursor_of_another_spelling_pages_on_as_its_text_sorts(
    rig: Rig, ts: str
) -> None:
    """Cursors are compared as the points' text (time, value, n): a forged UTC time in
    another spelling gets the points whose key sorts after it, as before the store read
    pages from the cursor's time on."""
    await fill(rig)
    status, whole = await get(rig, f"{HISTORY}&limit=1000")
    assert status == 200 and whole["points"][0][0].startswith("2026-06-18T16:00:1")
    for value, n in (("", 0), ("5.0", 0), ("9", 1)):
        cursor = paging.make_cursor("history", (ts, value, n))
        status, body = await get(rig, f"{HISTORY}&limit=1000&cursor={cursor}")
        assert status == 200, body
        keys, seen = [], dict[tuple[str, str], int]()
        for t, v in whole["points"]:
            k = (t, repr(v))
            keys.append((t, repr(v), seen.get(k, 0)))
            seen[k] = seen.get(k, 0) + 1
        want = [p for p, k in zip(whole["points"], keys, strict=True) if k > (ts, value, n)]
        assert body["points"] == want, (ts, value, n)
