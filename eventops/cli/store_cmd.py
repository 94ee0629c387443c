"""``eventops store migrate|copy``: bring a store to the current schema; move an event's
SQLite store into a PostgreSQL database.

``store migrate PROFILE`` opens the profile's store — the SQLite file (``--db``, else
the event's) or the ``[store] url`` database — which applies the pending forward
migrations, and prints the schema version.

``store copy --from sqlite:PATH --to postgresql://USER@HOST/DB`` copies every row of the
event, the audit log included (it verifies in the target afterwards), in one
transaction; progress goes to stderr. The password is a secret reference
(``--password env:NAME`` or ``file:PATH``); without it the driver's own defaults
($PGPASSWORD, ~/.pgpass) apply. A target already holding rows of the event is refused
unless ``--append``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from eventops.errors import ProfileError, StoreError
from eventops.profile import load_profile
from eventops.secrets import SecretRef
from eventops.store.copy import BATCH


def register(sub: Any) -> None:
    p = sub.add_parser("store", help="migrate the event store; copy it to PostgreSQL")
    ss = p.add_subparsers(dest="store_command", metavar="ACTION")
    ss.required = True
    m = ss.add_parser("migrate", help="apply pending schema migrations to the profile's store")
    m.add_argument("profile", help="the event profile (TOML)")
    m.add_argument("--db", help="SQLite store file (default: the event's, or [store] url)")
    m.set_defaults(func=migrate_cmd)
    c = ss.add_parser("copy", help="copy an event's SQLite store into a PostgreSQL database")
    c.add_argument("--from", dest="source", required=True, metavar="sqlite:PATH")
    c.add_argument("--to", dest="target", required=True, metavar="postgresql://USER@HOST/DB")
    c.add_argument("--password", metavar="REF", help="env:NAME or file:PATH (never the password)")
    c.add_argument("--event", help="the event id (default: the one event in the source)")
    c.add_argument(
        "--append",
        action="store_true",
        help="the target already holds the event: add only the rows it lacks",
    )
    c.set_defaults(func=copy_cmd)


async def migrate_cmd(args: argparse.Namespace) -> int:
    from eventops.store import PostgresStore, SQLiteStore, default_store_path

    profile = load_profile(args.profile)
    store: SQLiteStore | PostgresStore
    if profile.store.url is not None and args.db is None:
        ref = profile.store.password
        store = PostgresStore(
            profile.store.url,
            event_id=profile.event.id,
            password=ref.reveal() if ref is not None else None,
        )
        where = store.where
    else:
        path = Path(args.db) if args.db else default_store_path(profile.event.id)
        store = SQLiteStore(path)
        where = str(path)
    async with store:
        version = await store.schema_version()
    print(f"store {where}: schema version {version}")
    return 0


class _Progress:
    """Progress lines on stderr for tables longer than one batch, at most one a second each."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def __call__(self, table: str, done: int, total: int) -> None:
        now = time.monotonic()
        if total > BATCH and (done == total or now - self.last.get(table, 0.0) >= 1.0):
            self.last[table] = now
            pct = 100 * done // total
            print(
                f"eventops: copying {table}: {done}/{total} ({pct}%)", file=sys.stderr, flush=True
            )


async def copy_cmd(args: argparse.Namespace) -> int:
    from eventops.store.copy import copy_sqlite_to_postgres
    from eventops.store.postgres import check_url, redact_url

    if not args.source.startswith("sqlite:") or not args.source[7:]:
        raise StoreError(f"--from {args.source!r}: give the source as sqlite:PATH")
    check_url(args.target)
    password = None
    if args.password is not None:
        try:
            password = SecretRef(args.password).reveal()
        except ValueError as exc:
            raise ProfileError(f"--password: {exc}") from None
    report = await copy_sqlite_to_postgres(
        Path(args.source[7:]),
        args.target,
        password=password,
        event=args.event,
        append=args.append,
        progress=_Progress(),
    )
    rows = ", ".join(f"{n} {t}" for t, n in report.rows.items() if n)
    print(
        f"copied event {report.event} to {redact_url(args.target)}: {rows or 'no rows'}; "
        f"audit log verified ({report.audit_entries} entries)"
    )
    return 0
