"""The acceptance measurement over eventops' own probe.

:class:`ProbeMeasure` is the :class:`~eventops.probe.acceptance.Measure`
that link acceptance runs in production: one UDP stream to the link's
eventops sink at the step's rate (``l2`` layer: Ethernet frames without
preamble, FCS and gap), and, when the link has a STAMP reflector, a STAMP
session at the same time so that delay and jitter are measured *under* the
step's load.

Figures and their methods:

- rate, loss, duplicates, reordering: the sink's per-datagram counters of the
  stream (batched GSO/GRO above ``unbatched_max_pps``, one datagram per send
  below it — the path that counts loss, duplicates and reorders exactly);
- delay: with a reflector (``delay_from="stamp"``), half the mean STAMP round
  trip, so no clock synchronisation is needed; with ``delay_from="stream"``,
  the unbatched stream's mean one-way delay (kernel receive time minus the
  sender's CLOCK_REALTIME stamp: needs synchronised clocks);
- jitter: STAMP's forward RFC 3550 jitter (T2−T1, the clock offset cancels),
  or the unbatched stream's RFC 3550 jitter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Literal

from eventops.api.models.acceptance import Figures
from eventops.errors import ProbeError
from eventops.i18n import Msg, refusal
from eventops.probe.models import Interval, StampResult, UdpResult, described
from eventops.probe.stamp import run_stamp
from eventops.probe.throughput import run_udp
from eventops.profile.models import Link


def split_hostport(text: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` as in the profile's probe targets."""
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


class ProbeMeasure:
    """``await measure(rate_bps, duration_s)`` with the probe's sender, sink and STAMP."""

    def __init__(
        self,
        sink: tuple[str, int],
        reflector: tuple[str, int] | None = None,
        *,
        size: int = 1472,
        delay_from: Literal["stamp", "stream"] | None = None,
        unbatched_max_pps: float = 50_000.0,
        stamp_interval_s: float = 0.01,
        stamp_wait_s: float = 0.5,
        engine: Literal["auto", "c", "python"] = "auto",
        progress: Callable[[Interval], None] | None = None,
    ) -> None:
        self.sink = sink
        self.reflector = reflector
        self.size = size
        self.delay_from = delay_from or ("stamp" if reflector else "stream")
        if self.delay_from == "stamp" and reflector is None:
            raise refusal(ProbeError, Msg("probe.err.stamp_needs_reflector"))
        self.unbatched_max_pps = unbatched_max_pps
        self.stamp_interval_s = stamp_interval_s
        self.stamp_wait_s = stamp_wait_s
        self.engine = engine
        self.progress = progress
        """Gets the stream's per-second intervals while a step runs."""

    @classmethod
    def for_link(cls, link: Link, **kw: object) -> ProbeMeasure:
        if link.probe is None or link.probe.sink is None:
            raise refusal(ProbeError, Msg("probe.err.no_sink_key", {"link": link.id}))
        return cls(
            split_hostport(link.probe.sink),
            split_hostport(link.probe.reflector),
            **kw,  # type: ignore[arg-type]
        )

    def batched_for(self, rate_bps: float) -> bool:
        pps = rate_bps / (8.0 * (self.size + 42))
        return pps > self.unbatched_max_pps

    async def __call__(self, rate_bps: float, duration_s: float) -> Figures:
        batched = self.batched_for(rate_bps)
        stream = run_udp(
            self.sink[0],
            self.sink[1],
            rate_bps=rate_bps,
            size=self.size,
            duration=duration_s,
            batched=batched,
            layer="l2",
            engine=self.engine,
            progress=self.progress,
        )
        stamp: StampResult | None = None
        if self.delay_from == "stamp":
            assert self.reflector is not None
            count = max(10, int(duration_s / self.stamp_interval_s))
            udp, stamp = await asyncio.gather(
                stream,
                run_stamp(
                    self.reflector[0],
                    self.reflector[1],
                    count=count,
                    interval=self.stamp_interval_s,
                    wait_s=self.stamp_wait_s,
                ),
            )
        else:
            udp = await stream
        return figures(udp, stamp, rate_bps)


def _said(result: UdpResult | StampResult, key: str) -> Msg:
    """A result's method of ``key`` as a message: its own, else its English words."""
    raw = result.method_msgs.get(key)
    if isinstance(raw, dict) and isinstance(raw.get("msg_id"), str):
        params = raw.get("params")
        return Msg(raw["msg_id"], params if isinstance(params, dict) else {})
    return Msg("method.as_said", {"text": result.methods.get(key, "")})


def figures(udp: UdpResult, stamp: StampResult | None, rate_bps: float) -> Figures:
    """The acceptance figures from a stream result and an optional STAMP result."""
    kept = ("throughput", "loss", "duplicates", "reordering")
    how = {k: _said(udp, k) for k in kept if k in udp.methods}
    delay = jitter = p99 = None
    if stamp is not None:
        if stamp.rtt.mean_ms is not None:
            delay = stamp.rtt.mean_ms / 2.0
            p99 = None if stamp.rtt.p99_ms is None else stamp.rtt.p99_ms / 2.0
            rtt = _said(stamp, "rtt") if "rtt" in stamp.methods else ""
            how["delay"] = Msg("method.acc_stamp_delay", {"rtt": rtt})
        jitter = stamp.forward_jitter_ms
        if jitter is not None:
            how["jitter"] = (
                _said(stamp, "forward_jitter")
                if "forward_jitter" in stamp.methods
                else Msg("method.acc_stamp_jitter")
            )
    elif udp.delay is not None and udp.delay.samples:
        delay, p99, jitter = udp.delay.mean_ms, udp.delay.p99_ms, udp.delay.jitter_ms
        sink = _said(udp, "delay") if "delay" in udp.methods else udp.delay.method
        how["delay"] = Msg("method.acc_stream_delay", {"how": sink})
        how["jitter"] = Msg("method.acc_stream_jitter")
    return Figures(
        target_bps=rate_bps,
        layer=udp.layer,
        duration_s=udp.duration_s,
        sent_packets=udp.sent_packets,
        received_packets=udp.received_packets,
        duplicated=udp.duplicated,
        reordered=udp.reordered,
        sender_bps=udp.sender_bps,
        receiver_bps=udp.receiver_bps,
        delay_ms=delay,
        delay_p99_ms=p99,
        jitter_ms=jitter,
        **described(how),
    )
