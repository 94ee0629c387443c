"""Several engine addresses, one client: follow the active engine.

An event served by an active engine and standbys (see ``eventops serve --lease``)
is reached through a comma-separated list of addresses
(``--server http://a:8470,http://b:8470``). :class:`FailoverTransport` sends each
request to the engine it last found active and moves on when:

- the engine cannot be reached (refused, unresolvable, timed out before it was
  connected): the next address is tried. A request that may have reached an
  engine (the connection broke afterwards) is retried elsewhere only when it is a
  read; a write is not sent twice;
- the answer says the engine is not the active one (``X-Eventops-Role`` is not
  ``active``): when it names the active engine (``X-Eventops-Active``) and that
  address is one of the list, the request goes there; otherwise, for a write (a
  ``503``), the other addresses are tried. When no engine takes it, the standby's
  own answer is returned: its reads (the status page, alerts) are still good, and
  its ``503`` names the active engine.

Only addresses of the list are ever contacted: an engine cannot send the
client's token anywhere else.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from urllib.parse import urlsplit

import aiohttp

from eventops.api.client_errors import EngineUnreachable
from eventops.api.client_transport import AiohttpTransport, HttpRequest, HttpResponse
from eventops.errors import InvalidRequest

ROLE_HEADER = "X-Eventops-Role"
ACTIVE_HEADER = "X-Eventops-Active"
READS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_ADDRESSES = 8


def split_addresses(value: str) -> list[str]:
    """The engine addresses of ``value`` (comma-separated ``http(s)://host:port``), in order,
    without duplicates; :class:`InvalidRequest` naming the bad one."""
    urls: list[str] = []
    for raw in value.split(","):
        url = raw.strip().rstrip("/")
        if not url:
            continue
        if len(url) > 500:
            raise InvalidRequest(f"engine address {url[:60]!r}…: longer than 500 characters")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018  (raises on a bad port)
        except ValueError:
            raise InvalidRequest(f"engine address {url!r}: not a URL") from None
        if parts.username or parts.password:  # never echoed: it may hold a password
            raise InvalidRequest("an engine address holds a user name: only http(s)://host:port")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidRequest(f"engine address {url!r}: expected http(s)://host:port")
        if parts.query or parts.fragment:
            raise InvalidRequest(f"engine address {url!r}: only http(s)://host:port[/path]")
        if url not in urls:
            urls.append(url)
    if not urls:
        raise InvalidRequest("no engine address given")
    if len(urls) > MAX_ADDRESSES:
        raise InvalidRequest(f"{len(urls)} engine addresses: at most {MAX_ADDRESSES}")
    return urls


class FailoverTransport:
    """Sends each request to the active engine of a list (see the module's docstring)."""

    def __init__(
        self,
        base_urls: Sequence[str],
        *,
        session: aiohttp.ClientSession | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not base_urls:
            raise InvalidRequest("no engine address given")
        self.urls = [u.rstrip("/") for u in base_urls]
        self._session = session
        self._own = session is None
        self._ssl = ssl_context
        self._transports: dict[str, AiohttpTransport] = {}
        self._current = 0
        self.base_url = self.urls[0]
        """The address in use (the engine last found active)."""
        self.switches = 0
        """How often the client moved to another engine."""

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    def _transport(self, url: str) -> AiohttpTransport:
        found = self._transports.get(url)
        if found is None:
            found = self._transports[url] = AiohttpTransport(
                url, session=self.session, ssl_context=self._ssl
            )
        return found

    def _order(self) -> list[str]:
        n = len(self.urls)
        return [self.urls[(self._current + i) % n] for i in range(n)]

    def _use(self, url: str) -> None:
        index = self.urls.index(url)
        if index != self._current:
            self._current = index
            self.base_url = url
            self.switches += 1

    async def send(self, request: HttpRequest) -> HttpResponse:
        read = request.method.upper() in READS
        order = self._order()
        tried: set[str] = set()
        fallback: HttpResponse | None = None
        unreachable: EngineUnreachable | None = None
        url: str | None = order[0]
        while url is not None:
            tried.add(url)
            try:
                resp = await self._transport(url).send(request)
            except EngineUnreachable as exc:
                if exc.connected and not read:
                    if fallback is not None:
                        await fallback.close()
                    raise  # the write may have reached that engine: not sent twice
                unreachable = unreachable or exc
                url = _next(order, tried)
                continue
            role = resp.headers.get(ROLE_HEADER)
            if role is None or role == "active":
                if fallback is not None:
                    await fallback.close()
                self._use(url)
                return resp
            # a standby (or a deposed engine): go where it points, or try the others
            active = (resp.headers.get(ACTIVE_HEADER) or "").rstrip("/")
            if fallback is None or resp.status < fallback.status:
                if fallback is not None:
                    await fallback.close()
                fallback = resp
                self._use(url)
            else:
                await resp.close()
            if active in self.urls and active not in tried:
                url = active
            elif read and resp.status < 400:
                break  # its read answer is good; no active engine in the list answers
            else:
                url = _next(order, tried)
        if fallback is not None:
            return fallback
        assert unreachable is not None
        if len(self.urls) > 1:
            raise EngineUnreachable(
                ", ".join(self.urls), f"no engine answers ({unreachable.reason} and others)"
            )
        raise unreachable

    async def close(self) -> None:
        if self._own and self._session is not None:
            await self._session.close()
            self._session = None


def _next(order: list[str], tried: set[str]) -> str | None:
    return next((u for u in order if u not in tried), None)


def transport_for(
    base_url: str,
    *,
    session: aiohttp.ClientSession | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AiohttpTransport | FailoverTransport:
    """One engine's transport, or a failover transport for a comma-separated list."""
    if "," not in base_url:
        return AiohttpTransport(base_url, session=session, ssl_context=ssl_context)
    urls = split_addresses(base_url)
    if len(urls) == 1:
        return AiohttpTransport(urls[0], session=session, ssl_context=ssl_context)
    return FailoverTransport(urls, session=session, ssl_context=ssl_context)
