"""``eventops applies PROFILE``: the recorded applies and rollbacks, newest first.

One line each: the apply id (what ``rollback --to`` takes), when it started
in the event's time zone, who ran it, the kind, its devices and its result.
``--json`` prints the records as the engine's API lists them (times in UTC).
With ``--server URL`` (or ``$EVENTOPS_SERVER``) the list comes from that
running engine; otherwise from the event store (``--db``), read-only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from eventops.cli.provision_remote import add_remote_args, remote_of
from eventops.errors import ApiError, InvalidRequest, StoreError
from eventops.profile import load_profile
from eventops.profile.models import Profile
from eventops.timefmt import stamp

MAX_LIMIT = 10_000
SHOWN_DEVICES = 4


def register(sub: Any) -> None:
    p = sub.add_parser("applies", help="list the recorded applies and rollbacks (newest first)")
    p.add_argument("profile", help="the event profile (TOML)")
    p.add_argument("--db", help="store file (default: the event's store)")
    p.add_argument("--json", action="store_true", help="one JSON document for scripts")
    p.add_argument(
        "--limit", type=int, default=50, help=f"at most this many (1..{MAX_LIMIT}, default 50)"
    )
    add_remote_args(p)
    p.set_defaults(func=applies_cmd)


async def _from_store(args: argparse.Namespace, profile: Profile) -> list[dict[str, Any]]:
    from eventops.engine.provisioning import apply_record_json
    from eventops.store import PostgresStore, SQLiteStore, default_store_path

    store: SQLiteStore | PostgresStore
    if profile.store.url is not None and not args.db:  # the profile's PostgreSQL database
        ref = profile.store.password
        store = PostgresStore(
            profile.store.url,
            event_id=profile.event.id,
            password=ref.reveal() if ref is not None else None,
        )
    else:
        path = Path(args.db) if args.db else default_store_path(profile.event.id)
        if not path.exists():
            raise StoreError(f"{path}: no event store here yet (nothing applied)")
        store = SQLiteStore(path)
    async with store:
        return [apply_record_json(r) for r in await store.list_applies(limit=args.limit)]


async def _from_engine(args: argparse.Namespace) -> list[dict[str, Any]]:
    from eventops.cli.provision_remote import _client, _refused

    remote = remote_of(args)
    assert remote is not None
    async with _client(remote) as api:
        try:
            rows = await api.provision_applies(limit=args.limit)
        except ApiError as exc:
            raise _refused(remote, exc) from None
    return [r.model_dump(mode="json") for r in rows]


def _when(iso: str, tz: ZoneInfo) -> str:
    return stamp(iso, tz)  # the event's zone, shown


def _devices(devs: list[str]) -> str:
    if len(devs) <= SHOWN_DEVICES:
        return ", ".join(devs) or "—"
    return ", ".join(devs[:SHOWN_DEVICES]) + f", … (+{len(devs) - SHOWN_DEVICES})"


def _result(r: dict[str, Any]) -> str:
    counts = r.get("counts") or {}
    done = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(counts.items()) if n)
    state = r.get("state") or ("finished" if r.get("finished_at") else "not finished")
    return f"{state}: {done}" if done else state


def line(r: dict[str, Any], tz: ZoneInfo) -> str:
    kind = str(r.get("kind") or "apply")
    if r.get("rollback_of"):
        kind += f" to #{r['rollback_of']}"
    return (
        f"#{r['id']:<5} {_when(r['started_at'], tz)}  {r.get('actor') or '?'!s:<12} "
        f"{kind:<14} {_devices(list(r.get('devices') or []))}  {_result(r)}"
    )


async def applies_cmd(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        raise InvalidRequest(f"--limit must be 1..{MAX_LIMIT}")
    profile = load_profile(args.profile)
    if remote_of(args) is not None:
        rows = await _from_engine(args)
    else:
        rows = await _from_store(args, profile)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    tz = profile.event.tz
    if not rows:
        print("no applies recorded")
    for r in rows:
        print(line(r, tz))
    return 0
