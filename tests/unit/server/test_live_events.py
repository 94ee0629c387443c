"""Live-stream events for views that follow the stream: silences and the wall."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.server.conftest import SSE, Served
from tests.unit.server.wallkit import WallServed, wall_served


@pytest.fixture
async def ws(tmp_path: Path) -> AsyncIterator[WallServed]:
    async for s in wall_served(tmp_path):
        yield s


async def until_event(sse: SSE, kind: str) -> dict[str, Any]:
    while True:
        ev = await sse.next()
        if ev["event"] == kind:
            return ev


async def test_a_silence_republishes_the_alerts_it_covers(served: Served) -> None:
    served.fleet.ports[("mc-fire", "sfp0")] = {"oper": "DOWN", "rx": None}
    await served.to(30)
    [alert] = [a for a in served.engine.alerts.open_alerts() if a.subject == "fibre-fire"][:1]
    last = served.engine.bus.last_id
    status, sil = await served.post(
        "/api/v1/silences", "technik", {"matchers": {"key": alert.key}, "duration_s": 600}
    )
    assert status == 201
    events = served.engine.bus.since(last) or []
    silenced = [e for e in events if e.type == "alert.silenced"]
    assert [(e.subject, e.data["id"], e.data["silenced"]) for e in silenced] == [
        ("fibre-fire", alert.id, True)
    ]
    last = served.engine.bus.last_id
    async with served.http.delete(
        served.url + f"/api/v1/silences/{sil['id']}", headers=served.auth("technik")
    ) as r:
        assert r.status == 200
    events = served.engine.bus.since(last) or []
    assert [(e.type, e.data["silenced"]) for e in events if e.type.startswith("alert.")] == [
        ("alert.unsilenced", False)
    ]


async def test_wall_changes_are_stream_events_without_text_or_names(ws: WallServed) -> None:
    async with ws.http.get(ws.url + "/api/v1/stream", headers=ws.auth("comms")) as r:
        sse = SSE(r)
        assert (await sse.next())["event"] == "snapshot"
        # a post from the sources (no API verb): the engine's watch notices it
        await ws.add_post("replay:1", "Geheimer Text", "replay:anna")
        ev = await until_event(sse, "wall")
        assert json.loads(ev["data"])["data"] == {"what": "queue"}
        status, _ = await ws.post(
            "/api/v1/wall/posts/replay:1/decisions", "comms", {"action": "approve"}
        )
        assert status in (200, 201)
        ev = await until_event(sse, "wall")
        assert json.loads(ev["data"])["data"] == {"what": "queue"}
    text = "".join(sse.raw)
    assert "Geheimer Text" not in text and "anna" not in text
    # an authority learns that the wall changed (for its announcements), nothing more
    async with ws.http.get(ws.url + "/api/v1/stream", headers=ws.auth("police")) as r:
        sse = SSE(r)
        assert (await sse.next())["event"] == "snapshot"
        status, _ = await ws.post("/api/v1/wall/pause", "comms", {"on": True, "note": "n"})
        assert status == 200
        ev = await until_event(sse, "wall")
        assert json.loads(ev["data"])["data"] == {"what": "pause"}
