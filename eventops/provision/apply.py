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
   - a driver without device-side rollback first arms a restore of the
     previous values in the store (so a restart can carry it out if this
     process dies: :mod:`eventops.provision.recovery`), commits plainly,
     verifies the same way, and on failure restores the previous values
     itself (``restored``); if even that fails the device's state is
     ``unknown — site visit needed``.

The decisions of step 1–3 are a pure function, "next step from state and
observation" (:mod:`eventops.provision.steps`); :meth:`Provisioner._apply_device`
is the thin shell that performs each step against the driver and the store.
Before an apply starts, under its site locks, earlier applies on those
sites that a dead process left running are closed as interrupted, and the
restores such a process left armed on the selected devices are carried out.

Every result says which config the device ends at (``state``: new, old or
unknown). Checksums are computed here over the config read back from the
device (:func:`eventops.adapters.base.checksum`). Secrets are read only
right before a driver needs them and never reach a diff, a record or a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Literal

import aiohttp

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
from eventops.errors import DeviceUnreachable, EventOpsError, ProvisioningError
from eventops.profile.models import Mast, Profile, Switch
from eventops.provision import recovery, shell
from eventops.provision.lock import SiteLock
from eventops.provision.order import dependencies
from eventops.provision.render import (
    Desired,
    from_record,
    materialise,
    redact,
    redacted_diff,
    render,
    resolve,
    resolved_dfs,
    secret_paths,
)
from eventops.provision.reports import (
    SITE_VISIT,
    ApplyOptions,
    ApplyReport,
    DevicePlan,
    DeviceResult,
    DriftRow,
    Maintenance,
    NoMaintenance,
    PlanReport,
    Progress,
    ProgressEvent,
    ProgressQueue,
    Result,
    State,
)
from eventops.store.base import OpsTx, Store
from eventops.store.models import ApplyDeviceRow, ApplyRow

__all__ = [
    "SITE_VISIT",
    "ApplyOptions",
    "ApplyReport",
    "DevicePlan",
    "DeviceResult",
    "DriftRow",
    "DriverFactory",
    "Maintenance",
    "NoMaintenance",
    "PlanReport",
    "Progress",
    "ProgressEvent",
    "ProgressQueue",
    "Provisioner",
    "Result",
    "State",
    "tree_changes",
]

log = logging.getLogger(__name__)


# -- helpers -------------------------------------------------------------------


def _kind(dev: Mast | Switch) -> str:
    return "mast" if isinstance(dev, Mast) else dev.kind


def _changes_json(changes: list[Change]) -> list[dict[str, Any]]:
    return [c.model_dump(mode="json") for c in changes]


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
        async with SiteLock(
            self.lock_dir, sites, actor=actor, purpose=kind, tz=self.profile.event.tz
        ):
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
            report.notes += await self._recover(sites, selected)
            row = ApplyRow(started_at=report.started_at, actor=actor, summary=summary)

            async def started(tx: OpsTx) -> int:
                # the apply's row and its audit entry: one transaction
                new_id = await tx.record_apply(row, [])
                await tx.audit(
                    actor,
                    f"provision.{kind}.start",
                    self.profile.event.id,
                    after={"apply_id": new_id, "devices": selected, "rollback_of": rollback_of},
                )
                return new_id

            apply_id = await store.ops_transaction(started)
            report.apply_id = apply_id
            row = ApplyRow(id=apply_id, started_at=report.started_at, actor=actor, summary=summary)
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
                # Cancelled (engine shutdown): close it with what is known per device. Restores
                # armed for switches stay armed: the next start carries them out.
                with contextlib.suppress(Exception):
                    await asyncio.shield(
                        recovery.close_interrupted(
                            store, apply_id, clock=self.clock, tz=self.profile.event.tz
                        )
                    )
                raise
            report.devices = [results[d] for d in selected]
            report.finished_at = self.clock.now()
            summary = {**summary, "state": "finished", "counts": report.counts()}
            closed_row = ApplyRow(
                id=apply_id,
                started_at=report.started_at,
                finished_at=report.finished_at,
                actor=actor,
                summary=summary,
            )

            async def finish(tx: OpsTx) -> None:
                # closed once: the row, checked and changed, and its audit entry commit together
                found = await tx.get_apply(apply_id)
                if found is None or found[0].finished_at is not None:
                    state = found[0].summary.get("state") if found else "gone"
                    raise ProvisioningError(f"{kind} #{apply_id} was closed meanwhile ({state})")
                await tx.record_apply(closed_row, [])
                await tx.audit(
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

            await store.ops_transaction(finish)
            self._emit("finish", None, report.summary(), done=len(selected), total=len(selected))
            return report

    async def _recover(self, sites: list[str], selected: list[str]) -> list[str]:
        """Under the sites' locks: close earlier applies on them that never finished (their
        process died) and carry out the restores those left armed on ``selected``.

        We hold the locks, so no live apply can own these sites: the devices the
        dead applies left are taken as they are now (after any promised restore).
        """
        assert self.store is not None
        assert self.lock_dir is not None
        closed = await recovery.reconcile_interrupted(
            self.store, self.lock_dir, clock=self.clock, held=sites, tz=self.profile.event.tz
        )
        notes = [c.note for c in closed]
        restored = await recovery.restore_now(
            self.store,
            selected,
            lambda dev_id: self._driver(self._device(dev_id)),
            self.clock,
            poll_s=self.options.poll_s,
            verify_s=self.options.confirm_timeout_s,
        )
        for r in restored:
            notes.append(
                f"{r.device}: a change apply #{r.apply_id} left unconfirmed was undone first"
                if r.result == "restored"
                else f"{r.device}: {r.reason}"
            )
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
        return await shell.apply_device(self, row, dev, desired, override)

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
