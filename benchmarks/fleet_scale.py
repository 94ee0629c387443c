"""How a simulated fleet of 500 masts and 50 fibre links scales in one process.

Generates a profile (500 masts, 50 media converters, 5 core switches, 50
links) on free loopback ports, starts :class:`SimFleet` for it and polls
every device's full status once through the real drivers (shared client
session, 64 at a time). Prints absolute figures and ratios against anchors
measured in the same run:

- start: fleet start time per device / the time to start one mast alone;
- poll: wall time to poll all 600 devices / (600 x one mast's poll time
  on an idle fleet), i.e. how much concurrency buys (lower is better);
- memory: RSS growth per simulated device.

Run: ``.venv/bin/python benchmarks/fleet_scale.py [--masts 500 --links 50]``
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from pathlib import Path

import aiohttp
from eventops_hardware.fleet import SimFleet
from eventops_hardware.openwrt_mast import OpenWrtMast
from eventops_hardware.ports import free_ports

from eventops.adapters.base import DeviceDriver, driver_for
from eventops.clock import FakeClock
from eventops.profile import parse_profile


def profile_text(masts: int, links: int, ports: list[int]) -> str:
    it = iter(ports)
    cores = max(1, (links + 9) // 10)
    out = [
        '[event]\nid = "bench"\nname = "Bench"\nstart = 2026-06-18T14:00:00+02:00\nend = 2026-06-18T23:00:00+02:00\n',
    ]
    for c in range(cores):
        names = ", ".join(f'{{ name = "Ethernet1/{p + 1}" }}' for p in range(10))
        out.append(
            f'[[switches]]\nid = "core-{c}"\nmanagement = {{ url = "http://127.0.0.1:{next(it)}", username = "admin", password = "env:EVO_BENCH_PW" }}\nports = [{names}]\n'
        )
    for i in range(links):
        out.append(
            f'[[switches]]\nid = "mc-{i}"\nkind = "media-converter"\nmanagement = {{ url = "http://127.0.0.1:{next(it)}", username = "admin", password = "env:EVO_BENCH_PW" }}\nports = [{{ name = "sfp0" }}, {{ name = "eth0" }}]\n'
        )
        out.append(
            f'[[links]]\nid = "link-{i}"\na = {{ device = "core-{i // 10}", port = "Ethernet1/{i % 10 + 1}" }}\nb = {{ device = "mc-{i}", port = "sfp0" }}\nlength_m = {300 + 40 * i}\noptic = "{"10GBASE-LR" if i % 3 == 0 else "1000BASE-LX"}"\ncapacity_mbps = 500\n'
        )
    for m in range(masts):
        out.append(
            f'[[masts]]\nid = "mast-{m:03d}"\nmanagement = {{ url = "http://127.0.0.1:{next(it)}", password = "env:EVO_BENCH_PW" }}\n'
        )
    return "\n".join(out)


def rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def poll(dev: DeviceDriver) -> bool:
    try:
        async with dev:
            await dev.status()
    except Exception:
        return False
    return True


async def main(masts: int, links: int) -> None:
    import os

    os.environ["EVO_BENCH_PW"] = "bench-pw"
    clock = FakeClock()
    cores = max(1, (links + 9) // 10)
    ndev = masts + links + cores
    text = profile_text(masts, links, free_ports(ndev))
    with tempfile.TemporaryDirectory() as tmp:
        profile = parse_profile(text, "bench.toml", Path(tmp))

    # anchor 1: one mast started alone
    t = time.perf_counter()
    one = OpenWrtMast("anchor", clock=clock, password="bench-pw")
    await one.start()
    start_one = time.perf_counter() - t

    # anchor 2: one mast's full status poll, repeated on an idle loop
    async with aiohttp.ClientSession() as http:
        from eventops.adapters.openwrt import OpenWrtDriver
        from eventops.profile.models import Management
        from eventops.secrets import SecretRef

        mg = Management(url=one.url, password=SecretRef("env:EVO_BENCH_PW"))
        async with OpenWrtDriver("anchor", mg, clock=clock, session=http) as d:
            await d.status()
            reps = 50
            t = time.perf_counter()
            for _ in range(reps):
                await d.status()
            poll_one = (time.perf_counter() - t) / reps
    await one.stop()

    rss0 = rss_kib()
    fleet = SimFleet(profile, clock=clock)
    t = time.perf_counter()
    await fleet.start()
    start_all = time.perf_counter() - t
    rss1 = rss_kib()
    try:
        connector = aiohttp.TCPConnector(limit=128)
        async with aiohttp.ClientSession(connector=connector) as http:
            sem = asyncio.Semaphore(64)

            async def bounded(dev: DeviceDriver) -> bool:
                async with sem:
                    return await poll(dev)

            drivers = [
                driver_for(d, clock=clock, session=http, timeout=30) for d in profile.devices
            ]
            t = time.perf_counter()
            ok = await asyncio.gather(*(bounded(d) for d in drivers))
            poll_all = time.perf_counter() - t
            fleet.link_down("link-7")
            await clock.advance(60)
            t = time.perf_counter()
            ok2 = await asyncio.gather(*(bounded(d) for d in drivers))
            poll_all2 = time.perf_counter() - t
    finally:
        await fleet.stop()

    print(
        f"devices: {ndev} ({masts} masts, {links} media converters, {cores} core switches, {links} links)"
    )
    print(
        f"anchor: one mast starts in {start_one * 1e3:.2f} ms; one mast status poll {poll_one * 1e3:.2f} ms"
    )
    print(
        f"fleet start: {start_all:.2f} s = {start_all / ndev * 1e3:.2f} ms/device, ratio {start_all / ndev / start_one:.2f}x one mast"
    )
    print(
        f"poll all (login+status): {poll_all:.2f} s, {sum(ok)}/{ndev} ok, ratio {poll_all / (ndev * poll_one):.2f} of {ndev} x anchor"
    )
    print(
        f"poll all after 60 s and a link fault: {poll_all2:.2f} s, {sum(ok2)}/{ndev} ok, ratio {poll_all2 / (ndev * poll_one):.2f}"
    )
    print(
        f"memory: max RSS +{(rss1 - rss0) / 1024:.1f} MiB for the fleet = {(rss1 - rss0) / ndev:.1f} KiB/device"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--masts", type=int, default=500)
    ap.add_argument("--links", type=int, default=50)
    a = ap.parse_args()
    asyncio.run(main(a.masts, a.links))
