"""One device's apply as a pure state machine: the next step from (state, observation).

Nothing here does I/O. :func:`start` gives the first step; an I/O shell
(:meth:`eventops.provision.apply.Provisioner._apply_device`, and
:func:`eventops.provision.recovery.resume_pending_restores` for a restore a
dead process promised) performs each step's action against the driver, the
store or the clock, turns what came back into an observation stamped with
the monotonic time, and asks :func:`step` for the next step until the
action is :class:`Finish`. :func:`crashed` turns a bug in the shell into an
outcome.

The paths (each ends in a :class:`Finish` whose :class:`Outcome` says which
config the device is at: new, old or unknown):

- read the running config; unreachable or refused → ``unreachable``/``failed``
  at the old config; nothing to change → ``unchanged``;
- :class:`Begin` (record ``applying``, maintenance), :class:`Stage` the
  candidate; a refused candidate is discarded → ``failed``/``unreachable``;
- a driver whose device rolls back by itself commits with the confirm
  timeout, reads back until the deadline (the timeout less a margin),
  and confirms when every desired value is there → ``applied``. Otherwise
  it waits out the device's timer and reads the device again →
  ``rolled_back`` (old), ``applied`` (it kept the new one) or ``unknown``;
- a driver without device rollback first :class:`Arm`\\ s a restore (the
  shell persists it, so a restart can carry it out), commits plainly and
  reads back until the confirm timeout → ``applied``; otherwise it puts the
  previous values back itself (:class:`Restore`) → ``restored`` or
  ``unknown — site visit needed``. A commit that got no answer but left
  the old config in place is ``failed`` at the old config. Every end of
  this path first :class:`Disarm`\\ s the restore.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from eventops.adapters.base import Change, ConfigTree, checksum, flatten
from eventops.errors import DeviceError, DeviceUnreachable, EventOpsError, ProvisioningError
from eventops.provision.render import mismatches

Result = Literal[
    "applied", "unchanged", "rolled_back", "restored", "failed", "unreachable", "skipped", "unknown"
]
DevState = Literal["new", "old", "unknown"]
SITE_VISIT = "unknown — site visit needed"


# -- what the machine is told about the device ----------------------------------------


@dataclass(frozen=True)
class Setup:
    """The fixed facts of one device's apply."""

    device: str
    driver: str
    """The driver's name, for messages ("restconf devices cannot roll back ...")."""
    device_rollback: bool
    """The device restores itself unless confirmed (rollback_on_device and confirm_timeout)."""
    confirm_timeout_s: float
    poll_s: float
    request_timeout_s: float
    """The driver's per-request timeout (the confirm margin)."""
    recover_s: float | None = None
    """How long after its timer a device may take to answer (default: 2 × confirm timeout)."""
    has_input: bool = True
    """False: neither a profile rendering nor a recorded tree exists for the device."""


# -- actions (what the shell does next) ----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Action:
    phase: str | None = None
    """A progress phase to announce before the action (None: nothing to announce)."""
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class Read(Action):
    """Open the driver, read the running config, resolve and diff the desired tree."""


@dataclass(frozen=True, kw_only=True)
class Begin(Action):
    """Record the device as ``applying`` (with a backup) and put it into maintenance."""


@dataclass(frozen=True, kw_only=True)
class Stage(Action):
    tree: ConfigTree


@dataclass(frozen=True, kw_only=True)
class Arm(Action):
    """Persist a restore of ``previous`` due ``seconds`` from now (before the commit)."""

    previous: ConfigTree
    seconds: float


@dataclass(frozen=True, kw_only=True)
class Commit(Action):
    confirm_timeout: float | None


@dataclass(frozen=True, kw_only=True)
class ReadBack(Action):
    """Read the device's running config."""


@dataclass(frozen=True, kw_only=True)
class Confirm(Action):
    pass


@dataclass(frozen=True, kw_only=True)
class Discard(Action):
    pass


@dataclass(frozen=True, kw_only=True)
class Sleep(Action):
    seconds: float


@dataclass(frozen=True, kw_only=True)
class Restore(Action):
    """Load ``previous`` and commit it plainly (a driver without device rollback)."""

    previous: ConfigTree


@dataclass(frozen=True, kw_only=True)
class Disarm(Action):
    """Clear the persisted restore."""


@dataclass(frozen=True)
class Outcome:
    result: Result
    state: DevState
    reason: str | None = None
    checksum: str | None = None
    config: ConfigTree | None = None
    """The config last read from the device, to record (None: nothing read)."""


@dataclass(frozen=True, kw_only=True)
class Finish(Action):
    outcome: Outcome


# -- observations (what the shell saw) ------------------------------------------------


@dataclass(frozen=True)
class Done:
    """The action completed (without a value)."""

    now: float


@dataclass(frozen=True)
class ReadOK:
    now: float
    running: ConfigTree
    plain: ConfigTree
    changes: tuple[Change, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Got:
    """A config read back from the device."""

    now: float
    config: ConfigTree


FailKind = Literal["unreachable", "device", "provisioning", "other"]


@dataclass(frozen=True)
class Failed:
    now: float
    kind: FailKind
    title: str
    message: str
    """Without the device name (DeviceError.message)."""
    line: str
    """The whole error on one line."""


Observation = Done | ReadOK | Got | Failed


def failed(exc: EventOpsError, now: float) -> Failed:
    """The observation for an error the action raised."""
    kind: FailKind
    if isinstance(exc, DeviceUnreachable):
        kind = "unreachable"
    elif isinstance(exc, DeviceError):
        kind = "device"
    elif isinstance(exc, ProvisioningError):
        kind = "provisioning"
    else:
        kind = "other"
    message = exc.message if isinstance(exc, DeviceError) else exc.one_line()
    return Failed(now, kind, exc.title, message, exc.one_line())


# -- state ---------------------------------------------------------------------------

Phase = Literal[
    "reading",
    "begin",
    "staging",
    "arming",
    "committing",
    "discarding",
    "verifying",
    "confirming",
    "rollback-wait",
    "rollback-discard",
    "rollback-read",
    "restoring",
    "restore-verifying",
    "pausing",
    "disarming",
    "done",
]


@dataclass(frozen=True)
class State:
    setup: Setup
    at: Phase
    running: ConfigTree = field(default_factory=dict)
    plain: ConfigTree = field(default_factory=dict)
    previous: ConfigTree = field(default_factory=dict)
    """The running values at the paths the change touches (what a restore puts back)."""
    paths: tuple[str, ...] = ()
    changes: tuple[Change, ...] = ()
    notes: tuple[str, ...] = ()
    before: str | None = None
    committed: bool = False
    """The commit was sent: from here the device may be at the new config."""
    armed: bool = False
    uncertain: str | None = None
    """Why the commit's effect is unknown (it got no answer)."""
    why: str = ""
    """Why the change is being undone."""
    t0: float = 0.0
    """Monotonic time the commit was sent."""
    deadline: float = 0.0
    readback: ConfigTree | None = None
    last: str = ""
    then: Phase = "verifying"
    """Where a pause resumes."""
    pending: Outcome | None = None
    """The outcome to finish with once a discard or disarm is done."""


Step = tuple[State, Action]


def subset(running: Mapping[str, Any], plain: Mapping[str, Any]) -> ConfigTree:
    """The running values at the paths the change touches (for a restore)."""
    out: dict[str, Any] = {}
    for k, v in plain.items():
        if k not in running:
            continue
        if isinstance(v, Mapping) and isinstance(running[k], Mapping):
            sub = subset(running[k], v)
            if sub:
                out[k] = sub
        elif not isinstance(v, Mapping):
            out[k] = running[k]
    return out


def holds(readback: ConfigTree, reference: ConfigTree, paths: tuple[str, ...]) -> bool:
    """The read-back has the reference's value at every path."""
    a, b = flatten(readback), flatten(reference)
    return all(a.get(p) == b.get(p) for p in paths)


def _differs(wrong: list[str]) -> str:
    shown = ", ".join(wrong[:3]) + (" ..." if len(wrong) > 3 else "")
    return f"read-back config differs at {shown}"


# -- transitions ---------------------------------------------------------------------


def start(setup: Setup) -> Step:
    s = State(setup, "reading")
    if not setup.has_input:
        return _finish(s, Outcome("skipped", "old", "no recorded state for this device"))
    return s, Read(phase="reading")


def resume_restore(setup: Setup, previous: ConfigTree, why: str) -> Step:
    """Start at "put the previous values back" (a restore a dead process left armed)."""
    paths = tuple(p for p in flatten(previous) if not p.endswith("..type"))
    s = State(
        setup, "restoring", previous=previous, paths=paths, committed=True, armed=True, why=why
    )
    return s, Restore(previous=previous, phase="restoring", message=why)


def crashed(state: State, action: Action, error: str) -> Outcome:
    """The outcome when the shell failed while doing ``action`` (a bug costs one device).

    From the moment a commit is sent, the device may be at the new config."""
    if state.committed or isinstance(action, Commit | Restore):
        return Outcome("unknown", "unknown", f"internal error ({error}) — {SITE_VISIT}")
    return Outcome("failed", "old", f"internal error ({error})")


def _finish(s: State, outcome: Outcome) -> Step:
    if s.armed:
        return replace(s, at="disarming", pending=outcome), Disarm()
    return replace(s, at="done"), Finish(outcome=outcome)


def _unexpected(s: State, obs: Observation) -> TypeError:
    return TypeError(f"apply of {s.setup.device}: {type(obs).__name__} is not expected at {s.at}")


def step(s: State, obs: Observation) -> Step:
    """The next step after ``obs``, the observation of the last action's effect."""
    handler = _HANDLERS.get(s.at)
    if handler is None:
        raise _unexpected(s, obs)
    return handler(s, obs)


def _reading(s: State, obs: Observation) -> Step:
    if isinstance(obs, Failed):
        if obs.kind == "unreachable":
            return _finish(s, Outcome("unreachable", "old", obs.line))
        return _finish(s, Outcome("failed", "old", f"{obs.title}: {obs.line}"))
    if not isinstance(obs, ReadOK):
        raise _unexpected(s, obs)
    before = checksum(obs.running)
    s = replace(
        s,
        running=obs.running,
        plain=obs.plain,
        previous=subset(obs.running, obs.plain),
        paths=tuple(p for p in flatten(obs.plain) if not p.endswith("..type")),
        changes=obs.changes,
        notes=obs.notes,
        before=before,
    )
    if not obs.changes:
        return _finish(s, Outcome("unchanged", "new", None, before, obs.running))
    return replace(s, at="begin"), Begin()


def _begin(s: State, obs: Observation) -> Step:
    if isinstance(obs, Failed):
        return _finish(s, Outcome("failed", "old", f"{obs.title}: {obs.line}", s.before))
    return replace(s, at="staging"), Stage(tree=s.plain, phase="staging")


def _commit(s: State, now: float) -> Step:
    timeout = s.setup.confirm_timeout_s if s.setup.device_rollback else None
    return replace(s, at="committing", t0=now), Commit(confirm_timeout=timeout, phase="committing")


def _staging(s: State, obs: Observation) -> Step:
    if isinstance(obs, Failed):
        if obs.kind == "unreachable":
            o = Outcome("unreachable", "old", obs.line, s.before)
        else:
            o = Outcome("failed", "old", f"{obs.title}: {obs.line}", s.before)
        return replace(s, at="discarding", pending=o), Discard()
    if s.setup.device_rollback:
        return _commit(s, obs.now)
    return replace(s, at="arming"), Arm(previous=s.previous, seconds=s.setup.confirm_timeout_s)


def _arming(s: State, obs: Observation) -> Step:
    if isinstance(obs, Failed):
        # Without a persisted restore a crash could leave the change unconfirmed for good.
        reason = f"not changed: the restore could not be armed ({obs.line})"
        o = Outcome("failed", "old", reason, s.before)
        return replace(s, at="discarding", pending=o), Discard()
    return _commit(replace(s, armed=True), obs.now)


def _discarding(s: State, obs: Observation) -> Step:
    assert s.pending is not None
    return _finish(replace(s, pending=None), s.pending)


def _committing(s: State, obs: Observation) -> Step:
    s = replace(s, committed=True)
    if isinstance(obs, Failed):
        if obs.kind != "unreachable":
            o = Outcome("failed", "old", f"{obs.title}: {obs.line}", s.before)
            return replace(s, at="discarding", pending=o), Discard()
        # The device may have taken the change and lost only its answer.
        s = replace(s, uncertain=f"the commit got no answer ({obs.message})")
        if s.setup.device_rollback:
            return _roll_back(s, s.uncertain or "", obs.now)
    timeout = s.setup.confirm_timeout_s
    if s.setup.device_rollback:
        margin = min(timeout / 2, 2 * s.setup.request_timeout_s + s.setup.poll_s)
        deadline = s.t0 + timeout - margin
    else:
        deadline = s.t0 + timeout
    return replace(s, at="verifying", deadline=deadline), ReadBack(phase="verifying")


def _verified(
    s: State, obs: Observation, target: ConfigTree
) -> tuple[Literal["ok", "fail", "retry"], str, ConfigTree | None]:
    """One read-back of a verify loop: matches, failed (why, read-back) or ask again."""
    if isinstance(obs, Got):
        wrong = mismatches(obs.config, target)
        if wrong:
            return "fail", _differs(wrong), obs.config
        return "ok", "", obs.config
    if not isinstance(obs, Failed):
        raise _unexpected(s, obs)
    if obs.kind == "unreachable":
        if obs.now >= s.deadline:
            return "fail", f"did not answer after the change ({obs.message})", None
        return "retry", "", None
    return "fail", f"could not read the config back ({obs.line})", None


def _pause(s: State, then: Phase) -> Step:
    return replace(s, at="pausing", then=then), Sleep(seconds=s.setup.poll_s)


def _verifying(s: State, obs: Observation) -> Step:
    verdict, why, readback = _verified(s, obs, s.plain)
    if verdict == "retry":
        return _pause(s, "verifying")
    if s.setup.device_rollback:
        if verdict == "ok":
            return replace(s, at="confirming", readback=readback), Confirm(phase="confirming")
        return _roll_back(s, why, obs.now)
    if verdict == "ok":
        assert readback is not None
        note = f"{s.uncertain}; the read-back shows the change" if s.uncertain else None
        return _finish(s, Outcome("applied", "new", note, checksum(readback), readback))
    if s.uncertain and readback is not None and holds(readback, s.running, s.paths):
        reason = f"{s.uncertain}; the device kept its old config"
        return _finish(s, Outcome("failed", "old", reason, checksum(readback), readback))
    if s.uncertain:
        why = f"{s.uncertain}; {why}"
    return replace(s, at="restoring", why=why), Restore(
        previous=s.previous, phase="restoring", message=why
    )


def _confirming(s: State, obs: Observation) -> Step:
    if isinstance(obs, Failed):
        return _roll_back(s, f"confirm failed ({obs.line})", obs.now)
    assert s.readback is not None
    return _finish(s, Outcome("applied", "new", None, checksum(s.readback), s.readback))


def _roll_back(s: State, why: str, now: float) -> Step:
    """Let the device's timer restore it, then see what it holds."""
    s = replace(s, why=why, last="it did not answer after its rollback timer")
    wait = s.t0 + s.setup.confirm_timeout_s - now
    if wait > 0:
        return replace(s, at="rollback-wait"), Sleep(
            seconds=wait + min(1.0, s.setup.poll_s), phase="rolling-back", message=why
        )
    return replace(s, at="rollback-discard", deadline=now + _recover(s)), Discard(
        phase="rolling-back", message=why
    )


def _recover(s: State) -> float:
    r = s.setup.recover_s
    return r if r is not None else 2 * s.setup.confirm_timeout_s


def _rollback_wait(s: State, obs: Observation) -> Step:
    # rpcd puts a rolled-back change back into the session's staging: discard it first.
    return replace(s, at="rollback-discard", deadline=obs.now + _recover(s)), Discard()


def _rollback_retry(s: State, obs: Failed) -> Step:
    last = f"it did not answer after its rollback timer ({obs.message})"
    s = replace(s, last=last)
    if obs.now >= s.deadline:
        return _finish(s, Outcome("unknown", "unknown", f"{s.why}; {last} — {SITE_VISIT}"))
    return _pause(s, "rollback-discard")


def _rollback_discard(s: State, obs: Observation) -> Step:
    if isinstance(obs, Failed) and obs.kind != "provisioning":
        return _rollback_retry(s, obs)
    return replace(s, at="rollback-read"), ReadBack()


def _rollback_read(s: State, obs: Observation) -> Step:
    if isinstance(obs, Failed):
        return _rollback_retry(s, obs)
    if not isinstance(obs, Got):
        raise _unexpected(s, obs)
    cs = checksum(obs.config)
    if holds(obs.config, s.running, s.paths):
        reason = f"{s.why}; the device's rollback timer restored it"
        return _finish(s, Outcome("rolled_back", "old", reason, cs, obs.config))
    if not mismatches(obs.config, s.plain):
        reason = f"{s.why}; but it kept the new config"
        return _finish(s, Outcome("applied", "new", reason, cs, obs.config))
    reason = f"{s.why}; after its rollback timer it holds neither config — {SITE_VISIT}"
    return _finish(s, Outcome("unknown", "unknown", reason, cs, obs.config))


def _restoring(s: State, obs: Observation) -> Step:
    if isinstance(obs, Failed):
        reason = f"{s.why}; restoring the previous config failed ({obs.line}) — {SITE_VISIT}"
        return _finish(s, Outcome("unknown", "unknown", reason))
    deadline = obs.now + s.setup.confirm_timeout_s
    return replace(s, at="restore-verifying", deadline=deadline), ReadBack(phase="verifying")


def _restore_verifying(s: State, obs: Observation) -> Step:
    verdict, why, readback = _verified(s, obs, s.previous)
    if verdict == "retry":
        return _pause(s, "restore-verifying")
    cs = checksum(readback) if readback is not None else None
    if verdict == "ok":
        reason = (
            f"{s.why}; {s.setup.driver} devices cannot roll back by themselves: "
            "eventops restored the previous config"
        )
        return _finish(s, Outcome("restored", "old", reason, cs, readback))
    reason = f"{s.why}; restoring the previous config failed ({why}) — {SITE_VISIT}"
    return _finish(s, Outcome("unknown", "unknown", reason, cs, readback))


def _pausing(s: State, obs: Observation) -> Step:
    if s.then == "rollback-discard":
        return replace(s, at="rollback-discard"), Discard()
    return replace(s, at=s.then), ReadBack()


def _disarming(s: State, obs: Observation) -> Step:
    assert s.pending is not None
    # A failed disarm is the shell's to log; the outcome stands.
    return replace(s, at="done", armed=False, pending=None), Finish(outcome=s.pending)


_HANDLERS = {
    "reading": _reading,
    "begin": _begin,
    "staging": _staging,
    "arming": _arming,
    "committing": _committing,
    "discarding": _discarding,
    "verifying": _verifying,
    "confirming": _confirming,
    "rollback-wait": _rollback_wait,
    "rollback-discard": _rollback_discard,
    "rollback-read": _rollback_read,
    "restoring": _restoring,
    "restore-verifying": _restore_verifying,
    "pausing": _pausing,
    "disarming": _disarming,
}
