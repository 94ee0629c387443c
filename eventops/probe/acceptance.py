"""Link acceptance: Y.1564-style service activation and an RFC 2544-style search.

Before a fibre link is handed to an authority, it must prove its contract
(:attr:`Link.capacity_mbps` and :attr:`Link.sla`):

1. **Steps** (ITU-T Y.1564 service configuration test): traffic at 25, 50,
   75 and 100 % of the contracted capacity, each for ``step_duration_s``;
   every step checks the achieved rate, frame loss, delay and jitter against
   the SLA and stops the run at the first failing step.
2. **Hold** (Y.1564 service performance test): the contracted rate for
   ``hold_duration_s`` (Y.1564 suggests 15 minutes; configurable), checked
   the same way.
3. **Search** (RFC 2544 §26.1 throughput, optional): a binary search for the
   highest rate whose loss stays at or below a threshold.

Every figure comes from a *measurement*: an async callable
``measure(rate_bps, duration_s) -> Figures`` (:class:`Measure`). The probe
provides one over its own sender and sink; tests script figures. Rates are at
the layer the measurement states (``Figures.layer``; the probe's is ``l2``:
Ethernet frames without preamble, FCS and inter-frame gap).

Safety: a run never sends above the contracted rate of a link that is handed
over to an authority unless forced *and* confirmed by typing the link's id;
a forced run is audited as ``probe.accept.force``. Every run — refused,
passed, failed, broken off — is in the audit log, and every finished run is
stored as a probe result of kind ``acceptance``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from eventops.clock import Clock, SystemClock
from eventops.errors import ProbeError
from eventops.profile.models import Link
from eventops.store.base import OpsTx, Store
from eventops.store.models import ProbeResultRow

Progress = Callable[[str], None]


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

    @property
    def lost_packets(self) -> int:
        return max(0, self.sent_packets - self.received_packets)

    @property
    def loss_pct(self) -> float:
        return 100.0 * self.lost_packets / self.sent_packets if self.sent_packets else 100.0


class Measure(Protocol):
    def __call__(self, rate_bps: float, duration_s: float) -> Awaitable[Figures]: ...


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

    def failures(self) -> list[str]:
        if self.error:
            return [self.error]
        return [f"{c.name} {_fmt(c.value)} {c.unit} > {_fmt(c.limit)} {c.unit}" if c.name != "rate"
                else f"rate {_fmt(c.value)} % of target < {_fmt(c.limit)} %"
                for c in self.checks if not c.passed]  # fmt: skip


class Trial(_M):
    rate_bps: float
    pct: float
    loss_pct: float | None
    passed: bool
    note: str = ""


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


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


# ---------------------------------------------------------------------------


async def handed_over_to(store: Store, link_id: str) -> str | None:
    """The authority the link is handed over to (the latest handover record), or None."""
    rows = await store.list_handovers(link_id)
    return rows[-1].authority if rows else None


def evaluate(figures: Figures, target_bps: float, link: Link, tolerance_pct: float) -> list[Check]:
    """Compare one measurement with the target rate and the link's SLA."""
    sla = link.sla
    floor = 100.0 - tolerance_pct
    sent = 100.0 * figures.sender_bps / target_bps
    delivered = 100.0 * figures.receiver_bps / target_bps
    achieved = min(sent, delivered)
    note = ""
    if sent < floor:
        note = "the sender could not reach the rate"
    elif delivered < floor:
        note = "the link delivered less than was sent"
    checks = [
        Check(
            name="rate",
            value=round(achieved, 3),
            limit=floor,
            unit="%",
            passed=achieved >= floor,
            note=note,
        ),
        Check(
            name="loss",
            value=figures.loss_pct,
            limit=sla.loss_pct,
            unit="%",
            passed=figures.loss_pct <= sla.loss_pct,
        ),
    ]
    for name, value, limit in (
        ("delay", figures.delay_ms, sla.delay_ms),
        ("jitter", figures.jitter_ms, sla.jitter_ms),
    ):
        checks.append(
            Check(
                name=name,
                value=value,
                limit=limit,
                unit="ms",
                passed=value is not None and value <= limit,
                note="not measured" if value is None else "",
            )
        )
    return checks


class _Capped:
    """The measurement, refusing any rate above ``cap_bps`` (defence in depth)."""

    def __init__(self, measure: Measure, cap_bps: float | None, link_id: str) -> None:
        self.measure = measure
        self.cap_bps = cap_bps
        self.link_id = link_id

    async def __call__(self, rate_bps: float, duration_s: float) -> Figures:
        if self.cap_bps is not None and rate_bps > self.cap_bps * (1 + 1e-9):
            raise ProbeError(
                f"{self.link_id}: refusing {rate_bps / 1e6:.2f} Mbit/s above the contracted "
                f"{self.cap_bps / 1e6:.2f} Mbit/s"
            )
        return await self.measure(rate_bps, duration_s)


async def _step(
    measure: _Capped,
    link: Link,
    cfg: AcceptanceConfig,
    name: str,
    kind: Literal["step", "hold"],
    pct: float,
    duration_s: float,
) -> StepResult:
    capacity = link.capacity_mbps * 1e6
    target = capacity * pct / 100.0
    try:
        figures = await measure(target, duration_s)
    except ProbeError as exc:
        return StepResult(
            name=name,
            kind=kind,
            pct=pct,
            target_bps=target,
            duration_s=duration_s,
            passed=False,
            error=exc.one_line(),
        )
    checks = evaluate(figures, target, link, cfg.rate_tolerance_pct)
    return StepResult(
        name=name,
        kind=kind,
        pct=pct,
        target_bps=target,
        duration_s=duration_s,
        passed=all(c.passed for c in checks),
        checks=checks,
        figures=figures,
    )


async def _search(
    measure: _Capped, link: Link, cfg: AcceptanceConfig, progress: Progress | None
) -> SearchResult:
    capacity = link.capacity_mbps * 1e6
    threshold = cfg.search_loss_pct if cfg.search_loss_pct is not None else link.sla.loss_pct
    floor = 100.0 - cfg.rate_tolerance_pct
    resolution = capacity * cfg.search_resolution_pct / 100.0
    trials: list[Trial] = []

    async def trial(pct: float) -> bool:
        rate = capacity * pct / 100.0
        try:
            f = await measure(rate, cfg.search_trial_s)
        except ProbeError as exc:
            trials.append(Trial(rate_bps=rate, pct=pct, loss_pct=None, passed=False,
                                note=exc.one_line()))  # fmt: skip
            return False
        sent = 100.0 * f.sender_bps / rate
        ok = f.loss_pct <= threshold and sent >= floor
        note = "" if sent >= floor else f"sender reached only {sent:.1f} % of the rate"
        trials.append(Trial(rate_bps=rate, pct=pct, loss_pct=f.loss_pct, passed=ok, note=note))
        if progress:
            progress(f"search {rate / 1e6:.2f} Mbit/s: loss {f.loss_pct:.3f} % "
                     + ("pass" if ok else "fail"))  # fmt: skip
        return ok

    lo, hi = cfg.search_min_pct, cfg.search_max_pct
    best: float | None = None
    if await trial(hi):
        best = hi
    elif await trial(lo):
        best = lo
        while (hi - lo) * capacity / 100.0 > resolution and len(trials) < cfg.search_max_trials:
            mid = (lo + hi) / 2.0
            if await trial(mid):
                lo = best = mid
            else:
                hi = mid
    return SearchResult(
        loss_threshold_pct=threshold,
        resolution_bps=resolution,
        highest_bps=None if best is None else capacity * best / 100.0,
        highest_pct=best,
        trials=trials,
    )


async def run_acceptance(
    link: Link,
    measure: Measure,
    store: Store,
    *,
    actor: str,
    config: AcceptanceConfig | None = None,
    force: bool = False,
    confirmation: str | None = None,
    clock: Clock | None = None,
    progress: Progress | None = None,
) -> AcceptanceResult:
    """Run the acceptance of ``link`` with ``measure``; audit it and store the result.

    Raises :class:`ProbeError` (after auditing the refusal) when the run would
    exceed the contracted rate of a handed-over link without ``force`` and a
    ``confirmation`` equal to the link's id. A measurement that fails with a
    :class:`ProbeError` fails its step (named in ``failed_step``).
    """
    cfg = config or AcceptanceConfig()
    clock = clock or SystemClock()
    capacity = link.capacity_mbps * 1e6
    authority = await handed_over_to(store, link.id)
    max_bps = capacity * cfg.max_pct() / 100.0
    exceeds = cfg.max_pct() > 100.0
    plan = {
        "capacity_bps": capacity,
        "max_bps": max_bps,
        "steps_pct": cfg.steps_pct,
        "hold_s": cfg.hold_duration_s,
        "search": cfg.search,
        "handed_over_to": authority,
    }
    forced = False
    if exceeds and authority is not None:
        if not force or confirmation != link.id:
            why = "no --force" if not force else "confirmation did not match the link id"
            await store.audit(actor, "probe.accept.refused", link.id, after={**plan, "why": why})
            raise ProbeError(
                f"{link.id} is handed over to {authority}: refusing to exceed its contracted "
                f"{link.capacity_mbps:g} Mbit/s ({why}); use --force and type the link id"
            )
        forced = True
        await store.audit(actor, "probe.accept.force", link.id, after=plan)
    await store.audit(actor, "probe.accept.start", link.id, after=plan)

    capped = _Capped(measure, None if forced or authority is None else capacity, link.id)
    result = AcceptanceResult(
        link=link.id,
        capacity_bps=capacity,
        sla=link.sla.model_dump(),
        config=cfg,
        actor=actor,
        started_at=clock.now(),
        handed_over_to=authority,
        forced=forced,
    )
    try:
        for pct in cfg.steps_pct:
            name = f"{pct:g}%"
            if progress:
                progress(f"step {name}: {capacity * pct / 1e8:.2f} Mbit/s for "
                         f"{cfg.step_duration_s:g} s")  # fmt: skip
            step = await _step(capped, link, cfg, name, "step", pct, cfg.step_duration_s)
            result.steps.append(step)
            if progress:
                progress(f"step {name}: " + ("pass" if step.passed else
                                             "FAIL " + "; ".join(step.failures())))  # fmt: skip
            if not step.passed:
                result.failed_step = name
                break
        if result.failed_step is None and cfg.hold_duration_s > 0:
            if progress:
                progress(f"hold: {capacity * cfg.hold_pct / 1e8:.2f} Mbit/s for "
                         f"{cfg.hold_duration_s:g} s")  # fmt: skip
            result.hold = await _step(
                capped, link, cfg, "hold", "hold", cfg.hold_pct, cfg.hold_duration_s
            )
            if not result.hold.passed:
                result.failed_step = "hold"
        if cfg.search:
            result.search = await _search(capped, link, cfg, progress)
        result.passed = result.failed_step is None
        result.outcome = "passed" if result.passed else "failed"
    except BaseException:
        # Cancelled, or broken by something unexpected: the run still goes on record.
        result.outcome = "aborted"
        result.finished_at = clock.now()
        await asyncio.shield(
            store.audit(actor, "probe.accept", link.id, after=_audit_summary(result, None))
        )
        raise
    result.finished_at = clock.now()
    result.throughput_mbps = _throughput_mbps(result)
    row = ProbeResultRow(
        ts=result.finished_at,
        target=link.id,
        kind="acceptance",
        passed=result.passed,
        result=result.model_dump(mode="json"),
    )

    async def stored(tx: OpsTx) -> None:
        # the result and its audit entry: one transaction
        rid = await tx.add_probe_result(row)
        await tx.audit(actor, "probe.accept", link.id, after=_audit_summary(result, rid))

    await store.ops_transaction(stored)
    return result


def _throughput_mbps(result: AcceptanceResult) -> float | None:
    done = [s for s in [*result.steps, result.hold] if s is not None and s.figures is not None]
    full = [s for s in done if s.passed and s.pct >= 100.0]
    passed = [s for s in done if s.passed]
    chosen = full or passed
    if not chosen or chosen[-1].figures is None:
        return None
    return round(chosen[-1].figures.receiver_bps / 1e6, 3)


def _audit_summary(result: AcceptanceResult, rid: int | None) -> dict[str, Any]:
    return {
        "outcome": result.outcome,
        "passed": result.passed,
        "failed_step": result.failed_step,
        "forced": result.forced,
        "probe_result": rid,
        "steps": {s.name: s.passed for s in result.steps},
        "hold": None if result.hold is None else result.hold.passed,
        "search_highest_bps": None if result.search is None else result.search.highest_bps,
    }
