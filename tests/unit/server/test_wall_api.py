"""The wall's moderation API, roles, announcements and the screens' stream."""

from __future__ import annotations

import json
from datetime import timedelta

import aiohttp

from eventops.wall.retention import author_ref
from tests.unit.server.conftest import SSE
from tests.unit.server.wallkit import WallServed, start_wall_server

API = "/api/v1/wall"


async def test_roles_on_every_wall_route(wserved: WallServed) -> None:
    s = wserved
    await s.add_post("replay:1")
    reads = [
        f"{API}/queue",
        f"{API}/posts/replay:1",
        f"{API}/decisions",
        f"{API}/lists",
        f"{API}/counters",
    ]
    for path in reads:
        assert (await s.get(path, "comms"))[0] == 200, path
        assert (await s.get(path, "technik"))[0] == 200, path
        assert (await s.get(path, "police"))[0] == 403, path
        assert (await s.get(path, None))[0] == 401, path
    for who in ("technik", "police"):
        st, _ = await s.post(f"{API}/posts/replay:1/decisions", who, {"action": "approve"})
        assert st == 403
        assert (await s.post(f"{API}/pause", who, {"on": True}))[0] == 403
        assert (await s.post(f"{API}/forget", who, {"author": "replay:anna"}))[0] == 403
    assert (await s.post(f"{API}/announcements", "technik", {"id": "storm"}))[0] == 403
    assert (await s.get(f"{API}/announcements", "police"))[0] == 200
    assert (await s.get(f"{API}/announcements", "technik"))[0] == 200
    # comms may not read the engine's monitoring either
    assert (await s.get("/api/v1/links", "comms"))[0] == 403
    assert (await s.store.get_post("replay:1")).state == "pending"  # type: ignore[union-attr]


async def test_queue_filters_and_decisions_are_audited(wserved: WallServed) -> None:
    s = wserved
    await s.add_post("replay:1", "Tolle Musik auf der Bühne", "replay:anna")
    await s.add_post("replay:2", "Wo gibt es Crêpes?", "replay:bert")
    await s.add_post("replay:3", "Schon da", "replay:anna", state="approved")
    st, rows = await s.get(f"{API}/queue", "comms")
    assert st == 200 and {r["id"] for r in rows} == {"replay:1", "replay:2"}
    assert rows[0]["last_decision"]["actor"] == "rule:mode"
    _, rows = await s.get(f"{API}/queue?state=all&author=replay:anna", "comms")
    assert {r["id"] for r in rows} == {"replay:1", "replay:3"}
    _, rows = await s.get(f"{API}/queue?q=CRÊPES", "comms")
    assert [r["id"] for r in rows] == ["replay:2"]
    _, rows = await s.get(f"{API}/queue?q=%25", "comms")
    assert rows == []  # a LIKE wildcard is searched literally
    assert (await s.get(f"{API}/queue?state=bogus", "comms"))[0] == 400

    st, res = await s.post(
        f"{API}/posts/replay:1/decisions", "comms", {"action": "approve", "reason": "ok"}
    )
    assert st == 201 and res["post"]["state"] == "approved"
    st, res2 = await s.post(f"{API}/posts/replay:1/decisions", "comms", {"action": "pin"})
    assert st == 201 and res2["post"]["pinned"] is True
    st, text = await s.post(f"{API}/posts/replay:2/decisions", "comms", {"action": "take_down"})
    assert st == 409 and "cannot take down a post that is pending" in text["error"]["message"]
    st, text = await s.post(f"{API}/posts/replay:404/decisions", "comms", {"action": "approve"})
    assert st == 404 and "no such post" in text["error"]["message"]
    st, text = await s.post(f"{API}/posts/replay:2/decisions", "comms", {"action": "explode"})
    assert st == 400
    st, _ = await s.post(f"{API}/decisions/{res2['decision']}/undo", "comms", {})
    assert st == 201
    assert (await s.store.get_post("replay:1")).pinned is False  # type: ignore[union-attr]
    async with s.http.post(s.url + f"{API}/pause", headers=s.auth("comms"), data=b"{nope") as r:
        assert r.status == 400 and "not JSON" in (await r.json())["error"]["message"]

    actions = [(e.actor, e.action, e.target) for e in await s.store.audit_entries()]
    assert ("presse", "wall.approve", "replay:1") in actions
    assert ("presse", "wall.pin", "replay:1") in actions
    assert ("presse", "wall.undo", "replay:1") in actions
    _, counts = await s.get(f"{API}/counters", "technik")
    assert counts["rules"]["mode"]["queue"] == 3
    assert counts["people"]["presse"] == {"approve": 1, "pin": 1, "undo": 1}


async def test_block_author_lists_and_unblock(wserved: WallServed) -> None:
    s = wserved
    await s.add_post("replay:1", author="replay:spam")
    await s.add_post("replay:2", author="replay:spam", state="approved")
    st, _ = await s.post(
        f"{API}/posts/replay:1/decisions", "comms", {"action": "block_author", "for_s": 3600}
    )
    assert st == 201
    _, lists = await s.get(f"{API}/lists", "comms")
    assert [b["author"] for b in lists["author_blocks"]] == ["replay:spam"]
    assert lists["blocked_words"] == ["spamcoin"]
    assert (await s.store.get_post("replay:2")).state == "hidden"  # type: ignore[union-attr]
    st, _ = await s.delete(f"{API}/blocks/replay:spam", "comms")
    assert st == 200
    st, text = await s.delete(f"{API}/blocks/replay:spam", "comms")
    assert st == 404 and "not blocked" in json.loads(text)["error"]["message"]
    assert (await s.delete(f"{API}/blocks/replay:spam", "technik"))[0] == 403
    # block by author key: without posts a plain block, with posts through the newest one
    st, res = await s.post(f"{API}/blocks", "comms", {"author": "replay:later", "reason": "spam"})
    assert st == 201 and res["decision"] is None
    st, res = await s.post(f"{API}/blocks", "comms", {"author": "replay:spam"})
    assert st == 201 and res["decision"] is not None and res["posts"] == 2
    assert (await s.post(f"{API}/blocks", "technik", {"author": "replay:x"}))[0] == 403
    assert (await s.post(f"{API}/blocks", "comms", {"author": ""}))[0] == 400
    _, lists = await s.get(f"{API}/lists", "technik")
    assert {b["author"] for b in lists["author_blocks"]} == {"replay:later", "replay:spam"}
    actions = [(e.action, e.target) for e in await s.store.audit_entries()]
    assert ("wall.block", "replay:later") in actions and ("wall.unblock", "replay:spam") in actions


async def test_screens_get_snapshot_then_changes_and_share_one_state(wserved: WallServed) -> None:
    s = wserved
    await s.add_post("replay:1", "erster Post", state="approved")
    await s.add_post("replay:2", "zweiter Post")
    async with (
        s.http.get(s.url + "/wall/demo/stream") as r1,
        s.http.get(s.url + "/wall/demo/stream") as r2,
    ):
        assert r1.status == 200 and r1.headers["Content-Type"] == "text/event-stream"
        screens = [SSE(r1), SSE(r2)]
        for sc in screens:
            ev = await sc.next()
            assert ev["event"] == "snapshot"
            snap = json.loads(ev["data"])
            assert [p["id"] for p in snap["posts"]] == ["replay:1"]
            assert snap["announcement"] is None and snap["paused"] is False
            assert set(snap["posts"][0]) == {
                "id",
                "source",
                "author",
                "author_name",
                "avatar",
                "text",
                "created_at",
                "pinned",
                "media",
            }
        await s.post(f"{API}/posts/replay:2/decisions", "comms", {"action": "approve"})
        await s.post(f"{API}/posts/replay:1/decisions", "comms", {"action": "take_down"})
        for sc in screens:
            got = await _until(sc, "post")
            assert json.loads(got["data"])["id"] == "replay:2"
            got = await _until(sc, "remove")
            assert json.loads(got["data"]) == {"id": "replay:1"}
        st, _ = await s.post(f"{API}/announcements", "police", {"id": "storm"})
        assert st == 201
        for sc in screens:
            got = json.loads((await _until(sc, "announcement"))["data"])
            assert got["title_de"] == "Unwetterwarnung" and "issued_by" not in got
    # a new screen (a reload) catches up: the taken-down post is not there, the overlay is
    async with s.http.get(s.url + "/wall/demo/stream") as r3:
        snap = json.loads((await SSE(r3).next())["data"])
        assert [p["id"] for p in snap["posts"]] == ["replay:2"]
        assert snap["announcement"]["id"] == "storm"
    assert (await s.get("/wall/other-event/stream", None))[0] == 404


async def _until(sc: SSE, kind: str) -> dict[str, str]:
    while True:
        ev = await sc.next()
        if ev.get("event") == kind:
            return ev


async def test_announcement_and_pause_survive_a_restart(wserved: WallServed) -> None:
    s = wserved
    st, text = await s.post(f"{API}/announcements", "comms", {"id": "nonexistent"})
    assert st == 404 and "not in the profile" in text["error"]["message"]
    st, text = await s.delete(f"{API}/announcements/active", "fire")
    assert st == 409 and "no announcement" in json.loads(text)["error"]["message"]
    assert (await s.post(f"{API}/announcements", "fire", {"id": "evacuate-square"}))[0] == 201
    assert (await s.post(f"{API}/pause", "comms", {"on": True, "note": "Umbau"}))[0] == 200
    await s.runner.cleanup()
    s.runner = await start_wall_server(s.engine, s.media_dir, port=s.port)
    _, ann = await s.get(f"{API}/announcements", "comms")
    assert ann["active"]["id"] == "evacuate-square" and ann["paused"]["by"] == "presse"
    assert ann["active"]["issued_by"] == "feuerwehr-el" and ann["paused"]["note"] == "Umbau"
    assert [t["id"] for t in ann["templates"]] == ["evacuate-square", "storm"]
    # another authority sees what is on the screens, not who put it there nor comms' names
    _, ann = await s.get(f"{API}/announcements", "police")
    assert ann["active"]["id"] == "evacuate-square" and ann["active"]["issued_by"] == "(hidden)"
    assert ann["paused"]["by"] == "(hidden)" and ann["paused"]["note"] == ""
    _, ann = await s.get(f"{API}/announcements", "fire")
    assert ann["active"]["issued_by"] == "feuerwehr-el"  # its own
    async with s.http.get(s.url + "/wall/demo/stream") as r:
        snap = json.loads((await SSE(r).next())["data"])
    assert snap["announcement"]["title_en"] == "Please clear the market square"
    assert snap["paused"] is True
    # police may not withdraw fire's announcement; fire may
    assert (await s.delete(f"{API}/announcements/active", "police"))[0] == 403
    assert (await s.get(f"{API}/announcements", "fire"))[1]["active"]["id"] == "evacuate-square"
    assert (await s.delete(f"{API}/announcements/active", "fire"))[0] == 200
    assert (await s.post(f"{API}/pause", "comms", {"on": False}))[0] == 200
    actions = [(e.actor, e.action) for e in await s.store.audit_entries()]
    assert ("feuerwehr-el", "wall.announcement.issue") in actions
    assert ("feuerwehr-el", "wall.announcement.withdraw") in actions
    assert ("polizei-lage", "wall.announcement.withdraw") not in actions
    assert ("presse", "wall.pause") in actions and ("presse", "wall.resume") in actions


async def test_forget_erases_an_author_and_records_it(wserved: WallServed) -> None:
    s = wserved
    await s.add_post("replay:1", author="replay:gdpr", state="approved")
    await s.add_post("replay:2", author="replay:gdpr")
    await s.add_post("replay:3", author="replay:other", state="approved")
    st, res = await s.post(
        f"{API}/forget", "comms", {"author": "replay:gdpr", "reason": "ticket 7"}
    )
    assert st == 200 and res == {"posts": 2, "media": 0}
    assert await s.store.posts_by_author("replay:gdpr") == []
    assert [d.post_id for d in await s.store.list_decisions()] == ["replay:3"]
    entry = (await s.store.audit_entries())[-1]
    assert (entry.action, entry.target) == ("wall.forget", author_ref("replay:gdpr"))
    assert "gdpr" not in json.dumps(entry.after)
    assert list(s.wall.hub.posts) == ["replay:3"]


async def test_wall_page_headers_and_media_route(wserved: WallServed) -> None:
    s = wserved
    st, html = await s.get("/wall/demo", None)
    assert st == 200 and "Altstadtfest Demo" in html
    async with s.http.get(s.url + "/wall/demo") as r:
        csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "require-trusted-types-for 'script'" in csp and "unsafe" not in csp
    assert (await s.get("/wall/demo/media/" + "0" * 64, None))[0] == 404
    assert (await s.get("/wall/demo/media/..%2F..%2Fetc%2Fpasswd", None))[0] == 404
    assert (await s.get("/wall/nope", None))[0] == 404


async def test_slow_screen_is_cut_off_and_others_go_on(wserved: WallServed) -> None:
    s = wserved
    with s.wall.hub.subscribe(maxsize=2) as slow:
        for i in range(5):
            s.wall.hub.broadcast("hb", {"i": i})
        assert slow.overflowed
    assert slow not in s.wall.hub.screens


async def test_periodic_purge_removes_old_posts_from_screens(wserved: WallServed) -> None:
    s = wserved
    old = s.clock.now() - timedelta(days=20)
    await s.add_post("replay:old", state="approved", at=old)
    await s.add_post("replay:new", state="approved")
    await s.wall.hub.refresh()
    assert set(s.wall.hub.posts) == {"replay:old", "replay:new"}
    from eventops.wall.retention import purge

    res = await purge(s.store, s.wall.media, s.clock, 14)
    s.wall.hub.forget_posts(res["ids"])
    assert res["posts"] == 1 and list(s.wall.hub.posts) == ["replay:new"]
    assert (await s.store.audit_entries())[-1].action == "wall.purge"
    _ = aiohttp


async def test_an_old_pinned_post_stays_on_screen(wserved: WallServed) -> None:
    from eventops.wall import display

    s = wserved
    await s.add_post(
        "replay:old", "angepinnt", state="approved", at=s.clock.now() - timedelta(hours=5)
    )
    await s.post(f"{API}/posts/replay:old/decisions", "comms", {"action": "pin"})
    for i in range(display.MAX_SHOWN + 3):
        await s.add_post(f"replay:n{i}", f"neu {i}", state="approved")
    assert "replay:old" in s.wall.hub.posts
    assert s.wall.hub.snapshot()["posts"][0]["id"] == "replay:old"
    assert len(s.wall.hub.posts) == display.MAX_SHOWN + 1


async def test_a_decision_on_a_stale_view_is_refused_with_409(wserved: WallServed) -> None:
    s = wserved
    await s.add_post("replay:7", "Hallo", "replay:anna")
    _, rows = await s.get(f"{API}/queue", "comms")
    (seen,) = [r for r in rows if r["id"] == "replay:7"]
    seen_id = seen["last_decision"]["id"]
    st, first = await s.post(
        f"{API}/posts/replay:7/decisions", "comms", {"action": "approve", "expect": seen_id}
    )
    assert st == 201, first
    # a second moderator still looking at the old view may not override it
    st, err = await s.post(
        f"{API}/posts/replay:7/decisions", "comms", {"action": "reject", "expect": seen_id}
    )
    assert st == 409 and err["error"]["code"] == "conflict", err
    assert (await s.store.get_post("replay:7")).state == "approved"  # type: ignore[union-attr]
    st, err = await s.post(f"{API}/posts/nope:1/decisions", "comms", {"action": "approve"})
    assert st == 404 and err["error"]["code"] == "not_found", err
    st, _ = await s.post(f"{API}/blocks", "comms", {"author": "x:nobody-yet", "reason": "spam"})
    assert st in (200, 201)
    rows = [r for r in await s.store.audit_entries() if r.action == "wall.block"]
    assert [r.target for r in rows] == ["x:nobody-yet"]


async def test_refusals_and_rule_reasons_carry_their_message_for_other_languages(
    wserved: WallServed,
) -> None:
    """Issue 16 (one language): a refusal's body and a rule's reason carry the message id
    and parameters next to the unchanged English, so the TUI shows them in German."""
    from eventops.i18n import render
    from eventops.wall.normalize import NormalPost
    from eventops.wall.service import WallPipeline

    s = wserved
    await s.add_post("replay:1", "Schönes Fest", "replay:anna")
    st, err = await s.post(f"{API}/posts/replay:1/decisions", "comms", {"action": "take_down"})
    assert st == 409, err
    e = err["error"]
    assert e["message"] == "post replay:1: cannot take down a post that is pending"
    assert e["msg_id"] == "wall.err.cannot"
    assert render(e["msg_id"], e["params"], "en") == e["message"]
    assert render(e["msg_id"], e["params"], "de") == (
        "Beitrag replay:1: Ein Beitrag, der wartend ist, kann nicht abgenommen werden"
    )
    st, ok = await s.post(f"{API}/posts/replay:1/decisions", "comms", {"action": "approve"})
    assert st == 201
    st, err = await s.post(f"{API}/posts/replay:1/decisions", "comms", {"action": "reject"})
    e = err["error"]
    assert st == 409 and render(e["msg_id"], e["params"], "de") == (
        "Beitrag replay:1: Ein Beitrag, der freigegeben ist, kann nicht abgelehnt werden"
    )
    st, err = await s.post(f"{API}/decisions/{ok['decision']}/undo", "comms", {})
    assert st == 201
    st, err = await s.post(f"{API}/decisions/{ok['decision']}/undo", "comms", {})
    e = err["error"]
    assert st == 409 and e["message"].startswith(f"decision {ok['decision']}: already undone")
    assert render(e["msg_id"], e["params"], "de").startswith(
        f"Entscheidung {ok['decision']}: schon rückgängig gemacht"
    )
    st, err = await s.post(f"{API}/posts/replay:404/decisions", "comms", {"action": "approve"})
    e = err["error"]
    assert st == 404 and e["message"] == "post replay:404: no such post"
    assert (
        render(e["msg_id"], e["params"], "de")
        == "Beitrag replay:404: keinen solchen Beitrag gefunden"
    )
    st, text = await s.delete(f"{API}/announcements/active", "comms")  # none on the screens
    e = json.loads(text)["error"]
    assert st == 409 and e["message"] == "no announcement is on the screens"
    assert render(e["msg_id"], e["params"], "de") == "auf den Bildschirmen steht keine Durchsage"

    # the pipeline's rule reasons: stored and served with their message
    wall = s.engine.profile.wall.model_copy(update={"blocked_words": ["spamcoin"]})
    pipeline = WallPipeline(wall, s.store, s.clock)
    post = NormalPost(
        id="replay:9",
        source="replay",
        native_id="9",
        author="replay:bert",
        text="Kauft spamcoin jetzt",
        created_at=s.clock.now(),
    )
    verdict = await pipeline.handle(post)
    assert verdict is not None and verdict.reason == "blocked word 'spamcoin'"
    await s.wall.hub.refresh()
    st, rows = await s.get(f"{API}/queue?state=rejected", "comms")
    (row,) = [r for r in rows if r["id"] == "replay:9"]
    d = row["last_decision"]
    assert d["reason"] == "blocked word 'spamcoin'" and d["reason_id"] == "wall.rule.word"
    assert render(d["reason_id"], d["reason_params"], "de") == "gesperrtes Wort 'spamcoin'"
