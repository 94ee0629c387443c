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

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


async def timeline(
    store: Store, since: datetime | None = None, until: datetime | None = None
) -> list[TimelineEntry]:
    """Everything that happened, in time order (UTC)."""
    lo = since or EPOCH
    hi = until or datetime(9999, 1, 1, tzinfo=UTC)
    out: list[TimelineEntry] = []
    for a in await store.list_alerts():
        out.append(
            TimelineEntry(
                ts=a.raised_at,
                kind="alert.raised",
                subject=a.subject,
                text=f"{a.severity}: {a.summary}",
                data={
                    "id": a.id,
                    "key": a.key,
                    "state": a.state,
                    "severity": a.severity,
                    "msg_id": a.msg_id,
                    "params": a.params,
                },
            )
        )
        if a.cleared_at is not None:
            out.append(
                TimelineEntry(
                    ts=a.cleared_at,
                    kind="alert.cleared",
                    subject=a.subject,
                    text=f"cleared: {a.summary}",
                    data={"id": a.id, "key": a.key, "msg_id": a.msg_id, "params": a.params},
                )
            )
    for p in await store.list_probe_results():
        verdict = {True: "passed", False: "failed", None: "ran"}[p.passed]
        out.append(
            TimelineEntry(
                ts=p.ts,
                kind="probe",
                subject=p.target,
                text=f"{p.kind} {verdict}",
                data={
                    "id": p.id,
                    "result": p.result,
                    **Msg("tl.probe", {"kind": p.kind, "verdict": verdict}).as_dict(),
                },
            )
        )
    for d in await store.list_decisions():
        who = decider(d.actor)
        why = Msg(d.reason_id, d.reason_params) if d.reason_id else d.reason
        msg = (
            Msg("tl.moderation_why", {"actor": who, "action": d.action, "reason": why})
            if d.reason
            else Msg("tl.moderation", {"actor": who, "action": d.action})
        )
        out.append(
            TimelineEntry(
                ts=d.ts,
                kind="moderation",
                subject=d.post_id,
                text=f"{d.actor}: {d.action}" + (f" ({d.reason})" if d.reason else ""),
                data={"id": d.id, **msg.as_dict()},
            )
        )
    for h in await store.list_handovers():
        out.append(
            TimelineEntry(
                ts=h.ts,
                kind="handover",
                subject=h.link,
                text=f"{h.actor} handed {h.link} over to {h.authority}",
                data={
                    "id": h.id,
                    **Msg(
                        "tl.handover",
                        {"actor": h.actor, "link": h.link, "authority": h.authority},
                    ).as_dict(),
                },
            )
        )
    for e in await store.audit_entries(limit=1_000_000):
        out.append(
            TimelineEntry(
                ts=e.ts,
                kind=f"audit:{e.action}",
                subject=e.target,
                text=f"{e.actor}: {e.action} {e.target}",
                data={
                    "id": e.id,
                    **Msg(
                        "tl.audit", {"actor": e.actor, "action": e.action, "target": e.target}
                    ).as_dict(),
                },
            )
        )
    out = [t for t in out if lo <= t.ts <= hi]
    out.sort(key=lambda t: (t.ts, t.kind))
    return out


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
