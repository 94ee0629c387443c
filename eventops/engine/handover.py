"""Handing a fibre link over to an authority, with an optical baseline.

A link is handed over only with proof: a passing acceptance test of the
link that started after the last change to either end — the last apply
(or rollback) that touched an endpoint device, or a profile reload that
changed the link or an endpoint device — and neither end may have restarted
since the test began (a device's restart, ordered or a power cut, rebuilds its
forwarding state from its saved configuration and may be a swapped unit: the
test no longer proves what runs now). Without it the handover is refused
with the reason; ``force`` with a ``reason`` overrides, and the record, its
audit entry and the report's first line say it was handed over unproven.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from eventops import i18n
from eventops.errors import Conflict, InvalidRequest, NotFound, Refused
from eventops.i18n import Msg
from eventops.monitor import checks as chk
from eventops.profile.models import Link
from eventops.profile.text import clean_text
from eventops.store.models import HandoverRow, ProbeResultRow

if TYPE_CHECKING:
    from eventops.engine.monitoring import Engine


async def load_handovers(engine: Engine) -> None:
    for h in await engine.store.list_handovers():
        note_handover(engine, h)


def note_handover(engine: Engine, h: HandoverRow) -> None:
    ls = engine.links.get(h.link)
    if ls is None:
        return
    ls.handed_to = h.authority
    ends = h.record.get("ends", {})
    ls.baseline = {k: v.get("rx_dbm") for k, v in ends.items() if isinstance(v, dict)}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_REASON = 500
"""Characters of a forced handover's reason."""
UNCHANGED = frozenset({"unchanged", "skipped", "unreachable"})
"""Per-device apply results that left the device as it was."""


@dataclass(frozen=True)
class Change:
    """The last change to a link's ends that an acceptance test must be newer than."""

    ts: datetime | None
    """None: still going on (an apply that has not finished)."""
    msg: Msg
    """What it was, as a message (:mod:`eventops.i18n`); :attr:`what` is its English."""
    tz: ZoneInfo

    @property
    def what(self) -> str:
        return self.msg.text("en", self.tz)


@dataclass(frozen=True)
class Proof:
    acceptance: ProbeResultRow | None
    """The passing acceptance that proves the link, or None."""
    problem_msg: Msg | None
    """Why the link is unproven (None when ``acceptance`` proves it), as a message."""
    change: Change | None
    tz: ZoneInfo

    @property
    def problem(self) -> str | None:
        """:attr:`problem_msg` in English (the API's and the audit log's text)."""
        return None if self.problem_msg is None else self.problem_msg.text("en", self.tz)


def clean_reason(reason: str | None) -> str:
    """A forced handover's reason as one clean, bounded line ('' when blank)."""
    text = " ".join(clean_text(reason or "").split())
    if len(text) > MAX_REASON:
        msg = Msg("handover.err.reason_long", {"n": MAX_REASON})
        raise i18n.refusal(InvalidRequest, msg, field="reason")
    return text


def _started(r: ProbeResultRow) -> datetime:
    """When an acceptance run began (its stored ``started_at``; the row's time otherwise)."""
    raw = r.result.get("started_at") if isinstance(r.result, dict) else None
    if isinstance(raw, str):
        try:
            ts = datetime.fromisoformat(raw)
        except ValueError:
            return r.ts
        return ts if ts.tzinfo is not None else r.ts
    return r.ts


async def last_change(engine: Engine, link: Link) -> Change | None:
    """The newest change to either end of ``link`` the engine has on record."""
    tz = engine.profile.event.tz
    ends = [link.a.device, link.b.device]
    found: list[Change] = []
    store = engine.store
    for dev in ends:
        for apply_id, row in await store.device_applies(dev):  # newest first
            if row.result in UNCHANGED:
                continue
            got = await store.get_apply(apply_id)
            if got is None:
                continue
            ap = got[0]
            kind = str(ap.summary.get("kind") or "apply")
            if ap.finished_at is None:
                return Change(None, _unfinished(kind, apply_id, dev), tz)
            msg = Msg(
                "change.apply",
                {
                    "kind": kind,
                    "id": apply_id,
                    "device": dev,
                    "result": row.result,
                    "at": ap.finished_at.isoformat(),
                },
            )
            found.append(Change(ap.finished_at, msg, tz))
            break
    for ap in await store.unfinished_applies():
        devs = ap.summary.get("devices") or []
        hit = [d for d in ends if d in devs]
        if hit:
            kind = str(ap.summary.get("kind") or "apply")
            return Change(None, _unfinished(kind, ap.id, hit[0]), tz)
    for e in reversed(await store.audit_entries(limit=1_000_000, action="profile.reload")):
        after = e.after if isinstance(e.after, dict) else {}
        devs = [d for d in ends if d in (after.get("changed") or []) + (after.get("added") or [])]
        if link.id in (after.get("links_changed") or []) or devs:
            at = e.ts.isoformat()
            msg = (
                Msg("change.reload_link", {"link": link.id, "at": at})
                if not devs
                else Msg("change.reload_device", {"device": devs[0], "at": at})
            )
            found.append(Change(e.ts, msg, tz))
            break
    return max(found, key=lambda c: c.ts or _EPOCH) if found else None


async def proof(engine: Engine, link: Link) -> Proof:
    """The passing acceptance of ``link`` newer than the last change to its ends, or why not."""
    tz = engine.profile.event.tz
    for r in await engine.sync_probe_results():  # a run just now, from another process
        await engine.announce_probe(r)
    runs = [r for r in await engine.store.list_probe_results(link.id) if r.kind == "acceptance"]
    change = await last_change(engine, link)
    if change is not None and change.ts is None:
        return Proof(None, change.msg, change, tz)
    if not runs:
        return Proof(None, Msg("proof.none"), change, tz)
    latest = max(runs, key=lambda r: (r.ts, r.id or 0))
    test = {"id": latest.id, "at": latest.ts.isoformat()}
    if change is not None and change.ts is not None and _started(latest) < change.ts:
        return Proof(None, Msg("proof.older", {**test, "change": change.msg}), change, tz)
    if not latest.passed:
        step = latest.result.get("failed_step") if isinstance(latest.result, dict) else None
        msg = (
            Msg("proof.failed_step", {**test, "step": str(step)})
            if step
            else Msg("proof.failed", test)
        )
        return Proof(None, msg, change, tz)
    restart = restarted_since(engine, link, _started(latest))
    if restart is not None:
        return Proof(None, Msg("proof.restarted", {**test, "change": restart.msg}), restart, tz)
    return Proof(latest, None, change, tz)


REBOOT_SLACK_S = 5.0
"""How much later than a test's start a device's computed start may be and still be the
same boot (its uptime is read whole seconds, and a poll takes a while)."""


def restarted_since(engine: Engine, link: Link, since: datetime) -> Change | None:
    """An end of ``link`` that started again after ``since`` (its uptime, as last read,
    is shorter than the time since): its running state was rebuilt after the test, so
    the test no longer proves it. None when neither end did, or an end reports no uptime."""
    tz = engine.profile.event.tz
    for ep in (link.a, link.b):
        ds = engine.devices.get(ep.device)
        boot = chk.booted_at(ds.cur) if ds is not None and ds.cur is not None else None
        if boot is not None and (boot - since).total_seconds() > REBOOT_SLACK_S:
            msg = Msg("change.restarted", {"device": ep.device, "at": boot.isoformat()})
            return Change(boot, msg, tz)
    return None


def _unfinished(kind: str, apply_id: int | None, device: str) -> Msg:
    return Msg("change.unfinished", {"kind": kind, "id": apply_id, "device": device})


async def handover(
    engine: Engine,
    link_id: str,
    authority: str,
    actor: str,
    *,
    force: bool = False,
    reason: str | None = None,
) -> HandoverRow:
    """Record the link's optics as the baseline and hand it to ``authority``.

    Raises Conflict when the link has no passing acceptance newer than the
    last change to its ends, unless ``force`` with a ``reason`` (InvalidRequest
    without one).
    """
    why = clean_reason(reason)
    if force and not why:
        raise i18n.refusal(InvalidRequest, Msg("handover.err.no_reason"), field="reason")
    if why and not force:
        raise i18n.refusal(InvalidRequest, Msg("handover.err.reason_unforced"), field="reason")
    try:
        link = engine.profile.link(link_id)
    except KeyError:
        raise i18n.refusal(NotFound, Msg("err.no_link", {"link": repr(link_id)})) from None
    if authority not in {a.id for a in engine.profile.authorities}:
        msg = Msg("handover.err.no_authority", {"authority": repr(authority)})
        raise i18n.refusal(InvalidRequest, msg)
    if authority not in link.authorities:
        msg = Msg("handover.err.not_tagged", {"link": link_id, "authority": authority})
        raise i18n.refusal(InvalidRequest, msg)
    found = await proof(engine, link)
    if found.problem_msg is not None and not force:
        refusal = Msg("handover.unproven", {"link": link_id, "problem": found.problem_msg})
        raise Refused(refusal.text("en", found.tz), refusal.msg_id, refusal.as_dict()["params"])
    now = engine.clock.now()
    ends: dict[str, Any] = {}
    for name, ep in (("a", link.a), ("b", link.b)):
        ds = engine.devices[ep.device]
        fresh = chk.freshness(ds.last_ok, now, ds.interval_s, engine.profile.event.tz)
        if not ds.reachable or ds.cur is None or fresh.stale:
            why = ds.error or fresh.label or "no data"
            # German from the poll's own message when there is one; the English as it was
            said: Msg | str = ds.error_msg if ds.error and ds.error_msg else why
            msg = Msg("handover.err.no_reading", {"device": ep.device, "why": said})
            english = f"no fresh reading from {ep.device} ({why}): cannot take a baseline"
            raise Conflict(english).with_msg(msg.msg_id, msg.as_dict()["params"])
        optic = chk.find_optic(ds.cur, ep.port)
        iface = chk.find_interface(ds.cur, ep.port)
        ends[name] = {
            "device": ep.device,
            "port": ep.port,
            "oper_status": iface.oper_status if iface else "NOT_PRESENT",
            "rx_dbm": chk.optic_rx(optic),
            "tx_dbm": min(optic.tx_power_dbm) if optic and optic.tx_power_dbm else None,
            "bias_ma": min(optic.laser_bias_ma) if optic and optic.laser_bias_ma else None,
            "temperature_c": optic.temperature_c if optic else None,
            "vendor": optic.vendor if optic else "",
            "serial": optic.serial if optic else "",
            "pmd": optic.ethernet_pmd if optic else "",
            "margin_db": chk.rx_margin(v, link.optic)
            if (v := chk.optic_rx(optic)) is not None
            else None,
            "read_at": ds.last_ok.isoformat() if ds.last_ok else None,
        }
    acceptance = [
        r for r in await engine.store.list_probe_results(link_id) if r.kind == "acceptance"
    ]
    latest = found.acceptance or (acceptance[-1] if acceptance else None)
    unproven = (
        None
        if found.problem is None
        else f"HANDED OVER UNPROVEN by {actor}: {found.problem}. Reason given: {why}"
    )
    record: dict[str, Any] = {"unproven": unproven} if unproven else {}
    record |= {
        "link": {
            "id": link.id,
            "name": link.name,
            "optic": link.optic,
            "length_m": link.length_m,
            "capacity_mbps": link.capacity_mbps,
            "sla": link.sla.model_dump(),
        },
        "authority": {
            "id": authority,
            "name": next(a.name for a in engine.profile.authorities if a.id == authority),
        },
        "event": {
            "id": engine.profile.event.id,
            "name": engine.profile.event.name,
            "timezone": engine.profile.event.timezone,
        },
        "ends": ends,
        "acceptance": None
        if latest is None
        else {
            "id": latest.id,
            "ts": latest.ts.isoformat(),
            "passed": latest.passed,
            "result": latest.result,
        },
        "link_state": engine.links[link_id].state,
        "proof": {
            "proven": found.problem is None,
            "acceptance": found.acceptance.id if found.acceptance else None,
            "last_change": None
            if found.change is None
            else {
                "ts": found.change.ts.isoformat() if found.change.ts else None,
                "what": found.change.what,
            },
            "forced": found.problem is not None,
            "problem": found.problem,
            "problem_msg": None if found.problem_msg is None else found.problem_msg.as_dict(),
            "reason": why or None,
        },
    }
    row = HandoverRow(ts=now, link=link_id, authority=authority, actor=actor, record=record)
    after: dict[str, Any] = {"to": authority}
    if found.problem is not None:
        after |= {"forced": True, "unproven": found.problem, "reason": why}
    else:
        after["acceptance"] = found.acceptance.id if found.acceptance else None
    hid = await engine.store.add_handover(
        row,
        audit_action="link.handover",
        audit_after=after,
    )
    row = row.model_copy(update={"id": hid})
    note_handover(engine, row)
    engine.bus.publish(
        "handover", link_id, "link", link.authorities, {"id": hid, "to": authority, "by": actor}
    )
    return row
