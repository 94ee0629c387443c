"""Alerts, silences, history, timeline, reload."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from eventops.api.models.common import (
    MatcherKey,
    MatcherValue,
    RequestModel,
    ResponseModel,
    Severity,
    Text,
)

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
    msg_id: str | None = None
    """``summary`` as a message id with ``params``: clients render it (eventops.i18n)."""
    params: dict[str, Any] = Field(default_factory=dict)
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
    next_cursor: str | None = None
    """More points follow: ask again with ``cursor`` set to this (see eventops.api.paging)."""


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
