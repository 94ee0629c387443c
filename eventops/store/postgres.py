"""PostgreSQL store: many events in one database, the same contract as the SQLite store.

See :mod:`eventops.store.postgres_core` (connections, the event's write lock,
group commit) and :mod:`eventops.store.postgres_schema` (tables, the audit
log's guards). Chosen in the profile with ``[store] url = "postgresql://..."``
and ``password = "env:NAME"`` (or ``file:PATH``).
"""

from __future__ import annotations

from eventops.store.postgres_audit import PostgresAuditMixin
from eventops.store.postgres_core import check_url, redact_url
from eventops.store.postgres_monitor import PostgresMonitorMixin
from eventops.store.postgres_ops import PostgresOpsMixin
from eventops.store.postgres_wall import PostgresWallMixin

__all__ = ["PostgresStore", "check_url", "redact_url"]


class PostgresStore(
    PostgresMonitorMixin,
    PostgresOpsMixin,
    PostgresWallMixin,
    PostgresAuditMixin,
):
    """The PostgreSQL :class:`~eventops.store.base.Store` of one event; one mixin per concern."""
