"""``eventops probe``: throughput sink/run, STAMP reflect/stamp, iperf3 client and server."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
from pathlib import Path
from typing import Any

from eventops.errors import ProbeError
from eventops.probe import (
    DEFAULT_SINK_PORT,
    IPERF3_PORT,
    STAMP_PORT,
    Interval,
    run_iperf3,
    run_stamp,
    run_tcp,
    run_udp,
    start_reflector,
    start_sink,
)
from eventops.probe.checks import check_port, check_seconds
from eventops.probe.iperf3_server import Iperf3Server, Iperf3ServerTest
from eventops.probe.reflector import IDLE_TIMEOUT_S, MAX_SESSIONS

_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([kKmMgGtT]?)(?:bit/s|bps|b)?\s*$")
_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def parse_rate(text: str) -> float | None:
    """``100M``, ``1G``, ``2.5g``, ``500k`` bit/s; ``0`` = unlimited (None)."""
    m = _RATE.match(text)
    if not m:
        raise ProbeError(f"rate {text!r} is not a rate (e.g. 100M, 1G, 0 for unlimited)")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    return None if value == 0 else value


def _human(bps: float) -> str:
    for unit, div in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bps >= div:
            return f"{bps / div:.2f} {unit}"
    return f"{bps:.0f} bit/s"


def _progress(stream: Any) -> Any:
    def show(iv: Interval) -> None:
        pps = f"  {iv.packets_per_second:,.0f} pps" if iv.packets_per_second is not None else ""
        print(
            f"[{iv.start:6.2f}-{iv.end:6.2f} s] {_human(iv.bits_per_second)}{pps}",
            file=stream,
            flush=True,
        )

    return show


async def cmd_sink(args: argparse.Namespace) -> int:
    check_seconds(args.duration, "duration", 0, 86400 * 365)
    signals = _Signals()
    sink = await start_sink(args.bind, args.port, engine=args.engine)
    print(
        f"sink listening on {args.bind}:{sink.port} (TCP control, UDP data), engine {sink.engine.name}",
        flush=True,
    )
    try:
        why = await signals.wait(args.duration)
    finally:
        await sink.close()
    print(f"sink stopped ({why}): {sink.tests} test(s) served", flush=True)
    return 0


async def cmd_reflect(args: argparse.Namespace) -> int:
    check_seconds(args.duration, "duration", 0, 86400 * 365)
    signals = _Signals()
    refl = await start_reflector(
        args.bind,
        args.port,
        stateful=args.stateful,
        idle_timeout_s=args.idle_timeout,
        max_sessions=args.max_sessions,
    )
    mode = "stateful" if args.stateful else "stateless"
    print(f"STAMP reflector ({mode}) on {args.bind}:{refl.port}", flush=True)
    why = "error"
    try:
        why = await signals.wait(args.duration)
    finally:
        await refl.close()
        st = refl.stats
        print(
            f"reflector stopped ({why}): reflected {st.reflected}, malformed {st.malformed}, "
            f"sessions {st.sessions}, evicted {st.evicted}",
            flush=True,
        )
    return 0


async def cmd_run(args: argparse.Namespace) -> int:
    rate = parse_rate(args.rate)
    out = sys.stderr if args.json else sys.stdout
    if args.tcp:
        t = await run_tcp(
            args.host,
            args.port,
            streams=args.streams,
            duration=args.time,
            interval=args.interval,
            progress=_progress(out),
        )
        if args.json:
            print(json.dumps(t.iperf3_json(), indent=2))
        else:
            print(
                f"TCP {t.streams} streams: sent {_human(t.sender_bps)}, delivered {_human(t.receiver_bps)} "
                f"({t.layer})"
            )
        return 0
    r = await run_udp(
        args.host,
        args.port,
        rate_bps=rate,
        size=args.size,
        duration=args.time,
        batched=not args.unbatched,
        layer=args.layer,
        engine=args.engine,
        interval=args.interval,
        progress=_progress(out),
    )
    if args.json:
        print(json.dumps(r.iperf3_json(), indent=2))
        return 0
    print(
        f"sent {r.sent_packets:,} datagrams ({_human(r.sender_bps)}), delivered {r.received_packets:,} "
        f"({_human(r.receiver_bps)}, {r.receiver_pps:,.0f} pps) at layer {r.layer}"
    )
    print(
        f"lost {r.lost_packets:,} ({r.lost_percent:.3f} %), duplicated {r.duplicated}, "
        f"reordered {r.reordered}, late {r.late}, foreign {r.foreign}; "
        f"sink's own drops {r.sink_drops if r.sink_drops is not None else 'unknown'}; engine {r.engine}, "
        f"{'GSO' if r.gso else 'no GSO'}"
    )
    if r.pacing and r.pacing.pacing_error_max_pct is not None:
        print(
            f"pacing: max {r.pacing.max_per_ms} datagrams/ms, error per 100 ms mean "
            f"{r.pacing.pacing_error_mean_pct:.2f} % max {r.pacing.pacing_error_max_pct:.2f} %"
        )
    if r.delay and r.delay.samples:
        d = r.delay
        print(
            f"one-way delay ms: min {d.min_ms:.3f} p50 {d.p50_ms:.3f} p99 {d.p99_ms:.3f} max {d.max_ms:.3f}; "
            f"jitter {d.jitter_ms:.4f}; |IPDV| mean {d.ipdv_mean_abs_ms or 0:.4f}"
        )
        print(f"  ({d.method})")
    return 0


async def cmd_stamp(args: argparse.Namespace) -> int:
    r = await run_stamp(
        args.host,
        args.port,
        count=args.count,
        interval=args.interval,
        ssid=args.ssid,
        wait_s=args.wait,
        reflector=args.reflector,
        pcap=Path(args.pcap) if args.pcap else None,
    )
    if args.json:
        print(r.model_dump_json(indent=2))
        return 0
    d = r.rtt
    print(
        f"STAMP {r.host}:{r.port}: {r.replies}/{r.sent} replies, round-trip loss "
        f"{r.round_trip_lost} ({r.round_trip_loss_percent:.2f} %), reflector {r.reflector_mode}"
    )
    if r.forward_lost is not None:
        print(f"forward loss {r.forward_lost}, backward loss {r.backward_lost}")
    print(
        f"RTT ms: min {d.min_ms:.3f} p50 {d.p50_ms:.3f} p90 {d.p90_ms:.3f} p99 {d.p99_ms:.3f} "
        f"max {d.max_ms:.3f}; jitter {d.jitter_ms:.4f}"
    )
    bad = {k: v for k, v in r.anomalies.model_dump().items() if v}
    if bad:
        print("anomalies: " + ", ".join(f"{k} {v}" for k, v in bad.items()))
    return 0


def _iperf3_progress(stream: Any) -> Any:
    def show(iv: dict[str, Any]) -> None:
        parts = []
        if iv["sent_bytes"]:
            parts.append(f"sent {_human(iv['sent_bps'])}")
        if iv["received_bytes"]:
            parts.append(f"received {_human(iv['received_bps'])}")
        print(
            f"[{iv['start']:6.2f}-{iv['end']:6.2f} s] {', '.join(parts) or 'no data'}",
            file=stream,
            flush=True,
        )

    return show


async def cmd_iperf3(args: argparse.Namespace) -> int:
    rate = (parse_rate(args.bandwidth) or 0.0) if args.bandwidth is not None else None
    r = await run_iperf3(
        args.host,
        args.port,
        udp=args.udp,
        rate_bps=rate,
        size=args.length,
        duration=args.time,
        streams=args.parallel,
        reverse=args.reverse,
        bidir=args.bidir,
        engine=args.engine,
        on_interval=_iperf3_progress(sys.stderr if args.json else sys.stdout),
    )
    if args.json:
        print(json.dumps(r.iperf3_json(), indent=2))
        return 0
    for name, d in (("forward", r.forward), ("reverse", r.reverse)):
        if d is None:
            continue
        line = (
            f"iperf3 {r.protocol.upper()} {r.host}:{r.port} {name}: sent {_human(d.sender_bps)}, "
            f"received {_human(d.receiver_bps)}"
        )
        if r.protocol == "udp":
            line += (
                f"; {d.received_packets} packets, lost {d.lost_packets}, "
                f"jitter {d.jitter_ms or 0:.4f} ms"
            )
        else:
            line += f"; {d.retransmits} retransmits"
        print(line)
    return 0


class _Signals:
    """SIGTERM/SIGINT end the wait (installed before a server says it listens)."""

    def __init__(self, stop: asyncio.Event | None = None) -> None:
        self.stop = stop or asyncio.Event()
        self.got: list[str] = []
        self.loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self._on, sig.name)

    def _on(self, name: str) -> None:
        self.got.append(name)
        self.stop.set()

    async def wait(self, duration: float | None) -> str:
        """Until a signal, ``stop`` or the duration; what ended the wait."""
        try:
            await asyncio.wait_for(self.stop.wait(), duration)
        except TimeoutError:
            return "duration"
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                self.loop.remove_signal_handler(sig)
        return self.got[0] if self.got else "done"


async def cmd_iperf3_server(args: argparse.Namespace) -> int:
    check_port(args.port, listen=True)
    check_seconds(args.duration, "duration", 0, 86400 * 365)

    def show(t: Iperf3ServerTest) -> None:
        if args.json:
            print(t.model_dump_json(), flush=True)
        else:
            print(t.summary(), flush=True)

    srv = Iperf3Server(args.bind, args.port, engine=args.engine, one_off=args.one_off, on_test=show)
    signals = _Signals(srv.done)
    await srv.start()
    print(f"iperf3 server listening on {args.bind}:{srv.port}", file=sys.stderr, flush=True)
    try:
        why = await signals.wait(args.duration)
    finally:
        await srv.close()
    print(
        f"iperf3 server stopped ({why}): {len(srv.results)} test(s), {len(srv.errors)} refused",
        file=sys.stderr,
        flush=True,
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("probe", help="prove a link: throughput, STAMP latency/loss, iperf3")
    ps = p.add_subparsers(dest="probe_command", metavar="PROBE_COMMAND")
    ps.required = True
    engine = {
        "choices": ["auto", "c", "python"],
        "default": "auto",
        "help": "packet engine (default auto)",
    }

    s = ps.add_parser("sink", help="far end of a throughput test (TCP control + UDP data)")
    s.add_argument("--bind", default="0.0.0.0")
    s.add_argument("--port", type=int, default=DEFAULT_SINK_PORT)
    s.add_argument("--engine", **engine)  # type: ignore[arg-type]
    s.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    s.set_defaults(func=cmd_sink)

    r = ps.add_parser("run", help="send UDP (or TCP) to an eventops sink")
    r.add_argument("host")
    r.add_argument("--port", type=int, default=DEFAULT_SINK_PORT)
    r.add_argument("--tcp", action="store_true", help="TCP bulk transfer instead of UDP")
    r.add_argument("--streams", type=int, default=4, help="TCP streams (default 4)")
    r.add_argument("-b", "--rate", default="0", help="target rate, e.g. 100M, 1G; 0 = unlimited")
    r.add_argument("-l", "--size", type=int, default=1472, help="UDP payload bytes (default 1472)")
    r.add_argument("-t", "--time", type=float, default=5.0, help="seconds (default 5)")
    r.add_argument(
        "--layer",
        choices=["udp-payload", "l2"],
        default="udp-payload",
        help="layer the rate refers to (default udp-payload)",
    )
    r.add_argument(
        "--unbatched",
        action="store_true",
        help="one datagram per send with kernel receive timestamps: delay, jitter, IPDV",
    )
    r.add_argument("-i", "--interval", type=float, default=1.0, help="progress interval (s)")
    r.add_argument("--engine", **engine)  # type: ignore[arg-type]
    r.add_argument("-J", "--json", action="store_true", help="iperf3-shaped JSON on stdout")
    r.set_defaults(func=cmd_run)

    f = ps.add_parser("reflect", help="STAMP session-reflector (RFC 8762)")
    f.add_argument("--bind", default="0.0.0.0")
    f.add_argument("--port", type=int, default=STAMP_PORT)
    f.add_argument(
        "--stateful",
        action="store_true",
        help="count per session (sender address/port + SSID) so senders can tell forward "
        "from backward loss; a session restarts at sender sequence 0 or after --idle-timeout "
        "without packets; at most --max-sessions are kept (least recently seen dropped first)",
    )
    f.add_argument(
        "--idle-timeout",
        type=float,
        default=IDLE_TIMEOUT_S,
        help=f"stateful: seconds of silence that end a session (default {IDLE_TIMEOUT_S:g})",
    )
    f.add_argument(
        "--max-sessions",
        type=int,
        default=MAX_SESSIONS,
        help=f"stateful: session table size (default {MAX_SESSIONS})",
    )
    f.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    f.set_defaults(func=cmd_reflect)

    t = ps.add_parser("stamp", help="STAMP session-sender: RTT, jitter, loss")
    t.add_argument("host")
    t.add_argument("--port", type=int, default=STAMP_PORT)
    t.add_argument("-c", "--count", type=int, default=100)
    t.add_argument("-i", "--interval", type=float, default=0.01, help="seconds between packets")
    t.add_argument("--ssid", type=int, default=None, help="RFC 8972 session id (1..65535)")
    t.add_argument("--wait", type=float, default=2.0, help="seconds to wait for late replies")
    t.add_argument("--reflector", choices=["auto", "stateful", "stateless"], default="auto")
    t.add_argument(
        "--pcap", default=None, metavar="FILE", help="write sample packets to a pcap file"
    )
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_stamp)

    i = ps.add_parser("iperf3", help="iperf3-compatible client against a stock iperf3 -s")
    i.add_argument("host")
    i.add_argument("-p", "--port", type=int, default=IPERF3_PORT)
    i.add_argument("-u", "--udp", action="store_true")
    i.add_argument(
        "-b", "--bandwidth", default=None, help="rate, e.g. 100M; 0 = unlimited (UDP default 1M)"
    )
    i.add_argument("-l", "--length", type=int, default=None)
    i.add_argument("-t", "--time", type=float, default=10.0, help="seconds (default 10)")
    i.add_argument("-P", "--parallel", type=int, default=1)
    d = i.add_mutually_exclusive_group()
    d.add_argument("-R", "--reverse", action="store_true", help="the server sends")
    d.add_argument("--bidir", action="store_true", help="both send")
    i.add_argument("--engine", **engine)  # type: ignore[arg-type]
    i.add_argument("-J", "--json", action="store_true")
    i.set_defaults(func=cmd_iperf3)

    v = ps.add_parser(
        "iperf3-server",
        help="iperf3-compatible server: stock iperf3 -c clients (TCP, UDP, -P, -R, --bidir)",
    )
    v.add_argument("--bind", default="0.0.0.0")
    v.add_argument("-p", "--port", type=int, default=IPERF3_PORT)
    v.add_argument("-1", "--one-off", action="store_true", help="serve one test, then exit")
    v.add_argument("--duration", type=float, default=None, help="stop after N seconds")
    v.add_argument("-J", "--json", action="store_true", help="one JSON line per test")
    v.add_argument("--engine", **engine)  # type: ignore[arg-type]
    v.set_defaults(func=cmd_iperf3_server)
