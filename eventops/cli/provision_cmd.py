"""``eventops plan|apply|drift|rollback PROFILE``: provisioning from the profile.

- ``plan PROFILE [--device ID ...] [--json] [--summary]``: reads every device and
  prints what an apply would change (secrets only as "changed"); changes nothing.
  ``--summary``: one line per device (its number of changes) and the totals.
- ``apply PROFILE [--yes]``: shows the plan, asks, applies with the
  devices' rollback timers and confirms each device only once it answers
  with the new config. Without a terminal it refuses at once unless ``--yes``.
- ``drift PROFILE``: devices whose running config no longer matches the
  checksum of the last apply.
- ``rollback PROFILE --to APPLY_ID``: re-applies what that apply recorded.

An invalid profile stops before any device is contacted.

With ``--server URL`` (or ``$EVENTOPS_SERVER``) plan, apply and rollback go
through that running engine's API (token ``--token env:NAME``, default
``$EVENTOPS_TOKEN``) and its site locks: see
:mod:`eventops.cli.provision_remote`. Otherwise they run in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from eventops.cli.provision_remote import (
    add_remote_args,
    plan_from_json,
    print_dangers,
    remote_of,
    remote_plan,
    remote_run,
)
from eventops.errors import ProvisioningError
from eventops.profile import load_profile
from eventops.profile.models import Profile
from eventops.provision.apply import (
    ApplyOptions,
    ApplyReport,
    DevicePlan,
    PlanReport,
    Provisioner,
)
from eventops.provision.lock import lock_dir_for
from eventops.provision.progress import TerminalProgress
from eventops.store import default_store_path, open_store

NEEDS_YES = "no terminal to confirm on: pass --yes to apply without asking"


def register(sub: Any) -> None:
    p = sub.add_parser("plan", help="show what an apply would change on each device")
    _common(p)
    p.add_argument("--json", action="store_true", help="one JSON document for scripts")
    p.add_argument(
        "--summary",
        action="store_true",
        help="one line per device (its number of changes, or no change) and the totals",
    )
    add_remote_args(p)
    p.set_defaults(func=plan_cmd)

    a = sub.add_parser("apply", help="apply the profile to the devices (confirm or roll back)")
    _common(a)
    _applying(a)
    a.set_defaults(func=apply_cmd)

    d = sub.add_parser("drift", help="devices whose config changed since the last apply")
    _common(d)
    d.add_argument("--json", action="store_true", help="one JSON document for scripts")
    d.set_defaults(func=drift_cmd)

    r = sub.add_parser("rollback", help="re-apply the state a recorded apply left")
    r.add_argument("profile", help="the event profile (TOML)")
    r.add_argument("--db", help="store file (default: the event's store)")
    r.add_argument(
        "--to", type=int, required=True, metavar="APPLY_ID", help="the apply to return to"
    )
    _applying(r)
    r.set_defaults(func=rollback_cmd, device=None)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("profile", help="the event profile (TOML)")
    p.add_argument("--device", action="append", metavar="ID", help="only this device (repeatable)")
    p.add_argument("--db", help="store file (default: the event's store)")


def _applying(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--confirm-timeout",
        type=float,
        default=None,
        metavar="S",
        help="the devices' rollback timer in seconds (default 60; through an engine: its own)",
    )
    p.add_argument("--concurrency", type=int, default=32, help="devices changed at once")
    p.add_argument("--actor", help="who applies (default: the login name)")
    p.add_argument(
        "--confirm",
        metavar="EVENT_ID",
        help="through an engine: the typed confirmation for dangerous changes",
    )
    add_remote_args(p)


def _options(args: argparse.Namespace) -> ApplyOptions:
    timeout = _confirm_timeout(args)
    if args.concurrency < 1:
        raise ProvisioningError("--concurrency must be at least 1")
    return ApplyOptions(
        confirm_timeout_s=timeout or 60.0,
        concurrency=args.concurrency,
        poll_s=min(1.0, (timeout or 60.0) / 10),
    )


def _confirm_timeout(args: argparse.Namespace) -> float | None:
    """--confirm-timeout, checked (None: not given)."""
    t: float | None = args.confirm_timeout
    if t is not None and not 1 <= t <= 3600:  # NaN fails both
        raise ProvisioningError("--confirm-timeout must be between 1 and 3600 seconds")
    return t


def _store_path(args: argparse.Namespace, profile: Profile) -> Path:
    return Path(args.db) if args.db else default_store_path(profile.event.id)


def _base(args: argparse.Namespace) -> Path:
    """The profile's folder: relative ``file:`` secrets in stored records resolve there."""
    return Path(args.profile).resolve().parent


def _actor(args: argparse.Namespace) -> str:
    if getattr(args, "actor", None):
        return str(args.actor)
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _print_plan(d: DevicePlan) -> None:
    if d.state == "unchanged":
        print(f"  {d.device}: unchanged")
        return
    if d.state in ("unreachable", "error"):
        print(f"! {d.device}: {d.state.upper()}: {d.reason}")
        return
    print(f"~ {d.device}: {len(d.changes)} change{'s' if len(d.changes) != 1 else ''}")
    for line in d.render().splitlines():
        print(f"    {line}")
    for note in d.notes:
        print(f"    note: {note}")


def _print_plan_summary(d: DevicePlan) -> None:
    if d.state == "unchanged":
        print(f"  {d.device}: no change")
    elif d.state in ("unreachable", "error"):
        print(f"! {d.device}: {d.state.upper()}: {d.reason}")
    else:
        print(f"~ {d.device}: {len(d.changes)} change{'s' if len(d.changes) != 1 else ''}")


def _print_plan_devices(plan: PlanReport, args: argparse.Namespace) -> str:
    """Print the devices (and notes); return the totals line."""
    for d in plan.devices:
        (_print_plan_summary if args.summary else _print_plan)(d)
    if not args.summary:
        for note in plan.notes:
            print(f"note: {note}")
    total = sum(len(d.changes) for d in plan.devices if d.state == "change")
    tail = f"; {total} change{'s' if total != 1 else ''} in all" if args.summary else ""
    return f"plan: {plan.summary()}{tail}"


def _plan_json(plan: PlanReport) -> dict[str, Any]:
    return {
        "summary": {
            "change": plan.count("change"),
            "unchanged": plan.count("unchanged"),
            "unreachable": plan.count("unreachable"),
            "error": plan.count("error"),
        },
        "order": plan.waves,
        "notes": plan.notes,
        "devices": [d.model_dump(mode="json") for d in plan.devices],
    }


async def plan_cmd(args: argparse.Namespace) -> int:
    remote = remote_of(args)
    if remote is not None:
        data = await remote_plan(remote, args.device)
        plan = plan_from_json(data)
        if args.json:
            print(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            totals = _print_plan_devices(plan, args)
            print_dangers(data)
            print(f"{totals} (engine at {remote.url})")
        return 3 if plan.count("unreachable") or plan.count("error") else 0
    profile = load_profile(args.profile)
    prov = Provisioner(profile, None, secrets_base=_base(args))
    plan = await prov.plan(args.device)
    if args.json:
        print(json.dumps(_plan_json(plan), indent=2, ensure_ascii=False))
    else:
        print(_print_plan_devices(plan, args))
    return 3 if plan.count("unreachable") or plan.count("error") else 0


def _print_report(report: ApplyReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return
    for d in report.devices:
        line = f"{d.device:<16} {d.result.replace('_', ' '):<12} ({d.state} config)"
        if d.changes and d.result == "applied":
            line += f" {len(d.changes)} change{'s' if len(d.changes) != 1 else ''}"
        if d.reason:
            line += f": {d.reason}"
        print(line)
        for note in d.notes:
            print(f"    note: {note}")
    for note in report.notes:
        print(f"note: {note}")
    what = "rollback" if report.kind == "rollback" else "apply"
    print(f"{what} #{report.apply_id}: {report.summary()}")


async def _confirm(args: argparse.Namespace, prov: Provisioner, devices: list[str] | None) -> bool:
    """Show the plan and ask; True to go on."""
    if args.yes:
        return True
    plan = await prov.plan(devices)
    for d in plan.devices:
        _print_plan(d)
    print(f"plan: {plan.summary()}")
    if not plan.count("change"):
        print("nothing to change")
        return False
    answer = await asyncio.to_thread(input, f"Apply to {plan.count('change')} devices? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


async def _run_apply(args: argparse.Namespace, rollback_to: int | None) -> int:
    remote = remote_of(args)
    if not args.yes and not sys.stdin.isatty():
        raise ProvisioningError(NEEDS_YES)
    if remote is not None:
        _confirm_timeout(args)
        if not args.yes and not await _confirm_remote(args, remote, rollback_to):
            return 0
        report = await remote_run(remote, args, rollback_to=rollback_to, interactive=not args.yes)
        _print_report(report, args.json)
        return 0 if report.ok else ProvisioningError.exit_code
    profile = load_profile(args.profile)
    options = _options(args)
    path = _store_path(args, profile)
    progress = TerminalProgress(sys.stderr)
    async with open_store(path, profile) as store:
        prov = Provisioner(
            profile,
            store,
            lock_dir=lock_dir_for(path),
            options=options,
            progress=progress,
            secrets_base=_base(args),
        )
        if rollback_to is None:
            if not await _confirm(args, prov, args.device):
                return 0
            report = await prov.apply(args.device, actor=_actor(args))
        else:
            if not args.yes:
                answer = await asyncio.to_thread(
                    input, f"Re-apply the state apply #{rollback_to} recorded? [y/N] "
                )
                if answer.strip().lower() not in ("y", "yes"):
                    return 0
            report = await prov.rollback_to(rollback_to, actor=_actor(args))
    _print_report(report, args.json)
    return 0 if report.ok else ProvisioningError.exit_code


async def _confirm_remote(args: argparse.Namespace, remote: Any, rollback_to: int | None) -> bool:
    """Show the engine's plan (or what a rollback does) and ask; True to go on."""
    if rollback_to is not None:
        question = f"Re-apply the state apply #{rollback_to} recorded (engine at {remote.url})?"
    else:
        data = await remote_plan(remote, args.device)
        plan = plan_from_json(data)
        for d in plan.devices:
            _print_plan(d)
        print_dangers(data)
        print(f"plan: {plan.summary()} (engine at {remote.url})")
        if not plan.count("change"):
            print("nothing to change")
            return False
        question = f"Apply to {plan.count('change')} devices?"
    answer = await asyncio.to_thread(input, f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")


async def apply_cmd(args: argparse.Namespace) -> int:
    return await _run_apply(args, None)


async def rollback_cmd(args: argparse.Namespace) -> int:
    return await _run_apply(args, args.to)


async def drift_cmd(args: argparse.Namespace) -> int:
    profile = load_profile(args.profile)
    path = _store_path(args, profile)
    async with open_store(path, profile) as store:
        prov = Provisioner(profile, store)
        rows = await prov.drift(args.device)
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2, ensure_ascii=False))
    else:
        for r in rows:
            where = f" (since apply #{r.apply_id})" if r.apply_id else ""
            print(f"{r.device:<16} {r.state}{where}" + (f": {r.reason}" if r.reason else ""))
            for c in r.changes:
                print(f"    {c.render()}")
    drifted = sum(1 for r in rows if r.state == "drifted")
    unread = sum(1 for r in rows if r.state in ("unreachable", "error"))
    if not args.json:
        print(f"drift: {drifted} drifted, {unread} not readable, {len(rows)} devices")
    return 1 if drifted else 3 if unread else 0
