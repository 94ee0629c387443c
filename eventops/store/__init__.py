"""The event store: one async interface, SQLite (WAL) by default."""

from __future__ import annotations

import os
from pathlib import Path

from eventops.store.base import Store
from eventops.store.sqlite import SQLiteStore

__all__ = ["SQLiteStore", "Store", "default_store_path", "open_store"]


def default_store_path(event_id: str) -> Path:
    """Where an event's store lives: $EVENTOPS_DATA_DIR, else ~/.local/share/eventops."""
    base = os.environ.get("EVENTOPS_DATA_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "eventops"
    )
    return Path(base) / f"{event_id}.sqlite3"


def open_store(path: str | Path) -> SQLiteStore:
    """A store for ``path`` (use as ``async with open_store(p) as store``)."""
    return SQLiteStore(path)
