"""The social wall on the engine's server: display screens and the moderation API.

Mounted with :func:`wall_extension` on the app from
:func:`eventops.server.app.create_app`, so it shares its token auth and roles.

Screens (public, read-only, nothing but what is approved for them):

- ``GET /wall/<event>``               the full-screen display page
- ``GET /wall/<event>/stream``        Server-Sent Events: ``snapshot`` first, then
                                      ``post``, ``remove``, ``announcement``, ``pause``, ``hb``
- ``GET /wall/<event>/media/<key>``   a cached avatar or thumbnail

Moderation API (``/api/v1/wall``; comms decide, technicians read, authorities
only see and issue/withdraw announcements):

- ``GET  queue?state=&source=&author=&q=&limit=``     posts with their last decision
- ``GET  posts/{id}``                                   one post and every decision on it
- ``POST posts/{id}/decisions`` ``{action, reason, for_s}``  approve, reject, pin, unpin,
                                                        take_down, block_author
- ``POST decisions/{id}/undo`` ``{reason}``
- ``GET  decisions?post=``
- ``GET  lists``; ``POST blocks`` ``{author, for_s, reason}``; ``DELETE blocks/{author}``
                                                        block/allow lists; block, lift a block
- ``GET  counters``                                     what each rule and person decided
- ``GET  announcements``; ``POST announcements`` ``{id}``; ``DELETE announcements/active``
- ``POST pause`` ``{on, note}``                         the event slide on every screen
- ``POST forget`` ``{author, reason}``                  erase one author (GDPR)

Every mutation is in the audit log.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

from eventops.api import models as m
from eventops.api import paging
from eventops.engine.wall import STATES, WallService
from eventops.errors import NotFound, Unavailable
from eventops.i18n import Msg, refusal
from eventops.profile.models import Role, User
from eventops.server.auth import ENGINE, require, respond
from eventops.server.common import STREAMS, Extension, body_of, path_id
from eventops.server.stream import open_stream
from eventops.server.wall_assets import MEDIA_CSP, WALL_CSP, WALL_CSS, WALL_JS, wall_page
from eventops.wall.display import sse

C, T, A = Role.comms, Role.technician, Role.authority

WallServer = WallService
"""The wall the server shows is the engine's wall service."""

WALL = web.AppKey("eventops_wall", WallService)
HEARTBEAT = web.AppKey("eventops_wall_heartbeat_s", float)
WALL_MOUNTED = web.AppKey("eventops_wall_mounted", bool)

__all__ = ["STATES", "WALL", "WallServer", "mount_wall", "wall_extension"]

PAGE_HEADERS = {
    "Content-Security-Policy": WALL_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def _wall(request: web.Request) -> WallService:
    ws = request.app[ENGINE].wall
    if ws is None:
        raise refusal(Unavailable, Msg("wall.err.no_wall"))
    ws.follow_profile()
    return ws


def _event(request: web.Request) -> WallService:
    ws = _wall(request)
    if request.match_info["event"] != ws.hub.event_id:
        raise refusal(NotFound, Msg("wall.err.no_such_wall"))
    return ws


# -- screens ------------------------------------------------------------------------------


async def wall_page_handler(request: web.Request) -> web.Response:
    ws = _event(request)
    p = ws.hub.profile
    html = wall_page(p.event.id, p.event.name, p.event.venue, p.wall.hashtags)
    return web.Response(text=html, content_type="text/html", headers=PAGE_HEADERS)


async def wall_stream(request: web.Request) -> web.StreamResponse:
    ws = _event(request)
    hub = ws.hub
    resp, task = await open_stream(request)
    if task is None:
        return resp
    hb = request.app[HEARTBEAT]
    try:
        with hub.subscribe() as screen:
            snap = {**hub.snapshot(), "hb_s": hb}
            await resp.write(b"retry: 1000\n" + sse("snapshot", snap))
            while True:
                try:
                    msg = await asyncio.wait_for(screen.queue.get(), timeout=hb)
                except TimeoutError:
                    await resp.write(sse("hb", {"now": hub.clock.now().isoformat()}))
                    continue
                if screen.overflowed:
                    break  # too slow: the screen reconnects and gets a snapshot
                parts = [msg]
                while not screen.queue.empty():
                    parts.append(screen.queue.get_nowait())
                await resp.write(b"".join(parts))
    except ConnectionResetError:
        pass
    finally:
        request.app[STREAMS].discard(task)
    return resp


async def wall_media(request: web.Request) -> web.Response:
    ws = _event(request)
    if ws.media is None:
        raise refusal(NotFound, Msg("wall.err.no_media"))
    got = await asyncio.to_thread(ws.media.read, request.match_info["key"])
    if got is None:
        raise refusal(NotFound, Msg("wall.err.no_picture"))
    data, ctype = got
    return web.Response(
        body=data,
        content_type=ctype,
        headers={
            "Content-Security-Policy": MEDIA_CSP,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=3600",
            "Cross-Origin-Resource-Policy": "same-origin",
        },
    )


def _static(body: str, ctype: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(
            text=body,
            content_type=ctype,
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        )

    return handler


async def _no_icon(request: web.Request) -> web.Response:
    return web.Response(status=204, headers={"Cache-Control": "max-age=86400"})


# -- moderation API: request -> one engine call -> response ------------------------------


def _limit(raw: str | None) -> int:
    """1 to 1000 posts (100 by default); anything else is a 400, as for the paged lists."""
    return paging.limit_of(raw, default=100)


async def queue(request: web.Request) -> web.Response:
    require(request, C, T)
    q = request.query
    out = await _wall(request).queue(
        q.get("state", "pending"),
        source=q.get("source") or None,
        author=q.get("author") or None,
        contains=q.get("q") or None,
        limit=_limit(q.get("limit")),
    )
    return respond(request, m.QueuedPostView, many=True, value=out)


async def get_post(request: web.Request) -> web.Response:
    require(request, C, T)
    return respond(
        request, m.PostDetailView, value=await _wall(request).post(request.match_info["id"])
    )


async def decide(request: web.Request) -> web.Response:
    user = require(request, C)
    body = await body_of(request, m.DecisionBody)
    out = await _wall(request).decide(
        request.match_info["id"], body.action, user.name, body.reason, body.for_s, body.expect
    )
    return respond(request, m.DecisionResult, value=out, status=201)


async def undo(request: web.Request) -> web.Response:
    user = require(request, C)
    ws = _wall(request)
    body = await body_of(request, m.UndoBody)
    decision = path_id(request, "decision")
    return respond(
        request, m.UndoResult, value=await ws.undo(decision, user.name, body.reason), status=201
    )


async def decisions(request: web.Request) -> web.Response:
    require(request, C, T)
    q = request.query
    limit = paging.limit_of(q.get("limit"))
    after = paging.cursor_of(q.get("cursor"), "decisions", (int,))
    rows = await _wall(request).decisions(
        q.get("post") or None,
        after_id=None if after is None else int(after[0]),
        limit=limit + 1,
    )
    items, nxt = paging.page(
        rows, lambda d: (int(d["id"] or 0),), endpoint="decisions", limit=limit, after=after
    )
    resp = respond(request, m.DecisionView, many=True, value=items)
    if nxt is not None:
        resp.headers[paging.NEXT_CURSOR] = nxt
    return resp


async def lists(request: web.Request) -> web.Response:
    require(request, C, T)
    return respond(request, m.WallListsView, value=await _wall(request).lists())


async def block(request: web.Request) -> web.Response:
    """Block an author by key; with posts, through their newest (hides them all, undoable)."""
    user = require(request, C)
    body = await body_of(request, m.BlockBody)
    out = await _wall(request).block(body.author, user.name, body.reason, body.for_s)
    return respond(request, m.BlockResult, value=out, status=201)


async def unblock(request: web.Request) -> web.Response:
    user = require(request, C)
    out = await _wall(request).unblock(
        request.match_info["author"], user.name, request.query.get("reason", "")
    )
    return respond(request, m.UnblockResult, value=out)


async def counters(request: web.Request) -> web.Response:
    require(request, C, T)
    return respond(request, m.CountersView, value=await _wall(request).counters())


HIDDEN = "(hidden)"


def _for_viewer(user: User, active: dict[str, Any] | None) -> dict[str, Any] | None:
    """An authority sees who issued an announcement only when it was itself."""
    if active is None or user.role is not A or active.get("issued_by") == user.name:
        return active
    return {**active, "issued_by": HIDDEN}


async def announcements(request: web.Request) -> web.Response:
    user = require(request, C, T, A)
    out = _wall(request).announcements()
    if user.role is A:  # never the names or notes of comms staff
        out = {**out, "active": _for_viewer(user, out["active"])}
        if out["paused"] is not None:
            out["paused"] = {**out["paused"], "by": HIDDEN, "note": ""}
    return respond(request, m.AnnouncementsView, value=out)


async def issue(request: web.Request) -> web.Response:
    user = require(request, C, A)
    body = await body_of(request, m.IssueBody)
    return respond(
        request,
        m.ActiveAnnouncementView,
        value=await _wall(request).issue(body.id, user.name, _own_issuers(request, user)),
        status=201,
    )


def _own_issuers(request: web.Request, user: User) -> frozenset[str] | None:
    """Whose announcements ``user`` may withdraw: an authority only its own (issued by a
    user of the same authority); comms any (None)."""
    if user.role is not A:
        return None
    users = request.app[ENGINE].profile.users
    return frozenset(u.name for u in users if u.role is A and u.authority == user.authority) | {
        user.name
    }


async def withdraw(request: web.Request) -> web.Response:
    user = require(request, C, A)
    issuers = _own_issuers(request, user)
    withdrawn = _for_viewer(user, await _wall(request).withdraw(user.name, issuers))
    return respond(request, m.WithdrawResult, value={"withdrawn": withdrawn})


async def pause(request: web.Request) -> web.Response:
    user = require(request, C)
    body = await body_of(request, m.PauseBody)
    return respond(
        request, m.PauseResult, value=await _wall(request).set_paused(body.on, user.name, body.note)
    )


async def forget_author(request: web.Request) -> web.Response:
    user = require(request, C)
    body = await body_of(request, m.ForgetBody)
    return respond(
        request,
        m.ForgetResult,
        value=await _wall(request).forget(body.author, user.name, body.reason),
    )


# -- mounting ---------------------------------------------------------------------------


def mount_wall(app: web.Application, heartbeat_s: float = 5.0) -> None:
    """The wall's screens and moderation routes (the engine carries the service)."""
    if WALL_MOUNTED in app:
        return
    app[WALL_MOUNTED] = True
    app[HEARTBEAT] = heartbeat_s
    r = app.router
    r.add_get("/static/wall.js", _static(WALL_JS, "text/javascript"))
    r.add_get("/static/wall.css", _static(WALL_CSS, "text/css"))
    r.add_get("/static/wall-icon", _no_icon)
    r.add_get("/wall/{event}", wall_page_handler)
    r.add_get("/wall/{event}/stream", wall_stream)
    r.add_get("/wall/{event}/media/{key}", wall_media)
    api = "/api/v1/wall"
    r.add_get(f"{api}/queue", queue)
    r.add_get(f"{api}/posts/{{id}}", get_post)
    r.add_post(f"{api}/posts/{{id}}/decisions", decide)
    r.add_post(f"{api}/decisions/{{id}}/undo", undo)
    r.add_get(f"{api}/decisions", decisions)
    r.add_get(f"{api}/lists", lists)
    r.add_post(f"{api}/blocks", block)
    r.add_delete(f"{api}/blocks/{{author}}", unblock)
    r.add_get(f"{api}/counters", counters)
    r.add_get(f"{api}/announcements", announcements)
    r.add_post(f"{api}/announcements", issue)
    r.add_delete(f"{api}/announcements/active", withdraw)
    r.add_post(f"{api}/pause", pause)
    r.add_post(f"{api}/forget", forget_author)


def wall_extension(
    *,
    media_dir: Path | None,
    run_sources: bool = False,
    profile_dir: Path | None = None,
    heartbeat_s: float = 5.0,
    hub_poll_s: float = 1.0,
    retention_every_s: float = 3600.0,
) -> Extension:
    """Give an engine built without :func:`~eventops.engine.build_engine` its wall
    (``run_sources``: also read the profile's sources) and mount the routes."""

    def mount(app: web.Application) -> None:
        engine = app[ENGINE]
        owned = engine.wall is None
        if owned:
            engine.wall = WallService(
                engine,
                media_dir=media_dir,
                run_sources=run_sources,
                profile_dir=profile_dir,
                hub_poll_s=hub_poll_s,
                retention_every_s=retention_every_s,
            )
        assert engine.wall is not None
        ws = engine.wall
        app[WALL] = ws
        mount_wall(app, heartbeat_s)

        async def ctx(app: web.Application) -> AsyncIterator[None]:
            started_here = not ws.started
            if started_here:  # the engine was started before the app: start the wall now
                await ws.start()
            try:
                yield
            finally:
                if started_here or owned:
                    await ws.close()

        app.cleanup_ctx.append(ctx)

    return mount
