"""``eventops audit verify|show|checkpoint PROFILE``: check, read or vouch for the audit log.

``verify`` opens the store read-only (it never writes, not even a schema
into an empty file) and checks the plain hash chain, the keyed chain (with
the profile's ``[audit] key``) and, with ``--checkpoint``, that nothing was cut
off or rewritten below a signed checkpoint taken from a file, an export or a
handover report. Exit codes: 0 ok, 2 profile or key unusable, 4 no store or
not SQLite, 5 tampered, 10 empty file or no event-store schema, 11 audit
table missing, 12 checkpoint unusable. With ``[store] url`` in the profile (and no
``--db``) the event's log in that PostgreSQL database is read, over a read-only
connection, with the same checks and exit codes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

from eventops import timefmt
from eventops.errors import StoreError
from eventops.profile import Profile, load_profile
from eventops.profile.text import clean_text
from eventops.store import default_store_path
from eventops.store.audit import (
    AuditKey,
    Checkpoint,
    VerifyResult,
    audit_key,
    read_checkpoint,
    read_entries,
    sign_checkpoint,
    verify_store,
)
from eventops.store.models import AuditEntry


def register(sub: Any) -> None:
    p = sub.add_parser("audit", help="the event's tamper-evident audit log")
    psub = p.add_subparsers(dest="audit_command", metavar="ACTION")
    psub.required = True
    for name, func, text in (
        ("verify", verify_cmd, "check the audit log (read-only): chain, MACs, checkpoint"),
        ("show", show_cmd, "print audit entries"),
        ("checkpoint", checkpoint_cmd, "sign the log's current head (JSON) to keep elsewhere"),
    ):
        a = psub.add_parser(name, help=text)
        a.add_argument("profile", help="the event profile (TOML)")
        a.add_argument("--db", help="store file (default: the event's store)")
        if name == "show":
            a.add_argument("--json", action="store_true", help="one JSON object per line")
            a.add_argument("--since", type=int, default=0, help="entries after this id")
        if name == "verify":
            a.add_argument(
                "--checkpoint",
                metavar="FILE|REPORT|EXPORT",
                help="a checkpoint JSON, a handover report or an export to check the log against",
            )
        if name == "checkpoint":
            a.add_argument("--out", help="write the checkpoint here (default: stdout)")
        a.set_defaults(func=func)


def _store_path(args: argparse.Namespace, profile: Profile) -> Path:
    return Path(args.db) if args.db else default_store_path(profile.event.id)


def store_path(args: argparse.Namespace) -> Path:
    if args.db:
        return Path(args.db)
    return default_store_path(load_profile(args.profile).event.id)


def _postgres(args: argparse.Namespace, profile: Profile) -> tuple[str, str | None] | None:
    """The profile's PostgreSQL URL and password, unless ``--db`` names an SQLite file."""
    if args.db or profile.store.url is None:
        return None
    ref = profile.store.password
    return profile.store.url, ref.reveal() if ref is not None else None


def _verify(
    args: argparse.Namespace,
    profile: Profile,
    key: AuditKey | None,
    checkpoint: Checkpoint | None,
) -> tuple[str, VerifyResult]:
    pg = _postgres(args, profile)
    if pg is None:
        path = _store_path(args, profile)
        return str(path), verify_store(
            path, key, checkpoint, event=profile.event.id, tz=profile.event.tz
        )
    from eventops.store.postgres_core import redact_url
    from eventops.store.postgres_verify import verify_postgres

    result = asyncio.run(verify_postgres(*pg, profile.event.id, key, checkpoint, profile.event.tz))
    return f"{redact_url(pg[0])} (event {profile.event.id})", result


def verify_cmd(args: argparse.Namespace) -> int:
    profile = load_profile(args.profile)
    key = audit_key(profile)
    checkpoint = read_checkpoint(Path(args.checkpoint)) if args.checkpoint else None
    path, result = _verify(args, profile, key, checkpoint)
    line = f"ok {path}: audit chain of {result.entries} entries verifies"
    if key is not None:
        line += f", every entry keyed ({key.key_id})"
    elif result.keyed:
        line += f" ({result.keyed} keyed entries not checked: the profile names no [audit] key)"
    if checkpoint is not None:
        line += (
            f"; holds the {checkpoint.seq} entries of the checkpoint of "
            f"{timefmt.stamp(checkpoint.ts, profile.event.tz)}"
        )
    print(line)
    return 0


def checkpoint_cmd(args: argparse.Namespace) -> int:
    profile = load_profile(args.profile)
    key = audit_key(profile)
    if key is None:
        raise StoreError(f"{args.profile}: no [audit] key in the profile; nothing to sign with")
    _, result = _verify(args, profile, key, None)
    cp = sign_checkpoint(key, profile.event.id, result.head_seq, result.head)
    text = json.dumps(cp, indent=1, sort_keys=True) + "\n"
    if not args.out:
        print(text, end="")
        return 0
    out = Path(args.out)
    try:
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        raise StoreError(f"{out}: cannot write checkpoint ({exc.strerror})") from None
    print(f"checkpoint of entry {cp['seq']} written to {out}")
    return 0


def show_cmd(args: argparse.Namespace) -> int:
    """Print entries, reading the store read-only (like verify)."""
    profile = load_profile(args.profile)
    tz = profile.event.tz
    pg = _postgres(args, profile)
    entries: list[AuditEntry]
    if pg is None:
        entries = read_entries(store_path(args), since_id=args.since)
    else:
        from eventops.store.postgres_verify import read_postgres_entries

        entries = asyncio.run(read_postgres_entries(*pg, profile.event.id, args.since))
    for e in entries:
        if args.json:
            print(json.dumps(e.model_dump(mode="json"), ensure_ascii=False))
        else:
            # targets can come from hostile input (a post's author): no escapes to the terminal
            actor, action, target = (clean_text(x) for x in (e.actor, e.action, e.target))
            print(f"{e.id:6d} {timefmt.stamp(e.ts, tz)} {actor:<16} {action:<20} {target}")
    return 0
