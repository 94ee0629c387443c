"""``eventops devices PROFILE [--json] [--preflight]``: every device, reachable or not.

Each device is asked through its driver (the profile's ``driver``) with the
profile's poll timeout, all at once up to ``polling.concurrency``. An
unreachable device is a normal row carrying its reason.

``--preflight`` checks, per device, what eventops needs against what the
device offers (login, each ubus object and method, the user's ACL grants,
the packages that provide them, firmware release, time sync) and prints a
one-line fix for each gap; it exits 1 when any gap is found.

Exit status: 0 when every device answered, 3 when one or more are
unreachable (the list and ``--json`` still show every device).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from typing import Any

from eventops.adapters.base import DeviceStatus, driver_for
from eventops.adapters.openwrt import OpenWrtDriver, PreflightItem
from eventops.errors import EventOpsError
from eventops.profile import load_profile
from eventops.profile.models import Mast, Profile, Switch

UNREACHABLE_EXIT = 3
"""``devices`` exit status when any device did not answer (as a DeviceError's)."""


def register(sub: Any) -> None:
    p = sub.add_parser(
        "devices",
        help="list every device with reachability, facts and status",
        description="Ask every device of the profile for its facts and status.",
        epilog=f"exit status: 0 every device answered; {UNREACHABLE_EXIT} one or more devices "
        "unreachable (listed with the reason); with --preflight, 1 when a gap is found",
    )
    p.add_argument("profile", help="the event profile (TOML)")
    p.add_argument("--json", action="store_true", help="one JSON document for scripts")
    p.add_argument(
        "--preflight",
        action="store_true",
        help="what eventops needs from each device vs what it offers, with a fix per gap",
    )
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
        parts.append(
            "not available: "
            + ", ".join(
                f"{o} ({st.unavailable[o]})" if o in st.unavailable else o for o in st.unsupported
            )
        )
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


async def preflight_one(dev: Mast | Switch, timeout_s: float) -> dict[str, Any]:
    """The preflight items of one device (a generic login/status check for non-OpenWrt)."""
    items: list[PreflightItem] = []
    drv = driver_for(dev, timeout=timeout_s)
    try:
        if isinstance(drv, OpenWrtDriver):
            items = await drv.preflight()
        else:
            await drv.open()
            items.append(PreflightItem("login", True, f"logged in as {dev.management.username!r}"))
            st = await drv.status()
            items.append(
                PreflightItem(
                    "status", True, f"{len(st.interfaces)} ports, {len(st.optics)} optics"
                )
            )
            for obj in st.unsupported:
                why = st.unavailable.get(obj, "not offered")
                items.append(PreflightItem(obj, False, why, None))
    except EventOpsError as exc:
        items.append(
            PreflightItem(
                "reachable",
                False,
                exc.one_line(),
                f"check {dev.management.url} (power, cabling, management VLAN, firewall)",
            )
        )
    finally:
        await drv.close()
    return {
        "id": dev.id,
        "driver": dev.driver,
        "url": dev.management.url,
        "ready": all(i.ok for i in items),
        "items": [dataclasses.asdict(i) for i in items],
    }


async def preflight_all(profile: Profile) -> list[dict[str, Any]]:
    sem = asyncio.Semaphore(profile.polling.concurrency)

    async def one(dev: Mast | Switch) -> dict[str, Any]:
        async with sem:
            return await preflight_one(dev, profile.polling.timeout_s)

    return list(await asyncio.gather(*(one(d) for d in profile.devices)))


def print_preflight(rows: list[dict[str, Any]]) -> None:
    for r in rows:
        print(f"{r['id']} ({r['driver']}, {r['url']}): {'ready' if r['ready'] else 'GAPS'}")
        for i in r["items"]:
            print(f"  {'ok ' if i['ok'] else 'GAP'} {i['name']:<24} {i['detail']}")
            if not i["ok"] and i["fix"]:
                print(f"      fix: {i['fix']}")
    gaps = sum(1 for r in rows for i in r["items"] if not i["ok"])
    bad = sum(1 for r in rows if not r["ready"])
    if gaps:
        print(f"{gaps} gaps on {bad} of {len(rows)} devices")
    else:
        print(f"all {len(rows)} devices ready")


async def devices_cmd(args: argparse.Namespace) -> int:
    profile = load_profile(args.profile)
    if getattr(args, "preflight", False):
        pre = await preflight_all(profile)
        if args.json:
            print(json.dumps({"event": profile.event.id, "preflight": pre}, indent=2))
        else:
            print_preflight(pre)
        return 0 if all(r["ready"] for r in pre) else 1
    rows = await collect(profile)
    down = sum(1 for r in rows if not r["reachable"])
    code = UNREACHABLE_EXIT if down else 0
    if args.json:
        print(json.dumps({"event": profile.event.id, "devices": rows}, indent=2))
        return code
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
    print(f"{len(rows) - down} of {len(rows)} devices reachable")
    return code
