"""Plan, apply (confirm or roll back), drift and rollback to a recorded apply.

:class:`Provisioner` works on the driver verbs only (get_config,
load_candidate, commit with a confirm timeout, confirm, discard, rollback),
so every device family that has a driver can be provisioned.

Apply, per device, in dependency order (:mod:`eventops.provision.order`)
with bounded concurrency and under the site lock:

1. read the running config, resolve the desired tree against it, diff;
   nothing to change → ``unchanged``;
2. record the device as ``applying`` (with its original config as a backup
   the first time eventops changes it), put it into maintenance;
3. stage the candidate and commit:

   - a driver whose device rolls back by itself commits with the device's
     rollback timer, then waits until the device answers again and its
     read-back config holds every desired value, and only then confirms.
     Otherwise it lets the timer fire, checks the device came back with
     its old config, and reports ``rolled_back`` with the reason;
   - a driver without device-side rollback commits plainly, verifies the
     same way, and on failure restores the previous values itself
     (``restored``); if even that fails the device's state is
     ``unknown — site visit needed``.

Every result says which config the device ends at (``state``: new, old or
unknown). Checksums are computed here over the config read back from the
device (:func:`eventops.adapters.base.checksum`). Secrets are read only
right before a driver needs them and never reach a diff, a record or a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import aiohttp
from pydantic import BaseModel, Field

from eventops.adapters.base import (
    Change,
    ConfigTree,
    DeviceDriver,
    DriverFactory,
    checksum,
    driver_for,
    flatten,
)
from eventops.clock import Clock, SystemClock
from eventops.errors import (
    DeviceError,
    DeviceUnreachable,
    EventOpsError,
    ProvisioningError,
)
from eventops.profile.models import Mast, Profile, Switch
from eventops.provision.lock import SiteLock
from eventops.provision.order import dependencies
from eventops.provision.render import (
    Desired,
    from_record,
    materialise,
    mismatches,
    redact,
    redacted_diff,
    render,
    resolve,
    resolved_dfs,
    secret_paths,
    to_record,
)
from eventops.store.base import Store
from eventops.store.models import ApplyDeviceRow, ApplyRow

log = logging.getLogger(__name__)

Result = Literal[
    "applied", "unchanged", "rolled_back", "restored", "failed", "unreachable", "skipped", "unknown"
]
State = Literal["new", "old", "unknown"]
SITE_VISIT = "unknown — site visit needed"


# -- progress and maintenance hooks --------------------------------------------


@dataclass(frozen=True)
class ProgressEvent:
    """One step of a plan or apply, for a progress bar or the engine's event stream."""

    phase: str
    """reading, planned, waiting, staging, committing, verifying, confirming,
    rolling-back, restoring, done; ``start``/``finish`` for the whole run."""
    device: str | None = None
    message: str = ""
    done: int = 0
    total: int = 0
    result: str | None = None
    apply_id: int | None = None
    """Set on ``start``: the id the apply is recorded under."""


Progress = Callable[[ProgressEvent], None]


class Maintenance(Protocol):
    """Devices under apply are in maintenance: the monitor raises no alerts for them."""

    async def enter(self, device: str, reason: str) -> None: ...

    async def leave(self, device: str) -> None: ...


class NoMaintenance:
    async def enter(self, device: str, reason: str) -> None:
        return None

    async def leave(self, device: str) -> None:
        return None


class ProgressQueue:
    """A progress callback that feeds an asyncio queue (an event stream for an API)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[ProgressEvent] = asyncio.Queue()

    def __call__(self, event: ProgressEvent) -> None:
        self.queue.put_nowait(event)


# -- reports -----------------------------------------------------------------


class DevicePlan(BaseModel):
    device: str
    kind: str
    site: str | None = None
    state: Literal["change", "unchanged", "unreachable", "error"]
    changes: list[Change] = Field(default_factory=list)
    checksum: str | None = None
    """Of the running config as read now."""
    reason: str | None = None
    notes: list[str] = Field(default_factory=list)

    def render(self) -> str:
        return "\n".join(c.render() for c in self.changes)


class PlanReport(BaseModel):
    devices: list[DevicePlan]
    waves: list[list[str]]
    notes: list[str] = Field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(1 for d in self.devices if d.state == state)

    def summary(self) -> str:
        parts = [
            f"{self.count('change')} to change",
            f"{self.count('unchanged')} unchanged",
            f"{self.count('unreachable')} unreachable",
        ]
        if self.count("error"):
            parts.append(f"{self.count('error')} with errors")
        return ", ".join(parts)


class DeviceResult(BaseModel):
    device: str
    result: Result
    state: State
    """Which config the device ends at: the new one, the old one, or unknown."""
    reason: str | None = None
    changes: list[Change] = Field(default_factory=list)
    checksum: str | None = None
    """Of the config read back from the device at the end."""
    notes: list[str] = Field(default_factory=list)


class ApplyReport(BaseModel):
    apply_id: int
    kind: Literal["apply", "rollback"] = "apply"
    rollback_of: int | None = None
    actor: str
    started_at: datetime
    finished_at: datetime | None = None
    devices: list[DeviceResult] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.devices:
            out[d.result] = out.get(d.result, 0) + 1
        return out

    @property
    def ok(self) -> bool:
        return all(d.result in ("applied", "unchanged") for d in self.devices)

    def summary(self) -> str:
        c = self.counts()
        order = [
            "applied",
            "unchanged",
            "rolled_back",
            "restored",
            "failed",
            "unreachable",
            "skipped",
            "unknown",
        ]
        parts = [f"{c[k]} {k.replace('_', ' ')}" for k in order if c.get(k)]
        new = sum(1 for d in self.devices if d.state == "new")
        old = sum(1 for d in self.devices if d.state == "old")
        unknown = sum(1 for d in self.devices if d.state == "unknown")
        tail = f"{new} at the new config, {old} at the old one"
        if unknown:
            tail += f", {unknown} unknown (site visit needed)"
        return f"{', '.join(parts) or 'nothing to do'} — {tail}"


class DriftRow(BaseModel):
    device: str
    state: Literal["in-sync", "drifted", "never-applied", "unreachable", "error"]
    apply_id: int | None = None
    recorded: str | None = None
    running: str | None = None
    changes: list[Change] = Field(default_factory=list)
    reason: str | None = None


@dataclass(frozen=True)
class ApplyOptions:
    confirm_timeout_s: float = 60.0
    """The device's rollback timer; the change is confirmed well within it."""
    poll_s: float = 1.0
    """How often to ask a device that does not answer (yet)."""
    recover_s: float | None = None
    """How long after its rollback timer a device may take to answer again
    (default: twice the confirm timeout)."""
    concurrency: int = 32
    device_timeout_s: float | None = None
    """Per-request timeout; default the device's ``management.timeout_s``."""


# -- helpers -------------------------------------------------------------------


def _kind(dev: Mast | Switch) -> str:
    return "mast" if isinstance(dev, Mast) else dev.kind


def _changes_json(changes: list[Change]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in changes]


def _subset(running: ConfigTree, plain: Mapping[str, Any]) -> ConfigTree:
    """The running values at the paths the change touched (for a restore)."""
    out: dict[str, Any] = {}
    for k, v in plain.items():
        if k not in running:
            continue
        if isinstance(v, Mapping) and isinstance(running[k], Mapping):
            sub = _subset(running[k], v)
            if sub:
                out[k] = sub
        elif not isinstance(v, Mapping):
            out[k] = running[k]
    return out


def _at(readback: ConfigTree, reference: ConfigTree, paths: list[str]) -> bool:
    a, b = flatten(readback), flatten(reference)
    return all(a.get(p) == b.get(p) for p in paths)


def tree_changes(device: str, old: ConfigTree, new: ConfigTree) -> list[Change]:
    """Every leaf difference between two (redacted) trees."""
    a, b = flatten(old), flatten(new)
    out = []
    for p in sorted(set(a) | set(b)):
        if p.endswith("..type") and (p in a) == (p in b):
            continue
        if p not in a:
            out.append(Change(path=p, op="add", new=b[p]))
        elif p not in b:
            out.append(Change(path=p, op="remove", old=a[p]))
        elif a[p] != b[p]:
            out.append(Change(path=p, op="change", old=a[p], new=b[p]))
    return out


class _Outcome(Exception):
    """Ends a device's apply early with its result (internal)."""

    def __init__(self, result: DeviceResult) -> None:
        self.result = result


# -- the provisioner ---------------------------------------------------------------


class Provisioner:
    def __init__(
        self,
        profile: Profile,
        store: Store | None,
        *,
        lock_dir: Path | None = None,
        clock: Clock | None = None,
        options: ApplyOptions | None = None,
        driver_factory: DriverFactory | None = None,
        progress: Progress | None = None,
        maintenance: Maintenance | None = None,
        secrets_base: Path | None = None,
    ) -> None:
        self.profile = profile
        self.store = store
        self.lock_dir = lock_dir
        self.clock: Clock = clock or SystemClock()
        self.options = options or ApplyOptions()
        self._factory = driver_factory
        self._progress = progress
        self.maintenance: Maintenance = maintenance or NoMaintenance()
        self.secrets_base = secrets_base
        self._http: aiohttp.ClientSession | None = None

    # -- plumbing ---------------------------------------------------------------

    def _driver(self, dev: Mast | Switch) -> DeviceDriver:
        if self._factory is not None:
            timeout = self.options.device_timeout_s or dev.management.timeout_s
            return self._factory(dev, self.clock, timeout)
        return driver_for(
            dev, clock=self.clock, timeout=self.options.device_timeout_s, session=self._http
        )

    @contextlib.asynccontextmanager
    async def _shared_http(self) -> AsyncIterator[None]:
        """One HTTP client session for every driver of a run (closed at its end)."""
        if self._http is not None:
            yield
            return
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=max(8, 2 * self.options.concurrency))
        )
        try:
            yield
        finally:
            http, self._http = self._http, None
            await http.close()

    def _emit(self, phase: str, device: str | None = None, message: str = "", **kw: Any) -> None:
        if self._progress is None:
            return
        try:
            self._progress(ProgressEvent(phase, device, message, **kw))
        except Exception:  # a broken progress display must not break an apply
            log.exception("progress callback failed")

    def _select(self, devices: list[str] | None) -> list[str]:
        known = [d.id for d in self.profile.devices]
        if devices is None:
            return known
        unknown = [d for d in devices if d not in known]
        if unknown:
            raise ProvisioningError(
                f"no device {', '.join(repr(d) for d in unknown)} in the profile"
            )
        return [d for d in known if d in devices]

    def _device(self, device_id: str) -> Mast | Switch:
        return self.profile.device(device_id)

    async def _read(
        self, drv: DeviceDriver, desired: Desired | None, override: ConfigTree | None
    ) -> tuple[ConfigTree, ConfigTree, ConfigTree, set[str], list[Change], list[str]]:
        """running, resolved tree (SecretRefs), plain tree, secret paths, diff, DFS notes."""
        running = await drv.get_config()
        if override is not None:
            tree = override
            notes: list[str] = []
        else:
            assert desired is not None
            tree = resolve(desired, running)
            notes = []
        secrets = secret_paths(tree)
        plain = await materialise(tree)
        diff = redacted_diff(drv.device_id, running, plain, secrets)
        if desired is not None:
            for section, note in resolved_dfs(desired, running).items():
                if any(c.path.startswith(f"wireless.{section}.") for c in diff.changes):
                    notes.append(note.text())
        return running, tree, plain, secrets, diff.changes, notes

    # -- plan ---------------------------------------------------------------------

    async def plan(self, devices: list[str] | None = None) -> PlanReport:
        """Read every device and diff it against the profile. Changes nothing."""
        selected = self._select(devices)
        desired = render(self.profile, selected)
        order = dependencies(self.profile, selected)
        sem = asyncio.Semaphore(self.options.concurrency)
        total = len(selected)
        done = 0

        async def one(device_id: str) -> DevicePlan:
            nonlocal done
            dev = self._device(device_id)
            base = {"device": device_id, "kind": _kind(dev), "site": dev.site}
            async with sem:
                self._emit("reading", device_id, total=total, done=done)
                try:
                    async with self._driver(dev) as drv:
                        running, _t, _p, _s, changes, notes = await self._read(
                            drv, desired[device_id], None
                        )
                    p = DevicePlan(
                        **base,
                        state="change" if changes else "unchanged",
                        changes=changes,
                        checksum=checksum(running),
                        notes=notes,
                    )
                except DeviceUnreachable as exc:
                    p = DevicePlan(**base, state="unreachable", reason=exc.one_line())
                except EventOpsError as exc:
                    p = DevicePlan(**base, state="error", reason=exc.one_line())
                except Exception as exc:  # a bug must cost one device, not the plan
                    log.exception("plan of %s failed", device_id)
                    p = DevicePlan(
                        **base,
                        state="error",
                        reason=f"internal error ({exc.__class__.__name__}: {exc})",
                    )
            done += 1
            self._emit("planned", device_id, p.state, total=total, done=done, result=p.state)
            return p

        async with self._shared_http():
            plans = await asyncio.gather(*(one(d) for d in selected))
        return PlanReport(devices=list(plans), waves=order.waves, notes=order.notes)

    # -- apply --------------------------------------------------------------------

    async def apply(
        self,
        devices: list[str] | None = None,
        *,
        actor: str,
        overrides: Mapping[str, ConfigTree] | None = None,
        kind: Literal["apply", "rollback"] = "apply",
        rollback_of: int | None = None,
    ) -> ApplyReport:
        """Apply the profile (or recorded trees) to the devices, under the site lock."""
        if self.store is None or self.lock_dir is None:
            raise ProvisioningError("apply needs the event store and its lock folder")
        store = self.store
        selected = self._select(devices)
        desired = render(self.profile, selected) if overrides is None else {}
        order = dependencies(self.profile, selected)
        sites = sorted({self._device(d).site or "_event" for d in selected})
        async with SiteLock(self.lock_dir, sites, actor=actor, purpose=kind):
            report = ApplyReport(
                apply_id=0,
                kind=kind,
                rollback_of=rollback_of,
                actor=actor,
                started_at=self.clock.now(),
                notes=list(order.notes),
            )
            summary: dict[str, Any] = {
                "kind": kind,
                "event": self.profile.event.id,
                "sites": sites,
                "devices": selected,
                "state": "running",
                "rollback_of": rollback_of,
            }
            report.notes += await self._close_interrupted(sites)
            row = ApplyRow(started_at=report.started_at, actor=actor, summary=summary)
            apply_id = await store.record_apply(row, [])
            report.apply_id = apply_id
            row = ApplyRow(id=apply_id, started_at=report.started_at, actor=actor, summary=summary)
            await store.audit(
                actor,
                f"provision.{kind}.start",
                self.profile.event.id,
                after={"apply_id": apply_id, "devices": selected, "rollback_of": rollback_of},
            )
            self._emit("start", None, f"{kind} #{apply_id}", total=len(selected), apply_id=apply_id)
            results: dict[str, DeviceResult] = {}
            finished = {d: asyncio.Event() for d in selected}
            sem = asyncio.Semaphore(self.options.concurrency)

            async def run(device_id: str) -> None:
                try:
                    for dep in order.after.get(device_id, ()):
                        await finished[dep].wait()
                    blocked = [
                        dep
                        for dep in sorted(order.after.get(device_id, ()))
                        if results[dep].state == "unknown"
                    ]
                    if blocked:
                        res = DeviceResult(
                            device=device_id,
                            result="skipped",
                            state="old",
                            reason=f"not changed: {', '.join(blocked)} on its path is in an unknown state",
                        )
                        await self._record(row, device_id, res, {})
                    else:
                        async with sem:
                            res = await self._apply_device(
                                row,
                                self._device(device_id),
                                desired.get(device_id),
                                None if overrides is None else overrides.get(device_id),
                            )
                    results[device_id] = res
                    self._emit(
                        "done",
                        device_id,
                        res.reason or res.result,
                        done=len(results),
                        total=len(selected),
                        result=res.result,
                    )
                finally:
                    finished[device_id].set()

            try:
                async with self._shared_http():
                    await asyncio.gather(*(run(d) for d in selected))
            except BaseException:
                summary = {**summary, "state": "interrupted"}
                with contextlib.suppress(Exception):
                    await asyncio.shield(
                        store.record_apply(
                            ApplyRow(
                                id=apply_id,
                                started_at=report.started_at,
                                finished_at=self.clock.now(),
                                actor=actor,
                                summary=summary,
                            ),
                            [],
                        )
                    )
                raise
            report.devices = [results[d] for d in selected]
            report.finished_at = self.clock.now()
            summary = {**summary, "state": "finished", "counts": report.counts()}
            await store.record_apply(
                ApplyRow(
                    id=apply_id,
                    started_at=report.started_at,
                    finished_at=report.finished_at,
                    actor=actor,
                    summary=summary,
                ),
                [],
            )
            await store.audit(
                actor,
                f"provision.{kind}",
                self.profile.event.id,
                after={
                    "apply_id": apply_id,
                    "rollback_of": rollback_of,
                    "summary": report.summary(),
                    "devices": [
                        {
                            "device": d.device,
                            "result": d.result,
                            "state": d.state,
                            "reason": d.reason,
                            "checksum": d.checksum,
                            "changes": _changes_json(d.changes),
                        }
                        for d in report.devices
                    ],
                },
            )
            self._emit("finish", None, report.summary(), done=len(selected), total=len(selected))
            return report

    async def _close_interrupted(self, sites: list[str]) -> list[str]:
        """Earlier applies on these sites that never finished (their process died).

        We hold the sites' locks, so no live apply can own them: they are
        marked interrupted, and the devices they left are read as they are now.
        """
        assert self.store is not None
        notes = []
        for old in await self.store.list_applies(limit=50):
            if old.summary.get("state") != "running":
                continue
            if not set(old.summary.get("sites", [])) & set(sites):
                continue
            found = await self.store.get_apply(old.id or 0)
            left = [r.device for r in found[1] if r.result == "applying"] if found else []
            await self.store.record_apply(
                old.model_copy(update={"summary": {**old.summary, "state": "interrupted"}}), []
            )
            msg = f"{old.summary.get('kind', 'apply')} #{old.id} by {old.actor} was interrupted"
            if left:
                msg += f" while changing {', '.join(left)}; they are taken as they are now"
            notes.append(msg)
        return notes

    async def _record(
        self, row: ApplyRow, device: str, res: DeviceResult | str, detail: dict[str, Any]
    ) -> None:
        assert self.store is not None
        result: str
        cs: str | None = None
        if isinstance(res, DeviceResult):
            detail = {
                **detail,
                "state": res.state,
                "reason": res.reason,
                "notes": res.notes,
                "diff": _changes_json(res.changes),
            }
            result, cs = res.result, res.checksum
        else:
            result = res
        await self.store.record_apply(
            row, [ApplyDeviceRow(device=device, result=result, checksum=cs, detail=detail)]
        )

    async def _has_backup(self, device: str) -> bool:
        assert self.store is not None
        return any("backup" in r.detail for _i, r in await self.store.device_applies(device))

    async def _apply_device(
        self,
        row: ApplyRow,
        dev: Mast | Switch,
        desired: Desired | None,
        override: ConfigTree | None,
    ) -> DeviceResult:
        detail: dict[str, Any] = {}
        try:
            res = await self._apply_device_inner(row, dev, desired, override, detail)
        except _Outcome as out:
            res = out.result
        except Exception as exc:  # a bug must cost one device, not the whole site
            log.exception("apply of %s failed", dev.id)
            changed = bool(detail.get("_commit_sent"))
            res = DeviceResult(
                device=dev.id,
                result="unknown" if changed else "failed",
                state="unknown" if changed else "old",
                reason=f"internal error ({exc.__class__.__name__}: {exc})"
                + (f" — {SITE_VISIT}" if changed else ""),
            )
        detail.pop("_commit_sent", None)
        await self._record(row, dev.id, res, detail)
        return res

    async def _apply_device_inner(
        self,
        row: ApplyRow,
        dev: Mast | Switch,
        desired: Desired | None,
        override: ConfigTree | None,
        detail: dict[str, Any],
    ) -> DeviceResult:
        dev_id = dev.id
        changes: list[Change] = []
        notes: list[str] = []

        def outcome(result: Result, state: State, reason: str | None, cs: str | None) -> _Outcome:
            return _Outcome(
                DeviceResult(
                    device=dev_id,
                    result=result,
                    state=state,
                    reason=reason,
                    changes=changes,
                    checksum=cs,
                    notes=notes,
                )
            )

        if desired is None and override is None:
            raise outcome("skipped", "old", "no recorded state for this device", None)
        drv = self._driver(dev)
        in_maintenance = False
        try:
            self._emit("reading", dev_id)
            try:
                await drv.open()
                running, tree, plain, _secrets, changes, notes = await self._read(
                    drv, desired, override
                )
            except DeviceUnreachable as exc:
                raise outcome("unreachable", "old", exc.one_line(), None) from None
            except EventOpsError as exc:
                raise outcome("failed", "old", f"{exc.title}: {exc.one_line()}", None) from None
            before = checksum(running)
            detail["desired"] = to_record(tree)
            detail["before_checksum"] = before
            if not changes:
                detail["config"] = redact(running)
                raise outcome("unchanged", "new", None, before)
            if not await self._has_backup(dev_id):
                detail["backup"] = redact(running)
            await self._record(row, dev_id, "applying", detail)
            await self.maintenance.enter(dev_id, f"apply #{row.id}")
            in_maintenance = True
            paths = [p for p in flatten(plain) if not p.endswith("..type")]
            caps = drv.capabilities
            timeout = self.options.confirm_timeout_s
            self._emit("staging", dev_id)
            try:
                await drv.load_candidate(plain)
            except EventOpsError as exc:
                with contextlib.suppress(EventOpsError):
                    await drv.discard()
                if isinstance(exc, DeviceUnreachable):
                    raise outcome("unreachable", "old", exc.one_line(), before) from None
                raise outcome("failed", "old", f"{exc.title}: {exc.one_line()}", before) from None
            self._emit("committing", dev_id)
            t0 = self.clock.monotonic()
            device_rollback = caps.rollback_on_device and caps.confirm_timeout
            uncertain: str | None = None
            detail["_commit_sent"] = True
            try:
                await drv.commit(confirm_timeout=timeout if device_rollback else None)
            except DeviceUnreachable as exc:
                # The device may have taken the change and lost only its answer.
                uncertain = f"the commit got no answer ({exc.message})"
            except EventOpsError as exc:
                with contextlib.suppress(EventOpsError):
                    await drv.discard()
                raise outcome("failed", "old", f"{exc.title}: {exc.one_line()}", before) from None
            # Committed: from here the device is at the new config until proven otherwise.
            if device_rollback:
                why = uncertain or ""
                if uncertain is None:
                    margin = min(timeout / 2, 2 * drv.timeout + self.options.poll_s)
                    ok, why, readback = await self._verify(drv, plain, t0 + timeout - margin)
                    if ok:
                        try:
                            self._emit("confirming", dev_id)
                            await drv.confirm()
                        except EventOpsError as exc:
                            ok, why = False, f"confirm failed ({exc.one_line()})"
                    if ok:
                        assert readback is not None
                        detail["config"] = redact(readback)
                        raise outcome("applied", "new", None, checksum(readback))
                self._emit("rolling-back", dev_id, why)
                state, cs, final, after_why = await self._await_device_rollback(
                    drv, running, plain, paths, t0 + timeout
                )
                if final is not None:
                    detail["config"] = redact(final)
                if state == "old":
                    raise outcome(
                        "rolled_back", "old", f"{why}; the device's rollback timer restored it", cs
                    )
                if state == "new":
                    raise outcome("applied", "new", f"{why}; but it kept the new config", cs)
                raise outcome("unknown", "unknown", f"{why}; {after_why} — {SITE_VISIT}", cs)
            ok, why, readback = await self._verify(drv, plain, t0 + timeout)
            if ok:
                assert readback is not None
                detail["config"] = redact(readback)
                note = f"{uncertain}; the read-back shows the change" if uncertain else None
                raise outcome("applied", "new", note, checksum(readback))
            if uncertain and readback is not None and _at(readback, running, paths):
                detail["config"] = redact(readback)
                raise outcome(
                    "failed",
                    "old",
                    f"{uncertain}; the device kept its old config",
                    checksum(readback),
                )
            if uncertain:
                why = f"{uncertain}; {why}"
            self._emit("restoring", dev_id, why)
            state, cs, final, after_why = await self._restore(drv, running, plain, paths)
            if final is not None:
                detail["config"] = redact(final)
            if state == "old":
                raise outcome(
                    "restored",
                    "old",
                    f"{why}; {drv.name} devices cannot roll back by themselves: "
                    "eventops restored the previous config",
                    cs,
                )
            raise outcome("unknown", "unknown", f"{why}; {after_why} — {SITE_VISIT}", cs)
        finally:
            if in_maintenance:
                with contextlib.suppress(Exception):
                    await self.maintenance.leave(dev_id)
            with contextlib.suppress(Exception):
                await drv.close()

    async def _verify(
        self, drv: DeviceDriver, plain: ConfigTree, deadline: float
    ) -> tuple[bool, str, ConfigTree | None]:
        """Wait until the device answers again and holds every desired value."""
        self._emit("verifying", drv.device_id)
        while True:
            try:
                readback = await drv.get_config()
            except DeviceUnreachable as exc:
                if self.clock.monotonic() >= deadline:
                    return False, f"did not answer after the change ({exc.message})", None
                await self.clock.sleep(self.options.poll_s)
                continue
            except EventOpsError as exc:
                return False, f"could not read the config back ({exc.one_line()})", None
            wrong = mismatches(readback, plain)
            if wrong:
                shown = ", ".join(wrong[:3]) + (" ..." if len(wrong) > 3 else "")
                return False, f"read-back config differs at {shown}", readback
            return True, "", readback

    async def _await_device_rollback(
        self,
        drv: DeviceDriver,
        running: ConfigTree,
        plain: ConfigTree,
        paths: list[str],
        fires_at: float,
    ) -> tuple[State, str | None, ConfigTree | None, str]:
        """Let the device's timer restore it; then see what it holds."""
        wait = fires_at - self.clock.monotonic()
        if wait > 0:
            await self.clock.sleep(wait + min(1.0, self.options.poll_s))
        recover = self.options.recover_s
        limit = self.clock.monotonic() + (
            recover if recover is not None else 2 * self.options.confirm_timeout_s
        )
        last = "it did not answer after its rollback timer"
        while True:
            try:
                # rpcd puts a rolled-back change back into the session's staging.
                with contextlib.suppress(ProvisioningError):
                    await drv.discard()
                readback = await drv.get_config()
            except DeviceError as exc:
                last = f"it did not answer after its rollback timer ({exc.message})"
                if self.clock.monotonic() >= limit:
                    return "unknown", None, None, last
                await self.clock.sleep(self.options.poll_s)
                continue
            cs = checksum(readback)
            if _at(readback, running, paths):
                return "old", cs, readback, ""
            if not mismatches(readback, plain):
                return "new", cs, readback, ""
            return "unknown", cs, readback, "after its rollback timer it holds neither config"

    async def _restore(
        self, drv: DeviceDriver, running: ConfigTree, plain: ConfigTree, paths: list[str]
    ) -> tuple[State, str | None, ConfigTree | None, str]:
        """Put the previous values back ourselves (drivers without device rollback)."""
        previous = _subset(running, plain)
        try:
            await drv.load_candidate(previous)
            await drv.commit()
        except EventOpsError as exc:
            return "unknown", None, None, f"restoring the previous config failed ({exc.one_line()})"
        ok, why, readback = await self._verify(
            drv, previous, self.clock.monotonic() + self.options.confirm_timeout_s
        )
        cs = checksum(readback) if readback is not None else None
        if ok:
            return "old", cs, readback, ""
        return "unknown", cs, readback, f"restoring the previous config failed ({why})"

    # -- drift and rollback ---------------------------------------------------------

    async def drift(self, devices: list[str] | None = None) -> list[DriftRow]:
        """Devices whose running config no longer matches the last recorded checksum."""
        if self.store is None:
            raise ProvisioningError("drift needs the event store")
        store = self.store
        selected = self._select(devices)
        sem = asyncio.Semaphore(self.options.concurrency)

        async def one(device_id: str) -> DriftRow:
            last = next(
                ((i, r) for i, r in await store.device_applies(device_id) if r.checksum),
                None,
            )
            if last is None:
                return DriftRow(device=device_id, state="never-applied")
            apply_id, rec = last
            async with sem:
                try:
                    async with self._driver(self._device(device_id)) as drv:
                        running = await drv.get_config()
                except DeviceUnreachable as exc:
                    return DriftRow(
                        device=device_id,
                        state="unreachable",
                        apply_id=apply_id,
                        recorded=rec.checksum,
                        reason=exc.one_line(),
                    )
                except EventOpsError as exc:
                    return DriftRow(
                        device=device_id,
                        state="error",
                        apply_id=apply_id,
                        recorded=rec.checksum,
                        reason=exc.one_line(),
                    )
            now = checksum(running)
            if now == rec.checksum:
                return DriftRow(
                    device=device_id, state="in-sync", apply_id=apply_id, recorded=now, running=now
                )
            recorded_cfg = rec.detail.get("config")
            changes = (
                tree_changes(device_id, recorded_cfg, redact(running))
                if isinstance(recorded_cfg, dict)
                else []
            )
            return DriftRow(
                device=device_id,
                state="drifted",
                apply_id=apply_id,
                recorded=rec.checksum,
                running=now,
                changes=changes,
                reason=None if changes else "a secret value changed",
            )

        async with self._shared_http():
            return list(await asyncio.gather(*(one(d) for d in selected)))

    async def rollback_to(self, apply_id: int, *, actor: str) -> ApplyReport:
        """Re-apply the state an earlier apply recorded for each of its devices."""
        if self.store is None:
            raise ProvisioningError("rollback needs the event store")
        found = await self.store.get_apply(apply_id)
        if found is None:
            raise ProvisioningError(f"no apply #{apply_id} in the event store")
        _row, rows = found
        known = {d.id for d in self.profile.devices}
        overrides: dict[str, ConfigTree] = {}
        for r in rows:
            tree = r.detail.get("desired")
            if r.device in known and isinstance(tree, dict):
                overrides[r.device] = from_record(tree, self.secrets_base)
        if not overrides:
            raise ProvisioningError(
                f"apply #{apply_id} recorded no device state this profile still has"
            )
        return await self.apply(
            list(overrides), actor=actor, overrides=overrides, kind="rollback", rollback_of=apply_id
        )
