"""``eventops audit verify|show PROFILE``: check or read the hash-chained audit log."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from eventops.errors import StoreError
from eventops.profile import load_profile
from eventops.store import SQLiteStore, default_store_path


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="the event's tamper-evident audit log")
    psub = p.add_subparsers(dest="audit_command", metavar="ACTION")
    psub.required = True
    for name, func, text in (
        ("verify", verify_cmd, "check the audit log's hash chain"),
        ("show", show_cmd, "print audit entries"),
    ):
        a = psub.add_parser(name, help=text)
        a.add_argument("profile", help="the event profile (TOML)")
        a.add_argument("--db", help="store file (default: the event's store)")
        if name == "show":
            a.add_argument("--json", action="store_true", help="one JSON object per line")
            a.add_argument("--since", type=int, default=0, help="entries after this id")
        a.set_defaults(func=func)


def store_path(args: argparse.Namespace) -> Path:
    if args.db:
        return Path(args.db)
    profile = load_profile(args.profile)
    return default_store_path(profile.event.id)


async def verify_cmd(args: argparse.Namespace) -> int:
    path = store_path(args)
    if not path.exists():
        raise StoreError(f"{path}: no event store here yet")
    async with SQLiteStore(path) as store:
        count = await store.verify_audit()
    print(f"ok {path}: audit chain of {count} entries verifies")
    return 0


async def show_cmd(args: argparse.Namespace) -> int:
    path = store_path(args)
    if not path.exists():
        raise StoreError(f"{path}: no event store here yet")
    async with SQLiteStore(path) as store:
        entries = await store.audit_entries(since_id=args.since, limit=1_000_000)
    for e in entries:
        if args.json:
            print(json.dumps(e.model_dump(mode="json"), ensure_ascii=False))
        else:
            print(f"{e.id:6d} {e.ts:%Y-%m-%d %H:%M:%S}Z {e.actor:<16} {e.action:<20} {e.target}")
    return 0
