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
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from eventops.errors import EventOpsError, WallError
from eventops.profile.models import Role
from eventops.server.app import STREAMS, Extension, body_of
from eventops.server.auth import ENGINE, json_response, require
from eventops.server.wall_assets import MEDIA_CSP, WALL_CSP, WALL_CSS, WALL_JS, wall_page
from eventops.store.models import AuthorBlockRow
from eventops.wall.display import WallHub, sse
from eventops.wall.manual import MANUAL_ACTIONS, ManualModeration
from eventops.wall.media import MediaCache, allowed_hosts
from eventops.wall.retention import forget, purge_periodically
from eventops.wall.service import WallPipeline, build_sources

log = logging.getLogger(__name__)

C, T, A = Role.comms, Role.technician, Role.authority
STATES = ("pending", "approved", "rejected", "hidden", "taken_down")


@dataclass
class WallServer:
    hub: WallHub
    media: MediaCache | None
    pipeline: WallPipeline | None
    heartbeat_s: float
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def desk(self) -> ManualModeration:
        chain = self.pipeline.chain if self.pipeline is not None else None
        return ManualModeration(self.hub.store, self.hub.clock, chain)


WALL = web.AppKey("eventops_wall", WallServer)

PAGE_HEADERS = {
    "Content-Security-Policy": WALL_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


class DecisionBody(BaseModel):
    action: str = Field(min_length=1, max_length=20)
    reason: str = Field(default="", max_length=2000)
    for_s: float | None = Field(default=None, gt=0, le=365 * 86400)


class BlockBody(BaseModel):
    author: str = Field(min_length=1, max_length=300)
    reason: str = Field(default="", max_length=2000)
    for_s: float | None = Field(default=None, gt=0, le=365 * 86400)


class UndoBody(BaseModel):
    reason: str = Field(default="", max_length=2000)


class IssueBody(BaseModel):
    id: str = Field(min_length=1, max_length=63)


class PauseBody(BaseModel):
    on: bool
    note: str = Field(default="", max_length=2000)


class ForgetBody(BaseModel):
    author: str = Field(min_length=1, max_length=300)
    reason: str = Field(default="", max_length=2000)


def _wall(request: web.Request) -> WallServer:
    ws = request.app[WALL]
    ws.hub.profile = request.app[ENGINE].profile  # follow profile reloads
    return ws


def _conflict(exc: EventOpsError) -> web.HTTPException:
    msg = exc.one_line()
    if "no such" in msg:
        return web.HTTPNotFound(text=msg + "\n")
    return web.HTTPConflict(text=msg + "\n")


def _event(request: web.Request) -> WallServer:
    ws = _wall(request)
    if request.match_info["event"] != ws.hub.event_id:
        raise web.HTTPNotFound(text="no such wall\n")
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
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    task = asyncio.current_task()
    assert task is not None
    request.app[STREAMS].add(task)
    hb = ws.heartbeat_s
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
        raise web.HTTPNotFound(text="not found\n")
    got = await asyncio.to_thread(ws.media.read, request.match_info["key"])
    if got is None:
        raise web.HTTPNotFound(text="not found\n")
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


# -- moderation API ----------------------------------------------------------------------


async def queue(request: web.Request) -> web.Response:
    require(request, C, T)
    ws = _wall(request)
    q = request.query
    state = q.get("state", "pending")
    if state == "all":
        states: tuple[str, ...] = ()
    elif state in STATES:
        states = (state,)
    else:
        raise web.HTTPBadRequest(text=f"state: one of {', '.join(STATES)} or all\n")
    try:
        limit = min(max(int(q.get("limit", "100")), 1), 1000)
    except ValueError:
        raise web.HTTPBadRequest(text="limit: not a number\n") from None
    store = ws.hub.store
    posts = await store.find_posts(
        states,
        source=q.get("source") or None,
        author=q.get("author") or None,
        contains=q.get("q") or None,
        limit=limit,
    )
    last = await store.last_decisions([p.id for p in posts])
    out = []
    for p in posts:
        row = p.model_dump(mode="json")
        d = last.get(p.id)
        row["last_decision"] = d.model_dump(mode="json") if d else None
        out.append(row)
    return json_response(request, out)


async def get_post(request: web.Request) -> web.Response:
    require(request, C, T)
    store = _wall(request).hub.store
    post = await store.get_post(request.match_info["id"])
    if post is None:
        raise web.HTTPNotFound(text="not found\n")
    ds = await store.list_decisions(post.id)
    return json_response(
        request,
        {**post.model_dump(mode="json"), "decisions": [d.model_dump(mode="json") for d in ds]},
    )


async def decide(request: web.Request) -> web.Response:
    user = require(request, C)
    ws = _wall(request)
    body = await body_of(request, DecisionBody)
    if body.action not in MANUAL_ACTIONS:
        raise web.HTTPBadRequest(text=f"action: one of {', '.join(MANUAL_ACTIONS)}\n")
    desk = ws.desk()
    post_id = request.match_info["id"]
    try:
        if body.action == "block_author":
            until = ws.hub.clock.now() + timedelta(seconds=body.for_s) if body.for_s else None
            did = await desk.block_author(post_id, user.name, body.reason, until=until)
        else:
            if body.for_s is not None:
                raise web.HTTPBadRequest(text="for_s applies only to block_author\n")
            did = await desk.decide(post_id, body.action, user.name, body.reason)
    except WallError as exc:
        raise _conflict(exc) from None
    await ws.hub.refresh()
    post = await ws.hub.store.get_post(post_id)
    return json_response(
        request,
        {"decision": did, "post": post.model_dump(mode="json") if post else None},
        status=201,
    )


async def undo(request: web.Request) -> web.Response:
    user = require(request, C)
    ws = _wall(request)
    body = await body_of(request, UndoBody)
    try:
        did = await ws.desk().undo(int(request.match_info["id"]), user.name, body.reason)
    except ValueError:
        raise web.HTTPNotFound(text="not found\n") from None
    except WallError as exc:
        raise _conflict(exc) from None
    await ws.hub.refresh()
    return json_response(request, {"decision": did}, status=201)


async def decisions(request: web.Request) -> web.Response:
    require(request, C, T)
    rows = await _wall(request).hub.store.list_decisions(request.query.get("post") or None)
    return json_response(request, [d.model_dump(mode="json") for d in rows[-2000:]])


async def lists(request: web.Request) -> web.Response:
    require(request, C, T)
    ws = _wall(request)
    w = ws.hub.profile.wall
    blocks = await ws.hub.store.list_author_blocks()
    return json_response(
        request,
        {
            "blocked_users": w.blocked_users,
            "allowed_users": w.allowed_users,
            "blocked_words": w.blocked_words,
            "default_blocklist": w.use_default_blocklist,
            "blocked_domains": w.blocked_domains,
            "allowed_domains": w.allowed_domains,
            "author_blocks": [b.model_dump(mode="json") for b in blocks],
        },
    )


async def block(request: web.Request) -> web.Response:
    """Block an author by key; with posts, through their newest (hides them all, undoable)."""
    user = require(request, C)
    ws = _wall(request)
    body = await body_of(request, BlockBody)
    author = body.author.strip()
    now = ws.hub.clock.now()
    until = now + timedelta(seconds=body.for_s) if body.for_s else None
    posts = await ws.hub.store.posts_by_author(author)
    try:
        if posts:
            did: int | None = await ws.desk().block_author(
                posts[-1].id, user.name, body.reason, until=until
            )
        else:
            did = None
            await ws.hub.store.put_author_block(
                AuthorBlockRow(
                    author=author, until=until, actor=user.name, reason=body.reason, created_at=now
                )
            )
            if ws.pipeline is not None:
                ws.pipeline.chain.block(author, until)
            await ws.hub.store.audit(
                user.name,
                "wall.block",
                author,
                after={"until": until.isoformat() if until else None, "reason": body.reason},
            )
    except WallError as exc:
        raise _conflict(exc) from None
    await ws.hub.refresh()
    return json_response(
        request,
        {"author": author, "blocked": True, "decision": did, "posts": len(posts)},
        status=201,
    )


async def unblock(request: web.Request) -> web.Response:
    user = require(request, C)
    ws = _wall(request)
    author = request.match_info["author"]
    if not await ws.desk().unblock(author, user.name, request.query.get("reason", "")):
        raise web.HTTPNotFound(text=f"{author}: not blocked\n")
    return json_response(request, {"author": author, "blocked": False})


async def counters(request: web.Request) -> web.Response:
    require(request, C, T)
    rows = await _wall(request).hub.store.decision_counts()
    rules: dict[str, dict[str, int]] = {}
    people: dict[str, dict[str, int]] = {}
    for actor, action, n in rows:
        if actor.startswith("rule:"):
            rules.setdefault(actor[5:], {})[action] = n
        elif actor.startswith("source:"):
            rules.setdefault(actor, {})[action] = n
        else:
            people.setdefault(actor, {})[action] = n
    return json_response(request, {"rules": rules, "people": people})


async def announcements(request: web.Request) -> web.Response:
    require(request, C, T, A)
    hub = _wall(request).hub
    return json_response(
        request,
        {"templates": hub.templates(), "active": hub.announcement, "paused": hub.paused},
    )


async def issue(request: web.Request) -> web.Response:
    user = require(request, C, A)
    body = await body_of(request, IssueBody)
    try:
        active = await _wall(request).hub.issue(body.id, user.name)
    except WallError as exc:
        raise web.HTTPNotFound(text=exc.one_line() + "\n") from None
    return json_response(request, active, status=201)


async def withdraw(request: web.Request) -> web.Response:
    user = require(request, C, A)
    try:
        before = await _wall(request).hub.withdraw(user.name)
    except WallError as exc:
        raise web.HTTPConflict(text=exc.one_line() + "\n") from None
    return json_response(request, {"withdrawn": before})


async def pause(request: web.Request) -> web.Response:
    user = require(request, C)
    body = await body_of(request, PauseBody)
    await _wall(request).hub.set_paused(body.on, user.name, body.note)
    return json_response(request, {"paused": body.on})


async def forget_author(request: web.Request) -> web.Response:
    user = require(request, C)
    ws = _wall(request)
    body = await body_of(request, ForgetBody)
    try:
        res = await forget(ws.hub.store, ws.media, body.author, user.name, body.reason)
    except WallError as exc:
        raise web.HTTPBadRequest(text=exc.one_line() + "\n") from None
    if ws.pipeline is not None:
        ws.pipeline.chain.unblock(body.author)
    ws.hub.forget_posts(res["ids"])
    await ws.hub.refresh()
    return json_response(request, {"posts": res["posts"], "media": res["media"]})


# -- mounting ---------------------------------------------------------------------------


def wall_extension(
    *,
    media_dir: Path | None,
    run_sources: bool = False,
    profile_dir: Path | None = None,
    heartbeat_s: float = 5.0,
    hub_poll_s: float = 1.0,
    retention_every_s: float = 3600.0,
) -> Extension:
    """Mount the wall on ``app``; ``run_sources``: also read the profile's sources."""

    def mount(app: web.Application) -> None:
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

        engine = app[ENGINE]
        profile = engine.profile
        media = (
            MediaCache(
                media_dir, allowed_hosts(profile.wall), max_bytes=profile.wall.media_max_bytes
            )
            if media_dir is not None
            else None
        )
        pipeline = None
        if run_sources and profile.wall.sources:
            sources = build_sources(profile, profile_dir or Path("."), engine.store, engine.clock)
            pipeline = WallPipeline(profile.wall, engine.store, engine.clock, sources)
        hub = WallHub(profile, engine.store, engine.clock, media, poll_s=hub_poll_s)
        ws = WallServer(hub, media, pipeline, heartbeat_s)
        app[WALL] = ws

        async def ctx(app: web.Application) -> AsyncIterator[None]:
            await hub.start()
            if pipeline is not None:
                await pipeline.start()
                ws.tasks.append(asyncio.create_task(_run_pipeline(pipeline), name="wall-pipeline"))
            ws.tasks.append(
                asyncio.create_task(
                    purge_periodically(
                        engine.store,
                        media,
                        engine.clock,
                        profile.event.retention_days,
                        retention_every_s,
                        hub.forget_posts,
                    ),
                    name="wall-retention",
                )
            )
            try:
                yield
            finally:
                for t in ws.tasks:
                    t.cancel()
                for t in ws.tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await t
                await hub.stop()
                if pipeline is not None:
                    await pipeline.aclose()
                if media is not None:
                    await media.aclose()

        app.cleanup_ctx.append(ctx)

    return mount


async def _run_pipeline(pipeline: WallPipeline) -> None:
    try:
        await pipeline.run()
    except EventOpsError as exc:
        log.error("wall: sources stopped: %s", exc.one_line())
