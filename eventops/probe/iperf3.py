"""An iperf3-compatible client: a thin socket shell around :class:`ClientProtocol`.

The control protocol lives in :mod:`eventops.probe.iperf3_proto` (sans IO);
the data streams in :mod:`eventops.probe.iperf3_streams`; the ``-J``
document in :mod:`eventops.probe.iperf3_report`. This module connects,
feeds the control bytes to the protocol, acts on its events and measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from eventops.errors import ProbeError, ProbeParamError
from eventops.i18n import Msg, refusal
from eventops.probe.checks import check_port, os_failure, os_why
from eventops.probe.datapath import load_engine
from eventops.probe.iperf3_proto import (
    ClientProtocol,
    CreateStreams,
    Event,
    Finished,
    PeerResults,
    ResultsRequested,
    Running,
    Started,
    named,
    phase_msg,
)
from eventops.probe.iperf3_report import TestRecord, client_document
from eventops.probe.iperf3_streams import (
    TICK_S,
    StreamIO,
    tcp_recv,
    tcp_send,
    udp_recv,
    udp_send,
)
from eventops.probe.iperf3_wire import (
    COOKIE_ALPHABET,
    DEFAULT_TCP_BLKSIZE,
    DEFAULT_UDP_BLKSIZE,
    MAX_STREAMS,
    MAX_TCP_BLOCK,
    MAX_UDP_BLOCK,
    UDP_CONNECT_MSG,
    UDP_CONNECT_REPLY,
    Iperf3Params,
    Results,
    StreamResult,
    stream_ids,
)
from eventops.probe.models import Iperf3Direction, Iperf3Result, described
from eventops.probe.stats import pacing_report

IPERF3_PORT = 5201
DEFAULT_UDP_RATE = 1_000_000
"""iperf3's UDP target rate when ``-b`` is not given (bit/s)."""


def make_cookie() -> bytes:
    return "".join(secrets.choice(COOKIE_ALPHABET) for _ in range(36)).encode() + b"\0"


def default_udp_blksize(ctrl: socket.socket) -> int:
    """iperf3's default UDP length: the control connection's MSS, else 1460."""
    try:
        mss = ctrl.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
    except OSError:
        return DEFAULT_UDP_BLKSIZE
    return mss if 0 < mss <= MAX_UDP_BLOCK else DEFAULT_UDP_BLKSIZE


class CpuMeter:
    """Our process CPU time over the test, as iperf3's ``cpu_util_*`` percentages."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.c0 = os.times()

    def percent(self) -> tuple[float, float, float]:
        wall = max(time.monotonic() - self.t0, 1e-9)
        c = os.times()
        user = (c.user - self.c0.user) / wall * 100.0
        system = (c.system - self.c0.system) / wall * 100.0
        return user + system, user, system


def congestion(sock: socket.socket) -> str | None:
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16)
    except OSError:
        return None
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def own_results(
    streams: list[StreamIO], params: Iperf3Params, elapsed: float, cpu: CpuMeter, cc: str | None
) -> Results:
    total, user, system = cpu.percent()
    out = []
    for st in streams:
        jitter = st.rx.jitter_s if st.rx is not None else 0.0
        errors = st.rx.cnt_error if st.rx is not None else 0
        out.append(
            StreamResult(
                id=st.id,
                bytes=st.bytes,
                retransmits=st.retransmits if st.sender and not params.udp else -1,
                jitter_s=jitter,
                errors=errors,
                packets=st.packets,
                start_time=0.0,
                end_time=st.elapsed_s or elapsed,
            )
        )
    sending_tcp = not params.udp and any(s.sender for s in streams)
    return Results(
        streams=tuple(out),
        cpu_total=total,
        cpu_user=user,
        cpu_system=system,
        sender_has_retransmits=(1 if sending_tcp else -1) if not params.udp else 0,
        congestion_used=cc,
    )


def direction_figures(
    streams: list[StreamIO], own: Results, peer: Results, elapsed: float, udp: bool
) -> Iperf3Direction | None:
    if not streams:
        return None
    mine, theirs = own.by_id(), peer.by_id()
    sent = [(mine if st.sender else theirs).get(st.id) for st in streams]
    got = [(theirs if st.sender else mine).get(st.id) for st in streams]
    s_ok = [r for r in sent if r is not None]
    g_ok = [r for r in got if r is not None]
    sent_bytes = sum(r.bytes for r in s_ok)
    got_bytes = sum(r.bytes for r in g_ok)
    jit = [r.jitter_s for r in g_ok]
    return Iperf3Direction(
        sent_bytes=sent_bytes,
        sent_packets=sum(r.packets for r in s_ok) if udp else None,
        sender_bps=sent_bytes * 8 / elapsed if elapsed > 0 else 0.0,
        received_bytes=got_bytes,
        received_packets=sum(r.packets for r in g_ok) if udp else None,
        lost_packets=sum(r.errors for r in g_ok) if udp else None,
        jitter_ms=(sum(jit) / len(jit) * 1000.0) if udp and jit else None,
        out_of_order=sum(st.rx.out_of_order for st in streams if st.rx is not None)
        if udp and any(st.rx for st in streams)
        else None,
        receiver_bps=got_bytes * 8 / elapsed if elapsed > 0 else 0.0,
        retransmits=None if udp else sum(max(r.retransmits, 0) for r in s_ok),
    )


class _Shell:
    """Reads the control connection, feeds the protocol, writes its bytes."""

    def __init__(
        self,
        proto: ClientProtocol,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        wait_s: float,
    ) -> None:
        self.proto = proto
        self.reader = reader
        self.writer = writer
        self.wait_s = wait_s
        self.pending: list[Event] = []

    async def flush(self) -> None:
        data = self.proto.data_to_send()
        if data:
            self.writer.write(data)
            try:
                await self.writer.drain()
            except (ConnectionError, OSError) as exc:
                raise self._lost(exc) from None

    def _lost(self, exc: OSError) -> ProbeError:
        msg = Msg("iperf3.err.lost", {"where": self.proto.named, "why": os_why(exc, str(exc))})
        english = f"{self.proto.where}: control connection lost ({exc})"
        return ProbeError(english).with_msg(msg.msg_id, msg.as_dict()["params"])

    async def next_event(self, wait_s: float | None = None) -> Event:
        while not self.pending:
            try:
                data = await asyncio.wait_for(self.reader.read(65536), wait_s or self.wait_s)
            except TimeoutError:
                phase = phase_msg(self.proto.phase)
                msg = Msg(
                    "iperf3.err.no_answer",
                    {"where": self.proto.named, "s": wait_s or self.wait_s, "phase": phase},
                )
                raise refusal(ProbeError, msg) from None
            except (ConnectionError, OSError) as exc:
                raise self._lost(exc) from None
            if not data:
                self.proto.feed_eof()
                raise refusal(ProbeError, Msg("iperf3.err.closed", {"where": self.proto.named}))
            self.pending += self.proto.feed(data)
            await self.flush()
        return self.pending.pop(0)

    async def expect(self, kind: type[Event], wait_s: float | None = None) -> Event:
        ev = await self.next_event(wait_s)
        if not isinstance(ev, kind):
            msg = Msg(
                "iperf3.err.unexpected", {"where": self.proto.named, "event": type(ev).__name__}
            )
            raise refusal(ProbeError, msg)
        return ev


async def _open_udp(
    family: int, addr: Any, wait_s: float, where: str, loop: asyncio.AbstractEventLoop
) -> socket.socket:
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.setblocking(False)
        await loop.sock_connect(s, addr)
        await loop.sock_sendall(s, UDP_CONNECT_MSG)
        try:
            reply = await asyncio.wait_for(loop.sock_recv(s, 4), wait_s)
        except TimeoutError:
            msg = Msg("iperf3.err.udp_no_answer", {"where": named(where), "s": wait_s})
            raise refusal(ProbeError, msg) from None
        except ConnectionRefusedError:
            raise refusal(
                ProbeError, Msg("iperf3.err.udp_refused", {"where": named(where)})
            ) from None
        if reply != UDP_CONNECT_REPLY:
            msg = Msg("iperf3.err.udp_reply", {"where": named(where), "reply": repr(reply)})
            raise refusal(ProbeError, msg)
        s.setblocking(True)
        return s
    except BaseException:
        s.close()
        raise


async def _open_tcp(
    family: int, addr: Any, cookie: bytes, wait_s: float, where: str
) -> socket.socket:
    loop = asyncio.get_running_loop()
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(s, addr), wait_s)
        except TimeoutError:
            msg = Msg("iperf3.err.tcp_no_answer", {"where": named(where), "s": wait_s})
            raise refusal(ProbeError, msg) from None
        except OSError as exc:
            said = Msg("iperf3.err.tcp_open", {"why": os_why(exc)})
            lead = "cannot open TCP stream: "
            raise os_failure(where, exc, lead, named=named(where), said=said) from None
        await loop.sock_sendall(s, cookie)
        s.setblocking(True)
        return s
    except BaseException:
        s.close()
        raise


def validate(
    *,
    udp: bool,
    rate_bps: float | None,
    size: int | None,
    duration: float,
    streams: int,
    reverse: bool,
    bidir: bool,
) -> None:
    if not 1 <= duration <= 86400 or duration != int(duration):
        raise refusal(ProbeParamError, Msg("probe.range.whole_seconds", {"value": duration}))
    if not 1 <= streams <= MAX_STREAMS:
        msg = Msg("probe.range.streams", {"streams": streams, "hi": MAX_STREAMS})
        raise refusal(ProbeParamError, msg)
    if rate_bps is not None and not 0 <= rate_bps <= 400e9:
        raise refusal(ProbeParamError, Msg("probe.range.iperf3_rate", {"rate": rate_bps}))
    if size is not None:
        lo, hi = (16, MAX_UDP_BLOCK) if udp else (1, MAX_TCP_BLOCK)
        if not lo <= size <= hi:
            kind = "probe.range.udp_block" if udp else "probe.range.tcp_block"
            raise refusal(ProbeParamError, Msg(kind, {"size": size, "lo": lo, "hi": hi}))
    if reverse and bidir:
        raise refusal(ProbeParamError, Msg("probe.range.reverse_bidir"))


def _interval_summary(ios: list[StreamIO]) -> dict[str, Any]:
    """The interval just sampled, summed over the streams (iperf3's per-second line)."""
    start = end = 0.0
    total = {True: 0, False: 0}
    for st in ios:
        if not st.samples:
            continue
        cur = st.samples[-1]
        prev_t, prev_b = (
            (st.samples[-2].t, st.samples[-2].bytes) if len(st.samples) > 1 else (0.0, 0)
        )
        start, end = prev_t, cur.t
        total[st.sender] += cur.bytes - prev_b
    secs = max(end - start, 1e-9)
    return {
        "start": start,
        "end": end,
        "sent_bytes": total[True],
        "received_bytes": total[False],
        "sent_bps": total[True] * 8 / secs,
        "received_bps": total[False] * 8 / secs,
    }


async def run_iperf3(
    host: str,
    port: int = IPERF3_PORT,
    *,
    udp: bool = False,
    rate_bps: float | None = None,
    size: int | None = None,
    duration: float = 10.0,
    streams: int = 1,
    reverse: bool = False,
    bidir: bool = False,
    engine: Literal["auto", "c", "python"] = "auto",
    wait_s: float = 5.0,
    on_interval: Callable[[dict[str, Any]], None] | None = None,
) -> Iperf3Result:
    """Run one test against an iperf3 server, with iperf3's defaults.

    UDP: ``rate_bps`` per stream at iperf3's layer (UDP payload; default
    1 Mbit/s; 0 = unlimited), ``size`` the datagram payload (default: the
    control connection's MSS, else 1460). TCP: ``size`` the write size
    (default 128 KiB), ``rate_bps`` None/0 = unlimited. ``reverse``: the
    server sends; ``bidir``: both send. ``on_interval`` gets each second's
    figures summed over the streams (start, end, sent/received bytes and bit/s)
    while the test runs, as iperf3 prints its interval lines.
    """
    check_port(port)
    validate(
        udp=udp,
        rate_bps=rate_bps,
        size=size,
        duration=duration,
        streams=streams,
        reverse=reverse,
        bidir=bidir,
    )
    dp = load_engine(engine) if udp else None
    where = f"iperf3 server {host}:{port}"
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), wait_s)
    except TimeoutError:
        msg = Msg("probe.ctl.no_answer", {"what": named(where), "s": wait_s})
        raise refusal(ProbeError, msg) from None
    except ConnectionRefusedError:
        raise refusal(ProbeError, Msg("iperf3.err.refused", {"where": named(where)})) from None
    except OSError as exc:
        raise os_failure(where, exc, named=named(where)) from None
    ctrl: socket.socket = writer.get_extra_info("socket")
    blk = size or (default_udp_blksize(ctrl) if udp else DEFAULT_TCP_BLKSIZE)
    try:
        mss = ctrl.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
    except OSError:
        mss = 0
    rate = int(rate_bps if rate_bps is not None else (DEFAULT_UDP_RATE if udp else 0))
    params = Iperf3Params(
        protocol="udp" if udp else "tcp",
        duration=int(duration),
        parallel=streams,
        blksize=blk,
        bandwidth=rate,
        reverse=reverse,
        bidirectional=bidir,
    )
    cookie = make_cookie()
    proto = ClientProtocol(params, cookie, where)
    shell = _Shell(proto, reader, writer, wait_s)
    ios: list[StreamIO] = []
    threads: list[threading.Thread] = []
    stop = threading.Event()
    stop_flag = bytearray(1)
    started_at = time.time()
    try:
        proto.start()
        await shell.flush()
        await shell.expect(CreateStreams)
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
        )
        family, _t, _p, _c, addr = infos[0]
        roles = [True] * streams + [False] * streams if bidir else [not reverse] * streams
        for sid, sending in zip(stream_ids(len(roles)), roles, strict=True):
            if udp:
                sock = await _open_udp(family, addr, wait_s, where, loop)
            else:
                sock = await _open_tcp(family, addr, cookie, wait_s, where)
            ios.append(StreamIO(sid, sock, sender=sending, udp=udp))
        await shell.expect(Started, wait_s)
        await shell.expect(Running, wait_s)
        cpu = CpuMeter()
        t0 = time.monotonic()
        for st in ios:
            if st.sender and udp:
                assert dp is not None
                fn: Any = (udp_send, st, dp, blk, rate, duration, stop_flag)
            elif st.sender:
                fn = (tcp_send, st, blk, duration, rate, stop)
            elif udp:
                fn = (udp_recv, st, stop)
            else:
                fn = (tcp_recv, st, blk, stop)
            th = threading.Thread(target=fn[0], args=fn[1:], daemon=True)
            threads.append(th)
        for th in threads:
            th.start()
        watcher = asyncio.ensure_future(shell.next_event(duration + wait_s + 30))
        try:
            k = 1
            while True:
                now = time.monotonic() - t0
                if now >= duration:
                    break
                nxt = min(float(k * TICK_S), duration)
                done, _ = await asyncio.wait({watcher}, timeout=max(nxt - now, 0))
                if done:
                    ev = watcher.result()  # raises the server's error, if any
                    msg = Msg(
                        "iperf3.err.unexpected_during",
                        {"where": named(where), "event": type(ev).__name__},
                    )
                    raise refusal(ProbeError, msg)
                if k * TICK_S < duration:
                    for st in ios:
                        st.sample(time.monotonic() - t0)
                    if on_interval is not None:
                        on_interval(_interval_summary(ios))
                    k += 1
            senders = [th for th, st in zip(threads, ios, strict=True) if st.sender]
            stop_flag[0] = 1
            await asyncio.to_thread(_join, senders)
            elapsed = time.monotonic() - t0
            for st in ios:
                if st.sender and not udp:
                    st.sample(elapsed)
            proto.end_test()
            await shell.flush()
            # receivers keep reading until the server has stopped sending
            if not watcher.done():
                ev = await watcher
            else:
                ev = watcher.result()
        finally:
            if not watcher.done():
                watcher.cancel()
                with contextlib.suppress(BaseException):
                    await watcher
        if not isinstance(ev, ResultsRequested):
            msg = Msg(
                "iperf3.err.unexpected_after", {"where": named(where), "event": type(ev).__name__}
            )
            raise refusal(ProbeError, msg)
        stop.set()
        await asyncio.to_thread(_join, threads)
        for st in ios:
            if st.errno:
                reason = os.strerror(st.errno)
                why = os_why(OSError(st.errno, reason), reason)
                msg = Msg(
                    "iperf3.err.stream_failed", {"where": named(where), "id": st.id, "why": why}
                )
                english = f"{where}: data stream {st.id} failed: {reason}"
                raise ProbeError(english).with_msg(msg.msg_id, msg.as_dict()["params"])
            if st.udp and st.sender:
                st.samples_from_per_ms(blk, duration)
            elif not (st.sender and not udp):
                st.sample(elapsed)
        cc = congestion(ctrl) if not udp else None
        own = own_results(ios, params, elapsed, cpu, cc)
        proto.send_results(own)
        await shell.flush()
        peer_ev = await shell.expect(PeerResults, wait_s + 5)
        assert isinstance(peer_ev, PeerResults)
        await shell.expect(Finished, wait_s + 5)
        await shell.flush()
    except BaseException:
        proto.terminate()
        with contextlib.suppress(Exception):
            writer.write(proto.data_to_send())
        raise
    finally:
        stop.set()
        stop_flag[0] = 1
        for st in ios:
            with contextlib.suppress(OSError):
                st.sock.shutdown(socket.SHUT_RDWR)
        await asyncio.to_thread(_join, threads)
        for st in ios:
            st.sock.close()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    peer = peer_ev.results
    rec = TestRecord(
        params=params,
        host=host,
        port=port,
        cookie=cookie[:-1].decode(),
        connected=[st.connected for st in ios],
        streams=ios,
        elapsed_s=elapsed,
        own=own,
        peer=peer,
        started_at=started_at,
        tcp_mss_default=mss,
        sndbuf=ios[0].sndbuf if ios else 0,
        rcvbuf=ios[0].rcvbuf if ios else 0,
        congestion=cc,
    )
    doc = client_document(rec)
    fwd = direction_figures([s for s in ios if s.sender], own, peer, elapsed, udp)
    rev = direction_figures([s for s in ios if not s.sender], own, peer, elapsed, udp)
    main = rev if reverse else fwd
    pacing = None
    paced = [st for st in ios if st.sender and st.per_ms is not None]
    if paced and rate:
        per_ms = [sum(col) for col in zip(*(st.per_ms for st in paced), strict=True)]
        pacing = pacing_report(per_ms, rate / (8.0 * blk) * len(paced), elapsed)
    assert main is not None
    return Iperf3Result(
        host=host,
        port=port,
        protocol="udp" if udp else "tcp",
        direction="bidir" if bidir else "reverse" if reverse else "forward",
        streams=streams,
        duration_s=elapsed,
        size=blk,
        target_bps=float(rate) if rate else None,
        sent_bytes=main.sent_bytes,
        sent_packets=main.sent_packets,
        sender_bps=main.sender_bps,
        received_bytes=main.received_bytes,
        received_packets=main.received_packets,
        lost_packets=main.lost_packets,
        jitter_ms=main.jitter_ms,
        receiver_bps=main.receiver_bps,
        forward=fwd,
        reverse=rev,
        pacing=pacing,
        peer_results=peer_ev.raw,
        document=doc,
        **described(
            {
                "sent": Msg("method.iperf3_sent"),
                "received": Msg("method.iperf3_received"),
                "jitter": Msg("method.iperf3_jitter"),
            }
        ),
    )


def _join(threads: list[threading.Thread]) -> None:
    for th in threads:
        th.join()
