"""The far ends of the profile's link probes, in-process on loopback.

In the field, each fibre link's far end runs a STAMP reflector and an
eventops throughput sink at the addresses its ``probe`` entry names
(:class:`eventops.profile.models.ProbeTarget`). On a simulated event those
addresses are loopback, so :class:`LinkProbes` starts the real reflector and
sink of :mod:`eventops.probe` at exactly those addresses, and ``eventops probe
stamp|udp|accept`` against the profile work as they would on the real link.
A probe address that is not loopback is left alone (the real far-end device
answers there) and reported in :attr:`LinkProbes.skipped`.

Used by ``eventops sim`` and ``eventops demo``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from eventops.errors import ProbeError
from eventops.probe import Reflector, Sink, start_reflector, start_sink
from eventops.profile.models import Profile

Role = Literal["reflector", "sink"]


def split_host_port(addr: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` (the profile's ProbeTarget pattern) -> (host, port)."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"{addr!r}: expected HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it resolves to a real device somewhere


@dataclass(frozen=True)
class Endpoint:
    role: Role
    addr: str
    """As the profile writes it."""
    links: tuple[str, ...]
    """The links whose probe names this address."""


def plan(profile: Profile) -> tuple[list[Endpoint], list[Endpoint]]:
    """(endpoints to start in-process, endpoints left to real devices), in profile order.

    An address named by several links is started once.
    """
    order: list[tuple[Role, str]] = []
    users: dict[tuple[Role, str], list[str]] = {}
    for link in profile.links:
        if link.probe is None:
            continue
        named: list[tuple[Role, str | None]] = [
            ("reflector", link.probe.reflector),
            ("sink", link.probe.sink),
        ]
        for role, addr in named:
            if addr is None:
                continue
            key = (role, addr)
            if key not in users:
                order.append(key)
                users[key] = []
            users[key].append(link.id)
    local: list[Endpoint] = []
    remote: list[Endpoint] = []
    for role, addr in order:
        ep = Endpoint(role, addr, tuple(users[(role, addr)]))
        (local if is_loopback(split_host_port(addr)[0]) else remote).append(ep)
    return local, remote


class LinkProbes:
    """STAMP reflectors and throughput sinks for a profile's loopback link probes."""

    def __init__(self, profile: Profile, *, stateful: bool = True) -> None:
        self.local, self.skipped = plan(profile)
        self.stateful = stateful
        self.running: list[tuple[Endpoint, Reflector | Sink]] = []

    async def start(self) -> None:
        """Start every loopback endpoint; on a failure, close what started and raise
        :class:`ProbeError` naming the address (e.g. a port in use)."""
        try:
            for ep in self.local:
                host, port = split_host_port(ep.addr)
                server: Reflector | Sink
                if ep.role == "reflector":
                    server = await start_reflector(host, port, stateful=self.stateful)
                else:
                    server = await start_sink(host, port)
                self.running.append((ep, server))
        except ProbeError as exc:
            await self.stop()
            raise ProbeError(f"link probe for {', '.join(ep.links)}: {exc.one_line()}") from None
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        running, self.running = self.running, []
        for _ep, server in reversed(running):
            await server.close()

    async def __aenter__(self) -> LinkProbes:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def lines(self) -> list[str]:
        """What runs where and what was left to real devices, one line each."""
        out = []
        for ep, _server in self.running:
            what = "STAMP reflector" if ep.role == "reflector" else "throughput sink"
            out.append(f"  {', '.join(ep.links):<20} {what:<16} {ep.addr}")
        for ep in self.skipped:
            out.append(
                f"  note: {', '.join(ep.links)}: {ep.role} {ep.addr} is not loopback; "
                "not simulated (the real far end answers there)"
            )
        return out


__all__ = ["Endpoint", "LinkProbes", "is_loopback", "plan", "split_host_port"]
