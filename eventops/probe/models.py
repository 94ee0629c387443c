"""Pydantic result models of the probe (the public API's return values).

Every figure states how it was produced: ``methods`` maps a figure's name to
the method (in English; ``method_msgs`` holds the same as messages of
:mod:`eventops.i18n` for other languages) (batched GSO/GRO counters, unbatched stream with kernel receive
timestamps, STAMP round trip ...). Rates state their ``layer``:
``udp-payload`` (UDP payload bytes) or ``l2`` (payload + UDP + IP + Ethernet
headers, without preamble, FCS and inter-frame gap).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from eventops.i18n import Msg

RateLayer = Literal["udp-payload", "l2"]


SINK_DELAY = Msg("method.sink_delay")
"""How the sink measures one-way delay (its ``DelayStats.method``)."""


def described(how: dict[str, Msg]) -> dict[str, Any]:
    """``methods`` (English) and ``method_msgs`` of a result from one message per figure."""
    return {
        "methods": {k: m.text("en") for k, m in how.items()},
        "method_msgs": {k: m.as_dict() for k, m in how.items()},
    }


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Histogram(_M):
    edges: list[float]
    """Bin edges in ms (len(counts) + 1 values)."""
    counts: list[int]


class DelayStats(_M):
    method: str
    one_way: bool
    samples: int
    min_ms: float | None = None
    mean_ms: float | None = None
    max_ms: float | None = None
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    p999_ms: float | None = None
    jitter_ms: float | None = None
    """RFC 3550 interarrival jitter."""
    ipdv_mean_abs_ms: float | None = None
    """RFC 3393/5481 IPDV of consecutive sequence numbers, mean of |IPDV|."""
    ipdv_p99_abs_ms: float | None = None
    pdv_p99_ms: float | None = None
    """RFC 5481 PDV (delay minus minimum delay), 99th percentile."""
    histogram: Histogram | None = None


class PacingReport(_M):
    target_pps: float
    achieved_pps: float | None = None
    max_per_ms: int | None = None
    """Burstiness: most datagrams handed to the kernel in one millisecond."""
    mean_per_ms: float | None = None
    idle_ms_fraction: float | None = None
    windows_100ms: int = 0
    pacing_error_mean_pct: float | None = None
    """Mean of |sent − target| / target over full 100 ms windows."""
    pacing_error_max_pct: float | None = None
    pacing_error_max_pct_outside_stalls: float | None = None
    """The same, leaving out the windows of a stall and its catch-up."""
    burst_ratio: float | None = None
    """Worst millisecond against the target's per-millisecond rate (1.0: perfectly even)."""
    stalls: int = 0
    """Runs of milliseconds the sender spent more than 0.5 ms of traffic (at least 3 datagrams) behind schedule."""
    stalled_ms: int = 0
    overall_error_pct: float | None = None


class Interval(_M):
    start: float
    end: float
    received: int
    """Datagrams (UDP) or bytes (TCP) the receiver counted in the interval."""
    bits_per_second: float
    packets_per_second: float | None = None


class UdpResult(_M):
    """Outcome of a UDP throughput run (eventops sender → eventops sink)."""

    host: str
    port: int
    engine: Literal["c", "python"]
    sink_engine: Literal["c", "python"]
    batched: bool
    gso: bool
    size: int
    """UDP payload bytes per datagram."""
    layer: RateLayer
    target_bps: float | None
    """Requested rate at ``layer``; None = unlimited."""
    duration_s: float
    sent_packets: int
    sent_bytes: int
    received_packets: int
    """Distinct datagrams delivered (duplicates not counted)."""
    received_bytes: int
    lost_packets: int
    """sent_packets − received_packets, as reported by the sink."""
    lost_percent: float
    sink_drops: int | None = None
    """Datagrams the sink's own socket dropped (receive buffer full), part of ``lost_packets``."""
    network_lost_packets: int | None = None
    """``lost_packets`` minus the sink's own drops: what the network lost."""
    duplicated: int
    reordered: int
    late: int
    max_reorder_extent: int
    foreign: int
    """Datagrams at the sink that were not ours (wrong session, too short)."""
    sender_bps: float
    """Sent rate at ``layer``."""
    receiver_bps: float
    """Delivered rate at ``layer``."""
    receiver_pps: float
    sender_payload_bps: float
    receiver_payload_bps: float
    pacing: PacingReport | None = None
    delay: DelayStats | None = None
    intervals: list[Interval] = Field(default_factory=list)
    methods: dict[str, str] = Field(default_factory=dict)
    method_msgs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """``methods`` as messages (``{"msg_id", "params"}``, eventops.i18n), for readers in
    other languages; a figure without one is shown with its English method."""

    def iperf3_json(self) -> dict[str, Any]:
        """The result in iperf3's ``-J`` shape, where the concepts match."""
        # null where nothing was measured (batched streams carry no timestamps)
        jitter = self.delay.jitter_ms if self.delay and self.delay.jitter_ms is not None else None
        ends = {"start": 0, "end": self.duration_s, "seconds": self.duration_s}
        return {
            "start": {
                "test_start": {
                    "protocol": "UDP",
                    "num_streams": 1,
                    "blksize": self.size,
                    "duration": self.duration_s,
                    "target_bitrate": self.target_bps or 0,
                },
                "connecting_to": {"host": self.host, "port": self.port},
            },
            "intervals": [
                {
                    "sum": {
                        "start": i.start,
                        "end": i.end,
                        "seconds": i.end - i.start,
                        "packets": i.received,
                        "bits_per_second": i.bits_per_second,
                    }
                }
                for i in self.intervals
            ],
            "end": {
                "sum_sent": {
                    **ends,
                    "bytes": self.sent_bytes,
                    "bits_per_second": self.sender_payload_bps,
                    "packets": self.sent_packets,
                    "sender": True,
                },
                "sum_received": {
                    **ends,
                    "bytes": self.received_bytes,
                    "bits_per_second": self.receiver_payload_bps,
                    "jitter_ms": jitter,
                    "lost_packets": self.lost_packets,
                    "packets": self.sent_packets,
                    "lost_percent": self.lost_percent,
                    "out_of_order": self.reordered,
                    "sender": False,
                },
                "sum": {
                    **ends,
                    "bytes": self.sent_bytes,
                    "bits_per_second": self.sender_payload_bps,
                    "jitter_ms": jitter,
                    "lost_packets": self.lost_packets,
                    "packets": self.sent_packets,
                    "lost_percent": self.lost_percent,
                },
            },
            "eventops": self.model_dump(mode="json"),
        }


class TcpResult(_M):
    host: str
    port: int
    streams: int
    duration_s: float
    sent_bytes: int
    received_bytes: int
    received_bytes_per_stream: list[int]
    sender_bps: float
    receiver_bps: float
    """TCP payload bits per second (layer: tcp-payload)."""
    layer: Literal["tcp-payload"] = "tcp-payload"
    intervals: list[Interval] = Field(default_factory=list)
    methods: dict[str, str] = Field(default_factory=dict)
    method_msgs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """``methods`` as messages (``{"msg_id", "params"}``, eventops.i18n), for readers in
    other languages; a figure without one is shown with its English method."""

    def iperf3_json(self) -> dict[str, Any]:
        ends = {"start": 0, "end": self.duration_s, "seconds": self.duration_s}
        return {
            "start": {
                "test_start": {
                    "protocol": "TCP",
                    "num_streams": self.streams,
                    "duration": self.duration_s,
                },
                "connecting_to": {"host": self.host, "port": self.port},
            },
            "intervals": [
                {
                    "sum": {
                        "start": i.start,
                        "end": i.end,
                        "seconds": i.end - i.start,
                        "bytes": i.received,
                        "bits_per_second": i.bits_per_second,
                    }
                }
                for i in self.intervals
            ],
            "end": {
                "sum_sent": {
                    **ends,
                    "bytes": self.sent_bytes,
                    "bits_per_second": self.sender_bps,
                    "sender": True,
                },
                "sum_received": {
                    **ends,
                    "bytes": self.received_bytes,
                    "bits_per_second": self.receiver_bps,
                    "sender": False,
                },
            },
            "eventops": self.model_dump(mode="json"),
        }


class StampInterval(_M):
    """Live progress of a STAMP session: the replies that arrived in one interval."""

    start: float
    end: float
    """Seconds since the session started."""
    sent: int
    """Packets sent so far."""
    replies: int
    """Distinct replies received in this interval."""
    rtt_min_ms: float | None = None
    rtt_mean_ms: float | None = None
    rtt_max_ms: float | None = None


class StampAnomalies(_M):
    truncated: int = 0
    """Replies shorter than the 38-octet minimum of a TWAMP-Light reply."""
    unknown_seq: int = 0
    """Replies to a sender sequence number we never sent."""
    duplicate: int = 0
    zero_timestamp: int = 0
    bad_error_estimate: int = 0
    """Error estimate with multiplier 0 (RFC 8762 §4.2.1: must not be 0)."""
    wrong_ssid: int = 0
    short_twamp_light: int = 0
    """Replies of 38-43 octets (TWAMP-Light): used, fields beyond the end unknown."""
    negative_rtt: int = 0
    """(T4−T1) < (T3−T2): the reflector's timestamps are inconsistent."""


class StampResult(_M):
    host: str
    port: int
    ssid: int | None
    sent: int
    replies: int
    """Distinct replies matched to a packet we sent."""
    round_trip_lost: int
    round_trip_loss_percent: float
    reflector_mode: Literal["stateful", "stateless", "unknown"]
    forward_lost: int | None = None
    """Only with a stateful reflector: sent − packets the reflector counted."""
    backward_lost: int | None = None
    rtt: DelayStats
    forward_jitter_ms: float | None = None
    """RFC 3550 jitter of T2−T1 (clock offset cancels)."""
    backward_jitter_ms: float | None = None
    reflector_error_estimate_s: float | None = None
    reflector_synchronized: bool | None = None
    anomalies: StampAnomalies = Field(default_factory=StampAnomalies)
    methods: dict[str, str] = Field(default_factory=dict)
    method_msgs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """``methods`` as messages (``{"msg_id", "params"}``, eventops.i18n), for readers in
    other languages; a figure without one is shown with its English method."""


class Iperf3Direction(_M):
    """One direction of an iperf3 test: the sending side's and the receiving side's figures."""

    sent_bytes: int
    sent_packets: int | None
    sender_bps: float
    received_bytes: int
    received_packets: int | None
    """UDP: the receiver's highest sequence number (iperf3's ``packets``)."""
    lost_packets: int | None
    jitter_ms: float | None
    out_of_order: int | None
    receiver_bps: float
    """Delivered rate: the receiver's byte count over the test time (payload layer)."""
    retransmits: int | None


class Iperf3Result(_M):
    """Our client's figures next to the iperf3 server's own report.

    ``forward`` is client → server, ``reverse`` server → client (``-R``);
    ``--bidir`` fills both. The flat figures are those of the test's main
    direction (forward, or reverse under ``-R``).
    """

    host: str
    port: int
    protocol: Literal["udp", "tcp"]
    direction: Literal["forward", "reverse", "bidir"] = "forward"
    streams: int
    duration_s: float
    size: int
    target_bps: float | None
    sent_bytes: int
    sent_packets: int | None
    sender_bps: float
    received_bytes: int
    received_packets: int | None
    lost_packets: int | None
    jitter_ms: float | None
    receiver_bps: float
    forward: Iperf3Direction | None = None
    reverse: Iperf3Direction | None = None
    pacing: PacingReport | None = None
    """UDP, when we send: our per-millisecond sending, with stalls named."""
    peer_results: dict[str, Any]
    document: dict[str, Any] = Field(default_factory=dict)
    """The iperf3 3.12 ``-J`` document of this test."""
    methods: dict[str, str] = Field(default_factory=dict)
    method_msgs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """``methods`` as messages (``{"msg_id", "params"}``, eventops.i18n), for readers in
    other languages; a figure without one is shown with its English method."""

    def iperf3_json(self) -> dict[str, Any]:
        return self.document
