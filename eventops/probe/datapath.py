"""The probe's data path: per-datagram accounting and paced UDP send/receive.

Both engines offer the same three things with the same results:

``Accountant(window)``
    per-datagram accounting of sequence numbers. ``feed(buffer)`` takes native
    ``uint64`` values (``array('Q')``); ``counters()`` returns received,
    duplicated, reordered (RFC 4737: an arrival below NextExp), late (more than
    ``window`` sequence numbers behind the newest, so it cannot be checked for
    duplication: counted only as late, never as received), max_reorder_extent and highest_seq.
``send_stream(fd, fmt, size, pps, duration, seq0, session, batch, stop, per_ms)``
    a paced stream: each send carries at most ``batch`` datagrams and never more
    than one millisecond of traffic at ``pps`` (``pps`` 0: unlimited). Uses UDP
    GSO, falling back to sendmmsg. Returns ``(packets, bytes, next_seq,
    gso_used, elapsed_ns, errno)``. ``per_ms`` (an ``array('I')`` or None)
    receives the number of datagrams handed to the kernel in each millisecond.
``recv_stream(fd, acct, fmt, session, stop, timeout, trace)``
    receives with UDP GRO and accounts every datagram until ``stop[0]`` is set
    or ``timeout`` seconds pass. Returns ``(datagrams, bytes, foreign,
    recorded, errno)``; ``trace`` (an ``array('Q')`` or None) records the
    sequence numbers received.

:func:`load_engine` picks the compiled engine and falls back to Python,
except under ``CI=true`` where a missing compiled engine is an error.
"""

from __future__ import annotations

import errno as _errno
import math
import os
import select
import socket
import struct
import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from eventops.errors import ProbeError
from eventops.i18n import Msg, refusal

FMT_EVENTOPS = 0
FMT_IPERF3 = 1
HEADER_LEN = 24
MAGIC = 0x45564F50  # "EVOP"
SOL_UDP = 17
UDP_SEGMENT = 103
UDP_GRO = 104
MAX_SEGS = 64
CATCHUP = 1.25
"""After a stall a paced sender catches up at most 1.25× the target rate in any millisecond."""
MAX_BACKLOG_MS = 100
"""A sender more than 100 ms behind schedule drops the excess (a reported stall)."""

_HDR = struct.Struct("!IIQQ")
_IPERF_HDR = struct.Struct("!III")


class AccountantLike(Protocol):
    def feed(self, trace: Any, /) -> None: ...

    def counters(self) -> dict[str, int]: ...


class PyAccountant:
    """Pure-Python accounting with exactly the rules of the compiled one."""

    def __init__(self, window: int = 1 << 20) -> None:
        if window < 2 or window & (window - 1) or window > 1 << 28:
            raise ValueError("window must be a power of two between 2 and 2**28")
        self.window = window
        self._mask = window - 1
        self._seen = bytearray(window)
        self._next = 0
        self._started = False
        self.received = self.duplicated = self.reordered = self.late = 0
        self.max_extent = 0

    def feed_one(self, s: int) -> None:
        seen = self._seen
        if not self._started or s >= self._next:
            start = self._next if self._started else s
            if s - start + 1 >= self.window:
                seen[:] = bytes(self.window)
            else:
                mask = self._mask
                for q in range(start, s + 1):
                    seen[q & mask] = 0
            seen[s & self._mask] = 1
            self._started = True
            self._next = s + 1
            self.received += 1
            return
        dist = self._next - 1 - s
        if self._next - s <= self.window:
            slot = s & self._mask
            if seen[slot]:
                self.duplicated += 1
                return
            seen[slot] = 1
            self.received += 1
            self.reordered += 1
        else:
            self.late += 1  # may be a duplicate: never counted as received
        if dist > self.max_extent:
            self.max_extent = dist

    def feed(self, trace: Any, /) -> None:
        view = memoryview(trace).cast("B").cast("Q")
        for s in view:
            self.feed_one(s)

    def counters(self) -> dict[str, int]:
        return {
            "received": self.received,
            "duplicated": self.duplicated,
            "reordered": self.reordered,
            "late": self.late,
            "max_reorder_extent": self.max_extent,
            "highest_seq": self._next - 1 if self._started else -1,
        }


def _stamp(buf: bytearray, off: int, fmt: int, session: int, seq: int) -> None:
    if fmt == FMT_IPERF3:
        t = time.monotonic_ns()
        _IPERF_HDR.pack_into(
            buf, off, t // 1_000_000_000, (t % 1_000_000_000) // 1000, seq & 0xFFFFFFFF
        )
    else:
        _HDR.pack_into(buf, off, MAGIC, session, seq, time.time_ns())


def py_send_stream(
    fd: int,
    fmt: int,
    size: int,
    pps: float,
    duration: float,
    seq0: int,
    session: int,
    batch: int,
    stop: bytearray,
    per_ms: Any,
) -> tuple[int, int, int, bool, int, int]:
    hdr = 12 if fmt == FMT_IPERF3 else HEADER_LEN
    if size < hdr or size > 65507 or batch < 1 or batch > MAX_SEGS:
        raise ValueError("size or batch out of range")
    batch = max(1, min(batch, 65507 // size))
    cap = batch
    if pps > 0:
        cap = max(1, min(cap, int(pps / 1000.0)))
    sock = socket.socket(fileno=os.dup(fd))
    buf = bytearray(cap * size)
    packets = nbytes = 0
    seq = seq0
    gso = cap > 1
    err = 0
    start = time.monotonic_ns()
    end = start + int(duration * 1e9)
    sched = start
    buckets = len(per_ms) if per_ms is not None else 0
    ms_limit = max(1, math.ceil(pps / 1000.0 * CATCHUP)) if pps > 0 else 0
    max_backlog = int(pps / 1000.0 * MAX_BACKLOG_MS) + cap if pps > 0 else 0
    cur_ms, in_ms = -1, 0
    try:
        while not stop[0]:
            now = time.monotonic_ns()
            if now >= end:
                break
            n = cap
            if pps > 0:
                due = int((now - sched) * pps / 1e9) + 1
                if due <= packets:
                    at = min(end, sched + int(packets * 1e9 / pps))
                    time.sleep(max(0.0, (at - time.monotonic_ns()) / 1e9))
                    continue
                if due - packets > max_backlog:  # a long stall: forget what cannot be caught up
                    sched += int((due - packets - max_backlog) * 1e9 / pps)
                    due = packets + max_backlog
                ms = (now - start) // 1_000_000
                if ms != cur_ms:
                    cur_ms, in_ms = ms, 0
                if in_ms >= ms_limit:
                    time.sleep(max(0.0, (start + (ms + 1) * 1_000_000 - time.monotonic_ns()) / 1e9))
                    continue
                n = min(due - packets, cap, ms_limit - in_ms)
            for i in range(n):
                _stamp(buf, i * size, fmt, session, seq + i)
            try:
                if gso and n > 1:
                    try:
                        sock.sendmsg(
                            [memoryview(buf)[: n * size]],
                            [(SOL_UDP, UDP_SEGMENT, struct.pack("=H", size))],
                        )
                    except OSError as exc:
                        if exc.errno in (
                            _errno.EIO,
                            _errno.EINVAL,
                            _errno.EOPNOTSUPP,
                            _errno.ENOPROTOOPT,
                        ):
                            gso = False
                            continue
                        raise
                else:
                    for i in range(n):
                        sock.send(memoryview(buf)[i * size : (i + 1) * size])
            except (BlockingIOError, InterruptedError):
                select.select([], [sock], [], 0.005)
                continue
            except OSError as exc:
                if exc.errno == _errno.ENOBUFS:
                    select.select([], [sock], [], 0.005)
                    continue
                err = exc.errno or _errno.EIO
                break
            idx = (now - start) // 1_000_000
            if idx < buckets:
                per_ms[idx] += n
            packets += n
            in_ms += n
            nbytes += n * size
            seq += n
    finally:
        sock.close()  # closes our dup, not the caller's descriptor
    return packets, nbytes, seq, gso, time.monotonic_ns() - start, err


def py_recv_stream(
    fd: int,
    acct: PyAccountant,
    fmt: int,
    session: int,
    stop: bytearray,
    timeout: float,
    trace: Any,
) -> tuple[int, int, int, int, int]:
    sock = socket.socket(fileno=os.dup(fd))
    try:
        sock.setsockopt(SOL_UDP, UDP_GRO, 1)
    except OSError:
        pass
    hdr = 12 if fmt == FMT_IPERF3 else HEADER_LEN
    datagrams = nbytes = foreign = recorded = 0
    cap = len(trace) if trace is not None else 0
    err = 0
    end = time.monotonic() + timeout
    ctl = 256  # the GRO segment size and any other control message on the socket
    try:
        sock.setblocking(False)
        while not stop[0] and time.monotonic() < end:
            try:
                data, anc, _flags, _addr = sock.recvmsg(65536, ctl)
            except (BlockingIOError, InterruptedError):
                select.select([sock], [], [], 0.005)
                continue
            except ConnectionRefusedError:
                continue
            except OSError as exc:
                err = exc.errno or _errno.EIO
                break
            seg = len(data)
            for level, kind, value in anc:
                if level == SOL_UDP and kind == UDP_GRO:
                    g = struct.unpack("=i", value[:4])[0]
                    if g > 0:
                        seg = g
            for off in range(0, len(data), seg):
                d = data[off : off + seg]
                if len(d) < hdr:
                    foreign += 1
                    continue
                if fmt == FMT_IPERF3:
                    s = _IPERF_HDR.unpack_from(d)[2]
                else:
                    magic, sess, s, _ts = _HDR.unpack_from(d)
                    if magic != MAGIC or sess != session:
                        foreign += 1
                        continue
                acct.feed_one(s)
                if recorded < cap:
                    trace[recorded] = s
                    recorded += 1
                datagrams += 1
                nbytes += len(d)
    finally:
        sock.close()  # closes our dup, not the caller's descriptor
    return datagrams, nbytes, foreign, recorded, err


@dataclass(frozen=True)
class Datapath:
    """One engine's entry points and its name (``c`` or ``python``)."""

    name: Literal["c", "python"]
    Accountant: Any
    send_stream: Any
    recv_stream: Any


PYTHON_ENGINE = Datapath("python", PyAccountant, py_send_stream, py_recv_stream)


def c_engine() -> Datapath:
    """The compiled engine; :class:`ProbeError` if it cannot be imported."""
    try:
        from eventops.probe import _fastprobe  # type: ignore[attr-defined]
    except ImportError as exc:
        raise refusal(ProbeError, Msg("probe.err.engine", {"why": str(exc)})) from exc
    return Datapath("c", _fastprobe.Accountant, _fastprobe.send_stream, _fastprobe.recv_stream)


def load_engine(prefer: Literal["auto", "c", "python"] = "auto") -> Datapath:
    """The engine to use: compiled if available; under ``CI=true`` it must be."""
    if prefer == "python":
        return PYTHON_ENGINE
    if prefer == "c" or os.environ.get("CI", "").lower() == "true":
        return c_engine()
    try:
        return c_engine()
    except ProbeError:
        return PYTHON_ENGINE


def udp_socket_drops(sock: socket.socket) -> int | None:
    """The kernel's drop counter of one UDP socket (receive buffer full ...).

    Read from ``/proc/net/udp`` / ``udp6`` (the ``drops`` column of the line
    with this socket's inode); None where that is not available.
    """
    try:
        inode = os.fstat(sock.fileno()).st_ino
    except OSError:
        return None
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(name, encoding="ascii") as fh:
                next(fh, None)
                for line in fh:
                    f = line.split()
                    if len(f) >= 13 and f[9] == str(inode):
                        return int(f[12])
        except (OSError, ValueError):
            continue
    return None


def drain_udp(sock: socket.socket, limit: int = 1 << 20) -> int:
    """Discard every datagram already queued on ``sock``; how many there were."""
    n = 0
    while n < limit:
        try:
            sock.recv(65536, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:
            continue  # a queued ICMP error; keep draining
        n += 1
    return n
