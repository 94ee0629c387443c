"""The STAMP session-reflector (RFC 8762; SSID per RFC 8972), stateless or stateful."""

from __future__ import annotations

import asyncio
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eventops.errors import ProbeParamError
from eventops.i18n import Msg, refusal
from eventops.probe.checks import check_port, listen_failure
from eventops.probe.stamp import (
    REFLECTOR_LEN,
    STAMP_PORT,
    _kernel_ns,
    _ttl,
    _udp_socket,
    encode_error_estimate,
    pack_reflector,
    parse_sender,
)


@dataclass
class ReflectorStats:
    reflected: int = 0
    malformed: int = 0
    send_errors: int = 0
    sessions: int = 0
    """Sessions started (a new sender, sequence number 0 or after the idle timeout)."""
    evicted: int = 0
    """Sessions dropped from the full table (least recently seen first)."""


IDLE_TIMEOUT_S = 60.0
MAX_SESSIONS = 4096


class Reflector:
    """A STAMP session-reflector. Use :func:`start_reflector`.

    Stateless: the reply's sequence number copies the sender's. Stateful: it
    counts, per sender address/port and SSID, the packets it received, so the
    sender can tell forward from backward loss. A session starts again (count
    from 0) when the sender's sequence number is 0 or after ``idle_timeout_s``
    without a packet; the table holds at most ``max_sessions`` (the least
    recently seen is dropped first).
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        stateful: bool = False,
        error_s: float = 1e-3,
        synchronized: bool = False,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        max_sessions: int = MAX_SESSIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < idle_timeout_s <= 86400:
            raise refusal(ProbeParamError, Msg("probe.range.idle", {"value": idle_timeout_s}))
        if not 1 <= max_sessions <= 1 << 20:
            raise refusal(ProbeParamError, Msg("probe.range.sessions", {"n": max_sessions}))
        self.host = host
        self.port = port
        self.stateful = stateful
        self.error = encode_error_estimate(error_s, synchronized=synchronized)
        self.stats = ReflectorStats()
        self.idle_timeout_s = idle_timeout_s
        self.max_sessions = max_sessions
        self._clock = clock
        # (address, SSID) -> [next sequence number, last seen]; oldest first
        self._counters: OrderedDict[tuple[Any, int], list[float]] = OrderedDict()
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        family, _t, _p, _c, addr = infos[0]
        sock = _udp_socket(family)
        try:
            sock.bind(addr)
        except OSError as exc:
            sock.close()
            raise listen_failure("reflector", self.host, self.port, exc) from None
        self._sock = sock
        self.port = sock.getsockname()[1]
        self._loop = loop
        loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(64):
            try:
                data, anc, _f, addr = sock.recvmsg(65535, 256)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue  # ICMP errors from earlier replies
            t2 = _kernel_ns(anc) or time.time_ns()
            try:
                req = parse_sender(data)
            except ValueError:
                self.stats.malformed += 1
                continue
            seq = self._session_seq((addr, req.ssid), req.seq) if self.stateful else req.seq
            reply = pack_reflector(
                seq, time.time_ns(), self.error, req, t2, _ttl(anc), max(REFLECTOR_LEN, len(data))
            )
            try:
                sock.sendto(reply, addr)
                self.stats.reflected += 1
            except OSError:
                self.stats.send_errors += 1

    def _session_seq(self, key: tuple[Any, int], sender_seq: int) -> int:
        """The stateful reflector's own sequence number for this packet."""
        now = self._clock()
        entry = self._counters.get(key)
        if entry is None or sender_seq == 0 or now - entry[1] > self.idle_timeout_s:
            if entry is None and len(self._counters) >= self.max_sessions:
                self._counters.popitem(last=False)
                self.stats.evicted += 1
            entry = [0, now]
            self._counters[key] = entry
            self.stats.sessions += 1
        seq = int(entry[0])
        entry[0] = seq + 1
        entry[1] = now
        self._counters.move_to_end(key)
        return seq

    @property
    def session_count(self) -> int:
        return len(self._counters)

    async def close(self) -> None:
        if self._sock is not None:
            if self._loop is not None:
                self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    async def __aenter__(self) -> Reflector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def start_reflector(
    host: str = "0.0.0.0",
    port: int = STAMP_PORT,
    *,
    stateful: bool = False,
    error_s: float = 1e-3,
    synchronized: bool = False,
    idle_timeout_s: float = IDLE_TIMEOUT_S,
    max_sessions: int = MAX_SESSIONS,
) -> Reflector:
    """Start a STAMP reflector in this process; ``await refl.close()`` to stop it."""
    check_port(port, listen=True)
    refl = Reflector(
        host,
        port,
        stateful=stateful,
        error_s=error_s,
        synchronized=synchronized,
        idle_timeout_s=idle_timeout_s,
        max_sessions=max_sessions,
    )
    await refl.start()
    return refl
