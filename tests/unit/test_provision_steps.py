"""The per-device apply as a pure function, table-driven: (state, observation) → next step.

No driver, no store, no clock: each row builds a state, feeds one observation
and checks the exact action (and where the machine is) that comes out, the
way hypercorn tests its protocol state machines by feeding events.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from eventops.adapters.base import Change, checksum
from eventops.errors import (
    AuthenticationFailed,
    DeviceTimeout,
    DeviceUnreachable,
    ProtocolError,
    ProvisioningError,
    StoreError,
)
from eventops.provision import steps
from eventops.provision.steps import (
    SITE_VISIT,
    Arm,
    Begin,
    Commit,
    Confirm,
    Disarm,
    Discard,
    Done,
    Failed,
    Finish,
    Got,
    Observation,
    Outcome,
    Read,
    ReadBack,
    ReadOK,
    Restore,
    Setup,
    Sleep,
    Stage,
    State,
)

OLD: dict[str, Any] = {"interfaces": {"eth0": {"description": "x", "enabled": True, "vlans": []}}}
NEW: dict[str, Any] = {"interfaces": {"eth0": {"vlans": [110]}}}
APPLIED: dict[str, Any] = {
    "interfaces": {"eth0": {"description": "x", "enabled": True, "vlans": [110]}}
}
NEITHER: dict[str, Any] = {
    "interfaces": {"eth0": {"description": "x", "enabled": True, "vlans": [7]}}
}
PREVIOUS: dict[str, Any] = {"interfaces": {"eth0": {"vlans": []}}}
T0 = 100.0

MAST = Setup(
    device="mast-01",
    driver="openwrt",
    device_rollback=True,
    confirm_timeout_s=60.0,
    poll_s=1.0,
    request_timeout_s=5.0,
)
SWITCH = Setup(
    device="sw-core",
    driver="restconf",
    device_rollback=False,
    confirm_timeout_s=60.0,
    poll_s=1.0,
    request_timeout_s=5.0,
)
MARGIN = min(60.0 / 2, 2 * 5.0 + 1.0)  # the confirm is sent this long before the device's timer


def at(setup: Setup, phase: steps.Phase, **kw: Any) -> State:
    """A state part-way through an apply of OLD → NEW."""
    base = State(
        setup,
        phase,
        running=OLD,
        plain=NEW,
        previous=steps.subset(OLD, NEW),
        paths=("interfaces.eth0.vlans",),
        before=checksum(OLD),
        t0=T0,
        armed=not setup.device_rollback and phase not in ("reading", "begin", "staging", "arming"),
        committed=phase not in ("reading", "begin", "staging", "arming"),
    )
    return replace(base, **kw)


def gone(now: float, message: str = "connection refused") -> Failed:
    return steps.failed(DeviceUnreachable("sw-core", message), now)


def refused(now: float) -> Failed:
    return steps.failed(ProtocolError("sw-core", "HTTP 500: internal error", code=500), now)


def fin(result: steps.Result, state: steps.DevState, reason: str | None, cfg: Any = None) -> Finish:
    cs = checksum(cfg) if cfg is not None else None
    return Finish(outcome=Outcome(result, state, reason, cs, cfg))


WHY_GONE = "did not answer after the change (connection refused)"
WHY_DIFF = "read-back config differs at interfaces.eth0.vlans"
WHY_LOST = "the commit got no answer (no answer within 2 s)"
RESTORED = "restconf devices cannot roll back by themselves: eventops restored the previous config"


@dataclass(frozen=True)
class Row:
    name: str
    state: State
    obs: Observation
    action: steps.Action
    then: steps.Phase | None = None
    pending: Outcome | None = None


ROWS = [
    # -- reading ----------------------------------------------------------------------
    Row(
        "read: unreachable",
        at(MAST, "reading"),
        gone(1, "connection refused"),
        fin("unreachable", "old", "sw-core: connection refused"),
        "done",
    ),
    Row(
        "read: wrong password",
        at(MAST, "reading"),
        steps.failed(AuthenticationFailed("mast-01", "wrong password"), 1),
        fin("failed", "old", "Authentication failed: mast-01: wrong password"),
        "done",
    ),
    Row(
        "read: nothing to change",
        at(MAST, "reading"),
        ReadOK(1, OLD, PREVIOUS),
        Finish(outcome=Outcome("unchanged", "new", None, checksum(OLD), OLD)),
        "done",
    ),
    Row(
        "read: a change",
        at(MAST, "reading"),
        ReadOK(1, OLD, NEW, changes=(Change(path="x", op="change"),)),
        Begin(),
        "begin",
    ),
    # -- begin, stage, arm ----------------------------------------------------------------
    Row("begin: recorded", at(MAST, "begin"), Done(1), Stage(tree=NEW, phase="staging"), "staging"),
    Row(
        "begin: store refuses",
        at(MAST, "begin"),
        steps.failed(StoreError("event.sqlite3: disk full"), 1),
        Finish(
            outcome=Outcome(
                "failed", "old", "Event store error: event.sqlite3: disk full", checksum(OLD)
            )
        ),
        "done",
    ),
    Row(
        "stage: device rollback commits with the timer",
        at(MAST, "staging"),
        Done(T0),
        Commit(confirm_timeout=60.0, phase="committing"),
        "committing",
    ),
    Row(
        "stage: no device rollback arms a restore first",
        at(SWITCH, "staging"),
        Done(T0),
        Arm(previous=PREVIOUS, seconds=60.0),
        "arming",
    ),
    Row(
        "stage: refused → discard, failed",
        at(SWITCH, "staging"),
        refused(1),
        Discard(),
        "discarding",
        Outcome(
            "failed",
            "old",
            "Device protocol error: sw-core: HTTP 500: internal error",
            checksum(OLD),
        ),
    ),
    Row(
        "stage: unreachable → discard, unreachable",
        at(SWITCH, "staging"),
        gone(1),
        Discard(),
        "discarding",
        Outcome("unreachable", "old", "sw-core: connection refused", checksum(OLD)),
    ),
    Row(
        "arm: persisted → plain commit",
        at(SWITCH, "arming"),
        Done(T0),
        Commit(confirm_timeout=None, phase="committing"),
        "committing",
    ),
    Row(
        "arm: store refuses → not changed",
        at(SWITCH, "arming"),
        steps.failed(StoreError("s.db: locked"), 1),
        Discard(),
        "discarding",
        Outcome(
            "failed",
            "old",
            "not changed: the restore could not be armed (s.db: locked)",
            checksum(OLD),
        ),
    ),
    # -- commit ---------------------------------------------------------------------------
    Row(
        "commit (device rollback): verify until the timer less a margin",
        at(MAST, "committing"),
        Done(T0 + 0.1),
        ReadBack(phase="verifying"),
        "verifying",
    ),
    Row(
        "commit (device rollback): no answer → wait for the device's timer",
        at(MAST, "committing"),
        steps.failed(DeviceTimeout("mast-01", "no answer within 2 s"), T0 + 2),
        Sleep(seconds=58.0 + 1.0, phase="rolling-back", message=WHY_LOST),
        "rollback-wait",
    ),
    Row(
        "commit: refused → discard, failed at the old config",
        at(MAST, "committing"),
        steps.failed(ProtocolError("mast-01", "uci: invalid"), T0),
        Discard(),
        "discarding",
        Outcome("failed", "old", "Device protocol error: mast-01: uci: invalid", checksum(OLD)),
    ),
    Row(
        "commit (no rollback): verify until the confirm timeout",
        at(SWITCH, "committing"),
        Done(T0),
        ReadBack(phase="verifying"),
        "verifying",
    ),
    Row(
        "commit (no rollback): no answer → the read-back decides",
        at(SWITCH, "committing"),
        steps.failed(DeviceTimeout("sw-core", "no answer within 2 s"), T0 + 2),
        ReadBack(phase="verifying"),
        "verifying",
    ),
    # -- verify with device rollback ---------------------------------------------------------
    Row(
        "verify: read-back holds the change → confirm",
        at(MAST, "verifying", deadline=T0 + 60 - MARGIN),
        Got(T0 + 1, APPLIED),
        Confirm(phase="confirming"),
        "confirming",
    ),
    Row(
        "verify: read-back mismatch → let the device's timer restore it",
        at(MAST, "verifying", deadline=T0 + 60 - MARGIN),
        Got(T0 + 1, NEITHER),
        Sleep(seconds=59.0 + 1.0, phase="rolling-back", message=WHY_DIFF),
        "rollback-wait",
    ),
    Row(
        "verify: unreachable before the deadline → ask again",
        at(MAST, "verifying", deadline=T0 + 60 - MARGIN),
        gone(T0 + 5),
        Sleep(seconds=1.0),
        "pausing",
    ),
    Row(
        "verify: unreachable at the deadline → wait for the device's timer",
        at(MAST, "verifying", deadline=T0 + 60 - MARGIN),
        gone(T0 + 60 - MARGIN),
        Sleep(seconds=MARGIN + 1.0, phase="rolling-back", message=WHY_GONE),
        "rollback-wait",
    ),
    Row(
        "verify: unreachable past the device's timer → read it at once",
        at(MAST, "verifying", deadline=T0 + 60 - MARGIN),
        gone(T0 + 61),
        Discard(phase="rolling-back", message=WHY_GONE),
        "rollback-discard",
    ),
    Row(
        "verify: the device refuses the read → roll back",
        at(MAST, "verifying", deadline=T0 + 60 - MARGIN),
        refused(T0 + 1),
        Sleep(
            seconds=60.0,
            phase="rolling-back",
            message="could not read the config back (sw-core: HTTP 500: internal error)",
        ),
        "rollback-wait",
    ),
    Row(
        "confirm: done → applied",
        at(MAST, "confirming", readback=APPLIED),
        Done(T0 + 2),
        fin("applied", "new", None, APPLIED),
        "done",
    ),
    Row(
        "confirm: refused → the device's timer restores it",
        at(MAST, "confirming", readback=APPLIED),
        steps.failed(ProvisioningError("mast-01: nothing to confirm"), T0 + 2),
        Sleep(
            seconds=59.0,
            phase="rolling-back",
            message="confirm failed (mast-01: nothing to confirm)",
        ),
        "rollback-wait",
    ),
    # -- waiting out the device's rollback timer ---------------------------------------------
    Row(
        "rollback: timer passed → discard the staged change, then read",
        at(MAST, "rollback-wait", why=WHY_GONE),
        Done(T0 + 61),
        Discard(),
        "rollback-discard",
    ),
    Row(
        "rollback: discard done → read",
        at(MAST, "rollback-discard", why=WHY_GONE, deadline=T0 + 181),
        Done(T0 + 61),
        ReadBack(),
        "rollback-read",
    ),
    Row(
        "rollback: nothing staged to discard is fine → read",
        at(MAST, "rollback-discard", why=WHY_GONE, deadline=T0 + 181),
        steps.failed(ProvisioningError("mast-01: nothing staged"), T0 + 61),
        ReadBack(),
        "rollback-read",
    ),
    Row(
        "rollback: still rebooting → ask again",
        at(MAST, "rollback-read", why=WHY_GONE, deadline=T0 + 181),
        gone(T0 + 70),
        Sleep(seconds=1.0),
        "pausing",
    ),
    Row(
        "rollback: never came back → unknown, site visit",
        at(MAST, "rollback-read", why=WHY_GONE, deadline=T0 + 181),
        gone(T0 + 181),
        fin(
            "unknown",
            "unknown",
            f"{WHY_GONE}; it did not answer after its rollback timer (connection refused)"
            f" — {SITE_VISIT}",
        ),
        "done",
    ),
    Row(
        "rollback: back at the old config → rolled back",
        at(MAST, "rollback-read", why=WHY_GONE, deadline=T0 + 181),
        Got(T0 + 62, OLD),
        fin("rolled_back", "old", f"{WHY_GONE}; the device's rollback timer restored it", OLD),
        "done",
    ),
    Row(
        "rollback: kept the new config → applied",
        at(MAST, "rollback-read", why=WHY_LOST, deadline=T0 + 181),
        Got(T0 + 62, APPLIED),
        fin("applied", "new", f"{WHY_LOST}; but it kept the new config", APPLIED),
        "done",
    ),
    Row(
        "rollback: neither config → unknown",
        at(MAST, "rollback-read", why=WHY_GONE, deadline=T0 + 181),
        Got(T0 + 62, NEITHER),
        fin(
            "unknown",
            "unknown",
            f"{WHY_GONE}; after its rollback timer it holds neither config — {SITE_VISIT}",
            NEITHER,
        ),
        "done",
    ),
    Row(
        "pause → read back again",
        at(MAST, "pausing", then="verifying"),
        Done(T0 + 6),
        ReadBack(),
        "verifying",
    ),
    Row(
        "pause → discard again (rollback loop)",
        at(MAST, "pausing", then="rollback-discard"),
        Done(T0 + 71),
        Discard(),
        "rollback-discard",
    ),
    # -- verify without device rollback (eventops restores) -----------------------------------
    Row(
        "verify: holds the change → disarm, applied",
        at(SWITCH, "verifying", deadline=T0 + 60),
        Got(T0 + 1, APPLIED),
        Disarm(),
        "disarming",
        Outcome("applied", "new", None, checksum(APPLIED), APPLIED),
    ),
    Row(
        "verify: commit lost its answer, but the change is there → applied with a note",
        at(SWITCH, "verifying", deadline=T0 + 60, uncertain=WHY_LOST),
        Got(T0 + 3, APPLIED),
        Disarm(),
        "disarming",
        Outcome(
            "applied",
            "new",
            f"{WHY_LOST}; the read-back shows the change",
            checksum(APPLIED),
            APPLIED,
        ),
    ),
    Row(
        "verify: commit lost its answer and nothing changed → failed at the old config",
        at(SWITCH, "verifying", deadline=T0 + 60, uncertain=WHY_LOST),
        Got(T0 + 3, OLD),
        Disarm(),
        "disarming",
        Outcome("failed", "old", f"{WHY_LOST}; the device kept its old config", checksum(OLD), OLD),
    ),
    Row(
        "verify: read-back mismatch → restore ourselves",
        at(SWITCH, "verifying", deadline=T0 + 60),
        Got(T0 + 1, NEITHER),
        Restore(previous=PREVIOUS, phase="restoring", message=WHY_DIFF),
        "restoring",
    ),
    Row(
        "verify: unreachable after the commit, until the confirm timeout → restore",
        at(SWITCH, "verifying", deadline=T0 + 60),
        gone(T0 + 60),
        Restore(previous=PREVIOUS, phase="restoring", message=WHY_GONE),
        "restoring",
    ),
    Row(
        "verify: unreachable, commit answer lost too → restore, both reasons",
        at(SWITCH, "verifying", deadline=T0 + 60, uncertain=WHY_LOST),
        gone(T0 + 60),
        Restore(previous=PREVIOUS, phase="restoring", message=f"{WHY_LOST}; {WHY_GONE}"),
        "restoring",
    ),
    Row(
        "verify: unreachable before the confirm timeout → ask again",
        at(SWITCH, "verifying", deadline=T0 + 60),
        gone(T0 + 30),
        Sleep(seconds=1.0),
        "pausing",
    ),
    Row(
        "restore: committed → read back the previous values",
        at(SWITCH, "restoring", why=WHY_DIFF),
        Done(T0 + 2),
        ReadBack(phase="verifying"),
        "restore-verifying",
    ),
    Row(
        "restore: refused → unknown, site visit",
        at(SWITCH, "restoring", why=WHY_DIFF),
        gone(T0 + 2),
        Disarm(),
        "disarming",
        Outcome(
            "unknown",
            "unknown",
            f"{WHY_DIFF}; restoring the previous config failed (sw-core: connection refused)"
            f" — {SITE_VISIT}",
        ),
    ),
    Row(
        "restore: read back at the old config → restored",
        at(SWITCH, "restore-verifying", why=WHY_DIFF, deadline=T0 + 62),
        Got(T0 + 3, OLD),
        Disarm(),
        "disarming",
        Outcome("restored", "old", f"{WHY_DIFF}; {RESTORED}", checksum(OLD), OLD),
    ),
    Row(
        "restore: read back still wrong → unknown",
        at(SWITCH, "restore-verifying", why=WHY_DIFF, deadline=T0 + 62),
        Got(T0 + 3, NEITHER),
        Disarm(),
        "disarming",
        Outcome(
            "unknown",
            "unknown",
            f"{WHY_DIFF}; restoring the previous config failed ({WHY_DIFF}) — {SITE_VISIT}",
            checksum(NEITHER),
            NEITHER,
        ),
    ),
    Row(
        "restore: unreachable until its deadline → unknown",
        at(SWITCH, "restore-verifying", why=WHY_GONE, deadline=T0 + 62),
        gone(T0 + 62),
        Disarm(),
        "disarming",
        Outcome(
            "unknown",
            "unknown",
            f"{WHY_GONE}; restoring the previous config failed ({WHY_GONE}) — {SITE_VISIT}",
        ),
    ),
    Row(
        "disarmed → finish with the outcome",
        at(SWITCH, "disarming", pending=Outcome("restored", "old", "r")),
        Done(T0 + 4),
        Finish(outcome=Outcome("restored", "old", "r")),
        "done",
    ),
    Row(
        "disarm failed (store) → the outcome stands",
        at(SWITCH, "disarming", pending=Outcome("applied", "new")),
        steps.failed(StoreError("s.db: disk I/O error"), T0 + 4),
        Finish(outcome=Outcome("applied", "new")),
        "done",
    ),
    Row(
        "discarded (armed) → disarm before finishing",
        at(SWITCH, "discarding", pending=Outcome("failed", "old", "x")),
        Done(T0),
        Disarm(),
        "disarming",
        Outcome("failed", "old", "x"),
    ),
    Row(
        "discarded (not armed) → finish",
        at(MAST, "discarding", pending=Outcome("failed", "old", "x")),
        Done(T0),
        Finish(outcome=Outcome("failed", "old", "x")),
        "done",
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_next_step(row: Row) -> None:
    state, action = steps.step(row.state, row.obs)
    assert action == row.action
    if row.then is not None:
        assert state.at == row.then
    assert state.pending == row.pending


def test_deadlines_come_from_the_observation_times() -> None:
    s, _ = steps.step(at(MAST, "staging", t0=0.0), Done(T0))
    assert s.t0 == T0
    s, _ = steps.step(s, Done(T0 + 0.5))
    assert s.deadline == T0 + 60 - MARGIN  # the confirm goes out before the device's timer
    s, _ = steps.step(at(SWITCH, "committing"), Done(T0 + 0.5))
    assert s.deadline == T0 + 60
    s, _ = steps.step(at(MAST, "rollback-wait"), Done(T0 + 61))
    assert s.deadline == T0 + 61 + 2 * 60  # recover_s defaults to twice the confirm timeout
    s, _ = steps.step(at(replace(MAST, recover_s=5.0), "rollback-wait"), Done(T0 + 61))
    assert s.deadline == T0 + 66
    s, _ = steps.step(at(SWITCH, "restoring"), Done(T0 + 70))
    assert s.deadline == T0 + 130


def test_start() -> None:
    s, a = steps.start(MAST)
    assert (s.at, a) == ("reading", Read(phase="reading"))
    s, a = steps.start(replace(MAST, has_input=False))
    assert a == Finish(outcome=Outcome("skipped", "old", "no recorded state for this device"))


def test_resume_restore_starts_at_the_restore_and_ends_disarmed() -> None:
    s, a = steps.resume_restore(SWITCH, PREVIOUS, "apply #4 never confirmed")
    assert a == Restore(previous=PREVIOUS, phase="restoring", message="apply #4 never confirmed")
    assert s.armed and s.committed
    s, a = steps.step(s, Done(1.0))
    s, a = steps.step(s, Got(2.0, OLD))
    assert isinstance(a, Disarm) and s.pending is not None
    assert s.pending.result == "restored"
    s, a = steps.step(s, Done(3.0))
    assert isinstance(a, Finish) and not s.armed


@pytest.mark.parametrize(
    ("state", "action", "result"),
    [
        (at(SWITCH, "staging"), Stage(tree=NEW), ("failed", "old")),
        (
            at(SWITCH, "committing", committed=False),
            Commit(confirm_timeout=None),
            ("unknown", "unknown"),
        ),
        (at(SWITCH, "restoring"), Restore(previous=PREVIOUS), ("unknown", "unknown")),
        (at(MAST, "verifying"), ReadBack(), ("unknown", "unknown")),
    ],
)
def test_a_crash_in_the_shell_is_unknown_once_a_commit_was_sent(
    state: State, action: steps.Action, result: tuple[str, str]
) -> None:
    o = steps.crashed(state, action, "KeyError: 'x'")
    assert (o.result, o.state) == result
    assert (o.reason or "").startswith("internal error (KeyError: 'x')")
    assert (o.reason or "").endswith(SITE_VISIT) == (result[0] == "unknown")


def test_an_observation_the_step_cannot_take_is_a_bug() -> None:
    with pytest.raises(TypeError, match="ReadOK is not expected at verifying"):
        steps.step(at(MAST, "verifying"), ReadOK(1, OLD, NEW))
    with pytest.raises(TypeError, match="at done"):
        steps.step(at(MAST, "done"), Done(1))


def walk(setup: Setup, observations: list[Observation]) -> list[steps.Action]:
    """Feed a whole run; the actions it produced, in order."""
    state, action = steps.start(setup)
    out = [action]
    for obs in observations:
        state, action = steps.step(state, obs)
        out.append(action)
    assert isinstance(action, Finish), "the run did not finish"
    return out


def test_whole_run_device_rollback_happy_path() -> None:
    change = (Change(path="interfaces.eth0.vlans", op="change"),)
    actions = walk(
        MAST,
        [
            ReadOK(0, OLD, NEW, change),
            Done(1),
            Done(2),
            Done(3),
            gone(4),
            Done(5),
            Got(6, APPLIED),
            Done(7),
        ],
    )
    assert [type(a).__name__ for a in actions] == [
        "Read", "Begin", "Stage", "Commit", "ReadBack", "Sleep", "ReadBack", "Confirm", "Finish",
    ]  # fmt: skip
    assert [a.phase for a in actions if a.phase] == [
        "reading", "staging", "committing", "verifying", "confirming",
    ]  # fmt: skip
    end = actions[-1]
    assert isinstance(end, Finish) and end.outcome.result == "applied"


def test_whole_run_switch_cut_off_then_restored() -> None:
    change = (Change(path="interfaces.eth0.vlans", op="change"),)
    # the new config cuts the switch off for the whole confirm timeout; it answers again after
    obs: list[Observation] = [ReadOK(0, OLD, NEW, change), Done(1), Done(2), Done(3), Done(3)]
    obs += [gone(3 + i) if i % 2 == 0 else Done(3 + i) for i in range(0, 60)] + [gone(63)]
    obs += [Done(64), Got(65, OLD), Done(66)]
    actions = walk(SWITCH, obs)
    kinds = [type(a).__name__ for a in actions]
    assert kinds[:5] == ["Read", "Begin", "Stage", "Arm", "Commit"]
    assert kinds[-4:] == ["Restore", "ReadBack", "Disarm", "Finish"]
    end = actions[-1]
    assert isinstance(end, Finish)
    assert end.outcome == Outcome("restored", "old", f"{WHY_GONE}; {RESTORED}", checksum(OLD), OLD)
