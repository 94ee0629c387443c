"""An iperf3-compatible server: stock ``iperf3 -c`` clients run their tests against it.

A thin socket shell around :class:`~eventops.probe.iperf3_proto.ServerProtocol`.
One listening TCP port (default 5201) takes both control and TCP data
connections; each starts with the client's 37-byte cookie: the cookie of the
running test marks a data stream, any other cookie while a test runs gets
ACCESS_DENIED (one test at a time, as iperf3 does). UDP streams use the same
port number: the client's ``UDP_CONNECT_MSG`` datagram is answered with
``UDP_CONNECT_REPLY`` from a socket then connected to that client, and a new
listening socket takes the next stream (SO_REUSEADDR), as iperf3 does.

Each finished test yields an :class:`Iperf3ServerTest` with the figures
``iperf3 -s`` would print (receiver bytes, rate, UDP loss and jitter).
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from eventops.errors import ProbeError
from eventops.probe.checks import check_port
from eventops.probe.datapath import Datapath, load_engine
from eventops.probe.iperf3 import CpuMeter, congestion, direction_figures, own_results
from eventops.probe.iperf3_proto import (
    CookieReceived,
    Ended,
    Event,
    Finished,
    ParamsReceived,
    PeerResults,
    ServerProtocol,
)
from eventops.probe.iperf3_streams import StreamIO, tcp_recv, tcp_send, udp_recv, udp_send
from eventops.probe.iperf3_wire import (
    COOKIE_SIZE,
    UDP_CONNECT_MSG,
    UDP_CONNECT_REPLY,
    Iperf3Params,
    Iperf3ProtocolError,
    stream_ids,
)
from eventops.probe.models import Iperf3Direction

log = logging.getLogger(__name__)

IESTREAMACCEPT = 103
"""iperf3's i_errno for "unable to accept stream connection"."""
IESTREAMCONNECT = 102


class Iperf3ServerTest(BaseModel):
    """One test a client ran against our server, from the server's side."""

    model_config = ConfigDict(extra="forbid")

    client: str
    protocol: Literal["udp", "tcp"]
    streams: int
    duration_s: float
    reverse: bool
    bidir: bool
    blksize: int
    forward: Iperf3Direction | None
    """Client → server (we received)."""
    reverse_figures: Iperf3Direction | None
    """Server → client (we sent)."""

    def summary(self) -> str:
        parts = []
        for name, d in (("received", self.forward), ("sent", self.reverse_figures)):
            if d is None:
                continue
            rate = d.receiver_bps if name == "received" else d.sender_bps
            text = f"{name} {rate / 1e6:,.2f} Mbit/s"
            if self.protocol == "udp":
                text += (
                    f" ({d.received_packets} packets, lost {d.lost_packets}, "
                    f"jitter {d.jitter_ms or 0:.4f} ms)"
                )
            parts.append(text)
        return (
            f"iperf3 test from {self.client}: {self.protocol.upper()} {self.streams} stream(s) "
            f"{self.duration_s:.2f} s: " + "; ".join(parts)
        )


class _Conn:
    """A non-blocking control socket, read and written from the event loop."""

    def __init__(self, sock: socket.socket, proto: ServerProtocol, wait_s: float) -> None:
        self.sock = sock
        self.proto = proto
        self.wait_s = wait_s
        self.pending: list[Event] = []

    async def flush(self) -> None:
        data = self.proto.data_to_send()
        if data:
            await asyncio.get_running_loop().sock_sendall(self.sock, data)

    async def next_event(self, wait_s: float | None = None) -> Event:
        loop = asyncio.get_running_loop()
        while not self.pending:
            try:
                data = await asyncio.wait_for(
                    loop.sock_recv(self.sock, 65536), wait_s or self.wait_s
                )
            except TimeoutError:
                raise Iperf3ProtocolError(
                    f"{self.proto.where}: silent for {wait_s or self.wait_s:g} s "
                    f"({self.proto.phase.value})"
                ) from None
            except OSError as exc:
                raise Iperf3ProtocolError(f"{self.proto.where}: connection lost ({exc})") from None
            if not data:
                self.proto.feed_eof()
                raise Iperf3ProtocolError(f"{self.proto.where}: closed the connection")
            try:
                self.pending += self.proto.feed(data)
            finally:
                with contextlib.suppress(OSError):
                    await self.flush()
        return self.pending.pop(0)

    async def expect(self, kind: type[Event], wait_s: float | None = None) -> Event:
        ev = await self.next_event(wait_s)
        if not isinstance(ev, kind):
            raise Iperf3ProtocolError(f"{self.proto.where}: unexpected {type(ev).__name__}")
        return ev


class Iperf3Server:
    """``async with Iperf3Server(...) as srv``; ``srv.port``; ``srv.results`` (finished tests)."""

    def __init__(
        self,
        host: str = "0.0.0.0",
        port: int = 5201,
        *,
        engine: Literal["auto", "c", "python"] = "auto",
        wait_s: float = 10.0,
        one_off: bool = False,
        on_test: Callable[[Iperf3ServerTest], None] | None = None,
        record_arrivals: bool = False,
    ) -> None:
        check_port(port, listen=True)
        self.host = host
        self.port = port
        self.dp: Datapath = load_engine(engine)
        self.wait_s = wait_s
        self.one_off = one_off
        self.on_test = on_test
        self.results: list[Iperf3ServerTest] = []
        self.record_arrivals = record_arrivals
        self.arrivals_ms: list[Any] = []
        """With ``record_arrivals``: per UDP stream of the last test, datagrams per ms."""
        self.errors: list[str] = []
        self._listener: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy_cookie: bytes | None = None
        self._streams: asyncio.Queue[socket.socket] | None = None
        self.done = asyncio.Event()
        self.changed = asyncio.Event()
        """Set whenever a test finished or an error was noted (clear it before waiting)."""

    async def __aenter__(self) -> Iperf3Server:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        infos = await asyncio.get_running_loop().getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, _t, _p, _c, addr = infos[0]
        ls = socket.socket(family, socket.SOCK_STREAM)
        try:
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(addr)
            ls.listen(64)
        except OSError as exc:
            ls.close()
            raise ProbeError(
                f"iperf3 server: cannot listen on {self.host}:{self.port}: {os.strerror(exc.errno or 0)}"
            ) from None
        ls.setblocking(False)
        self._listener = ls
        self.port = ls.getsockname()[1]
        self._task = asyncio.create_task(self._accept_loop())

    async def close(self) -> None:
        tasks = [t for t in (self._task, *self._tasks) if t is not None]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    async def _accept_loop(self) -> None:
        assert self._listener is not None
        loop = asyncio.get_running_loop()
        while True:
            sock, addr = await loop.sock_accept(self._listener)
            sock.setblocking(False)
            # no Nagle: a state byte must not wait for the client's delayed ACK
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            t = asyncio.create_task(self._connection(sock, addr))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def _read_cookie(self, sock: socket.socket) -> bytes:
        loop = asyncio.get_running_loop()
        buf = b""
        while len(buf) < COOKIE_SIZE:
            chunk = await asyncio.wait_for(
                loop.sock_recv(sock, COOKIE_SIZE - len(buf)), self.wait_s
            )
            if not chunk:
                break
            buf += chunk
        return buf

    async def _connection(self, sock: socket.socket, addr: Any) -> None:
        who = f"iperf3 client {addr[0]}:{addr[1]}"
        keep = False
        proto = ServerProtocol(who)
        try:
            try:
                raw = await self._read_cookie(sock)
            except (TimeoutError, OSError):
                return
            if self._busy_cookie is not None and raw == self._busy_cookie and self._streams:
                keep = True
                self._streams.put_nowait(sock)
                return
            try:
                events = proto.feed(raw)
                if len(raw) < COOKIE_SIZE:
                    proto.feed_eof()
            except Iperf3ProtocolError as exc:
                self._note(str(exc))
                return
            assert events and isinstance(events[0], CookieReceived)
            if self._busy_cookie is not None:
                proto.deny()
                with contextlib.suppress(OSError):
                    await asyncio.get_running_loop().sock_sendall(sock, proto.data_to_send())
                return
            self._busy_cookie = events[0].cookie
            try:
                await self._run_test(sock, addr, proto)
            except Iperf3ProtocolError as exc:
                self._note(str(exc))
            except OSError as exc:
                self._note(f"{who}: {os.strerror(exc.errno or 0) if exc.errno else exc}")
            finally:
                self._busy_cookie = None
                self._streams = None
                if self.one_off:
                    self.done.set()
        finally:
            if not keep:
                sock.close()

    def _note(self, message: str) -> None:
        log.warning("%s", message)
        self.errors.append(message)
        self.changed.set()

    async def _udp_streams(self, family: int, n: int, conn: _Conn) -> list[socket.socket]:
        loop = asyncio.get_running_loop()
        bind = (self.host, self.port)
        out: list[socket.socket] = []

        def listener() -> socket.socket:
            s = socket.socket(family, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            s.bind(bind)
            s.setblocking(False)
            return s

        ls = listener()
        conn.proto.create_streams()
        try:
            await conn.flush()
            return await self._udp_accept(ls, n, out, listener, loop)
        except BaseException:
            for s in out:
                s.close()
            raise

    async def _udp_accept(
        self,
        ls: socket.socket,
        n: int,
        out: list[socket.socket],
        listener: Callable[[], socket.socket],
        loop: asyncio.AbstractEventLoop,
    ) -> list[socket.socket]:
        try:
            while len(out) < n:
                data, peer = await asyncio.wait_for(loop.sock_recvfrom(ls, 64), self.wait_s)
                if data != UDP_CONNECT_MSG:
                    continue  # not a stream set-up; iperf3 ignores it too
                ls.connect(peer)
                out.append(ls)
                # the next stream's listener exists before the client hears our reply
                nxt = listener() if len(out) < n else None
                ls.send(UDP_CONNECT_REPLY)
                ls.setblocking(True)
                if nxt is not None:
                    ls = nxt
            return out
        except TimeoutError:
            raise Iperf3ProtocolError(
                f"iperf3 client: {len(out)} of {n} UDP streams set up within {self.wait_s:g} s"
            ) from None
        finally:
            if ls not in out:
                ls.close()

    async def _run_test(self, ctrl: socket.socket, addr: Any, proto: ServerProtocol) -> None:
        conn = _Conn(ctrl, proto, self.wait_s)
        proto.accept()
        await conn.flush()
        ev = await conn.expect(ParamsReceived)
        assert isinstance(ev, ParamsReceived)
        params: Iperf3Params = ev.params
        n = proto.expected_streams
        socks: list[socket.socket] = []
        ios: list[StreamIO] = []
        threads: list[threading.Thread] = []
        stop = threading.Event()
        stop_flag = bytearray(1)
        try:
            if params.udp:
                socks = await self._udp_streams(ctrl.family, n, conn)
            else:
                self._streams = asyncio.Queue()
                proto.create_streams()
                await conn.flush()
                while len(socks) < n:
                    try:
                        s = await asyncio.wait_for(self._streams.get(), self.wait_s)
                    except TimeoutError:
                        proto.error(IESTREAMACCEPT)
                        await conn.flush()
                        raise Iperf3ProtocolError(
                            f"{proto.where}: {len(socks)} of {n} TCP streams within {self.wait_s:g} s"
                        ) from None
                    s.setblocking(True)
                    socks.append(s)
                self._streams = None
            p = params.parallel
            for i, (sid, s) in enumerate(zip(stream_ids(n), socks, strict=True)):
                sending = (i >= p) if params.bidirectional else params.reverse
                ios.append(StreamIO(sid, s, sender=sending, udp=params.udp))
            if self.record_arrivals:
                self.arrivals_ms = []
                for st in ios:
                    if st.rx is not None:
                        st.arrivals_ms = array.array("I", bytes(4 * (params.duration + 5) * 1000))
                        self.arrivals_ms.append(st.arrivals_ms)
            proto.start_test()
            await conn.flush()
            cpu = CpuMeter()
            t0 = time.monotonic()
            run_for = params.duration + self.wait_s
            for st in ios:
                if st.sender and params.udp:
                    fn: Any = (
                        udp_send,
                        st,
                        self.dp,
                        params.blksize,
                        params.bandwidth,
                        run_for,
                        stop_flag,
                    )
                elif st.sender:
                    fn = (tcp_send, st, params.blksize, run_for, params.bandwidth, stop)
                elif params.udp:
                    fn = (udp_recv, st, stop)
                else:
                    fn = (tcp_recv, st, params.blksize, stop)
                threads.append(threading.Thread(target=fn[0], args=fn[1:], daemon=True))
            for th in threads:
                th.start()
            await conn.expect(Ended, params.duration + self.wait_s + 30)
            elapsed = time.monotonic() - t0
            stop.set()
            stop_flag[0] = 1
            await asyncio.to_thread(_join, threads)
            for st in ios:
                st.sample(elapsed)
                if st.errno:
                    proto.error(IESTREAMCONNECT, st.errno)
                    await conn.flush()
                    raise Iperf3ProtocolError(
                        f"{proto.where}: data stream {st.id} failed: {os.strerror(st.errno)}"
                    )
            proto.request_results()
            await conn.flush()
            pev = await conn.expect(PeerResults)
            assert isinstance(pev, PeerResults)
            cc = congestion(ctrl) if not params.udp else None
            own = own_results(ios, params, elapsed, cpu, cc)
            proto.send_results(own)
            await conn.flush()
            await conn.expect(Finished)
        finally:
            stop.set()
            stop_flag[0] = 1
            for st in ios:
                with contextlib.suppress(OSError):
                    st.sock.shutdown(socket.SHUT_RDWR)
            try:
                await asyncio.to_thread(_join, threads)
            finally:
                for s in socks:
                    s.close()
        peer = pev.results
        test = Iperf3ServerTest(
            client=f"{addr[0]}:{addr[1]}",
            protocol=params.protocol,
            streams=params.parallel,
            duration_s=elapsed,
            reverse=params.reverse,
            bidir=params.bidirectional,
            blksize=params.blksize,
            forward=direction_figures(
                [s for s in ios if not s.sender], own, peer, elapsed, params.udp
            ),
            reverse_figures=direction_figures(
                [s for s in ios if s.sender], own, peer, elapsed, params.udp
            ),
        )
        self.results.append(test)
        self.changed.set()
        if self.on_test is not None:
            self.on_test(test)


def _join(threads: list[threading.Thread]) -> None:
    for th in threads:
        th.join()
