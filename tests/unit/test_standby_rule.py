"""The active engine's rule for a missing standby (eventops.engine.presence), on snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eventops.engine.presence import MISSING_KEY, StandbyMode, standby_conditions
from eventops.store.presence import Presence, PresenceSnapshot

NOW = datetime(2026, 6, 18, 16, 0, tzinfo=UTC)
GONE = 90.0


def _row(holder: str, role: str, age_s: float, *, mine: bool = False) -> Presence:
    seen = NOW - timedelta(seconds=age_s)
    return Presence(
        holder, f"http://{holder}:1", role, seen - timedelta(hours=1), seen, age_s, mine
    )


def _snap(*others: Presence, mark: bool = True, term_s: float | None = 3600.0) -> PresenceSnapshot:
    me = _row("me", "active", 0.0, mine=True)
    return PresenceSnapshot((me, *others), NOW - timedelta(days=1) if mark else None, term_s)


def _keys(snap: PresenceSnapshot, mode: StandbyMode = "auto") -> list[str]:
    return [c.key for c in standby_conditions(snap, mode=mode, absent_after_s=GONE)]


def test_gone_after_the_threshold_never_before() -> None:
    assert _keys(_snap(_row("b", "standby", 89.9))) == []
    assert _keys(_snap(_row("b", "standby", 90.0))) == []
    (cond,) = standby_conditions(
        _snap(_row("b", "standby", 90.1)), mode="auto", absent_after_s=GONE
    )
    assert cond.key == MISSING_KEY and cond.severity == "warning" and cond.subject == "engine"
    assert cond.msg_id == "alert.standby_gone" and cond.params["address"] == "http://b:1"
    assert cond.params["since"] == (NOW - timedelta(seconds=90.1)).isoformat()


def test_one_live_standby_is_enough() -> None:
    assert _keys(_snap(_row("b", "standby", 500.0), _row("c", "standby", 3.0))) == []


def test_a_clean_stop_counts_from_the_stop() -> None:
    assert _keys(_snap(_row("b", "stopped", 10.0))) == []
    assert _keys(_snap(_row("b", "stopped", 100.0))) == [MISSING_KEY]


def test_an_engine_that_died_active_is_no_standby_the_term_bounds_the_absence() -> None:
    dead = _row("a", "active", 5.0)
    assert _keys(_snap(dead, term_s=30.0)) == []  # the new active was the standby till then
    (cond,) = standby_conditions(_snap(dead, term_s=120.0), mode="auto", absent_after_s=GONE)
    assert cond.msg_id == "alert.standby_missing"
    assert cond.params["since"] == (NOW - timedelta(seconds=120.0)).isoformat()


def test_what_the_event_expects() -> None:
    alone = _snap(mark=False)
    assert _keys(alone, "auto") == []  # never had a standby
    assert _keys(alone, "required") == [MISSING_KEY]
    assert _keys(_snap(), "off") == []
    assert _keys(_snap(), "auto") == [MISSING_KEY]
    assert _keys(_snap(_row("b", "standby", 500.0)), "off") == []


def test_only_the_lease_holder_judges() -> None:
    assert _keys(_snap(_row("b", "standby", 500.0), term_s=None), "required") == []
