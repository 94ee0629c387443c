"""EngineClient over the in-memory transport: errors, wording, the live stream's reconnects."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from eventops.api.client import (
    EngineClient,
    EngineUnreachable,
    HttpRequest,
    MemoryResponse,
    MemoryTransport,
    RemoteConfirmationNeeded,
    StreamMessage,
)
from eventops.api.sse import encode_comment, encode_event
from eventops.errors import (
    ApiError,
    ConfirmationNeeded,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    Unavailable,
)


def answer(status: int, body: Any) -> MemoryTransport:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()

    async def handler(req: HttpRequest) -> MemoryResponse:
        return MemoryResponse(status, raw)

    return MemoryTransport(handler)


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("invalid", 400, InvalidRequest),
        ("unauthenticated", 401, NotAuthenticated),
        ("forbidden", 403, Forbidden),
        ("not_found", 404, NotFound),
        ("conflict", 409, Conflict),
        ("unavailable", 503, Unavailable),
    ],
)
async def test_error_codes_become_domain_errors(code: str, status: int, cls: type) -> None:
    body = {"error": {"code": code, "message": "mast-09: no such device"}}
    api = EngineClient("http://e", "t", transport=answer(status, body))
    with pytest.raises(cls) as got:
        await api.device("mast-09")
    assert isinstance(got.value, ApiError) and got.value.status == status
    assert str(got.value) == "mast-09: no such device"


async def test_confirmation_needed_carries_what_to_type() -> None:
    body = {
        "error": {
            "code": "confirmation_needed",
            "message": "2 dangerous changes: type the event id",
            "confirm": "demo",
            "reasons": ["link fibre-police is handed over to police"],
            "dangerous": [{"device": "mc-police", "path": None, "reason": "handed over"}],
        }
    }
    api = EngineClient("http://e", "t", transport=answer(409, body))
    with pytest.raises(ConfirmationNeeded) as got:
        await api.provision_apply()
    exc = got.value
    assert isinstance(exc, RemoteConfirmationNeeded)
    assert exc.confirm == "demo" and exc.reasons == ["link fibre-police is handed over to police"]
    assert [d.device for d in exc.dangerous] == ["mc-police"]


async def test_older_engines_plain_text_errors_map_by_status() -> None:
    api = EngineClient("http://e", "t", transport=answer(404, b"not \x1b[31mfound\nsecond line"))
    with pytest.raises(NotFound, match=r"^not \[31mfound$"):
        await api.link("x")
    api = EngineClient("http://e", "t", transport=answer(502, b"probe failed: no reply\n"))
    with pytest.raises(ApiError, match="502 probe failed: no reply") as got:
        await api.probe_stamp("fibre-police")
    assert not isinstance(got.value, NotFound)


async def test_an_answer_off_the_contract_is_named() -> None:
    api = EngineClient("http://e", "t", transport=answer(200, {"name": "x", "role": "root"}))
    with pytest.raises(ApiError, match=r"GET /api/v1/whoami: unexpected answer .*role"):
        await api.whoami()
    api = EngineClient(
        "http://e", "t", transport=answer(200, {"name": "x", "role": "comms", "v": 2})
    )
    with pytest.raises(ApiError, match=r"\(v: Extra inputs are not permitted\)"):
        await api.whoami()


async def test_bad_input_is_refused_before_anything_is_sent() -> None:
    t = answer(200, {})
    api = EngineClient("http://e", "t", transport=t)
    with pytest.raises(InvalidRequest, match="duration_s"):
        await api.silence({"subject": "x"}, float("nan"))
    with pytest.raises(InvalidRequest, match="action"):
        await api.wall_decide("x:1", "delete-everything")
    assert t.requests == []


async def test_requests_carry_token_json_and_quoted_ids() -> None:
    t = answer(201, {"decision": 7, "post": None})
    api = EngineClient("http://e", "secret", transport=t)
    got = await api.wall_decide("x:1/2", "approve", "fine")
    assert got.decision == 7
    (req,) = t.requests
    assert (req.method, req.path) == ("POST", "/api/v1/wall/posts/x%3A1%2F2/decisions")
    assert req.headers["Authorization"] == "Bearer secret"
    assert json.loads(req.body or b"") == {"action": "approve", "reason": "fine"}


async def test_connection_refused_is_worded_for_people() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with EngineClient(f"http://127.0.0.1:{port}", "t") as api:
        with pytest.raises(EngineUnreachable) as got:
            await api.whoami()
    msg = str(got.value)
    assert msg == f"cannot reach the engine at http://127.0.0.1:{port}: connection refused"
    assert "ClientConnectorError" not in msg


async def test_alive_asks_healthz_without_the_token() -> None:
    asked: list[HttpRequest] = []

    async def handler(req: HttpRequest) -> MemoryResponse:
        asked.append(req)
        return MemoryResponse(200 if req.path == "/healthz" else 404, b"ok\n")

    async with EngineClient("http://e", "secret", transport=MemoryTransport(handler)) as api:
        assert await api.alive()
    assert [(r.method, r.path) for r in asked] == [("GET", "/healthz")]
    assert "Authorization" not in asked[0].headers
    async with EngineClient("http://e", "t", transport=answer(503, b"starting")) as api:
        assert not await api.alive()
    with socket.socket() as s:  # nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with EngineClient(f"http://127.0.0.1:{port}", "t") as api:
        assert not await api.alive(timeout_s=2.0)


def _events(*parts: bytes) -> AsyncIterator[bytes]:
    async def gen() -> AsyncIterator[bytes]:
        for p in parts:
            yield p

    return gen()


async def test_stream_reconnects_with_last_event_id_and_resyncs() -> None:
    snap = json.dumps({"devices": [], "links": [], "alerts": []})
    ev = json.dumps(
        {
            "id": 6,
            "ts": "2026-06-01T10:00:00+00:00",
            "type": "device",
            "subject": "mast-01",
            "scope": "device",
            "data": {},
        }
    )
    script = [
        # first connection: snapshot, one event split mid-line, then the server drops us
        [
            encode_event(snap, event="snapshot", id=5)[:9],
            encode_event(snap, event="snapshot", id=5)[9:]
            + encode_comment("keep-alive")
            + encode_event(ev, event="device", id=6)[:20],
            encode_event(ev, event="device", id=6)[20:],
        ],
        # second: resumes after 6, then a resync
        [encode_event("{}", event="resync", id=7)],
        # third: no Last-Event-ID, a fresh snapshot
        [encode_event(snap, event="snapshot", id=9)],
    ]
    seen_ids: list[str | None] = []

    async def handler(req: HttpRequest) -> MemoryResponse:
        seen_ids.append(req.headers.get("Last-Event-ID"))
        assert req.headers["Accept"] == "text/event-stream" and req.timeout_s is None
        if not script:
            return MemoryResponse(
                401,
                json.dumps(
                    {"error": {"code": "unauthenticated", "message": "token revoked"}}
                ).encode(),
            )
        return MemoryResponse(200, stream=_events(*script.pop(0)))

    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    api = EngineClient("http://e", "t", transport=MemoryTransport(handler))
    got: list[StreamMessage] = []
    with pytest.raises(NotAuthenticated, match="token revoked"):
        async for msg in api.stream(sleep=sleep, backoff_s=(0.5, 1.0)):
            got.append(msg)
    assert [(m.id, m.type) for m in got] == [(5, "snapshot"), (6, "device"), (9, "snapshot")]
    assert got[1].event().subject == "mast-01" and got[0].snapshot().devices == []
    assert seen_ids == [None, "6", None, "9"]
    assert sleeps == [0.5, 0.5, 0.5]


async def test_stream_resumes_with_the_run_and_number_it_was_given() -> None:
    """Ids are ``<epoch>-<n>``: the client sends back exactly what it got, and a snapshot
    after an engine restart (a new epoch) is just the next message."""
    snap = json.dumps({"devices": [], "links": [], "alerts": []})
    ev = json.dumps(
        {
            "id": 8,
            "ts": "2026-06-01T10:00:00+00:00",
            "type": "device",
            "subject": "mast-01",
            "scope": "device",
            "data": {},
        }
    )
    script = [
        [encode_event(snap, event="snapshot", id="a1b2-7"), encode_event(ev, id="a1b2-8")],
        [encode_event(snap, event="snapshot", id="c3d4-2")],  # the engine restarted
    ]
    seen_ids: list[str | None] = []

    async def handler(req: HttpRequest) -> MemoryResponse:
        seen_ids.append(req.headers.get("Last-Event-ID"))
        if not script:
            body = {"error": {"code": "unauthenticated", "message": "gone"}}
            return MemoryResponse(401, json.dumps(body).encode())
        return MemoryResponse(200, stream=_events(*script.pop(0)))

    async def sleep(s: float) -> None:
        return None

    api = EngineClient("http://e", "t", transport=MemoryTransport(handler))
    got: list[StreamMessage] = []
    with pytest.raises(NotAuthenticated):
        async for msg in api.stream(sleep=sleep):
            got.append(msg)
    assert [(m.id, m.stream_id, m.type) for m in got] == [
        (7, "a1b2-7", "snapshot"),
        (8, "a1b2-8", "message"),
        (2, "c3d4-2", "snapshot"),
    ]
    assert seen_ids == [None, "a1b2-8", "c3d4-2"]
