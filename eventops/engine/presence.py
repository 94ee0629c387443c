"""Does the event still have a standby engine? The active engine's rule, pure.

Every engine under the event's lease records itself at each election step
(:mod:`eventops.store.presence`). The active engine turns what its heartbeat
returned into at most one engine alert, ``engine:standby:missing`` (warning):

- a standby is *live* when another engine's row says ``standby`` and it was
  seen within ``absent_after_s`` (three lease ttls) on the server's clock;
- the event *expects* a standby when the profile says ``[store] standby =
  "required"``, or (``"auto"``, the default) once an active engine of the
  event has seen a live standby (the mark in the lease row, kept across
  take-overs and restarts). ``"off"`` never expects one. A single engine that
  restarts (and waits as a standby for its own old lease to run out) sets no
  mark: only an active engine that sees another engine standing by does;
- with no live standby, the standby counts as *gone* since the most recent
  time another engine was seen as a standby (or stopped cleanly), but never
  longer than this engine's own term: the engine that took over was the
  standby until then. An engine that died while active does not count. The condition holds once it has been gone longer than
  ``absent_after_s``, never before, and the alert follows the profile's alert
  tolerances like any other (raised after ``raise_after_s``, cleared
  ``clear_after_s`` after a standby is seen again).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from eventops.engine.monitoring import ENGINE_SUBJECT
from eventops.i18n import Msg
from eventops.monitor.alerts import Condition
from eventops.store.presence import Presence, PresenceSnapshot

StandbyMode = Literal["auto", "required", "off"]
MISSING_KEY = "engine:standby:missing"
ABSENT_TTLS = 3.0
"""A standby is gone once it has not been seen for this many lease ttls."""


def live_standbys(snap: PresenceSnapshot, absent_after_s: float) -> list[Presence]:
    return [e for e in snap.others if e.role == "standby" and e.age_s <= absent_after_s]


def expects_standby(snap: PresenceSnapshot, mode: StandbyMode) -> bool:
    return mode == "required" or (mode == "auto" and snap.standby_seen_at is not None)


def standby_conditions(
    snap: PresenceSnapshot, *, mode: StandbyMode, absent_after_s: float
) -> list[Condition]:
    """The engine conditions about the event's standby (see the module's docstring); none
    unless this engine holds the lease (``snap.term_s``)."""
    if mode == "off" or snap.term_s is None or live_standbys(snap, absent_after_s):
        return []
    if not expects_standby(snap, mode):
        return []
    last = min(
        (e for e in snap.others if e.role in ("standby", "stopped")),
        key=lambda e: e.age_s,
        default=None,
    )
    gone_s = snap.term_s if last is None else min(last.age_s, snap.term_s)
    if gone_s <= absent_after_s:
        return []
    own = next((e for e in snap.engines if e.mine), None)
    if last is not None and last.age_s <= snap.term_s:
        since = last.seen_at
        msg = Msg("alert.standby_gone", {"address": last.address, "since": since.isoformat()})
    elif own is not None:
        since = own.seen_at - timedelta(seconds=snap.term_s)
        msg = Msg("alert.standby_missing", {"since": since.isoformat()})
    else:  # no own row: not a snapshot of a heartbeat
        return []
    return [
        Condition(
            MISSING_KEY,
            "warning",
            ENGINE_SUBJECT,
            msg.text(),
            {"kind": "engine", "alertname": "StandbyMissing"},
            msg.msg_id,
            msg.as_dict()["params"],
        )
    ]
