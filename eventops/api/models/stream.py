"""The live stream's events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from eventops.api.models.alerts import AlertView
from eventops.api.models.common import ResponseModel
from eventops.api.models.devices import (
    DeviceView,
    LinkView,
)

# -- the live stream ----------------------------------------------------------------------

StreamScope = Literal["device", "link", "event", "wall"]


class StreamEventView(ResponseModel):
    """The JSON ``data`` of every live-stream event except ``snapshot`` and ``resync``;
    the SSE ``id`` and ``event`` fields repeat ``id`` and ``type``."""

    id: int
    ts: datetime
    type: str
    """device, link, alert.* (alert.silenced and alert.unsilenced when a silence is added
    or removed), handover, maintenance, reload, silence, probe.progress, wall …"""
    subject: str
    """Device or link id, or "" for event-wide changes."""
    scope: StreamScope
    data: dict[str, Any] = Field(default_factory=dict)


class SnapshotView(ResponseModel):
    """The ``snapshot`` event: the whole visible state, sent first (or after a gap)."""

    devices: list[DeviceView]
    links: list[LinkView]
    alerts: list[AlertView]


class WallChangedData(ResponseModel):
    """``data`` of a ``wall`` event (scope ``wall``): which part of the wall changed."""

    what: Literal["queue", "announcement", "pause"]


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
