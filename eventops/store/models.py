"""Stored rows: the pydantic models that cross the store boundary."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator


def utc(ts: datetime) -> datetime:
    """``ts`` as aware UTC (naive values are taken to be UTC already)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


class Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, v: Any) -> Any:
        return utc(v) if isinstance(v, datetime) else v


class DeviceRow(Row):
    id: str
    kind: Literal["mast", "switch", "media-converter"]
    driver: str
    site: str | None = None
    address: str


class Sample(Row):
    ts: datetime
    device: str
    metric: str
    value: float

    @classmethod
    def at_ms(cls, ts_ms: int, device: str, metric: str, value: float) -> Sample:
        """A sample stamped with milliseconds since the epoch, as both stores keep it."""
        return cls(ts=datetime.fromtimestamp(ts_ms / 1000, UTC), device=device, metric=metric,
                   value=value)  # fmt: skip


class AlertRow(Row):
    id: int | None = None
    key: str
    """Stable identity of the condition, e.g. ``link:fibre-police:down``."""
    severity: Literal["info", "warning", "critical"]
    subject: str
    """Device or link id the alert is about."""
    summary: str
    state: Literal["open", "cleared", "flapping"] = "open"
    raised_at: datetime
    cleared_at: datetime | None = None
    acked_by: str | None = None
    ack_note: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    msg_id: str | None = None
    """The summary as a catalogue message (:mod:`eventops.i18n`); None for rows from before."""
    params: dict[str, Any] = Field(default_factory=dict)


class SilenceRow(Row):
    """A silence: alerts matching every matcher are not sent to the webhook until ``until``."""

    id: int | None = None
    matchers: dict[str, str]
    until: datetime
    actor: str
    note: str = ""
    created_at: datetime
    removed_at: datetime | None = None
    removed_by: str | None = None


class ProbeResultRow(Row):
    id: int | None = None
    ts: datetime
    target: str
    """Link id or host:port that was measured."""
    kind: str
    """stamp, throughput, iperf3, acceptance ..."""
    passed: bool | None = None
    result: dict[str, Any]


class PostRow(Row):
    id: str
    """Source-qualified id, e.g. ``x:1790000000000000000`` or ``mastodon:1123``."""
    source: str
    author: str
    author_name: str = ""
    text: str
    created_at: datetime
    state: Literal["pending", "approved", "rejected", "hidden", "taken_down"] = "pending"
    pinned: bool = False
    data: dict[str, Any] = Field(default_factory=dict)


class DecisionRow(Row):
    id: int | None = None
    post_id: str
    ts: datetime
    actor: str
    """A user name, or ``rule:<name>`` for an automatic decision."""
    action: str
    reason: str = ""
    """In English (what scripts read); a person's reason as they typed it."""
    reason_id: str | None = None
    """``reason`` as a message id with ``reason_params`` (eventops.i18n), for a reason the
    code wrote (a rule's, a source's, an undo's)."""
    reason_params: dict[str, Any] = Field(default_factory=dict)
    ref: int | None = None
    """Another decision this one belongs to (a block's hides) or undoes."""
    prev_state: str | None = None
    """The post's state just before this decision (filled in by the store)."""
    prev_pinned: bool | None = None


class AuthorBlockRow(Row):
    author: str
    """An author key as the moderation chain compares it (``x:alice``, ``alice``)."""
    until: datetime | None = None
    """Expiry; None: until lifted."""
    actor: str
    reason: str = ""
    decision_id: int | None = None
    created_at: datetime


class ApplyRow(Row):
    id: int | None = None
    started_at: datetime
    finished_at: datetime | None = None
    actor: str
    summary: dict[str, Any] = Field(default_factory=dict)


class ApplyDeviceRow(Row):
    device: str
    result: str
    checksum: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class PendingRestoreRow(Row):
    """A restore an apply armed before committing to a device that cannot roll back by
    itself: carried out at ``deadline`` unless the apply confirms or restores first."""

    device: str
    site: str
    """The site lock the device's applies take (``_event`` for devices without a site)."""
    apply_id: int
    driver: str
    armed_at: datetime
    deadline: datetime
    previous: dict[str, Any]
    """The values to put back (secret leaves left out: see ``withheld``)."""
    withheld: list[str] = Field(default_factory=list)
    """Paths of secret values not persisted: they cannot be restored after a restart."""


class AuditEntry(Row):
    id: int
    ts: datetime
    actor: str
    action: str
    target: str
    before: Any = None
    after: Any = None
    prev_hash: str
    hash: str
    mac: str | None = None
    """HMAC-SHA256 keyed chain (None: written without an audit key)."""

    @classmethod
    def of_row(cls, r: StoredRow, ts: datetime, *, with_mac: bool = True) -> AuditEntry:
        """An entry from a stored audit row (``before``/``after`` as JSON text), stamped ``ts``
        (each store keeps the time its own way); ``with_mac=False`` for a table without it."""
        return cls(id=r["id"], ts=ts, actor=r["actor"], action=r["action"], target=r["target"],
                   before=_json_or_none(r["before"]), after=_json_or_none(r["after"]),
                   prev_hash=r["prev_hash"], hash=r["hash"],
                   mac=r["mac"] if with_mac else None)  # fmt: skip


class StoredRow(Protocol):
    """A database row read by column name (sqlite3.Row, asyncpg.Record, a dict)."""

    def __getitem__(self, key: str, /) -> Any: ...


def _json_or_none(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class HandoverRow(Row):
    id: int | None = None
    ts: datetime
    link: str
    authority: str
    actor: str
    """Who handed the link over."""
    record: dict[str, Any] = Field(default_factory=dict)
    """Both ends' optics as the baseline, the latest acceptance result, the link's facts."""
