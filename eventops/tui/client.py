"""The terminal app's client of the engine API: REST calls and the live stream.

Plain aiohttp and pydantic, no Textual: the app, the tests and the benchmark
share it. Payloads are validated into the models below (unknown fields are
ignored, so a newer engine does not break an older client). The client never
talks to devices.

:class:`LiveStream` follows ``/api/v1/stream`` (Server-Sent Events). It
remembers the last event id and reconnects with ``Last-Event-ID`` after a
drop, with a growing back-off; the server answers with the missed events or
a fresh snapshot. Every transport problem becomes an :class:`ApiError` or a
"disconnected" callback — never an exception out of the stream task.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from eventops.errors import ApiError

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)


class Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Check(Payload):
    name: str
    level: str
    reason: str
    value: float | None = None


class DeviceView(Payload):
    id: str
    kind: str
    site: str | None = None
    reachable: bool | None = None
    error: str = ""
    health: str = "unknown"
    score: int = 0
    reason: str = ""
    since: datetime | None = None
    stale: bool = False
    as_of: datetime | None = None
    stale_label: str = ""
    maintenance: bool = False
    interval_s: float = 0.0
    uptime_s: float | None = None
    clients: int | None = None
    checks: tuple[Check, ...] = ()
    uplink: str | None = None


class Client(Payload):
    mac: str
    signal_dbm: float | None = None
    rx_rate_kbps: float | None = None
    tx_rate_kbps: float | None = None
    connected_s: float | None = None


class Radio(Payload):
    name: str
    up: bool = True
    band: str | None = None
    ssid: str = ""
    channel: int | None = None
    width_mhz: int | None = None
    tx_power_dbm: float | None = None
    noise_dbm: float | None = None
    utilisation_pct: float | None = None
    clients: tuple[Client, ...] = ()


class Interface(Payload):
    name: str
    oper_status: str = "UNKNOWN"
    speed_mbps: float | None = None
    in_errors: int = 0
    out_errors: int = 0
    in_fcs_errors: int = 0
    carrier_transitions: int = 0


class PeerOptic(Payload):
    device: str
    port: str
    rx_power_dbm: tuple[float, ...] = ()
    tx_power_dbm: tuple[float, ...] = ()
    laser_bias_ma: tuple[float, ...] = ()
    temperature_c: float | None = None
    margin_db: float | None = None


class Optic(Payload):
    port: str
    present: bool = True
    rx_power_dbm: tuple[float, ...] = ()
    tx_power_dbm: tuple[float, ...] = ()
    laser_bias_ma: tuple[float, ...] = ()
    temperature_c: float | None = None
    margin_db: float | None = None
    link: str | None = None
    peer: PeerOptic | None = None


class Facts(Payload):
    vendor: str = ""
    model: str = ""
    firmware: str = ""
    serial: str = ""
    hostname: str = ""


class DeviceDetail(DeviceView):
    """A device with its last polled status (``GET /api/v1/devices/{id}``)."""

    facts: Facts | None = None
    radios: tuple[Radio, ...] = ()
    interfaces: tuple[Interface, ...] = ()
    optics: tuple[Optic, ...] = ()


class LinkEnd(Payload):
    device: str
    port: str


class Proof(Payload):
    ts: datetime
    kind: str
    passed: bool | None = None
    throughput_mbps: float | None = None


class LinkView(Payload):
    id: str
    name: str = ""
    state: str = "unknown"
    since: datetime | None = None
    reason: str = ""
    health: str = "unknown"
    score: int = 0
    capacity_mbps: float | None = None
    optic: str | None = None
    in_mbps: float | None = None
    out_mbps: float | None = None
    utilisation_pct: float | None = None
    rx_dbm: dict[str, float | None] = Field(default_factory=dict)
    """Receive power per end ("a", "b")."""
    margin_db: float | None = None
    """The smaller headroom of both ends above the optic's sensitivity."""
    baseline_dbm: dict[str, float | None] = Field(default_factory=dict)
    handed_to: str | None = None
    proof: Proof | None = None
    stale: bool = False
    as_of: datetime | None = None
    stale_label: str = ""
    a: LinkEnd | None = None
    b: LinkEnd | None = None
    authorities: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()

    @property
    def rx_min(self) -> float | None:
        """The weaker end's receive power."""
        vals = [v for v in self.rx_dbm.values() if v is not None]
        return min(vals) if vals else None


class AlertView(Payload):
    id: int
    key: str
    severity: Literal["info", "warning", "critical"]
    subject: str
    summary: str
    state: str = "open"
    raised_at: datetime
    cleared_at: datetime | None = None
    acked_by: str | None = None
    ack_note: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    silenced: bool = False


class TimelineEntry(Payload):
    ts: datetime
    kind: str
    subject: str
    text: str


class WhoAmI(Payload):
    name: str
    role: Literal["technician", "authority", "comms"]
    authority: str | None = None


class Snapshot(Payload):
    """The stream's first event; items are validated one by one (a bad one is skipped)."""

    devices: tuple[dict[str, Any], ...] = ()
    links: tuple[dict[str, Any], ...] = ()
    alerts: tuple[dict[str, Any], ...] = ()


class WallDecision(Payload):
    id: int | None = None
    ts: datetime
    actor: str
    """A person, ``rule:<name>`` or ``source:<name>``."""
    action: str
    reason: str = ""


class WallPost(Payload):
    """One post of the wall's moderation queue with its last decision."""

    id: str
    source: str
    author: str
    author_name: str = ""
    text: str = ""
    created_at: datetime
    state: str = "pending"
    pinned: bool = False
    data: dict[str, Any] = Field(default_factory=dict)
    last_decision: WallDecision | None = None

    def media_kinds(self) -> list[str]:
        """The kinds of attached media (photo, video, ...)."""
        media = self.data.get("media")
        if not isinstance(media, list):
            return []
        return [str(m.get("kind") or "?") for m in media if isinstance(m, dict)]


class Announcement(Payload):
    """A prepared bilingual announcement; the active one also says who issued it."""

    id: str
    title_de: str = ""
    text_de: str = ""
    title_en: str = ""
    text_en: str = ""
    issued_by: str | None = None
    issued_at: datetime | None = None

    def title(self, lang: str) -> str:
        return self.title_de if lang == "de" else self.title_en

    def text(self, lang: str) -> str:
        return self.text_de if lang == "de" else self.text_en


class Announcements(Payload):
    templates: tuple[Announcement, ...] = ()
    active: Announcement | None = None
    paused: bool = False
    """Whether the wall is paused (the server answers who paused it, or null)."""

    @field_validator("paused", mode="before")
    @classmethod
    def _paused(cls, v: Any) -> bool:
        return bool(v)


class ProbeRun(Payload):
    """A stored probe result (STAMP, throughput or acceptance)."""

    id: int | None = None
    ts: datetime
    target: str
    kind: str
    passed: bool | None = None
    result: dict[str, Any] = Field(default_factory=dict)


class RunningApply(Payload):
    """The apply (or rollback) running in the engine (``GET /api/v1/provision/running``)."""

    apply_id: int
    kind: str
    actor: str = ""
    done: int = 0
    total: int = 0


class RunningProbe(Payload):
    """A probe run in flight (``GET /api/v1/probe/running``)."""

    run: int
    kind: str
    target: str
    link: str | None = None
    actor: str = ""
    since: datetime | None = None


class StreamEvent(BaseModel):
    """One event of the live stream (``type`` is the SSE event name)."""

    id: int
    type: str
    data: dict[str, Any]


class Api:
    """REST calls of the engine API with one bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._own = session is None
        self._session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(timeout_s, 5.0))

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._own and self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}

    async def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        client_timeout: aiohttp.ClientTimeout | None = None,
    ) -> Any:
        url = self.base_url + path
        try:
            async with self.session.request(
                method, url, headers=self.headers, json=body, timeout=client_timeout or self.timeout
            ) as resp:
                text = await resp.text()
                if resp.status >= 400:
                    detail = text.strip().splitlines()[0][:200] if text.strip() else resp.reason
                    raise ApiError(f"{method} {path}: {resp.status} {detail}", status=resp.status)
                try:
                    return json.loads(text)
                except json.JSONDecodeError:
                    raise ApiError(f"{method} {path}: the engine did not answer JSON") from None
        except aiohttp.ClientError as exc:
            raise ApiError(
                f"engine at {self.base_url} unreachable: {exc.__class__.__name__}"
            ) from None
        except TimeoutError:
            raise ApiError(f"engine at {self.base_url} did not answer in time") from None

    async def _get(self, path: str, model: type[M]) -> M:
        return _validate(model, await self._request("GET", path), path)

    async def _get_list(self, path: str, model: type[M]) -> list[M]:
        raw = await self._request("GET", path)
        try:
            return TypeAdapter(list[model]).validate_python(raw)  # type: ignore[valid-type]
        except ValidationError as exc:
            raise ApiError(f"GET {path}: unexpected answer ({_first(exc)})") from None

    async def whoami(self) -> WhoAmI:
        return await self._get("/api/v1/whoami", WhoAmI)

    async def devices(self) -> list[DeviceView]:
        return await self._get_list("/api/v1/devices", DeviceView)

    async def device(self, device_id: str) -> DeviceDetail:
        return await self._get(f"/api/v1/devices/{quote(device_id, safe='')}", DeviceDetail)

    async def reboot(self, device_id: str) -> None:
        await self._request("POST", f"/api/v1/devices/{quote(device_id, safe='')}/reboot")

    async def links(self) -> list[LinkView]:
        return await self._get_list("/api/v1/links", LinkView)

    async def alerts(self, *, include_closed: bool = False) -> list[AlertView]:
        return await self._get_list(
            "/api/v1/alerts" + ("?all=1" if include_closed else ""), AlertView
        )

    async def ack(self, alert_id: int, note: str) -> AlertView:
        raw = await self._request("POST", f"/api/v1/alerts/{alert_id}/ack", {"note": note})
        return _validate(AlertView, raw, "ack")

    async def silence(self, matchers: dict[str, str], duration_s: float, note: str) -> None:
        await self._request(
            "POST",
            "/api/v1/silences",
            {"matchers": matchers, "duration_s": duration_s, "note": note},
        )

    async def maintenance(self, device_id: str, on: bool, note: str = "") -> None:
        await self._request(
            "POST", f"/api/v1/devices/{device_id}/maintenance", {"on": on, "note": note}
        )

    async def timeline(self) -> list[TimelineEntry]:
        return await self._get_list("/api/v1/timeline", TimelineEntry)

    async def history(self, device_id: str, metric: str) -> list[tuple[datetime, float]]:
        raw = await self._request("GET", f"/api/v1/history?device={device_id}&metric={metric}")
        try:
            pts = TypeAdapter(list[tuple[datetime, float]]).validate_python(raw["points"])
        except (ValidationError, KeyError, TypeError):
            raise ApiError("GET /api/v1/history: unexpected answer") from None
        return pts

    # -- the wall (comms decide, technicians read, authorities only announcements) ------------
    async def wall_queue(self, state: str = "pending", limit: int = 200) -> list[WallPost]:
        return await self._get_list(f"/api/v1/wall/queue?state={state}&limit={limit}", WallPost)

    async def wall_decide(self, post_id: str, action: str, reason: str = "") -> int | None:
        """One decision on a post; its id (for undo)."""
        raw = await self._request(
            "POST",
            f"/api/v1/wall/posts/{quote(post_id, safe='')}/decisions",
            {"action": action, "reason": reason},
        )
        did = raw.get("decision") if isinstance(raw, dict) else None
        return did if isinstance(did, int) else None

    async def wall_undo(self, decision_id: int, reason: str = "") -> None:
        await self._request(
            "POST", f"/api/v1/wall/decisions/{decision_id}/undo", {"reason": reason}
        )

    async def wall_announcements(self) -> Announcements:
        return await self._get("/api/v1/wall/announcements", Announcements)

    async def wall_issue(self, announcement_id: str) -> Announcement:
        raw = await self._request("POST", "/api/v1/wall/announcements", {"id": announcement_id})
        return _validate(Announcement, raw, "announcement")

    async def wall_withdraw(self) -> None:
        await self._request("DELETE", "/api/v1/wall/announcements/active")

    async def wall_pause(self, on: bool, note: str = "") -> None:
        await self._request("POST", "/api/v1/wall/pause", {"on": on, "note": note})

    # -- probes (technicians; a run holds its request until it is done) -----------------------
    async def _probe(self, path: str, body: dict[str, Any], expect_s: float) -> ProbeRun:
        timeout = aiohttp.ClientTimeout(total=expect_s + 60.0, sock_connect=5.0)
        raw = await self._request("POST", f"/api/v1/probe/{path}", body, timeout)
        return _validate(ProbeRun, raw, f"probe {path}")

    async def probe_stamp(self, link: str, count: int = 100, interval: float = 0.01) -> ProbeRun:
        body = {"link": link, "count": count, "interval": interval}
        return await self._probe("stamp", body, count * interval + 2.0)

    async def probe_throughput(self, link: str, rate: str, duration: float = 5.0) -> ProbeRun:
        body = {"link": link, "rate": rate, "duration": duration}
        return await self._probe("throughput", body, duration + 5.0)

    async def probe_accept(self, link: str, step_time: float = 5.0, hold: float = 60.0) -> ProbeRun:
        body = {"link": link, "step_time": step_time, "hold": hold}
        return await self._probe("accept", body, 4 * step_time + hold + 10.0)

    async def probe_results(self, link: str) -> list[ProbeRun]:
        return await self._get_list(f"/api/v1/probe/results?link={quote(link, safe='')}", ProbeRun)

    async def provision_running(self) -> RunningApply | None:
        raw = await self._request("GET", "/api/v1/provision/running")
        return None if raw is None else _validate(RunningApply, raw, "/api/v1/provision/running")

    async def probes_running(self) -> list[RunningProbe]:
        return await self._get_list("/api/v1/probe/running", RunningProbe)


def _first(exc: ValidationError) -> str:
    e = exc.errors()[0]
    return ".".join(str(p) for p in e["loc"]) + ": " + e["msg"]


def _validate(model: type[M], raw: Any, what: str) -> M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(f"{what}: unexpected answer from the engine ({_first(exc)})") from None


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
        self.last_id: int | None = None
        self.connected = False

    async def run(self) -> None:
        """Run until cancelled."""
        attempt = 0
        while True:
            err = ""
            try:
                await self._follow()
                err = "the engine closed the stream"
            except ApiError as exc:
                err = exc.one_line()
            except (aiohttp.ClientError, TimeoutError, ConnectionError) as exc:
                err = f"connection to the engine lost ({exc.__class__.__name__})"
            if self.connected:
                attempt = 0
            self.connected = False
            await _call(self.on_state, False, err)
            await self._sleep(self.backoff_s[min(attempt, len(self.backoff_s) - 1)])
            attempt += 1

    async def _follow(self) -> None:
        headers = dict(self.api.headers, Accept="text/event-stream")
        if self.last_id is not None:
            headers["Last-Event-ID"] = str(self.last_id)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5.0, sock_read=self.idle_timeout_s)
        async with self.api.session.get(
            self.api.base_url + "/api/v1/stream", headers=headers, timeout=timeout
        ) as resp:
            if resp.status in (401, 403):
                raise ApiError(f"the engine refused the token ({resp.status})", status=resp.status)
            if resp.status != 200:
                raise ApiError(f"live stream: HTTP {resp.status}", status=resp.status)
            self.connected = True
            await _call(self.on_state, True, "")
            fields: dict[str, str] = {}
            data: list[str] = []
            while True:
                raw = await resp.content.readline()
                if not raw:
                    return
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line == "":
                    if data or fields:
                        await self._dispatch(fields, "\n".join(data))
                    fields, data = {}, []
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "data":
                    data.append(value)
                else:
                    fields[name] = value

    async def _dispatch(self, fields: dict[str, str], data: str) -> None:
        kind = fields.get("event", "message")
        try:
            event_id = int(fields.get("id", ""))
            payload = json.loads(data) if data else {}
        except (ValueError, json.JSONDecodeError):
            log.warning("skipping a malformed stream event (%s)", kind[:40])
            return
        if not isinstance(payload, dict):
            return
        if kind == "resync":
            # the server dropped us: forget the position, get a fresh snapshot
            self.last_id = None
            raise ApiError("the live stream fell behind; resynchronising")
        self.last_id = event_id
        try:
            await _call(self.on_event, StreamEvent(id=event_id, type=kind, data=payload))
        except Exception:  # a bug in a consumer must not end the live stream
            log.exception("handling stream event %d (%s) failed", event_id, kind[:40])
