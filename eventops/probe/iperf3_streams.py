"""iperf3 data streams, shared by our client and our server.

Each stream is one socket driven by one thread (blocking send/recv release
the GIL, so parallel TCP streams use several cores). Counters are plain
integers read by the asyncio side for per-second intervals. Paced UDP
sending goes through the probe data path (:mod:`eventops.probe.datapath`,
GSO batches, at most one millisecond of traffic per send).

The UDP receive statistics follow iperf3's receiver exactly (3.12,
``iperf_udp_recv``): ``packets`` is the highest sequence number seen,
``errors`` (lost) grows by each gap and shrinks by each late arrival,
``out_of_order`` counts arrivals below the highest, and jitter is RFC 3550's
running estimate of the header timestamps (sender's CLOCK_MONOTONIC) against
our arrival times.
"""

from __future__ import annotations

import array
import errno as _errno
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from eventops.probe.datapath import FMT_IPERF3, Datapath

_UDP_HDR = struct.Struct("!III")
_TCP_INFO_LEN = 236
TICK_S = 1.0


class UdpRxStats:
    """iperf3's receive-side accounting for one UDP stream (pure)."""

    def __init__(self) -> None:
        self.packet_count = 0
        self.cnt_error = 0
        self.out_of_order = 0
        self.jitter_s = 0.0
        self._prev_transit = 0.0
        self.datagrams = 0

    def feed(self, seq: int, sent_s: float, arrival_s: float) -> None:
        self.datagrams += 1
        if seq >= self.packet_count + 1:
            if seq > self.packet_count + 1:
                self.cnt_error += seq - 1 - self.packet_count
            self.packet_count = seq
        else:
            self.out_of_order += 1
            if self.cnt_error > 0:
                self.cnt_error -= 1
        transit = arrival_s - sent_s
        d = abs(transit - self._prev_transit)
        self._prev_transit = transit
        self.jitter_s += (d - self.jitter_s) / 16.0

    def feed_datagram(self, data: bytes | memoryview, arrival_s: float) -> bool:
        if len(data) < _UDP_HDR.size:
            return False
        sec, usec, seq = _UDP_HDR.unpack_from(data)
        self.feed(seq, sec + usec / 1e6, arrival_s)
        return True


@dataclass
class Sample:
    """Cumulative counters of one stream at one instant (seconds since start)."""

    t: float
    bytes: int
    packets: int
    jitter_s: float = 0.0
    lost: int = 0
    retransmits: int = 0
    tcp: dict[str, int] = field(default_factory=dict)


@dataclass
class TcpInfo:
    retransmits: int
    snd_cwnd: int
    rtt_us: int
    rttvar_us: int
    pmtu: int
    snd_wnd: int


def tcp_info(sock: socket.socket) -> TcpInfo | None:
    """Linux ``TCP_INFO``: total retransmits, cwnd (bytes), RTT, PMTU, send window."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)
    except OSError:
        return None
    if len(raw) < 104:
        return None
    u32 = struct.unpack_from("=24I", raw, 8)
    snd_wnd = struct.unpack_from("=I", raw, 232)[0] if len(raw) >= 236 else 0
    return TcpInfo(
        retransmits=u32[23],
        snd_cwnd=u32[18] * u32[2],
        rtt_us=u32[15],
        rttvar_us=u32[16],
        pmtu=u32[13],
        snd_wnd=snd_wnd,
    )


class StreamIO:
    """One data stream: its socket, role, counters and per-second samples."""

    def __init__(self, sid: int, sock: socket.socket, *, sender: bool, udp: bool) -> None:
        self.id = sid
        self.sock = sock
        self.sender = sender
        self.udp = udp
        self.bytes = 0
        self.packets = 0
        self.rx = UdpRxStats() if udp and not sender else None
        self.samples: list[Sample] = []
        self.errno = 0
        self.elapsed_s = 0.0
        self.per_ms: Any = None
        self.arrivals_ms: Any = None
        """Optional ``array('I')``: datagrams received per millisecond (receivers)."""
        self.retransmits = -1
        self.rtts: list[int] = []
        self.max_cwnd = 0
        self.max_snd_wnd = 0
        self.fd = sock.fileno()
        """The descriptor number (kept for the report after the socket is closed)."""
        try:
            lh, lp = sock.getsockname()[:2]
            rh, rp = sock.getpeername()[:2]
        except OSError:
            lh, lp, rh, rp = "", 0, "", 0
        self.connected = {
            "socket": self.fd,
            "local_host": lh,
            "local_port": lp,
            "remote_host": rh,
            "remote_port": rp,
        }
        self.sndbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        self.rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    def sample(self, t: float) -> None:
        s = Sample(t, self.bytes, self.packets)
        if self.rx is not None:
            s.packets = self.rx.packet_count
            s.jitter_s = self.rx.jitter_s
            s.lost = self.rx.cnt_error
        if self.sender and not self.udp:
            info = tcp_info(self.sock)
            if info is not None:
                s.retransmits = info.retransmits
                s.tcp = {
                    "snd_cwnd": info.snd_cwnd,
                    "snd_wnd": info.snd_wnd,
                    "rtt": info.rtt_us,
                    "rttvar": info.rttvar_us,
                    "pmtu": info.pmtu,
                }
                self.retransmits = info.retransmits
                self.max_cwnd = max(self.max_cwnd, info.snd_cwnd)
                self.max_snd_wnd = max(self.max_snd_wnd, info.snd_wnd)
                if info.rtt_us:
                    self.rtts.append(info.rtt_us)
        self.samples.append(s)

    def samples_from_per_ms(self, size: int, duration: float) -> None:
        """Per-second samples of a paced UDP sender from its per-millisecond counts."""
        if self.per_ms is None:
            return
        counts = list(self.per_ms)
        total = 0
        self.samples = []
        k = 1
        while k * TICK_S < duration:
            total += sum(counts[(k - 1) * 1000 : k * 1000])
            self.samples.append(Sample(k * TICK_S, total * size, total))
            k += 1
        self.samples.append(Sample(self.elapsed_s, self.bytes, self.packets))


def tcp_send(
    st: StreamIO, blk: int, duration: float, rate_bps: float, stop: threading.Event
) -> None:
    """Write ``blk``-byte blocks until ``duration`` passes or ``stop`` is set."""
    buf = memoryview(bytes(blk))
    sock = st.sock
    sock.settimeout(0.25)
    t0 = last = time.monotonic()
    end = t0 + duration
    try:
        while not stop.is_set():
            now = time.monotonic()
            if now >= end:
                break
            if rate_bps > 0 and st.bytes * 8 > rate_bps * (now - t0):
                time.sleep(min(0.001, end - now))
                continue
            try:
                st.bytes += sock.send(buf)
            except TimeoutError:
                continue
            last = now
    except OSError as exc:
        st.errno = exc.errno or _errno.EIO
    st.elapsed_s = last - t0


def tcp_recv(st: StreamIO, blk: int, stop: threading.Event) -> None:
    """Read until the peer closes or ``stop`` is set."""
    buf = bytearray(max(blk, 65536))
    sock = st.sock
    sock.settimeout(0.1)
    mono = time.monotonic
    t0 = last = mono()
    try:
        while not stop.is_set():
            try:
                n = sock.recv_into(buf)
            except TimeoutError:
                continue
            if n == 0:
                break
            st.bytes += n
            last = mono()
    except OSError as exc:
        if exc.errno not in (_errno.ECONNRESET, _errno.EBADF):
            st.errno = exc.errno or _errno.EIO
    st.elapsed_s = last - t0


def udp_send(
    st: StreamIO, dp: Datapath, blk: int, rate_bps: float, duration: float, stop: bytearray
) -> None:
    """Paced iperf3 datagrams (seq from 1) through the data path."""
    pps = rate_bps / (8.0 * blk) if rate_bps else 0.0
    st.per_ms = array.array("I", bytes(4 * (int(duration * 1000) + 1000)))
    pk, nb, _seq, _gso, el, err = dp.send_stream(
        st.fd, FMT_IPERF3, blk, pps, duration, 1, 0, 64, stop, st.per_ms
    )
    st.packets, st.bytes, st.elapsed_s = pk, nb, el / 1e9
    # a sender stopped by the peer's TEST_END: its time ends with its last send
    busy = [i for i in range(len(st.per_ms)) if st.per_ms[i]]
    if busy and stop[0]:
        st.elapsed_s = min(st.elapsed_s, (busy[-1] + 1) / 1000.0)
    if err and err != _errno.ECONNREFUSED:
        st.errno = err


def udp_recv(st: StreamIO, stop: threading.Event) -> None:
    """Receive iperf3 datagrams and account them the way iperf3 does."""
    assert st.rx is not None
    rx = st.rx
    buf = bytearray(65536)
    view = memoryview(buf)
    sock = st.sock
    sock.settimeout(0.1)
    mono = time.monotonic
    arrivals = st.arrivals_ms
    t0 = last = mono()
    try:
        while not stop.is_set():
            try:
                n = sock.recv_into(buf)
            except TimeoutError:
                continue
            except ConnectionRefusedError:
                continue
            last = mono()
            if rx.feed_datagram(view[:n], last):
                st.bytes += n
                if arrivals is not None:
                    k = int((last - t0) * 1000.0)
                    if k < len(arrivals):
                        arrivals[k] += 1
    except OSError as exc:
        if exc.errno != _errno.EBADF:
            st.errno = exc.errno or _errno.EIO
    st.elapsed_s = last - t0
    st.packets = rx.packet_count
