"""Plan and apply for 200 simulated masts: bounded concurrency vs one at a time.

Generates a profile of N masts (default 200) on free loopback ports with two
SSIDs (one with a PSK secret), two radios and VLANs, and starts two
identical, factory-fresh simulated fleets, each with ``eventops sim`` in a
process of its own (the masts are other machines; the simulators must not
eat the provisioner's CPU). Both fleets answer every request
after ``--latency`` seconds (default 10 ms, standing for the network round
trip and rpcd's work on a real mast; the same for both runs).

- anchor: ``plan`` + ``apply`` of the whole profile on fleet 1 with
  concurrency 1 (one device at a time, as a technician with a web UI would);
- measured: the same on fleet 2 with the default bounded concurrency.

Every apply runs through the real path: ubus login, UCI read, staging,
``uci apply`` with the rollback timer, read-back checksum, ``uci confirm``,
durable apply records in a SQLite store. Prints the times and the speed-up
(goal: at least 10x), and checks that each run converged (the next plan
is empty).

Run: ``.venv/bin/python benchmarks/provision_scale.py [--masts 200 --latency 0.01]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from eventops_hardware.ports import free_ports

from eventops.profile import load_profile
from eventops.provision.apply import ApplyOptions, Provisioner
from eventops.store.sqlite import SQLiteStore

HEAD = """[event]
id = "bench"
name = "Provisioning bench"
start = 2026-06-18T14:00:00+02:00
end = 2026-06-18T23:00:00+02:00

[defaults.mast]
country = "DE"

[[defaults.mast.ssids]]
name = "Bench-Gast"
security = "owe"
vlan = 30
isolation = true

[[defaults.mast.ssids]]
name = "Bench-Staff"
security = "wpa2"
key = "env:EVO_BENCH_PSK"
vlan = 20

[[defaults.mast.radios]]
band = "2g"
channel = 6
tx_power_dbm = 15

[[defaults.mast.radios]]
band = "5g"
channel = 44
width = 40
tx_power_dbm = 20
"""


def profile_text(masts: int, ports: list[int]) -> str:
    out = [HEAD]
    for m, port in zip(range(masts), ports, strict=True):
        out.append(
            f'[[masts]]\nid = "mast-{m:03d}"\nhostname = "bench-{m:03d}"\n'
            f'management = {{ url = "http://127.0.0.1:{port}", password = "env:EVO_BENCH_PW" }}\n'
        )
    return "\n".join(out)


async def start_fleet(path: Path, latency: float) -> asyncio.subprocess.Process:
    """``eventops sim`` in its own process (the masts are other machines), with latency set."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eventops", "sim", str(path), stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    control = ""
    while not control:
        line = (await proc.stdout.readline()).decode()
        if not line:
            raise RuntimeError("eventops sim ended before it was ready")
        if line.startswith("control API: "):
            control = line.split(": ", 1)[1].strip()
    async with aiohttp.ClientSession() as http, http.get(control + "/") as r:
        devices = [d["id"] for d in (await r.json())["devices"]]
    async with aiohttp.ClientSession() as http:
        for dev in devices:
            async with http.post(f"{control}/devices/{dev}/faults", json={"slow_s": latency}) as r:
                r.raise_for_status()
    return proc


async def run(
    path: Path, latency: float, concurrency: int, db: Path
) -> tuple[float, float, str, str]:
    profile = load_profile(path)
    sim = await start_fleet(path, latency)
    try:
        async with SQLiteStore(db) as store:
            prov = Provisioner(
                profile,
                store,
                lock_dir=db.with_name(db.name + ".locks"),
                options=ApplyOptions(confirm_timeout_s=60, poll_s=0.2, concurrency=concurrency),
            )
            t = time.perf_counter()
            plan = await prov.plan()
            t_plan = time.perf_counter() - t
            t = time.perf_counter()
            report = await prov.apply(actor="bench")
            t_apply = time.perf_counter() - t
            after = await prov.plan()
    finally:
        sim.terminate()
        await sim.communicate()
    return t_plan, t_apply, f"{plan.summary()} / {report.summary()}", after.summary()


async def main(masts: int, latency: float, concurrency: int) -> None:
    os.environ["EVO_BENCH_PW"] = "bench-pw"
    os.environ["EVO_BENCH_PSK"] = "bench-psk-123"
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        ports = free_ports(2 * masts)
        p1, p2 = base / "one.toml", base / "many.toml"
        p1.write_text(profile_text(masts, ports[:masts]), encoding="utf-8")
        p2.write_text(profile_text(masts, ports[masts:]), encoding="utf-8")
        b_plan, b_apply, b_what, b_after = await run(p1, latency, 1, base / "one.sqlite3")
        c_plan, c_apply, c_what, c_after = await run(
            p2, latency, concurrency, base / "many.sqlite3"
        )
    print(f"masts: {masts}, per-request device latency {latency * 1e3:.0f} ms")
    print(f"anchor (one at a time): plan {b_plan:.2f} s, apply {b_apply:.2f} s — {b_what}")
    print(f"  next plan: {b_after}")
    print(
        f"bounded concurrency {concurrency}: plan {c_plan:.2f} s, apply {c_apply:.2f} s — {c_what}"
    )
    print(f"  next plan: {c_after}")
    total_b, total_c = b_plan + b_apply, c_plan + c_apply
    print(
        f"speed-up: plan {b_plan / c_plan:.1f}x, apply {b_apply / c_apply:.1f}x, "
        f"plan+apply {total_b / total_c:.1f}x (goal >= 10x)"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--masts", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.01)
    ap.add_argument("--concurrency", type=int, default=64)
    a = ap.parse_args()
    asyncio.run(main(a.masts, a.latency, a.concurrency))
