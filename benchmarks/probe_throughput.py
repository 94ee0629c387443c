"""Probe throughput benchmark: eventops probe run/sink against iperf3 in one run.

    python benchmarks/probe_throughput.py [--time 5] [--no-veth]

1. On loopback and on a veth pair between two namespaces (``evo-*``, created
   here and deleted in ``finally``): ``iperf3 -u -b 0 -l 1472 -t T -J`` against
   ``iperf3 -s``, then ``eventops probe run -b 0 -l 1472 -t T -J`` against
   ``eventops probe sink``: delivered pps and Gbit/s (UDP payload) of both and
   the ratio (goal >= 8x), with the accounting check sent - received == lost.
2. Accounting rate of the C and Python engines on one recorded trace (goal C >= 10x).
3. Pacing at 100 Mbit/s and 1 Gbit/s for both tools, measured the same way:
   each sender (``eventops probe iperf3 -u`` with the C data path, and stock
   ``iperf3 -c -u``) sends to our in-process iperf3 server, which counts
   arrivals per millisecond: per-100 ms error against the target, the worst
   millisecond against the target's per-ms rate (burst ratio), and for us the
   sender's own per-ms counts with stalls named (goal <= 1 % outside stalls).
4. TCP with 4 streams against one stock ``iperf3 -s``: ``iperf3 -c -P 4``,
   ``eventops probe iperf3 -P 4``, and ``eventops probe run --tcp --streams 4``
   against our sink; ratios against iperf3 (goal >= 1.0).

The machine is shared: figures are noisy; each ratio is against an anchor
measured in the same run. Needs root (namespaces) for the veth part.
"""

from __future__ import annotations

import argparse
import array
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import Any

from eventops.probe.datapath import load_engine

IPERF3 = shutil.which("iperf3") or "/usr/bin/iperf3"
PY = sys.executable


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=120)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def netns(ns: str | None, *cmd: str) -> list[str]:
    return ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)


def wait_listen(ns: str | None, port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = sh(*netns(ns, "ss", "-Hltn", f"sport = :{port}"), check=False).stdout
        if out.strip():
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def iperf3_udp(
    server_ns: str | None, client_ns: str | None, addr: str, secs: float
) -> dict[str, float]:
    port = free_port()
    srv = subprocess.Popen(
        netns(server_ns, IPERF3, "-s", "-1", "-B", addr, "-p", str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listen(server_ns, port)
        out = sh(
            *netns(
                client_ns,
                IPERF3,
                "-c",
                addr,
                "-p",
                str(port),
                "-u",
                "-b",
                "0",
                "-l",
                "1472",
                "-t",
                str(secs),
                "-J",
            )
        )
        j = json.loads(out.stdout)
    finally:
        srv.wait(30)
    r = j["end"]["sum_received"]
    sent = j["end"]["sum_sent"]
    return {
        "pps": (r["packets"] - r["lost_packets"]) / r["seconds"],
        "gbps": r["bits_per_second"] / 1e9,
        "sent": sent["packets"],
        "lost": r["lost_packets"],
    }


def eventops_udp(
    server_ns: str | None, client_ns: str | None, addr: str, secs: float, rate: str = "0"
) -> dict[str, Any]:
    port = free_port()
    srv = subprocess.Popen(
        netns(
            server_ns,
            PY,
            "-m",
            "eventops",
            "probe",
            "sink",
            "--bind",
            addr,
            "--port",
            str(port),
            "--duration",
            str(secs + 30),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listen(server_ns, port)
        out = sh(
            *netns(
                client_ns,
                PY,
                "-m",
                "eventops",
                "probe",
                "run",
                addr,
                "--port",
                str(port),
                "-b",
                rate,
                "-l",
                "1472",
                "-t",
                str(secs),
                "--json",
            )
        )
        e: dict[str, Any] = json.loads(out.stdout)["eventops"]
    finally:
        srv.terminate()
        srv.wait(10)
    return e


def compare(
    label: str, server_ns: str | None, client_ns: str | None, addr: str, secs: float
) -> float:
    ip = iperf3_udp(server_ns, client_ns, addr, secs)
    ev = eventops_udp(server_ns, client_ns, addr, secs)
    ev_pps = ev["received_packets"] / ev["duration_s"]
    exact = ev["sent_packets"] - ev["received_packets"] == ev["lost_packets"]
    ratio: float = ev_pps / ip["pps"]
    print(
        f"[{label}] iperf3 3.x : {ip['pps']:>12,.0f} pps delivered  {ip['gbps']:6.2f} Gbit/s "
        f"(sent {ip['sent']:,}, lost {ip['lost']:,})"
    )
    print(
        f"[{label}] eventops   : {ev_pps:>12,.0f} pps delivered  {ev['receiver_payload_bps'] / 1e9:6.2f} Gbit/s "
        f"(sent {ev['sent_packets']:,}, lost {ev['lost_packets']:,}, engine {ev['engine']}, "
        f"GSO {ev['gso']}, sent-received==lost: {exact})"
    )
    print(f"[{label}] ratio eventops/iperf3 delivered pps: {ratio:.2f}x (goal >= 8x)")
    return ratio


def accounting(n: int = 3_000_000) -> float:
    """Record a real loopback trace, then time both engines on it."""
    c = load_engine("c")
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    rx.bind(("127.0.0.1", 0))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx.connect(rx.getsockname())
    trace = array.array("Q", bytes(8 * n))
    stop = bytearray(1)
    out: dict[str, Any] = {}
    t = threading.Thread(
        target=lambda: out.update(
            r=c.recv_stream(rx.fileno(), c.Accountant(), 0, 5, stop, 30.0, trace)
        )
    )
    t.start()
    c.send_stream(tx.fileno(), 0, 64, 0.0, 2.0, 0, 5, 64, bytearray(1), None)
    time.sleep(0.3)
    stop[0] = 1
    t.join()
    rx.close()
    tx.close()
    rec = trace[: out["r"][3]]
    t0 = time.perf_counter()
    a = c.Accountant()
    a.feed(rec.tobytes())
    c_s = time.perf_counter() - t0
    py = load_engine("python").Accountant()
    t0 = time.perf_counter()
    py.feed(rec)
    py_s = time.perf_counter() - t0
    same = a.counters() == py.counters()
    print(f"[accounting] recorded trace of {len(rec):,} datagrams (64-byte, loopback)")
    print(f"[accounting] C      : {len(rec) / c_s:>14,.0f} datagrams/s")
    print(
        f"[accounting] Python : {len(rec) / py_s:>14,.0f} datagrams/s   identical counters: {same}"
    )
    ratio = py_s / c_s
    print(f"[accounting] ratio C/Python: {ratio:.1f}x (goal >= 10x)")
    return ratio


def _profile(arrivals: Any, pps: float, secs: float) -> str:
    """Per-100 ms error and worst millisecond of one receiver-side arrival profile."""
    counts = list(arrivals)
    busy = [i for i, c in enumerate(counts) if c]
    if not busy:
        return "nothing arrived"
    first = busy[0]
    used = counts[first : first + int(secs * 1000)]
    want = pps / 10.0
    windows = [sum(used[i : i + 100]) for i in range(0, len(used) - 99, 100)]
    errs = [abs(w - want) / want * 100.0 for w in windows[1:-1]]  # skip ramp and tail
    return (
        f"per-100ms error mean {sum(errs) / len(errs):.3f} % max {max(errs):.3f} %, "
        f"worst ms {max(used)} datagrams = {max(used) / (pps / 1000):.2f}x target"
    )


def pacing(secs: float) -> None:
    """Both tools' pacing at the same receiver (our iperf3 server, per-ms arrivals)."""
    import asyncio

    from eventops.probe import run_iperf3
    from eventops.probe.iperf3_server import Iperf3Server

    async def one(rate: float, tool: str) -> None:
        async with Iperf3Server("127.0.0.1", 0, record_arrivals=True) as srv:
            t = int(secs)
            if tool == "iperf3":
                args = [IPERF3, "-c", "127.0.0.1", "-p", str(srv.port), "-u", "-b", str(int(rate))]
                args += ["-l", "1472", "-t", str(t), "-i", "0.1", "-J"]
                out = await asyncio.to_thread(sh, *args)
                iv = json.loads(out.stdout)["intervals"]
                want = rate / (8 * 1472) / 10
                errs = [abs(i["sum"]["packets"] - want) / want * 100 for i in iv[1:-1]]
                sender = f"sender per-100ms error max {max(errs):.3f} % (iperf3 -i 0.1)"
            else:
                r = await run_iperf3(
                    "127.0.0.1", srv.port, udp=True, rate_bps=rate, size=1472, duration=t
                )
                sender = f"sent {r.sent_packets} datagrams"
            while not srv.results:
                srv.changed.clear()
                if not srv.results:
                    await asyncio.wait_for(srv.changed.wait(), 30)
            recv = _profile(srv.arrivals_ms[0], rate / (8 * 1472), t)
        print(f"[pacing {rate / 1e6:>5.0f}M {tool:>8}] at receiver: {recv}; {sender}")

    for rate in (100e6, 1e9):
        for tool in ("iperf3", "eventops"):
            asyncio.run(one(rate, tool))
        ev = eventops_udp(None, None, "127.0.0.1", secs, rate=f"{rate / 1e6:.0f}M")
        p = ev["pacing"]
        print(
            f"[pacing {rate / 1e6:>5.0f}M eventops sender] per-100ms error mean "
            f"{p['pacing_error_mean_pct']:.3f} % max {p['pacing_error_max_pct']:.3f} %, "
            f"outside stalls {p['pacing_error_max_pct_outside_stalls']}, stalls {p['stalls']} "
            f"({p['stalled_ms']} ms), worst ms {p['max_per_ms']} = {p['burst_ratio']:.2f}x target "
            f"(goal <= 1 % outside stalls)"
        )


def tcp4(secs: float) -> None:
    """TCP, 4 streams: iperf3 -c -P 4 and ours against one stock iperf3 -s; ours to our sink."""

    def stock_server() -> tuple[subprocess.Popen[bytes], int]:
        port = free_port()
        srv = subprocess.Popen(
            [IPERF3, "-s", "-1", "-B", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_listen(None, port)
        return srv, port

    t = str(int(secs))
    srv, port = stock_server()
    out = sh(IPERF3, "-c", "127.0.0.1", "-p", str(port), "-P", "4", "-t", t, "-J")
    srv.wait(30)
    ip = json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"]
    srv, port = stock_server()
    j = sh(
        PY,
        "-m",
        "eventops",
        "probe",
        "iperf3",
        "127.0.0.1",
        "-p",
        str(port),
        "-P",
        "4",
        "-t",
        t,
        "-J",
    )
    srv.wait(30)
    ours = json.loads(j.stdout)["end"]["sum_received"]["bits_per_second"]
    port = free_port()
    sink = subprocess.Popen(
        [PY, "-m", "eventops", "probe", "sink", "--bind", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_listen(None, port)
        r = sh(
            PY,
            "-m",
            "eventops",
            "probe",
            "run",
            "127.0.0.1",
            "--port",
            str(port),
            "--tcp",
            "--streams",
            "4",
            "-t",
            t,
            "--json",
        )
        run = json.loads(r.stdout)["eventops"]["receiver_bps"]
    finally:
        sink.terminate()
        sink.wait(10)
    print(f"[tcp -P 4] iperf3 -c -P 4 -> iperf3 -s      : {ip / 1e9:6.2f} Gbit/s")
    print(
        f"[tcp -P 4] eventops probe iperf3 -> iperf3 -s: {ours / 1e9:6.2f} Gbit/s  "
        f"ratio {ours / ip:.2f} (goal >= 1.0)"
    )
    print(
        f"[tcp -P 4] eventops probe run --tcp -> sink  : {run / 1e9:6.2f} Gbit/s  "
        f"ratio {run / ip:.2f} (goal >= 1.0)"
    )


def veth(secs: float) -> float | None:
    tag = str(os.getpid() % 100000)
    a, b = f"evo-pa{tag}", f"evo-pb{tag}"
    va, vb = f"evo-a{tag}", f"evo-b{tag}"
    try:
        sh("ip", "netns", "add", a)
        sh("ip", "netns", "add", b)
        sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        sh("ip", "link", "set", va, "netns", a)
        sh("ip", "link", "set", vb, "netns", b)
        sh("ip", "-n", a, "addr", "add", "10.213.7.1/24", "dev", va)
        sh("ip", "-n", b, "addr", "add", "10.213.7.2/24", "dev", vb)
        for ns, dev in ((a, va), (b, vb)):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        return compare("veth", b, a, "10.213.7.2", secs)
    except (subprocess.CalledProcessError, OSError) as exc:
        print(f"[veth] skipped: {exc}")
        return None
    finally:
        sh("ip", "netns", "del", a, check=False)
        sh("ip", "netns", "del", b, check=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--time", type=float, default=5.0)
    ap.add_argument("--no-veth", action="store_true")
    args = ap.parse_args()
    print(f"engine: {load_engine().name}; cores: {os.cpu_count()} (shared: figures are noisy)")
    compare("loopback", None, None, "127.0.0.1", args.time)
    if not args.no_veth:
        veth(args.time)
    accounting()
    pacing(max(3.0, min(args.time, 5.0)))
    tcp4(args.time)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
