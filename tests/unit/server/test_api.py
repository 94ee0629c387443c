"""The API: auth, roles across REST, stream and /metrics, audit, reload."""

from __future__ import annotations

import asyncio
import json

from eventops.profile.models import Profile, User
from eventops.store.models import ProbeResultRow
from eventops.tokens import token_hash

from .conftest import SSE, TOKENS, Served

UNAUTHORIZED = {
    "error": {
        "code": "unauthenticated",
        "message": "unauthorized: a valid token is needed",
    }
}
FORBIDDEN = {
    "error": {
        "code": "forbidden",
        "message": "forbidden: your role may not do this",
    }
}


async def test_missing_and_wrong_tokens_get_401_without_detail(served: Served) -> None:
    status, body = await served.get("/api/v1/links", None)
    assert (status, body) == (401, UNAUTHORIZED)
    async with served.http.get(
        served.url + "/api/v1/links", headers={"Authorization": "Bearer evo_wrong"}
    ) as r:
        assert r.status == 401 and json.loads(await r.text()) == UNAUTHORIZED
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="eventops"'
    async with served.http.get(served.url + "/metrics") as r:
        assert r.status == 401
    async with served.http.get(served.url + "/api/v1/stream") as r:
        assert r.status == 401
    status, body = await served.get("/healthz", None)
    assert status == 200


async def test_roles_on_rest(served: Served) -> None:
    status, links = await served.get("/api/v1/links", "technik")
    assert status == 200 and {lk["id"] for lk in links} == {
        "fibre-police",
        "fibre-stage",
        "fibre-fire",
    }
    status, links = await served.get("/api/v1/links", "police")
    assert status == 200 and [lk["id"] for lk in links] == ["fibre-police"]
    raw = json.dumps(links)
    assert "fibre-fire" not in raw and "fibre-stage" not in raw and "sw-core" not in raw
    assert (await served.get("/api/v1/links/fibre-fire", "police"))[0] == 404
    status, devs = await served.get("/api/v1/devices", "fire")
    assert [d["id"] for d in devs] == ["mc-fire"]
    for path in ("/api/v1/links", "/api/v1/devices", "/api/v1/alerts", "/metrics", "/status"):
        assert (await served.get(path, "comms")) == (403, FORBIDDEN), path
    # authorities cannot write
    for path, body in (
        ("/api/v1/links/fibre-police/handover", {"to": "police"}),
        ("/api/v1/devices/mc-police/maintenance", {"on": True}),
        ("/api/v1/silences", {"matchers": {"link": "fibre-police"}, "duration_s": 60}),
        ("/api/v1/reload", {}),
    ):
        assert (await served.post(path, "police", body))[0] == 403, path
    assert await served.store.audit_entries() == []


async def test_mutations_are_audited_and_validated(served: Served) -> None:
    served.fleet.ports[("mc-fire", "sfp0")] = {"oper": "DOWN", "rx": None}
    await served.to(15)
    status, alerts = await served.get("/api/v1/alerts", "technik")
    fire = [a for a in alerts if a["key"] == "link:fibre-fire:down"]
    assert status == 200 and len(fire) == 1
    status, acked = await served.post(
        f"/api/v1/alerts/{fire[0]['id']}/ack", "technik", {"note": "crew on the way"}
    )
    assert status == 200 and acked["acked_by"] == "technik"
    assert (await served.post("/api/v1/alerts/9999/ack", "technik", {}))[0] == 404
    status, text = await served.post(
        "/api/v1/silences", "technik", {"matchers": {"subject": "x"}, "duration_s": -1}
    )
    assert status == 400 and text["error"]["code"] == "invalid"
    assert text["error"]["message"].startswith("duration_s:")
    assert text["error"]["field"] == "duration_s"
    async with served.http.post(
        served.url + "/api/v1/silences",
        headers={**served.auth("technik"), "Content-Type": "application/json"},
        data=b"{not json",
    ) as r:
        assert r.status == 400
        assert json.loads(await r.text())["error"]["message"].startswith("request body is not JSON")
    status, _ = await served.post(
        "/api/v1/devices/mast-01/maintenance", "technik", {"on": True, "note": "apply"}
    )
    assert status == 200
    missing = await served.post("/api/v1/devices/nope/maintenance", "technik", {"on": True})
    assert missing[0] == 404
    status, sil = await served.post(
        "/api/v1/silences",
        "technik",
        {"matchers": {"link": "fibre-fire"}, "duration_s": 600, "note": "splicing"},
    )
    assert status == 201 and sil["until"] == "2026-06-18T16:10:15+00:00"
    _, fire_now = await served.get("/api/v1/alerts", "technik")
    assert [a["silenced"] for a in fire_now if a["subject"] == "fibre-fire"] == [True]
    async with served.http.delete(
        served.url + f"/api/v1/silences/{sil['id']}", headers=served.auth("technik")
    ) as r:
        assert r.status == 200
    async with served.http.delete(
        served.url + f"/api/v1/silences/{sil['id']}", headers=served.auth("technik")
    ) as r:
        assert r.status == 409  # removed already: says by whom
        assert "silence #1 was already removed by technik" in (await r.json())["error"]["message"]
    async with served.http.delete(
        served.url + "/api/v1/silences/99", headers=served.auth("technik")
    ) as r:
        assert r.status == 404
    # fire sees its alert; police does not
    _, police_alerts = await served.get("/api/v1/alerts", "police")
    _, fire_alerts = await served.get("/api/v1/alerts", "fire")
    assert police_alerts == [] and [a["key"] for a in fire_alerts] == ["link:fibre-fire:down"]
    audit = await served.store.audit_entries()
    assert [(e.actor, e.action, e.target) for e in audit] == [
        ("technik", "alert.ack", str(fire[0]["id"])),
        ("technik", "device.maintenance", "mast-01"),
        ("technik", "alert.silence", "1"),
        ("technik", "alert.unsilence", "1"),
    ]


async def test_metrics_filtered_by_role(served: Served) -> None:
    status, tech = await served.get("/metrics", "technik")
    assert status == 200
    assert 'eventops_link_up{link="fibre-fire"} 1.0' in tech
    assert 'eventops_device_up{device="mast-01",kind="mast",site="marktplatz"} 1.0' in tech
    assert (
        'eventops_link_rx_power_dbm{device="sw-core",end="a",link="fibre-police",port="Ethernet1/1"} -8.0'
        in tech
    )
    status, police = await served.get("/metrics", "police")
    assert status == 200
    assert 'eventops_link_up{link="fibre-police"} 1.0' in police
    assert (
        'eventops_device_up{device="mc-police",kind="media-converter",site="marktplatz"} 1.0'
        in police
    )
    for other in ("fibre-fire", "fibre-stage", "mast-01", "mc-fire", "sw-core"):
        assert other not in police
    assert "eventops_engine_task" not in police


async def test_metrics_count_task_failures_and_restarts(served: Served) -> None:
    sv = served.engine.supervisor
    await sv.failed("poll:mast-01", RuntimeError("handler bug"))
    status, tech = await served.get("/metrics", "technik")
    assert status == 200
    assert 'eventops_engine_task_failures_total{task="poll:mast-01"} 1.0' in tech
    assert 'eventops_engine_task_restarts_total{task="poll:mast-01"} 0.0' in tech
    assert 'eventops_engine_task_restarts_total{task="downsampler"} 0.0' in tech
    await served.to(60)  # held long enough to raise (the profile's raise_after_s)
    status, alerts = await served.get("/api/v1/alerts", "technik")
    assert status == 200
    assert [a["key"] for a in alerts if a["subject"] == "engine"] == [
        "engine:task:poll:mast-01:failed"
    ]
    status, theirs = await served.get("/api/v1/alerts", "police")
    assert status == 200 and not [a for a in theirs if a["subject"] == "engine"]


async def test_authority_stream_never_carries_another_authoritys_link(served: Served) -> None:
    async with served.http.get(served.url + "/api/v1/stream", headers=served.auth("police")) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "text/event-stream"
        sse = SSE(r)
        first = await sse.next()
        assert first["event"] == "snapshot"
        snap = json.loads(first["data"])
        assert [lk["id"] for lk in snap["links"]] == ["fibre-police"]
        # faults everywhere: fire link down, stage link degraded, police optic drifting
        served.fleet.ports[("mc-fire", "sfp0")] = {"oper": "DOWN", "rx": None}
        served.fleet.ports[("sw-stage", "Ethernet1/1")] = {"rx": -13.9}
        served.fleet.ports[("mc-police", "sfp0")] = {"rx": -16.5}
        await served.to(30)
        mark = served.engine.bus.publish("mark", "fibre-police", "link", {"police"})
        seen = []
        while True:
            ev = await sse.next()
            seen.append(ev)
            if ev["id"] == bus_id(served, mark.id):
                break
    kinds = {e["event"] for e in seen}
    assert {"link", "alert.raised", "device"} <= kinds
    police_alerts = [
        json.loads(e["data"])["data"]["key"] for e in seen if e["event"] == "alert.raised"
    ]
    assert police_alerts == ["link:fibre-police:rx_power.b"]
    text = "".join(sse.raw)
    for other in ("fibre-fire", "fibre-stage", "mc-fire", "sw-stage", "mast-0"):
        assert other not in text, other
    # the technician's stream does carry them (the filter is what hides them)
    tech_events = [e for e in served.engine.bus if e.subject == "fibre-fire"]
    assert tech_events


def bus_id(served: Served, n: int) -> str:
    return served.engine.bus.wire_id(n)


async def test_stream_resume_with_last_event_id_or_snapshot(served: Served) -> None:
    bus = served.engine.bus
    start = bus.last_id
    await served.to(20)
    headers = {**served.auth("technik"), "Last-Event-ID": bus.wire_id(start)}
    async with served.http.get(served.url + "/api/v1/stream", headers=headers) as r:
        sse = SSE(r)
        ev = await sse.next()
        assert ev["event"] != "snapshot" and ev["id"] == bus.wire_id(start + 1)
    # a gap older than what the bus keeps: a fresh snapshot instead
    await served.to(120)
    headers = {**served.auth("technik"), "Last-Event-ID": bus.wire_id(1)}
    async with served.http.get(served.url + "/api/v1/stream", headers=headers) as r:
        ev = await SSE(r).next()
        assert ev["event"] == "snapshot" and ev["id"] == bus.wire_id(bus.last_id)


async def test_stream_resume_from_an_id_the_byte_bound_dropped_gets_a_snapshot(
    served: Served,
) -> None:
    bus = served.engine.bus
    bus.max_bytes = 4_000  # a few events' worth
    start = bus.last_id
    for n in range(50):
        bus.publish("maintenance", "mast-01", "device", data={"n": n, "note": "x" * 200})
    assert bus.dropped > 0 and bus.bytes <= 4_000
    assert bus.since(start) is None  # the gap is gone: only the byte bound dropped it
    headers = {**served.auth("technik"), "Last-Event-ID": bus.wire_id(start)}
    async with served.http.get(served.url + "/api/v1/stream", headers=headers) as r:
        ev = await SSE(r).next()
        assert ev["event"] == "snapshot" and ev["id"] == bus.wire_id(bus.last_id)
    # resuming from an id still kept gets the events after it
    headers = {**served.auth("technik"), "Last-Event-ID": bus.wire_id(bus.last_id - 1)}
    async with served.http.get(served.url + "/api/v1/stream", headers=headers) as r:
        ev = await SSE(r).next()
        assert ev["event"] == "maintenance" and ev["id"] == bus.wire_id(bus.last_id)


async def test_reload_revokes_token_and_adds_mast(served: Served) -> None:
    p = served.engine.profile
    new_token = "evo_new-police-token"
    users = [
        u
        if u.name != "polizei-lage"
        else User(**{**u.model_dump(), "token_sha256": token_hash(new_token)})
        for u in p.users
    ]
    new_mast = p.mast("mast-03").model_copy(
        update={"id": "mast-04", "hostname": "mast-04", "authorities": ["police"]}
    )
    newp = Profile.model_validate(
        {
            **p.model_dump(mode="python"),
            "users": [u.model_dump(mode="python") for u in users],
            "masts": [m.model_dump(mode="python") for m in [*p.masts, new_mast]],
        }
    )
    async with served.http.get(served.url + "/api/v1/stream", headers=served.auth("police")) as r:
        sse = SSE(r)
        assert (await sse.next())["event"] == "snapshot"
        served.fleet.profile = newp
        summary = await served.engine.reload(newp, actor="technik")
        assert summary["added"] == ["mast-04"]
        # the revoked token's stream ends
        try:
            while True:
                await sse.next(wait_s=30)  # a bound only: the end comes at once
        except EOFError:
            pass
    assert (await served.get("/api/v1/links", "police"))[0] == 401
    async with served.http.get(
        served.url + "/api/v1/devices", headers={"Authorization": f"Bearer {new_token}"}
    ) as r:
        assert r.status == 200
        ids = [d["id"] for d in await r.json()]
    assert sorted(ids) == ["mast-04", "mc-police"]
    await served.to(30)
    status, dev = await served.get("/api/v1/devices/mast-04", "technik")
    assert status == 200 and dev["reachable"] is True


async def test_handover_via_api_and_report(served: Served) -> None:
    await served.engine.record_probe_result(
        ProbeResultRow(
            ts=served.clock.now(),
            target="fibre-police",
            kind="acceptance",
            passed=True,
            result={"throughput_mbps": 497.5, "loss_pct": 0.0},
        )
    )
    status, body = await served.post(
        "/api/v1/links/fibre-police/handover", "technik", {"to": "police"}
    )
    assert status == 201 and body["record"]["ends"]["b"]["rx_dbm"] == -8.0
    bad = await served.post("/api/v1/links/fibre-police/handover", "technik", {"to": "fire"})
    assert bad[0] == 400 and "not tagged for fire" in bad[1]["error"]["message"]
    assert (await served.post("/api/v1/links/nope/handover", "technik", {"to": "fire"}))[0] == 404
    hid = body["id"]
    async with served.http.get(
        served.url + f"/api/v1/handovers/{hid}/report", headers=served.auth("police")
    ) as r:
        html = await r.text()
        assert r.status == 200
        assert "style-src 'sha256-" in r.headers["Content-Security-Policy"]
    assert "Polizeipräsidium" in html and "PASSED" in html and "-8.00 dBm" in html
    assert (await served.get(f"/api/v1/handovers/{hid}/report", "fire"))[0] == 404
    status, hs = await served.get("/api/v1/handovers", "fire")
    assert status == 200 and hs == []
    _, tl = await served.get("/api/v1/timeline", "technik")
    assert [t["kind"] for t in tl if t["subject"] == "fibre-police"] == [
        "audit:link.handover",
        "handover",
        "probe",
    ]


async def test_handover_needs_proof_or_a_forced_reason(served: Served) -> None:
    path = "/api/v1/links/fibre-police/handover"
    status, body = await served.post(path, "technik", {"to": "police"})
    assert status == 409 and body["error"]["code"] == "conflict"
    assert body["error"]["message"].startswith(
        "fibre-police not handed over: no proof (no acceptance test of the link is recorded)"
    )
    for bad in (
        {"to": "police", "force": True},
        {"to": "police", "force": True, "reason": "   "},
        {"to": "police", "force": True, "reason": "x" * 501},
        {"to": "police", "force": "yes", "reason": "storm"},
    ):
        status, body = await served.post(path, "technik", bad)
        assert status == 400 and body["error"]["code"] == "invalid", bad
    assert await served.store.list_handovers() == []
    status, body = await served.post(
        path, "technik", {"to": "police", "force": True, "reason": "Lage eskaliert"}
    )
    assert status == 201
    assert next(iter(body)) == "unproven" and body["unproven"] == (
        "HANDED OVER UNPROVEN by technik: no acceptance test of the link is recorded. "
        "Reason given: Lage eskaliert"
    )
    status, hs = await served.get("/api/v1/handovers", "police")
    assert status == 200 and hs[0]["unproven"] == body["unproven"]
    entries = [e for e in await served.store.audit_entries() if e.action == "link.handover"]
    assert [e.after["reason"] for e in entries] == ["Lage eskaliert"]


async def test_history_range_query(served: Served) -> None:
    await served.to(30)
    status, h = await served.get(
        "/api/v1/history?device=mc-police&metric=rx_dbm.sfp0&since=2026-06-18T16:00:00Z", "police"
    )
    assert status == 200 and [p[1] for p in h["points"]] == [-8.0] * 7
    assert (await served.get("/api/v1/history?device=mc-fire&metric=rx_dbm.sfp0", "police"))[
        0
    ] == 404
    bad = await served.get("/api/v1/history?device=mc-police&metric=x&since=yesterday", "police")
    assert bad[0] == 400


def test_tokens_are_the_readme_ones() -> None:
    assert set(TOKENS.values()) == {
        "demo-technician-token",
        "demo-police-token",
        "demo-fire-token",
        "demo-comms-token",
    }


async def test_status_page_address_from_readme_works_for_curl(served: Served) -> None:
    """curl sends ``Accept: */*``: the page answers the ``?token=`` of that request, sets
    no cookie and still refuses a wrong token; a browser still gets the cookie only for a
    valid token."""
    curl = {"Accept": "*/*", "User-Agent": "curl/8.5.0"}
    served.http.cookie_jar.clear()
    async with served.http.get(
        served.url + "/status?token=demo-police-token", headers=curl, allow_redirects=False
    ) as r:
        assert r.status == 200 and "Set-Cookie" not in r.headers
        assert "Polizeipräsidium" in await r.text()
    for bad in ("nope", "demo-comms-token"):
        async with served.http.get(
            served.url + f"/status?token={bad}", headers=curl, allow_redirects=False
        ) as r:
            assert r.status in (401, 403) and "Set-Cookie" not in r.headers, bad
    # the query token is for that page only: the API still wants the header
    async with served.http.get(
        served.url + "/api/v1/status?token=demo-police-token", headers=curl
    ) as r:
        assert r.status == 401
    browser = {"Accept": "text/html,application/xhtml+xml"}
    async with served.http.get(
        served.url + "/status?token=nope", headers=browser, allow_redirects=False
    ) as r:
        assert r.status == 401 and "Set-Cookie" not in r.headers
    async with served.http.get(
        served.url + "/status?token=demo-police-token", headers=browser, allow_redirects=False
    ) as r:
        assert r.status == 303 and "evo_token=demo-police-token" in r.headers["Set-Cookie"]


async def test_concurrent_acks_and_silence_removals_get_one_success_and_409s(
    served: Served,
) -> None:
    served.fleet.ports[("mc-fire", "sfp0")] = {"oper": "DOWN", "rx": None}
    await served.to(15)
    _, alerts = await served.get("/api/v1/alerts", "technik")
    (fire,) = [a for a in alerts if a["key"] == "link:fibre-fire:down"]
    acks = await asyncio.gather(
        *(
            served.post(f"/api/v1/alerts/{fire['id']}/ack", "technik", {"note": f"n{n}"})
            for n in range(4)
        )
    )
    assert sorted(status for status, _ in acks) == [200, 409, 409, 409]
    for status, body in acks:
        if status == 409:
            assert body["error"]["code"] == "conflict"
            assert (
                f"alert {fire['id']} was already acknowledged by technik"
                in (body["error"]["message"])
            )
    _, sil = await served.post(
        "/api/v1/silences", "technik", {"matchers": {"link": "fibre-fire"}, "duration_s": 600}
    )

    async def remove() -> int:
        async with served.http.delete(
            served.url + f"/api/v1/silences/{sil['id']}", headers=served.auth("technik")
        ) as r:
            return r.status

    assert sorted(await asyncio.gather(*(remove() for _ in range(4)))) == [200, 409, 409, 409]
    assert (await served.get("/api/v1/silences", "technik"))[1] == []
    actions = [(e.action, e.target) for e in await served.store.audit_entries()]
    assert actions == [
        ("alert.ack", str(fire["id"])),
        ("alert.silence", str(sil["id"])),
        ("alert.unsilence", str(sil["id"])),
    ]
