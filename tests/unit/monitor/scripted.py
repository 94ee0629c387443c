"""A scripted in-test driver: statuses computed from the profile and injected faults.

Used for unit tests of pollers, alerts and the engine; the end-to-end tests
run the real drivers against the simulators instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from eventops.adapters.base import (
    ConfigDiff,
    ConfigTree,
    DeviceDriver,
    DeviceStatus,
    Facts,
)
from eventops.clock import Clock, FakeClock, within
from eventops.errors import DeviceTimeout, DeviceUnreachable
from eventops.monitor.checks import provisioned_radios
from eventops.monitor.poller import DevicePoller
from eventops.profile.models import Mast, Profile, Switch

from .factories import mast_status, switch_status


@dataclass
class ScriptedFleet:
    profile: Profile
    clock: FakeClock
    down: set[str] = field(default_factory=set)
    hang: set[str] = field(default_factory=set)
    ports: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    mast: dict[str, dict[str, Any]] = field(default_factory=dict)
    boot_at: dict[str, float] = field(default_factory=dict)
    calls: dict[str, list[float]] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)

    def factory(self, device: Mast | Switch, clock: Clock, timeout: float) -> DeviceDriver:
        return ScriptedDriver(self, device.id, device.management, clock=clock, timeout=timeout)

    def status(self, device_id: str) -> DeviceStatus:
        t = self.clock.monotonic()
        uptime = t - self.boot_at.get(device_id, -10_000.0)
        d = self.profile.device(device_id)
        if isinstance(d, Mast):
            radios = {r.band: r for r in provisioned_radios(self.profile, d)}
            kw: dict[str, Any] = {
                "ch2": radios["2g"].channel,
                "ch5": radios["5g"].channel,
                "width5": radios["5g"].width,
                "tx5": radios["5g"].tx_power_dbm,
            }
            kw.update(self.mast.get(device_id, {}))
            st = mast_status(device_id, at=t, uptime=uptime, **kw)
            # the 2g radio as provisioned too
            r2 = st.radios[0].model_copy(
                update={"width_mhz": radios["2g"].width, "tx_power_dbm": radios["2g"].tx_power_dbm}
            )
            return st.model_copy(update={"radios": [r2, st.radios[1]]})
        ports: dict[str, dict[str, object]] = {}
        for p in d.ports:
            spec: dict[str, object] = {"rx": -8.0, "in_octets": int(t * 1_000_000)}
            spec.update(self.ports.get((device_id, p.name), {}))
            ports[p.name] = spec
        return switch_status(device_id, ports, at=t, uptime=uptime)


class ScriptedDriver(DeviceDriver):
    name = "scripted"

    def __init__(
        self,
        fleet: ScriptedFleet,
        device_id: str,
        management: Any,
        clock: Clock,
        timeout: float | None = None,
    ) -> None:
        super().__init__(device_id, management, clock=clock, timeout=timeout)
        self.fleet = fleet

    async def open(self) -> None:
        if self.device_id in self.fleet.down:
            raise DeviceUnreachable(self.device_id, "connection refused")

    async def close(self) -> None:
        return None

    async def is_alive(self) -> bool:
        return self.device_id not in self.fleet.down

    async def facts(self) -> Facts:
        return Facts(device=self.device_id)

    async def status(self) -> DeviceStatus:
        f = self.fleet
        f.calls.setdefault(self.device_id, []).append(f.clock.monotonic())
        f.in_flight[self.device_id] = f.in_flight.get(self.device_id, 0) + 1
        f.max_in_flight[self.device_id] = max(
            f.max_in_flight.get(self.device_id, 0), f.in_flight[self.device_id]
        )
        try:
            if self.device_id in f.hang:
                # a request that never gets an answer: the per-request timeout, as in exchange()
                try:
                    await within(self.clock, self.timeout, asyncio.Event().wait())
                except TimeoutError:
                    raise DeviceTimeout(
                        self.device_id, f"no answer to GET …/status within {self.timeout:g} s"
                    ) from None
            if self.device_id in f.down:
                raise DeviceUnreachable(self.device_id, "connection refused")
            return f.status(self.device_id)
        finally:
            f.in_flight[self.device_id] -= 1

    async def get_config(self) -> ConfigTree:
        return {}

    async def load_candidate(self, candidate: ConfigTree) -> None:
        return None

    async def compare(self) -> ConfigDiff:
        return ConfigDiff(device=self.device_id)

    async def commit(self, confirm_timeout: float | None = None) -> None:
        return None

    async def confirm(self) -> None:
        return None

    async def discard(self) -> None:
        return None

    async def rollback(self) -> None:
        return None

    async def reboot(self) -> None:
        self.fleet.boot_at[self.device_id] = self.fleet.clock.monotonic()


async def parked(
    clock: FakeClock,
    n: int,
    pollers: Iterable[DevicePoller] | None = None,
    *,
    strict: bool = False,
) -> None:
    """Wait (in real time, briefly) until ``n`` tasks sleep on the fake clock
    and every poller in ``pollers`` waits for its next slot."""
    group = list(pollers or ())

    def idle() -> bool:
        return clock.pending >= n and all(
            p.sleeping or (p.awaiting_device and not strict) for p in group
        )

    for _ in range(5000):
        if idle():
            await asyncio.sleep(0.001)
            if idle():
                return
        await asyncio.sleep(0.001)
    raise AssertionError(f"only {clock.pending} of {n} tasks parked on the clock")


async def advance_parked(
    clock: FakeClock,
    seconds: float,
    n: int,
    pollers: Callable[[], Iterable[DevicePoller]],
    *,
    strict: bool = False,
) -> None:
    """Move the clock ``seconds`` on, one wake-up at a time, letting every poller
    woken finish its poll before time moves again.

    :meth:`FakeClock.advance` moves time past a request still in flight over real
    sockets; the driver then measures fake seconds for the read, and the rate of
    that poll is discarded as taken over too short an interval.
    """
    target = clock.monotonic() + seconds
    while (due := clock.next_due) is not None and due <= target:
        await clock.advance(max(0.0, due - clock.monotonic()))
        await parked(clock, n, pollers(), strict=strict)
    await clock.advance(max(0.0, target - clock.monotonic()))
    await parked(clock, n, pollers(), strict=strict)


async def run_until(
    clock: FakeClock,
    t: float,
    n: int,
    pollers: Callable[[], Iterable[DevicePoller]] | None = None,
    step: float = 1.0,
    *,
    strict: bool = False,
) -> None:
    """Advance the fake clock to ``t`` in steps, letting every poller finish between."""
    while clock.monotonic() < t - 1e-9:
        await parked(clock, n, pollers() if pollers else None, strict=strict)
        await clock.advance(min(step, t - clock.monotonic()))
    await parked(clock, n, pollers() if pollers else None, strict=strict)
