"""The stream client against a small SSE server on loopback, and the live state."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC
from typing import Any

import pytest
from aiohttp import web

from eventops.errors import ApiError
from eventops.tui.client import Api, LiveStream, StreamEvent, TokenRefused
from eventops.tui.i18n import Tr
from eventops.tui.state import LiveState, sparkline


def dev(id: str, **kw: Any) -> dict[str, Any]:
    return {"id": id, "kind": "mast", "reachable": True, "health": "ok", "clients": 1, **kw}


class SSEServer:
    def __init__(self) -> None:
        self.seen_last_ids: list[str | None] = []
        self.script: list[list[bytes]] = []
        self.healthy = True

    async def stream(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != "Bearer tok":
            raise web.HTTPUnauthorized(text="unauthorized\n")
        self.seen_last_ids.append(request.headers.get("Last-Event-ID"))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        chunks = self.script.pop(0) if self.script else []
        for c in chunks:
            await resp.write(c)
        if not self.script:
            await asyncio.sleep(3600)  # hold the last connection open
        return resp

    async def healthz(self, request: web.Request) -> web.Response:
        if not self.healthy:
            raise web.HTTPServiceUnavailable(text="starting\n")
        return web.Response(text="ok\n")

    async def whoami(self, request: web.Request) -> web.Response:
        return web.json_response({"name": "n", "role": "nonsense"})


def ev(i: int, kind: str, data: Any) -> bytes:
    return f"id: {i}\nevent: {kind}\ndata: {json.dumps(data)}\n\n".encode()


@pytest.fixture
async def server() -> AsyncIterator[tuple[SSEServer, str]]:
    s = SSEServer()
    app = web.Application()
    app.router.add_get("/api/v1/stream", s.stream)
    app.router.add_get("/api/v1/whoami", s.whoami)
    app.router.add_get("/healthz", s.healthz)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield s, f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_stream_reconnects_with_last_event_id(server: tuple[SSEServer, str]) -> None:
    s, url = server
    snap = {"devices": [dev("m1"), {"id": "broken"}], "links": [], "alerts": []}
    s.script = [
        [
            ev(5, "snapshot", snap),
            b"id: 6\nevent: device\ndata: {not json\n\n",  # malformed: skipped
            b": keep-alive\n\n",
            ev(7, "device", {"ts": "2026-06-18T16:00:07+00:00", "data": dev("m1", clients=4)}),
        ],
        [ev(8, "device", {"ts": "2026-06-18T16:00:08+00:00", "data": dev("m1", clients=9)})],
    ]
    api = Api(url, "tok")
    state = LiveState()
    states: list[tuple[bool, str]] = []
    got: list[StreamEvent] = []

    def on_event(e: StreamEvent) -> None:
        got.append(e)
        state.apply(e)

    stream = LiveStream(api, on_event, lambda c, e: states.append((c, e)), backoff_s=(0.01,))
    task = asyncio.create_task(stream.run())
    try:
        for _ in range(500):
            if len(got) >= 3:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await api.close()
    assert [e.id for e in got] == [5, 7, 8]
    assert s.seen_last_ids == [None, "7"]
    assert states[0] == (True, "") and states[1][0] is False and states[2] == (True, "")
    assert state.devices["m1"].clients == 9
    assert state.skipped == 1  # the broken device in the snapshot
    assert list(state.clients["m1"]) == [1.0, 4.0, 9.0]
    assert state.as_of is not None and state.as_of.second == 8


async def test_refused_token_ends_the_stream_with_one_line(
    server: tuple[SSEServer, str],
) -> None:
    s, url = server
    api = Api(url, "wrong")
    states: list[tuple[bool, str]] = []
    stream = LiveStream(api, lambda e: None, lambda c, e: states.append((c, e)), backoff_s=(0.01,))
    with pytest.raises(TokenRefused) as caught:
        await stream.run()  # ends by itself: no retry loop
    line = f"the engine at {url} refused the token (401): check --token"
    assert caught.value.one_line().startswith(line)
    assert len(states) == 1 and states[0][0] is False and states[0][1].startswith(line)
    assert s.seen_last_ids == []  # never got in; asked once, not again
    with pytest.raises(ApiError, match="unexpected answer"):
        await api.whoami()  # role "nonsense" does not validate
    await api.close()


async def test_unreachable_engine_is_one_line() -> None:
    api = Api("http://127.0.0.1:9", "tok", timeout_s=2)
    with pytest.raises(ApiError) as caught:
        await api.devices()
    assert caught.value.one_line() == (
        "engine unreachable at http://127.0.0.1:9: connection refused"
    )
    assert await api.why_down() == "connection refused"
    await api.close()


async def follow_until_dropped(api: Api) -> tuple[LiveStream, list[tuple[bool, str]]]:
    states: list[tuple[bool, str]] = []
    stream = LiveStream(api, lambda e: None, lambda c, e: states.append((c, e)), backoff_s=(5.0,))
    task = asyncio.create_task(stream.run())
    try:
        for _ in range(500):
            if any(not c for c, _ in states):
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await api.close()
    return stream, states


async def test_dropped_stream_asks_whether_the_engine_is_alive(
    server: tuple[SSEServer, str],
) -> None:
    s, url = server
    # the first connection ends after one event (the engine closed it); /healthz answers
    s.script = [[ev(1, "snapshot", {"devices": [], "links": [], "alerts": []})], []]
    stream, states = await follow_until_dropped(Api(url, "tok"))
    assert states[0] == (True, "") and states[1] == (False, "the engine closed the stream")
    assert stream.alive is True and stream.down_reason == ""


async def test_dropped_stream_of_a_gone_engine_says_unreachable(
    server: tuple[SSEServer, str],
) -> None:
    s, url = server
    s.healthy = False  # /healthz now refuses: the engine is as good as gone
    s.script = [[ev(1, "snapshot", {"devices": [], "links": [], "alerts": []})], []]
    stream, states = await follow_until_dropped(Api(url, "tok"))
    assert stream.alive is False and stream.down_reason == "it answers 503"
    stream, states = await follow_until_dropped(Api("http://127.0.0.1:9", "tok"))
    assert states[0][0] is False and "engine unreachable at http://127.0.0.1:9" in states[0][1]
    assert stream.alive is False and stream.down_reason == "connection refused"


def test_dirty_tracking_coalesces() -> None:
    st = LiveState()
    snap = {"devices": [dev("a"), dev("b")], "links": [], "alerts": []}
    st.apply(StreamEvent(id=1, type="snapshot", data=snap))
    d = st.take_dirty()
    assert d.structure and d.devices == {"a", "b"}
    for i, c in enumerate((2, 3, 4)):
        st.apply(StreamEvent(id=2 + i, type="device", data={"data": dev("a", clients=c)}))
    st.apply(StreamEvent(id=9, type="device", data={"data": dev("b")}))  # unchanged
    d = st.take_dirty()
    assert d.devices == {"a"} and not d.structure
    assert not st.take_dirty()
    alert = {
        "id": 3,
        "key": "k",
        "severity": "critical",
        "subject": "a",
        "summary": "s",
        "raised_at": "2026-06-18T16:00:00+00:00",
    }
    st.apply(StreamEvent(id=10, type="alert.raised", data={"data": alert}))
    assert st.alert_counts()["critical"] == 1 and st.take_dirty().alerts
    st.apply(StreamEvent(id=11, type="alert.cleared", data={"data": {**alert, "state": "cleared"}}))
    assert not st.alerts
    st.apply(StreamEvent(id=12, type="maintenance", data={"subject": "a", "data": {"on": True}}))
    assert st.devices["a"].maintenance


def test_sparkline() -> None:
    assert sparkline([]) == ""
    assert sparkline([1, 1, 1]) == "▄▄▄"
    assert sparkline([0, 7]) == "▁█"
    assert len(sparkline(list(range(100)), 12)) == 12


def test_wall_payloads_and_state() -> None:
    from eventops.api.models import AnnouncementsView
    from eventops.tui.client import Announcements, WallPost
    from eventops.tui.screens.wall import media_note, rule_note

    storm = {"id": "storm", "title_de": "Unwetter", "title_en": "Storm"}
    storm |= {"text_de": "Bitte Schutz suchen", "text_en": "Please take shelter"}
    ann = Announcements.of(
        AnnouncementsView.model_validate(
            {
                "templates": [storm],
                "active": None,
                "paused": {"by": "presse", "at": "2026-06-18T16:00:00+00:00", "note": ""},
            }
        )
    )
    assert ann.paused is True and ann.templates[0].title("de") == "Unwetter"
    unpaused = AnnouncementsView.model_validate({"templates": [], "paused": None})
    assert Announcements.of(unpaused).paused is False
    post = WallPost.model_validate(
        {
            "id": "x:1",
            "source": "x",
            "author": "x:anna",
            "text": "",
            "created_at": "2026-06-18T16:00:00+00:00",
            "data": {"media": [{"kind": "photo"}, {"kind": "photo"}, {"kind": "video"}, "junk"]},
            "last_decision": {
                "id": 4,
                "post_id": "x:1",
                "ts": "2026-06-18T16:00:01+00:00",
                "actor": "rule:blocked_words",
                "action": "reject",
                "reason": "contains spamcoin",
            },
        }
    )
    assert media_note(post) == "2× photo, 1× video"
    assert media_note(post, Tr("en")) == "2× photo, 1× video"
    assert media_note(post, Tr("de")) == "2× Foto, 1× Video"
    assert rule_note(post, Tr("en"), UTC) == "blocked_words: contains spamcoin"
    # a rule's reason with its message id: German from the catalogue, English as the engine wrote
    assert post.last_decision is not None
    ruled = post.model_copy(
        update={
            "last_decision": post.last_decision.model_copy(
                update={
                    "actor": "rule:blocked_word",
                    "reason": "blocked word 'spamcoin'",
                    "reason_id": "wall.rule.word",
                    "reason_params": {"word": "'spamcoin'"},
                }
            )
        }
    )
    assert rule_note(ruled, Tr("en"), UTC) == "blocked_word: blocked word 'spamcoin'"
    assert rule_note(ruled, Tr("de"), UTC) == "Wortsperre: gesperrtes Wort 'spamcoin'"
    st = LiveState()
    st.set_wall_posts([post])
    st.set_wall_pending(1)
    assert st.take_dirty().wall
    st.set_wall_posts([post])
    st.set_wall_pending(1)
    st.set_announcements(None, (), False)
    assert not st.take_dirty()  # nothing changed: nothing to redraw
    st.set_announcements(ann.templates[0], ann.templates, True)
    assert st.take_dirty().wall and st.wall_paused


async def test_wall_api_errors_are_one_line() -> None:
    async def decide(request: web.Request) -> web.Response:
        return web.Response(status=409, text="post x:1: cannot approve a taken_down post\n")

    app = web.Application()
    app.router.add_post("/api/v1/wall/posts/{id}/decisions", decide)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    api = Api(f"http://127.0.0.1:{runner.addresses[0][1]}", "tok")
    try:
        with pytest.raises(ApiError, match="409 post x:1: cannot approve"):
            await api.wall_decide("x:1", "approve")
    finally:
        await api.close()
        await runner.cleanup()
