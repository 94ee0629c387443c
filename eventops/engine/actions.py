"""What a technician does to the engine's state: ack, silence, maintenance, reboot."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from eventops.errors import DeviceError, InvalidRequest, NotFound, NotSupported
from eventops.i18n import Msg, refusal
from eventops.store.models import AlertRow

if TYPE_CHECKING:
    from eventops.engine.monitoring import Engine


async def ack(engine: Engine, alert_id: int, actor: str, note: str) -> AlertRow:
    """Acknowledge an open alert: NotFound when it is not open, Conflict when someone
    acknowledged it first (checked inside the audited write)."""
    if engine.alerts.alert(alert_id) is None:
        raise refusal(NotFound, Msg("alert.err.not_open", {"id": alert_id}))
    return await engine.alerts.ack(alert_id, actor, note)


async def silence(
    engine: Engine, matchers: dict[str, str], duration_s: float, actor: str, note: str
) -> dict[str, Any]:
    if not matchers:
        raise refusal(InvalidRequest, Msg("alert.err.no_matcher"))
    now = engine.clock.now()
    s = await engine.alerts.add_silence(
        matchers, now + timedelta(seconds=duration_s), actor, note, now
    )
    view = {
        "id": s.id,
        "matchers": s.matchers,
        "until": s.until.isoformat(),
        "by": actor,
        "note": note,
    }
    engine.bus.publish("silence", "", "event", data=view)
    for a in engine.alerts.open_alerts():
        if s.matches(a, now):  # each alert it covers, now silenced, on the live stream
            engine._on_alert("silenced", a)
    return view


async def set_maintenance(
    engine: Engine, device_id: str, on: bool, actor: str, note: str = ""
) -> None:
    engine.device(device_id)
    before = device_id in engine.maintenance
    if on:
        engine.maintenance[device_id] = note
    else:
        engine.maintenance.pop(device_id, None)
    engine.alerts.set_maintenance(device_id, on)
    await engine.store.audit(
        actor, "device.maintenance", device_id, before=before, after={"on": on, "note": note}
    )
    engine.bus.publish(
        "maintenance",
        device_id,
        "device",
        engine.authorities_of_device(device_id),
        {"on": on, "note": note},
    )


async def reboot(engine: Engine, device_id: str, actor: str) -> None:
    """Reboot one device through its driver; audited, refused or not.

    Raises NotFound for an unknown id, NotSupported (before any device
    I/O) when the device's driver declares it cannot reboot, and the
    driver's DeviceError when the device refuses.
    """
    d = engine.device(device_id)
    driver = engine.driver(d)
    if not driver.capabilities.reboot:
        why = Msg("device.err.no_reboot", {"device": device_id, "driver": d.driver})
        await engine.store.audit(
            actor, "device.reboot", device_id, after={"ok": False, "error": why.text("en")}
        )
        raise refusal(NotSupported, why)
    try:
        async with driver:
            await driver.reboot()
    except DeviceError as exc:
        await engine.store.audit(
            actor, "device.reboot", device_id, after={"ok": False, "error": exc.one_line()}
        )
        raise
    await engine.store.audit(actor, "device.reboot", device_id, after={"ok": True})
    engine.bus.publish(
        "device.reboot",
        device_id,
        "device",
        engine.authorities_of_device(device_id),
        {"by": actor},
    )


async def unsilence(engine: Engine, silence_id: int, actor: str) -> dict[str, Any]:
    """Remove a silence: NotFound when there is none, Conflict when someone removed it
    first (checked inside the audited write)."""
    now = engine.clock.now()
    covered = [a for a in engine.alerts.open_alerts() if engine.alerts.silenced(a, now)]
    gone = await engine.alerts.remove_silence(silence_id, actor, now)
    engine.bus.publish("silence.removed", "", "event", data={"id": silence_id, "by": actor})
    for a in covered:
        if gone.matches(a, now):  # silenced no more (unless another silence covers it)
            engine._on_alert("unsilenced", a)
    return {"id": silence_id, "removed": True}
