"""An X API v2 simulator: recent search and tweet lookup, as tweepy's AsyncClient uses them.

The API port (HTTPS when given an SSL context, as ``api.twitter.com`` is)
serves only what X serves:

- ``GET /2/tweets/search/recent`` — ``query`` (hashtags, ``OR``, and
  ``-is:retweet``/``-is:reply``), ``max_results`` 10–100, ``since_id``
  (exclusive), ``until_id``, ``next_token``, ``expansions``
  (``author_id``, ``attachments.media_keys``), ``tweet.fields``,
  ``user.fields``, ``media.fields``; newest first, ``meta`` with
  ``newest_id``/``oldest_id``/``result_count``/``next_token``.
- ``GET /2/tweets?ids=`` — up to 100 ids; missing ones come back under
  ``errors`` as ``Not Found Error`` resources.
- App-only bearer auth (401 otherwise), JSON problem bodies for every error,
  ``x-rate-limit-limit/remaining/reset`` on every answer and 429 with them
  when a 15-minute window is used up.

Every tweet carries ``id``, ``text`` and ``edit_history_tweet_ids``; an edit
creates a new id whose history lists the earlier ones (the old version stays
readable by id but no longer matches search). Text is escaped as X does
(``&amp;``, ``&lt;``, ``&gt;``).

The control API (a separate plain-HTTP port, or the Python methods of
:class:`XState`) adds posts, bursts, spam waves, hostile posts, deletions and
edits, and sets the rate limit.
"""

from __future__ import annotations

import base64
import html
import json
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from eventops.clock import Clock, SystemClock

from .ports import ServedApps

FIRST_ID = 1_790_000_000_000_000_000
WINDOW_S = 15 * 60
TWEET_FIELDS = {
    "attachments", "author_id", "conversation_id", "created_at", "edit_history_tweet_ids",
    "entities", "lang", "possibly_sensitive", "referenced_tweets", "public_metrics",
}  # fmt: skip
USER_FIELDS = {"created_at", "description", "name", "profile_image_url", "username", "verified"}
MEDIA_FIELDS = {"alt_text", "height", "preview_image_url", "type", "url", "width"}
_URL = re.compile(r"https?://\S+")


@dataclass
class Tweet:
    id: int
    author_id: str
    text: str
    created_at: str
    lang: str = "en"
    media_keys: list[str] = field(default_factory=list)
    history: list[int] = field(default_factory=list)
    replied_to: int | None = None
    retweet_of: int | None = None
    sensitive: bool = False
    deleted: bool = False
    superseded: bool = False


@dataclass
class User:
    id: str
    username: str
    name: str


@dataclass
class MediaItem:
    key: str
    type: str
    url: str
    alt_text: str = ""


def _problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    body = {"title": title, "detail": detail, "type": "about:blank", "status": status, **extra}
    return web.json_response(body, status=status)


def _invalid(message: str, parameter: str) -> web.Response:
    return web.json_response(
        {
            "errors": [{"parameters": {parameter: []}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
        status=400,
    )


class XState:
    """The one state model behind every answer of the simulator."""

    def __init__(self, clock: Clock, bearer_token: str = "test-bearer", limit: int = 450) -> None:
        self.clock = clock
        self.bearer_token = bearer_token
        self.tweets: dict[int, Tweet] = {}
        self.users: dict[str, User] = {}
        self.media: dict[str, MediaItem] = {}
        self._next = FIRST_ID
        self.limit = limit
        self.windows: dict[str, tuple[float, int]] = {}
        """endpoint → (window reset epoch, requests used)."""
        self.requests: list[tuple[float, str, dict[str, str], int]] = []
        """(clock epoch, path, query, status) of every API request."""
        self.omit_reset_header = False
        """Fault: answer without ``x-rate-limit-reset`` (tweepy would retry at once)."""
        self.on_request: Callable[[str, dict[str, str]], None] | None = None
        """Called before each API request is answered (to script arrivals mid-paging)."""

    # -- control ----------------------------------------------------------------
    def user(self, username: str, name: str | None = None) -> User:
        for u in self.users.values():
            if u.username.lower() == username.lower():
                return u
        u = User(str(10_000 + len(self.users)), username, name or username)
        self.users[u.id] = u
        return u

    def post(
        self,
        username: str,
        text: str,
        *,
        lang: str = "en",
        media: list[tuple[str, str, str]] | None = None,
        reply_to: int | None = None,
        retweet_of: int | None = None,
        sensitive: bool = False,
        name: str | None = None,
    ) -> Tweet:
        """Publish a tweet; ``media`` is (type, url, alt text) triples."""
        u = self.user(username, name)
        tid = self._next
        self._next += 1 + (tid % 7)  # ids grow but are not consecutive, as snowflakes
        keys = []
        for i, (kind, url, alt) in enumerate(media or []):
            key = f"3_{tid}{i}"
            self.media[key] = MediaItem(key, kind, url, alt)
            keys.append(key)
        t = Tweet(
            id=tid,
            author_id=u.id,
            text=text,
            created_at=self.clock.now().strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{self.clock.now().microsecond // 1000:03d}Z",
            lang=lang,
            media_keys=keys,
            history=[tid],
            replied_to=reply_to,
            retweet_of=retweet_of,
            sensitive=sensitive,
        )
        self.tweets[tid] = t
        return t

    def burst(self, n: int, tag: str, prefix: str = "burst") -> list[Tweet]:
        return [
            self.post(f"fan{i % 97}", f"{prefix} {i}: great evening at #{tag} stage {i * 7 % 13}")
            for i in range(n)
        ]

    def spam_wave(self, n: int, tag: str, username: str = "cheap_deals") -> list[Tweet]:
        return [
            self.post(username, f"WIN FREE spamcoin now!!! #{tag} https://spam.example/{i % 3}")
            for i in range(n)
        ]

    def hostile(self, tag: str) -> list[Tweet]:
        return [
            self.post(
                "troll1",
                f"#{tag} you are all \u202eloot\u202c a\u200bs\u200bs\u200bh\u200bo\u200bl\u200be\u200bs",
            ),
            self.post("troll2", f"#{tag} <script>alert(1)</script> f.u.c.k this"),
            self.post("troll3", f"#{tag} ＳＩＥＧ ＨＥＩＬ"),
        ]

    def delete(self, tid: int) -> None:
        self.tweets[tid].deleted = True

    def edit(self, tid: int, text: str) -> Tweet:
        old = self.tweets[tid]
        new = self.post(self.users[old.author_id].username, text, lang=old.lang)
        new.history = [*old.history, new.id]
        old.superseded = True
        for h in old.history:
            self.tweets[h].history = list(new.history)
            self.tweets[h].superseded = True
        return new

    def set_rate_limit(self, endpoint: str, remaining: int, reset_in: float) -> None:
        reset = self.clock.now().timestamp() + reset_in
        self.windows[endpoint] = (reset, self.limit - remaining)

    # -- rate limits ----------------------------------------------------------
    def take(self, endpoint: str) -> tuple[bool, dict[str, str]]:
        now = self.clock.now().timestamp()
        reset, used = self.windows.get(endpoint, (now + WINDOW_S, 0))
        if now >= reset:
            reset, used = now + WINDOW_S, 0
        ok = used < self.limit
        if ok:
            used += 1
        self.windows[endpoint] = (reset, used)
        headers = {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(max(0, self.limit - used)),
            "x-rate-limit-reset": str(int(reset + 0.999)),
        }
        if self.omit_reset_header:
            del headers["x-rate-limit-reset"]
        return ok, headers

    # -- rendering ----------------------------------------------------------------
    def render(self, t: Tweet, fields: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": str(t.id),
            "text": html.escape(t.text, quote=False),
            "edit_history_tweet_ids": [str(h) for h in t.history],
        }
        if "author_id" in fields:
            out["author_id"] = t.author_id
        if "created_at" in fields:
            out["created_at"] = t.created_at
        if "lang" in fields:
            out["lang"] = t.lang
        if "possibly_sensitive" in fields:
            out["possibly_sensitive"] = t.sensitive
        if "conversation_id" in fields:
            out["conversation_id"] = str(t.replied_to or t.id)
        if "attachments" in fields and t.media_keys:
            out["attachments"] = {"media_keys": list(t.media_keys)}
        if "referenced_tweets" in fields:
            refs = []
            if t.replied_to:
                refs.append({"type": "replied_to", "id": str(t.replied_to)})
            if t.retweet_of:
                refs.append({"type": "retweeted", "id": str(t.retweet_of)})
            if refs:
                out["referenced_tweets"] = refs
        # X shows links in the text as t.co short links; entities hold the targets,
        # with positions in the text as sent.
        text = t.text
        urls: list[tuple[str, str]] = []
        for m in reversed(list(_URL.finditer(t.text))):
            short = f"https://t.co/{abs(hash(m.group(0))) % 10**10:010d}"
            text = text[: m.start()] + short + text[m.end() :]
            urls.insert(0, (m.group(0), short))
        pos = 0
        url_entities = []
        for target, short in urls:
            at = text.index(short, pos)
            pos = at + len(short)
            url_entities.append(
                {
                    "start": at,
                    "end": pos,
                    "url": short,
                    "expanded_url": target,
                    "display_url": target.split("://", 1)[1][:40],
                }
            )
        if t.media_keys:  # X appends one t.co link for the attached media
            short = f"https://t.co/m{t.id % 10**9:09d}"
            text = f"{text} {short}"
            user = self.users[t.author_id].username
            url_entities.append(
                {
                    "start": len(text) - len(short),
                    "end": len(text),
                    "url": short,
                    "expanded_url": f"https://x.com/{user}/status/{t.id}/photo/1",
                    "display_url": "pic.x.com/" + short.rsplit("/", 1)[1],
                    "media_key": t.media_keys[0],
                }
            )
        if "entities" in fields:
            ent: dict[str, Any] = {}
            if url_entities:
                ent["urls"] = url_entities
            tags = [
                {"start": m.start(), "end": m.end(), "tag": m.group(1)}
                for m in re.finditer(r"#(\w+)", text)
            ]
            if tags:
                ent["hashtags"] = tags
            if ent:
                out["entities"] = ent
        out["text"] = html.escape(text, quote=False)
        return out

    def includes(
        self, tweets: list[Tweet], expansions: set[str], ufields: set[str], mfields: set[str]
    ) -> dict[str, Any]:
        inc: dict[str, Any] = {}
        if "author_id" in expansions:
            seen: dict[str, dict[str, Any]] = {}
            for t in tweets:
                u = self.users[t.author_id]
                d: dict[str, Any] = {"id": u.id, "name": u.name, "username": u.username}
                if "verified" in ufields:
                    d["verified"] = False
                seen[u.id] = d
            if seen:
                inc["users"] = list(seen.values())
        if "attachments.media_keys" in expansions:
            media = []
            for t in tweets:
                for k in t.media_keys:
                    m = self.media[k]
                    d = {"media_key": m.key, "type": m.type}
                    if "url" in mfields and m.type == "photo":
                        d["url"] = m.url
                    if "preview_image_url" in mfields and m.type != "photo":
                        d["preview_image_url"] = m.url
                    if "alt_text" in mfields and m.alt_text:
                        d["alt_text"] = m.alt_text
                    media.append(d)
            if media:
                inc["media"] = media
        return inc


def _terms(query: str) -> tuple[list[str], bool, bool]:
    tags = [t.lower() for t in re.findall(r"#(\w+)", query)]
    return tags, "-is:retweet" in query, "-is:reply" in query


def _fields(req: web.Request, name: str, allowed: set[str]) -> set[str] | web.Response:
    raw = req.query.get(name, "")
    got = {f for f in raw.split(",") if f}
    bad = got - allowed
    if bad:
        return _invalid(
            f"The `{name}` query parameter value [{sorted(bad)[0]}] is not one of "
            f"[{','.join(sorted(allowed))}]",
            name,
        )
    return got


def make_api_app(state: XState) -> web.Application:
    async def guard(req: web.Request, endpoint: str) -> tuple[web.Response | None, dict[str, str]]:
        if state.on_request is not None:
            state.on_request(req.path, dict(req.query))
        auth = req.headers.get("Authorization", "")
        if auth != f"Bearer {state.bearer_token}":
            return _problem(401, "Unauthorized", "Unauthorized"), {}
        ok, headers = state.take(endpoint)
        if not ok:
            resp = _problem(429, "Too Many Requests", "Too Many Requests")
            resp.headers.update(headers)
            return resp, headers
        return None, headers

    def log(req: web.Request, status: int) -> None:
        state.requests.append((state.clock.now().timestamp(), req.path, dict(req.query), status))

    async def search(req: web.Request) -> web.Response:
        refusal, headers = await guard(req, "search")
        if refusal is not None:
            log(req, refusal.status)
            return refusal
        resp = _search(req)
        resp.headers.update(headers)
        log(req, resp.status)
        return resp

    def _search(req: web.Request) -> web.Response:
        q = req.query.get("query", "")
        if not q.strip():
            return _invalid("The `query` query parameter can not be empty", "query")
        try:
            max_results = int(req.query.get("max_results", "10"))
        except ValueError:
            return _invalid(
                "The `max_results` query parameter value is not a number", "max_results"
            )
        if not 10 <= max_results <= 100:
            return _invalid(
                f"The `max_results` query parameter value [{max_results}] is not between 10 and 100",
                "max_results",
            )
        lists = {}
        for name, allowed in (
            ("tweet.fields", TWEET_FIELDS),
            ("user.fields", USER_FIELDS),
            ("media.fields", MEDIA_FIELDS),
            ("expansions", {"author_id", "attachments.media_keys", "referenced_tweets.id"}),
        ):
            got = _fields(req, name, allowed)
            if isinstance(got, web.Response):
                return got
            lists[name] = got
        try:
            since = int(req.query.get("since_id", "0"))
            until = int(req.query["until_id"]) if "until_id" in req.query else None
            token = req.query.get("next_token")
            below: int | None = None
            if token:
                decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
                below = int(decoded["below"])
                if decoded["q"] != q or decoded["since"] != since:
                    raise ValueError
        except (ValueError, KeyError, TypeError):
            return _invalid("The `next_token` or id query parameter value is invalid", "next_token")
        tags, no_rt, no_reply = _terms(q)
        hits = []
        for t in sorted(state.tweets.values(), key=lambda t: t.id, reverse=True):
            if t.id <= since or t.deleted or t.superseded:
                continue
            if until is not None and t.id >= until:
                continue
            if below is not None and t.id >= below:
                continue
            if (no_rt and t.retweet_of) or (no_reply and t.replied_to):
                continue
            if tags and not any(f"#{tag}" in t.text.lower() for tag in tags):
                continue
            hits.append(t)
            if len(hits) > max_results:
                break
        page, more = hits[:max_results], len(hits) > max_results
        if not page:
            return web.json_response({"meta": {"result_count": 0}})
        meta: dict[str, Any] = {
            "newest_id": str(page[0].id),
            "oldest_id": str(page[-1].id),
            "result_count": len(page),
        }
        if more:
            raw = json.dumps({"q": q, "since": since, "below": page[-1].id}).encode()
            meta["next_token"] = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        body: dict[str, Any] = {
            "data": [state.render(t, lists["tweet.fields"]) for t in page],
            "meta": meta,
        }
        inc = state.includes(page, lists["expansions"], lists["user.fields"], lists["media.fields"])
        if inc:
            body["includes"] = inc
        return web.json_response(body)

    async def lookup(req: web.Request) -> web.Response:
        refusal, headers = await guard(req, "lookup")
        if refusal is not None:
            log(req, refusal.status)
            return refusal
        raw = [i for i in req.query.get("ids", "").split(",") if i]
        if not raw or len(raw) > 100 or not all(i.isdigit() for i in raw):
            resp = _invalid(
                "The `ids` query parameter value must be 1 to 100 comma-separated tweet ids", "ids"
            )
        else:
            fields = _fields(req, "tweet.fields", TWEET_FIELDS)
            exp = _fields(req, "expansions", {"author_id", "attachments.media_keys"})
            if isinstance(fields, web.Response):
                resp = fields
            elif isinstance(exp, web.Response):
                resp = exp
            else:
                found, errors = [], []
                for i in raw:
                    t = state.tweets.get(int(i))
                    if t is None or t.deleted:
                        errors.append(
                            {
                                "value": i,
                                "detail": f"Could not find tweet with ids: [{i}].",
                                "title": "Not Found Error",
                                "resource_type": "tweet",
                                "parameter": "ids",
                                "resource_id": i,
                                "type": "https://api.twitter.com/2/problems/resource-not-found",
                            }
                        )
                    else:
                        found.append(t)
                body: dict[str, Any] = {}
                if found:
                    body["data"] = [state.render(t, fields) for t in found]
                    inc = state.includes(found, exp, set(), set())
                    if inc:
                        body["includes"] = inc
                if errors:
                    body["errors"] = errors
                resp = web.json_response(body)
        resp.headers.update(headers)
        log(req, resp.status)
        return resp

    async def not_found(req: web.Request) -> web.Response:
        return _problem(404, "Not Found Error", f"Sorry, that page does not exist: {req.path}")

    app = web.Application()
    app.router.add_get("/2/tweets/search/recent", search)
    app.router.add_get("/2/tweets", lookup)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app


def make_control_app(state: XState) -> web.Application:
    """Plain-HTTP control API: POST JSON to /post, /burst, /spam, /hostile, /delete,
    /edit, /ratelimit; GET /requests."""

    async def handler(req: web.Request) -> web.Response:
        action = req.match_info["action"]
        try:
            body: dict[str, Any] = await req.json() if req.can_read_body else {}
            if action == "post":
                t = state.post(body["username"], body["text"], lang=body.get("lang", "en"))
                return web.json_response({"id": str(t.id)})
            if action == "burst":
                ts = state.burst(int(body["n"]), body.get("tag", "event"))
                return web.json_response({"ids": [str(t.id) for t in ts]})
            if action == "spam":
                ts = state.spam_wave(int(body["n"]), body.get("tag", "event"))
                return web.json_response({"ids": [str(t.id) for t in ts]})
            if action == "hostile":
                ts = state.hostile(body.get("tag", "event"))
                return web.json_response({"ids": [str(t.id) for t in ts]})
            if action == "delete":
                state.delete(int(body["id"]))
                return web.json_response({"ok": True})
            if action == "edit":
                t = state.edit(int(body["id"]), body["text"])
                return web.json_response({"id": str(t.id)})
            if action == "ratelimit":
                state.set_rate_limit(
                    body.get("endpoint", "search"), int(body["remaining"]), float(body["reset_in"])
                )
                return web.json_response({"ok": True})
        except (KeyError, ValueError, TypeError) as exc:
            return web.json_response({"error": f"bad control request: {exc}"}, status=400)
        return web.json_response({"error": f"unknown action {action}"}, status=404)

    async def requests(req: web.Request) -> web.Response:
        return web.json_response(state.requests)

    app = web.Application()
    app.router.add_get("/requests", requests)
    app.router.add_post("/{action}", handler)
    return app


class XApiSimulator(ServedApps):
    """Runs the API (optionally TLS) and control servers on loopback."""

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        bearer_token: str = "test-bearer",
        host: str = "127.0.0.1",
    ) -> None:
        self.state = XState(clock or SystemClock(), bearer_token)
        self.ssl_context = ssl_context
        super().__init__(host)
        self.port = 0
        self.control_port = 0

    async def start(self) -> None:
        self.port = await self._serve(make_api_app(self.state), self.ssl_context)
        self.control_port = await self._serve(make_control_app(self.state))
