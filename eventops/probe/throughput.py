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
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from eventops.errors import ProbeError, ProbeParamError
from eventops.i18n import Msg, refusal
from eventops.probe.checks import check_interval, check_port, os_failure
from eventops.probe.datapath import (
    FMT_EVENTOPS,
    HEADER_LEN,
    load_engine,
)
from eventops.probe.iperf3_streams import StreamIO, tcp_send
from eventops.probe.models import (
    SINK_DELAY,
    DelayStats,
    Interval,
    RateLayer,
    TcpResult,
    UdpResult,
    described,
)
from eventops.probe.sink import (  # noqa: F401  (Sink, start_sink: the public API)
    DEFAULT_SINK_PORT,
    MAX_DURATION_S,
    Sink,
    _line,
    _read_json,
    sink_failure,
    start_sink,
)
from eventops.probe.stats import pacing_report

MAX_RATE_BPS = 400e9
CONTROL_TIMEOUT_S = 5.0

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


# ------------------------------------------------------------------ sender


async def _connect(
    host: str, port: int, wait_s: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        return await asyncio.wait_for(asyncio.open_connection(host, port), wait_s)
    except TimeoutError:
        msg = Msg("probe.err.no_answer", {"peer": f"{host}:{port}", "s": wait_s})
        raise refusal(ProbeError, msg) from None
    except ConnectionRefusedError:
        raise refusal(ProbeError, Msg("probe.err.refused", {"peer": f"{host}:{port}"})) from None
    except OSError as exc:
        raise os_failure(f"{host}:{port}", exc) from None


def _check_common(size: int | None, rate_bps: float | None, duration: float) -> None:
    if size is not None and not HEADER_LEN <= size <= 65507:
        msg = Msg("probe.range.datagram", {"size": size, "lo": HEADER_LEN})
        raise refusal(ProbeParamError, msg)
    if rate_bps is not None and not 0 < rate_bps <= MAX_RATE_BPS:
        msg = Msg("probe.range.rate", {"rate": rate_bps, "hi": MAX_RATE_BPS})
        raise refusal(ProbeParamError, msg)
    if not 0 < duration <= MAX_DURATION_S:
        msg = Msg("probe.range.duration", {"value": duration, "hi": MAX_DURATION_S})
        raise refusal(ProbeParamError, msg)


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
        raise refusal(ProbeParamError, Msg("probe.range.needs_rate"))
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
            msg = Msg("probe.range.below_one", {"rate": rate_bps, "wire": wire})
            raise refusal(ProbeParamError, msg)
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
        hello = await _read_json(reader, control_timeout, f"sink {host}:{port}", f"{host}:{port}")
        if not hello.get("ok"):
            raise sink_failure(f"{host}:{port}", hello)
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
            raise refusal(ProbeError, Msg("probe.err.udp_refused", {"peer": f"{host}:{port}"}))
        if err:
            raise os_failure(f"{host}:{port}", OSError(err, os.strerror(err)), "send failed: ")
        writer.write(_line({"op": "end", "sent": packets}))
        await writer.drain()
        final = await _read_json(
            reader, control_timeout + 5.0, f"sink {host}:{port}", f"{host}:{port}"
        )
        if not final.get("ok"):
            raise sink_failure(f"{host}:{port}", final, final=True)
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
    stream = Msg("method.stream_batched" if batched else "method.stream_unbatched")
    how = {
        "throughput": Msg("method.udp_throughput", {"stream": stream, "layer": layer}),
        "loss": Msg("method.udp_loss"),
        "reordering": Msg("method.reordering"),
        "duplicates": Msg("method.duplicates", {"window": window}),
        "late": Msg("method.late", {"window": window}),
        "sink_drops": Msg("method.sink_drops"),
        "pacing": Msg("method.pacing"),
    }
    delay = DelayStats.model_validate(final["delay"]) if final.get("delay") else None
    if delay is not None:
        how["jitter"] = Msg("method.udp_jitter")
        how["ipdv"] = Msg("method.ipdv")
    described_ = described(how)
    methods, method_msgs = described_["methods"], described_["method_msgs"]
    if delay is not None:  # the sink's own words (a sink of this version: its message)
        methods["delay"] = delay.method
        if delay.method == SINK_DELAY.text("en"):
            method_msgs["delay"] = SINK_DELAY.as_dict()
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
        method_msgs=method_msgs,
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
        raise refusal(ProbeParamError, Msg("probe.range.streams", {"streams": streams, "hi": 128}))
    reader, writer = await _connect(host, port, control_timeout)
    session = secrets.randbits(32)
    loop = asyncio.get_running_loop()
    ios: list[StreamIO] = []
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        writer.write(
            _line({"op": "tcp", "session": session, "streams": streams, "max_s": duration + 30})
        )
        await writer.drain()
        hello = await _read_json(reader, control_timeout, f"sink {host}:{port}", f"{host}:{port}")
        if not hello.get("ok"):
            raise sink_failure(f"{host}:{port}", hello)
        family = writer.get_extra_info("socket").family
        addr = writer.get_extra_info("peername")
        for i in range(streams):
            s = socket.socket(family, socket.SOCK_STREAM)
            ios.append(StreamIO(i + 1, s, sender=True, udp=False))
            s.setblocking(False)
            try:
                await asyncio.wait_for(loop.sock_connect(s, addr), control_timeout)
            except TimeoutError:
                msg = Msg("probe.err.no_answer", {"peer": f"{host}:{port}", "s": control_timeout})
                raise refusal(ProbeError, msg) from None
            except OSError as exc:
                raise os_failure(f"{host}:{port}", exc) from None
            await loop.sock_sendall(s, _line({"op": "data", "session": session}))
            s.setblocking(True)
        # one thread per stream: blocking sends release the GIL, so streams use every core
        threads = [
            threading.Thread(target=tcp_send, args=(st, 1 << 17, duration, 0.0, stop), daemon=True)
            for st in ios
        ]
        t0 = time.monotonic()
        for th in threads:
            th.start()
        pumps = asyncio.ensure_future(asyncio.to_thread(_join, threads))
        intervals: list[Interval] = []
        try:
            await _progress_loop(reader, writer, interval, "bytes", 8.0, intervals, progress, pumps)
            await pumps
        finally:
            if not pumps.done():
                stop.set()
                await _reap(pumps)
        elapsed = time.monotonic() - t0
        for st in ios:
            if st.errno:
                lead = f"TCP stream {st.id} failed: "
                raise os_failure(f"{host}:{port}", OSError(st.errno, os.strerror(st.errno)), lead)
            with contextlib.suppress(OSError):
                st.sock.shutdown(socket.SHUT_WR)  # the sink reads to EOF
        writer.write(_line({"op": "end"}))
        await writer.drain()
        final = await _read_json(
            reader, control_timeout + 10.0, f"sink {host}:{port}", f"{host}:{port}"
        )
    finally:
        stop.set()
        await asyncio.to_thread(_join, threads)
        for st in ios:
            st.sock.close()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    sent = [st.bytes for st in ios]
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
        **described({"throughput": Msg("method.tcp_throughput")}),
    )


def _join(threads: list[threading.Thread]) -> None:
    for th in threads:
        th.join()
