"""The link lab's forwarder: per-frame delay, jitter, reordering, duplication.

This kernel has no ``netem``, so the lab's middle namespace runs this instead
of a bridge when a link needs impairments. It bridges two veth devices with
``AF_PACKET`` raw sockets: every Ethernet frame read on one device is written
to the other, unchanged, after the impairment of its direction. Frames keep
their MAC and IP addresses, so the ends see one layer-2 hop.

Per direction and per frame (IPv4 frames, or only UDP ones with
``match="udp"``; ARP and the rest pass at once), with a ``random.Random``
seeded from the seed and the direction, three numbers are drawn for every
frame, always, so the decision for the k-th frame depends only on the seed
and k:

- ``drop_pct``: the frame is dropped (seeded loss; the lab's nftables loss
  is separate and uses kernel randomness);
- ``duplicate_pct``: the frame is sent twice, back to back; else
  ``reorder_pct``: the frame is held until ``reorder_gap`` later frames of its
  direction went out, then sent (so the receiver sees it after a
  higher-numbered one: exactly one reordered packet in RFC 4737 terms); a held
  frame that sees too few followers within ``max_hold_ms`` goes out anyway and
  is counted as a hold timeout, not as reordered;
- delay: ``delay_ms`` ± uniform ``jitter_ms``, measured from the kernel's
  receive timestamp (SO_TIMESTAMPNS), so time a frame waited in the socket
  buffer counts towards its delay rather than adding to it. With
  ``keep_order`` a frame never leaves before an earlier one of its direction.

Accuracy and limits (2 shared cores, CPython 3.11): the loop sleeps in
``select`` until the next frame is due. With ``--realtime`` (the lab's
default) it runs at SCHED_FIFO priority 1, as netem's work runs in softirq
context ahead of ordinary processes; without it, a loaded machine delays
frames by milliseconds and bunches them into bursts that overflow a tbf
queue. Timer slack makes a frame typically 20-100 µs late, and the
forwarder reports how late (``late_max_us``, ``late_mean_us``,
``late_over_500us``) so a measurement can tell whether the lab held its
promise.

Measured here (2 cores at load ~5, ``benchmarks/linklab_forwarder.py``):
with 1 ms delay, release lateness stays about 0.1 ms on average up to
~10 kpps (100 Mbit/s of 1400-byte frames) and grows to milliseconds beyond
~20 kpps; a bare AF_PACKET copy loop on an idle core manages ~60 kpps. So it
serves the delay/jitter/reorder/duplicate presets (a WLAN hop, tens of
Mbit/s to ~150 Mbit/s); full-rate fibre presets use a kernel bridge
instead. Above its capacity the receive socket overflows (``kernel_drops``),
and at ``max_queue`` frames per direction the delay queue drops new frames
(``overload_drops``) rather than let every frame grow later: an overloaded
lab says so. Rates are enforced by the lab's tbf qdiscs on the egress
devices, after this forwarder.

Run inside the middle namespace::

    python -m eventops_hardware.forwarder --a-dev evoa --b-dev evob \
        --control /tmp/x.sock --config '{"seed": 1, "a_to_b": {...}, "b_to_a": {...}}'

It prints ``ready`` once both devices are bound. A control connection on the
UNIX socket takes one JSON line and answers one: ``{"op": "stats"}``,
``{"op": "reset"}`` (answer the counters, then zero them and restart the
seeded sequence) or
``{"op": "set", "config": {...}}``. On SIGTERM it prints its final stats as
JSON and exits; it also exits when its parent dies.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import errno
import heapq
import json
import os
import random
import select
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_OUTGOING = 4
SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32
SO_TIMESTAMPNS = 35
PR_SET_PDEATHSIG = 1
BUF = 65536
DRAIN = 256
ETH_IPV4 = b"\x08\x00"

IMPAIRMENT_KEYS = {
    "delay_ms": 0.0,
    "jitter_ms": 0.0,
    "keep_order": True,
    "reorder_pct": 0.0,
    "reorder_gap": 3,
    "max_hold_ms": 100.0,
    "duplicate_pct": 0.0,
    "drop_pct": 0.0,
    "max_queue": 20000,
}


class ConfigError(ValueError):
    pass


def impairment(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected an object")
    unknown = set(raw) - set(IMPAIRMENT_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
    out = dict(IMPAIRMENT_KEYS)
    out.update(raw)
    for key in ("delay_ms", "jitter_ms", "max_hold_ms"):
        if not isinstance(out[key], int | float) or out[key] < 0:
            raise ConfigError(f"{where}.{key}: must be a number >= 0")
    for key in ("reorder_pct", "duplicate_pct", "drop_pct"):
        if not isinstance(out[key], int | float) or not 0 <= out[key] <= 100:
            raise ConfigError(f"{where}.{key}: must be a percentage 0-100")
    if out["duplicate_pct"] + out["reorder_pct"] > 100:
        raise ConfigError(f"{where}: duplicate_pct + reorder_pct exceed 100")
    for key in ("reorder_gap", "max_queue"):
        if not isinstance(out[key], int) or out[key] < 1:
            raise ConfigError(f"{where}.{key}: must be an integer >= 1")
    return out


class Direction:
    """Decisions and counters of one direction."""

    def __init__(
        self, name: str, rx: socket.socket, tx: socket.socket, imp: dict[str, Any], seed: int
    ) -> None:
        self.name = name
        self.rx = rx
        self.tx = tx
        self.rng = random.Random(f"{seed}:{name}")
        self.drop_p = imp["drop_pct"] / 100.0
        self.dup_p = imp["duplicate_pct"] / 100.0
        self.reo_p = self.dup_p + imp["reorder_pct"] / 100.0
        self.gap = int(imp["reorder_gap"])
        self.delay_ns = int(imp["delay_ms"] * 1e6)
        self.jitter_ns = int(imp["jitter_ms"] * 1e6)
        self.max_hold_ns = int(imp["max_hold_ms"] * 1e6)
        self.keep_order = bool(imp["keep_order"])
        self.max_queue = int(imp["max_queue"])
        self.last_due = 0
        self.queued = 0  # frames of this direction in the heap
        self.held: list[list[Any]] = []  # [remaining, deadline_ns, frame]
        self.counts = dict.fromkeys(
            (
                "frames", "passed", "forwarded", "dropped", "duplicated", "reordered",
                "hold_timeouts", "egress_drops", "egress_full", "oversize", "kernel_drops", "overload_drops",
                "late_over_500us",
            ),
            0,
        )  # fmt: skip
        self.late_max = 0
        self.late_sum = 0
        self.late_n = 0

    def send(self, frame: bytes) -> None:
        try:
            self.tx.send(frame)
        except BlockingIOError:
            self.counts["egress_full"] += 1
        except OSError as exc:
            # nftables loss (EPERM) or a full tbf queue (ENOBUFS): the link's doing.
            if exc.errno in (errno.EPERM, errno.ENOBUFS, errno.EMSGSIZE):
                self.counts["egress_drops"] += 1
            else:
                raise
        else:
            self.counts["forwarded"] += 1

    def note_late(self, late_ns: int) -> None:
        if late_ns < 0:
            late_ns = 0
        self.late_n += 1
        self.late_sum += late_ns
        if late_ns > self.late_max:
            self.late_max = late_ns
        if late_ns > 500_000:
            self.counts["late_over_500us"] += 1

    def poll_kernel_drops(self) -> None:
        with contextlib.suppress(OSError):
            raw = self.rx.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
            _, drops = struct.unpack("II", raw)
            self.counts["kernel_drops"] += drops

    def stats(self) -> dict[str, Any]:
        self.poll_kernel_drops()
        out: dict[str, Any] = dict(self.counts)
        out["held_now"] = len(self.held)
        out["queued_now"] = self.queued
        out["late_max_us"] = round(self.late_max / 1000, 1)
        out["late_mean_us"] = round(self.late_sum / self.late_n / 1000, 1) if self.late_n else 0.0
        return out


class Forwarder:
    def __init__(
        self, a_dev: str, b_dev: str, config: dict[str, Any], control: Path | None
    ) -> None:
        self.sa = self._packet_socket(a_dev)
        self.sb = self._packet_socket(b_dev)
        self.heap: list[tuple[int, int, int, bytes, int]] = []
        self.dirs: list[Direction] = []
        self.seq = 0
        self.running = True
        self.ctl: socket.socket | None = None
        if control is not None:
            with contextlib.suppress(FileNotFoundError):
                control.unlink()
            self.ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.ctl.bind(str(control))
            self.ctl.listen(8)
            self.ctl.setblocking(False)
        self.configure(config)

    @staticmethod
    def _packet_socket(dev: str) -> socket.socket:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        for force, plain, size in (
            (SO_RCVBUFFORCE, socket.SO_RCVBUF, 16 << 20),
            (SO_SNDBUFFORCE, socket.SO_SNDBUF, 4 << 20),
        ):
            try:
                s.setsockopt(socket.SOL_SOCKET, force, size)
            except PermissionError:
                s.setsockopt(socket.SOL_SOCKET, plain, size)
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.bind((dev, ETH_P_ALL))
        s.setblocking(False)
        # Frames that arrived before the bind are not ours to judge.
        with contextlib.suppress(OSError):
            s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        return s

    def configure(self, config: dict[str, Any]) -> None:
        if not isinstance(config, dict):
            raise ConfigError("config: expected an object")
        unknown = set(config) - {"seed", "match", "a_to_b", "b_to_a"}
        if unknown:
            raise ConfigError(f"config: unknown keys {sorted(unknown)}")
        seed = config.get("seed", 1)
        if not isinstance(seed, int):
            raise ConfigError("config.seed: must be an integer")
        match = config.get("match", "ip")
        if match not in ("ip", "udp"):
            raise ConfigError("config.match: must be 'ip' or 'udp'")
        ab = impairment(config.get("a_to_b", {}), "a_to_b")
        ba = impairment(config.get("b_to_a", {}), "b_to_a")
        self.config = {"seed": seed, "match": match, "a_to_b": ab, "b_to_a": ba}
        self.udp_only = match == "udp"
        new = [
            Direction("a_to_b", self.sa, self.sb, ab, seed),
            Direction("b_to_a", self.sb, self.sa, ba, seed),
        ]
        # Frames queued or held under the old settings still go out, in order.
        for old, d in zip(self.dirs, new, strict=False):
            d.queued, d.held, d.last_due = old.queued, old.held, old.last_due
        self.dirs = new
        self.ab, self.ba = new
        self.by_sock = {self.sa.fileno(): 0, self.sb.fileno(): 1}

    def stats(self) -> dict[str, Any]:
        return {"a_to_b": self.ab.stats(), "b_to_a": self.ba.stats(), "config": self.config}

    # -- the loop -------------------------------------------------------------

    def run(self) -> None:
        fds: list[Any] = [self.sa, self.sb]
        if self.ctl is not None:
            fds.append(self.ctl)
        while self.running:
            now = time.monotonic_ns()
            timeout = 0.2
            if self.heap:
                timeout = min(timeout, (self.heap[0][0] - now) / 1e9)
            for d in (self.ab, self.ba):
                if d.held:
                    timeout = min(timeout, (min(h[1] for h in d.held) - now) / 1e9)
            ready, _, _ = select.select(fds, [], [], max(0.0, timeout))
            for s in ready:
                if s is self.ctl:
                    self._control()
                else:
                    self._drain(s)
            self._release(time.monotonic_ns())

    def _drain(self, s: socket.socket) -> None:
        idx = self.by_sock[s.fileno()]
        d = self.dirs[idx]
        offset = time.time_ns() - time.monotonic_ns()
        rng = d.rng
        heap = self.heap
        for _ in range(DRAIN):
            try:
                frame, anc, flags, addr = s.recvmsg(BUF, 64)
            except BlockingIOError:
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            if flags & socket.MSG_TRUNC:
                d.counts["oversize"] += 1
                continue
            if frame[12:14] != ETH_IPV4 or (self.udp_only and frame[23] != 17):
                d.counts["passed"] += 1
                d.send(frame)
                continue
            rx = 0
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", data[:16])
                    rx = sec * 1_000_000_000 + nsec - offset
            if not rx:
                rx = time.monotonic_ns()
            u_drop, u_kind, u_jit = rng.random(), rng.random(), rng.random()
            d.counts["frames"] += 1
            if u_drop < d.drop_p:
                d.counts["dropped"] += 1
                continue
            delay = d.delay_ns
            if d.jitter_ns:
                delay += int((2.0 * u_jit - 1.0) * d.jitter_ns)
                if delay < 0:
                    delay = 0
            due = rx + delay
            if d.keep_order and due < d.last_due:
                due = d.last_due
            d.last_due = due
            if u_kind < d.dup_p:
                d.counts["duplicated"] += 1
                copies, hold = 2, 0
            elif u_kind < d.reo_p:
                copies, hold = 1, d.gap
            else:
                copies, hold = 1, 0
            if d.queued >= d.max_queue:
                # More is coming in than the forwarder gets out: drop at the tail,
                # as a full queue does, rather than let every frame grow late.
                d.counts["overload_drops"] += 1
                continue
            if not hold and not d.queued and not d.held and due <= time.monotonic_ns():
                # Nothing of this direction waits: straight through.
                d.note_late(time.monotonic_ns() - due)
                for _ in range(copies):
                    d.send(frame)
                continue
            for _ in range(copies):
                self.seq += 1
                d.queued += 1
                heapq.heappush(heap, (due, self.seq, idx, frame, hold))

    def _release(self, now: int) -> None:
        heap = self.heap
        while heap and heap[0][0] <= now:
            due, _, idx, frame, hold = heapq.heappop(heap)
            d = self.dirs[idx]
            d.queued -= 1
            if hold:
                d.held.append([hold, now + d.max_hold_ns, frame])
                continue
            d.note_late(now - due)
            d.send(frame)
            if d.held:
                still = []
                for h in d.held:
                    h[0] -= 1
                    if h[0] <= 0:
                        d.send(h[2])
                        d.counts["reordered"] += 1
                    else:
                        still.append(h)
                d.held = still
            now = time.monotonic_ns()
        for d in (self.ab, self.ba):
            if d.held and any(h[1] <= now for h in d.held):
                still = []
                for h in d.held:
                    if h[1] <= now:
                        d.send(h[2])
                        d.counts["hold_timeouts"] += 1
                    else:
                        still.append(h)
                d.held = still

    def _control(self) -> None:
        assert self.ctl is not None
        try:
            conn, _ = self.ctl.accept()
        except BlockingIOError:
            return
        with conn:
            conn.settimeout(1.0)
            try:
                buf = b""
                while not buf.endswith(b"\n") and len(buf) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
                answer = self._handle(buf)
                conn.sendall(json.dumps(answer).encode() + b"\n")
            except OSError:
                return

    def _handle(self, raw: bytes) -> dict[str, Any]:
        try:
            req = json.loads(raw)
        except ValueError:
            return {"error": "control request is not JSON"}
        if not isinstance(req, dict):
            return {"error": "control request must be an object"}
        op = req.get("op")
        if op == "stats":
            return self.stats()
        if op == "reset":
            before = self.stats()
            self.configure(self.config)
            return before
        if op == "set":
            try:
                self.configure(req.get("config"))  # type: ignore[arg-type]
            except ConfigError as exc:
                return {"error": str(exc)}
            return self.stats()
        return {"error": f"unknown op {op!r}"}


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="eventops_hardware.forwarder", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--a-dev", required=True, help="device facing end A")
    ap.add_argument("--b-dev", required=True, help="device facing end B")
    ap.add_argument("--config", default="{}", help="JSON: seed, match, a_to_b, b_to_a")
    ap.add_argument("--control", type=Path, help="UNIX socket for stats/reset/set")
    ap.add_argument(
        "--realtime", action="store_true", help="run at SCHED_FIFO priority 1 (else nice -10)"
    )
    args = ap.parse_args(argv)
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:
        return 1
    if args.realtime:
        # Real-time priority 1: the forwarder runs when a frame is due, not when
        # the shared cores get round to it. The kernel's RT throttling still
        # leaves others 5 % of every second should it ever spin.
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        except OSError:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, 0, -10)
    else:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, -10)
    try:
        config = json.loads(args.config)
        fwd = Forwarder(args.a_dev, args.b_dev, config, args.control)
    except (ValueError, ConfigError) as exc:
        print(f"forwarder: bad config: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"forwarder: cannot open devices: {exc}", file=sys.stderr)
        return 3

    def stop(signum: int, frame: Any) -> None:
        fwd.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("ready", flush=True)
    try:
        fwd.run()
    finally:
        with contextlib.suppress(OSError, ValueError):
            print(json.dumps(fwd.stats()), flush=True)
        if args.control is not None:
            with contextlib.suppress(OSError):
                args.control.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
