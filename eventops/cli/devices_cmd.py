"""``eventops devices PROFILE [--json]``: every device, reachable or not, with facts and status.

Each device is asked through its driver (the profile's ``driver``) with the
profile's poll timeout, all at once up to ``polling.concurrency``. An
unreachable device is a normal row carrying its reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from eventops.adapters.base import DeviceStatus, driver_for
from eventops.errors import EventOpsError
from eventops.profile import load_profile
from eventops.profile.models import Mast, Profile, Switch


def register(sub: Any) -> None:
    p = sub.add_parser("devices", help="list every device with reachability, facts and status")
    p.add_argument("profile", help="the event profile (TOML)")
    p.add_argument("--json", action="store_true", help="one JSON document for scripts")
    p.set_defaults(func=devices_cmd)


def summary(st: DeviceStatus) -> str:
    parts: list[str] = []
    if st.radios:
        clients = sum(len(r.clients) for r in st.radios)
        ssids = sorted({r.ssid for r in st.radios if r.ssid})
        util = [r.utilisation_pct for r in st.radios if r.utilisation_pct is not None]
        parts.append(f"{len(st.radios)} radios, {clients} clients, SSID {'/'.join(ssids) or '-'}")
        if util:
            parts.append(f"busiest channel {max(util):.0f}%")
    if st.interfaces and not st.radios:
        up = sum(1 for i in st.interfaces if i.oper_status == "UP")
        parts.append(f"{up}/{len(st.interfaces)} ports up")
        down = [i.name for i in st.interfaces if i.oper_status != "UP" and i.admin_status == "UP"]
        if down:
            parts.append("down: " + ",".join(down))
    rx = [f"{o.port} {o.rx_power_dbm[0]:.1f}" for o in st.optics if o.rx_power_dbm]
    if rx:
        parts.append("rx dBm " + " ".join(rx))
    if st.unsupported:
        parts.append("no " + ",".join(st.unsupported))
    return "; ".join(parts) or "ok"


async def probe(dev: Mast | Switch, timeout_s: float) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": dev.id,
        "kind": "mast" if isinstance(dev, Mast) else dev.kind,
        "driver": dev.driver,
        "url": dev.management.url,
        "reachable": False,
        "reason": None,
        "facts": None,
        "status": None,
        "summary": "",
    }
    try:
        async with driver_for(dev, timeout=timeout_s) as drv:
            st = await drv.status()
    except EventOpsError as exc:
        row["reason"] = exc.one_line()
        row["summary"] = exc.title
        return row
    row["reachable"] = True
    row["facts"] = st.facts.model_dump(mode="json")
    row["status"] = st.model_dump(mode="json")
    row["summary"] = summary(st)
    return row


async def collect(profile: Profile) -> list[dict[str, Any]]:
    sem = asyncio.Semaphore(profile.polling.concurrency)

    async def one(dev: Mast | Switch) -> dict[str, Any]:
        async with sem:
            return await probe(dev, profile.polling.timeout_s)

    return list(await asyncio.gather(*(one(d) for d in profile.devices)))


def _uptime(s: float) -> str:
    s = int(s)
    d, rest = divmod(s, 86400)
    return f"{d}d{rest // 3600:02d}h" if d else f"{rest // 3600}h{rest % 3600 // 60:02d}m"


async def devices_cmd(args: argparse.Namespace) -> int:
    profile = load_profile(args.profile)
    rows = await collect(profile)
    if args.json:
        print(json.dumps({"event": profile.event.id, "devices": rows}, indent=2))
        return 0
    header = f"{'DEVICE':<16} {'KIND':<15} {'STATE':<11} {'MODEL':<18} {'FIRMWARE':<24} {'UPTIME':<7} STATUS"
    print(header)
    for r in rows:
        f = r["facts"] or {}
        state = "up" if r["reachable"] else "UNREACHABLE"
        detail = r["summary"] if r["reachable"] else r["reason"]
        print(
            f"{r['id']:<16} {r['kind']:<15} {state:<11} {f.get('model', '-')[:18]:<18} "
            f"{f.get('firmware', '-')[:24]:<24} {_uptime(f['uptime_s']) if f else '-':<7} {detail}"
        )
    down = sum(1 for r in rows if not r["reachable"])
    print(f"{len(rows) - down} of {len(rows)} devices reachable")
    return 0
