"""The far ends of the profile's link probes, in-process on loopback.

In the field, each fibre link's far end runs a STAMP reflector and an
eventops throughput sink at the addresses its ``probe`` entry names
(:class:`eventops.profile.models.ProbeTarget`). On a simulated event those
addresses are loopback, so :class:`LinkProbes` starts the real reflector and
sink of :mod:`eventops.probe` at exactly those addresses, and ``eventops probe
stamp|udp|accept`` against the profile work as they would on the real link.
A probe address that is not loopback is left alone (the real far-end device
answers there) and reported in :attr:`LinkProbes.skipped`.

:class:`LinkProbesProcess` runs the same far ends in a child process of
their own, so a far end never competes with the process that measures or
shows the link (the engine, the terminal app): ``eventops sim`` and
``eventops demo`` use it. The child ends when the parent stops it, and on
its own when the parent dies (its stdin reaches EOF), so none is orphaned.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any, Literal

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

    @classmethod
    def of(cls, local: list[Endpoint], *, stateful: bool = True) -> LinkProbes:
        """Far ends for these (loopback) endpoints, without a profile."""
        probes = cls.__new__(cls)
        probes.local, probes.skipped, probes.stateful, probes.running = local, [], stateful, []
        return probes

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
        return _lines([ep for ep, _server in self.running], self.skipped)


def _lines(running: list[Endpoint], skipped: list[Endpoint]) -> list[str]:
    out = []
    for ep in running:
        what = "STAMP reflector" if ep.role == "reflector" else "throughput sink"
        out.append(f"  {', '.join(ep.links):<20} {what:<16} {ep.addr}")
    for ep in skipped:
        out.append(
            f"  note: {', '.join(ep.links)}: {ep.role} {ep.addr} is not loopback; "
            "not simulated (the real far end answers there)"
        )
    return out


START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0


class LinkProbesProcess:
    """:class:`LinkProbes` in a child process (``python -m eventops_hardware.linkprobes``).

    The child reads its endpoints as one JSON line on stdin, answers one JSON
    line on stdout (``{"ok": true, "pid": N}`` or ``{"ok": false, "error": ...}``)
    and serves until its stdin closes or it gets SIGTERM. It runs in a session
    of its own, so a Ctrl-C at the terminal reaches only the parent, which
    stops it.
    """

    def __init__(self, profile: Profile, *, stateful: bool = True) -> None:
        self.local, self.skipped = plan(profile)
        self.stateful = stateful
        self.running: list[Endpoint] = []
        self._proc: asyncio.subprocess.Process | None = None

    @classmethod
    def of(cls, local: list[Endpoint], *, stateful: bool = True) -> LinkProbesProcess:
        """A child for these (loopback) endpoints, without a profile."""
        probes = cls.__new__(cls)
        probes.local, probes.skipped, probes.stateful = local, [], stateful
        probes.running, probes._proc = [], None
        return probes

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    async def start(self) -> None:
        """Start the child with every loopback endpoint; raise :class:`ProbeError` naming
        the link and address when one cannot start (nothing is left running then)."""
        if not self.local:
            return
        spec = {
            "stateful": self.stateful,
            "endpoints": [[ep.role, ep.addr, list(ep.links)] for ep in self.local],
        }
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "eventops_hardware.linkprobes",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(json.dumps(spec).encode() + b"\n")
            await self._proc.stdin.drain()
            line = await asyncio.wait_for(self._proc.stdout.readline(), START_TIMEOUT_S)
            try:
                answer = json.loads(line) if line else {"ok": False, "error": "exited at start"}
            except ValueError:
                answer = {"ok": False, "error": line.decode(errors="replace").strip()[:200]}
            if not answer.get("ok"):
                raise ProbeError(str(answer.get("error") or "the link probe process failed"))
        except BaseException:
            await self.stop()
            raise
        self.running = list(self.local)

    async def stop(self) -> None:
        """Stop the child: close its stdin, then SIGTERM, then SIGKILL; reap it."""
        proc, self._proc = self._proc, None
        self.running = []
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError, RuntimeError):
                proc.stdin.close()
        for sig in (None, signal.SIGTERM, signal.SIGKILL):
            if sig is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
            try:
                await asyncio.shield(asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S))
                return
            except TimeoutError:
                continue

    async def __aenter__(self) -> LinkProbesProcess:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def lines(self) -> list[str]:
        out = _lines(self.running, self.skipped)
        if self.pid is not None:
            out.append(f"  (far ends in their own process, pid {self.pid})")
        return out


# -- the child -------------------------------------------------------------------------------


async def _serve_child() -> int:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    out = sys.stdout

    def answer(doc: dict[str, Any]) -> None:
        out.write(json.dumps(doc) + "\n")
        out.flush()

    try:
        spec = json.loads(await reader.readline())
        local = [Endpoint(r, a, tuple(links)) for r, a, links in spec["endpoints"]]
        stateful = bool(spec.get("stateful", True))
    except (ValueError, KeyError, TypeError):
        answer({"ok": False, "error": "bad endpoint list on stdin"})
        return 2
    probes = LinkProbes.of(local, stateful=stateful)
    try:
        await probes.start()
    except ProbeError as exc:
        answer({"ok": False, "error": exc.one_line()})
        return 1
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    try:
        answer({"ok": True, "pid": os.getpid()})

        async def until_eof() -> None:
            while await reader.read(4096):
                pass
            stop.set()

        eof = asyncio.create_task(until_eof())
        await stop.wait()
        eof.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await eof
    finally:
        await probes.stop()
    return 0


__all__ = [
    "Endpoint",
    "LinkProbes",
    "LinkProbesProcess",
    "is_loopback",
    "plan",
    "split_host_port",
]


if __name__ == "__main__":
    sys.exit(asyncio.run(_serve_child()))
