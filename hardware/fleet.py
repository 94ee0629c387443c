"""A fleet of simulators for a whole event profile.

:class:`SimFleet` starts an :class:`OpenWrtMast` for every mast and a
:class:`FibreSwitch` for every switch or media converter, each at exactly
the address its profile entry names and with the credentials its secret
references resolve to. It knows the profile's fibre links, so a link fault
reaches both ends consistently: ``link_down`` takes both ports down,
``degrade_optics`` lowers the receive power at the receiving end (and the
link drops for both once the light is below sensitivity).

Faults and simulated time are reachable through the handles here
(``fleet.mast(id)``, ``fleet.switch(id)``, ``fleet.link_down(id)``, ...) and,
when ``control`` is given, through the HTTP control API of
:mod:`eventops_hardware.control` on its own port. The device-facing ports
serve only the devices' own protocols.

Per-device cost is one listening socket and a small state model that
advances lazily when asked, so 500 masts and 50 links fit in one process.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any
from urllib.parse import urlsplit

from eventops.clock import Clock, SystemClock
from eventops.profile.models import Link, Profile

from .fibre_switch import OPTICS, FibreSwitch, SimPort
from .openwrt_mast import OpenWrtMast
from .simbase import SimDevice, SimPortInUse
from .tls import SimIdentity

CONNECTOR_LOSS_DB = 0.75
"""Two connectors plus a patch panel on a temporary run."""


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.hostname is None:
        raise ValueError(f"no host in {url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname, port


class SimFleet:
    def __init__(
        self,
        profile: Profile,
        *,
        clock: Clock | None = None,
        tls: SimIdentity | None = None,
        control: str | None = None,
    ) -> None:
        """``tls``: the identity every https device presents (its pin is what
        the profile's ``tls_pin`` must hold). ``control``: ``host:port`` for the
        control API, or None for handles only."""
        self.profile = profile
        self.clock: Clock = clock or SystemClock()
        self.tls = tls
        self.control_addr = control
        self.masts: dict[str, OpenWrtMast] = {}
        self.switches: dict[str, FibreSwitch] = {}
        self.links: dict[str, Link] = {link.id: link for link in profile.links}
        self.control: Any = None
        self._build()

    # -- construction ------------------------------------------------------

    def _tls_for(self, url: str) -> SimIdentity | None:
        if not url.startswith("https://"):
            return None
        if self.tls is None:
            self.tls = SimIdentity.generate()
        return self.tls

    def _build(self) -> None:
        optic_of: dict[tuple[str, str], str] = {}
        for link in self.profile.links:
            optic_of[(link.a.device, link.a.port)] = link.optic
            optic_of[(link.b.device, link.b.port)] = link.optic
        for m in self.profile.masts:
            host, port = _host_port(m.management.url)
            self.masts[m.id] = OpenWrtMast(
                m.id,
                clock=self.clock,
                username=m.management.username,
                password=m.management.password.reveal(),
                host=host,
                port=port,
                tls=self._tls_for(m.management.url),
                hostname=m.hostname or m.id,
            )
        for s in self.profile.switches:
            host, port = _host_port(s.management.url)
            sw = FibreSwitch(
                s.id,
                clock=self.clock,
                ports=[(p.name, optic_of.get((s.id, p.name))) for p in s.ports],
                username=s.management.username,
                password=s.management.password.reveal(),
                host=host,
                port=port,
                tls=self._tls_for(s.management.url),
                model="MoGlI MC-2" if s.kind == "media-converter" else "MoGlI FX-8",
            )
            self.switches[s.id] = sw
        for link in self.profile.links:
            pa, pb = self.link_ports(link.id)
            spec = OPTICS[link.optic]
            loss = round(link.length_m / 1000 * spec.loss_db_per_km + CONNECTOR_LOSS_DB, 2)
            pa.peer, pb.peer = pb, pa
            pa.path_loss_db = pb.path_loss_db = loss
            pa.rate_bps = pb.rate_bps = min(link.capacity_mbps * 1e6 * 0.3, 2e9)

    # -- lifecycle ---------------------------------------------------------

    @property
    def devices(self) -> list[SimDevice]:
        return [*self.masts.values(), *self.switches.values()]

    async def start(self) -> None:
        """Start every simulator (and the control API); on any failure, stop what started."""
        try:
            sem = asyncio.Semaphore(64)

            async def one(d: SimDevice) -> None:
                async with sem:
                    await d.start()

            await asyncio.gather(*(one(d) for d in self.devices))
            if self.control_addr is not None:
                from .control import ControlServer

                host, _, port = self.control_addr.rpartition(":")
                self.control = ControlServer(self, host or "127.0.0.1", int(port))
                await self.control.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        if self.control is not None:
            await self.control.stop()
            self.control = None
        await asyncio.gather(*(d.stop() for d in self.devices), return_exceptions=True)

    async def __aenter__(self) -> SimFleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- handles -----------------------------------------------------------

    def mast(self, mast_id: str) -> OpenWrtMast:
        return self.masts[mast_id]

    def switch(self, switch_id: str) -> FibreSwitch:
        return self.switches[switch_id]

    def device(self, device_id: str) -> SimDevice:
        if device_id in self.masts:
            return self.masts[device_id]
        return self.switches[device_id]

    def link_ports(self, link_id: str) -> tuple[SimPort, SimPort]:
        link = self.links[link_id]
        return (
            self.switches[link.a.device].interface(link.a.port),
            self.switches[link.b.device].interface(link.b.port),
        )

    def _end(self, link_id: str, end: str | None) -> SimPort:
        link = self.links[link_id]
        pa, pb = self.link_ports(link_id)
        if end is None:  # the receiving end: the far side from the control room
            end = "b" if link.controller_end == "a" else "a"
        if end not in ("a", "b"):
            raise ValueError(f"end must be 'a' or 'b', not {end!r}")
        return pa if end == "a" else pb

    def link_down(self, link_id: str) -> None:
        """The fibre is cut: both ports lose light and go down."""
        pa, pb = self.link_ports(link_id)
        pa.link_fault = pb.link_fault = True
        pa.tick()
        pb.tick()

    def link_up(self, link_id: str) -> None:
        pa, pb = self.link_ports(link_id)
        pa.link_fault = pb.link_fault = False
        pa.tick()
        pb.tick()

    def degrade_optics(
        self, link_id: str, *, step_db: float = 1.0, every_s: float = 10.0, end: str | None = None
    ) -> SimPort:
        """Receive power at ``end`` (default: the receiving end) drops step by step."""
        port = self._end(link_id, end)
        port.degrade(step_db, every_s)
        if port.peer is not None:
            port.peer.tick()
        return port

    def crc_errors(self, link_id: str, per_s: float = 50.0, *, end: str | None = None) -> SimPort:
        port = self._end(link_id, end)
        port.tick()
        port.crc_per_s = per_s
        return port

    def restore_link(self, link_id: str) -> None:
        for p in self.link_ports(link_id):
            p.restore()

    def wrong_credentials(self, device_id: str) -> None:
        """The device no longer accepts the profile's password."""
        d = self.device(device_id)
        pw = secrets.token_hex(8)
        if isinstance(d, (OpenWrtMast, FibreSwitch)):
            d.set_password(self.profile.device(device_id).management.username, pw)

    def right_credentials(self, device_id: str) -> None:
        mgmt = self.profile.device(device_id).management
        d = self.device(device_id)
        if isinstance(d, OpenWrtMast | FibreSwitch):
            d.set_password(mgmt.username, mgmt.password.reveal())

    def reboot(self, device_id: str) -> None:
        d = self.device(device_id)
        if isinstance(d, OpenWrtMast | FibreSwitch):
            d.reboot()

    async def advance(self, seconds: float) -> None:
        """Move simulated time (FakeClock or SkipClock)."""
        adv = getattr(self.clock, "advance", None)
        if adv is None:
            raise TypeError("this fleet runs on a clock that cannot be advanced")
        await adv(seconds)

    def describe(self) -> dict[str, Any]:
        return {
            "time": self.clock.now().isoformat(),
            "devices": [d.describe() for d in self.devices],
            "links": [
                {
                    "id": link.id,
                    "a": f"{link.a.device}:{link.a.port}",
                    "b": f"{link.b.device}:{link.b.port}",
                    "optic": link.optic,
                    "oper": [p.oper_status() for p in self.link_ports(link.id)],
                    "rx_dbm": [round(p.rx_dbm(), 2) for p in self.link_ports(link.id)],
                }
                for link in self.profile.links
            ],
        }


__all__ = ["SimFleet", "SimPortInUse"]
