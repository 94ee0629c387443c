"""What plan and apply report: progress events, per-device plans and results, options.

Shared by the in-process provisioner (:mod:`eventops.provision.apply`), the
engine's provisioning service and the clients that show a run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from eventops.adapters.base import Change
from eventops.provision.steps import SITE_VISIT as SITE_VISIT
from eventops.provision.steps import DevState
from eventops.provision.steps import Result as Result

State = DevState
"""Which config a device ends at."""

# -- progress and maintenance hooks --------------------------------------------


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a plan or apply, for a progress bar or the engine's event stream."""

    phase: str
    """reading, planned, waiting, staging, committing, verifying, confirming,
    rolling-back, restoring, done; ``start``/``finish`` for the whole run."""
    device: str | None = None
    message: str = ""
    done: int = 0
    total: int = 0
    result: str | None = None
    apply_id: int | None = None
    """Set on ``start``: the id the apply is recorded under."""


Progress = Callable[[ProgressEvent], None]


class Maintenance(Protocol):
    """Devices under apply are in maintenance: the monitor raises no alerts for them."""

    async def enter(self, device: str, reason: str) -> None: ...

    async def leave(self, device: str) -> None: ...


class NoMaintenance:
    async def enter(self, device: str, reason: str) -> None:
        return None

    async def leave(self, device: str) -> None:
        return None


class ProgressQueue:
    """A progress callback that feeds an asyncio queue (an event stream for an API)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ProgressEvent] = asyncio.Queue()

    def __call__(self, event: ProgressEvent) -> None:
        self.queue.put_nowait(event)


# -- reports -----------------------------------------------------------------


class DevicePlan(BaseModel):
    device: str
    kind: str
    site: str | None = None
    state: Literal["change", "unchanged", "unreachable", "error"]
    changes: list[Change] = Field(default_factory=list)
    checksum: str | None = None
    """Of the running config as read now."""
    reason: str | None = None
    notes: list[str] = Field(default_factory=list)

    def render(self) -> str:
        return "\n".join(c.render() for c in self.changes)


class PlanReport(BaseModel):
    devices: list[DevicePlan]
    waves: list[list[str]]
    notes: list[str] = Field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for d in self.devices if d.state == state)

    def summary(self) -> str:
        parts = [
            f"{self.count('change')} to change",
            f"{self.count('unchanged')} unchanged",
            f"{self.count('unreachable')} unreachable",
        ]
        if self.count("error"):
            parts.append(f"{self.count('error')} with errors")
        return ", ".join(parts)


class DeviceResult(BaseModel):
    device: str
    result: Result
    state: State
    """Which config the device ends at: the new one, the old one, or unknown."""
    reason: str | None = None
    changes: list[Change] = Field(default_factory=list)
    checksum: str | None = None
    """Of the config read back from the device at the end."""
    notes: list[str] = Field(default_factory=list)


class ApplyReport(BaseModel):
    apply_id: int
    kind: Literal["apply", "rollback"] = "apply"
    rollback_of: int | None = None
    actor: str
    started_at: datetime
    finished_at: datetime | None = None
    devices: list[DeviceResult] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.devices:
            out[d.result] = out.get(d.result, 0) + 1
        return out

    @property
    def ok(self) -> bool:
        return all(d.result in ("applied", "unchanged") for d in self.devices)

    def summary(self) -> str:
        c = self.counts()
        order = [
            "applied",
            "unchanged",
            "rolled_back",
            "restored",
            "failed",
            "unreachable",
            "skipped",
            "unknown",
        ]
        parts = [f"{c[k]} {k.replace('_', ' ')}" for k in order if c.get(k)]
        new = sum(1 for d in self.devices if d.state == "new")
        old = sum(1 for d in self.devices if d.state == "old")
        unknown = sum(1 for d in self.devices if d.state == "unknown")
        tail = f"{new} at the new config, {old} at the old one"
        if unknown:
            tail += f", {unknown} unknown (site visit needed)"
        return f"{', '.join(parts) or 'nothing to do'} — {tail}"


class DriftRow(BaseModel):
    device: str
    state: Literal["in-sync", "drifted", "never-applied", "unreachable", "error"]
    apply_id: int | None = None
    recorded: str | None = None
    running: str | None = None
    changes: list[Change] = Field(default_factory=list)
    reason: str | None = None


@dataclass(frozen=True)
class ApplyOptions:
    confirm_timeout_s: float = 60.0
    """The device's rollback timer; the change is confirmed well within it."""
    poll_s: float = 1.0
    """How often to ask a device that does not answer (yet)."""
    recover_s: float | None = None
    """How long after its rollback timer a device may take to answer again
    (default: twice the confirm timeout)."""
    concurrency: int = 32
    device_timeout_s: float | None = None
    """Per-request timeout; default the device's ``management.timeout_s``."""
