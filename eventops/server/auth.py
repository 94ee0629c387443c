"""Token authentication and roles, shared by every route mounted on the app.

A request carries its token as ``Authorization: Bearer <token>`` or, for
browser pages, in the ``evo_token`` cookie (set once from ``?token=`` and
then stripped from the address bar; set only when the token may open that
page, so a 401 or 403 answer sets no cookie; a client that does not ask for
HTML, such as curl, may give the status page's ``?token=`` for that request
only).

Cross-site writes: a request that changes something (any method but GET,
HEAD, OPTIONS) and carries its token only in the cookie must come from the
same origin (``Sec-Fetch-Site: same-origin``, or an ``Origin`` equal to the
server's own) *and* send ``Content-Type: application/json`` (which no form
and no ``no-cors`` fetch can send); anything else is refused with 403
before the handler runs. The ``Authorization`` header is never sent by a
browser on its own, so requests carrying it need neither. Tokens are matched in constant time
against the SHA-256 hashes in the engine's *current* profile, so a token
revoked by a profile reload stops working at once. Missing or unknown
tokens get 401, a known user without the role gets 403; neither says more.

Visibility: a technician sees every device and link; an authority only
those tagged for it; comms none (the wall is theirs). :func:`redact` is the
last line of defence for authority users: any id of a link or device they
may not see is replaced before a payload leaves the server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from eventops.engine import Engine
from eventops.errors import Forbidden, NotAuthenticated
from eventops.profile.models import Role, User
from eventops.tokens import match_token

ENGINE = web.AppKey("eventops_engine", Engine)
TLS = web.AppKey("eventops_tls", bool)
USER_KEY = web.RequestKey("eventops_user", User)
TOKEN_KEY = web.RequestKey("eventops_token", str)
PAGES = web.AppKey("eventops_pages", frozenset)
"""Route templates that answer HTML pages (``?token=`` links may open them)."""
COOKIE = "evo_token"

PUBLIC_PREFIXES = ("/static/", "/healthz", "/wall/")
QUERY_TOKEN_PAGES = frozenset({"/status"})
"""Pages whose ``?token=`` a non-browser client may use for that one request."""
"""Public: static assets, the health check and the wall screens (only approved posts)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _unauthorized() -> NotAuthenticated:
    return NotAuthenticated("unauthorized: a valid token is needed")


def forbidden() -> Forbidden:
    return Forbidden("forbidden: your role may not do this")


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def header_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def cookie_token(request: web.Request) -> str | None:
    try:
        return request.cookies.get(COOKIE) or None
    except (ValueError, UnicodeError):  # a cookie header no parser can read is no token
        return None


def token_of(request: web.Request) -> str | None:
    return header_token(request) or cookie_token(request)


def same_origin(request: web.Request) -> bool:
    """Whether a browser says this request comes from a page of this server."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("Origin")
    if not origin:
        return False
    return origin == f"{request.scheme}://{request.host}"


def cross_site_refusal(request: web.Request) -> Forbidden | None:
    """Why a cookie-authenticated write is refused (None: it may go on)."""
    if request.method in SAFE_METHODS:
        return None
    if not same_origin(request):
        return Forbidden(
            "forbidden: a write with the cookie must come from this server's own pages "
            "(or send the Authorization header)"
        )
    if request.content_type.lower() != "application/json":
        return Forbidden(
            "forbidden: a write with the cookie must send Content-Type: application/json"
        )
    return None


def authenticate(engine: Engine, token: str | None) -> User | None:
    if not token:
        return None
    return match_token(token, engine.profile.users)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    engine = request.app[ENGINE]
    qtoken = request.query.get("token")
    browser = "text/html" in request.headers.get("Accept", "")
    if qtoken and request.method == "GET" and browser and _is_page(request):
        return await _token_link(request, handler, engine, qtoken)
    if qtoken and request.method == "GET" and request.path in QUERY_TOKEN_PAGES:
        # the page's address as README gives it, fetched by a client that is not a browser
        # (curl): the token answers this request only; no cookie is set
        token: str | None = qtoken
    else:
        token = header_token(request)
        if token is None:
            token = cookie_token(request)
            if token is not None and authenticate(engine, token) is not None:
                refusal = cross_site_refusal(request)
                if refusal is not None:
                    raise refusal
    user = authenticate(engine, token)
    if user is None:
        raise _unauthorized()
    request[USER_KEY] = user
    request[TOKEN_KEY] = token or ""
    return await handler(request)


def _is_page(request: web.Request) -> bool:
    """A route that answers a browser page (HTML), which a link with ``?token=`` may open."""
    resource = request.match_info.route.resource
    return resource is not None and resource.canonical in request.app.get(PAGES, frozenset())


async def _token_link(
    request: web.Request, handler: Handler, engine: Engine, qtoken: str
) -> web.StreamResponse:
    """A browser opening a page link with its token: when that token may open this page,
    keep it in a cookie and send the browser to the address without it; otherwise the
    page's own refusal (401, 403, 404) and no cookie."""
    user = authenticate(engine, qtoken)
    if user is None:
        raise _unauthorized()
    request[USER_KEY] = user
    request[TOKEN_KEY] = qtoken
    answer = await handler(request)  # raises (and sets nothing) when the page refuses
    if answer.status >= 400:
        return answer
    query = {k: v for k, v in request.query.items() if k != "token"}
    resp = web.Response(status=303, headers={"Location": str(request.rel_url.with_query(query))})
    resp.set_cookie(
        COOKIE,
        qtoken,
        httponly=True,
        samesite="Strict",
        secure=request.app.get(TLS, False),
        path="/",
    )
    return resp


def current_user(request: web.Request) -> User:
    user: User = request[USER_KEY]
    return user


def still_valid(request: web.Request) -> bool:
    """Whether the request's token still belongs to the same user (after reloads)."""
    token = request.get(TOKEN_KEY)
    user = authenticate(request.app[ENGINE], token)
    return user is not None and user == request.get(USER_KEY)


def require(request: web.Request, *roles: Role) -> User:
    user = current_user(request)
    if user.role not in roles:
        raise forbidden()
    return user


class View:
    """What one user may see of the engine's state."""

    def __init__(self, engine: Engine, user: User) -> None:
        self.engine = engine
        self.user = user
        p = engine.profile
        if user.role is Role.technician:
            self.links = {lk.id for lk in p.links}
            self.devices = {d.id for d in p.devices}
        elif user.role is Role.authority:
            self.links = {lk.id for lk in p.links if user.authority in lk.authorities}
            self.devices = {d.id for d in p.devices if user.authority in d.authorities}
        else:
            self.links, self.devices = set(), set()
        hidden = ({lk.id for lk in p.links} - self.links) | (
            {d.id for d in p.devices} - self.devices
        )
        self._hidden = (
            re.compile(
                r"(?<![A-Za-z0-9._-])("
                + "|".join(re.escape(h) for h in sorted(hidden, key=len, reverse=True))
                + r")(?![A-Za-z0-9_-])"
            )
            if hidden and user.role is not Role.technician
            else None
        )

    @property
    def monitor(self) -> bool:
        """May see monitoring at all (technician or authority)."""
        return self.user.role in (Role.technician, Role.authority)

    def sees(self, subject: str) -> bool:
        if self.user.role is Role.technician:
            return True  # also the engine's own alerts (subject "engine")
        return subject in self.links or subject in self.devices

    def sees_event(self, scope: str, subject: str, authorities: Iterable[str]) -> bool:
        if self.user.role is Role.technician:
            return True
        if scope == "wall":
            return True  # "the wall changed" and which part: no text, no names
        if self.user.role is Role.authority and scope in ("device", "link"):
            return self.user.authority in set(authorities) and self.sees(subject)
        return False

    def redact_text(self, text: str) -> str:
        if self._hidden is None:
            return text
        return self._hidden.sub("(hidden)", text)

    def dumps(self, value: Any) -> str:
        return self.redact_text(json.dumps(value, ensure_ascii=False, default=_json_default))


def _json_default(value: Any) -> Any:
    """Times as ISO 8601 (``+00:00``, as the engine's views and the stream write them)."""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def view_of(request: web.Request) -> View:
    return View(request.app[ENGINE], current_user(request))


def redact_for(request: web.Request, text: str) -> str:
    """``text`` with what the request's user may not see hidden (errors included)."""
    if USER_KEY not in request:
        return text
    return view_of(request).redact_text(text)


def respond(
    request: web.Request,
    model: type[BaseModel],
    *,
    value: Any,
    status: int = 200,
    many: bool = False,
) -> web.Response:
    """A JSON answer built from ``model`` (one of :mod:`eventops.api.models`): ``value``
    (a list of them with ``many``; ``None`` stays ``null``) is validated by the
    model and serialised from it, so the server answers nothing the contract
    does not declare."""
    if many:
        out: Any = [model.model_validate(v).model_dump() for v in value]
    elif value is None:
        out = None
    else:
        out = model.model_validate(value).model_dump()
    return json_response(request, out, status)


def json_response(request: web.Request, value: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=view_of(request).dumps(value), status=status, content_type="application/json"
    )
