"""Provisioning: plan, apply, rollback."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from eventops.api.models.common import (
    DangerView,
    Id,
    RequestModel,
    ResponseModel,
    RowId,
)

# -- provisioning -------------------------------------------------------------------------


class PlanBody(RequestModel):
    devices: list[Id] | None = Field(default=None, max_length=10_000)


ConfirmTimeout = Annotated[float, Field(ge=1, le=3600, allow_inf_nan=False)]
"""Seconds a device keeps an unconfirmed change (the rollback timer); the engine's own
setting when left out."""


class ApplyBody(RequestModel):
    devices: list[Id] | None = Field(default=None, max_length=10_000)
    confirm: Annotated[str, StringConstraints(max_length=200)] | None = None
    confirm_timeout_s: ConfirmTimeout | None = None


class RollbackBody(RequestModel):
    apply_id: RowId
    confirm: Annotated[str, StringConstraints(max_length=200)] | None = None
    confirm_timeout_s: ConfirmTimeout | None = None


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
