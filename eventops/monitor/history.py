"""History: compact samples, the event timeline, and the archive export.

Raw samples are kept for an hour, then reduced to one mean per minute and
series (:class:`Downsampler`). The timeline merges what happened during the
event — alerts raised and cleared, probe results, moderation decisions,
handovers, and every audited action — into one ordered list that can be
replayed after the event. :func:`export_event` writes the whole record to one
JSON file for the archive.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from eventops.clock import Clock
from eventops.errors import StoreError
from eventops.i18n import Msg
from eventops.store.audit import GENESIS, AuditKey, sign_checkpoint
from eventops.store.base import Store
from eventops.store.models import AlertRow, AuditEntry, DecisionRow, HandoverRow, ProbeResultRow
from eventops.store.timeline import TimelineKey, TimelineRow

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
END = datetime(9999, 1, 1, tzinfo=UTC)


class Downsampler:
    """Every ``every_s``, reduce samples older than ``after_s`` to ``bucket_s`` means
    and drop those older than the retention."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        after_s: float = 3600.0,
        bucket_s: int = 60,
        every_s: float = 600.0,
        retention_s: float | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.after_s = after_s
        self.bucket_s = bucket_s
        self.every_s = every_s
        self.retention_s = retention_s
        """Samples older than this are deleted (the profile's ``retention_days``)."""
        self.removed = 0

    async def run_once(self) -> int:
        now = self.clock.now()
        n = 0
        if self.retention_s is not None:
            n += await self.store.purge_samples(now - timedelta(seconds=self.retention_s))
        before = now - timedelta(seconds=self.after_s)
        n += await self.store.downsample_samples(before, self.bucket_s)
        self.removed += n
        return n

    async def run(self) -> None:
        while True:
            await self.clock.sleep(self.every_s)
            try:
                await self.run_once()
            except StoreError as exc:
                log.warning("downsampling failed: %s", exc)


class TimelineEntry(BaseModel):
    ts: datetime
    kind: str
    """alert.raised, alert.cleared, probe, moderation, handover, audit:<action>"""
    subject: str
    text: str
    """In English, for scripts; clients show ``data``'s ``msg_id`` with its ``params``
    (:mod:`eventops.i18n`) in the reader's language."""
    data: dict[str, Any] = {}


def decider(actor: str) -> Msg | str:
    """Who made a moderation decision, as a message for a rule (``rule:mode``) or a source
    (``source:x``); a person's name as it is."""
    kind, _, name = actor.partition(":")
    if kind == "rule" and name:
        return Msg("wall.actor.rule", {"rule": name})
    if kind == "source" and name:
        return Msg("wall.actor.source", {"source": name})
    return actor


def entry_of(row: TimelineRow) -> TimelineEntry:
    """The timeline entry of one stored row (see :meth:`Store.timeline_page`)."""
    r = row.row
    if isinstance(r, AlertRow) and row.kind == "alert.raised":
        return TimelineEntry(
            ts=row.ts,
            kind=row.kind,
            subject=r.subject,
            text=f"{r.severity}: {r.summary}",
            data={
                "id": r.id,
                "key": r.key,
                "state": r.state,
                "severity": r.severity,
                "msg_id": r.msg_id,
                "params": r.params,
            },
        )
    if isinstance(r, AlertRow):
        return TimelineEntry(
            ts=row.ts,
            kind=row.kind,
            subject=r.subject,
            text=f"cleared: {r.summary}",
            data={"id": r.id, "key": r.key, "msg_id": r.msg_id, "params": r.params},
        )
    if isinstance(r, ProbeResultRow):
        verdict = {True: "passed", False: "failed", None: "ran"}[r.passed]
        return TimelineEntry(
            ts=row.ts,
            kind=row.kind,
            subject=r.target,
            text=f"{r.kind} {verdict}",
            data={
                "id": r.id,
                "result": r.result,
                **Msg("tl.probe", {"kind": r.kind, "verdict": verdict}).as_dict(),
            },
        )
    if isinstance(r, DecisionRow):
        who = decider(r.actor)
        why = Msg(r.reason_id, r.reason_params) if r.reason_id else r.reason
        msg = (
            Msg("tl.moderation_why", {"actor": who, "action": r.action, "reason": why})
            if r.reason
            else Msg("tl.moderation", {"actor": who, "action": r.action})
        )
        return TimelineEntry(
            ts=row.ts,
            kind=row.kind,
            subject=r.post_id,
            text=f"{r.actor}: {r.action}" + (f" ({r.reason})" if r.reason else ""),
            data={"id": r.id, **msg.as_dict()},
        )
    if isinstance(r, HandoverRow):
        return TimelineEntry(
            ts=row.ts,
            kind=row.kind,
            subject=r.link,
            text=f"{r.actor} handed {r.link} over to {r.authority}",
            data={
                "id": r.id,
                **Msg(
                    "tl.handover", {"actor": r.actor, "link": r.link, "authority": r.authority}
                ).as_dict(),
            },
        )
    if isinstance(r, AuditEntry):
        return TimelineEntry(
            ts=row.ts,
            kind=row.kind,
            subject=r.target,
            text=f"{r.actor}: {r.action} {r.target}",
            data={
                "id": r.id,
                **Msg(
                    "tl.audit", {"actor": r.actor, "action": r.action, "target": r.target}
                ).as_dict(),
            },
        )
    raise TypeError(f"no timeline entry for a {type(r).__name__}")


async def timeline_page(
    store: Store,
    *,
    after: TimelineKey | None,
    limit: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[TimelineEntry]:
    """At most ``limit + 1`` entries after the key ``after`` (None: from the first), in the
    timeline's order; the store reads O(limit) rows, not the whole event."""
    rows = await store.timeline_page(after, limit, since or EPOCH, until or END)
    return [entry_of(r) for r in rows]


async def timeline(
    store: Store, since: datetime | None = None, until: datetime | None = None
) -> list[TimelineEntry]:
    """Everything that happened, in time order (UTC): every row of the event, read at once
    (the archive's export; the API reads a page at a time with :func:`timeline_page`)."""
    lo = since or EPOCH
    hi = until or END
    rows: list[TimelineRow] = []
    for a in await store.list_alerts():
        assert a.id is not None
        rows.append(TimelineRow(a.raised_at, "alert.raised", a.id, a))
        if a.cleared_at is not None:
            rows.append(TimelineRow(a.cleared_at, "alert.cleared", a.id, a))
    for p in await store.list_probe_results():
        rows.append(TimelineRow(p.ts, "probe", p.id or 0, p))
    for d in await store.list_decisions():
        rows.append(TimelineRow(d.ts, "moderation", d.id or 0, d))
    for h in await store.list_handovers():
        rows.append(TimelineRow(h.ts, "handover", h.id or 0, h))
    for e in await store.audit_entries(limit=1_000_000):
        rows.append(TimelineRow(e.ts, f"audit:{e.action}", e.id, e))
    rows = [t for t in rows if lo <= t.ts <= hi]
    rows.sort(key=lambda t: t.key)
    return [entry_of(t) for t in rows]


async def export_event(
    store: Store, path: Path, *, event: dict[str, Any], audit_key: AuditKey | None = None
) -> dict[str, int]:
    """Write the event's record (JSON) for the archive; returns counts per section.

    With ``audit_key`` the export carries a signed checkpoint of the exported
    audit log's head (``audit_checkpoint``) for ``eventops audit verify --checkpoint``.
    """
    devices = await store.list_devices()
    audit = await store.audit_entries(limit=1_000_000)
    record: dict[str, Any] = {
        "format": "eventops-export/1",
        "exported_at": datetime.now(UTC).isoformat(),
        "event": event,
        "devices": [d.model_dump(mode="json") for d in devices],
        "alerts": [a.model_dump(mode="json") for a in await store.list_alerts()],
        "probe_results": [p.model_dump(mode="json") for p in await store.list_probe_results()],
        "handovers": [h.model_dump(mode="json") for h in await store.list_handovers()],
        "audit": [e.model_dump(mode="json") for e in audit],
        "timeline": [t.model_dump(mode="json") for t in await timeline(store)],
    }
    if audit_key is not None:
        head = (audit[-1].id, audit[-1].hash) if audit else (0, GENESIS)
        record["audit_checkpoint"] = sign_checkpoint(audit_key, str(event["id"]), *head)
    text = json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        await asyncio.to_thread(tmp.write_text, text, "utf-8")
        await asyncio.to_thread(tmp.replace, path)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write export ({exc.strerror})") from None
    return {k: len(v) for k, v in record.items() if isinstance(v, list)}
