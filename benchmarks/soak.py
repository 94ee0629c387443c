"""Soak: the engine's memory stays flat with 50 live-stream clients and a full event ring.

Starts, each in its own process, the simulators of the demo profile with the
links' probe far ends (``eventops sim``) and the engine with its API
(``eventops serve``, its own store). Then 50 Server-Sent-Events clients
follow ``/api/v1/stream`` (resuming with Last-Event-ID when a stream ends),
and a writer toggles maintenance on the devices (each toggle is an audited
write and a burst of events) until the event ring has dropped its first
events, i.e. it is full; after that the writer goes on at a steady rate so
the ring keeps turning over.

The ring is bounded by bytes here (``--ring-mb``, default 1.5 MB, below what
the fill's 10,000 small events take), so "full" is a fixed size from the fill
on. With the profile's defaults (8 MB, 10,000 events) the event count binds
first, and the ring's bytes keep growing for some 40 minutes while the
steady mix of events (larger: device polls) replaces the fill's small ones —
growth of the ring towards its bound, which a 10-minute slope would count as
a leak. The engine's resident memory (VmRSS of its process) is sampled once
the ring is full and its size has settled (the start), and every minute for
``--minutes``. Printed: RSS at start
and end, the growth per minute from a least-squares line through all
samples, the ring's events and bytes, and the events the clients received.
Exits 1 when the slope is above ``--max-slope`` MB/min.

Run: ``python benchmarks/soak.py [--minutes 10] [--clients 50] [--max-slope 0.25]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

import aiohttp
from eventops_hardware.ports import free_ports

REPO = Path(__file__).resolve().parents[1]
TOKEN = "demo-technician-token"
"""The demo profile's technician token (a published demo value)."""


def log_file(path: Path) -> IO[bytes]:
    return path.open("wb")  # closed in main's finally


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    if sxx == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / sxx


async def metric(s: aiohttp.ClientSession, base: str, name: str) -> float:
    async with s.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}) as r:
        text = await r.text()
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "_total "):
            return float(line.split()[-1])
    raise RuntimeError(f"/metrics has no {name}")


class Clients:
    def __init__(self, base: str, n: int) -> None:
        self.base = base
        self.n = n
        self.events = 0
        self.snapshots = 0
        self.reconnects = 0
        self.tasks: list[asyncio.Task[None]] = []

    async def one(self, s: aiohttp.ClientSession) -> None:
        last = ""
        while True:
            headers = {"Authorization": f"Bearer {TOKEN}"}
            if last:
                headers["Last-Event-ID"] = last
            try:
                async with s.get(
                    f"{self.base}/api/v1/stream",
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=None, sock_read=120),
                ) as r:
                    async for raw in r.content:
                        line = raw.decode("utf-8", "replace").rstrip("\n")
                        if line.startswith("id: "):
                            last = line[4:]
                        elif line == "event: snapshot":
                            self.snapshots += 1
                        elif line.startswith("event: "):
                            self.events += 1
            except (aiohttp.ClientError, TimeoutError):
                await asyncio.sleep(0.5)
            self.reconnects += 1

    def start(self, s: aiohttp.ClientSession) -> None:
        self.tasks = [asyncio.create_task(self.one(s)) for _ in range(self.n)]

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


async def writer(
    s: aiohttp.ClientSession, base: str, devices: list[str], rate: list[float], start: int = 0
) -> None:
    """Toggle maintenance round the devices at up to ``rate[0]`` writes per second."""
    on = True
    n = start
    while True:
        dev = devices[n % len(devices)]
        async with s.post(
            f"{base}/api/v1/devices/{dev}/maintenance",
            json={"on": on, "note": "soak"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as r:
            if r.status != 200:
                raise RuntimeError(f"maintenance {dev}: HTTP {r.status}: {await r.text()}")
        n += 1
        if n % len(devices) == 0:
            on = not on
        await asyncio.sleep(1.0 / rate[0])


async def wait_http(url: str, proc: asyncio.subprocess.Process, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"{url}: the process exited ({proc.returncode})")
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with s.get(url) as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds:g} s")


async def stop_proc(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def soak(
    args: argparse.Namespace,
    s: aiohttp.ClientSession,
    base: str,
    pid: int,
    engine: asyncio.subprocess.Process,
    devices: list[str],
    clients: Clients,
    tasks: list[asyncio.Task[None]],
) -> int:
    rate = [args.fill_rate]
    fill = [
        asyncio.create_task(writer(s, base, devices, rate, start=k)) for k in range(args.writers)
    ]
    tasks += fill
    w = fill[0]
    t_fill = time.monotonic()
    while await metric(s, base, "eventops_event_ring_dropped") < 1:
        for t in fill:
            if t.done():
                t.result()
        if time.monotonic() - t_fill > args.fill_timeout:
            raise RuntimeError(f"the event ring was not full after {args.fill_timeout} s")
        await asyncio.sleep(1)
    rate[0] = args.steady_rate
    for t in fill[1:]:
        t.cancel()
    await asyncio.gather(*fill[1:], return_exceptions=True)
    kept = await metric(s, base, "eventops_event_ring_events")
    ring = await metric(s, base, "eventops_event_ring_bytes")
    limit = await metric(s, base, "eventops_event_ring_limit_bytes")
    print(
        f"ring full after {time.monotonic() - t_fill:.0f} s: {kept:.0f} events, "
        f"{ring / 1e6:.2f} MB of {limit / 1e6:.2f} MB"
    )
    # the fill's events are not the steady mix: wait until the ring's size settles
    # (within 2 % over a minute), so that its turnover is not counted as growth
    t_settle = time.monotonic()
    settled = False
    while not settled and time.monotonic() - t_settle < args.settle_timeout:
        await asyncio.sleep(60)
        now_bytes = await metric(s, base, "eventops_event_ring_bytes")
        settled = abs(now_bytes - ring) <= 0.02 * ring
        ring = now_bytes
    took = time.monotonic() - t_settle
    if settled:
        print(f"ring settled at {ring / 1e6:.2f} MB after {took:.0f} s")
    else:
        print(
            f"ring still changing after {took:.0f} s ({ring / 1e6:.2f} MB): growth may include it"
        )
    t0 = time.monotonic()
    samples = [(0.0, rss_mb(pid))]
    print(f"RSS start {samples[0][1]:.1f} MB")
    for minute in range(1, args.minutes + 1):
        while time.monotonic() < t0 + 60 * minute:
            await asyncio.sleep(1)
            if w.done():
                w.result()
            if engine.returncode is not None:
                raise RuntimeError(f"the engine exited ({engine.returncode})")
        samples.append(((time.monotonic() - t0) / 60, rss_mb(pid)))
        subs = await metric(s, base, "eventops_stream_clients")
        ring_now = await metric(s, base, "eventops_event_ring_bytes")
        print(
            f"  minute {minute}: RSS {samples[-1][1]:.1f} MB, ring {ring_now / 1e6:.2f} MB, "
            f"{clients.events} events to clients, {subs:.0f} streams open",
            flush=True,
        )
    kept = await metric(s, base, "eventops_event_ring_events")
    ring = await metric(s, base, "eventops_event_ring_bytes")
    w.cancel()
    await asyncio.gather(w, return_exceptions=True)
    growth = slope(samples)
    print(f"RSS start {samples[0][1]:.1f} MB, end {samples[-1][1]:.1f} MB")
    print(f"RSS growth {growth:+.3f} MB/min (least squares over {len(samples)} samples)")
    print(
        f"ring at the end: {kept:.0f} events, {ring / 1e6:.2f} MB; clients got "
        f"{clients.events} events, {clients.snapshots} snapshots, "
        f"{clients.reconnects} reconnects"
    )
    if growth > args.max_slope:
        print(f"FAIL: RSS grows {growth:.3f} MB/min > {args.max_slope} MB/min")
        return 1
    print(f"ok: slope within {args.max_slope} MB/min")
    return 0


async def main(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="evo-soak-"))
    procs: list[asyncio.subprocess.Process] = []
    logs: list[IO[bytes]] = []
    try:
        shutil.copytree(REPO / "profiles" / "demo-secrets", tmp / "demo-secrets")
        shutil.copy(REPO / "profiles" / "demo-wall.jsonl", tmp / "demo-wall.jsonl")
        profile = tmp / "demo.toml"
        text = (REPO / "profiles" / "demo.toml").read_text(encoding="utf-8")
        if args.ring_mb is not None:
            text = text.replace("[server]\n", f"[server]\nevent_ring_mb = {args.ring_mb}\n", 1)
        if args.ring_events is not None:
            text = text.replace(
                "[server]\n", f"[server]\nevent_ring_events = {args.ring_events}\n", 1
            )
        profile.write_text(text, encoding="utf-8")
        api_port, control_port = free_ports(2)
        logs = [log_file(tmp / "sim.log"), log_file(tmp / "engine.log")]
        base = f"http://127.0.0.1:{api_port}"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        sim = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "eventops", "sim", str(profile),
            "--control", f"127.0.0.1:{control_port}",
            stdout=asyncio.subprocess.DEVNULL, stderr=logs[0], env=env,
        )  # fmt: skip
        procs.append(sim)
        await wait_http(f"http://127.0.0.1:{control_port}/", sim, 60)
        engine = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "eventops", "serve", str(profile),
            "--listen", f"127.0.0.1:{api_port}", "--db", str(tmp / "soak.sqlite3"),
            stdout=asyncio.subprocess.DEVNULL, stderr=logs[1], env=env,
        )  # fmt: skip
        procs.append(engine)
        await wait_http(f"{base}/healthz", engine, 60)
        pid = engine.pid
        print(
            f"engine pid {pid} at {base}; simulators pid {sim.pid}; {args.clients} stream clients"
        )

        conn = aiohttp.TCPConnector(limit=args.clients + 10)
        async with aiohttp.ClientSession(connector=conn) as s:
            async with s.get(
                f"{base}/api/v1/devices", headers={"Authorization": f"Bearer {TOKEN}"}
            ) as r:
                devices = [d["id"] for d in await r.json()]
            clients = Clients(base, args.clients)
            clients.start(s)
            tasks: list[asyncio.Task[None]] = []
            try:
                return await soak(args, s, base, pid, engine, devices, clients, tasks)
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await clients.stop()
    finally:
        for p in reversed(procs):
            await stop_proc(p)
        for f in logs:
            f.close()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=int, default=10, help="minutes to sample after the fill")
    ap.add_argument("--clients", type=int, default=50, help="live-stream clients")
    ap.add_argument("--max-slope", type=float, default=0.25, help="MB/min allowed")
    ap.add_argument("--fill-rate", type=float, default=40.0, help="writes/s until the ring is full")
    ap.add_argument("--writers", type=int, default=8, help="concurrent writers while filling")
    ap.add_argument("--steady-rate", type=float, default=2.0, help="writes/s afterwards")
    ap.add_argument("--fill-timeout", type=float, default=600.0, help="seconds to fill the ring")
    ap.add_argument(
        "--settle-timeout", type=float, default=600.0, help="seconds for the ring to settle"
    )
    ap.add_argument(
        "--ring-mb",
        type=float,
        default=1.5,
        help="the profile's [server] event_ring_mb (the bound the ring fills to)",
    )
    ap.add_argument("--ring-events", type=int, help="the profile's [server] event_ring_events")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (logs)")
    args = ap.parse_args(argv)
    if (
        args.minutes < 1
        or args.clients < 1
        or args.writers < 1
        or args.fill_rate <= 0
        or args.steady_rate <= 0
    ):
        ap.error("--minutes, --clients and the rates must be positive")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse())))
