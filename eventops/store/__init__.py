"""The event store: one async interface, SQLite (WAL) by default, PostgreSQL when the
profile's ``[store] url`` names a database."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from eventops.store.audit import AuditKey, audit_key, write_checkpoint
from eventops.store.base import Store
from eventops.store.postgres import PostgresStore
from eventops.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from eventops.profile.models import Profile

__all__ = [
    "AuditKey",
    "PostgresStore",
    "SQLiteStore",
    "Store",
    "audit_key",
    "default_store_path",
    "describe_store",
    "open_store",
    "write_checkpoint",
]


def default_store_path(event_id: str) -> Path:
    """Where an event's store lives: $EVENTOPS_DATA_DIR, else ~/.local/share/eventops."""
    base = os.environ.get("EVENTOPS_DATA_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "eventops"
    )
    return Path(base) / f"{event_id}.sqlite3"


def open_store(path: str | Path, profile: Profile | None = None) -> Store:
    """The event's store (use as ``async with open_store(p, profile) as store``).

    With a profile whose ``[store] url`` is set: its PostgreSQL database, scoped to the
    profile's event, with ``[store] password`` read from its secret reference (``path``
    then only places the local lock and media folders). Otherwise the SQLite file
    ``path``. With ``profile``, audit entries are keyed with its ``[audit] key``
    (:class:`~eventops.errors.SecretError` if a reference cannot be read).
    """
    key = audit_key(profile) if profile is not None else None
    if profile is not None and profile.store.url is not None:
        ref = profile.store.password
        return PostgresStore(
            profile.store.url,
            event_id=profile.event.id,
            password=ref.reveal() if ref is not None else None,
            audit_key=key,
        )
    return SQLiteStore(path, audit_key=key)


def describe_store(store: Store) -> str:
    """Where a store lives, for people: the SQLite file, or the database URL without password."""
    if isinstance(store, PostgresStore):
        return store.where
    if isinstance(store, SQLiteStore):
        return str(store.path)
    return type(store).__name__
