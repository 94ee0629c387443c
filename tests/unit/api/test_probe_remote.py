"""The probe's remote path over EngineClient's in-memory transport."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from eventops.api.client import HttpRequest, MemoryResponse, MemoryTransport
from eventops.api.sse import encode_event
from eventops.cli.probe_remote import run_via_engine
from eventops.errors import ApiError, InvalidRequest, NotFound, ProbeError

ROW = {
    "id": 3,
    "ts": "2026-06-18T16:00:00+00:00",
    "target": "fibre-police",
    "kind": "acceptance",
    "passed": True,
    "result": {"passed": True},
}


def engine(status: int, body: Any, events: list[bytes] | None = None) -> MemoryTransport:
    async def stream() -> AsyncIterator[bytes]:
        for e in events or []:
            yield e

    async def handler(req: HttpRequest) -> MemoryResponse:
        if req.path == "/api/v1/stream":
            return MemoryResponse(200, stream=stream())
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return MemoryResponse(status, raw)

    return MemoryTransport(handler)


async def test_progress_of_the_link_then_the_stored_row() -> None:
    snap = encode_event(
        json.dumps({"devices": [], "links": [], "alerts": []}), event="snapshot", id=1
    )

    def progress_event(i: int, subject: str) -> bytes:
        ev = {"id": i, "ts": ROW["ts"], "type": "probe.progress", "subject": subject,
              "scope": "link", "data": {"run": 1, "kind": "accept", "target": subject,
                                        "phase": "step", "line": f"step {i}"}}  # fmt: skip
        return encode_event(json.dumps(ev), event="probe.progress", id=i)

    t = engine(200, ROW, [snap, progress_event(2, "fibre-fire"), progress_event(3, "fibre-police")])
    seen: list[dict[str, Any]] = []
    row = await run_via_engine(
        "http://e", "tok", "/api/v1/probe/accept", {"link": "fibre-police", "hold": 0.0},
        link="fibre-police", progress=seen.append, transport=t,
    )  # fmt: skip
    assert row == ROW
    post = next(r for r in t.requests if r.method == "POST")
    assert json.loads(post.body or b"") == {"link": "fibre-police", "hold": 0.0}
    assert post.timeout_s is None  # a run holds its request until it is done
    assert [d["line"] for d in seen] == ["step 3"]  # only this link's


@pytest.mark.parametrize(
    ("status", "body", "cls", "text"),
    [
        (403, b"link fibre-police is handed over to police\n", ProbeError, "handed over"),
        (409, b"a probe run on fibre-police is already in progress\n", ProbeError, "in progress"),
        (502, b"probe failed: no reply\n", ProbeError, "no reply"),
        (404, {"error": {"code": "not_found", "message": "no link 'x'"}}, NotFound, "no link"),
        (200, {"id": 1}, ApiError, "not a probe result|unexpected"),
    ],
)
async def test_refusals(status: int, body: Any, cls: type, text: str) -> None:
    with pytest.raises(cls, match=text) as got:
        await run_via_engine(
            "http://e", "tok", "/api/v1/probe/stamp", {"link": "fibre-police"},
            link="fibre-police", transport=engine(status, body),
        )  # fmt: skip
    assert "Traceback" not in str(got.value)


async def test_a_bad_body_is_refused_before_sending() -> None:
    t = engine(200, ROW)
    with pytest.raises(InvalidRequest, match="probe/stamp"):
        await run_via_engine(
            "http://e", "tok", "/api/v1/probe/stamp", {"link": "l", "count": "5"},
            link="l", transport=t,
        )  # fmt: skip
    assert t.requests == []
