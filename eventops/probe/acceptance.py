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
from typing import Any, Literal, Protocol

# The report's models are the API contract's (clients read them); imported here for the run.
from eventops.api.models.acceptance import (
    AcceptanceConfig,
    AcceptanceResult,
    Check,
    Figures,
    SearchResult,
    StepResult,
    Trial,
    joined,
)
from eventops.clock import Clock, SystemClock
from eventops.errors import ProbeError
from eventops.i18n import Msg, refusal
from eventops.profile.models import Link
from eventops.store.base import OpsTx, Store
from eventops.store.models import ProbeResultRow

Progress = Callable[[Msg], None]
"""Gets each step's start and verdict (and each search trial) as a message."""


class Measure(Protocol):
    def __call__(self, rate_bps: float, duration_s: float) -> Awaitable[Figures]: ...


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
                note_msg=Msg("report.not_measured").as_dict() if value is None else None,
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
            mbps, cap = rate_bps / 1e6, self.cap_bps / 1e6
            msg = Msg("probe.err.above_cap", {"link": self.link_id, "mbps": mbps, "cap": cap})
            raise refusal(ProbeError, msg)
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
            error_msg=None if exc.msg_id is None else {"msg_id": exc.msg_id, "params": exc.params},
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
            said = None if exc.msg_id is None else {"msg_id": exc.msg_id, "params": exc.params}
            trials.append(Trial(rate_bps=rate, pct=pct, loss_pct=None, passed=False,
                                note=exc.one_line(), note_msg=said))  # fmt: skip
            return False
        sent = 100.0 * f.sender_bps / rate
        ok = f.loss_pct <= threshold and sent >= floor
        short = None if sent >= floor else Msg("probe.acc.sender_short", {"pct": sent})
        trials.append(Trial(rate_bps=rate, pct=pct, loss_pct=f.loss_pct, passed=ok,
                            note="" if short is None else short.text("en"),
                            note_msg=None if short is None else short.as_dict()))  # fmt: skip
        if progress:
            verdict = Msg("probe.acc.trial_pass" if ok else "probe.acc.trial_fail")
            mbps = rate / 1e6
            progress(Msg("probe.acc.trial", {"mbps": mbps, "loss": f.loss_pct, "verdict": verdict}))
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
            said = Msg("probe.err.no_force" if not force else "probe.err.confirm_mismatch")
            why = said.text("en")
            await store.audit(actor, "probe.accept.refused", link.id, after={**plan, "why": why})
            msg = Msg(
                "probe.err.handed_over",
                {
                    "link": link.id,
                    "authority": authority,
                    "cap": link.capacity_mbps,
                    "why": said,
                },
            )
            raise refusal(ProbeError, msg)
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
                progress(Msg("probe.acc.step", {"step": name, "mbps": capacity * pct / 1e8,
                                                "s": cfg.step_duration_s}))  # fmt: skip
            step = await _step(capped, link, cfg, name, "step", pct, cfg.step_duration_s)
            result.steps.append(step)
            if progress:
                failed = joined(step.failure_msgs())
                progress(
                    Msg("probe.acc.step_pass", {"step": name})
                    if step.passed
                    else Msg("probe.acc.step_fail", {"step": name, "why": failed})
                )
            if not step.passed:
                result.failed_step = name
                break
        if result.failed_step is None and cfg.hold_duration_s > 0:
            if progress:
                progress(Msg("probe.acc.hold", {"mbps": capacity * cfg.hold_pct / 1e8,
                                                "s": cfg.hold_duration_s}))  # fmt: skip
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
