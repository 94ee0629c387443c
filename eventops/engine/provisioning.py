"""Provisioning inside the running engine: plan, apply and rollback for the API.

:class:`ProvisionService` runs the same :class:`~eventops.provision.apply.Provisioner`
as ``eventops plan/apply`` does in-process, with the engine's profile and
store, under the same site locks (so an apply started through the API and
one started on the command line exclude each other), and publishes every
progress step on the engine's event bus (type ``provision``, scope
``event``: technicians only) and the end of a run as ``provision.finished``
(the report) or ``provision.failed`` (the one-line reason).

Dangerous changes need a typed confirmation: the caller repeats the event's
id (``confirm``). A change is dangerous when (see :func:`dangerous_changes`)

- it touches a mast's management path (its address, interface, or the
  bridge VLANs it rides on: :func:`~eventops.provision.render.management_path_changes`), or
- it touches a device at an end of a link that is handed over to an
  authority, or the radio channel of a mast behind such a link.

A rollback re-applies a recorded state wholesale and always needs it.

One run at a time per engine; the site lock refuses a run on a site that
someone else (another process) is applying to.

At engine start (:meth:`ProvisionService.start`) the service keeps what a dead
process promised (:mod:`eventops.provision.recovery`): applies it left
``running`` are closed as ``interrupted`` with what is known per device
(audited, and published as ``provision.interrupted``), and a supervised task
(``pending-restores``) carries out every restore a RESTCONF apply armed and
never disarmed at its deadline, for the engine's lifetime (each one published
as ``provision.restored``).

Refusals are domain errors (:mod:`eventops.errors`): a bad device list is
:class:`InvalidRequest`, a missing apply :class:`NotFound`, a busy engine or
site :class:`Conflict`, a dangerous change without its typed id
:class:`ConfirmationNeeded` (with ``confirm`` and the ``dangerous`` list).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from eventops.adapters.base import DeviceDriver, DriverFactory
from eventops.engine.checkpoints import at_apply
from eventops.errors import ConfirmationNeeded as _ConfirmationNeeded
from eventops.errors import Conflict, EventOpsError, InvalidRequest, LockBusy, NotFound
from eventops.i18n import Msg, refusal
from eventops.provision import recovery
from eventops.provision.apply import (
    ApplyOptions,
    ApplyReport,
    PlanReport,
    ProgressEvent,
    Provisioner,
)
from eventops.provision.render import management_path_changes
from eventops.store.models import ApplyRow

if TYPE_CHECKING:
    from eventops.engine.monitoring import Engine

log = logging.getLogger(__name__)


class Danger(BaseModel):
    device: str
    path: str | None = None
    reason: str


def dangerous_changes(engine: Engine, plan: PlanReport) -> list[Danger]:
    """The plan's changes that need a typed confirmation (the rule in the module doc)."""
    profile = engine.profile
    handed = {lk: st.handed_to for lk, st in engine.links.items() if st.handed_to}
    link_ends: dict[str, str] = {}
    for link in profile.links:
        if link.id in handed:
            for end in (link.a.device, link.b.device):
                link_ends.setdefault(end, link.id)
    behind: dict[str, str] = {
        m.id: m.uplink for m in profile.masts if m.uplink is not None and m.uplink in handed
    }
    masts = {m.id for m in profile.masts}
    out: list[Danger] = []
    for d in plan.devices:
        if d.state != "change":
            continue
        if d.device in link_ends:
            lk = link_ends[d.device]
            out.append(
                Danger(
                    device=d.device,
                    reason=f"an end of link {lk}, handed over to {handed[lk]}",
                )
            )
            continue
        if d.device in masts:
            for path, reason in management_path_changes(d.changes):
                out.append(Danger(device=d.device, path=path, reason=reason))
        for c in d.changes:
            if (
                d.device in behind
                and c.path.startswith("wireless.")
                and c.path.endswith(".channel")
            ):
                lk = behind[d.device]
                out.append(
                    Danger(
                        device=d.device,
                        path=c.path,
                        reason=f"radio channel behind link {lk}, handed over to {handed[lk]}",
                    )
                )
    return out


def plan_json(plan: PlanReport, dangers: list[Danger], confirm: str) -> dict[str, Any]:
    """The plan as the API answers it; ``confirm``: what to type for dangerous changes."""
    return {
        "summary": {
            "change": plan.count("change"),
            "unchanged": plan.count("unchanged"),
            "unreachable": plan.count("unreachable"),
            "error": plan.count("error"),
            "text": plan.summary(),
        },
        "order": plan.waves,
        "notes": plan.notes,
        "devices": [d.model_dump(mode="json") for d in plan.devices],
        "dangerous": [x.model_dump(mode="json") for x in dangers],
        "confirm": confirm,
    }


class ConfirmationNeeded(_ConfirmationNeeded):
    """A dangerous change without the typed confirmation; ``dangerous`` lists them."""

    def __init__(self, message: str, dangers: list[Danger], phrase: str) -> None:
        super().__init__(message, confirm=phrase, reasons=[d.reason for d in dangers])
        self.dangers = dangers
        self.phrase = phrase

    def details(self) -> dict[str, Any]:
        return {**super().details(), "dangerous": [d.model_dump(mode="json") for d in self.dangers]}


class EngineMaintenance:
    """Devices under an apply are in the engine's maintenance (no alerts) while it runs.

    A device someone had put in maintenance already stays there afterwards.
    """

    def __init__(self, engine: Engine, actor: str) -> None:
        self.engine = engine
        self.actor = actor
        self._ours: set[str] = set()

    async def enter(self, device: str, reason: str) -> None:
        if device in self.engine.maintenance:
            return
        self._ours.add(device)
        await self.engine.set_maintenance(device, True, self.actor, reason)

    async def leave(self, device: str) -> None:
        if device in self._ours:
            self._ours.discard(device)
            await self.engine.set_maintenance(device, False, self.actor)


@dataclass
class Run:
    apply_id: int
    kind: Literal["apply", "rollback"]
    actor: str
    task: asyncio.Task[ApplyReport]
    done: int = 0
    total: int = 0


class ProvisionService:
    def __init__(
        self,
        engine: Engine,
        *,
        lock_dir: Path | None = None,
        options: ApplyOptions | None = None,
        driver_factory: DriverFactory | None = None,
        secrets_base: Path | None = None,
        restore_scan_s: float = 30.0,
    ) -> None:
        self.engine = engine
        self.lock_dir = lock_dir or engine.lock_dir
        self.options = options or ApplyOptions()
        self.driver_factory = driver_factory
        if secrets_base is None and engine.profile_path is not None:
            secrets_base = engine.profile_path.absolute().parent
        self.secrets_base = secrets_base
        self.run: Run | None = None
        self._starting = False
        self.restore_scan_s = restore_scan_s
        """How often the engine looks for restores armed by other processes (that may die)."""

    def provisioner(
        self,
        *,
        progress: Any = None,
        maintenance: EngineMaintenance | None = None,
        confirm_timeout_s: float | None = None,
    ) -> Provisioner:
        """A provisioner with the engine's options (``confirm_timeout_s``: this run's own)."""
        options = self.options
        if confirm_timeout_s is not None:
            options = dataclasses.replace(
                options,
                confirm_timeout_s=confirm_timeout_s,
                poll_s=min(options.poll_s, confirm_timeout_s / 10),
            )
        return Provisioner(
            self.engine.profile,
            self.engine.store,
            lock_dir=self.lock_dir,
            clock=self.engine.clock,
            options=options,
            driver_factory=self.driver_factory,
            progress=progress,
            maintenance=maintenance,
            secrets_base=self.secrets_base,
        )

    @property
    def running(self) -> bool:
        return self._starting or (self.run is not None and not self.run.task.done())

    def confirm_phrase(self) -> str:
        return self.engine.profile.event.id

    # -- engine start: what a dead process left --------------------------------------------------

    async def start(self, *, watch: bool = True) -> list[recovery.Interrupted]:
        """Close the applies a dead process left running; with ``watch``, carry out the
        restores it left armed at their deadlines (a supervised task). The closed applies."""
        if self.lock_dir is None:
            return []
        closed = await recovery.reconcile_interrupted(
            self.engine.store,
            self.lock_dir,
            clock=self.engine.clock,
            tz=self.engine.profile.event.tz,
        )
        for c in closed:
            log.warning("%s", c.note)
            self._publish(
                "provision.interrupted",
                {
                    "apply_id": c.apply_id,
                    "kind": c.kind,
                    "note": c.note,
                    "devices": [d.model_dump(mode="json") for d in c.devices],
                },
            )
        if watch:
            self.engine.supervisor.spawn("pending-restores", self._watch_restores)
        return closed

    def _restore_driver(self, device_id: str) -> DeviceDriver:
        """A driver for a restore (KeyError: the device is no longer in the profile)."""
        return self.provisioner()._driver(self.engine.profile.device(device_id))

    async def _watch_restores(self) -> None:
        lock_dir = self.lock_dir
        assert lock_dir is not None
        await recovery.watch_pending_restores(
            self.engine.store,
            self._restore_driver,
            self.engine.clock,
            lock_dir=lock_dir,
            every_s=self.restore_scan_s,
            poll_s=self.options.poll_s,
            verify_s=self.options.confirm_timeout_s,
            on_outcome=self._restored,
        )

    def _restored(self, out: recovery.RestoreOutcome) -> None:
        log.warning(
            "%s: restore for apply #%s: %s (%s)", out.device, out.apply_id, out.result, out.reason
        )
        self._publish("provision.restored", out.model_dump(mode="json"))

    # -- plan ---------------------------------------------------------------------------------

    async def plan(self, devices: list[str] | None) -> tuple[PlanReport, list[Danger]]:
        try:
            plan = await self.provisioner().plan(devices)
        except EventOpsError as exc:
            raise InvalidRequest(exc.one_line()).carry(exc) from None
        return plan, dangerous_changes(self.engine, plan)

    # -- apply and rollback --------------------------------------------------------------------

    def _publish(self, type_: str, data: dict[str, Any]) -> None:
        self.engine.bus.publish(type_, "", "event", data=data)

    async def apply(
        self,
        devices: list[str] | None,
        *,
        actor: str,
        confirm: str | None,
        confirm_timeout_s: float | None = None,
    ) -> Run:
        """Start an apply; returns once it holds the site lock (or raises why it cannot)."""
        self._check_idle()
        self._starting = True
        try:
            plan, dangers = await self.plan(devices)
            if dangers and confirm != self.confirm_phrase():
                n, phrase = len(dangers), self.confirm_phrase()
                msg = Msg("provision.err.confirm_apply", {"n": n, "phrase": repr(phrase)})
                raise ConfirmationNeeded(
                    f"{n} dangerous change{'s' if n != 1 else ''}: "
                    f"type the event id {phrase!r} to confirm",
                    dangers,
                    phrase,
                ).with_msg(msg.msg_id, msg.as_dict()["params"])
            if not plan.count("change"):
                raise refusal(Conflict, Msg("provision.err.nothing"))
            return await self._start(
                "apply", actor, lambda p: p.apply(devices, actor=actor), confirm_timeout_s
            )
        finally:
            self._starting = False

    async def rollback(
        self,
        apply_id: int,
        *,
        actor: str,
        confirm: str | None,
        confirm_timeout_s: float | None = None,
    ) -> Run:
        self._check_idle()
        if confirm != self.confirm_phrase():
            phrase = self.confirm_phrase()
            msg = Msg("provision.err.confirm_rollback", {"id": apply_id, "phrase": repr(phrase)})
            raise ConfirmationNeeded(msg.text("en"), [], phrase).with_msg(
                msg.msg_id, msg.as_dict()["params"]
            )
        if await self.engine.store.get_apply(apply_id) is None:
            raise refusal(NotFound, Msg("provision.err.no_apply", {"id": apply_id}))
        self._starting = True
        try:
            return await self._start(
                "rollback",
                actor,
                lambda p: p.rollback_to(apply_id, actor=actor),
                confirm_timeout_s,
            )
        finally:
            self._starting = False

    def _check_idle(self) -> None:
        if self.running:
            r = self.run
            who = Msg("provision.err.by", {"id": r.apply_id, "actor": r.actor}) if r else ""
            raise refusal(Conflict, Msg("provision.err.running", {"who": who}))
        if self.lock_dir is None:
            raise refusal(Conflict, Msg("provision.err.no_lock_dir"))

    async def _start(
        self,
        kind: Literal["apply", "rollback"],
        actor: str,
        go: Any,
        confirm_timeout_s: float | None = None,
    ) -> Run:
        loop = asyncio.get_running_loop()
        started: asyncio.Future[int] = loop.create_future()
        holder: list[Run] = []
        task: asyncio.Task[ApplyReport] | None = None

        def progress(e: ProgressEvent) -> None:
            if e.phase == "start" and e.apply_id is not None and task is not None:
                # the run is known from here on, even if the request that started it is gone
                run = Run(e.apply_id, kind, actor, task, total=e.total)
                holder.append(run)
                self.run = run
                task.add_done_callback(lambda t: self._finished(run, t))
                if not started.done():
                    started.set_result(e.apply_id)
            run_ = holder[0] if holder else None
            if e.phase == "done" and run_ is not None:
                run_.done = e.done
            self._publish(
                "provision",
                {
                    "apply_id": run_.apply_id if run_ else None,
                    "kind": kind,
                    "phase": e.phase,
                    "device": e.device,
                    "message": e.message,
                    "done": e.done,
                    "total": e.total or (run_.total if run_ else 0),
                    "result": e.result,
                },
            )

        prov = self.provisioner(
            progress=progress,
            maintenance=EngineMaintenance(self.engine, actor),
            confirm_timeout_s=confirm_timeout_s,
        )
        task = asyncio.create_task(go(prov), name=f"provision-{kind}")
        waiters: set[asyncio.Future[Any]] = {task, started}
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            started.cancel()
            exc = task.exception()
            if isinstance(exc, LockBusy):
                raise Conflict(exc.one_line()).carry(exc) from None
            if isinstance(exc, EventOpsError):
                raise InvalidRequest(exc.one_line()).carry(exc) from None
            if exc is not None:
                raise exc
            raise RuntimeError(f"the {kind} ended before it started")
        return holder[0]

    def _finished(self, run: Run, task: asyncio.Task[ApplyReport]) -> None:
        if task.cancelled():
            self._publish(
                "provision.failed",
                {"apply_id": run.apply_id, "kind": run.kind, "reason": "cancelled"},
            )
            return
        exc = task.exception()
        if exc is not None:
            reason = exc.one_line() if isinstance(exc, EventOpsError) else f"internal error: {exc}"
            log.error("provision %s #%s failed: %s", run.kind, run.apply_id, reason)
            self._publish(
                "provision.failed", {"apply_id": run.apply_id, "kind": run.kind, "reason": reason}
            )
            return
        report = task.result()
        self._publish(
            "provision.finished",
            {
                "apply_id": report.apply_id,
                "kind": report.kind,
                "ok": report.ok,
                "summary": report.summary(),
                "report": report.model_dump(mode="json"),
            },
        )

    async def wait(self) -> ApplyReport | None:
        """The running apply's report once it ends (None when none runs)."""
        run = self.run
        if run is None:
            return None
        return await asyncio.shield(run.task)

    async def close(self) -> None:
        """Stop a running apply (the engine shuts down): each device is left consistent."""
        run = self.run
        if run is not None and not run.task.done():
            run.task.cancel()
            try:
                await run.task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
            except Exception:  # reported on the bus by _finished
                pass

    # -- what the API calls: one call per request, audited ------------------------------------

    async def plan_view(self, devices: list[str] | None, *, actor: str) -> dict[str, Any]:
        """A plan as the API shows it (diffs, order, dangers, the phrase); audited."""
        report, dangers = await self.plan(devices)
        await self.engine.store.audit(
            actor,
            "provision.plan",
            self.engine.profile.event.id,
            after={"devices": devices, "summary": report.summary()},
        )
        return plan_json(report, dangers, self.confirm_phrase())

    async def start_apply(
        self,
        devices: list[str] | None,
        *,
        actor: str,
        confirm: str | None,
        confirm_timeout_s: float | None = None,
    ) -> Run:
        """:meth:`apply`; a refusal is audited before it is raised; the audit head is
        signed as the apply starts (see :mod:`eventops.engine.checkpoints`)."""
        try:
            run = await self.apply(
                devices, actor=actor, confirm=confirm, confirm_timeout_s=confirm_timeout_s
            )
            await at_apply(self.engine, f"#{run.apply_id}")
            return run
        except EventOpsError as exc:
            await self.engine.store.audit(
                actor,
                "provision.apply.refused",
                self.engine.profile.event.id,
                after={"devices": devices, "reason": exc.one_line()},
            )
            raise

    async def start_rollback(
        self,
        apply_id: int,
        *,
        actor: str,
        confirm: str | None,
        confirm_timeout_s: float | None = None,
    ) -> Run:
        """:meth:`rollback`; a refusal is audited before it is raised."""
        try:
            run = await self.rollback(
                apply_id, actor=actor, confirm=confirm, confirm_timeout_s=confirm_timeout_s
            )
            await at_apply(self.engine, f"rollback to #{apply_id}")
            return run
        except EventOpsError as exc:
            await self.engine.store.audit(
                actor,
                "provision.rollback.refused",
                self.engine.profile.event.id,
                after={"apply_id": apply_id, "reason": exc.one_line()},
            )
            raise

    def running_view(self) -> dict[str, Any] | None:
        run = self.run
        if run is None or run.task.done():
            return None
        return {
            "apply_id": run.apply_id,
            "kind": run.kind,
            "actor": run.actor,
            "done": run.done,
            "total": run.total,
        }

    # -- history -------------------------------------------------------------------------------

    async def history(self, limit: int = 50, before: int | None = None) -> list[dict[str, Any]]:
        """The newest ``limit`` applies (with ids below ``before``), newest first."""
        rows = await self.engine.store.list_applies(limit=limit, before=before)
        return [apply_record_json(r) for r in rows]

    async def detail(self, apply_id: int) -> dict[str, Any]:
        found = await self.engine.store.get_apply(apply_id)
        if found is None:
            raise refusal(NotFound, Msg("provision.err.no_apply", {"id": apply_id}))
        row, devs = found
        return {
            **apply_record_json(row),
            "results": [
                {
                    "device": d.device,
                    "result": d.result,
                    "checksum": d.checksum,
                    "state": d.detail.get("state"),
                    "reason": d.detail.get("reason"),
                    "notes": d.detail.get("notes", []),
                    "diff": d.detail.get("diff", []),
                }
                for d in devs
            ],
        }


def apply_record_json(r: ApplyRow) -> dict[str, Any]:
    """One recorded apply as the API lists it (:class:`~eventops.api.models.ApplyRecordView`)."""
    return {
        "id": r.id,
        "kind": r.summary.get("kind", "apply"),
        "actor": r.actor,
        "started_at": r.started_at.isoformat(),
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        "state": r.summary.get("state"),
        "devices": r.summary.get("devices", []),
        "counts": r.summary.get("counts", {}),
        "rollback_of": r.summary.get("rollback_of"),
    }
