"""Devices and links."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from eventops.api.models.common import (
    Id,
    RequestModel,
    ResponseModel,
    Text,
)

# -- devices ------------------------------------------------------------------------------


class CheckView(ResponseModel):
    name: str
    level: str
    reason: str
    """In English, for scripts; clients render ``msg_id`` with ``params`` (eventops.i18n)."""
    value: float | None = None
    msg_id: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class CapabilitiesView(ResponseModel):
    """What the device's driver offers (:class:`eventops.adapters.base.Capabilities`)."""

    rollback_on_device: bool = False
    confirm_timeout: bool = False
    streams_events: bool = False
    reboot: bool = True
    partial_config: bool = True


class LocationView(ResponseModel):
    """Where a device stands, from the profile (WGS 84 degrees; either may be unset)."""

    lat: float | None = None
    lon: float | None = None
    description: str = ""


class DeviceView(ResponseModel):
    id: str
    kind: Literal["mast", "switch", "media-converter"]
    site: str | None = None
    reachable: bool | None = None
    error: str = ""
    error_id: str | None = None
    """Why the last poll failed, as a message id (``error`` is the English detail)."""
    error_params: dict[str, Any] = Field(default_factory=dict)
    health: str = "unknown"
    score: int = 0
    reason: str = ""
    reason_id: str | None = None
    """``reason`` as a message id with ``reason_params`` (eventops.i18n)."""
    reason_params: dict[str, Any] = Field(default_factory=dict)
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
    location: LocationView | None = None
    """The profile's location (None from an engine that predates it)."""
    source: Literal["this", "active"] | None = None
    """Whose reading this is: this engine's own polls (``this``), or, on a standby that
    polls nothing, the ``active`` engine's last stored one (from ``stored_at``; the
    verdict from its open alerts, no checks). None before any reading."""
    stored_at: datetime | None = None
    """``source`` ``active``: the time of the stored reading (the active engine's poll)."""


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
    lat: float | None = None
    lon: float | None = None
    """Where the end's device stands (for drawing the link on a map; no description)."""


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
    reason_id: str | None = None
    """``reason`` as a message id with ``reason_params`` (eventops.i18n)."""
    reason_params: dict[str, Any] = Field(default_factory=dict)
    health: str = "unknown"
    score: int = 0
    capacity_mbps: float | None = None
    optic: str | None = None
    in_mbps: float | None = None
    out_mbps: float | None = None
    utilisation_pct: float | None = None
    rate_note: str = ""
    """Why in/out/utilisation are None though both ends answer (e.g. "counter wrapped")."""
    rate_note_id: str | None = None
    """``rate_note`` as a message id with ``rate_note_params`` (eventops.i18n)."""
    rate_note_params: dict[str, Any] = Field(default_factory=dict)
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
    source: Literal["this", "active"] | None = None
    """Whose reading this is: this engine's own polls (``this``), or, on a standby that
    polls nothing, the ``active`` engine's last stored one (from ``stored_at``; the
    verdict from its open alerts, no checks). None before any reading."""
    stored_at: datetime | None = None
    """``source`` ``active``: the time of the stored reading (the active engine's poll)."""

    @property
    def rx_min(self) -> float | None:
        """The weaker end's receive power."""
        vals = [v for v in self.rx_dbm.values() if v is not None]
        return min(vals) if vals else None


class HandoverBody(RequestModel):
    to: Id
    force: bool = False
    """Hand over without a passing acceptance newer than the last change (needs ``reason``)."""
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None
    """Why a forced handover goes ahead (cleaned to one line; audited, on the report)."""


class HandoverView(ResponseModel):
    unproven: str | None = None
    """Set when the link was handed over without proof: who forced it, why it was
    unproven and the reason given (first, so the record's first line says so)."""
    id: int | None = None
    ts: datetime
    link: str
    authority: str
    actor: str
    record: dict[str, Any] = Field(default_factory=dict)
    audit_checkpoint: dict[str, Any] | None = None
    """In the answer to a handover, with an audit key: the signed audit head right after
    it (``eventops audit verify --checkpoint`` reads it from a saved answer or report)."""


class StatusLinkView(ResponseModel):
    """One row of the status page (``GET /api/v1/status``)."""

    id: str
    state: str
    stale: bool
    cells: dict[str, str]


class StatusView(ResponseModel):
    updated: str
    """The event's local time of day with its zone, ``HH:MM:SS CEST``."""
    links: list[StatusLinkView]
