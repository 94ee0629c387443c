"""Pydantic models of every ``/api/v1`` request and response body and of the live stream.

Requests are strict (``extra="forbid"``, no ``"yes"`` as true, no NaN or
infinity, bounded strings, numbers and lists). Responses forbid unknown fields
too, so a renamed server field fails the contract tests instead of becoming a
client-side default. Timestamps travel as ISO 8601 strings and parse to
aware :class:`~datetime.datetime`.

Names end in ``View`` (what the engine shows), ``Body`` (what a client sends)
or ``Result`` (what a write answers), so no name collides with the engine's
own classes.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from eventops.errors import InvalidRequest

# -- building blocks ----------------------------------------------------------------------

MAX_TEXT = 2000
"""Free text a person types (notes, reasons)."""
MAX_ID = 63
"""Device, link, authority and announcement ids (the profile's ``Id``)."""
MAX_INT_ID = 2**63 - 1
"""Row ids (alerts, silences, applies, decisions …) are SQLite integers."""

Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT)]
RowId = Annotated[int, Field(ge=1, le=MAX_INT_ID)]
MatcherKey = Annotated[str, StringConstraints(min_length=1, max_length=100)]
MatcherValue = Annotated[str, StringConstraints(max_length=300)]
HOSTPORT = r"^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$"
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kKmMgG]?)\s*$")
_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}

Role = Literal["technician", "authority", "comms"]
Severity = Literal["info", "warning", "critical"]


class RequestModel(BaseModel):
    """A request body: strict, closed, finite."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class ResponseModel(BaseModel):
    """A response body: closed, so drift between server and clients is caught."""

    model_config = ConfigDict(extra="forbid")


# -- errors -------------------------------------------------------------------------------


class DangerView(ResponseModel):
    """One change that needs a typed confirmation."""

    device: str
    path: str | None = None
    reason: str


class ErrorDetail(ResponseModel):
    code: str
    """A :class:`eventops.errors.RequestError` subclass's ``code`` (``invalid``,
    ``unauthenticated``, ``forbidden``, ``not_found``, ``conflict``,
    ``confirmation_needed``, ``unavailable``), or ``device`` / ``probe`` for a
    device or probe that failed behind the engine (502)."""
    message: str
    """One line naming what was wrong."""
    confirm: str | None = None
    """``confirmation_needed``: what to type to go ahead."""
    reasons: list[str] | None = None
    """``confirmation_needed``: why the change is dangerous, one line each."""
    dangerous: list[DangerView] | None = None
    """``confirmation_needed`` from provisioning: the dangerous changes."""
    field: str | None = None
    """``invalid``: the body or query field at fault (dotted)."""


class ErrorBody(ResponseModel):
    """Every 4xx/5xx answer of ``/api/v1``."""

    error: ErrorDetail


# -- who am I -----------------------------------------------------------------------------


class WhoAmIView(ResponseModel):
    name: str
    role: Role
    authority: str | None = None


# -- devices ------------------------------------------------------------------------------


class CheckView(ResponseModel):
    name: str
    level: str
    reason: str
    value: float | None = None


class CapabilitiesView(ResponseModel):
    """What the device's driver offers (:class:`eventops.adapters.base.Capabilities`)."""

    rollback_on_device: bool = False
    confirm_timeout: bool = False
    streams_events: bool = False
    reboot: bool = True
    partial_config: bool = True


class DeviceView(ResponseModel):
    id: str
    kind: Literal["mast", "switch", "media-converter"]
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
    checks: list[CheckView] = Field(default_factory=list)
    uplink: str | None = None
    capabilities: CapabilitiesView | None = None
    """The driver's verbs; None only from an engine that predates capabilities."""


class DeviceFactsView(ResponseModel):
    device: str
    vendor: str = ""
    model: str = ""
    firmware: str = ""
    serial: str = ""
    hostname: str = ""
    uptime_s: float = 0.0


class SystemView(ResponseModel):
    uptime_s: float
    load: tuple[float, float, float] | None = None
    memory_total: int | None = None
    memory_available: int | None = None


class WlanClientView(ResponseModel):
    mac: str
    signal_dbm: float | None = None
    noise_dbm: float | None = None
    rx_rate_kbps: float | None = None
    tx_rate_kbps: float | None = None
    connected_s: float | None = None
    inactive_ms: float | None = None


class RadioView(ResponseModel):
    name: str
    up: bool = True
    band: Literal["2g", "5g", "6g"] | None = None
    ssid: str = ""
    bssid: str = ""
    channel: int | None = None
    frequency_mhz: int | None = None
    width_mhz: int | None = None
    tx_power_dbm: float | None = None
    noise_dbm: float | None = None
    signal_dbm: float | None = None
    bitrate_kbps: float | None = None
    utilisation_pct: float | None = None
    clients: list[WlanClientView] = Field(default_factory=list)


class InterfaceView(ResponseModel):
    name: str
    oper_status: str = "UNKNOWN"
    admin_status: str = "UP"
    description: str = ""
    carrier: bool | None = None
    speed_mbps: float | None = None
    mtu: int | None = None
    in_octets: int = 0
    out_octets: int = 0
    in_errors: int = 0
    out_errors: int = 0
    in_discards: int = 0
    out_discards: int = 0
    in_fcs_errors: int = 0
    carrier_transitions: int = 0
    last_change: datetime | None = None


class OpticThresholdsView(ResponseModel):
    input_power_upper: float | None = None
    input_power_lower: float | None = None
    output_power_upper: float | None = None
    output_power_lower: float | None = None
    laser_bias_upper: float | None = None
    laser_bias_lower: float | None = None
    temperature_upper: float | None = None
    temperature_lower: float | None = None


class PeerOpticView(ResponseModel):
    """The far end of the link on this port, as last polled."""

    device: str
    port: str
    rx_power_dbm: tuple[float, ...] = ()
    tx_power_dbm: tuple[float, ...] = ()
    laser_bias_ma: tuple[float, ...] = ()
    temperature_c: float | None = None
    margin_db: float | None = None


class OpticView(ResponseModel):
    port: str
    present: bool = True
    form_factor: str = ""
    ethernet_pmd: str = ""
    vendor: str = ""
    serial: str = ""
    rx_power_dbm: tuple[float, ...] = ()
    tx_power_dbm: tuple[float, ...] = ()
    laser_bias_ma: tuple[float, ...] = ()
    temperature_c: float | None = None
    thresholds: dict[str, OpticThresholdsView] = Field(default_factory=dict)
    margin_db: float | None = None
    link: str | None = None
    peer: PeerOpticView | None = None


class DeviceDetailView(DeviceView):
    """:class:`DeviceView` plus the last polled status (empty before the first good poll)."""

    status_ts: datetime | None = None
    facts: DeviceFactsView | None = None
    system: SystemView | None = None
    radios: list[RadioView] = Field(default_factory=list)
    interfaces: list[InterfaceView] = Field(default_factory=list)
    optics: list[OpticView] = Field(default_factory=list)


class MaintenanceBody(RequestModel):
    on: bool
    note: Text = ""


class MaintenanceResult(ResponseModel):
    device: str
    maintenance: bool


class RebootResult(ResponseModel):
    device: str
    rebooting: bool


# -- links --------------------------------------------------------------------------------


class LinkEndView(ResponseModel):
    device: str
    port: str


class ProofView(ResponseModel):
    ts: datetime
    kind: str
    passed: bool | None = None
    throughput_mbps: float | None = None


class LinkView(ResponseModel):
    id: str
    name: str
    state: str
    since: datetime | None = None
    reason: str = ""
    health: str = "unknown"
    score: int = 0
    capacity_mbps: float | None = None
    optic: str | None = None
    in_mbps: float | None = None
    out_mbps: float | None = None
    utilisation_pct: float | None = None
    rate_note: str = ""
    """Why in/out/utilisation are None though both ends answer (e.g. "counter wrapped")."""
    rx_dbm: dict[str, float | None] = Field(default_factory=dict)
    margin_db: float | None = None
    baseline_dbm: dict[str, float | None] = Field(default_factory=dict)
    handed_to: str | None = None
    proof: ProofView | None = None
    stale: bool = False
    as_of: datetime | None = None
    stale_label: str = ""
    a: LinkEndView
    b: LinkEndView
    authorities: list[str] = Field(default_factory=list)
    checks: list[CheckView] = Field(default_factory=list)

    @property
    def rx_min(self) -> float | None:
        """The weaker end's receive power."""
        vals = [v for v in self.rx_dbm.values() if v is not None]
        return min(vals) if vals else None


class HandoverBody(RequestModel):
    to: Id


class HandoverView(ResponseModel):
    id: int | None = None
    ts: datetime
    link: str
    authority: str
    actor: str
    record: dict[str, Any] = Field(default_factory=dict)


class StatusLinkView(ResponseModel):
    """One row of the status page (``GET /api/v1/status``)."""

    id: str
    state: str
    stale: bool
    cells: dict[str, str]


class StatusView(ResponseModel):
    updated: str
    """The event's local time of day, ``HH:MM:SS``."""
    links: list[StatusLinkView]


# -- alerts, silences ---------------------------------------------------------------------


class AlertView(ResponseModel):
    id: int
    key: str
    severity: Severity
    subject: str
    summary: str
    state: Literal["open", "cleared", "flapping"] = "open"
    raised_at: datetime
    cleared_at: datetime | None = None
    acked_by: str | None = None
    ack_note: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    silenced: bool = False


class AckBody(RequestModel):
    note: Text = ""


class SilenceBody(RequestModel):
    matchers: dict[MatcherKey, MatcherValue] = Field(min_length=1, max_length=32)
    duration_s: float = Field(gt=0, le=7 * 86400)
    note: Text = ""


class SilenceView(ResponseModel):
    id: int
    matchers: dict[str, str]
    until: datetime
    by: str
    note: str = ""


class SilenceRemoved(ResponseModel):
    id: int
    removed: bool


# -- history, timeline, reload ------------------------------------------------------------


class HistoryView(ResponseModel):
    device: str
    metric: str
    points: list[tuple[datetime, float]]


class TimelineEntryView(ResponseModel):
    ts: datetime
    kind: str
    subject: str
    text: str
    data: dict[str, Any] = Field(default_factory=dict)


class ReloadResult(ResponseModel):
    added: list[str]
    removed: list[str]
    changed: list[str]


# -- probes -------------------------------------------------------------------------------


class StampBody(RequestModel):
    link: Id | None = None
    target: Annotated[str, StringConstraints(max_length=300, pattern=HOSTPORT)] | None = None
    count: int = Field(default=100, ge=1, le=100_000)
    interval: float = Field(default=0.01, ge=0, le=10)
    wait: float = Field(default=1.0, gt=0, le=60)

    @model_validator(mode="after")
    def _one(self) -> StampBody:
        if (self.link is None) == (self.target is None):
            raise ValueError("give exactly one of link and target")
        return self


class ThroughputBody(RequestModel):
    link: Id
    rate: float | Annotated[str, StringConstraints(min_length=1, max_length=40)]
    """bit/s at ``layer``: a number, or ``100M`` / ``1G``."""
    duration: float = Field(default=5.0, gt=0, le=3600)
    size: int = Field(default=1472, ge=64, le=9000)
    layer: Literal["l2", "udp-payload"] = "l2"
    batched: bool | None = None
    """None: batched above 50,000 packets/s, one datagram per send below."""

    def rate_bps(self) -> float:
        """The rate in bit/s; :class:`InvalidRequest` when it is not one (0 < rate ≤ 400G)."""
        if isinstance(self.rate, str):
            m = _RATE.match(self.rate)
            if not m:
                raise InvalidRequest(f"rate: {self.rate[:40]!r} is not a rate like 100M")
            value = float(m.group(1)) * _UNITS[m.group(2).lower()]
        else:
            value = float(self.rate)
        if not (math.isfinite(value) and 0 < value <= 400e9):
            raise InvalidRequest("rate: must be above 0 and at most 400G")
        return value


class AcceptBody(RequestModel):
    link: Id
    steps: list[Annotated[float, Field(gt=0, le=1000)]] = Field(
        default_factory=lambda: [25.0, 50.0, 75.0, 100.0], min_length=1, max_length=32
    )
    step_time: float = Field(default=5.0, gt=0, le=3600)
    hold: float = Field(default=900.0, ge=0, le=86_400)
    hold_pct: float = Field(default=100.0, gt=0, le=1000)
    rate_tolerance: float = Field(default=2.0, ge=0, le=50)
    search: bool = False
    search_loss: float | None = Field(default=None, ge=0, le=100)
    search_max: float = Field(default=100.0, gt=0, le=1000)
    search_time: float = Field(default=5.0, gt=0, le=3600)
    size: int = Field(default=1472, ge=64, le=9000)
    delay_from: Literal["stamp", "stream"] | None = None
    force: bool = False
    confirm: Annotated[str, StringConstraints(max_length=MAX_ID)] | None = None


class ProbeResultView(ResponseModel):
    """A stored probe result; ``result`` is the run's own document (STAMP,
    iperf3-shaped throughput, acceptance report)."""

    id: int | None = None
    ts: datetime
    target: str
    """Link id or host:port that was measured."""
    kind: str
    passed: bool | None = None
    result: dict[str, Any]


class RunningProbeView(ResponseModel):
    run: int
    kind: str
    target: str
    link: str | None = None
    actor: str = ""
    since: datetime | None = None


# -- provisioning -------------------------------------------------------------------------


class PlanBody(RequestModel):
    devices: list[Id] | None = Field(default=None, max_length=10_000)


class ApplyBody(RequestModel):
    devices: list[Id] | None = Field(default=None, max_length=10_000)
    confirm: Annotated[str, StringConstraints(max_length=200)] | None = None


class RollbackBody(RequestModel):
    apply_id: RowId
    confirm: Annotated[str, StringConstraints(max_length=200)] | None = None


class ChangeView(ResponseModel):
    path: str
    op: Literal["add", "change", "remove"]
    old: Any = None
    new: Any = None
    secret: bool = False


class DevicePlanView(ResponseModel):
    device: str
    kind: str
    site: str | None = None
    state: Literal["change", "unchanged", "unreachable", "error"]
    changes: list[ChangeView] = Field(default_factory=list)
    checksum: str | None = None
    reason: str | None = None
    notes: list[str] = Field(default_factory=list)


class PlanSummaryView(ResponseModel):
    change: int
    unchanged: int
    unreachable: int
    error: int
    text: str


class PlanView(ResponseModel):
    summary: PlanSummaryView
    order: list[list[str]]
    """The waves: devices in one wave are applied together, upstream first."""
    notes: list[str] = Field(default_factory=list)
    devices: list[DevicePlanView] = Field(default_factory=list)
    dangerous: list[DangerView] = Field(default_factory=list)
    confirm: str = ""


class ApplyStarted(ResponseModel):
    apply_id: int
    kind: str
    total: int


class RollbackStarted(ResponseModel):
    apply_id: int
    kind: str
    rollback_of: int


class ApplyRecordView(ResponseModel):
    id: int
    kind: str = "apply"
    actor: str = ""
    started_at: datetime
    finished_at: datetime | None = None
    state: str | None = None
    devices: list[str] = Field(default_factory=list)
    counts: dict[str, int] = Field(default_factory=dict)
    rollback_of: int | None = None


class ApplyDeviceResultView(ResponseModel):
    device: str
    result: str
    checksum: str | None = None
    state: str | None = None
    reason: str | None = None
    notes: list[str] = Field(default_factory=list)
    diff: list[ChangeView] = Field(default_factory=list)


class ApplyDetailView(ApplyRecordView):
    results: list[ApplyDeviceResultView] = Field(default_factory=list)


class RunningApplyView(ResponseModel):
    apply_id: int
    kind: str
    actor: str = ""
    done: int = 0
    total: int = 0


# -- the wall -----------------------------------------------------------------------------

PostState = Literal["pending", "approved", "rejected", "hidden", "taken_down"]
ManualAction = Literal["approve", "reject", "pin", "unpin", "take_down", "block_author"]


class DecisionView(ResponseModel):
    id: int | None = None
    post_id: str
    ts: datetime
    actor: str
    action: str
    reason: str = ""
    ref: int | None = None
    prev_state: str | None = None
    prev_pinned: bool | None = None


class PostView(ResponseModel):
    id: str
    source: str
    author: str
    author_name: str = ""
    text: str
    created_at: datetime
    state: PostState = "pending"
    pinned: bool = False
    data: dict[str, Any] = Field(default_factory=dict)

    def media_kinds(self) -> list[str]:
        """The kinds of attached media (photo, video, ...)."""
        media = self.data.get("media")
        if not isinstance(media, list):
            return []
        return [str(m.get("kind") or "?") for m in media if isinstance(m, dict)]


class QueuedPostView(PostView):
    """A post in the moderation queue with its last decision."""

    last_decision: DecisionView | None = None


class PostDetailView(PostView):
    decisions: list[DecisionView] = Field(default_factory=list)


class DecisionBody(RequestModel):
    action: ManualAction
    reason: Text = ""
    for_s: float | None = Field(default=None, gt=0, le=365 * 86400)
    """Only for block_author: how long the block holds."""
    expect: int | None = Field(default=None, ge=1, le=2**62)
    """The post's last decision the person saw: a newer one by someone else → 409."""


class DecisionResult(ResponseModel):
    decision: int | None
    post: PostView | None = None


class UndoBody(RequestModel):
    reason: Text = ""


class UndoResult(ResponseModel):
    decision: int | None


class AuthorBlockView(ResponseModel):
    author: str
    until: datetime | None = None
    actor: str
    reason: str = ""
    decision_id: int | None = None
    created_at: datetime


class WallListsView(ResponseModel):
    blocked_users: list[str]
    allowed_users: list[str]
    blocked_words: list[str]
    default_blocklist: bool
    blocked_domains: list[str]
    allowed_domains: list[str]
    author_blocks: list[AuthorBlockView]


class BlockBody(RequestModel):
    author: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    reason: Text = ""
    for_s: float | None = Field(default=None, gt=0, le=365 * 86400)


class BlockResult(ResponseModel):
    author: str
    blocked: Literal[True]
    decision: int | None
    posts: int


class UnblockResult(ResponseModel):
    author: str
    blocked: Literal[False]


class CountersView(ResponseModel):
    rules: dict[str, dict[str, int]]
    """Per rule (or ``source:<name>``): action → count."""
    people: dict[str, dict[str, int]]
    """Per moderator: action → count."""


class AnnouncementTemplateView(ResponseModel):
    """A prepared bilingual announcement (a template carries no issuer)."""

    id: str
    title_de: str
    text_de: str
    title_en: str
    text_en: str
    issued_by: str | None = None
    issued_at: datetime | None = None

    def title(self, lang: str) -> str:
        return self.title_de if lang == "de" else self.title_en

    def text(self, lang: str) -> str:
        return self.text_de if lang == "de" else self.text_en


class ActiveAnnouncementView(AnnouncementTemplateView):
    """The announcement on the screens: who issued it, when."""

    issued_by: str
    issued_at: datetime


class PausedView(ResponseModel):
    by: str
    at: datetime
    note: str = ""


class AnnouncementsView(ResponseModel):
    templates: list[AnnouncementTemplateView]
    active: ActiveAnnouncementView | None = None
    paused: PausedView | None = None


class IssueBody(RequestModel):
    id: Id


class WithdrawResult(ResponseModel):
    withdrawn: ActiveAnnouncementView | None


class PauseBody(RequestModel):
    on: bool
    note: Text = ""


class PauseResult(ResponseModel):
    paused: bool


class ForgetBody(RequestModel):
    author: Annotated[str, StringConstraints(min_length=1, max_length=300)]
    reason: Text = ""


class ForgetResult(ResponseModel):
    posts: int
    media: int


# -- the live stream ----------------------------------------------------------------------

StreamScope = Literal["device", "link", "event"]


class StreamEventView(ResponseModel):
    """The JSON ``data`` of every live-stream event except ``snapshot`` and ``resync``;
    the SSE ``id`` and ``event`` fields repeat ``id`` and ``type``."""

    id: int
    ts: datetime
    type: str
    """device, link, alert, handover, maintenance, reload, silence, probe.progress …"""
    subject: str
    """Device or link id, or "" for event-wide changes."""
    scope: StreamScope
    data: dict[str, Any] = Field(default_factory=dict)


class SnapshotView(ResponseModel):
    """The ``snapshot`` event: the whole visible state, sent first (or after a gap)."""

    devices: list[DeviceView]
    links: list[LinkView]
    alerts: list[AlertView]


class ResyncView(ResponseModel):
    """The ``resync`` event (empty): the client fell behind and must reconnect."""


class ProbeProgressData(ResponseModel):
    """``data`` of a ``probe.progress`` event (technicians only)."""

    model_config = ConfigDict(extra="allow")
    run: int
    kind: str
    target: str
    phase: Literal["start", "interval", "step", "done", "error"]


class ProbeEndedData(ResponseModel):
    """``data`` of a ``probe.ended`` event: the link or target is free again."""

    run: int
    kind: str
    target: str
