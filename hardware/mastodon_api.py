"""A Mastodon instance simulator: tag timelines, status lookup, streaming, rate limits.

The API port serves what a Mastodon server serves for a wall:

- ``GET /api/v1/timelines/tag/:tag`` with ``min_id``/``max_id``/``since_id``,
  ``limit`` (default 20, max 40) and ``any[]``; newest first; a ``Link``
  header with ``rel="next"`` (``max_id``) and ``rel="prev"`` (``min_id``).
  ``min_id`` gives the statuses immediately after it (gapless forward paging).
- ``GET /api/v1/statuses/:id`` (404 ``{"error":"Record not found"}``) and
  ``GET /api/v1/statuses?id[]=…`` (the ones that still exist).
- ``GET /api/v1/streaming/hashtag?tag=`` — server-sent events ``update``,
  ``delete`` (payload: the id) and ``status.update``; a token is required
  (401 ``{"error":"Missing access token"}``), ``:thump`` heartbeats.
- ``GET /api/v2/instance`` naming the streaming server (``configuration.urls.streaming``).
- ``X-RateLimit-Limit/Remaining/Reset`` (ISO 8601) on every answer; 429
  ``{"error":"Too many requests"}`` once a 5-minute window is used up.

Status content is HTML as Mastodon renders it (``<p>``, hashtag and mention
links); hostile posts can carry raw HTML. The control API (plain HTTP, or the
Python methods of :class:`MastodonState`) posts, bursts, spam waves, hostile
posts, deletions and edits and sets the rate limit.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import typedefs as web_types
from aiohttp import web

from eventops.clock import Clock, SystemClock

from .ports import ServedApps

WINDOW_S = 300
FIRST_ID = 112_000_000_000_000_000


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


@dataclass
class Account:
    id: str
    username: str
    acct: str
    display_name: str
    bot: bool = False


@dataclass
class Status:
    id: int
    account: Account
    content: str
    text: str
    created_at: str
    language: str | None = "de"
    sensitive: bool = False
    spoiler_text: str = ""
    in_reply_to_id: str | None = None
    reblog_of: int | None = None
    media: list[dict[str, Any]] = field(default_factory=list)
    edited_at: str | None = None
    deleted: bool = False


class MastodonState:
    def __init__(
        self,
        clock: Clock,
        domain: str = "social.example",
        token: str = "test-token",
        limit: int = 300,
    ) -> None:
        self.clock = clock
        self.domain = domain
        self.token = token
        self.limit = limit
        self.public_timelines = True
        self.accounts: dict[str, Account] = {}
        self.statuses: dict[int, Status] = {}
        self._next = FIRST_ID
        self.window: tuple[float, int] | None = None
        self.requests: list[tuple[float, str, str, int]] = []
        """(clock epoch, path, query string, status) of every API request."""
        self.streams: list[tuple[str, asyncio.Queue[tuple[str, str]]]] = []
        self.streaming_url: str | None = None
        """What ``/api/v2/instance`` names as the streaming server (default: this server)."""

    # -- control --------------------------------------------------------------------
    def account(self, acct: str, display_name: str = "", bot: bool = False) -> Account:
        if acct not in self.accounts:
            username = acct.split("@", 1)[0]
            self.accounts[acct] = Account(
                str(200_000 + len(self.accounts)), username, acct, display_name or username, bot
            )
        return self.accounts[acct]

    def _render(self, text: str) -> str:
        out = html.escape(text, quote=False)

        def tag(m: re.Match[str]) -> str:
            name = m.group(1)
            return (
                f'<a href="https://{self.domain}/tags/{name.lower()}" class="mention hashtag" '
                f'rel="tag">#<span>{name}</span></a>'
            )

        out = re.sub(r"#(\w+)", tag, out)
        out = re.sub(
            r"(https?://[^\s<]+)",
            lambda m: (
                f'<a href="{m.group(1)}" rel="nofollow noopener" target="_blank">{m.group(1)}</a>'
            ),
            out,
        )
        return "<p>" + out.replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>"

    def post(
        self,
        acct: str,
        text: str,
        *,
        raw_html: str | None = None,
        language: str | None = "de",
        sensitive: bool = False,
        spoiler_text: str = "",
        reply_to: int | None = None,
        bot: bool = False,
        media: list[dict[str, Any]] | None = None,
        display_name: str = "",
    ) -> Status:
        sid = self._next
        self._next += 1 + sid % 5
        s = Status(
            id=sid,
            account=self.account(acct, display_name, bot),
            content=raw_html if raw_html is not None else self._render(text),
            text=text,
            created_at=_iso(self.clock.now()),
            language=language,
            sensitive=sensitive,
            spoiler_text=spoiler_text,
            in_reply_to_id=str(reply_to) if reply_to else None,
            media=[
                {
                    "id": str(sid * 10 + i),
                    "type": m.get("type", "image"),
                    "url": m["url"],
                    "preview_url": m.get("preview_url", m["url"]),
                    "description": m.get("description"),
                }
                for i, m in enumerate(media or [])
            ],
        )
        self.statuses[sid] = s
        self._publish("update", s)
        return s

    def burst(self, n: int, tag: str) -> list[Status]:
        return [
            self.post(f"fan{i % 53}", f"Post {i} vom #{tag}: Bühne {i * 7 % 11} ist super")
            for i in range(n)
        ]

    def spam_wave(self, n: int, tag: str) -> list[Status]:
        return [
            self.post(
                "deals@spam.example", f"WIN FREE spamcoin now!!! #{tag} https://spam.example/{i}"
            )
            for i in range(n)
        ]

    def hostile(self, tag: str) -> list[Status]:
        return [
            self.post(
                "mallory",
                "",
                raw_html=f'<p>#{tag} <script>alert(1)</script><a href="javascript:steal()">klick</a>'
                f'<img src=x onerror="alert(2)"><iframe src="https://evil.example"></iframe>'
                f"\u202eArschloch\u202c</p>",
            ),
            self.post("eve", f"#{tag} Ｈｕｒｅｎｓｏｈｎ"),
        ]

    def delete(self, sid: int) -> None:
        self.statuses[sid].deleted = True
        self._publish("delete", self.statuses[sid])

    def edit(self, sid: int, text: str) -> Status:
        s = self.statuses[sid]
        s.text = text
        s.content = self._render(text)
        s.edited_at = _iso(self.clock.now())
        self._publish("status.update", s)
        return s

    def set_rate_limit(self, remaining: int, reset_in: float) -> None:
        self.window = (self.clock.now().timestamp() + reset_in, self.limit - remaining)

    # -- rendering -----------------------------------------------------------------
    def tags_of(self, s: Status) -> set[str]:
        return {
            t.lower()
            for t in re.findall(r"#(\w+)", html.unescape(re.sub(r"<[^>]+>", "", s.content)))
        }

    def render(self, s: Status) -> dict[str, Any]:
        a = s.account
        return {
            "id": str(s.id),
            "created_at": s.created_at,
            "in_reply_to_id": s.in_reply_to_id,
            "in_reply_to_account_id": None,
            "sensitive": s.sensitive,
            "spoiler_text": s.spoiler_text,
            "visibility": "public",
            "language": s.language,
            "uri": f"https://{self.domain}/users/{a.username}/statuses/{s.id}",
            "url": f"https://{self.domain}/@{a.username}/{s.id}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": s.edited_at,
            "content": s.content,
            "reblog": None,
            "account": {
                "id": a.id,
                "username": a.username,
                "acct": a.acct,
                "display_name": a.display_name,
                "bot": a.bot,
                "url": f"https://{self.domain}/@{a.acct}",
                "avatar": f"https://{self.domain}/avatars/{a.id}.png",
            },
            "media_attachments": s.media,
            "mentions": [],
            "tags": [
                {"name": t, "url": f"https://{self.domain}/tags/{t}"}
                for t in sorted(self.tags_of(s))
            ],
            "emojis": [],
        }

    def _publish(self, event: str, s: Status) -> None:
        tags = self.tags_of(s)
        for tag, queue in self.streams:
            if tag in tags:
                payload = str(s.id) if event == "delete" else json.dumps(self.render(s))
                queue.put_nowait((event, payload))

    # -- rate limit ----------------------------------------------------------------
    def take(self) -> tuple[bool, dict[str, str]]:
        now = self.clock.now().timestamp()
        reset, used = self.window or (now + WINDOW_S, 0)
        if now >= reset:
            reset, used = now + WINDOW_S, 0
        ok = used < self.limit
        if ok:
            used += 1
        self.window = (reset, used)
        return ok, {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - used)),
            "X-RateLimit-Reset": _iso(datetime.fromtimestamp(reset, UTC)),
        }


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def make_api_app(state: MastodonState) -> web.Application:
    def authorised(req: web.Request) -> bool | None:
        auth = req.headers.get("Authorization")
        if auth is None:
            return None
        return auth == f"Bearer {state.token}"

    @web.middleware
    async def limits(request: web.Request, handler: web_types.Handler) -> web.StreamResponse:
        if authorised(request) is False:
            resp: web.StreamResponse = _error(401, "The access token is invalid")
        else:
            ok, headers = state.take()
            if not ok:
                resp = _error(429, "Too many requests")
            else:
                resp = await handler(request)
            if not resp.prepared:
                resp.headers.update(headers)
        state.requests.append(
            (state.clock.now().timestamp(), request.path, request.query_string, resp.status)
        )
        return resp

    async def tag_timeline(req: web.Request) -> web.Response:
        if not state.public_timelines and not authorised(req):
            return _error(422, "This method requires an authenticated user")
        tag = req.match_info["tag"].lower()
        tags = {tag, *(t.lower() for t in req.query.getall("any[]", []))}
        try:
            limit = min(40, max(1, int(req.query.get("limit", "20"))))
            min_id = int(req.query["min_id"]) if "min_id" in req.query else None
            max_id = int(req.query["max_id"]) if "max_id" in req.query else None
            since_id = int(req.query["since_id"]) if "since_id" in req.query else None
        except ValueError:
            return _error(400, "Invalid id")
        hits = [
            s
            for s in state.statuses.values()
            if not s.deleted
            and state.tags_of(s) & tags
            and (max_id is None or s.id < max_id)
            and (since_id is None or s.id > since_id)
            and (min_id is None or s.id > min_id)
        ]
        hits.sort(key=lambda s: s.id)
        page = hits[:limit] if min_id is not None else hits[-limit:]
        page.reverse()
        resp = web.json_response([state.render(s) for s in page])
        if page:
            base = f"{req.scheme}://{req.host}{req.path}"
            resp.headers["Link"] = (
                f'<{base}?max_id={page[-1].id}>; rel="next", <{base}?min_id={page[0].id}>; rel="prev"'
            )
        return resp

    async def status(req: web.Request) -> web.Response:
        try:
            s = state.statuses.get(int(req.match_info["id"]))
        except ValueError:
            s = None
        if s is None or s.deleted:
            return _error(404, "Record not found")
        return web.json_response(state.render(s))

    async def statuses(req: web.Request) -> web.Response:
        out = []
        for raw in req.query.getall("id[]", []):
            s = state.statuses.get(int(raw)) if raw.isdigit() else None
            if s is not None and not s.deleted:
                out.append(state.render(s))
        return web.json_response(out)

    async def stream(req: web.Request) -> web.StreamResponse:
        if authorised(req) is not True:
            return _error(401, "Missing access token")
        tag = req.query.get("tag", "").lower()
        if not tag:
            return _error(400, "No tag for stream provided")
        queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        entry = (tag, queue)
        state.streams.append(entry)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(req)
        try:
            await resp.write(b":)\n")
            while True:
                try:
                    event, payload = await asyncio.wait_for(queue.get(), 15)
                except TimeoutError:
                    await resp.write(b":thump\n")
                    continue
                await resp.write(f"event: {event}\ndata: {payload}\n\n".encode())
        finally:
            state.streams.remove(entry)

    async def instance(req: web.Request) -> web.Response:
        host = req.host
        return web.json_response(
            {
                "domain": state.domain,
                "title": "Simulated Mastodon",
                "version": "4.3.0",
                "configuration": {
                    "urls": {"streaming": state.streaming_url or f"ws://{host}"},
                    "statuses": {"max_characters": 500, "max_media_attachments": 4},
                },
            }
        )

    app = web.Application(middlewares=[limits])
    app.router.add_get("/api/v2/instance", instance)
    app.router.add_get("/api/v1/timelines/tag/{tag}", tag_timeline)
    app.router.add_get("/api/v1/statuses/{id}", status)
    app.router.add_get("/api/v1/statuses", statuses)
    app.router.add_get("/api/v1/streaming/hashtag", stream)
    return app


def make_control_app(state: MastodonState) -> web.Application:
    """Plain-HTTP control API: POST JSON to /post, /burst, /spam, /hostile, /delete, /edit, /ratelimit."""

    async def handler(req: web.Request) -> web.Response:
        action = req.match_info["action"]
        try:
            body: dict[str, Any] = await req.json() if req.can_read_body else {}
            if action == "post":
                s = state.post(body["acct"], body["text"], language=body.get("language", "de"))
                return web.json_response({"id": str(s.id)})
            if action in ("burst", "spam"):
                fn = state.burst if action == "burst" else state.spam_wave
                ss = fn(int(body["n"]), body.get("tag", "event"))
                return web.json_response({"ids": [str(s.id) for s in ss]})
            if action == "hostile":
                ss = state.hostile(body.get("tag", "event"))
                return web.json_response({"ids": [str(s.id) for s in ss]})
            if action == "delete":
                state.delete(int(body["id"]))
                return web.json_response({"ok": True})
            if action == "edit":
                state.edit(int(body["id"]), body["text"])
                return web.json_response({"ok": True})
            if action == "ratelimit":
                state.set_rate_limit(int(body["remaining"]), float(body["reset_in"]))
                return web.json_response({"ok": True})
        except (KeyError, ValueError, TypeError) as exc:
            return web.json_response({"error": f"bad control request: {exc}"}, status=400)
        return web.json_response({"error": f"unknown action {action}"}, status=404)

    app = web.Application()
    app.router.add_post("/{action}", handler)
    return app


class MastodonSimulator(ServedApps):
    def __init__(
        self,
        clock: Clock | None = None,
        *,
        domain: str = "social.example",
        token: str = "test-token",
        host: str = "127.0.0.1",
    ) -> None:
        self.state = MastodonState(clock or SystemClock(), domain, token)
        super().__init__(host)
        self.port = 0
        self.control_port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        self.port = await self._serve(make_api_app(self.state))
        self.control_port = await self._serve(make_control_app(self.state))
