"""UDP and TCP throughput: the sink (far end) and the sender (``run``).

Control protocol (TCP, one JSON object per line, on the sink's port; the
sink's UDP socket listens on the same port number):

    C: {"op":"udp","session":S,"size":L,"timestamps":false,"window":W,"max_s":T}
    S: {"ok":true,"engine":"c"}              or {"ok":false,"error":"..."}
    C: {"op":"status"}   S: {"received":..,"duplicated":..,...}   (any number)
    C: {"op":"end","sent":N}
    S: {"ok":true,"counters":{...},"datagrams":..,"bytes":..,"foreign":..,"delay":{..}|null}

    C: {"op":"tcp","session":S,"streams":K,"max_s":T}   S: {"ok":true}
    K connections: {"op":"data","session":S}\\n followed by raw bytes until EOF
    C: {"op":"status"} S: {"bytes":..}   C: {"op":"end"} S: {"ok":true,"bytes":[..]}

One test at a time: a second one is refused with ``sink busy``.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import errno as _errno
import json
import logging
import os
import secrets
import select
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from eventops.errors import ProbeError
from eventops.probe.checks import check_interval, check_port, os_reason
from eventops.probe.datapath import (
    FMT_EVENTOPS,
    HEADER_LEN,
    MAGIC,
    Datapath,
    drain_udp,
    load_engine,
    udp_socket_drops,
)
from eventops.probe.models import DelayStats, Interval, RateLayer, TcpResult, UdpResult
from eventops.probe.stats import delay_stats, pacing_report

DEFAULT_SINK_PORT = 5301
SO_TIMESTAMPNS = 35
MAX_RATE_BPS = 400e9
log = logging.getLogger(__name__)
MAX_DURATION_S = 3600.0
CONTROL_TIMEOUT_S = 5.0
_HDR = struct.Struct("!IIQQ")

Progress = Callable[[Interval], None]


async def _reap(task: asyncio.Future[Any]) -> None:
    """Wait for a task we cancelled, without swallowing our own cancellation."""
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()


def overhead(layer: RateLayer, family: int) -> int:
    """Bytes per datagram at ``layer`` beyond the UDP payload."""
    if layer == "udp-payload":
        return 0
    return 8 + (40 if family == socket.AF_INET6 else 20) + 14


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


async def _read_json(reader: asyncio.StreamReader, wait_s: float, what: str) -> dict[str, Any]:
    try:
        raw = await asyncio.wait_for(reader.readline(), wait_s)
    except TimeoutError:
        raise ProbeError(f"{what}: no answer within {wait_s:g} s") from None
    except (ConnectionError, OSError) as exc:
        raise ProbeError(f"{what}: connection lost ({exc.strerror or exc})") from None
    if not raw:
        raise ProbeError(f"{what}: connection closed by peer")
    try:
        msg = json.loads(raw)
    except ValueError:
        raise ProbeError(f"{what}: not a JSON control message: {raw[:60]!r}") from None
    if not isinstance(msg, dict):
        raise ProbeError(f"{what}: control message is not an object")
    return msg


class ControlError(ProbeError):
    """A malformed control message: answered with an error line, the sink keeps serving."""


def _int_field(msg: dict[str, Any], key: str, lo: int, hi: int, default: int | None = None) -> int:
    v = msg.get(key, default)
    if v is None:
        raise ControlError(f"control message without {key!r}")
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise ControlError(f"control field {key!r} = {v!r} out of range ({lo}..{hi})")
    return v


def _seconds_field(msg: dict[str, Any], key: str, hi: float, default: float) -> float:
    v = msg.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= hi:
        raise ControlError(f"control field {key!r} = {v!r} out of range (0 < {key} <= {hi:g})")
    return float(v)


def _window_field(msg: dict[str, Any]) -> int:
    w = _int_field(msg, "window", 2, 1 << 28, 1 << 20)
    if w & (w - 1):
        raise ControlError(f"control field 'window' = {w} is not a power of two")
    return w


def _bool_field(msg: dict[str, Any], key: str) -> bool:
    v = msg.get(key, False)
    if not isinstance(v, bool):
        raise ControlError(f"control field {key!r} = {v!r} is not a boolean")
    return v


def recv_timestamped(
    fd: int, acct: Any, session: int, stop: bytearray, timeout: float, max_samples: int = 2_000_000
) -> tuple[int, int, int, list[tuple[int, float]]]:
    """Unbatched receive with kernel receive timestamps (SO_TIMESTAMPNS).

    Returns (datagrams, bytes, foreign, samples) where samples are
    (seq, one-way delay ms) in arrival order: kernel CLOCK_REALTIME receive
    time minus the sender's CLOCK_REALTIME transmit stamp.
    """
    sock = socket.socket(fileno=os.dup(fd))
    samples: list[tuple[int, float]] = []
    datagrams = nbytes = foreign = 0
    try:
        sock.setsockopt(17, 104, 0)  # no GRO: one datagram per read
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setblocking(False)
        end = time.monotonic() + timeout
        ctl = socket.CMSG_SPACE(16)
        while not stop[0] and time.monotonic() < end:
            try:
                data, anc, _f, _a = sock.recvmsg(65536, ctl)
            except (BlockingIOError, InterruptedError):
                select.select([sock], [], [], 0.005)
                continue
            except ConnectionRefusedError:
                continue
            if len(data) < HEADER_LEN:
                foreign += 1
                continue
            magic, sess, seq, tx = _HDR.unpack_from(data)
            if magic != MAGIC or sess != session:
                foreign += 1
                continue
            rx = None
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                    sec, nsec = struct.unpack("=qq", value[:16])
                    rx = sec * 1_000_000_000 + nsec
            acct.feed_one(seq)
            datagrams += 1
            nbytes += len(data)
            if rx is not None and len(samples) < max_samples:
                samples.append((seq, (rx - tx) / 1e6))
    finally:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 0)
        sock.close()  # closes our dup, not the caller's descriptor
    return datagrams, nbytes, foreign, samples


# ------------------------------------------------------------------ sink


@dataclass
class _TcpTest:
    session: int
    streams: int
    counts: list[int] = field(default_factory=list)
    done: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)


class Sink:
    """The far end of a throughput test. Use :func:`start_sink`."""

    def __init__(
        self, host: str, port: int, *, engine: Literal["auto", "c", "python"] = "auto"
    ) -> None:
        self.host = host
        self.port = port
        self.engine: Datapath = load_engine(engine)
        self._server: asyncio.Server | None = None
        self._udp: socket.socket | None = None
        self._busy = False
        self.tests = 0
        """Tests started on this sink."""
        self._tcp: _TcpTest | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]
            fam = self._server.sockets[0].family
            self._udp = socket.socket(fam, socket.SOCK_DGRAM)
            self._udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
            self._udp.bind((self.host, self.port))
            self._udp.setblocking(False)
        except OSError as exc:
            await self.close()
            raise ProbeError(
                f"sink cannot listen on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for t in list(self._tasks):
                t.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None

    async def __aenter__(self) -> Sink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            msg = await _read_json(reader, 10.0, "sink control")
            op = msg.get("op")
            if op == "data":
                await self._data(msg, reader)
            elif op in ("udp", "tcp"):
                if self._busy:
                    writer.write(
                        _line({"ok": False, "error": "sink busy: another test is running"})
                    )
                    await writer.drain()
                    return
                self._busy = True
                self.tests += 1
                try:
                    if op == "udp":
                        await self._udp_test(msg, reader, writer)
                    else:
                        await self._tcp_test(msg, reader, writer)
                finally:
                    self._busy = False
            else:
                writer.write(_line({"ok": False, "error": f"unknown op {op!r}"}))
                await writer.drain()
        except ControlError as exc:
            log.warning("sink: %s", exc)
            with contextlib.suppress(Exception):
                writer.write(_line({"ok": False, "error": str(exc)}))
                await writer.drain()
        except (ProbeError, ConnectionError, ValueError, TypeError):
            pass  # a client that breaks the protocol only ends its own test
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _udp_test(
        self, msg: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        assert self._udp is not None
        session = _int_field(msg, "session", 0, 0xFFFFFFFF)
        max_s = _seconds_field(msg, "max_s", MAX_DURATION_S + 60, 60)
        window = _window_field(msg)
        stamped = _bool_field(msg, "timestamps")
        acct = (
            self.engine.Accountant(window)
            if not stamped
            else load_engine("python").Accountant(window)
        )
        stop = bytearray(1)
        # datagrams left from an earlier test are not this test's (nor "foreign")
        drained = drain_udp(self._udp)
        drops0 = udp_socket_drops(self._udp)
        fd = self._udp.fileno()
        if stamped:
            recv = asyncio.create_task(
                asyncio.to_thread(recv_timestamped, fd, acct, session, stop, max_s)
            )
        else:
            recv = asyncio.create_task(
                asyncio.to_thread(
                    self.engine.recv_stream, fd, acct, FMT_EVENTOPS, session, stop, max_s, None
                )
            )
        try:
            writer.write(_line({"ok": True, "engine": "python" if stamped else self.engine.name}))
            await writer.drain()
            while True:
                req = await _read_json(reader, max_s, "sink control")
                if req.get("op") == "status":
                    writer.write(_line(acct.counters()))
                    await writer.drain()
                    continue
                if req.get("op") != "end":
                    raise ProbeError("sink control: unexpected message")
                sent = int(req.get("sent", 0))
                # drain: wait until every sent datagram is in, or 300 ms without progress
                last, quiet = -1, 0.0
                deadline = time.monotonic() + 3.0
                while time.monotonic() < deadline:
                    c = acct.counters()
                    if c["received"] >= sent:
                        break
                    if c["received"] == last:
                        quiet += 0.05
                        if quiet >= 0.3:
                            break
                    else:
                        last, quiet = c["received"], 0.0
                    await asyncio.sleep(0.05)
                stop[0] = 1
                out = await recv
                delay: dict[str, Any] | None = None
                res: Any = out
                if stamped:
                    datagrams, nbytes, foreign, samples = res
                    delay = delay_stats(
                        samples,
                        method="unbatched stream: kernel receive time (SO_TIMESTAMPNS, CLOCK_REALTIME) "
                        "minus sender CLOCK_REALTIME stamp; one-way, needs synchronised clocks",
                    ).model_dump(mode="json")
                    err = 0
                else:
                    datagrams, nbytes, foreign, _rec, err = res
                drops1 = udp_socket_drops(self._udp)
                own = drops1 - drops0 if drops0 is not None and drops1 is not None else None
                writer.write(
                    _line(
                        {
                            "ok": err == 0,
                            "error": os.strerror(err) if err else None,
                            "counters": acct.counters(),
                            "datagrams": datagrams,
                            "bytes": nbytes,
                            "foreign": foreign,
                            "drained": drained,
                            "sink_drops": own,
                            "delay": delay,
                        }
                    )
                )
                await writer.drain()
                return
        finally:
            stop[0] = 1
            with contextlib.suppress(Exception):
                await recv

    async def _tcp_test(
        self, msg: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        streams = _int_field(msg, "streams", 1, 128)
        max_s = _seconds_field(msg, "max_s", MAX_DURATION_S + 60, 60)
        test = _TcpTest(session=_int_field(msg, "session", 0, 0xFFFFFFFF), streams=streams)
        self._tcp = test
        try:
            writer.write(_line({"ok": True}))
            await writer.drain()
            while True:
                req = await _read_json(reader, max_s, "sink control")
                if req.get("op") == "status":
                    writer.write(_line({"bytes": sum(test.counts)}))
                    await writer.drain()
                    continue
                deadline = time.monotonic() + 5.0
                while test.done < len(test.counts) or len(test.counts) < streams:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    test.changed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(test.changed.wait(), left)
                writer.write(_line({"ok": True, "bytes": test.counts}))
                await writer.drain()
                return
        finally:
            self._tcp = None

    async def _data(self, msg: dict[str, Any], reader: asyncio.StreamReader) -> None:
        test = self._tcp
        session = _int_field(msg, "session", 0, 0xFFFFFFFF)
        if test is None or session != test.session:
            raise ControlError("data stream for no running test")
        if len(test.counts) >= test.streams:
            raise ControlError(f"more than the {test.streams} announced data streams")
        idx = len(test.counts)
        test.counts.append(0)
        test.changed.set()
        try:
            while True:
                chunk = await asyncio.wait_for(reader.read(1 << 18), 30.0)
                if not chunk:
                    break
                test.counts[idx] += len(chunk)
        finally:
            test.done += 1
            test.changed.set()


async def start_sink(
    host: str = "127.0.0.1",
    port: int = DEFAULT_SINK_PORT,
    *,
    engine: Literal["auto", "c", "python"] = "auto",
) -> Sink:
    """Start a throughput sink in this process; ``await sink.close()`` to stop it."""
    check_port(port, listen=True)
    sink = Sink(host, port, engine=engine)
    await sink.start()
    return sink


# ------------------------------------------------------------------ sender


async def _connect(
    host: str, port: int, wait_s: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port), wait_s)
    except TimeoutError:
        raise ProbeError(f"{host}:{port}: no answer within {wait_s:g} s") from None
    except ConnectionRefusedError:
        raise ProbeError(
            f"{host}:{port}: connection refused (no sink or server listening)"
        ) from None
    except OSError as exc:
        raise ProbeError(f"{host}:{port}: {os_reason(exc)}") from None


def _check_common(size: int | None, rate_bps: float | None, duration: float) -> None:
    if size is not None and not HEADER_LEN <= size <= 65507:
        raise ProbeError(f"datagram size {size} out of range ({HEADER_LEN}..65507 bytes)")
    if rate_bps is not None and not 0 < rate_bps <= MAX_RATE_BPS:
        raise ProbeError(f"rate {rate_bps:g} bit/s out of range (0 < rate <= {MAX_RATE_BPS:g})")
    if not 0 < duration <= MAX_DURATION_S:
        raise ProbeError(
            f"duration {duration:g} s out of range (0 < duration <= {MAX_DURATION_S:g})"
        )


async def _progress_loop(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    interval: float,
    key: str,
    unit_bits: float,
    intervals: list[Interval],
    progress: Progress | None,
    done: asyncio.Future[Any],
) -> None:
    start = time.monotonic()
    prev_t, prev_v = start, 0
    while not done.done():
        await asyncio.wait({done}, timeout=interval)
        if done.done():
            return
        writer.write(_line({"op": "status"}))
        await writer.drain()
        st = await _read_json(reader, CONTROL_TIMEOUT_S, "sink status")
        now = time.monotonic()
        v = int(st.get(key, 0))
        dt = max(now - prev_t, 1e-9)
        iv = Interval(
            start=prev_t - start,
            end=now - start,
            received=v - prev_v,
            bits_per_second=(v - prev_v) * unit_bits / dt,
            packets_per_second=(v - prev_v) / dt if key == "received" else None,
        )
        intervals.append(iv)
        if progress is not None:
            progress(iv)
        prev_t, prev_v = now, v


async def run_udp(
    host: str,
    port: int = DEFAULT_SINK_PORT,
    *,
    rate_bps: float | None = None,
    size: int = 1472,
    duration: float = 5.0,
    batched: bool = True,
    layer: RateLayer = "udp-payload",
    engine: Literal["auto", "c", "python"] = "auto",
    interval: float = 1.0,
    progress: Progress | None = None,
    control_timeout: float = CONTROL_TIMEOUT_S,
    window: int = 1 << 20,
) -> UdpResult:
    """Send UDP to an eventops sink at ``rate_bps`` (at ``layer``; None = unlimited).

    ``batched``: GSO batches (throughput, loss, duplicates, reordering only).
    Unbatched: one datagram per send, the sink stamps each with its kernel
    receive time and reports one-way delay, jitter, IPDV and PDV.
    """
    check_port(port)
    check_interval(interval)
    _check_common(size, rate_bps, duration)
    if not batched and rate_bps is None:
        raise ProbeError("an unbatched (delay) stream needs a rate")
    eng = load_engine(engine)
    reader, writer = await _connect(host, port, control_timeout)
    udp: socket.socket | None = None
    stop = bytearray(1)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _t, _p, _c, addr = infos[0]
        wire = size + overhead(layer, family)
        pps = (rate_bps / (8.0 * wire)) if rate_bps else 0.0
        if rate_bps and pps < 1.0 / duration:
            raise ProbeError(f"rate {rate_bps:g} bit/s is below one {wire}-byte datagram per run")
        session = secrets.randbits(32)
        writer.write(
            _line(
                {
                    "op": "udp",
                    "session": session,
                    "size": size,
                    "timestamps": not batched,
                    "window": window,
                    "max_s": duration + 30,
                }
            )
        )
        await writer.drain()
        hello = await _read_json(reader, control_timeout, f"sink {host}:{port}")
        if not hello.get("ok"):
            raise ProbeError(f"sink {host}:{port}: {hello.get('error', 'refused the test')}")
        udp = socket.socket(family, socket.SOCK_DGRAM)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
        udp.connect(addr)
        udp.setblocking(False)
        per_ms = array.array("I", bytes(4 * (int(duration * 1000) + 1000)))
        batch = 64 if batched else 1
        fd = udp.fileno()
        send = asyncio.ensure_future(
            asyncio.to_thread(
                eng.send_stream,
                fd,
                FMT_EVENTOPS,
                size,
                pps,
                duration,
                0,
                session,
                batch,
                stop,
                per_ms,
            )
        )
        intervals: list[Interval] = []
        try:
            await _progress_loop(
                reader, writer, interval, "received", 8.0 * wire, intervals, progress, send
            )
            packets, nbytes, _next, gso, elapsed_ns, err = await send
        finally:
            stop[0] = 1
            if not send.done():
                with contextlib.suppress(Exception):
                    await send
        if err == _errno.ECONNREFUSED:
            raise ProbeError(f"{host}:{port}: UDP port refused (ICMP port unreachable)")
        if err:
            raise ProbeError(f"{host}:{port}: send failed: {os.strerror(err)}")
        writer.write(_line({"op": "end", "sent": packets}))
        await writer.drain()
        final = await _read_json(reader, control_timeout + 5.0, f"sink {host}:{port}")
        if not final.get("ok"):
            raise ProbeError(f"sink {host}:{port}: {final.get('error') or 'test failed'}")
    finally:
        stop[0] = 1
        if udp is not None:
            udp.close()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    c = final["counters"]
    elapsed = elapsed_ns / 1e9 or duration
    received = int(c["received"])
    received_bytes = received * size
    # received counts each sequence number once (late arrivals beyond the window
    # are not counted): loss cannot go negative
    lost = max(packets - received, 0)
    drops = final.get("sink_drops")
    sink_drops = (
        drops if isinstance(drops, int) and not isinstance(drops, bool) and drops >= 0 else None
    )
    methods = {
        "throughput": f"receiver counters of {'batched UDP GSO/GRO' if batched else 'unbatched UDP'} "
        f"stream over sender time; layer {layer}",
        "loss": "sent (sender count) − distinct received (sink count)",
        "reordering": "RFC 4737 (arrival below NextExp), sink per-datagram accounting",
        "duplicates": f"sequence window of {window}",
        "late": f"arrivals more than {window} sequence numbers behind the newest "
        "(never counted as received)",
        "sink_drops": "the sink socket's own receive-buffer drops over the test "
        "(kernel drop counter, /proc/net/udp); network loss = loss − sink drops",
        "pacing": "sender: datagrams handed to the kernel per 1 ms, error per 100 ms window",
    }
    delay = DelayStats.model_validate(final["delay"]) if final.get("delay") else None
    if delay is not None:
        methods["delay"] = delay.method
        methods["jitter"] = "RFC 3550 interarrival jitter of one-way delays"
        methods["ipdv"] = "RFC 3393/5481 consecutive-sequence IPDV"
    over = overhead(layer, family)
    return UdpResult(
        host=host,
        port=port,
        engine=eng.name,
        sink_engine=hello.get("engine", "c"),
        batched=batched,
        gso=bool(gso) and batched,
        size=size,
        layer=layer,
        target_bps=rate_bps,
        duration_s=elapsed,
        sent_packets=packets,
        sent_bytes=nbytes,
        received_packets=received,
        received_bytes=received_bytes,
        lost_packets=lost,
        lost_percent=100.0 * lost / packets if packets else 0.0,
        sink_drops=sink_drops,
        network_lost_packets=max(lost - sink_drops, 0) if sink_drops is not None else None,
        duplicated=int(c["duplicated"]),
        reordered=int(c["reordered"]),
        late=int(c["late"]),
        max_reorder_extent=int(c["max_reorder_extent"]),
        foreign=int(final.get("foreign", 0)),
        sender_bps=packets * (size + over) * 8 / elapsed,
        receiver_bps=received * (size + over) * 8 / elapsed,
        receiver_pps=received / elapsed,
        sender_payload_bps=nbytes * 8 / elapsed,
        receiver_payload_bps=received_bytes * 8 / elapsed,
        pacing=pacing_report(per_ms, pps, elapsed) if pps else pacing_report(per_ms, 0.0, elapsed),
        delay=delay,
        intervals=intervals,
        methods=methods,
    )


async def run_tcp(
    host: str,
    port: int = DEFAULT_SINK_PORT,
    *,
    streams: int = 4,
    duration: float = 5.0,
    interval: float = 1.0,
    progress: Progress | None = None,
    control_timeout: float = CONTROL_TIMEOUT_S,
) -> TcpResult:
    """TCP bulk transfer with ``streams`` parallel connections to an eventops sink."""
    check_port(port)
    check_interval(interval)
    _check_common(None, None, duration)
    if not 1 <= streams <= 128:
        raise ProbeError(f"streams {streams} out of range (1..128)")
    reader, writer = await _connect(host, port, control_timeout)
    session = secrets.randbits(32)
    conns: list[asyncio.StreamWriter] = []
    sent = [0] * streams
    try:
        writer.write(
            _line({"op": "tcp", "session": session, "streams": streams, "max_s": duration + 30})
        )
        await writer.drain()
        hello = await _read_json(reader, control_timeout, f"sink {host}:{port}")
        if not hello.get("ok"):
            raise ProbeError(f"sink {host}:{port}: {hello.get('error', 'refused the test')}")
        for _ in range(streams):
            _r, w = await _connect(host, port, control_timeout)
            w.write(_line({"op": "data", "session": session}))
            conns.append(w)
        block = bytes(1 << 17)
        t0 = time.monotonic()
        end = t0 + duration

        async def pump(i: int, w: asyncio.StreamWriter) -> None:
            try:
                while time.monotonic() < end:
                    w.write(block)
                    await asyncio.wait_for(w.drain(), control_timeout + duration)
                    sent[i] += len(block)
                w.close()
            except (ConnectionError, OSError) as exc:
                raise ProbeError(f"{host}:{port}: TCP stream {i + 1} failed: {exc}") from None
            except TimeoutError:
                raise ProbeError(f"{host}:{port}: TCP stream {i + 1} stalled") from None

        pumps = asyncio.ensure_future(asyncio.gather(*(pump(i, w) for i, w in enumerate(conns))))
        intervals: list[Interval] = []
        try:
            await _progress_loop(reader, writer, interval, "bytes", 8.0, intervals, progress, pumps)
            await pumps
        finally:
            if not pumps.done():
                pumps.cancel()
                await _reap(pumps)
        elapsed = time.monotonic() - t0
        writer.write(_line({"op": "end"}))
        await writer.drain()
        final = await _read_json(reader, control_timeout + 10.0, f"sink {host}:{port}")
    finally:
        for w in conns:
            w.close()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    got = [int(b) for b in final.get("bytes", [])]
    return TcpResult(
        host=host,
        port=port,
        streams=streams,
        duration_s=elapsed,
        sent_bytes=sum(sent),
        received_bytes=sum(got),
        received_bytes_per_stream=got,
        sender_bps=sum(sent) * 8 / elapsed,
        receiver_bps=sum(got) * 8 / elapsed,
        intervals=intervals,
        methods={"throughput": "sink's byte count over the sender's test time (TCP payload)"},
    )
