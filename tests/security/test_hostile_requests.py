"""The requests of issue 15 that gave 500 or were wrongly accepted, one by one."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer

from tests.security.conftest import TOKENS, full_app

TECH = {"Authorization": f"Bearer {TOKENS['technician']}"}
COMMS = {"Authorization": f"Bearer {TOKENS['comms']}"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with full_app(tmp_path) as full:
        server = TestServer(full.app)
        async with TestClient(server, cookie_jar=DummyCookieJar()) as c:
            yield c


async def _ask(
    c: TestClient[web.Request, web.Application],
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
) -> tuple[int, Any]:
    async with c.request(
        method, path, headers=headers, data=body, skip_auto_headers=("Content-Type",)
    ) as r:
        payload = await r.json() if r.content_type == "application/json" else await r.text()
        return r.status, payload


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"[" * 100_000, "not JSON"),
        (b'{"on": ' + b"[" * 100_000, "not JSON"),
        (b'{"on": true, "note": ' + b"9" * 5000 + b"}", "number out of range"),
        (b'{"on": NaN}', "on"),
        (b'{"on": Infinity}', "on"),
        (b'{"on": "yes"}', "on"),
        (b'{"on": 1}', "on"),
        (b'{"on": true, "extra": 1}', "extra"),
        (b"\xff\xfe{}", "not JSON"),
    ],
)
async def test_bad_bodies_are_400(
    client: TestClient[web.Request, web.Application], body: bytes, why: str
) -> None:
    status, err = await _ask(client, "POST", "/api/v1/wall/pause", {**COMMS, **JSON}, body)
    assert status == 400, err
    assert err["error"]["code"] == "invalid" and why in err["error"]["message"]
    assert (await _ask(client, "GET", "/api/v1/wall/announcements", COMMS))[1]["paused"] is None


async def test_huge_numbers_in_bodies_are_400(
    client: TestClient[web.Request, web.Application],
) -> None:
    silence = b'{"matchers": {"subject": "x"}, "duration_s": ' + b"9" * 5000 + b"}"
    status, err = await _ask(client, "POST", "/api/v1/silences", {**TECH, **JSON}, silence)
    assert status == 400, err
    long = b'{"matchers": {"subject": "' + b"x" * 10_000 + b'"}, "duration_s": 60}'
    status, err = await _ask(client, "POST", "/api/v1/silences", {**TECH, **JSON}, long)
    assert status == 400 and "matchers" in err["error"]["message"], err


@pytest.mark.parametrize(
    "ctype",
    [
        "application/json; charset=x-unknown",
        "application/json; charset=latin-1",
        "application/json; charset=utf-16",
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
    ],
)
async def test_bodies_that_are_not_utf8_json_are_415(
    client: TestClient[web.Request, web.Application], ctype: str
) -> None:
    headers = {**COMMS, "Content-Type": ctype}
    status, err = await _ask(client, "POST", "/api/v1/wall/pause", headers, b'{"on": true}')
    assert status == 415 and err["error"]["code"] == "unsupported_media_type", err
    assert (await _ask(client, "GET", "/api/v1/wall/announcements", COMMS))[1]["paused"] is None


async def test_a_body_beyond_the_bound_is_413(
    client: TestClient[web.Request, web.Application],
) -> None:
    body = b'{"on": true, "note": "' + b"x" * 400_000 + b'"}'
    status, err = await _ask(client, "POST", "/api/v1/wall/pause", {**COMMS, **JSON}, body)
    assert status == 413 and err["error"]["code"] == "too_large"


@pytest.mark.parametrize(
    "pid", ["99999999999999999999999", "9223372036854775808", "9" * 5000, "-1", "1e3", "١"]
)
@pytest.mark.parametrize(
    ("method", "path", "headers", "body"),
    [
        ("POST", "/api/v1/alerts/{}/ack", TECH, b"{}"),
        ("DELETE", "/api/v1/silences/{}", TECH, b""),
        ("GET", "/api/v1/handovers/{}/report", TECH, b""),
        ("GET", "/api/v1/provision/applies/{}", TECH, b""),
        ("POST", "/api/v1/wall/decisions/{}/undo", COMMS, b"{}"),
    ],
)
async def test_numeric_ids_beyond_the_store_are_404(
    client: TestClient[web.Request, web.Application],
    pid: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
) -> None:
    status, err = await _ask(client, method, path.format(pid), {**headers, **JSON}, body)
    assert status == 404 and err["error"]["code"] == "not_found", err


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer d\udce9mo-technician-token"},
        {"Authorization": "Bearer \udcff\udcfe"},
        {"Authorization": "Bearer démo-technician-token"},
        {"Cookie": "evo_token=d\udce9mo-technician-token"},
        {"Cookie": "evo_token=\udcff"},
        {"Authorization": "Bearer " + "A" * 5000},
    ],
)
async def test_any_token_bytes_are_401(
    client: TestClient[web.Request, web.Application], headers: dict[str, str]
) -> None:
    status, err = await _ask(client, "GET", "/api/v1/whoami", headers)
    assert status == 401 and err["error"]["code"] == "unauthenticated"


def _cursor(endpoint: str, key: list[Any]) -> str:
    raw = json.dumps([endpoint, key]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


PAGED: list[tuple[str, str, list[Any]]] = [
    ("/api/v1/alerts", "alerts", [7]),
    ("/api/v1/provision/applies", "applies", [7]),
    ("/api/v1/wall/decisions", "decisions", [7]),
    ("/api/v1/timeline", "timeline", ["2026-06-18T16:00:00.000000", "alert", 0]),
    ("/api/v1/history?device=mast-01&metric=load1", "history", ["2026-06-18T16:00:00", "0.5", 0]),
]


async def test_cursors_of_another_shape_or_beyond_sqlite_are_400(
    client: TestClient[web.Request, web.Application],
) -> None:
    """A cursor is base64 JSON a client can forge: its key must be the list's own shape
    (``["abc"]`` for a row id gave a 500 on the applies, ``[10**30]`` an OverflowError)."""
    for path, endpoint, good in PAGED:
        sep = "&" if "?" in path else "?"
        status, body = await _ask(
            client, "GET", f"{path}{sep}cursor={_cursor(endpoint, good)}", TECH
        )
        assert status == 200, (path, body)
        other = "alerts" if endpoint != "alerts" else "applies"
        for key in (
            ["abc"],
            [10**30],
            [-(2**63) - 1],
            [],
            [*good, 1],
            [1.5],
            [None],
            [[1]],
            ["2026-06-18T16:00:00+00:00", "x"],
            ["2026-06-18T16:00:00+00:00", "x", "y"],
            ["2026-06-18T16:00:00+00:00", 1, 1],
        ):
            for cursor in (_cursor(endpoint, key), _cursor(other, good)):
                status, err = await _ask(client, "GET", f"{path}{sep}cursor={cursor}", TECH)
                assert status == 400, (path, key, status, err)
                assert err["error"]["message"].startswith("cursor: "), err


async def test_limits_out_of_range_are_400(
    client: TestClient[web.Request, web.Application],
) -> None:
    for path in ("/api/v1/wall/queue", "/api/v1/alerts", "/api/v1/probe/results"):
        for raw in ("0", "-1", "99999999999999999999", "9" * 5000, "x", "1e3"):
            status, err = await _ask(client, "GET", f"{path}?limit={raw}", TECH)
            assert status == 400 and "limit" in err["error"]["message"], (path, raw, err)
        status, _ = await _ask(client, "GET", f"{path}?limit=5", TECH)
        assert status == 200


async def test_times_at_the_edge_of_the_calendar_are_400(
    client: TestClient[web.Request, web.Application],
) -> None:
    """``0001-01-01T00:00+14:00`` is before year 1 in UTC: an OverflowError gave a 500."""
    for name in ("since", "until"):
        for raw in (
            "0001-01-01T00:00:00%2B14:00",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00",
            "9999-12-31T23:59:59Z",
        ):
            for path in ("/api/v1/history?device=mast-01&metric=load1&", "/api/v1/timeline?"):
                status, err = await _ask(client, "GET", f"{path}{name}={raw}", TECH)
                assert status == 400 and "time out of range" in err["error"]["message"], (
                    path,
                    raw,
                    err,
                )
        status, _ = await _ask(client, "GET", f"/api/v1/timeline?{name}=2026-06-18T16:00:00Z", TECH)
        assert status == 200
