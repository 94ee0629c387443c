"""The event store: one async interface, SQLite (WAL) by default."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from eventops.store.audit import AuditKey, audit_key, write_checkpoint
from eventops.store.base import Store
from eventops.store.sqlite import SQLiteStore

if TYPE_CHECKING:
    from eventops.profile.models import Profile

__all__ = [
    "AuditKey",
    "SQLiteStore",
    "Store",
    "audit_key",
    "default_store_path",
    "open_store",
    "write_checkpoint",
]


def default_store_path(event_id: str) -> Path:
    """Where an event's store lives: $EVENTOPS_DATA_DIR, else ~/.local/share/eventops."""
    base = os.environ.get("EVENTOPS_DATA_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "eventops"
    )
    return Path(base) / f"{event_id}.sqlite3"


def open_store(path: str | Path, profile: Profile | None = None) -> SQLiteStore:
    """A store for ``path`` (use as ``async with open_store(p, profile) as store``).

    With ``profile``, audit entries are keyed with its ``[audit] key``
    (:class:`~eventops.errors.SecretError` if the reference cannot be read).
    """
    return SQLiteStore(path, audit_key=audit_key(profile) if profile is not None else None)
