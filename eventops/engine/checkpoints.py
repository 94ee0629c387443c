"""The engine's signed audit checkpoints, and where they leave the machine.

With an audit key (the profile's ``[audit] key``; the SQLite store keys its
chain with it) the engine signs the head of its audit log (see
:mod:`eventops.store.audit`):

- every :data:`INTERVAL_S` while it runs (a head that did not move is not
  signed again),
- at every handover (the API answer and the printable report carry one the
  authority takes away), and when an apply starts.

Each checkpoint is kept as :attr:`EngineCheckpoints.latest` and goes out with
the next Alertmanager webhook body (``commonAnnotations``); ``/metrics`` shows
the head's sequence number (``eventops_audit_head_seq``) and the newest
checkpoint's. ``eventops audit verify --checkpoint REPORT`` then detects a
log cut short or rewritten below any of them. Without a key nothing is signed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from eventops.errors import StoreError
from eventops.store.audit import (
    AuditKey,
    CheckpointKeeper,
    audit_head_seq,
    checkpoint_annotations,
)

if TYPE_CHECKING:
    from eventops.engine.monitoring import Engine

log = logging.getLogger(__name__)

INTERVAL_S = 300.0
"""How often the running engine signs its audit head."""


class EngineCheckpoints:
    """The engine's :class:`CheckpointKeeper` plus the checkpoints it made for handovers."""

    def __init__(self, engine: Engine, key: AuditKey, interval_s: float = INTERVAL_S) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.keeper = CheckpointKeeper(
            engine.store, key, engine.profile.event.id, now=engine.clock.now
        )
        self.handovers: dict[int, dict[str, Any]] = {}

    @property
    def latest(self) -> dict[str, Any] | None:
        return self.keeper.latest

    def annotations(self) -> dict[str, str]:
        """The newest checkpoint as Alertmanager annotations (none before the first)."""
        cp = self.keeper.latest
        return checkpoint_annotations(cp) if cp is not None else {}

    async def take(self, why: str) -> dict[str, Any] | None:
        """Sign the head now (``why``: for the log); None when the store failed."""
        try:
            cp = await self.keeper.take()
        except (StoreError, OSError) as exc:
            log.warning("audit checkpoint at %s failed: %s", why, exc)
            return None
        log.info("audit checkpoint at %s: entry %s", why, cp["seq"])
        return cp

    async def run(self) -> None:
        """The interval task (supervised by the engine)."""
        await self.keeper.run(self.interval_s, self.engine.clock.sleep)


def setup(engine: Engine, interval_s: float = INTERVAL_S) -> EngineCheckpoints | None:
    """The engine's checkpoints when its store keys the audit chain, else None; the
    alert webhook then carries the newest one in every body."""
    key = getattr(engine.store, "audit_key", None)
    if not isinstance(key, AuditKey):
        return None
    cps = EngineCheckpoints(engine, key, interval_s)
    if engine.webhook is not None:
        engine.webhook.annotations = cps.annotations
    return cps


async def at_handover(engine: Engine, handover_id: int) -> None:
    """Sign the head right after a handover's audit entry (kept for its answer and report)."""
    cps = engine.checkpoints
    if cps is None:
        return
    cp = await cps.take(f"handover #{handover_id}")
    if cp is not None:
        cps.handovers[handover_id] = cp


async def at_apply(engine: Engine, what: str) -> None:
    """Sign the head as an apply starts."""
    if engine.checkpoints is not None:
        await engine.checkpoints.take(f"apply {what}")


async def for_report(engine: Engine, handover_id: int) -> dict[str, Any] | None:
    """The checkpoint a handover report carries: the head signed now (it holds the
    handover and everything since), or the one made at the handover when the store
    cannot be read."""
    cps = engine.checkpoints
    if cps is None:
        return None
    return await cps.take(f"report of handover #{handover_id}") or cps.handovers.get(handover_id)


async def head_seq(engine: Engine) -> int | None:
    """The audit log's head sequence number, for ``/metrics`` (None: unreadable)."""
    try:
        return await audit_head_seq(engine.store)
    except (StoreError, OSError):
        return None
