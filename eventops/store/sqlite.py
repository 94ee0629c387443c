"""SQLite store: WAL, forward migrations at open, one writer task.

Writes are queued to a single writer task that owns the write connection.
It takes whatever is queued (group commit), runs each job inside its own
SAVEPOINT so one failing job does not spoil the others, commits, and only
then resolves each caller's future: an acknowledged write has committed.
Groups containing audit rows commit with ``synchronous=FULL``; other commits
use ``NORMAL``, which in WAL mode survives a process crash (not power loss).
Reads use a separate connection and see committed data only.
"""

from __future__ import annotations

from eventops.store.sqlite_audit import SQLiteAuditMixin, _append_audit
from eventops.store.sqlite_core import (
    MAX_GROUP,
    Job,
    SQLiteCore,
    _canon,
    _dt,
    _ms,
    _Pending,
    _split_sql,
    _ts,
)
from eventops.store.sqlite_monitor import SQLiteMonitorMixin
from eventops.store.sqlite_ops import SQLiteOpsMixin
from eventops.store.sqlite_provision import SQLiteProvisionMixin
from eventops.store.sqlite_wall import (
    SQLiteWallMixin,
    _block_row,
    _decision_row,
    _delete_posts,
    _dicts,
    _insert_decision,
    _post_row,
    _put_author_block,
    _set_cursor,
    _SQLiteWallTx,
)

__all__ = [
    "MAX_GROUP",
    "Job",
    "SQLiteCore",
    "SQLiteStore",
    "_Pending",
    "_SQLiteWallTx",
    "_append_audit",
    "_block_row",
    "_canon",
    "_decision_row",
    "_delete_posts",
    "_dicts",
    "_dt",
    "_insert_decision",
    "_ms",
    "_post_row",
    "_put_author_block",
    "_set_cursor",
    "_split_sql",
    "_ts",
]


class SQLiteStore(
    SQLiteMonitorMixin,
    SQLiteOpsMixin,
    SQLiteWallMixin,
    SQLiteProvisionMixin,
    SQLiteAuditMixin,
):
    """The SQLite :class:`~eventops.store.base.Store`: one domain mixin per concern."""
