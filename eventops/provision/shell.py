"""The I/O shell of one device's apply: performs what :mod:`eventops.provision.steps` decides.

:func:`apply_device` asks the pure step function for the next action,
performs it against the driver (:func:`eventops.provision.recovery.perform`),
the store (record ``applying``, arm or disarm a restore) or the maintenance
hook, hands back what happened as an observation, and records the outcome.
It holds no decisions of its own beyond "a bug costs one device".
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from eventops.adapters.base import ConfigTree, DeviceDriver, checksum
from eventops.errors import EventOpsError
from eventops.profile.models import Mast, Switch
from eventops.provision import recovery, steps
from eventops.provision.render import Desired, redact, to_record
from eventops.provision.reports import DeviceResult
from eventops.store.models import ApplyRow

if TYPE_CHECKING:
    from eventops.provision.apply import Provisioner

log = logging.getLogger(__name__)


async def apply_device(
    prov: Provisioner,
    row: ApplyRow,
    dev: Mast | Switch,
    desired: Desired | None,
    override: ConfigTree | None,
) -> DeviceResult:
    """Drive :mod:`eventops.provision.steps` for one device: the I/O shell."""
    drv = prov._driver(dev)
    caps = drv.capabilities
    setup = steps.Setup(
        device=dev.id,
        driver=drv.name,
        device_rollback=caps.rollback_on_device and caps.confirm_timeout,
        confirm_timeout_s=prov.options.confirm_timeout_s,
        poll_s=prov.options.poll_s,
        request_timeout_s=drv.timeout,
        recover_s=prov.options.recover_s,
        has_input=desired is not None or override is not None,
    )
    run = _DeviceRun(prov, row, dev, drv, desired, override, setup.device_rollback)
    state, action = steps.start(setup)
    try:
        while not isinstance(action, steps.Finish):
            if action.phase is not None:
                prov._emit(action.phase, dev.id, action.message)
            state, action = steps.step(state, await run.perform(action))
        outcome = action.outcome
    except Exception as exc:  # a bug must cost one device, not the whole site
        log.exception("apply of %s failed", dev.id)
        # An armed restore stays armed: a restart or the next apply carries it out.
        outcome = steps.crashed(state, action, f"{exc.__class__.__name__}: {exc}")
    finally:
        if run.in_maintenance:
            with contextlib.suppress(Exception):
                await prov.maintenance.leave(dev.id)
        with contextlib.suppress(Exception):
            await drv.close()
    res = DeviceResult(
        device=dev.id,
        result=outcome.result,
        state=outcome.state,
        reason=outcome.reason,
        changes=list(state.changes),
        checksum=outcome.checksum,
        notes=list(state.notes),
    )
    if outcome.config is not None:
        run.detail["config"] = redact(outcome.config)
    await prov._record(row, dev.id, res, run.detail)
    return res


class _DeviceRun:
    """The I/O half of one device's apply: performs each action the steps ask for."""

    def __init__(
        self,
        prov: Provisioner,
        row: ApplyRow,
        dev: Mast | Switch,
        drv: DeviceDriver,
        desired: Desired | None,
        override: ConfigTree | None,
        device_rollback: bool,
    ) -> None:
        self.prov = prov
        self.row = row
        self.dev = dev
        self.drv = drv
        self.desired = desired
        self.override = override
        self.device_rollback = device_rollback
        self.detail: dict[str, Any] = {}
        """What is recorded for the device (never a secret value)."""
        self.running: ConfigTree = {}
        self.secrets: set[str] = set()
        self.in_maintenance = False

    async def perform(self, action: steps.Action) -> steps.Observation:
        prov, clock = self.prov, self.prov.clock
        assert prov.store is not None
        store = prov.store
        dev_id = self.dev.id
        apply_id = self.row.id or 0
        try:
            match action:
                case steps.Read():
                    await self.drv.open()
                    running, tree, plain, secrets, changes, notes = await prov._read(
                        self.drv, self.desired, self.override
                    )
                    self.running, self.secrets = running, secrets
                    self.detail["desired"] = to_record(tree)
                    self.detail["before_checksum"] = checksum(running)
                    return steps.ReadOK(
                        clock.monotonic(), running, plain, tuple(changes), tuple(notes)
                    )
                case steps.Begin():
                    if not await prov._has_backup(dev_id):
                        self.detail["backup"] = redact(self.running)
                    self.detail["rollback"] = "device" if self.device_rollback else "eventops"
                    await prov._record(self.row, dev_id, "applying", self.detail)
                    await prov.maintenance.enter(dev_id, f"apply #{apply_id}")
                    self.in_maintenance = True
                case steps.Arm(previous=previous, seconds=seconds):
                    await recovery.arm(
                        store,
                        device=dev_id,
                        site=self.dev.site or "_event",
                        apply_id=apply_id,
                        driver=self.drv.name,
                        previous=previous,
                        secrets=self.secrets,
                        now=clock.now(),
                        seconds=seconds,
                    )
                case steps.Disarm():
                    try:
                        await recovery.disarm(store, dev_id, apply_id)
                    except EventOpsError:
                        log.exception("%s: the armed restore could not be cleared", dev_id)
                case _:
                    return await recovery.perform(self.drv, clock, action)
        except EventOpsError as exc:
            return steps.failed(exc, clock.monotonic())
        return steps.Done(clock.monotonic())
