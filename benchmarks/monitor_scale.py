"""Monitoring at scale: one engine polling 500 simulated masts and 50 fibre links.

The simulators run in a separate process pinned to the other core; the
engine polls them over loopback with the real drivers and writes every sample
to its store. Fibre links are cut and restored through the simulators'
control API at random moments. Printed, with the anchors they are measured
against in the same run:

- achieved / configured poll interval (goal <= 1.1), mean and p99 over devices;
- fault-to-alert latency for link cuts, p50/p99, also as a multiple of the
  fibre poll interval (the anchor: what one poll cycle costs at best);
- engine CPU (share of one core) and resident memory per device.

Run: ``python benchmarks/monitor_scale.py [--masts 500] [--links 50] [--duration 90]``
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from eventops_hardware.ports import free_ports

from eventops.clock import SystemClock
from eventops.engine import Engine
from eventops.profile.models import Profile
from eventops.store import SQLiteStore

PASSWORD_ENV = "EVO_BENCH_PW"


def build_profile(masts: int, links: int, mast_s: float, fibre_s: float) -> dict[str, Any]:
    ports = iter(free_ports(masts + 2 * links))
    mgmt = lambda user: {  # noqa: E731
        "url": f"http://127.0.0.1:{next(ports)}",
        "username": user,
        "password": f"env:{PASSWORD_ENV}",
    }
    start = datetime(2026, 6, 18, 14, 0, tzinfo=UTC)
    data: dict[str, Any] = {
        "event": {
            "id": "bench",
            "name": "Monitor scale benchmark",
            "start": start.isoformat(),
            "end": (start + timedelta(hours=10)).isoformat(),
        },
        "defaults": {
            "mast": {
                "country": "DE",
                "radios": [
                    {"band": "2g", "channel": 1, "width": 20, "tx_power_dbm": 17},
                    {"band": "5g", "channel": 36, "width": 80, "tx_power_dbm": 20},
                ],
            }
        },
        "polling": {
            "mast_interval_s": mast_s,
            "fibre_interval_s": fibre_s,
            "timeout_s": 4.0,
            "concurrency": 128,
        },
        "alerts": {"clear_after_s": 10.0},
        "switches": [],
        "links": [],
        "masts": [],
    }
    for i in range(links):
        a, b = f"core-{i:02d}", f"mc-{i:02d}"
        data["switches"].append({"id": a, "management": mgmt("admin"), "ports": [{"name": "sfp0"}]})
        data["switches"].append(
            {
                "id": b,
                "kind": "media-converter",
                "management": mgmt("admin"),
                "ports": [{"name": "sfp0"}],
            }
        )
        data["links"].append(
            {
                "id": f"fibre-{i:02d}",
                "a": {"device": a, "port": "sfp0"},
                "b": {"device": b, "port": "sfp0"},
                "length_m": 500 + 20 * i,
                "optic": "1000BASE-LX",
                "capacity_mbps": 1000,
            }
        )
    for i in range(masts):
        data["masts"].append({"id": f"mast-{i:03d}", "management": mgmt("root")})
    return data


# -- the simulator process ----------------------------------------------------------


async def run_simulators(profile_file: Path, control: str) -> None:
    from eventops_hardware.fleet import SimFleet

    text = await asyncio.to_thread(profile_file.read_text)
    profile = Profile.model_validate(json.loads(text))
    fleet = SimFleet(profile, control=control)
    await fleet.start()
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await fleet.stop()


# -- the engine side -------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of another process (from /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


async def bench(args: argparse.Namespace) -> None:
    os.environ.setdefault(PASSWORD_ENV, "bench-secret")
    data = build_profile(args.masts, args.links, args.mast_interval, args.fibre_interval)
    profile = Profile.model_validate(data)
    tmp = Path(tempfile.mkdtemp(prefix="evo-bench-"))
    pfile = tmp / "profile.json"
    pfile.write_text(json.dumps(data))
    control_port = free_ports(1)[0]
    cores = sorted(os.sched_getaffinity(0))
    sim_core, engine_core = (cores[-1], cores[0]) if len(cores) > 1 else (cores[0], cores[0])
    sim = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--sim",
        str(pfile),
        "--control",
        f"127.0.0.1:{control_port}",
        stdout=asyncio.subprocess.PIPE,
        preexec_fn=lambda: os.sched_setaffinity(0, {sim_core}),
    )
    os.sched_setaffinity(0, {engine_core})
    try:
        assert sim.stdout is not None
        line = (await sim.stdout.readline()).decode()
        if line.strip() != "ready":
            raise SystemExit("simulators did not start")
        devices = len(profile.devices)
        rss0 = rss_mb()
        async with SQLiteStore(tmp / "bench.sqlite3") as store:
            engine = Engine(profile, store, clock=SystemClock(), stagger=not args.no_stagger)
            polls: dict[str, list[float]] = {}
            raised: dict[str, float] = {}
            faults: dict[str, float] = {}

            async def watch() -> None:
                with engine.bus.subscribe(maxsize=1_000_000) as sub:
                    while True:
                        ev = await sub.get()
                        now = ev.ts.timestamp()  # when the engine published it
                        if ev.type == "device":
                            polls.setdefault(ev.subject, []).append(now)
                        elif ev.type == "alert.raised" and ev.data["key"].endswith(":down"):
                            raised.setdefault(ev.subject, now)

            watcher = asyncio.create_task(watch())
            await engine.start()
            t0, c0, s0 = time.time(), cpu_s(), proc_cpu_s(sim.pid)
            rng = random.Random(7)
            link_ids = [lk.id for lk in profile.links]
            rng.shuffle(link_ids)
            cuts = link_ids[: args.faults]
            warm = min(30.0, args.duration / 3)
            slots = [
                warm + (args.duration - warm - 25) * i / max(1, len(cuts)) for i in range(len(cuts))
            ]
            url = f"http://127.0.0.1:{control_port}"
            async with aiohttp.ClientSession() as http:
                for link_id, at in zip(cuts, slots, strict=True):
                    await asyncio.sleep(max(0.0, t0 + at - time.time()))
                    async with http.post(f"{url}/links/{link_id}/down") as r:
                        r.raise_for_status()
                    faults[link_id] = time.time()
                await asyncio.sleep(max(0.0, t0 + args.duration - time.time()))
                elapsed, cpu = time.time() - t0, cpu_s() - c0
                sim_cpu = proc_cpu_s(sim.pid) - s0
                for link_id in cuts:
                    async with http.post(f"{url}/links/{link_id}/up") as r:
                        r.raise_for_status()
            rss1 = rss_mb()
            watcher.cancel()
            await engine.stop()
            samples = await store._fetch("SELECT COUNT(*) AS n FROM samples")
        ratios = []
        for d in profile.devices:
            ts = [t for t in polls.get(d.id, []) if t >= t0 + 5]
            if len(ts) < 3:
                continue
            configured = engine.devices[d.id].interval_s
            ratios.append(statistics.mean(b - a for a, b in itertools.pairwise(ts)) / configured)
        lat = [raised[k] - faults[k] for k in faults if k in raised]
        missed = [k for k in faults if k not in raised]
        print(
            f"devices: {devices} ({args.masts} masts, {2 * args.links} fibre ends), "
            f"{elapsed:.0f} s, intervals {args.mast_interval:g}/{args.fibre_interval:g} s"
        )
        print(
            f"poll interval achieved/configured: mean {statistics.mean(ratios):.3f}, "
            f"p99 {pct(ratios, 0.99):.3f} over {len(ratios)} devices (goal <= 1.1)"
        )
        print(
            f"fault -> alert (link cut), {len(lat)} faults: p50 {pct(lat, 0.5):.2f} s, "
            f"p99 {pct(lat, 0.99):.2f} s = {pct(lat, 0.99) / args.fibre_interval:.2f} x fibre "
            f"interval" + (f"; MISSED {missed}" if missed else "")
        )
        print(
            f"engine CPU: {100 * cpu / elapsed:.1f}% of one core = "
            f"{100 * cpu / elapsed / devices * 100:.2f}% per 100 devices; "
            f"RSS {rss1:.0f} MB (+{rss1 - rss0:.0f} MB, {1024 * (rss1 - rss0) / devices:.0f} KiB per device)"
        )
        print("fault -> alert, sorted: " + " ".join(f"{v:.2f}" for v in sorted(lat)))
        first_poll = []
        for k, at in faults.items():
            link = profile.link(k)
            after = [t for d in (link.a.device, link.b.device) for t in polls.get(d, []) if t > at]
            if after:
                first_poll.append(min(after) - at)
        print(
            "fault -> first finished poll of an end, sorted: "
            + " ".join(f"{v:.2f}" for v in sorted(first_poll))
        )
        durs = sorted(st.poll_duration_s for st in engine.devices.values())
        print(
            f"poll duration: p50 {pct(durs, 0.5) * 1000:.0f} ms, p99 {pct(durs, 0.99) * 1000:.0f} ms"
        )
        print(f"simulators: {100 * sim_cpu / elapsed:.1f}% of their core")
        print(f"samples written: {samples[0]['n']}")
    finally:
        sim.terminate()
        await asyncio.wait_for(sim.wait(), 30)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--masts", type=int, default=500)
    p.add_argument("--links", type=int, default=50)
    p.add_argument("--duration", type=float, default=90.0)
    p.add_argument("--faults", type=int, default=10)
    p.add_argument("--mast-interval", type=float, default=10.0)
    p.add_argument("--fibre-interval", type=float, default=5.0)
    p.add_argument(
        "--no-stagger", action="store_true", help="all first polls at once (as before staggering)"
    )
    p.add_argument("--sim", help=argparse.SUPPRESS)
    p.add_argument("--control", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.sim:
        asyncio.run(run_simulators(Path(args.sim), args.control))
    else:
        asyncio.run(bench(args))


if __name__ == "__main__":
    main()
