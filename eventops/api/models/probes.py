"""Link probes: STAMP, throughput, acceptance runs."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from eventops.api.models.common import (
    _RATE,
    _UNITS,
    HOSTPORT,
    MAX_ID,
    Id,
    RequestModel,
    ResponseModel,
)
from eventops.errors import InvalidRequest

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
