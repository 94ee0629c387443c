"""The async store interface.

One interface for every backend: SQLite (WAL, :mod:`eventops.store.sqlite`)
for one site; PostgreSQL can implement the same for a city running many
events. Every write method returns only after its transaction committed, so
an acknowledged write survives a crash. Times are UTC.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar

from eventops.errors import StoreError
from eventops.store.models import (
    AlertRow,
    ApplyDeviceRow,
    ApplyRow,
    AuditEntry,
    AuthorBlockRow,
    DecisionRow,
    DeviceRow,
    HandoverRow,
    PendingRestoreRow,
    PostRow,
    ProbeResultRow,
    Sample,
    SilenceRow,
)

T = TypeVar("T")


class WallTx(ABC):
    """The wall's reads and writes inside one store transaction.

    Handed to the function given to :meth:`Store.wall_transaction`. Reads see
    the transaction's own writes and what every other writer committed before
    it began; no other writer (another task, another process on the same
    store) commits in between, so a check made here still holds when the
    writes commit. Everything written commits together — decisions, post
    states, blocks, cursors and audit entries — or nothing does.
    """

    @abstractmethod
    async def get_post(self, post_id: str) -> PostRow | None: ...

    @abstractmethod
    async def decisions(self, post_id: str) -> list[DecisionRow]:
        """Every decision on one post, oldest first."""

    @abstractmethod
    async def get_decision(self, decision_id: int) -> DecisionRow | None: ...

    @abstractmethod
    async def decisions_referencing(self, decision_id: int) -> list[DecisionRow]: ...

    @abstractmethod
    async def posts_by_author(self, author: str, states: Sequence[str] = ()) -> list[PostRow]: ...

    @abstractmethod
    async def decide(
        self, decision: DecisionRow, new_state: str | None, pinned: bool | None
    ) -> int:
        """Record a decision (with the post's state before it) and the post's new state."""

    @abstractmethod
    async def mark_deleted(self, post_id: str) -> None:
        """Flag a post as deleted at its source (hidden, unpinned, ``data.deleted``)."""

    @abstractmethod
    async def purge_posts(self, before: datetime) -> list[PostRow]:
        """Delete posts created before ``before`` with their decisions; return them."""

    @abstractmethod
    async def forget_author(self, author: str) -> list[PostRow]:
        """Delete every post, decision and block of ``author``; return the deleted posts."""

    @abstractmethod
    async def get_author_block(self, author: str) -> AuthorBlockRow | None: ...

    @abstractmethod
    async def put_author_block(self, block: AuthorBlockRow) -> None: ...

    @abstractmethod
    async def remove_author_block(self, author: str) -> bool: ...

    @abstractmethod
    async def decision_audit(self, decision_id: int, action: str) -> dict[str, Any] | None:
        """The ``after`` of the audit entry ``action`` written with decision ``decision_id``
        (the newest such entry), or None."""

    @abstractmethod
    async def get_cursor(self, name: str) -> str | None: ...

    @abstractmethod
    async def set_cursor(self, name: str, value: str) -> None: ...

    @abstractmethod
    async def audit(
        self, actor: str, action: str, target: str, before: Any = None, after: Any = None
    ) -> AuditEntry:
        """Append to the audit chain as part of this transaction."""


class OpsTx(ABC):
    """The operators' audited mutations (acks, silences, probe results, apply records) in one
    transaction.

    Handed to the function given to :meth:`Store.ops_transaction`, with the same
    guarantee as :class:`WallTx`: what is read here still holds when the writes
    commit (no other writer commits in between), and the row changes commit
    together with their audit entries, or nothing does. The allowed-transition
    check (an alert not acknowledged twice, a silence not removed twice, an
    apply not closed twice) belongs inside.
    """

    @abstractmethod
    async def get_alert(self, alert_id: int) -> AlertRow | None: ...

    @abstractmethod
    async def update_alert(self, alert_id: int, **changes: Any) -> None: ...

    @abstractmethod
    async def add_silence(self, silence: SilenceRow) -> int: ...

    @abstractmethod
    async def get_silence(self, silence_id: int) -> SilenceRow | None: ...

    @abstractmethod
    async def remove_silence(self, silence_id: int, by: str, at: datetime) -> None:
        """Mark the silence removed (its row stays, with who and when)."""

    @abstractmethod
    async def add_probe_result(self, result: ProbeResultRow) -> int:
        """As :meth:`Store.add_probe_result`, inside this transaction."""

    @abstractmethod
    async def get_apply(self, apply_id: int) -> tuple[ApplyRow, list[ApplyDeviceRow]] | None: ...

    @abstractmethod
    async def record_apply(self, apply: ApplyRow, devices: Sequence[ApplyDeviceRow]) -> int:
        """As :meth:`Store.record_apply`, inside this transaction."""

    @abstractmethod
    async def clear_restore(self, device: str, apply_id: int) -> bool:
        """As :meth:`Store.clear_restore`, inside this transaction."""

    @abstractmethod
    async def audit(
        self, actor: str, action: str, target: str, before: Any = None, after: Any = None
    ) -> AuditEntry:
        """Append to the audit chain as part of this transaction."""


MAX_SERIES = 10_000
"""At most this many series in one :meth:`Store.latest_samples`."""


def check_series(series: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """``series`` as a list, refused (StoreError) when longer than :data:`MAX_SERIES`."""
    if len(series) > MAX_SERIES:
        raise StoreError(f"latest_samples: {len(series)} series, at most {MAX_SERIES}")
    return [(str(d), str(m)) for d, m in series]


class Store(ABC):
    @abstractmethod
    async def open(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- event and devices --------------------------------------------------
    @abstractmethod
    async def put_event(
        self, event_id: str, name: str, start: datetime, end: datetime, timezone: str
    ) -> None: ...

    @abstractmethod
    async def put_devices(self, devices: Sequence[DeviceRow]) -> None: ...

    @abstractmethod
    async def list_devices(self) -> list[DeviceRow]: ...

    # -- monitoring ---------------------------------------------------------
    @abstractmethod
    async def add_samples(self, samples: Sequence[Sample]) -> None: ...

    @abstractmethod
    async def query_samples(
        self, device: str, metric: str, since: datetime, until: datetime
    ) -> list[Sample]: ...

    @abstractmethod
    async def latest_samples(self, series: Sequence[tuple[str, str]]) -> list[Sample]:
        """The newest sample of each ``(device, metric)`` in ``series`` that has one (what
        a standby shows of the active engine's last polls); one index seek per series, at
        most :data:`MAX_SERIES` of them (StoreError beyond)."""

    @abstractmethod
    async def add_alert(self, alert: AlertRow) -> int: ...

    @abstractmethod
    async def update_alert(self, alert_id: int, **changes: Any) -> None: ...

    @abstractmethod
    async def list_alerts(self, *, open_only: bool = False) -> list[AlertRow]: ...

    @abstractmethod
    async def downsample_samples(self, before: datetime, bucket_s: int) -> int:
        """Replace samples older than ``before`` by one mean per series and bucket.

        Idempotent: a bucket already reduced to one sample stays as it is.
        Returns the number of rows removed.
        """

    @abstractmethod
    async def purge_samples(self, before: datetime) -> int:
        """Delete samples older than ``before`` (the event's retention); returns the count."""

    @abstractmethod
    async def list_silences(self, *, active_at: datetime | None = None) -> list[SilenceRow]:
        """Silences not removed (and, with ``active_at``, not expired then), oldest first."""

    @abstractmethod
    async def ops_transaction(self, fn: Callable[[OpsTx], Awaitable[T]]) -> T:
        """Run ``fn`` in one durable transaction and return its result after commit.

        If ``fn`` raises, nothing it wrote is kept and the exception reaches the
        caller. Used for every audited operator mutation outside the wall: the
        check of what is allowed, the change and its audit entry are one write.
        """

    @abstractmethod
    async def add_handover(
        self, handover: HandoverRow, *, audit_action: str | None = None, audit_after: Any = None
    ) -> int:
        """Store a handover; with ``audit_action``, its audit entry (actor: the handover's,
        target: the link, after: ``audit_after`` plus the new row's id) in the same transaction."""

    @abstractmethod
    async def list_handovers(self, link: str | None = None) -> list[HandoverRow]: ...

    @abstractmethod
    async def add_probe_result(self, result: ProbeResultRow) -> int: ...

    @abstractmethod
    async def list_probe_results(self, target: str | None = None) -> list[ProbeResultRow]: ...

    # -- wall ---------------------------------------------------------------
    @abstractmethod
    async def upsert_posts(self, posts: Sequence[PostRow]) -> None: ...

    @abstractmethod
    async def get_post(self, post_id: str) -> PostRow | None: ...

    @abstractmethod
    async def list_posts(self, state: str | None = None, limit: int = 500) -> list[PostRow]: ...

    @abstractmethod
    async def decide(
        self, decision: DecisionRow, new_state: str | None, pinned: bool | None
    ) -> int:
        """Record a moderation decision and the post's new state in one transaction."""

    @abstractmethod
    async def wall_transaction(self, fn: Callable[[WallTx], Awaitable[T]]) -> T:
        """Run ``fn`` in one durable transaction and return its result after commit.

        If ``fn`` raises, nothing it wrote is kept and the exception reaches the
        caller. Used for every audited wall mutation: the check of what is
        allowed, the change and its audit entry are one write.
        """

    @abstractmethod
    async def list_decisions(self, post_id: str | None = None) -> list[DecisionRow]: ...

    @abstractmethod
    async def get_decision(self, decision_id: int) -> DecisionRow | None: ...

    @abstractmethod
    async def decisions_referencing(self, decision_id: int) -> list[DecisionRow]:
        """Decisions whose ``ref`` is ``decision_id`` (a block's hides, an undo)."""

    @abstractmethod
    async def posts_by_author(self, author: str, states: Sequence[str] = ()) -> list[PostRow]:
        """The author's posts (in ``states`` if given), oldest first."""

    @abstractmethod
    async def put_author_block(self, block: AuthorBlockRow) -> None: ...

    @abstractmethod
    async def remove_author_block(self, author: str) -> bool:
        """Lift a block; False if there was none."""

    @abstractmethod
    async def list_author_blocks(self) -> list[AuthorBlockRow]: ...

    @abstractmethod
    async def find_posts(
        self,
        states: Sequence[str] = (),
        *,
        source: str | None = None,
        author: str | None = None,
        contains: str | None = None,
        pinned: bool | None = None,
        limit: int = 200,
    ) -> list[PostRow]:
        """Posts matching every given filter, newest first (``contains``: case-insensitive)."""

    @abstractmethod
    async def last_decisions(self, post_ids: Sequence[str]) -> dict[str, DecisionRow]:
        """The newest decision of each of these posts (one query, for queue listings)."""

    @abstractmethod
    async def last_decision_id(self) -> int:
        """The newest decision's id (0: none); changes whenever any post's state does."""

    @abstractmethod
    async def decision_counts(self) -> list[tuple[str, str, int]]:
        """``(actor, action, count)`` over every decision: what each rule and person did."""

    @abstractmethod
    async def purge_posts(self, before: datetime) -> list[PostRow]:
        """Delete posts created before ``before`` with their decisions; return them."""

    @abstractmethod
    async def forget_author(self, author: str) -> list[PostRow]:
        """Delete every post, decision and block of ``author``; return the deleted posts."""

    @abstractmethod
    async def get_cursor(self, name: str) -> str | None: ...

    @abstractmethod
    async def set_cursor(self, name: str, value: str) -> None: ...

    # -- provisioning -------------------------------------------------------
    @abstractmethod
    async def record_apply(self, apply: ApplyRow, devices: Sequence[ApplyDeviceRow]) -> int:
        """Store an apply with all its per-device rows: all or nothing."""

    @abstractmethod
    async def get_apply(self, apply_id: int) -> tuple[ApplyRow, list[ApplyDeviceRow]] | None: ...

    @abstractmethod
    async def list_applies(self, limit: int = 100, before: int | None = None) -> list[ApplyRow]:
        """The newest applies first."""

    @abstractmethod
    async def device_applies(self, device: str) -> list[tuple[int, ApplyDeviceRow]]:
        """Every recorded result for one device, newest apply first: (apply id, row)."""

    @abstractmethod
    async def unfinished_applies(self) -> list[ApplyRow]:
        """Applies without ``finished_at`` (running, or left running by a dead process)."""

    @abstractmethod
    async def arm_restore(self, restore: PendingRestoreRow) -> None:
        """Persist an armed restore (replacing any earlier one for the device)."""

    @abstractmethod
    async def clear_restore(self, device: str, apply_id: int) -> bool:
        """Drop the device's armed restore if ``apply_id`` armed it; False if there was none."""

    @abstractmethod
    async def pending_restores(self) -> list[PendingRestoreRow]:
        """Every armed restore, earliest deadline first."""

    # -- audit --------------------------------------------------------------
    @abstractmethod
    async def audit(
        self, actor: str, action: str, target: str, before: Any = None, after: Any = None
    ) -> AuditEntry:
        """Append to the hash-chained audit log; durable (synchronous=FULL) on return."""

    @abstractmethod
    async def audit_head(self) -> tuple[int, str]:
        """The newest entry's (id, hash); ``(0, GENESIS)`` for an empty log."""

    @abstractmethod
    async def audit_entries(
        self, since_id: int = 0, limit: int = 1000, *, action: str | None = None
    ) -> list[AuditEntry]:
        """Entries after ``since_id`` in order; with ``action``, only that action's."""

    @abstractmethod
    async def verify_audit(self) -> int:
        """Check the whole chain; return the number of entries or raise AuditChainBroken."""

    @abstractmethod
    async def integrity_check(self) -> str: ...
