"""The link acceptance report: what :mod:`eventops.probe.acceptance` measured and decided.

Part of the API contract: an acceptance run's stored probe result (``kind`` ``acceptance``,
:class:`eventops.api.models.ProbeResultView`) is this document, so the engine writes it and
every client (TUI, CLI) reads it with the same models. Not re-exported by
:mod:`eventops.api.models`: these are the probe's document, not route bodies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from eventops.i18n import Msg


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Figures(_M):
    """What one measurement at one rate found."""

    target_bps: float = Field(ge=0)
    """The rate asked for, at ``layer``."""
    layer: str = "l2"
    duration_s: float = Field(gt=0)
    sent_packets: int = Field(ge=0)
    received_packets: int = Field(ge=0)
    """Distinct packets delivered (duplicates not counted)."""
    duplicated: int = Field(default=0, ge=0)
    reordered: int = Field(default=0, ge=0)
    sender_bps: float = Field(ge=0)
    """Achieved sending rate at ``layer``."""
    receiver_bps: float = Field(ge=0)
    """Delivered rate at ``layer``."""
    delay_ms: float | None = None
    """Mean frame delay, or None if not measured (see ``methods``)."""
    delay_p99_ms: float | None = None
    jitter_ms: float | None = None
    """RFC 3550 interarrival jitter, or None if not measured."""
    methods: dict[str, str] = Field(default_factory=dict)
    """Which method produced each figure."""
    method_msgs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """``methods`` as messages (``{"msg_id", "params"}``, eventops.i18n) for other languages."""

    @property
    def lost_packets(self) -> int:
        return max(0, self.sent_packets - self.received_packets)

    @property
    def loss_pct(self) -> float:
        return 100.0 * self.lost_packets / self.sent_packets if self.sent_packets else 100.0


class AcceptanceConfig(_M):
    steps_pct: list[float] = Field(default_factory=lambda: [25.0, 50.0, 75.0, 100.0])
    """Y.1564 steps in percent of the contracted capacity."""
    step_duration_s: float = Field(default=5.0, gt=0, le=3600)
    hold_duration_s: float = Field(default=900.0, ge=0, le=86_400)
    """Sustained test at the contracted rate; 0 skips it."""
    hold_pct: float = Field(default=100.0, gt=0, le=1000)
    rate_tolerance_pct: float = Field(default=2.0, ge=0, le=50)
    """Sent and delivered rates may fall this far below the target."""
    search: bool = False
    """Also run the RFC 2544-style throughput search."""
    search_loss_pct: float | None = Field(default=None, ge=0, le=100)
    """Loss allowed in a search trial; default: the SLA's loss."""
    search_min_pct: float = Field(default=10.0, gt=0, le=1000)
    search_max_pct: float = Field(default=100.0, gt=0, le=1000)
    search_resolution_pct: float = Field(default=1.0, gt=0, le=50)
    search_trial_s: float = Field(default=5.0, gt=0, le=3600)
    search_max_trials: int = Field(default=12, ge=1, le=64)

    @model_validator(mode="after")
    def _check(self) -> AcceptanceConfig:
        if not self.steps_pct:
            raise ValueError("steps_pct needs at least one step")
        if any(not 0 < p <= 1000 for p in self.steps_pct):
            raise ValueError("steps_pct values must be in (0, 1000]")
        if self.search_min_pct >= self.search_max_pct:
            raise ValueError("search_min_pct must be below search_max_pct")
        return self

    def max_pct(self) -> float:
        pcts = list(self.steps_pct)
        if self.hold_duration_s > 0:
            pcts.append(self.hold_pct)
        if self.search:
            pcts.append(self.search_max_pct)
        return max(pcts)


class Check(_M):
    name: Literal["rate", "loss", "delay", "jitter"]
    value: float | None
    limit: float
    unit: str
    passed: bool
    note: str = ""
    note_msg: dict[str, Any] | None = None
    """``note`` as a message (``{"msg_id", "params"}``, eventops.i18n)."""

    def failure_msg(self) -> Msg:
        """Why this check failed, as a message (``StepResult.failures`` in English)."""
        if self.name == "rate":
            return Msg("probe.fail.rate", {"value": self.value, "limit": self.limit})
        return Msg(
            "probe.fail.limit",
            {"name": self.name, "value": self.value, "unit": self.unit, "limit": self.limit},
        )


class StepResult(_M):
    name: str
    """``25%`` ... ``100%`` for steps, ``hold`` for the sustained test."""
    kind: Literal["step", "hold"]
    pct: float
    target_bps: float
    duration_s: float
    passed: bool
    checks: list[Check] = Field(default_factory=list)
    figures: Figures | None = None
    error: str | None = None
    """Why the measurement itself failed (then ``figures`` is None)."""
    error_msg: dict[str, Any] | None = None
    """``error`` as a message (``{"msg_id", "params"}``, eventops.i18n), when it has one."""

    def failures(self) -> list[str]:
        if self.error:
            return [self.error]
        return [f"{c.name} {_fmt(c.value)} {c.unit} > {_fmt(c.limit)} {c.unit}" if c.name != "rate"
                else f"rate {_fmt(c.value)} % of target < {_fmt(c.limit)} %"
                for c in self.checks if not c.passed]  # fmt: skip

    def failure_msgs(self) -> list[Msg]:
        """:meth:`failures` as messages, for readers in other languages."""
        if self.error:
            return [as_msg(self.error_msg, self.error)]
        return [c.failure_msg() for c in self.checks if not c.passed]


class Trial(_M):
    rate_bps: float
    pct: float
    loss_pct: float | None
    passed: bool
    note: str = ""
    note_msg: dict[str, Any] | None = None
    """``note`` as a message (``{"msg_id", "params"}``, eventops.i18n)."""


class SearchResult(_M):
    loss_threshold_pct: float
    resolution_bps: float
    highest_bps: float | None
    """Highest rate that passed; None if even the lowest failed."""
    highest_pct: float | None
    trials: list[Trial] = Field(default_factory=list)


class AcceptanceResult(_M):
    link: str
    capacity_bps: float
    layer: str = "l2"
    sla: dict[str, float]
    config: AcceptanceConfig
    actor: str
    started_at: datetime
    finished_at: datetime | None = None
    handed_over_to: str | None = None
    forced: bool = False
    steps: list[StepResult] = Field(default_factory=list)
    hold: StepResult | None = None
    search: SearchResult | None = None
    passed: bool = False
    failed_step: str | None = None
    outcome: Literal["passed", "failed", "aborted"] = "failed"
    throughput_mbps: float | None = None
    """Delivered rate of the last passed test at the contracted rate (hold, else the
    100 % step), else of the highest passed step; Mbit/s at ``layer``."""

    def summary_lines(self) -> list[str]:
        lines = []
        for s in [*self.steps, *([self.hold] if self.hold else [])]:
            f = s.figures
            figs = (
                f"sent {f.sender_bps / 1e6:.2f} rx {f.receiver_bps / 1e6:.2f} Mbit/s, "
                f"loss {f.loss_pct:.3f} %, delay {_fmt(f.delay_ms)} ms, "
                f"jitter {_fmt(f.jitter_ms)} ms"
                if f
                else "no figures"
            )
            verdict = "PASS" if s.passed else "FAIL: " + "; ".join(s.failures())
            lines.append(f"{s.name:>5} {s.target_bps / 1e6:9.2f} Mbit/s  {figs}  {verdict}")
        if self.search:
            hi = self.search.highest_bps
            lines.append(
                "search: highest rate with loss <= "
                f"{self.search.loss_threshold_pct:g} %: "
                + (f"{hi / 1e6:.2f} Mbit/s ({self.search.highest_pct:.1f} %)" if hi else "none")
            )
        lines.append(
            f"{self.link}: "
            + ("PASSED" if self.passed else f"FAILED at {self.failed_step or self.outcome}")
        )
        return lines

    def summary_msgs(self) -> list[Msg]:
        """:meth:`summary_lines` as messages, for readers in other languages."""
        out = []
        for s in [*self.steps, *([self.hold] if self.hold else [])]:
            f = s.figures
            figs = (
                Msg(
                    "probe.acc.figures",
                    {
                        "sent": f.sender_bps / 1e6,
                        "rx": f.receiver_bps / 1e6,
                        "loss": f.loss_pct,
                        "delay": f.delay_ms,
                        "jitter": f.jitter_ms,
                    },
                )
                if f
                else Msg("report.no_figures")
            )
            verdict = (
                Msg("probe.acc.pass")
                if s.passed
                else Msg("probe.acc.fail", {"why": joined(s.failure_msgs())})
            )
            out.append(
                Msg(
                    "probe.acc.line",
                    {
                        "step": s.name,
                        "target": s.target_bps / 1e6,
                        "figures": figs,
                        "verdict": verdict,
                    },
                )
            )
        if self.search:
            hi = self.search.highest_bps
            found = (
                Msg("probe.acc.found", {"mbps": hi / 1e6, "pct": self.search.highest_pct})
                if hi
                else Msg("probe.acc.none_found")
            )
            out.append(
                Msg("probe.acc.search", {"loss": self.search.loss_threshold_pct, "found": found})
            )
        out.append(
            Msg("probe.acc.passed", {"link": self.link})
            if self.passed
            else Msg(
                "probe.acc.failed", {"link": self.link, "at": self.failed_step or self.outcome}
            )
        )
        return out


def as_msg(raw: object, english: str) -> Msg:
    """A stored ``{"msg_id", "params"}`` as a message, else the English text as it is."""
    if isinstance(raw, dict) and isinstance(raw.get("msg_id"), str):
        params = raw.get("params")
        return Msg(raw["msg_id"], params if isinstance(params, dict) else {})
    return Msg("method.as_said", {"text": english})


def joined(parts: list[Msg]) -> Msg:
    """Messages joined by ``; `` (nested pairwise: at most four, as a step has checks)."""
    if not parts:
        return Msg("method.as_said", {"text": ""})
    out = parts[-1]
    for m in reversed(parts[:-1]):
        out = Msg("probe.joined", {"a": m, "b": out})
    return out


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"
