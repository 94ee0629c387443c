"""Every /api/v1 route, called as each role, against its models (``extra="forbid"``).

A role the route table allows must get the route's 2xx status and a body its
response model accepts; a role it does not allow gets 403. Where the server
answers something the contract rejects, the test is ``xfail(strict=True)``
with the difference as the reason, so the lead flips it once the server
follows the contract.
"""

from __future__ import annotations

from typing import Any

import pytest

from eventops.api.routes import BY_NAME, ROUTES, Route

from .conftest import REPO, WHO, Answer, Rig, contract_problems

Call = tuple[str, Any, int | None]
"""path (with query), JSON body, expected status for an allowed role (None: the route's)."""


async def _alert(rig: Rig) -> int:
    rig.fleet.ports[("mc-police", "sfp0")] = {"rx": -16.5}
    rig.fleet.ports[("mc-fire", "sfp0")] = {"oper": "DOWN", "rx": None}
    await rig.to(30)
    rows = rig.engine.alerts.open_alerts()
    assert rows, "no alert raised"
    return next(a.id for a in rows if a.subject == "fibre-police" and a.id is not None)


async def _handover(rig: Rig) -> int:
    if not rig.engine.links["fibre-police"].handed_to:
        await rig.add_proof()
        await rig.engine.handover("fibre-police", "police", "technik")
    rows = await rig.store.list_handovers()
    hid = rows[-1].id
    assert hid is not None
    return hid


async def scenario(name: str, rig: Rig) -> Call:
    """Set up what the route needs and say how to call it."""
    if name == "whoami":
        return "/api/v1/whoami", None, None
    if name == "openapi":
        return "/api/v1/openapi.json", None, None
    if name == "status":
        await _alert(rig)
        return "/api/v1/status", None, None
    if name == "devices":
        return "/api/v1/devices", None, None
    if name == "device":
        return "/api/v1/devices/mc-police", None, None
    if name == "maintenance":
        return "/api/v1/devices/mast-01/maintenance", {"on": True, "note": "cabling"}, None
    if name == "reboot":
        return "/api/v1/devices/mast-01/reboot", None, None
    if name == "links":
        await _alert(rig)
        await _handover(rig)
        return "/api/v1/links", None, None
    if name == "link":
        await _handover(rig)
        return "/api/v1/links/fibre-police", None, None
    if name == "handover":
        await rig.add_proof()
        return "/api/v1/links/fibre-police/handover", {"to": "police"}, None
    if name == "handovers":
        await _handover(rig)
        return "/api/v1/handovers", None, None
    if name == "handover_report":
        return f"/api/v1/handovers/{await _handover(rig)}/report", None, None
    if name == "alerts":
        await _alert(rig)
        return "/api/v1/alerts?all=1", None, None
    if name == "ack":
        return f"/api/v1/alerts/{await _alert(rig)}/ack", {"note": "crew on the way"}, None
    if name == "silences":
        await rig.engine.silence({"subject": "mc-fire"}, 600, "technik", "works")
        return "/api/v1/silences", None, None
    if name == "silence":
        body = {"matchers": {"subject": "mc-fire"}, "duration_s": 600, "note": "works"}
        return "/api/v1/silences", body, None
    if name == "unsilence":
        view = await rig.engine.silence({"subject": "mc-fire"}, 600, "technik", "works")
        return f"/api/v1/silences/{view['id']}", None, None
    if name == "history":
        return "/api/v1/history?device=mc-police&metric=reachable", None, None
    if name == "timeline":
        await _handover(rig)
        return "/api/v1/timeline", None, None
    if name == "reload":
        rig.engine.profile_path = REPO / "profiles" / "demo.toml"
        return "/api/v1/reload", {}, None
    if name == "probe_stamp":
        body = {"target": f"127.0.0.1:{rig.reflector_port}", "count": 5, "interval": 0.001}
        return "/api/v1/probe/stamp", body, None
    if name == "probe_throughput":
        return "/api/v1/probe/throughput", {"link": "nope", "rate": "1M"}, 404
    if name == "probe_accept":
        return "/api/v1/probe/accept", {"link": "nope"}, 404
    if name == "probe_results":
        await rig.add_proof()
        return "/api/v1/probe/results?link=fibre-police", None, None
    if name == "probes_running":
        return "/api/v1/probe/running", None, None
    if name == "provision_plan":
        return "/api/v1/provision/plan", {}, None
    if name == "provision_apply":
        # the scripted drivers never differ from the profile (test_provision_contract.py
        # applies against the simulators); here: the refusal
        return "/api/v1/provision/apply", {"devices": ["mast-01"], "confirm": "demo"}, 409
    if name == "provision_rollback":
        return "/api/v1/provision/rollback", {"apply_id": 999, "confirm": "demo"}, 404
    if name == "provision_applies":
        return "/api/v1/provision/applies", None, None
    if name == "provision_apply_detail":
        return "/api/v1/provision/applies/999", None, 404
    if name == "provision_running":
        return "/api/v1/provision/running", None, None
    if name.startswith("wall_"):
        return await wall_scenario(name, rig)
    if name == "stream":
        return "/api/v1/stream", None, None
    if name == "engines":
        return "/api/v1/engines", None, None  # no lease here: the single engine
    raise AssertionError(f"no scenario for {name}")


async def wall_scenario(name: str, rig: Rig) -> Call:
    await rig.add_post("replay:1")
    if name == "wall_queue":
        return "/api/v1/wall/queue?state=all", None, None
    if name == "wall_post":
        return "/api/v1/wall/posts/replay:1", None, None
    if name == "wall_decide":
        return "/api/v1/wall/posts/replay:1/decisions", {"action": "approve"}, None
    if name == "wall_undo":
        ans = await rig.call(
            "POST", "/api/v1/wall/posts/replay:1/decisions", "comms", {"action": "approve"}
        )
        assert ans.status == 201, ans
        return f"/api/v1/wall/decisions/{ans.json()['decision']}/undo", {"reason": "oops"}, None
    if name == "wall_decisions":
        return "/api/v1/wall/decisions?post=replay:1", None, None
    if name == "wall_lists":
        await rig.call("POST", "/api/v1/wall/blocks", "comms", {"author": "replay:bob"})
        return "/api/v1/wall/lists", None, None
    if name == "wall_block":
        return "/api/v1/wall/blocks", {"author": "replay:anna", "reason": "spam"}, None
    if name == "wall_unblock":
        await rig.call("POST", "/api/v1/wall/blocks", "comms", {"author": "replay:bob"})
        return "/api/v1/wall/blocks/replay:bob", None, None
    if name == "wall_counters":
        await rig.call("POST", "/api/v1/wall/posts/replay:1/decisions", "comms", {"action": "pin"})
        return "/api/v1/wall/counters", None, None
    if name == "wall_announcements":
        await rig.call("POST", "/api/v1/wall/announcements", "comms", {"id": "storm"})
        await rig.call("POST", "/api/v1/wall/pause", "comms", {"on": True, "note": "rain"})
        return "/api/v1/wall/announcements", None, None
    if name == "wall_issue":
        return "/api/v1/wall/announcements", {"id": "storm"}, None
    if name == "wall_withdraw":
        # issued by the authority: it may withdraw its own, comms any
        await rig.call("POST", "/api/v1/wall/announcements", "authority", {"id": "storm"})
        return "/api/v1/wall/announcements/active", None, None
    if name == "wall_pause":
        return "/api/v1/wall/pause", {"on": True, "note": "rain"}, None
    if name == "wall_forget":
        return "/api/v1/wall/forget", {"author": "replay:anna", "reason": "request"}, None
    raise AssertionError(f"no scenario for {name}")


# -- what the server answers today that the contract rejects (the lead flips these) -------
MISMATCH: dict[str, str] = {}


def _params() -> list[Any]:
    out = []
    for r in ROUTES:
        if r.name == "stream":
            continue
        marks = []
        if r.name in MISMATCH:
            marks.append(pytest.mark.xfail(strict=True, reason=MISMATCH[r.name]))
        out.append(pytest.param(r.name, marks=marks, id=r.name))
    return out


@pytest.mark.parametrize("name", _params())
async def test_route_answers_its_models_for_every_role(rig: Rig, name: str) -> None:
    route: Route = BY_NAME[name]
    problems: list[str] = []
    for role in WHO:
        path, body, expect = await scenario(name, rig)
        ans: Answer = await rig.call(route.method, path, role, body)
        if role not in route.roles:
            assert ans.status == 403, f"{role}: {ans.status} {ans.raw[:200]!r}"
            continue
        want = expect or route.status
        assert ans.status == want, f"{role}: {ans.status} {ans.raw[:300]!r}"
        if ans.status < 300 and route.response is None:
            assert route.content_type in ans.ctype, f"{role}: {ans.ctype}"
        elif ans.status < 300:
            problem = contract_problems(route, ans)
            if problem:
                problems.append(f"{role}: {problem}")
    assert not problems, "\n".join(problems)
