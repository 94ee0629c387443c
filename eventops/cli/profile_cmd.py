"""``eventops profile check FILE`` and ``eventops profile schema``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from eventops.errors import ProfileError
from eventops.profile import Profile
from eventops.profile.loader import check_profile


def register(sub: Any) -> None:
    p = sub.add_parser("profile", help="check an event profile or print its schema")
    psub = p.add_subparsers(dest="profile_command", metavar="ACTION")
    psub.required = True
    check = psub.add_parser("check", help="validate a profile; one line per problem")
    check.add_argument("file", help="the event profile (TOML)")
    check.add_argument(
        "--strict", action="store_true", help="warnings (unset env: secrets …) fail the check too"
    )
    check.set_defaults(func=check_cmd)
    schema = psub.add_parser("schema", help="print the profile's JSON Schema")
    schema.set_defaults(func=schema_cmd)


def summary(profile: Profile) -> str:
    ssids = {s.name for m in profile.masts for s in (m.ssids or [])}
    for level in (profile.defaults.mast, *(s.mast for s in profile.sites)):
        ssids.update(s.name for s in level.ssids or [])
    return (
        f"{profile.event.id}: {len(profile.masts)} masts, {len(profile.switches)} switches, "
        f"{len(profile.links)} links, {len(ssids)} SSIDs, {len(profile.users)} users"
    )


SHOWN = 8


def logins(profile: Profile) -> list[str]:
    """One line per login user the devices are reached with (``management.username``),
    saying which devices leave it at the driver's default."""
    groups: dict[tuple[str, bool], list[str]] = {}
    for dev in profile.devices:
        m = dev.management
        groups.setdefault((m.username, "username" not in m.model_fields_set), []).append(dev.id)
    out = []
    for (user, default), ids in groups.items():
        shown = ", ".join(ids[:SHOWN]) + (f", … (+{len(ids) - SHOWN})" if len(ids) > SHOWN else "")
        how = " (the default; set management.username to change it)" if default else ""
        out.append(f"  login {user!r}{how}: {shown}")
    return out


def check_cmd(args: argparse.Namespace) -> int:
    """Structure, rules and secrets; warnings on stderr (errors with ``--strict``)."""
    profile, warnings = check_profile(args.file)
    if warnings and args.strict:
        raise ProfileError(warnings)
    for w in warnings:
        print(f"eventops: warning: {w}", file=sys.stderr)
    print(f"ok {args.file}: {summary(profile)}")
    for line in logins(profile):
        print(line)
    return 0


def schema_cmd(args: argparse.Namespace) -> int:
    print(json.dumps(Profile.model_json_schema(), indent=2))
    return 0
