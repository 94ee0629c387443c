"""The terminal app's client of the engine API: REST calls and the live stream.

Plain aiohttp and pydantic, no Textual: the app, the tests and the benchmark
share it. The payload models are the contract's (:mod:`eventops.api.models`,
re-exported here under the names the TUI uses); :class:`Api` is
:class:`eventops.api.client.EngineClient` with the few answers the TUI wants in
another shape. The client never talks to devices.

:class:`LiveStream` follows ``/api/v1/stream`` (Server-Sent Events, decoded by
:mod:`eventops.api.sse`). It remembers the last event id and reconnects with
``Last-Event-ID`` after a drop, with a growing back-off; the server answers
with the missed events or a fresh snapshot. Every transport problem becomes an
:class:`ApiError` or a "disconnected" callback — never an exception out of the
stream task.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from pydantic import BaseModel, ConfigDict

from eventops.api import models as m
from eventops.api.client import (
    PLAIN_TEXT,
    EngineClient,
    EngineUnreachable,
    StreamMessage,
    StreamResync,
    transport_for,
)
from eventops.errors import ApiError, Forbidden, NotAuthenticated

log = logging.getLogger(__name__)

# -- the contract's models under the TUI's names ----------------------------------------------
Check = m.CheckView
DeviceView = m.DeviceView
Client = m.WlanClientView
Radio = m.RadioView
Interface = m.InterfaceView
PeerOptic = m.PeerOpticView
Optic = m.OpticView
DeviceDetail = m.DeviceDetailView
LinkEnd = m.LinkEndView
Proof = m.ProofView
LinkView = m.LinkView
AlertView = m.AlertView
TimelineEntry = m.TimelineEntryView
WhoAmI = m.WhoAmIView
WallDecision = m.DecisionView
WallPost = m.QueuedPostView
Announcement = m.AnnouncementTemplateView
ProbeRun = m.ProbeResultView
RunningApply = m.RunningApplyView
RunningProbe = m.RunningProbeView
Engines = m.EnginesView
StreamEvent = StreamMessage


class Snapshot(BaseModel):
    """The stream's first event; items are validated one by one by the live state (a bad
    one is skipped, the rest still shows), so they stay JSON objects here."""

    model_config = ConfigDict(extra="forbid")

    devices: tuple[dict[str, Any], ...] = ()
    links: tuple[dict[str, Any], ...] = ()
    alerts: tuple[dict[str, Any], ...] = ()


class Announcements(BaseModel):
    """The wall's announcements as the TUI shows them: templates, the active one, and
    whether the wall is paused (the contract says who paused it; the TUI needs yes/no)."""

    model_config = ConfigDict(extra="forbid")

    templates: tuple[Announcement, ...] = ()
    active: Announcement | None = None
    paused: bool = False

    @classmethod
    def of(cls, view: m.AnnouncementsView) -> Announcements:
        return cls(
            templates=tuple(view.templates), active=view.active, paused=view.paused is not None
        )


class Api(EngineClient):
    """REST calls of the engine API with one bearer token (the TUI's shapes).

    Errors keep the TUI's wording, ``METHOD path: status detail`` and ``engine at URL
    unreachable: reason``, and stay the contract's domain classes (also ApiError).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._aiohttp = transport_for(base_url, session=session)
        super().__init__(base_url, token, transport=self._aiohttp, timeout_s=timeout_s)
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(timeout_s, 5.0))

    @property
    def session(self) -> aiohttp.ClientSession:
        return self._aiohttp.session

    async def call(
        self,
        method: str,
        path: str,
        body: BaseModel | None = None,
        *,
        timeout_s: float | None = -1.0,
    ) -> bytes:
        try:
            return await super().call(method, path, body, timeout_s=timeout_s)
        except EngineUnreachable as exc:
            exc.args = (f"engine unreachable at {self.base_url}: {exc.reason}",)
            raise
        except ApiError as exc:
            if exc.status is not None and getattr(exc, PLAIN_TEXT, False):
                exc.args = (f"{method} {path.split('?')[0]}: {exc.status} {exc}",)
            raise

    async def why_down(self) -> str | None:
        """None when the engine answers ``GET /healthz`` (:meth:`alive`), else why not
        ("connection refused"), from one more request that names the reason."""
        limit = min(self.timeout_s, 5.0)
        if await self.alive(timeout_s=limit):
            return None
        try:
            await self.call("GET", "/healthz", timeout_s=limit)
        except EngineUnreachable as exc:
            return exc.reason
        except ApiError as exc:
            return f"it answers {exc.status}" if exc.status else exc.one_line()
        return None

    async def _request(self, method: str, path: str, body: BaseModel | None = None) -> Any:
        """One call, its JSON answer unparsed (for screens with their own models)."""
        raw = await self.call(method, path, body)
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError(f"{method} {path}: the engine did not answer JSON") from None

    async def history(  # type: ignore[override]
        self, device_id: str, metric: str
    ) -> list[tuple[datetime, float]]:
        """The points only (the TUI draws them)."""
        return (await super().history(device_id, metric)).points

    async def wall_decide(  # type: ignore[override]
        self, post_id: str, action: str, reason: str = ""
    ) -> int | None:
        """One decision on a post; its id (for undo)."""
        return (await super().wall_decide(post_id, action, reason)).decision

    async def wall_announcements(self) -> Announcements:  # type: ignore[override]
        return Announcements.of(await super().wall_announcements())


class TokenRefused(ApiError):
    """The engine refused the token (401/403): retrying cannot help, the app stops."""

    title = "Token refused"


def token_refused(base_url: str, exc: ApiError | NotAuthenticated | Forbidden) -> TokenRefused:
    status = getattr(exc, "status", None) or (403 if isinstance(exc, Forbidden) else 401)
    return TokenRefused(
        f"the engine at {base_url} refused the token ({status}): "
        "check --token (default env:EVENTOPS_TOKEN) or the config's token",
        status=status,
    )


OnEvent = Callable[[StreamEvent], Awaitable[None] | None]
OnState = Callable[[bool, str], Awaitable[None] | None]


async def _call(fn: Callable[..., Awaitable[None] | None], *args: Any) -> None:
    res = fn(*args)
    if res is not None:
        await res


class LiveStream:
    """Follows the live stream, reconnecting with ``Last-Event-ID`` after drops."""

    def __init__(
        self,
        api: Api,
        on_event: OnEvent,
        on_state: OnState,
        *,
        backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0),
        idle_timeout_s: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.api = api
        self.on_event = on_event
        self.on_state = on_state
        self.backoff_s = backoff_s
        self.idle_timeout_s = idle_timeout_s
        self._sleep = sleep
        self.last_id: str | None = None
        """The last stream id seen (``<epoch>-<n>``), sent back on reconnect."""
        self.connected = False
        self.alive: bool | None = None
        """After a drop: whether the engine still answers ``/healthz`` (None: not asked)."""
        self.down_reason = ""
        """Why the engine does not answer (when ``alive`` is False)."""

    async def run(self) -> None:
        """Run until cancelled, or until the engine refuses the token (:class:`TokenRefused`,
        after telling ``on_state``: a wrong token does not get better by retrying)."""
        attempt = 0
        while True:
            err = ""
            try:
                await self._follow()
                err = "the engine closed the stream"
            except TokenRefused as exc:
                self.connected, self.alive = False, True
                await _call(self.on_state, False, exc.one_line())
                raise
            except EngineUnreachable as exc:
                err = f"engine unreachable at {self.api.base_url}: {exc.reason}"
            except ApiError as exc:
                err = exc.one_line()
            except (aiohttp.ClientError, TimeoutError, ConnectionError):
                err = "the connection to the engine broke"  # words, not a class name
            if self.connected:
                attempt = 0
            self.connected = False
            # is the engine gone, or only the stream? (says which in the banner)
            why = await self.api.why_down()
            self.alive, self.down_reason = why is None, why or ""
            await _call(self.on_state, False, err)
            await self._sleep(self.backoff_s[min(attempt, len(self.backoff_s) - 1)])
            attempt += 1

    async def _opened(self) -> None:
        self.connected, self.alive, self.down_reason = True, True, ""
        await _call(self.on_state, True, "")

    async def _follow(self) -> None:
        try:
            async for msg in self.api.stream_once(
                self.last_id, idle_timeout_s=self.idle_timeout_s, on_open=self._opened
            ):
                await self._dispatch(msg)
        except StreamResync:
            # the server dropped us: forget the position, get a fresh snapshot
            self.last_id = None
            raise
        except (NotAuthenticated, Forbidden) as exc:
            raise token_refused(self.api.base_url, exc) from None

    async def _dispatch(self, msg: StreamMessage) -> None:
        self.last_id = msg.stream_id
        try:
            await _call(self.on_event, msg)
        except Exception:  # a bug in a consumer must not end the live stream
            log.exception("handling stream event %d (%s) failed", msg.id, msg.type[:40])
