"""The role matrix over every route the app serves, and what authorities never see.

``MATRIX`` names, for every (method, route) of the router, who may call it:
``T`` technician, ``A`` authority, ``C`` comms, ``*`` anyone (public, no token).
A route the router serves without a row here fails the test, so a new route
is decided here before it ships. Expected status class per role:

- may call it: not 401, not 403, never 5xx (its own 2xx/400/404/409 answers);
- may not: 403 (with a valid token) or 401 (no token);
- public: never 401/403.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import DummyCookieJar, web
from aiohttp.test_utils import TestClient, TestServer

from tests.security.conftest import OTHER_AUTHORITY, TOKENS, FullApp, full_app, routes_of

MATRIX: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "*",
    ("GET", "/static/status.css"): "*",
    ("GET", "/static/status.js"): "*",
    ("GET", "/static/wall-icon"): "*",
    ("GET", "/static/wall.css"): "*",
    ("GET", "/static/wall.js"): "*",
    ("GET", "/wall/{event}"): "*",
    ("GET", "/wall/{event}/media/{key}"): "*",
    ("GET", "/wall/{event}/stream"): "*",
    ("GET", "/status"): "TA",
    ("GET", "/metrics"): "TA",
    ("GET", "/api/v1/whoami"): "TAC",
    ("GET", "/api/v1/openapi.json"): "TAC",
    ("GET", "/api/v1/stream"): "TAC",
    ("GET", "/api/v1/status"): "TA",
    ("GET", "/api/v1/devices"): "TA",
    ("GET", "/api/v1/devices/{id}"): "TA",
    ("POST", "/api/v1/devices/{id}/maintenance"): "T",
    ("POST", "/api/v1/devices/{id}/reboot"): "T",
    ("GET", "/api/v1/links"): "TA",
    ("GET", "/api/v1/links/{id}"): "TA",
    ("POST", "/api/v1/links/{id}/handover"): "T",
    ("GET", "/api/v1/alerts"): "TA",
    ("POST", "/api/v1/alerts/{id}/ack"): "T",
    ("GET", "/api/v1/silences"): "T",
    ("POST", "/api/v1/silences"): "T",
    ("DELETE", "/api/v1/silences/{id}"): "T",
    ("GET", "/api/v1/history"): "TA",
    ("GET", "/api/v1/timeline"): "T",
    ("GET", "/api/v1/engines"): "T",
    ("GET", "/api/v1/handovers"): "TA",
    ("GET", "/api/v1/handovers/{id}/report"): "TA",
    ("POST", "/api/v1/reload"): "T",
    ("POST", "/api/v1/probe/stamp"): "T",
    ("POST", "/api/v1/probe/throughput"): "T",
    ("POST", "/api/v1/probe/accept"): "T",
    ("GET", "/api/v1/probe/results"): "T",
    ("GET", "/api/v1/probe/running"): "T",
    ("POST", "/api/v1/provision/plan"): "T",
    ("POST", "/api/v1/provision/apply"): "T",
    ("POST", "/api/v1/provision/rollback"): "T",
    ("GET", "/api/v1/provision/applies"): "T",
    ("GET", "/api/v1/provision/applies/{id}"): "T",
    ("GET", "/api/v1/provision/running"): "T",
    ("GET", "/api/v1/wall/queue"): "CT",
    ("GET", "/api/v1/wall/posts/{id}"): "CT",
    ("POST", "/api/v1/wall/posts/{id}/decisions"): "C",
    ("POST", "/api/v1/wall/decisions/{id}/undo"): "C",
    ("GET", "/api/v1/wall/decisions"): "CT",
    ("GET", "/api/v1/wall/lists"): "CT",
    ("POST", "/api/v1/wall/blocks"): "C",
    ("DELETE", "/api/v1/wall/blocks/{author}"): "C",
    ("GET", "/api/v1/wall/counters"): "CT",
    ("GET", "/api/v1/wall/announcements"): "CTA",
    ("POST", "/api/v1/wall/announcements"): "CA",
    ("DELETE", "/api/v1/wall/announcements/active"): "CA",
    ("POST", "/api/v1/wall/pause"): "C",
    ("POST", "/api/v1/wall/forget"): "C",
}
ROLE_LETTER = {"technician": "T", "authority": "A", "comms": "C"}
PARAMS = {
    "id": "1",
    "event": "demo",
    "key": "nothing",
    "author": "replay:anna",
}
DEVICE_PATHS = {"/api/v1/devices/{id}", "/api/v1/devices/{id}/maintenance"}
DEVICE_PATHS |= {"/api/v1/devices/{id}/reboot"}


def _path(template: str) -> str:
    out = template
    for name, value in PARAMS.items():
        if template in DEVICE_PATHS and name == "id":
            value = "mast-01"
        if template.startswith("/api/v1/links/") and name == "id":
            value = "fibre-police"
        out = out.replace("{" + name + "}", value)
    return out


@pytest.fixture
async def rig(
    tmp_path: Path,
) -> AsyncIterator[tuple[FullApp, TestClient[web.Request, web.Application]]]:
    async with (
        full_app(tmp_path) as full,
        TestClient(TestServer(full.app), cookie_jar=DummyCookieJar()) as c,
    ):
        yield full, c


async def _status(
    c: TestClient[web.Request, web.Application], method: str, path: str, token: str | None
) -> int:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with c.request(method, path, headers=headers, data=b"{}") as r:
        return r.status  # a stream: the status is what counts; its body is not read


async def test_role_matrix_covers_every_route_and_holds(
    rig: tuple[FullApp, TestClient[web.Request, web.Application]],
) -> None:
    full, c = rig
    routes = routes_of(full.app)
    missing = [r for r in routes if r not in MATRIX]
    assert not missing, f"routes without a role-matrix row (decide who may call them): {missing}"
    stale = [r for r in MATRIX if r not in routes]
    assert not stale, f"matrix rows for routes the app no longer serves: {stale}"
    wrong: list[str] = []
    checked = 0
    for (method, template), who in sorted(MATRIX.items()):
        path = _path(template)
        for role, token in [*TOKENS.items(), ("none", None)]:
            status = await _status(c, method, path, token)
            checked += 1
            if who == "*":
                ok = status not in (401, 403) and status < 500
                want = "public"
            elif role == "none":
                ok, want = status == 401, "401"
            elif ROLE_LETTER[role] in who:
                ok, want = status not in (401, 403) and status < 500, "allowed"
            else:
                ok, want = status == 403, "403"
            if not ok:
                wrong.append(f"{role} {method} {path}: {status}, want {want}")
    assert not wrong, "\n".join(wrong)
    assert checked == 4 * len(routes)


# -- authorities never see comms staff's names or notes ---------------------------------

NOTE = "rain-check-by-press-office-7f3"


async def test_authorities_never_see_comms_names_or_notes(
    rig: tuple[FullApp, TestClient[web.Request, web.Application]],
) -> None:
    full, c = rig
    comms_names = [u.name for u in full.engine.profile.users if u.role.value == "comms"]
    assert comms_names
    leak = re.compile("|".join([re.escape(NOTE), *(rf"\b{re.escape(n)}\b" for n in comms_names)]))
    comms = {"Authorization": f"Bearer {TOKENS['comms']}", "Content-Type": "application/json"}
    # comms does what leaves its name and notes behind: an announcement, a pause with a note
    async with c.post("/api/v1/wall/announcements", headers=comms, json={"id": "storm"}) as r:
        assert r.status == 201
    async with c.post("/api/v1/wall/pause", headers=comms, json={"on": True, "note": NOTE}) as r:
        assert r.status == 200
    # the technician and comms can read them (so the search below could find them)
    async with c.get("/api/v1/wall/announcements", headers=comms) as r:
        seen = await r.text()
    assert leak.search(seen), seen

    for token in (TOKENS["authority"], OTHER_AUTHORITY):
        auth = {"Authorization": f"Bearer {token}"}
        texts: list[str] = []
        for method, template in routes_of(full.app):
            if method != "GET" or template.endswith("/stream"):
                continue
            async with c.get(_path(template), headers=auth) as r:
                texts.append(f"{template}: {r.status} {await r.text()}")
        for stream in ("/api/v1/stream", "/wall/demo/stream"):
            async with c.get(stream, headers=auth) as r:
                assert r.status == 200
                texts.append(f"{stream}: " + (await r.content.readuntil(b"\n\n")).decode())
        # withdrawing comms' announcement is refused and names no one
        async with c.delete("/api/v1/wall/announcements/active", headers=auth) as r:
            assert r.status == 403
            texts.append(await r.text())
        found = [t[:200] for t in texts if leak.search(t)]
        assert not found, found
        announcements = json.loads(
            next(t for t in texts if t.startswith("/api/v1/wall/announcements:")).split(" ", 2)[2]
        )
        assert announcements["active"]["id"] == "storm"  # it sees what is on the screens
        assert announcements["paused"]["by"] == "(hidden)"


async def test_comms_withdraws_any_announcement(
    rig: tuple[FullApp, TestClient[web.Request, web.Application]],
) -> None:
    _, c = rig

    def hdr(token: str) -> dict[str, Any]:
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    police, fire = hdr(TOKENS["authority"]), hdr(OTHER_AUTHORITY)
    async with c.post("/api/v1/wall/announcements", headers=police, json={"id": "storm"}) as r:
        assert r.status == 201
    async with c.delete("/api/v1/wall/announcements/active", headers=fire) as r:
        assert r.status == 403  # police's, not fire's
    async with c.delete("/api/v1/wall/announcements/active", headers=police) as r:
        assert r.status == 200  # its own
    async with c.post("/api/v1/wall/announcements", headers=fire, json={"id": "storm"}) as r:
        assert r.status == 201
    async with c.delete("/api/v1/wall/announcements/active", headers=hdr(TOKENS["comms"])) as r:
        assert r.status == 200  # comms: any author's


async def test_an_authority_replaces_only_its_own_announcement(
    rig: tuple[FullApp, TestClient[web.Request, web.Application]],
) -> None:
    """Issuing over an announcement on the screens withdraws it: an authority may do that
    only to its own (fire could take police's warning off the screens by issuing its own)."""
    _, c = rig

    def hdr(token: str) -> dict[str, Any]:
        return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    police, fire, comms = hdr(TOKENS["authority"]), hdr(OTHER_AUTHORITY), hdr(TOKENS["comms"])

    async def active() -> str | None:
        async with c.get("/api/v1/wall/announcements", headers=comms) as r:
            body = await r.json()
        return (
            None
            if body["active"] is None
            else f"{body['active']['id']}/{body['active']['issued_by']}"
        )

    async def issue(who: dict[str, Any], ann: str) -> int:
        async with c.post("/api/v1/wall/announcements", headers=who, json={"id": ann}) as r:
            return r.status

    assert await issue(police, "storm") == 201
    assert await issue(fire, "evacuate-square") == 403  # police's stays on the screens
    assert await active() == "storm/polizei-lage"
    assert await issue(police, "evacuate-square") == 201  # its own: replaced
    assert await active() == "evacuate-square/polizei-lage"
    assert await issue(comms, "storm") == 201  # comms: over anyone's
    assert await issue(police, "evacuate-square") == 403  # comms' stays
    assert await active() == "storm/presse"
