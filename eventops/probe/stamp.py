"""STAMP (RFC 8762, unauthenticated mode) sender and reflector, RFC 8972 SSID.

Codec functions are pure (bytes in, values out) and tested on their own; the
sockets are a thin shell around them. Layouts (network order)::

    sender, 44 octets:    seq u32 | T1 ntp64 | error estimate u16 | SSID u16 | MBZ 28
    reflector, 44 octets: seq u32 | T3 ntp64 | error estimate u16 | SSID u16 |
                          T2 ntp64 | sender seq u32 | T1 ntp64 | sender error u16 |
                          MBZ 2 | sender TTL u8 | MBZ 3

TWAMP-Light reflectors (RFC 5357) may answer with 41 octets (no trailing MBZ)
or 38 (no TTL, no MBZ): parsed as far as they go. Anything shorter, or a reply
to a sequence number we never sent, is counted with its reason and not used.
Timestamps: T1/T3 from CLOCK_REALTIME when sending; T2/T4 are kernel receive
times (SO_TIMESTAMPNS).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno as _errno
import math
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from eventops.errors import ProbeError, ProbeParamError
from eventops.i18n import Msg, refusal
from eventops.probe.checks import check_interval, check_port, os_failure, os_why
from eventops.probe.models import StampAnomalies, StampInterval, StampResult, described
from eventops.probe.stats import delay_stats, rfc3550_jitter

STAMP_PORT = 862
NTP_UNIX_OFFSET = 2_208_988_800
SO_TIMESTAMPNS = 35
IP_RECVTTL = 12
IP_TTL = 2
IPV6_RECVHOPLIMIT = 51
IPV6_HOPLIMIT = 52
SENDER_LEN = 44
REFLECTOR_LEN = 44
TWAMP_LIGHT_MIN = 38
MIN_SENDER_LEN = 14  # RFC 5357 TWAMP-Light sender: seq, timestamp, error estimate

_SENDER = struct.Struct("!IQHH")
_REFL = struct.Struct("!IQHHQIQHHB3x")


# ------------------------------------------------------------------ codec


def ntp_from_ns(ns: int) -> int:
    """A CLOCK_REALTIME time in ns as a 64-bit NTP timestamp."""
    sec, rem = divmod(ns, 1_000_000_000)
    return ((sec + NTP_UNIX_OFFSET) & 0xFFFFFFFF) << 32 | (rem << 32) // 1_000_000_000


def ns_from_ntp(ts: int) -> int:
    sec = (ts >> 32) - NTP_UNIX_OFFSET
    return sec * 1_000_000_000 + ((ts & 0xFFFFFFFF) * 1_000_000_000 >> 32)


def encode_error_estimate(seconds: float, *, synchronized: bool) -> int:
    """S Z scale(6) multiplier(8) with multiplier × 2^(scale−32) ≥ ``seconds``."""
    if seconds <= 0:
        seconds = 2.0**-32
    scale = max(0, min(63, math.ceil(math.log2(seconds / 255.0)) + 32))
    mult = max(1, min(255, math.ceil(seconds / 2.0 ** (scale - 32))))
    return (0x8000 if synchronized else 0) | scale << 8 | mult


def decode_error_estimate(value: int) -> tuple[bool, float | None]:
    """(synchronized, error seconds); error None if the multiplier is 0 (invalid)."""
    mult = value & 0xFF
    scale = (value >> 8) & 0x3F
    return bool(value & 0x8000), (mult * 2.0 ** (scale - 32) if mult else None)


def pack_sender(seq: int, t1_ns: int, error: int, ssid: int, size: int = SENDER_LEN) -> bytes:
    return _SENDER.pack(seq, ntp_from_ns(t1_ns), error, ssid) + bytes(size - 16)


@dataclass(frozen=True)
class SenderPacket:
    seq: int
    t1: int  # NTP
    error: int
    ssid: int
    length: int


def parse_sender(data: bytes) -> SenderPacket:
    if len(data) < MIN_SENDER_LEN:
        raise ValueError(f"sender packet of {len(data)} octets, need at least {MIN_SENDER_LEN}")
    seq, t1, err = struct.unpack_from("!IQH", data)
    ssid = struct.unpack_from("!H", data, 14)[0] if len(data) >= 16 else 0
    return SenderPacket(seq, t1, err, ssid, len(data))


def pack_reflector(
    seq: int, t3_ns: int, error: int, req: SenderPacket, t2_ns: int, ttl: int, size: int
) -> bytes:
    body = _REFL.pack(
        seq,
        ntp_from_ns(t3_ns),
        error,
        req.ssid,
        ntp_from_ns(t2_ns),
        req.seq,
        req.t1,
        req.error,
        0,
        ttl,
    )
    return body + bytes(max(0, size - len(body)))


@dataclass(frozen=True)
class ReflectorPacket:
    seq: int
    t3: int
    error: int
    ssid: int
    t2: int
    sender_seq: int
    t1: int
    sender_error: int
    ttl: int | None
    length: int


def parse_reflector(data: bytes) -> ReflectorPacket:
    """Parse a reply, 38 octets minimum (TWAMP-Light); ValueError names what is wrong."""
    if len(data) < TWAMP_LIGHT_MIN:
        raise ValueError(f"truncated: {len(data)} octets, need at least {TWAMP_LIGHT_MIN}")
    seq, t3, err, ssid, t2, sseq, t1, serr = struct.unpack_from("!IQHHQIQH", data)
    ttl = data[40] if len(data) >= 41 else None
    return ReflectorPacket(seq, t3, err, ssid, t2, sseq, t1, serr, ttl, len(data))


def _kernel_ns(anc: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, value in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
            sec, nsec = struct.unpack("=qq", value[:16])
            return int(sec * 1_000_000_000 + nsec)
    return None


def _ttl(anc: list[tuple[int, int, bytes]]) -> int:
    for level, kind, value in anc:
        if (level, kind) in ((socket.IPPROTO_IP, IP_TTL), (socket.IPPROTO_IPV6, IPV6_HOPLIMIT)):
            return int.from_bytes(value[:4], "little") & 0xFF if len(value) >= 4 else value[0]
    return 255


def _udp_socket(family: int) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    with contextlib.suppress(OSError):
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    sock.setblocking(False)
    return sock


# ------------------------------------------------------------------ sender


@dataclass
class _Reply:
    pkt: ReflectorPacket
    t4_ns: int
    rtt_ms: float


@dataclass
class _Session:
    sent_at: dict[int, int] = field(default_factory=dict)  # seq -> T1 ns
    replies: dict[int, _Reply] = field(default_factory=dict)
    arrival: list[int] = field(default_factory=list)  # sender seqs in arrival order
    anomalies: StampAnomalies = field(default_factory=StampAnomalies)
    refused: int = 0
    samples: list[tuple[bytes, bytes, bool]] = field(default_factory=list)  # for --pcap
    error_values: list[int] = field(default_factory=list)


def _on_reply(sess: _Session, data: bytes, t4: int, ssid: int | None, keep: int) -> None:
    if len(sess.samples) < keep:
        sess.samples.append((b"", data, False))
    try:
        pkt = parse_reflector(data)
    except ValueError:
        sess.anomalies.truncated += 1
        return
    if pkt.length < REFLECTOR_LEN:
        sess.anomalies.short_twamp_light += 1
    if pkt.sender_seq not in sess.sent_at:
        sess.anomalies.unknown_seq += 1
        return
    if pkt.sender_seq in sess.replies:
        sess.anomalies.duplicate += 1
        return
    if ssid is not None and pkt.ssid not in (ssid, 0):
        sess.anomalies.wrong_ssid += 1
        return
    if pkt.t2 == 0 or pkt.t3 == 0:
        sess.anomalies.zero_timestamp += 1
        return
    if pkt.error & 0xFF == 0:
        sess.anomalies.bad_error_estimate += 1  # counted, the timestamps are still used
    t1 = sess.sent_at[pkt.sender_seq]
    t2, t3 = ns_from_ntp(pkt.t2), ns_from_ntp(pkt.t3)
    rtt_ns = (t4 - t1) - (t3 - t2)
    if rtt_ns < 0:
        sess.anomalies.negative_rtt += 1
        return
    sess.error_values.append(pkt.error)
    sess.replies[pkt.sender_seq] = _Reply(pkt, t4, rtt_ns / 1e6)
    sess.arrival.append(pkt.sender_seq)


def _write_pcap(
    path: Path, sess: _Session, local: tuple[Any, ...], remote: tuple[Any, ...]
) -> None:
    from scapy.contrib.stamp import (
        STAMPSessionReflectorTestUnauthenticated,
        STAMPSessionSenderTestUnauthenticated,
    )
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.packet import Raw
    from scapy.utils import wrpcap

    v6 = ":" in str(remote[0])
    pkts = []
    for sent, got, is_sender in sess.samples:
        payload = sent if is_sender else got
        src, dst = (local, remote) if is_sender else (remote, local)
        ip = IPv6(src=src[0], dst=dst[0]) if v6 else IP(src=src[0], dst=dst[0])
        if is_sender:
            layer: Any = STAMPSessionSenderTestUnauthenticated(payload)
        elif len(payload) >= REFLECTOR_LEN:
            layer = STAMPSessionReflectorTestUnauthenticated(payload)
        else:
            layer = Raw(payload)
        pkts.append(ip / UDP(sport=src[1], dport=dst[1]) / layer)
    wrpcap(str(path), pkts)


async def run_stamp(
    host: str,
    port: int = STAMP_PORT,
    *,
    count: int = 100,
    interval: float = 0.01,
    size: int = SENDER_LEN,
    ssid: int | None = None,
    wait_s: float = 2.0,
    reflector: Literal["auto", "stateful", "stateless"] = "auto",
    error_s: float = 1e-3,
    synchronized: bool = False,
    pcap: Path | None = None,
    pcap_packets: int = 20,
    progress: Callable[[StampInterval], None] | None = None,
    progress_interval: float = 1.0,
) -> StampResult:
    """Run a STAMP session: ``count`` packets every ``interval`` s, then wait
    up to ``wait_s`` for late replies.

    ``progress`` gets a :class:`StampInterval` (the round trips of the replies
    that arrived in it) every ``progress_interval`` seconds while sending, and
    one for the rest at the end.

    A reflector that answers none of them is a :class:`ProbeError`; truncated,
    garbage and unexpected replies are counted in ``anomalies``.
    """
    check_port(port)
    check_interval(progress_interval)
    if not 1 <= count <= 10_000_000:
        raise refusal(ProbeParamError, Msg("probe.range.count", {"count": count}))
    if not 0 <= interval <= 3600:
        raise refusal(ProbeParamError, Msg("probe.range.spacing", {"value": interval}))
    if not SENDER_LEN <= size <= 9000:
        msg = Msg("probe.range.stamp_size", {"size": size, "lo": SENDER_LEN})
        raise refusal(ProbeParamError, msg)
    if ssid is not None and not 1 <= ssid <= 0xFFFF:
        raise refusal(ProbeParamError, Msg("probe.range.ssid", {"ssid": ssid}))
    if not 0 < wait_s <= 60:
        raise refusal(ProbeParamError, Msg("probe.range.wait", {"value": wait_s}))
    if not 0 < progress_interval <= 3600:
        raise refusal(ProbeParamError, Msg("probe.range.progress", {"value": progress_interval}))
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM), 5.0)
    except (OSError, TimeoutError) as exc:
        msg = Msg("probe.err.resolve", {"peer": f"{host}:{port}", "why": str(exc)})
        raise refusal(ProbeError, msg) from None
    family, _t, _p, _c, addr = infos[0]
    sock = _udp_socket(family)
    sess = _Session()
    error = encode_error_estimate(error_s, synchronized=synchronized)
    done = asyncio.Event()
    from scapy.contrib.stamp import ErrorEstimate, STAMPSessionSenderTestUnauthenticated

    template = bytearray(
        bytes(
            STAMPSessionSenderTestUnauthenticated(
                seq=0,
                ts=0,
                err_estimate=ErrorEstimate(
                    S=int(synchronized), Z=0, scale=error >> 8 & 0x3F, multiplier=error & 0xFF
                ),
                ssid=ssid or 0,
            )
        ).ljust(size, b"\0")
    )

    def readable() -> None:
        for _ in range(256):
            try:
                data, anc, _f, _a = sock.recvmsg(65535, 256)
            except (BlockingIOError, InterruptedError):
                break
            except ConnectionRefusedError:
                sess.refused += 1
                continue
            except OSError:
                continue
            _on_reply(
                sess, data, _kernel_ns(anc) or time.time_ns(), ssid, pcap_packets * 2 if pcap else 0
            )
        if len(sess.replies) >= count:
            done.set()

    try:
        try:
            sock.connect(addr)
        except OSError as exc:
            raise os_failure(f"{host}:{port}", exc) from None
        loop.add_reader(sock.fileno(), readable)
        done_idx = 0  # replies already reported (an index into sess.arrival)
        last_at = 0.0

        def report(now: float) -> None:
            nonlocal done_idx, last_at
            if progress is None:
                return
            new = sess.arrival[done_idx:]
            rtts = [sess.replies[s].rtt_ms for s in new if s in sess.replies]
            progress(
                StampInterval(
                    start=round(last_at, 6),
                    end=round(now, 6),
                    sent=len(sess.sent_at),
                    replies=len(rtts),
                    rtt_min_ms=min(rtts) if rtts else None,
                    rtt_mean_ms=sum(rtts) / len(rtts) if rtts else None,
                    rtt_max_ms=max(rtts) if rtts else None,
                )
            )
            done_idx += len(new)
            last_at = now

        try:
            start = time.monotonic()
            for seq in range(count):
                if progress is not None and time.monotonic() - start - last_at >= progress_interval:
                    report(time.monotonic() - start)
                due = start + seq * interval
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                t1 = time.time_ns()
                struct.pack_into("!IQ", template, 0, seq, ntp_from_ns(t1))
                sess.sent_at[seq] = t1
                try:
                    sock.send(template)
                except (BlockingIOError, InterruptedError):
                    del sess.sent_at[seq]
                    continue
                except ConnectionRefusedError:
                    sess.refused += 1
                except OSError as exc:
                    if exc.errno in (_errno.ENETUNREACH, _errno.EHOSTUNREACH, _errno.EADDRNOTAVAIL):
                        raise os_failure(f"{host}:{port}", exc) from None
                    raise os_failure(f"{host}:{port}", exc, "send failed: ") from None
                if pcap and seq < pcap_packets:
                    sess.samples.append((bytes(template), b"", True))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), wait_s)
            report(time.monotonic() - start)
        finally:
            loop.remove_reader(sock.fileno())
        local = sock.getsockname()
    finally:
        sock.close()
    if pcap is not None:
        try:
            _write_pcap(pcap, sess, local, addr)
        except OSError as exc:
            reason = str(exc.strerror or exc)
            msg = Msg("probe.err.pcap", {"path": str(pcap), "why": os_why(exc, reason)})
            english = f"cannot write pcap {pcap}: {reason}"
            raise ProbeError(english).with_msg(msg.msg_id, msg.as_dict()["params"]) from None
    sent = len(sess.sent_at)
    if not sess.replies:
        why = (
            Msg("probe.err.port_refused")
            if sess.refused
            else Msg("probe.err.no_reply", {"s": wait_s})
        )
        bad = sum(sess.anomalies.model_dump().values())
        what = _summary(sess.anomalies)
        extra = Msg("probe.err.unusable", {"n": bad, "what": what}) if bad else ""
        msg = Msg(
            "probe.err.stamp_silent",
            {"peer": f"{host}:{port}", "why": why, "sent": sent, "extra": extra},
        )
        raise refusal(ProbeError, msg)
    return _result(host, port, ssid, sent, sess, reflector)


def _summary(a: StampAnomalies) -> list[Msg]:
    """The kinds of unusable replies with their counts (``truncated 3, unknown_seq 2``)."""
    return [Msg(f"probe.anomaly.{k}", {"n": v}) for k, v in a.model_dump().items() if v]


def _result(
    host: str, port: int, ssid: int | None, sent: int, sess: _Session, mode: str
) -> StampResult:
    order = sorted(sess.replies)
    rtts = [(s, sess.replies[s].rtt_ms) for s in sess.arrival]
    replies = len(sess.replies)
    differs = any(r.pkt.seq != s for s, r in sess.replies.items())
    detected: Literal["stateful", "stateless", "unknown"]
    if mode == "stateful" or differs:
        detected = "stateful"
    elif mode == "stateless":
        detected = "stateless"
    else:
        detected = "unknown"
    fwd = bwd = None
    if detected == "stateful":
        reflector_count = max(r.pkt.seq for r in sess.replies.values()) + 1
        fwd = max(0, sent - reflector_count)
        bwd = max(0, reflector_count - replies)
    fj = [ns_from_ntp(sess.replies[s].pkt.t2) - sess.sent_at[s] for s in order]
    bj = [sess.replies[s].t4_ns - ns_from_ntp(sess.replies[s].pkt.t3) for s in order]
    sync, err = decode_error_estimate(sess.error_values[-1]) if sess.error_values else (None, None)
    lost = sent - replies
    how = {
        "rtt": Msg("method.stamp_rtt"),
        "jitter": Msg("method.stamp_jitter"),
        "forward_jitter": Msg("method.stamp_forward_jitter"),
        "backward_jitter": Msg("method.stamp_backward_jitter"),
        "loss": Msg("method.stamp_loss"),
    }
    if detected == "stateful":
        how["forward_loss"] = Msg("method.stamp_forward_loss")
        how["backward_loss"] = Msg("method.stamp_backward_loss")
    methods = {k: m.text("en") for k, m in how.items()}
    return StampResult(
        host=host,
        port=port,
        ssid=ssid,
        sent=sent,
        replies=replies,
        round_trip_lost=lost,
        round_trip_loss_percent=100.0 * lost / sent if sent else 0.0,
        reflector_mode=detected,
        forward_lost=fwd,
        backward_lost=bwd,
        rtt=delay_stats(rtts, method=methods["rtt"], one_way=False),
        forward_jitter_ms=rfc3550_jitter(fj) / 1e6,
        backward_jitter_ms=rfc3550_jitter(bj) / 1e6,
        reflector_error_estimate_s=err,
        reflector_synchronized=sync,
        anomalies=sess.anomalies,
        **described(how),
    )
