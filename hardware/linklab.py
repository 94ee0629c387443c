"""The link lab: emulated links between network namespaces.

A lab link is three namespaces joined by two veth pairs::

    evo-lab-<pid>-<n>a  [evo0] ───── [evoa]  evo-lab-<pid>-<n>m  [evob] ───── [evo0]  evo-lab-<pid>-<n>b
          198.18.N.1/24                    bridge or forwarder                    198.18.N.2/24

End A and end B sit in one subnet from the benchmarking range 198.18.0.0/15
(RFC 2544 / RFC 5735), so the link is a layer-2 hop as a media converter or a
WLAN bridge is. The middle namespace M joins the two veths either with a
kernel bridge (no per-frame impairments: full kernel speed) or with our own
forwarder (:mod:`eventops_hardware.forwarder`: delay, jitter, reordering and
duplication per frame, deterministic with a seed, at Python speed).

Per direction, on M's egress device towards the receiving end:

- rate: a ``tbf`` qdisc. tbf counts each frame as the kernel holds it
  (IP packet + 14-byte Ethernet header) plus ``overhead_bytes``; the fibre
  presets add 24 (FCS, preamble, inter-frame gap) so their rate is the
  optical line rate. :meth:`LinkSpec.frame_bits` converts a UDP payload size
  to the bits tbf counts, to compare measured rates at the same layer.
- random loss: an nftables ``netdev`` egress chain with ``numgen random``
  (kernel randomness: not seeded), in parts per million.

The ends' veths have transmit checksumming and segmentation offloads turned
off (``ethtool -K``): every frame on the emulated wire is one MTU-sized
datagram, as on a real wire, so a drop or a delay hits one datagram and not a
GSO super-packet of ~40 (and the forwarder sees finished checksums).

IPv6 is disabled in the lab namespaces so that no router solicitations or
MLD reports wander through the forwarder and shift its seeded decisions.

:func:`link_lab` builds a link and tears it down in ``finally``; it first
purges stale lab namespaces: those whose name carries the id of a process
that no longer exists (a crashed earlier run). Namespaces of live processes,
including other users' ``evo-*`` namespaces that do not follow this naming,
are left alone.

Needs root, iproute2, ethtool and nft. When they are missing or namespaces
cannot be made, :class:`LabUnavailable` says why (``EVENTOPS_LAB_DISABLE=why``
makes it say so on purpose).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

NETNS_DIR = Path("/run/netns")
LAB_RE = re.compile(r"^evo-lab-(\d+)-\d+[amb]$")
#: Bytes per frame that the kernel's qdisc counts on top of the IP packet.
ETH_HEADER = 14
#: FCS 4 + preamble/SFD 8 + inter-frame gap 12: what a line rate adds per frame.
ETH_LINE_OVERHEAD = 24
IP_UDP_HEADERS = 28
CLONE_NEWNET = 0x40000000

_lab_counter = count()


class LabError(RuntimeError):
    """A lab command failed; the message names the command and its stderr."""


class LabUnavailable(LabError):
    """Namespaces cannot be made on this machine (not root, tools missing...)."""


# ---------------------------------------------------------------------------
# Specification


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Impairment(_Spec):
    """What the forwarder does to the frames of one direction."""

    delay_ms: float = Field(default=0.0, ge=0, le=10_000)
    """Added one-way delay."""
    jitter_ms: float = Field(default=0.0, ge=0, le=10_000)
    """Half-width of a uniform spread around ``delay_ms`` (delay ± jitter)."""
    keep_order: bool = True
    """Jitter never lets a frame overtake an earlier one (as 802.11's
    reordering buffer or a FIFO link delivers); False lets jitter reorder.
    Keeping order holds a frame behind a slower predecessor, so when frames
    come closer together than the jitter's spread, delays shift upwards."""
    reorder_pct: float = Field(default=0.0, ge=0, le=100)
    """Share of frames held back until ``reorder_gap`` later frames went out."""
    reorder_gap: int = Field(default=3, ge=1, le=1000)
    max_hold_ms: float = Field(default=100.0, gt=0, le=10_000)
    """A held frame goes out after this long even if too few frames followed."""
    duplicate_pct: float = Field(default=0.0, ge=0, le=100)
    """Share of frames sent twice, back to back."""
    drop_pct: float = Field(default=0.0, ge=0, le=100)
    """Seeded random loss inside the forwarder (nftables loss is ``Direction.loss_pct``)."""
    max_queue: int = Field(default=20_000, ge=1, le=10_000_000)
    """Frames the forwarder holds for this direction before it drops new ones
    (counted as ``overload_drops``: the forwarder, not the link, ran out)."""

    @property
    def active(self) -> bool:
        return any(
            (self.delay_ms, self.jitter_ms, self.reorder_pct, self.duplicate_pct, self.drop_pct)
        )


class Direction(_Spec):
    """One direction of a link."""

    rate_mbps: float | None = Field(default=None, gt=0, le=400_000)
    """tbf rate in Mbit/s at the layer described by ``LinkSpec.overhead_bytes``."""
    loss_pct: float = Field(default=0.0, ge=0, le=100)
    """Random loss by nftables ``numgen random`` (ppm resolution)."""
    impair: Impairment = Impairment()


class LinkSpec(_Spec):
    """An emulated link: both directions, and how frames are accounted."""

    name: str = "link"
    a_to_b: Direction = Direction()
    b_to_a: Direction = Direction()
    overhead_bytes: int = Field(default=0, ge=0, le=64)
    """Bytes tbf adds per frame on top of the 14-byte Ethernet header."""
    buffer_ms: float = Field(default=20.0, gt=0, le=1000)
    """tbf queue, in milliseconds of traffic at the rate."""
    burst_ms: float = Field(default=5.0, gt=0, le=1000)
    """tbf bucket, in milliseconds of traffic at the rate. tbf dequeues from
    softirq context, which a loaded host runs late; tokens beyond the bucket
    are lost meanwhile, so a bucket of a few milliseconds lets the link catch
    up instead of delivering less than its rate."""
    seed: int = 1
    """Seed of the forwarder's per-frame decisions."""
    match: Literal["ip", "udp"] = "ip"
    """Which frames the forwarder impairs: all IPv4, or only UDP (TCP control
    connections then pass untouched, so that counts compare exactly)."""
    mtu: int = Field(default=1500, ge=576, le=9000)

    @classmethod
    def symmetric(
        cls,
        name: str = "link",
        *,
        rate_mbps: float | None = None,
        loss_pct: float = 0.0,
        impair: Impairment | None = None,
        **kw: Any,
    ) -> LinkSpec:
        d = Direction(rate_mbps=rate_mbps, loss_pct=loss_pct, impair=impair or Impairment())
        return cls(name=name, a_to_b=d, b_to_a=d, **kw)

    @property
    def needs_forwarder(self) -> bool:
        return self.a_to_b.impair.active or self.b_to_a.impair.active

    def frame_bytes(self, udp_payload: int) -> int:
        """Bytes tbf counts for one IPv4/UDP datagram with ``udp_payload`` bytes."""
        return udp_payload + IP_UDP_HEADERS + ETH_HEADER + self.overhead_bytes

    def frame_bits(self, udp_payload: int) -> int:
        return 8 * self.frame_bytes(udp_payload)

    def payload_rate_mbps(self, direction: Literal["a_to_b", "b_to_a"], udp_payload: int) -> float:
        """The UDP payload rate that fills the direction's tbf rate exactly."""
        rate = getattr(self, direction).rate_mbps
        if rate is None:
            raise ValueError(f"{self.name}: {direction} has no rate limit")
        return float(rate) * udp_payload / self.frame_bytes(udp_payload)


def fibre_1g(name: str = "fibre-1g", **kw: Any) -> LinkSpec:
    """A 1000BASE-LX run: 1 Gbit/s line rate, clean, delay below what the lab resolves
    (5 µs per km of fibre), so no forwarder and full kernel speed."""
    return LinkSpec.symmetric(name, rate_mbps=1000.0, overhead_bytes=ETH_LINE_OVERHEAD, **kw)


def fibre_10g(name: str = "fibre-10g", **kw: Any) -> LinkSpec:
    """A 10GBASE-LR run: 10 Gbit/s line rate, clean. On a small machine the host, not
    the tbf, is the bottleneck: a measurement shows the host's ceiling."""
    return LinkSpec.symmetric(
        name,
        rate_mbps=10_000.0,
        overhead_bytes=ETH_LINE_OVERHEAD,
        buffer_ms=2.0,
        burst_ms=1.0,
        **kw,
    )


def wlan_5ghz_busy(name: str = "wlan-5g-busy", **kw: Any) -> LinkSpec:
    """A busy 5 GHz hop (80 MHz, many stations, contention): about 150 Mbit/s of
    goodput down and 60 up, 4 ms ± 3 ms airtime/queueing delay kept in order
    (A-MPDU reordering buffer), 0.5 % residual loss after retries, rare
    duplicates (a lost block-ack) and reorders (retries across aggregates)."""
    down = Direction(
        rate_mbps=150.0,
        loss_pct=0.5,
        impair=Impairment(
            delay_ms=4.0, jitter_ms=3.0, keep_order=True, reorder_pct=0.1, duplicate_pct=0.05
        ),
    )
    up = Direction(
        rate_mbps=60.0,
        loss_pct=0.5,
        impair=Impairment(
            delay_ms=4.0, jitter_ms=3.0, keep_order=True, reorder_pct=0.1, duplicate_pct=0.05
        ),
    )
    return LinkSpec(name=name, a_to_b=down, b_to_a=up, buffer_ms=20.0, **kw)


PRESETS: dict[str, Callable[..., LinkSpec]] = {
    "fibre-1g": fibre_1g,
    "fibre-10g": fibre_10g,
    "wlan-5g-busy": wlan_5ghz_busy,
}


# ---------------------------------------------------------------------------
# Commands


async def run(*argv: str, input: bytes | None = None, check: bool = True) -> str:
    """Run a command without blocking the loop; its stdout, or :class:`LabError`."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise LabUnavailable(f"{argv[0]} is not installed") from None
    out, err = await proc.communicate(input)
    if check and proc.returncode != 0:
        msg = err.decode(errors="replace").strip().splitlines()
        raise LabError(f"`{' '.join(argv)}` failed: {msg[-1] if msg else proc.returncode}")
    return out.decode(errors="replace")


async def check_available() -> None:
    """Raise :class:`LabUnavailable` naming what is missing; return if a lab can be made."""
    disabled = os.environ.get("EVENTOPS_LAB_DISABLE")
    if disabled:
        raise LabUnavailable(f"disabled by EVENTOPS_LAB_DISABLE ({disabled})")
    if os.geteuid() != 0:
        raise LabUnavailable("the link lab needs root (network namespaces, tc, nft)")
    for tool in ("ip", "tc", "nft", "ethtool"):
        if shutil.which(tool) is None:
            raise LabUnavailable(f"{tool} is not installed")
    probe = f"evo-lab-{os.getpid()}-{next(_lab_counter)}m"
    try:
        await run("ip", "netns", "add", probe)
    except LabError as exc:
        raise LabUnavailable(f"cannot create a network namespace: {exc}") from None
    await run("ip", "netns", "del", probe, check=False)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def purge_stale() -> list[str]:
    """Delete lab namespaces left by processes that no longer exist; return their names.

    Processes still running inside such a namespace (a forwarder or a tool the
    dead run started) are sent SIGKILL by pid first.
    """
    removed = []
    for name in _netns_names():
        m = LAB_RE.match(name)
        if not m or _pid_alive(int(m.group(1))):
            continue
        pids = await run("ip", "netns", "pids", name, check=False)
        for pid in pids.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        await run("ip", "netns", "del", name, check=False)
        removed.append(name)
    return removed


def _netns_names() -> list[str]:
    """Names under /run/netns (a tmpfs: listing it does not block)."""
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


# ---------------------------------------------------------------------------
# Entering a namespace from this process


def _setns(name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(NETNS_DIR / name, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise LabError(f"setns({name}) failed: {os.strerror(err)}")
    finally:
        os.close(fd)


def call_in_netns(name: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a fresh thread that has entered namespace ``name``; blocking.

    The thread ends afterwards, so no pooled thread is left in the namespace.
    Sockets created by ``fn`` stay bound to the namespace's network stack and
    may be used from any thread (or the event loop) afterwards.
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            _setns(name)
            box["value"] = fn()
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=target, name=f"netns-{name}", daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


async def run_in_netns(name: str, fn: Callable[[], T]) -> T:
    """:func:`call_in_netns` without blocking the event loop."""
    return await asyncio.to_thread(call_in_netns, name, fn)


def netns_socket(
    name: str, family: int = socket.AF_INET, type: int = socket.SOCK_DGRAM, proto: int = 0
) -> socket.socket:
    """A socket in namespace ``name`` (creating one is quick; this blocks briefly)."""
    return call_in_netns(name, lambda: socket.socket(family, type, proto))


class NetnsLoop:
    """An event loop in a thread that lives in namespace ``name``.

    Code that makes its own sockets (eventops' probe, a sink, a reflector)
    runs there with ``await loop.call(coro)``; threads it starts inherit the
    namespace. Use as ``async with NetnsLoop(ns) as loop:``.

    ``realtime``: the thread and the threads it starts run at SCHED_FIFO
    priority 1, like the forwarder, so that a loaded host does not stall a
    paced sender into bursts that a link's queue then drops: the lab is there
    to test the measurement against the link, not against the host's load.
    """

    def __init__(self, name: str, *, realtime: bool = False) -> None:
        self.name = name
        self.realtime = realtime
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def __aenter__(self) -> NetnsLoop:
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        caller = asyncio.get_running_loop()

        def main() -> None:
            try:
                _setns(self.name)
                if self.realtime:
                    # Per thread on Linux, and inherited by the threads this
                    # loop starts (a probe's sender and receiver).
                    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
                loop = asyncio.new_event_loop()
            except BaseException as exc:
                caller.call_soon_threadsafe(ready.set_exception, exc)
                return
            self._loop = loop
            caller.call_soon_threadsafe(ready.set_result, None)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
                loop.close()

        self._thread = threading.Thread(target=main, name=f"netns-loop-{self.name}", daemon=True)
        self._thread.start()
        await ready
        return self

    async def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the namespace's loop; cancelling the caller cancels it."""
        assert self._loop is not None
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return await asyncio.wrap_future(fut)

    async def __aexit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10)


# ---------------------------------------------------------------------------
# The lab


class ForwarderHandle:
    """The running forwarder: its control socket and process."""

    def __init__(self, proc: asyncio.subprocess.Process, control: Path) -> None:
        self.proc = proc
        self.control = control

    async def request(self, op: str, **kw: Any) -> dict[str, Any]:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(str(self.control)), timeout=5
        )
        try:
            writer.write(json.dumps({"op": op, **kw}).encode() + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), timeout=5)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if not line:
            raise LabError("forwarder closed its control connection without an answer")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise LabError(f"forwarder: {answer['error']}")
        return answer

    async def stats(self) -> dict[str, Any]:
        """Per-direction counters since start or the last reset."""
        return await self.request("stats")

    async def reset(self) -> dict[str, Any]:
        """The counters so far; then zero them and restart the seeded decisions."""
        return await self.request("reset")

    async def configure(self, spec: LinkSpec) -> dict[str, Any]:
        return await self.request("set", config=forwarder_config(spec))


def forwarder_config(spec: LinkSpec) -> dict[str, Any]:
    return {
        "seed": spec.seed,
        "match": spec.match,
        "a_to_b": spec.a_to_b.impair.model_dump(),
        "b_to_a": spec.b_to_a.impair.model_dump(),
    }


@dataclass
class Lab:
    """A running lab link; see the module docstring for the layout."""

    spec: LinkSpec
    index: int
    ns_a: str
    ns_m: str
    ns_b: str
    subnet: str
    addr_a: str
    addr_b: str
    forwarder: ForwarderHandle | None = None
    _procs: list[asyncio.subprocess.Process] = field(default_factory=list)
    _tmp: Path | None = None

    DEV_END = "evo0"
    DEV_MA = "evoa"
    DEV_MB = "evob"

    def netns(self, end: Literal["a", "m", "b"]) -> str:
        return {"a": self.ns_a, "m": self.ns_m, "b": self.ns_b}[end]

    async def exec(
        self, end: Literal["a", "m", "b"], *argv: str, env: dict[str, str] | None = None
    ) -> asyncio.subprocess.Process:
        """Start ``argv`` inside the namespace of ``end``; it is killed at teardown."""
        proc = await asyncio.create_subprocess_exec(
            "ip",
            "netns",
            "exec",
            self.netns(end),
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        self._procs.append(proc)
        return proc

    async def run(self, end: Literal["a", "m", "b"], *argv: str) -> str:
        """Run ``argv`` in the namespace of ``end`` to completion; its stdout."""
        return await run("ip", "netns", "exec", self.netns(end), *argv)

    def loop(self, end: Literal["a", "m", "b"], *, realtime: bool = True) -> NetnsLoop:
        """An event loop inside the namespace of ``end`` (``async with lab.loop("a") as la``)."""
        return NetnsLoop(self.netns(end), realtime=realtime)

    def socket(
        self, end: Literal["a", "b"], family: int = socket.AF_INET, type: int = socket.SOCK_DGRAM
    ) -> socket.socket:
        return netns_socket(self.netns(end), family, type)

    async def set_loss(self, direction: Literal["a_to_b", "b_to_a"], loss_pct: float) -> None:
        """Change a direction's nftables loss while the link runs."""
        d = getattr(self.spec, direction).model_copy(update={"loss_pct": loss_pct})
        self.spec = self.spec.model_copy(update={direction: d})
        await self._apply_loss()

    async def set_rate(
        self, direction: Literal["a_to_b", "b_to_a"], rate_mbps: float | None
    ) -> None:
        """Change a direction's tbf rate while the link runs."""
        d = getattr(self.spec, direction).model_copy(update={"rate_mbps": rate_mbps})
        self.spec = self.spec.model_copy(update={direction: d})
        dev = self.DEV_MB if direction == "a_to_b" else self.DEV_MA
        await self._apply_rate(dev, d)

    async def qdisc_stats(self, direction: Literal["a_to_b", "b_to_a"]) -> dict[str, Any]:
        """The tbf's own counters (bytes, packets, drops) for a direction."""
        dev = self.DEV_MB if direction == "a_to_b" else self.DEV_MA
        out = await run("tc", "-n", self.ns_m, "-s", "-j", "qdisc", "show", "dev", dev)
        for q in json.loads(out or "[]"):
            if q.get("root"):
                return dict(q)
        return {}

    # -- building -------------------------------------------------------------

    async def _ip(self, *argv: str) -> None:
        await run("ip", *argv)

    async def _build(self) -> None:
        for ns in (self.ns_a, self.ns_m, self.ns_b):
            await run("ip", "netns", "add", ns)
            await run(
                "ip", "netns", "exec", ns, "sysctl", "-qw",
                "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
            )  # fmt: skip
            await self._ip("-n", ns, "link", "set", "lo", "up")
        await self._ip(
            "link", "add", "name", self.DEV_END, "netns", self.ns_a, "mtu", str(self.spec.mtu),
            "type", "veth", "peer", "name", self.DEV_MA, "netns", self.ns_m,
        )  # fmt: skip
        await self._ip(
            "link", "add", "name", self.DEV_END, "netns", self.ns_b, "mtu", str(self.spec.mtu),
            "type", "veth", "peer", "name", self.DEV_MB, "netns", self.ns_m,
        )  # fmt: skip
        for ns in (self.ns_a, self.ns_b):
            await run(
                "ip", "netns", "exec", ns, "ethtool", "-K", self.DEV_END,
                "tx", "off", "tso", "off", "gso", "off",
            )  # fmt: skip
        await self._ip("-n", self.ns_a, "addr", "add", f"{self.addr_a}/24", "dev", self.DEV_END)
        await self._ip("-n", self.ns_b, "addr", "add", f"{self.addr_b}/24", "dev", self.DEV_END)
        for dev in (self.DEV_MA, self.DEV_MB):
            await self._ip("-n", self.ns_m, "link", "set", dev, "mtu", str(self.spec.mtu))
        if not self.spec.needs_forwarder:
            await self._ip(
                "-n", self.ns_m, "link", "add", "evobr", "type", "bridge",
                "forward_delay", "0", "stp_state", "0",
            )  # fmt: skip
            for dev in (self.DEV_MA, self.DEV_MB):
                await self._ip("-n", self.ns_m, "link", "set", dev, "master", "evobr")
            await self._ip("-n", self.ns_m, "link", "set", "evobr", "up")
        for dev in (self.DEV_MA, self.DEV_MB):
            await self._ip("-n", self.ns_m, "link", "set", dev, "up")
        await self._ip("-n", self.ns_a, "link", "set", self.DEV_END, "up")
        await self._ip("-n", self.ns_b, "link", "set", self.DEV_END, "up")
        await self._apply_rate(self.DEV_MB, self.spec.a_to_b)
        await self._apply_rate(self.DEV_MA, self.spec.b_to_a)
        await self._apply_loss()
        if self.spec.needs_forwarder:
            await self._start_forwarder()
        await self._wait_reachable()

    async def _apply_rate(self, dev: str, d: Direction) -> None:
        await run("tc", "-n", self.ns_m, "qdisc", "del", "dev", dev, "root", check=False)
        if d.rate_mbps is None:
            return
        rate_bps = d.rate_mbps * 1e6
        frame = self.spec.mtu + ETH_HEADER + self.spec.overhead_bytes
        burst = max(4 * frame, int(rate_bps / 8 * self.spec.burst_ms / 1000))
        limit = max(burst + 2 * frame, int(rate_bps / 8 * self.spec.buffer_ms / 1000))
        await run(
            "tc", "-n", self.ns_m, "qdisc", "add", "dev", dev, "root", "tbf",
            "rate", f"{int(rate_bps)}bit", "burst", str(burst), "limit", str(limit),
            "mtu", str(frame + 64), "overhead", str(self.spec.overhead_bytes),
        )  # fmt: skip

    async def _apply_loss(self) -> None:
        lines = ["table netdev evoloss {"]
        for dev, d in ((self.DEV_MB, self.spec.a_to_b), (self.DEV_MA, self.spec.b_to_a)):
            if d.loss_pct <= 0:
                continue
            ppm = round(d.loss_pct * 10_000)
            lines += [
                f"  chain {dev} {{",
                f'    type filter hook egress device "{dev}" priority 0; policy accept;',
                # One rule per kind, one random draw per packet: the same loss
                # for all, with UDP counted apart (a probe's data vs its TCP control).
                f"    meta protocol ip meta l4proto udp numgen random mod 1000000 < {ppm} "
                'counter drop comment "udp"',
                f"    meta protocol ip meta l4proto != udp numgen random mod 1000000 < {ppm} "
                'counter drop comment "other"',
                "  }",
            ]
        lines.append("}")
        # Replace the whole table in one transaction (declaring it first makes
        # the delete valid when it does not exist yet).
        script = "table netdev evoloss\ndelete table netdev evoloss\n" + "\n".join(lines) + "\n"
        await run("ip", "netns", "exec", self.ns_m, "nft", "-f", "-", input=script.encode())

    async def loss_counters(self, kind: Literal["all", "udp"] = "all") -> dict[str, int]:
        """Packets nftables dropped per direction so far (all IPv4, or UDP only)."""
        out = await run("ip", "netns", "exec", self.ns_m, "nft", "-j", "list", "ruleset")
        counts = {"a_to_b": 0, "b_to_a": 0}
        for item in json.loads(out).get("nftables", []):
            rule = item.get("rule")
            if not rule or (kind == "udp" and rule.get("comment") != "udp"):
                continue
            for expr in rule.get("expr", []):
                if "counter" in expr:
                    key = "a_to_b" if rule["chain"] == self.DEV_MB else "b_to_a"
                    counts[key] += int(expr["counter"]["packets"])
        return counts

    async def _start_forwarder(self) -> None:
        assert self._tmp is not None
        control = self._tmp / "forwarder.sock"
        proc = await self.exec(
            "m",
            sys.executable, "-m", "eventops_hardware.forwarder",
            "--a-dev", self.DEV_MA, "--b-dev", self.DEV_MB,
            "--control", str(control), "--realtime",
            "--config", json.dumps(forwarder_config(self.spec)),
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=15)
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            err = b""
            if proc.returncode is not None and proc.stderr is not None:
                err = await proc.stderr.read()
            tail = err.decode(errors="replace").strip().splitlines()
            raise LabError(f"forwarder did not start: {tail[-1] if tail else line!r}")
        self.forwarder = ForwarderHandle(proc, control)

    async def _wait_reachable(self) -> None:
        """Resolve ARP both ways so the first measured frame is not an ARP wait."""
        for ns, peer in ((self.ns_a, self.addr_b), (self.ns_b, self.addr_a)):
            await run(
                "ip", "-n", ns, "neigh", "replace", peer, "lladdr",
                await self._mac(self.ns_b if ns == self.ns_a else self.ns_a), "dev", self.DEV_END,
                "nud", "permanent",
            )  # fmt: skip

    async def _mac(self, ns: str) -> str:
        out = await run("ip", "-n", ns, "-j", "link", "show", "dev", self.DEV_END)
        return str(json.loads(out)[0]["address"])

    async def _teardown(self) -> None:
        for proc in self._procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
        for proc in self._procs:
            if proc.returncode is None:
                try:
                    await asyncio.wait_for(proc.wait(), timeout=3)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
        for ns in (self.ns_a, self.ns_m, self.ns_b):
            if ns in _netns_names():
                # Anything still inside was started for this lab.
                pids = await run("ip", "netns", "pids", ns, check=False)
                for pid in pids.split():
                    with contextlib.suppress(ProcessLookupError, ValueError):
                        os.kill(int(pid), signal.SIGKILL)
                await run("ip", "netns", "del", ns, check=False)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


@contextlib.asynccontextmanager
async def link_lab(spec: LinkSpec) -> AsyncIterator[Lab]:
    """Build the link ``spec`` describes; tear it down on exit, whatever happened."""
    await check_available()
    await purge_stale()
    n = next(_lab_counter)
    base = f"evo-lab-{os.getpid()}-{n}"
    octet = n % 256
    lab = Lab(
        spec=spec,
        index=n,
        ns_a=base + "a",
        ns_m=base + "m",
        ns_b=base + "b",
        subnet=f"198.18.{octet}.0/24",
        addr_a=f"198.18.{octet}.1",
        addr_b=f"198.18.{octet}.2",
        _tmp=Path(tempfile.mkdtemp(prefix="evo-lab-")),
    )
    try:
        await lab._build()
        yield lab
    finally:
        teardown = asyncio.ensure_future(lab._teardown())
        try:
            await asyncio.shield(teardown)
        except asyncio.CancelledError:
            await teardown
            raise
