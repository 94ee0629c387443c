"""The ``-J`` document of an iperf3 3.12 client, built from one measured test.

Every field path iperf3 3.12 writes is present with the same JSON type.
Figures we measure ourselves: bytes, packets, intervals, UDP loss/jitter/
out-of-order (receiver side), TCP retransmits, cwnd, send window, RTT and
PMTU from ``TCP_INFO``, our process CPU time. Fields with iperf3's neutral
values because we have nothing to measure: ``omit`` (always 0), ``tos`` (0),
``sock_bufsize`` (0: kernel default), TCP sender figures of the *peer*'s
streams other than retransmits (iperf3 writes 0 there too), ``omitted``
(always false).
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from eventops.probe.iperf3_streams import Sample, StreamIO
from eventops.probe.iperf3_wire import Iperf3Params, Results, StreamResult

VERSION = "iperf 3.12"
"""The protocol and document version we speak (``start.version``)."""


@dataclass
class TestRecord:
    params: Iperf3Params
    host: str
    port: int
    cookie: str
    connected: list[dict[str, Any]]
    streams: list[StreamIO]
    elapsed_s: float
    own: Results
    peer: Results
    started_at: float = field(default_factory=time.time)
    tcp_mss_default: int = 0
    sndbuf: int = 0
    rcvbuf: int = 0
    congestion: str | None = None


def _bps(nbytes: float, seconds: float) -> float:
    return nbytes * 8.0 / seconds if seconds > 0 else 0.0


def _pct(lost: int, packets: int) -> float:
    return 100.0 * lost / packets if packets > 0 else 0.0


def _interval_entry(rec: TestRecord, st: StreamIO, a: Sample, b: Sample) -> dict[str, Any]:
    secs = max(b.t - a.t, 0.0)
    nbytes = b.bytes - a.bytes
    out: dict[str, Any] = {
        "socket": st.fd if st.fd >= 0 else 0,
        "start": a.t,
        "end": b.t,
        "seconds": secs,
        "bytes": nbytes,
        "bits_per_second": _bps(nbytes, secs),
    }
    if rec.params.udp:
        if st.sender:
            out["packets"] = b.packets - a.packets
        else:
            lost, pk = b.lost - a.lost, b.packets - a.packets
            out.update(jitter_ms=b.jitter_s * 1000.0, lost_packets=lost, packets=pk)
            out["lost_percent"] = _pct(lost, pk)
    elif st.sender:
        out["retransmits"] = max(b.retransmits - a.retransmits, 0)
        for key in ("snd_cwnd", "snd_wnd", "rtt", "rttvar", "pmtu"):
            out[key] = b.tcp.get(key, 0)
    out["omitted"] = False
    out["sender"] = st.sender
    return out


def _interval_sum(rec: TestRecord, entries: list[dict[str, Any]], sender: bool) -> dict[str, Any]:
    first = entries[0]
    nbytes = sum(e["bytes"] for e in entries)
    out: dict[str, Any] = {
        "start": first["start"],
        "end": first["end"],
        "seconds": first["seconds"],
        "bytes": nbytes,
        "bits_per_second": _bps(nbytes, first["seconds"]),
    }
    if rec.params.udp:
        pk = sum(e["packets"] for e in entries)
        if sender:
            out["packets"] = pk
        else:
            lost = sum(e["lost_packets"] for e in entries)
            out["jitter_ms"] = sum(e["jitter_ms"] for e in entries) / len(entries)
            out.update(lost_packets=lost, packets=pk, lost_percent=_pct(lost, pk))
    elif sender:
        out["retransmits"] = sum(e["retransmits"] for e in entries)
    out["omitted"] = False
    out["sender"] = sender
    return out


def _intervals(rec: TestRecord) -> list[dict[str, Any]]:
    out = []
    n = min((len(s.samples) for s in rec.streams), default=0)
    for k in range(n):
        zero = Sample(0.0, 0, 0)
        entries = [
            _interval_entry(rec, st, st.samples[k - 1] if k else zero, st.samples[k])
            for st in rec.streams
        ]
        item: dict[str, Any] = {"streams": entries}
        fwd = [e for e, st in zip(entries, rec.streams, strict=True) if st.sender]
        rev = [e for e, st in zip(entries, rec.streams, strict=True) if not st.sender]
        if rec.params.bidirectional:
            item["sum"] = _interval_sum(rec, fwd, True)
            item["sum_bidir_reverse"] = _interval_sum(rec, rev, False)
        else:
            item["sum"] = _interval_sum(rec, fwd or rev, bool(fwd))
        out.append(item)
    return out


@dataclass
class _Flow:
    """One stream's end figures, sender and receiver side side by side."""

    st: StreamIO
    sent: StreamResult
    recv: StreamResult


def _flows(rec: TestRecord) -> list[_Flow]:
    own, peer = rec.own.by_id(), rec.peer.by_id()
    flows = []
    for st in rec.streams:
        mine = own[st.id]
        theirs = peer.get(st.id, StreamResult(id=st.id, bytes=0))
        flows.append(_Flow(st, mine if st.sender else theirs, theirs if st.sender else mine))
    return flows


def _udp_end(rec: TestRecord, flows: list[_Flow], sender: bool) -> dict[str, dict[str, Any]]:
    el = rec.elapsed_s
    sent = sum(f.sent.bytes for f in flows)
    sent_pk = sum(f.sent.packets for f in flows)
    got = sum(f.recv.bytes for f in flows)
    got_pk = sum(f.recv.packets for f in flows)
    lost = sum(f.recv.errors for f in flows)
    jit = sum(f.recv.jitter_s for f in flows) / len(flows) * 1000.0 if flows else 0.0
    base = {"start": 0, "end": el, "seconds": el}
    return {
        "sum": {
            **base,
            "bytes": sent,
            "bits_per_second": _bps(sent, el),
            "jitter_ms": jit,
            "lost_packets": lost,
            "packets": sent_pk,
            "lost_percent": _pct(lost, sent_pk),
            "sender": sender,
        },
        "sum_sent": {
            **base,
            "bytes": sent,
            "bits_per_second": _bps(sent, el),
            "jitter_ms": 0,
            "lost_packets": 0,
            "packets": sent_pk,
            "lost_percent": 0,
            "sender": True,
        },
        "sum_received": {
            **base,
            "bytes": got,
            "bits_per_second": _bps(got, el),
            "jitter_ms": jit,
            "lost_packets": lost,
            "packets": got_pk,
            "lost_percent": _pct(lost, got_pk),
            "sender": False,
        },
    }


def _tcp_end(rec: TestRecord, flows: list[_Flow], sender: bool) -> dict[str, dict[str, Any]]:
    el = rec.elapsed_s
    sent = sum(f.sent.bytes for f in flows)
    got = sum(f.recv.bytes for f in flows)
    retr = sum(max(f.sent.retransmits, 0) for f in flows)
    base = {"start": 0, "end": el, "seconds": el}
    return {
        "sum_sent": {
            **base,
            "bytes": sent,
            "bits_per_second": _bps(sent, el),
            "retransmits": retr,
            "sender": sender,
        },
        "sum_received": {**base, "bytes": got, "bits_per_second": _bps(got, el), "sender": sender},
    }


def _stream_end(rec: TestRecord, f: _Flow) -> dict[str, Any]:
    el = rec.elapsed_s
    st = f.st
    base = {"socket": st.fd if st.fd >= 0 else 0, "start": 0, "end": el, "seconds": el}
    if rec.params.udp:
        return {
            "udp": {
                **base,
                "bytes": f.sent.bytes,
                "bits_per_second": _bps(f.sent.bytes, el),
                "jitter_ms": f.recv.jitter_s * 1000.0,
                "lost_packets": f.recv.errors,
                "packets": f.sent.packets,
                "lost_percent": _pct(f.recv.errors, f.sent.packets),
                "out_of_order": st.rx.out_of_order if st.rx is not None else 0,
                "sender": st.sender,
            }
        }
    rtts = st.rtts
    return {
        "sender": {
            **base,
            "bytes": f.sent.bytes,
            "bits_per_second": _bps(f.sent.bytes, el),
            "retransmits": max(f.sent.retransmits, 0),
            "max_snd_cwnd": st.max_cwnd,
            "max_snd_wnd": st.max_snd_wnd,
            "max_rtt": max(rtts, default=0),
            "min_rtt": min(rtts, default=0),
            "mean_rtt": sum(rtts) // len(rtts) if rtts else 0,
            "sender": st.sender,
        },
        "receiver": {
            **base,
            "bytes": f.recv.bytes,
            "bits_per_second": _bps(f.recv.bytes, el),
            "sender": st.sender,
        },
    }


def _end(rec: TestRecord) -> dict[str, Any]:
    flows = _flows(rec)
    fwd = [f for f in flows if f.st.sender]
    rev = [f for f in flows if not f.st.sender]
    summ = _udp_end if rec.params.udp else _tcp_end
    end: dict[str, Any] = {"streams": [_stream_end(rec, f) for f in flows]}
    if rec.params.bidirectional:
        end.update(summ(rec, fwd, True))
        end.update({f"{k}_bidir_reverse": v for k, v in summ(rec, rev, False).items()})
    else:
        end.update(summ(rec, fwd or rev, bool(fwd)))
    end["cpu_utilization_percent"] = {
        "host_total": rec.own.cpu_total,
        "host_user": rec.own.cpu_user,
        "host_system": rec.own.cpu_system,
        "remote_total": rec.peer.cpu_total,
        "remote_user": rec.peer.cpu_user,
        "remote_system": rec.peer.cpu_system,
    }
    if not rec.params.udp:
        mine = rec.congestion or ""
        theirs = rec.peer.congestion_used or ""
        sending = any(f.st.sender for f in flows)
        end["sender_tcp_congestion"] = mine if sending else theirs
        end["receiver_tcp_congestion"] = theirs if sending else mine
    return end


def client_document(rec: TestRecord) -> dict[str, Any]:
    """The whole ``iperf3 -c ... -J`` document for one finished test."""
    p = rec.params
    target = p.bandwidth
    start: dict[str, Any] = {
        "connected": rec.connected,
        "version": VERSION,
        "system_info": " ".join((*platform.uname()[:4], platform.machine())),
        "timestamp": {
            "time": formatdate(rec.started_at, usegmt=True),
            "timesecs": int(rec.started_at),
        },
        "connecting_to": {"host": rec.host, "port": rec.port},
        "cookie": rec.cookie,
    }
    if not p.udp:
        start["tcp_mss_default"] = rec.tcp_mss_default
    start.update(
        target_bitrate=target,
        sock_bufsize=0,
        sndbuf_actual=rec.sndbuf,
        rcvbuf_actual=rec.rcvbuf,
        test_start={
            "protocol": p.protocol.upper(),
            "num_streams": p.parallel,
            "blksize": p.blksize,
            "omit": p.omit,
            "duration": p.duration,
            "bytes": 0,
            "blocks": 0,
            "reverse": int(p.reverse),
            "tos": 0,
            "target_bitrate": target,
        },
    )
    return {"start": start, "intervals": _intervals(rec), "end": _end(rec)}
