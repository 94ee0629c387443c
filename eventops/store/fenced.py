"""A store whose leader-only writes are fenced by the event's lease.

:func:`fenced_store` wraps any :class:`~eventops.store.base.Store`: reads and
the idempotent set-up writes (the event's row, its devices) pass through;
every write that only the active engine may make (samples, alerts, silences,
probe results, applies and restores, handovers, the audit chain, the wall)
first checks the lease (:meth:`~eventops.store.lease.LeaderLease.check`, on
the server's clock). A deposed engine's late write is refused with
:class:`~eventops.store.lease.Fenced`, and ``on_fenced`` is told at once so
that the engine stops polling.

The check and the write are two statements. When the store is the lease's own
PostgreSQL database, its connections carry the engine's fence settings and a
trigger refuses, in the writing transaction itself, a write of a term that is
over (:func:`~eventops.store.lease.install_fence`): that refusal comes back
as :class:`~eventops.store.lease.Fenced` too, and the check before a write is then
the local clock's only (``fenced_in_database``: no extra round trip per write). On any other store a write checked an
instant before the lease expired may still land (a window of one database
round trip, not a poll interval).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, cast

from eventops.errors import StoreError
from eventops.store.base import Store
from eventops.store.lease import FENCE_MARK, Fenced, LeaderLease

log = logging.getLogger(__name__)

FENCED: frozenset[str] = frozenset(
    {
        "add_alert",
        "add_handover",
        "add_probe_result",
        "add_samples",
        "arm_restore",
        "audit",
        "clear_restore",
        "decide",
        "downsample_samples",
        "forget_author",
        "ops_transaction",
        "purge_posts",
        "purge_samples",
        "put_author_block",
        "record_apply",
        "remove_author_block",
        "set_cursor",
        "update_alert",
        "upsert_posts",
        "wall_transaction",
    }
)
"""The store's methods that only the lease holder may call."""

OnFenced = Callable[[Fenced], None]


class FencedStore:
    """See the module's docstring; use :func:`fenced_store` to get one typed as a Store."""

    def __init__(
        self,
        inner: Store,
        lease: LeaderLease,
        on_fenced: OnFenced | None = None,
        *,
        fenced_in_database: bool = False,
    ) -> None:
        self._inner = inner
        self._lease = lease
        self._on_fenced = on_fenced
        self.fenced_in_database = fenced_in_database
        """The store's own connections are fenced by the database's trigger: the check
        before a write is the local clock's only (no extra round trip per write)."""
        self.refused = 0
        """How many writes the fence refused."""

    @property
    def inner(self) -> Store:
        return self._inner

    async def _check(self, name: str) -> None:
        try:
            if self.fenced_in_database:
                self._lease.check_local()
            else:
                await self._lease.check()
        except Fenced as exc:
            self._refused(name, exc)
            raise

    def _refused(self, name: str, exc: Fenced) -> None:
        self.refused += 1
        log.warning("refused a late %s: %s", name, exc.one_line())
        if self._on_fenced is not None:
            self._on_fenced(exc)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name not in FENCED:
            return value
        method = cast(Callable[..., Awaitable[Any]], value)

        async def guarded(*args: Any, **kwargs: Any) -> Any:
            await self._check(name)
            try:
                return await method(*args, **kwargs)
            except StoreError as exc:
                if isinstance(exc, Fenced) or FENCE_MARK not in str(exc):
                    raise
                # checked an instant before the term ended: the database's fence refused it
                fenced = Fenced(f"the database refused a late {name}: {exc.one_line()}"[:400])
                self._refused(name, fenced)
                raise fenced from None

        guarded.__name__ = name
        return guarded


def fenced_store(
    inner: Store,
    lease: LeaderLease,
    on_fenced: OnFenced | None = None,
    *,
    fenced_in_database: bool = False,
) -> Store:
    """``inner`` with its leader-only writes checked against ``lease`` (see the module);
    ``fenced_in_database``: ``inner`` is the lease's PostgreSQL database, opened with the
    engine's fence settings (:func:`~eventops.store.lease.fenced_url`)."""
    return cast(Store, FencedStore(inner, lease, on_fenced, fenced_in_database=fenced_in_database))


def unwrap(store: Store) -> Store:
    """The store under a fence (or ``store`` itself)."""
    return store.inner if isinstance(store, FencedStore) else store
