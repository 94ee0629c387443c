"""Error bodies, hostile request bodies, the live stream and capabilities against the contract."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import ValidationError

from eventops.api import models as m
from eventops.api.client import EngineClient, StreamMessage
from eventops.api.routes import BY_NAME

from .conftest import WHO, Rig

STATUS_OF_CODE = {
    "invalid": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "confirmation_needed": 409,
    "unavailable": 503,
}


async def test_every_error_answer_is_the_error_body(rig: Rig) -> None:
    answers = [
        await rig.call("GET", "/api/v1/devices", None),  # 401
        await rig.call("POST", "/api/v1/devices/mast-01/reboot", "authority"),  # 403
        await rig.call("GET", "/api/v1/devices/nope", "technician"),  # 404
        await rig.call("POST", "/api/v1/alerts/1/ack", "technician", raw=b"{not json"),  # 400
        await rig.call("POST", "/api/v1/probe/accept", "technician", {"link": "nope"}),  # 404
        await rig.call("GET", "/api/v1/provision/applies/999", "technician"),  # 404
        await rig.call("POST", "/api/v1/provision/apply", "technician", {"confirm": "demo"}),
        await rig.call("POST", "/api/v1/wall/decisions/999/undo", "comms", {}),  # 404
    ]
    bad = []
    for ans in answers:
        assert ans.status >= 400
        try:
            err = m.ErrorBody.model_validate_json(ans.raw).error
        except ValidationError:
            bad.append(f"{ans.status} {ans.ctype}: {ans.raw[:100]!r}")
            continue
        if STATUS_OF_CODE.get(err.code) != ans.status:
            bad.append(f"{ans.status} with code {err.code!r}")
    assert not bad, "\n".join(bad)


# (route, body the contract refuses, why)
HOSTILE: list[tuple[str, dict[str, Any], str]] = [
    ("maintenance", {"on": "yes"}, "a string as a bool"),
    ("maintenance", {"on": True, "colour": "red"}, "an unknown field"),
    ("silence", {"matchers": {"subject": "x"}, "duration_s": "600"}, "a number as a string"),
    ("silence", {"matchers": {}, "duration_s": 60}, "no matcher"),
    ("ack", {"note": "x" * 2001}, "an over-long note"),
    ("handover", {"to": ""}, "an empty authority"),
    ("wall_pause", {"on": 1}, "1 as a bool"),
    ("probe_stamp", {"link": "fibre-police", "count": "5"}, "a count as a string"),
    ("provision_plan", {"devices": ["x" * 64]}, "a device id over 63 characters"),
    ("wall_decide", {"action": "approve", "reason": None}, "null as text"),
]
HOSTILE_PATHS = {
    "maintenance": "/api/v1/devices/mast-01/maintenance",
    "silence": "/api/v1/silences",
    "ack": "/api/v1/alerts/1/ack",
    "handover": "/api/v1/links/fibre-police/handover",
    "wall_pause": "/api/v1/wall/pause",
    "probe_stamp": "/api/v1/probe/stamp",
    "provision_plan": "/api/v1/provision/plan",
    "wall_decide": "/api/v1/wall/posts/replay:1/decisions",
}
LAX: set[tuple[str, str]] = set()
"""What today's server accepts although the contract refuses it (lax, open request models)."""


def _hostile() -> list[Any]:
    out = []
    for name, body, why in HOSTILE:
        marks = []
        if (name, why) in LAX:
            marks.append(
                pytest.mark.xfail(
                    strict=True, reason=f"{name}: the server's own request model accepts {why}"
                )
            )
        out.append(pytest.param(name, body, marks=marks, id=f"{name}-{why.replace(' ', '_')}"))
    return out


@pytest.mark.parametrize(("name", "body"), _hostile())
async def test_hostile_bodies_are_refused_with_400(
    rig: Rig, name: str, body: dict[str, Any]
) -> None:
    route = BY_NAME[name]
    assert route.request is not None
    with pytest.raises(ValidationError):
        route.request.model_validate_json(json.dumps(body))
    await rig.add_post("replay:1")
    role = "comms" if name.startswith("wall_") else "technician"
    ans = await rig.call(route.method, HOSTILE_PATHS[name], role, body)
    assert ans.status == 400, f"{ans.status} {ans.raw[:200]!r}"


async def test_device_views_carry_capabilities(rig: Rig) -> None:
    async with EngineClient(rig.url, WHO["technician"]) as api:
        devices = await api.devices()
        detail = await api.device("mc-police")
    assert devices and all(d.capabilities is not None for d in devices)
    assert detail.capabilities is not None


async def _collect(
    api: EngineClient, out: list[StreamMessage], ready: asyncio.Event, marked: asyncio.Event
) -> None:
    async for msg in api.stream_once(idle_timeout_s=10):
        out.append(msg)
        ready.set()
        if msg.type == "mark":
            marked.set()


@pytest.mark.parametrize("role", ["technician", "authority", "comms"])
async def test_live_stream_events_match_the_models(rig: Rig, role: str) -> None:
    seen: list[StreamMessage] = []
    ready, marked = asyncio.Event(), asyncio.Event()
    async with EngineClient(rig.url, WHO[role]) as api:
        task = asyncio.create_task(_collect(api, seen, ready, marked))
        try:
            async with asyncio.timeout(10):
                await ready.wait()
            rig.fleet.ports[("mc-police", "sfp0")] = {"rx": -16.5}
            rig.fleet.ports[("mc-fire", "sfp0")] = {"oper": "DOWN", "rx": None}
            await rig.to(30)
            maint = {"on": True}
            await rig.call("POST", "/api/v1/devices/mc-police/maintenance", "technician", maint)
            body = {"target": f"127.0.0.1:{rig.reflector_port}", "count": 3, "interval": 0.001}
            assert (await rig.call("POST", "/api/v1/probe/stamp", "technician", body)).status == 200
            if role != "comms":  # comms see the snapshot only (the wall has its own stream)
                rig.engine.bus.publish("mark", "fibre-police", "link", frozenset({"police"}))
                async with asyncio.timeout(10):
                    await marked.wait()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert seen[0].type == "snapshot"
    snap = seen[0].snapshot()
    if role == "authority":
        assert [lk.id for lk in snap.links] == ["fibre-police"]
    if role == "comms":
        assert (snap.devices, snap.links, snap.alerts) == ([], [], [])
        return
    types = {msg.type for msg in seen[1:]}
    for msg in seen[1:]:
        ev = msg.event()
        assert (ev.id, ev.type) == (msg.id, msg.type)
        if msg.type == "probe.progress":
            m.ProbeProgressData.model_validate(ev.data)
        if msg.type == "probe.ended":
            m.ProbeEndedData.model_validate(ev.data)
    assert "mark" in types
    if role == "technician":
        assert {"probe.progress", "probe.ended", "alert.raised"} <= types
    else:
        assert "alert.raised" in types and "probe.progress" not in types


async def test_an_authority_does_not_learn_comms_names_from_announcements(rig: Rig) -> None:
    issued = await rig.call("POST", "/api/v1/wall/announcements", "comms", {"id": "storm"})
    assert issued.status == 201
    paused = {"on": True, "note": "Lagebesprechung"}
    assert (await rig.call("POST", "/api/v1/wall/pause", "comms", paused)).status == 200
    ans = await rig.call("GET", "/api/v1/wall/announcements", "authority")
    assert ans.status == 200
    view = m.AnnouncementsView.model_validate_json(ans.raw)
    assert view.paused is not None and view.active is not None
    comms_name = issued.json()["issued_by"]
    assert comms_name not in ans.raw.decode() and "Lagebesprechung" not in ans.raw.decode()
