"""Alerts: conditions become alerts after a tolerance, clear with hysteresis.

The engine turns check results into :class:`Condition` values (pure
functions :func:`device_conditions` and :func:`link_conditions`, which also do
the grouping: a fibre link that is down is one alert for the link, and the
masts behind it say "upstream down" instead of raising their own). The
:class:`AlertManager` tracks every condition key over time:

- a condition raises when it has held for ``raise_after_s``;
- an alert clears when its condition has been absent for ``clear_after_s``
  (hysteresis: a blip does not clear it, a blip does not raise a second);
- ``flap_transitions`` changes within ``flap_window_s`` mark it ``flapping``;
- subjects in maintenance (under an apply) raise nothing;
- silenced alerts are stored and shown, but not sent to the webhook;
- every change goes to the store and to the engine's event callback.

A person's changes — acknowledging an alert, adding or removing a silence —
are one store transaction each (:meth:`~eventops.store.base.Store.ops_transaction`):
the check that the change is still allowed (not acknowledged yet, not removed
yet), the row change and its audit entry commit together, so a crash never
leaves one without the other and two people at once get one success and one
:class:`~eventops.errors.Conflict`. Silences are stored: they survive a restart.

Time comes from the caller (``now`` on each evaluation), so scripted series
give exact raise and clear times.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from eventops.errors import Conflict, NotFound
from eventops.i18n import Msg
from eventops.monitor.alertmanager import AlertmanagerWebhook
from eventops.monitor.checks import CheckResult, Level
from eventops.profile.models import AlertTolerances
from eventops.store.base import OpsTx, Store
from eventops.store.models import AlertRow, SilenceRow

log = logging.getLogger(__name__)

Severity = Literal["info", "warning", "critical"]
_SEV: dict[Level, Severity] = {Level.warning: "warning", Level.critical: "critical"}


@dataclass(frozen=True)
class Condition:
    key: str
    """Stable identity, e.g. ``link:fibre-police:down``; severity may change under it."""
    severity: Severity
    subject: str
    summary: str
    """The English text (webhook, scripts)."""
    labels: dict[str, str] = field(default_factory=dict)
    msg_id: str | None = None
    """The summary as a catalogue message (:mod:`eventops.i18n`), rendered by clients."""
    params: dict[str, Any] = field(default_factory=dict)


def _cond(
    key: str, severity: Severity, subject: str, labels: dict[str, str], msg: Msg
) -> Condition:
    return Condition(
        key, severity, subject, msg.text(), labels, msg.msg_id, msg.as_dict()["params"]
    )


def _check_msg(c: CheckResult) -> dict[str, Any] | str:
    """A check's message for nesting in an alert's, or its plain reason if it has none."""
    return c.msg.as_dict() if c.msg is not None else c.reason


# -- conditions from checks (grouping lives here) ---------------------------------


def device_conditions(
    device: str,
    *,
    reachable: bool,
    checks: Sequence[CheckResult] = (),
    upstream_down: str | None = None,
    error: str = "",
    error_msg: Msg | None = None,
) -> list[Condition]:
    """What is wrong with one device right now.

    ``upstream_down`` names the fibre link the device hangs off when that link
    is down: an unreachable device behind it is then "upstream down" (info),
    not an alert of its own. ``error`` is why the poll failed in English (kept
    whole in the summary), ``error_msg`` the same for clients to render.
    """
    base = {"device": device, "kind": "device"}
    if not reachable:
        if upstream_down:
            return [
                _cond(
                    f"device:{device}:upstream-down",
                    "info",
                    device,
                    {**base, "alertname": "UpstreamDown", "upstream": upstream_down},
                    Msg("alert.upstream_down", {"device": device, "upstream": upstream_down}),
                )
            ]
        why = f": {error}" if error else ""
        msg = (
            Msg("alert.unreachable_why", {"device": device, "why": error_msg.as_dict()})
            if error_msg is not None
            else Msg("alert.unreachable_why", {"device": device, "why": error})
            if error
            else Msg("alert.unreachable", {"device": device})
        )
        return [
            Condition(
                f"device:{device}:unreachable",
                "critical",
                device,
                f"{device} unreachable{why}",
                {**base, "alertname": "DeviceUnreachable"},
                msg.msg_id,
                msg.as_dict()["params"],
            )
        ]
    out = []
    for c in checks:
        if c.level is Level.ok:
            continue
        out.append(
            Condition(
                f"device:{device}:{c.name}",
                _SEV[c.level],
                device,
                f"{device}: {c.reason}",
                {**base, "alertname": _alertname(c.name), "check": c.name},
                "alert.device",
                {"device": device, "check": _check_msg(c)},
            )
        )
    return out


def link_conditions(link: str, checks: Sequence[CheckResult]) -> list[Condition]:
    """What is wrong with one fibre link: one ``down`` alert hides everything else."""
    base = {"link": link, "kind": "link"}
    down = next((c for c in checks if c.name == "link" and c.level is Level.critical), None)
    if down is not None:
        why = down.params.get("why") if down.msg_id == "link.down" else None
        return [
            Condition(
                f"link:{link}:down",
                "critical",
                link,
                f"{link} {down.reason}",
                {**base, "alertname": "LinkDown"},
                "alert.link_down" if why is not None else None,
                {"link": link, "why": why} if why is not None else {},
            )
        ]
    out = []
    for c in checks:
        if c.level is Level.ok or c.name.startswith("end."):
            continue  # an unreachable end is its device's alert
        out.append(
            Condition(
                f"link:{link}:{c.name}",
                _SEV[c.level],
                link,
                f"{link}: {c.reason}",
                {**base, "alertname": _alertname(c.name), "check": c.name},
                "alert.link",
                {"link": link, "check": _check_msg(c)},
            )
        )
    return out


def _alertname(check: str) -> str:
    parts = check.replace("_", ".").split(".")
    return "".join(p[:1].upper() + p[1:] for p in parts if len(p) > 1)


# -- silences ----------------------------------------------------------------------


@dataclass(frozen=True)
class Silence:
    id: int
    matchers: dict[str, str]
    """Label equality; ``key`` and ``subject`` match the alert's own fields."""
    until: datetime
    by: str
    note: str = ""

    def matches(self, alert: AlertRow, now: datetime) -> bool:
        if now >= self.until:
            return False
        fields = {**alert.labels, "key": alert.key, "subject": alert.subject}
        return all(fields.get(k) == v for k, v in self.matchers.items())


def _silence_view(sid: int, row: SilenceRow) -> dict[str, Any]:
    return {
        "id": sid,
        "matchers": row.matchers,
        "until": row.until.isoformat(),
        "by": row.actor,
        "note": row.note,
    }


# -- the manager -----------------------------------------------------------------------


@dataclass
class _Track:
    active: bool
    since: datetime
    cond: Condition
    transitions: deque[datetime] = field(default_factory=deque)
    alert: AlertRow | None = None


AlertCallback = Callable[[str, AlertRow], None]


class AlertManager:
    def __init__(
        self,
        store: Store,
        tolerances: AlertTolerances,
        *,
        on_event: AlertCallback | None = None,
        notifier: AlertmanagerWebhook | None = None,
    ) -> None:
        self.store = store
        self.tol = tolerances
        self.on_event = on_event
        self.notifier = notifier
        self._tracks: dict[str, _Track] = {}
        self._by_subject: dict[str, set[str]] = {}
        self._maintenance: set[str] = set()
        self._silences: dict[int, Silence] = {}
        self._lock = asyncio.Lock()

    async def load(self, now: datetime) -> None:
        """Pick up alerts left open and silences still in force from an earlier run."""
        for row in await self.store.list_alerts(open_only=True):
            cond = Condition(
                row.key,
                row.severity,
                row.subject,
                row.summary,
                dict(row.labels),
                row.msg_id,
                dict(row.params),
            )
            self._tracks[row.key] = _Track(True, now, cond, alert=row)
            self._by_subject.setdefault(row.subject, set()).add(row.key)
        for srow in await self.store.list_silences(active_at=now):
            assert srow.id is not None
            self._silences[srow.id] = Silence(
                srow.id, dict(srow.matchers), srow.until, srow.actor, srow.note
            )

    # -- queries ------------------------------------------------------------------
    def open_alerts(self) -> list[AlertRow]:
        return sorted(
            (t.alert for t in self._tracks.values() if t.alert is not None),
            key=lambda a: a.id or 0,
        )

    def alert(self, alert_id: int) -> AlertRow | None:
        return next((a for a in self.open_alerts() if a.id == alert_id), None)

    def silenced(self, alert: AlertRow, now: datetime) -> bool:
        return any(s.matches(alert, now) for s in self._silences.values())

    @property
    def silences(self) -> list[Silence]:
        return list(self._silences.values())

    # -- maintenance and silences -------------------------------------------------
    def set_maintenance(self, subject: str, on: bool) -> None:
        if on:
            self._maintenance.add(subject)
            for key in list(self._by_subject.get(subject, ())):
                t = self._tracks[key]
                if t.alert is None:  # pending conditions start afresh afterwards
                    self._forget(key)
        else:
            self._maintenance.discard(subject)

    def in_maintenance(self, subject: str) -> bool:
        return subject in self._maintenance

    async def add_silence(
        self, matchers: dict[str, str], until: datetime, by: str, note: str, now: datetime
    ) -> Silence:
        """Store the silence and its audit entry (one transaction), then apply it."""
        row = SilenceRow(matchers=dict(matchers), until=until, actor=by, note=note, created_at=now)

        async def tx_body(tx: OpsTx) -> int:
            sid = await tx.add_silence(row)
            await tx.audit(by, "alert.silence", str(sid), after=_silence_view(sid, row))
            return sid

        sid = await self.store.ops_transaction(tx_body)
        s = Silence(sid, dict(matchers), until, by, note)
        self._silences[sid] = s
        return s

    async def remove_silence(self, silence_id: int, by: str, now: datetime) -> Silence:
        """Remove a silence (audited, one transaction).

        NotFound: no such silence; Conflict: someone removed it already."""

        async def tx_body(tx: OpsTx) -> SilenceRow:
            row = await tx.get_silence(silence_id)
            if row is None or (row.removed_at is None and row.until <= now):
                raise NotFound(f"no silence #{silence_id}")
            if row.removed_at is not None:
                raise Conflict(f"silence #{silence_id} was already removed by {row.removed_by}")
            await tx.remove_silence(silence_id, by, now)
            await tx.audit(by, "alert.unsilence", str(silence_id), before=row.matchers)
            return row

        try:
            row = await self.store.ops_transaction(tx_body)
        except Conflict:
            self._silences.pop(silence_id, None)  # follow the store
            raise
        self._silences.pop(silence_id, None)
        return Silence(silence_id, dict(row.matchers), row.until, row.actor, row.note)

    def expire_silences(self, now: datetime) -> None:
        for sid in [sid for sid, s in self._silences.items() if now >= s.until]:
            del self._silences[sid]

    async def ack(self, alert_id: int, by: str, note: str) -> AlertRow:
        """Acknowledge an open alert (audited, one transaction).

        NotFound: no open alert with this id; Conflict: acknowledged already."""

        async def tx_body(tx: OpsTx) -> AlertRow:
            row = await tx.get_alert(alert_id)
            if row is None or row.state == "cleared":
                raise NotFound(f"alert {alert_id} is not open")
            if row.acked_by is not None:
                raise Conflict(f"alert {alert_id} was already acknowledged by {row.acked_by}")
            await tx.update_alert(alert_id, acked_by=by, ack_note=note)
            await tx.audit(
                by, "alert.ack", str(alert_id), before={"acked_by": None}, after={"note": note}
            )
            return row.model_copy(update={"acked_by": by, "ack_note": note})

        stored = await self.store.ops_transaction(tx_body)
        for t in self._tracks.values():
            if t.alert is not None and t.alert.id == alert_id:
                t.alert = t.alert.model_copy(update={"acked_by": by, "ack_note": note})
                self._emit("acked", t.alert)
                return t.alert
        return stored

    # -- evaluation -----------------------------------------------------------------
    async def evaluate(self, subject: str, conditions: Iterable[Condition], now: datetime) -> None:
        """The full set of conditions that hold for ``subject`` at ``now``."""
        if subject in self._maintenance:
            return
        async with self._lock:  # two ends of a link may report at the same moment
            await self._evaluate(subject, list(conditions), now)

    async def _evaluate(self, subject: str, conditions: list[Condition], now: datetime) -> None:
        active = {c.key: c for c in conditions}
        keys = self._by_subject.setdefault(subject, set())
        for key in sorted(keys | set(active)):
            cond = active.get(key)
            t = self._tracks.get(key)
            if t is None:
                if cond is None:
                    continue
                t = self._tracks[key] = _Track(True, now, cond)
                keys.add(key)
            elif (cond is not None) != t.active:
                t.active = cond is not None
                t.since = now
                t.transitions.append(now)
            if cond is not None:
                t.cond = cond
            window = now - timedelta(seconds=self.tol.flap_window_s)
            while t.transitions and t.transitions[0] < window:
                t.transitions.popleft()
            flapping = len(t.transitions) >= self.tol.flap_transitions
            held = (now - t.since).total_seconds()
            if t.alert is None:
                if t.active and (held >= self.tol.raise_after_s or flapping):
                    await self._raise(t, now, flapping)
                elif not t.active and not t.transitions:
                    self._forget(key)
                continue
            if not t.active and held >= self.tol.clear_after_s:
                await self._clear(t, now)
                if not t.transitions:
                    self._forget(key)
                continue
            if flapping and t.alert.state == "open":
                await self._update(t, now, "flapping", state="flapping")
            elif not flapping and t.alert.state == "flapping" and t.active:
                await self._update(t, now, "updated", state="open")
            if t.active and t.cond.severity != t.alert.severity:
                # escalation or de-escalation; value changes alone are not news
                await self._update(
                    t,
                    now,
                    "updated",
                    severity=t.cond.severity,
                    summary=t.cond.summary,
                    msg_id=t.cond.msg_id,
                    params=t.cond.params,
                )

    def _forget(self, key: str) -> None:
        t = self._tracks.pop(key, None)
        if t is not None:
            self._by_subject.get(t.cond.subject, set()).discard(key)

    async def _raise(self, t: _Track, now: datetime, flapping: bool) -> None:
        c = t.cond
        row = AlertRow(
            key=c.key,
            severity=c.severity,
            subject=c.subject,
            summary=c.summary,
            state="flapping" if flapping else "open",
            raised_at=now,
            labels=c.labels,
            msg_id=c.msg_id,
            params=c.params,
        )
        alert_id = await self.store.add_alert(row)
        t.alert = row.model_copy(update={"id": alert_id})
        self._emit("raised", t.alert)
        self._notify(t.alert, now)

    async def _clear(self, t: _Track, now: datetime) -> None:
        assert t.alert is not None and t.alert.id is not None
        cleared = t.alert.model_copy(update={"state": "cleared", "cleared_at": now})
        await self.store.update_alert(t.alert.id, state="cleared", cleared_at=now)
        t.alert = None
        self._emit("cleared", cleared)
        self._notify(cleared, now)

    async def _update(self, t: _Track, now: datetime, kind: str, **changes: Any) -> None:
        assert t.alert is not None and t.alert.id is not None
        alert_id = t.alert.id
        t.alert = t.alert.model_copy(update=changes)
        await self.store.update_alert(alert_id, **changes)
        self._emit(kind, t.alert)
        self._notify(t.alert, now)

    def _emit(self, kind: str, alert: AlertRow) -> None:
        if self.on_event is not None:
            self.on_event(kind, alert)

    def _notify(self, alert: AlertRow, now: datetime) -> None:
        if self.notifier is not None and not self.silenced(alert, now):
            self.notifier.send(alert)
