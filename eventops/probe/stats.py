"""Delay, delay variation and pacing statistics (pure functions).

- jitter: RFC 3550 §6.4.1 interarrival jitter, J += (|D(i-1,i)| - J) / 16,
  over datagrams in arrival order, where D is the difference of transit times;
- IPDV: RFC 3393 / RFC 5481 §4.1, the delay difference of consecutive
  sequence numbers that both arrived (selection function "consecutive");
- PDV: RFC 5481 §4.2, each delay minus the minimum delay;
- pacing: datagrams per millisecond (burstiness) and the error of each full
  100 ms window against the target.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from eventops.probe.models import DelayStats, Histogram, PacingReport


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def rfc3550_jitter(transits: Sequence[float]) -> float:
    """Interarrival jitter of transit times given in arrival order."""
    j = 0.0
    for prev, cur in itertools.pairwise(transits):
        j += (abs(cur - prev) - j) / 16.0
    return j


def histogram(values: Sequence[float], bins: int = 20) -> Histogram:
    if not values:
        return Histogram(edges=[], counts=[])
    lo, hi = min(values), max(values)
    if hi <= lo:
        return Histogram(edges=[lo, hi], counts=[len(values)])
    width = (hi - lo) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / width))] += 1
    return Histogram(edges=[lo + i * width for i in range(bins + 1)], counts=counts)


def delay_stats(
    samples: Sequence[tuple[int, float]], *, method: str, one_way: bool = True
) -> DelayStats:
    """Statistics of (seq, delay in ms) samples given in arrival order."""
    delays = [d for _, d in samples]
    if not delays:
        return DelayStats(method=method, one_way=one_way, samples=0)
    ordered = sorted(delays)
    by_seq = dict(samples)
    ipdv = [by_seq[s] - by_seq[s - 1] for s in sorted(by_seq) if s - 1 in by_seq]
    abs_ipdv = sorted(abs(v) for v in ipdv)
    mn = ordered[0]
    pdv = [d - mn for d in ordered]
    return DelayStats(
        method=method,
        one_way=one_way,
        samples=len(delays),
        min_ms=mn,
        mean_ms=sum(delays) / len(delays),
        max_ms=ordered[-1],
        p50_ms=percentile(ordered, 50),
        p90_ms=percentile(ordered, 90),
        p99_ms=percentile(ordered, 99),
        p999_ms=percentile(ordered, 99.9),
        jitter_ms=rfc3550_jitter(delays),
        ipdv_mean_abs_ms=sum(abs_ipdv) / len(abs_ipdv) if abs_ipdv else None,
        ipdv_p99_abs_ms=percentile(abs_ipdv, 99) if abs_ipdv else None,
        pdv_p99_ms=percentile(pdv, 99),
        histogram=histogram(delays),
    )


def _stalls(used: Sequence[int], target_pps: float) -> list[tuple[int, int]]:
    """Runs of milliseconds in which the sender was behind its schedule by more than
    0.5 ms of traffic (and at least 3 datagrams): it did not get the CPU or the
    socket; the pacer itself never falls behind. (first ms, length) per run."""
    if target_pps <= 0:
        return []
    per_ms = target_pps / 1000.0
    slack = max(0.5 * per_ms, 3.0)
    out: list[tuple[int, int]] = []
    cum = 0
    run_start = -1
    for i, c in enumerate(used):
        cum += c
        behind = per_ms * (i + 1) - cum > slack
        if behind and run_start < 0:
            run_start = i
        elif not behind and run_start >= 0:
            out.append((run_start, i - run_start))
            run_start = -1
    if run_start >= 0:
        out.append((run_start, len(used) - run_start))
    return out


def pacing_report(per_ms: Sequence[int], target_pps: float, elapsed_s: float) -> PacingReport:
    """Burstiness per 1 ms and pacing error per 100 ms of a sender's per-ms counts.

    A stall (the sender more than 0.5 ms of traffic behind its schedule: it got
    no CPU or no socket space) is reported with its length; the 100 ms windows
    it touches are left out of ``pacing_error_max_pct_outside_stalls``, which
    is then the pacer's own error (overshoot, unevenness).
    """
    n_ms = min(len(per_ms), int(elapsed_s * 1000))
    used = list(per_ms[:n_ms])
    if not used:
        return PacingReport(target_pps=target_pps)
    busy = [c for c in used if c]
    windows = [sum(used[i : i + 100]) for i in range(0, n_ms - 99, 100)]
    errors: list[float] = []
    if target_pps > 0:
        want = target_pps / 10.0
        errors = [abs(w - want) / want * 100.0 for w in windows]
    stalls = _stalls(used, target_pps)
    hit: set[int] = set()
    for first, length in stalls:
        hit.update(range(first // 100, (first + length) // 100 + 1))
    outside = [e for i, e in enumerate(errors) if i not in hit]
    total = sum(used)
    nominal = target_pps / 1000.0
    return PacingReport(
        target_pps=target_pps,
        achieved_pps=total / (n_ms / 1000.0),
        max_per_ms=max(used),
        mean_per_ms=total / n_ms,
        burst_ratio=max(used) / nominal if nominal > 0 else None,
        idle_ms_fraction=1.0 - len(busy) / n_ms,
        windows_100ms=len(windows),
        pacing_error_mean_pct=sum(errors) / len(errors) if errors else None,
        pacing_error_max_pct=max(errors) if errors else None,
        pacing_error_max_pct_outside_stalls=max(outside) if outside else None,
        stalls=len(stalls),
        stalled_ms=sum(length for _f, length in stalls),
        overall_error_pct=(abs(total / (n_ms / 1000.0) - target_pps) / target_pps * 100.0)
        if target_pps > 0
        else None,
    )
