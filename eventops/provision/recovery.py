"""After a crash: close the applies a dead process left running, keep its promises.

A process that dies mid-apply (SIGKILL, power, OOM) leaves two things behind:

- its apply recorded as ``running`` with device rows ``applying``.
  :func:`reconcile_interrupted` closes each such apply as ``interrupted``
  (``finished_at`` set, one audit entry) and says per device what is known:
  finished devices keep their result, the ones being changed become
  ``interrupted`` with what will happen to them, the ones never started
  ``skipped``. It takes each apply's site locks first, so an apply that is
  still alive in another process (it holds them) is left alone;
- a change to a device that cannot roll back by itself (RESTCONF switches):
  before committing, the apply arms a restore of the previous values in
  the store (:func:`arm`), and clears it when it confirms or restores
  (:func:`disarm`). :func:`resume_pending_restores` carries out each restore
  still armed at its deadline (at once if past), under the site lock, and
  records and audits what the device ended at; :func:`watch_pending_restores`
  does the same for the engine's lifetime, including restores armed later.

An apply that is cancelled (engine shutdown) is closed the same way
(:func:`close_interrupted`); its armed restores stay for the next start. An
apply starting on a site first closes what dead applies left there and
carries out their restores on its devices (:func:`restore_now`).

At engine start (see the module's wiring note in the merge report)::

    await reconcile_interrupted(store, lock_dir, clock=clock)
    supervise(watch_pending_restores(store, driver_for_id, clock, lock_dir=lock_dir))

The restore runs through the same pure steps as an apply
(:func:`eventops.provision.steps.resume_restore`); :func:`perform` is the
device half of the I/O shell both use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from eventops import timefmt
from eventops.adapters.base import SECRET_KEYS, ConfigTree, DeviceDriver, flatten
from eventops.clock import Clock
from eventops.errors import EventOpsError, LockBusy
from eventops.provision import steps
from eventops.provision.lock import SiteLock
from eventops.provision.render import redact
from eventops.store.base import OpsTx, Store
from eventops.store.models import ApplyDeviceRow, ApplyRow, PendingRestoreRow

log = logging.getLogger(__name__)

RestoreDriverFactory = Callable[[str], DeviceDriver]
"""A driver for a device id (raises KeyError for a device no longer in the profile)."""


class DeviceState(BaseModel):
    device: str
    result: str
    state: str | None = None
    reason: str | None = None


class Interrupted(BaseModel):
    """An apply closed by :func:`reconcile_interrupted`."""

    apply_id: int
    kind: str
    actor: str
    devices: list[DeviceState]
    note: str
    """One line: "apply #3 by technik was interrupted while changing sw-core; ..."."""


class RestoreOutcome(BaseModel):
    device: str
    apply_id: int
    result: steps.Result
    state: steps.DevState
    reason: str | None = None
    checksum: str | None = None


# -- the device half of the step shell ------------------------------------------------


async def perform(drv: DeviceDriver, clock: Clock, action: steps.Action) -> steps.Observation:
    """Carry out a device or clock action; what happened, as an observation."""
    try:
        match action:
            case steps.Stage(tree=tree):
                await drv.load_candidate(tree)
            case steps.Commit(confirm_timeout=timeout):
                await drv.commit(confirm_timeout=timeout)
            case steps.ReadBack():
                config = await drv.get_config()
                return steps.Got(clock.monotonic(), config)
            case steps.Confirm():
                await drv.confirm()
            case steps.Discard():
                await drv.discard()
            case steps.Sleep(seconds=seconds):
                await clock.sleep(seconds)
            case steps.Restore(previous=previous):
                await drv.load_candidate(previous)
                await drv.commit()
            case _:
                raise TypeError(f"{type(action).__name__} is not a device action")
    except EventOpsError as exc:
        return steps.failed(exc, clock.monotonic())
    return steps.Done(clock.monotonic())


# -- arming -----------------------------------------------------------------------------


def _withhold(tree: Mapping[str, Any], secrets: Collection[str]) -> tuple[ConfigTree, list[str]]:
    """``tree`` without secret leaves (never stored), and the paths left out."""
    withheld: list[str] = []

    def walk(node: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in node.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, Mapping):
                sub = walk(v, path)
                if sub:
                    out[k] = sub
            elif path in secrets or k in SECRET_KEYS:
                withheld.append(path)
            else:
                out[k] = v
        return out

    return walk(tree, ""), sorted(withheld)


async def arm(
    store: Store,
    *,
    device: str,
    site: str,
    apply_id: int,
    driver: str,
    previous: ConfigTree,
    secrets: Collection[str],
    now: datetime,
    seconds: float,
) -> None:
    """Persist the restore of ``previous`` due ``seconds`` after ``now`` (before a commit)."""
    kept, withheld = _withhold(previous, secrets)
    await store.arm_restore(
        PendingRestoreRow(
            device=device,
            site=site,
            apply_id=apply_id,
            driver=driver,
            armed_at=now,
            deadline=now + timedelta(seconds=seconds),
            previous=kept,
            withheld=withheld,
        )
    )


async def disarm(store: Store, device: str, apply_id: int) -> None:
    await store.clear_restore(device, apply_id)


# -- reconcile ------------------------------------------------------------------------


async def reconcile_interrupted(
    store: Store,
    lock_dir: Path,
    *,
    clock: Clock,
    actor: str = "eventops",
    held: Collection[str] | None = None,
    tz: tzinfo = UTC,
) -> list[Interrupted]:
    """Close every apply a dead process left running; what was closed, oldest first.

    ``held``: sites whose locks the caller already holds (an apply starting):
    only applies touching them are closed, without locking again. Otherwise
    each apply is closed under its own sites' locks, and one whose sites are
    locked (alive in another process) is left running.
    """
    out: list[Interrupted] = []
    for row in await store.unfinished_applies():
        if row.id is None or row.summary.get("state") != "running":
            continue
        sites = sorted({str(s) for s in row.summary.get("sites", [])})
        closed: Interrupted | None = None
        if held is not None:
            if set(sites) & set(held):
                closed = await close_interrupted(store, row.id, clock=clock, actor=actor, tz=tz)
        else:
            try:
                async with SiteLock(lock_dir, sites, actor=actor, purpose="reconcile", tz=tz):
                    closed = await close_interrupted(store, row.id, clock=clock, actor=actor, tz=tz)
            except LockBusy:
                log.info("apply #%s is still running in another process", row.id)
        if closed is not None:
            out.append(closed)
    return out


async def close_interrupted(
    store: Store,
    apply_id: int,
    *,
    clock: Clock,
    actor: str = "eventops",
    tz: tzinfo = UTC,
) -> Interrupted | None:
    """Close one apply as interrupted: finished now, each device with what is known, audited.

    The check that it is still open, the rows and the audit entry are one
    transaction; None when it was closed already (another process reconciled it).
    The caller makes sure no live process runs it (holds its site locks, or is
    the process that ran it and was cancelled)."""
    pending = {p.device: p for p in await store.pending_restores()}

    async def tx_body(tx: OpsTx) -> Interrupted | None:
        found = await tx.get_apply(apply_id)
        if found is None or found[0].finished_at is not None:
            return None
        return await _close(tx, found[0], found[1], pending, clock.now(), actor, tz)

    return await store.ops_transaction(tx_body)


async def _close(
    tx: OpsTx,
    row: ApplyRow,
    rows: list[ApplyDeviceRow],
    pending: Mapping[str, PendingRestoreRow],
    now: datetime,
    actor: str,
    tz: tzinfo,
) -> Interrupted:
    apply_id = row.id
    assert apply_id is not None
    summary = row.summary
    kind = str(summary.get("kind", "apply"))
    recorded = {r.device: r for r in rows}
    devices: list[DeviceState] = []
    updates: list[ApplyDeviceRow] = []
    left: list[str] = []
    for dev in [str(d) for d in summary.get("devices", [])] or sorted(recorded):
        r = recorded.get(dev)
        if r is None:
            reason = "not started: the process running the apply died first"
            updates.append(
                ApplyDeviceRow(
                    device=dev, result="skipped", detail={"state": "old", "reason": reason}
                )
            )
            devices.append(DeviceState(device=dev, result="skipped", state="old", reason=reason))
        elif r.result == "applying":
            left.append(dev)
            p = pending.get(dev)
            if p is not None and p.apply_id == apply_id:
                reason = (
                    "interrupted while changing it; eventops restores its previous config at "
                    f"{timefmt.stamp(p.deadline, tz)}, the end of its confirm timeout"
                )
            elif r.detail.get("rollback") == "device":
                reason = (
                    "interrupted while changing it; an unconfirmed change is undone by the "
                    "device's own rollback timer"
                )
            else:
                reason = "interrupted while changing it; its config is unknown until read again"
            detail = {**r.detail, "state": "unknown", "reason": reason}
            updates.append(r.model_copy(update={"result": "interrupted", "detail": detail}))
            devices.append(
                DeviceState(device=dev, result="interrupted", state="unknown", reason=reason)
            )
        else:
            st, why = r.detail.get("state"), r.detail.get("reason")
            devices.append(
                DeviceState(
                    device=dev,
                    result=r.result,
                    state=str(st) if st is not None else None,
                    reason=str(why) if why is not None else None,
                )
            )
    counts: dict[str, int] = {}
    for d in devices:
        counts[d.result] = counts.get(d.result, 0) + 1
    closed = ApplyRow(
        id=apply_id,
        started_at=row.started_at,
        finished_at=now,
        actor=row.actor,
        summary={**summary, "state": "interrupted", "counts": counts},
    )
    await tx.record_apply(closed, updates)
    note = f"{kind} #{apply_id} by {row.actor} was interrupted"
    if left:
        note += f" while changing {', '.join(left)}; they are taken as they are now"
    await tx.audit(
        actor,
        f"provision.{kind}.interrupted",
        str(summary.get("event", "")),
        after={
            "apply_id": apply_id,
            "actor": row.actor,
            "devices": [d.model_dump() for d in devices],
        },
    )
    return Interrupted(apply_id=apply_id, kind=kind, actor=row.actor, devices=devices, note=note)


# -- pending restores -------------------------------------------------------------------


async def resume_pending_restores(
    store: Store,
    driver_factory: RestoreDriverFactory,
    clock: Clock,
    *,
    lock_dir: Path | None = None,
    poll_s: float = 1.0,
    verify_s: float = 30.0,
    actor: str = "eventops",
) -> list[RestoreOutcome]:
    """Carry out every armed restore at its deadline (at once if past); the outcomes.

    Each restore runs under its site's lock (when ``lock_dir`` is given): while
    a live apply holds the site, it is that apply's to confirm or restore, and
    this waits (``poll_s``) until the lock is free, then carries the restore
    out only if it is still armed. ``verify_s``: how long the device may take
    to show the previous values again.
    """
    pending = await store.pending_restores()
    found = await asyncio.gather(
        *(
            _at_deadline(store, p, driver_factory, clock, lock_dir, poll_s, verify_s, actor=actor)
            for p in pending
        )
    )
    return [o for o in found if o is not None]


async def watch_pending_restores(
    store: Store,
    driver_factory: RestoreDriverFactory,
    clock: Clock,
    *,
    lock_dir: Path | None,
    every_s: float = 30.0,
    poll_s: float = 1.0,
    verify_s: float = 30.0,
    actor: str = "eventops",
    on_outcome: Callable[[RestoreOutcome], None] | None = None,
) -> None:
    """For the engine's lifetime: every ``every_s``, give each newly armed restore a task
    that carries it out at its deadline (as :func:`resume_pending_restores` does).

    Restores armed by live applies (this process or another) are waited on
    and then dropped when their apply confirmed or restored; restores left by
    a process that died while this one runs are carried out. ``on_outcome``
    hears every restore carried out. An error (the store) ends the watch: run
    it under a supervisor that restarts it.
    """
    tasks: dict[tuple[str, int, datetime], asyncio.Task[RestoreOutcome | None]] = {}
    try:
        while True:
            for key, task in list(tasks.items()):
                if task.done():
                    del tasks[key]
                    out = task.result()
                    if out is not None and on_outcome is not None:
                        on_outcome(out)
            for p in await store.pending_restores():
                key = (p.device, p.apply_id, p.armed_at)
                if key not in tasks:
                    tasks[key] = asyncio.create_task(
                        _at_deadline(
                            store, p, driver_factory, clock, lock_dir, poll_s, verify_s, actor=actor
                        ),
                        name=f"restore:{p.device}",
                    )
            await clock.sleep(every_s)
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)


async def _at_deadline(
    store: Store,
    p: PendingRestoreRow,
    driver_factory: RestoreDriverFactory,
    clock: Clock,
    lock_dir: Path | None,
    poll_s: float,
    verify_s: float,
    *,
    actor: str,
) -> RestoreOutcome | None:
    wait = (p.deadline - clock.now()).total_seconds()
    if wait > 0:
        await clock.sleep(wait)
    while True:
        lock: contextlib.AbstractAsyncContextManager[Any] = (
            SiteLock(lock_dir, [p.site], actor=actor, purpose="restore")
            if lock_dir is not None
            else contextlib.nullcontext()
        )
        try:
            async with lock:
                current = {q.device: q for q in await store.pending_restores()}.get(p.device)
                if current is None or (current.apply_id, current.armed_at) != (
                    p.apply_id,
                    p.armed_at,
                ):
                    return None  # confirmed, restored or re-armed by a live apply meanwhile
                return await carry_out(
                    store, current, driver_factory, clock, poll_s, verify_s, actor=actor
                )
        except LockBusy:
            await clock.sleep(poll_s)


async def restore_now(
    store: Store,
    devices: Collection[str],
    driver_factory: RestoreDriverFactory,
    clock: Clock,
    *,
    poll_s: float = 1.0,
    verify_s: float = 30.0,
    actor: str = "eventops",
) -> list[RestoreOutcome]:
    """Carry out the armed restores of ``devices`` now (the caller holds their site locks).

    An apply does this first: a change a dead apply left unconfirmed is undone
    before the device is read and changed again.
    """
    out = []
    for p in await store.pending_restores():
        if p.device in devices:
            out.append(
                await carry_out(store, p, driver_factory, clock, poll_s, verify_s, actor=actor)
            )
    return out


async def carry_out(
    store: Store,
    p: PendingRestoreRow,
    driver_factory: RestoreDriverFactory,
    clock: Clock,
    poll_s: float,
    verify_s: float,
    *,
    actor: str,
) -> RestoreOutcome:
    """Put the previous values back, read them back, record, audit, and clear the restore."""
    why = f"apply #{p.apply_id} was interrupted before it confirmed the change"
    try:
        drv = driver_factory(p.device)
    except (KeyError, EventOpsError) as exc:
        cause = (
            "it is no longer in the profile"
            if isinstance(exc, KeyError)
            else f"no driver: {exc.one_line()}"
        )
        outcome = steps.Outcome(
            "unknown", "unknown", f"{why}; cannot restore it ({cause}) — {steps.SITE_VISIT}"
        )
        await _settle(store, p, outcome, actor)
        return _result(p, outcome)
    setup = steps.Setup(
        device=p.device,
        driver=drv.name,
        device_rollback=False,
        confirm_timeout_s=verify_s,
        poll_s=poll_s,
        request_timeout_s=drv.timeout,
    )
    state, action = steps.resume_restore(setup, p.previous, why)
    try:
        try:
            await drv.open()
        except EventOpsError as exc:
            state, action = steps.step(state, steps.failed(exc, clock.monotonic()))
        while not isinstance(action, steps.Finish):
            if isinstance(action, steps.Disarm):
                assert state.pending is not None
                await _settle(store, p, state.pending, actor)
                state, action = steps.step(state, steps.Done(clock.monotonic()))
                continue
            state, action = steps.step(state, await perform(drv, clock, action))
    finally:
        with contextlib.suppress(Exception):
            await drv.close()
    return _result(p, action.outcome)


def _result(p: PendingRestoreRow, o: steps.Outcome) -> RestoreOutcome:
    reason = o.reason
    if p.withheld and o.result == "restored":
        reason = f"{reason}; {len(p.withheld)} secret value(s) were not kept and stay changed"
    return RestoreOutcome(
        device=p.device,
        apply_id=p.apply_id,
        result=o.result,
        state=o.state,
        reason=reason,
        checksum=o.checksum,
    )


async def _settle(store: Store, p: PendingRestoreRow, o: steps.Outcome, actor: str) -> None:
    """Record what the device ended at on its apply, audit it and clear the restore: one
    transaction, so a crash never leaves a restore done but unrecorded (and carried out
    twice) or recorded without its audit entry."""
    res = _result(p, o)

    async def tx_body(tx: OpsTx) -> None:
        found = await tx.get_apply(p.apply_id)
        if found is not None:
            row, rows = found
            old = next((r for r in rows if r.device == p.device), None)
            detail: dict[str, Any] = {
                **(old.detail if old else {}),
                "state": res.state,
                "reason": res.reason,
            }
            if o.config is not None:
                detail["config"] = redact(o.config)
            await tx.record_apply(
                row,
                [
                    ApplyDeviceRow(
                        device=p.device, result=res.result, checksum=res.checksum, detail=detail
                    )
                ],
            )
        await tx.audit(
            actor,
            "provision.restore",
            p.device,
            before={
                "apply_id": p.apply_id,
                "deadline": p.deadline.isoformat(),
                "paths": sorted(flatten(p.previous)),
            },
            after=res.model_dump(mode="json"),
        )
        await tx.clear_restore(p.device, p.apply_id)

    await store.ops_transaction(tx_body)
