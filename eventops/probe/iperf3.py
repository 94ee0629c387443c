"""An iperf3-compatible client (control protocol of iperf 3.x, tested against 3.12).

Control connection (TCP, default 5201): the client writes a 37-byte cookie;
the server drives the test with signed state bytes; JSON messages are a u32
length (network order) and the JSON text. The UDP data stream carries iperf3's
header (u32 sec, u32 usec, u32 seq from 1) and is sent by the probe engine
(GSO batches, paced); TCP streams are plain asyncio writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno as _errno
import json
import os
import secrets
import socket
import struct
import time
from typing import Any, Literal

from eventops.errors import ProbeError
from eventops.probe.datapath import FMT_IPERF3, load_engine
from eventops.probe.models import Iperf3Result

IPERF3_PORT = 5201
TEST_START = 1
TEST_RUNNING = 2
TEST_END = 4
PARAM_EXCHANGE = 9
CREATE_STREAMS = 10
SERVER_TERMINATE = 11
CLIENT_TERMINATE = 12
EXCHANGE_RESULTS = 13
DISPLAY_RESULTS = 14
IPERF_DONE = 16
ACCESS_DENIED = -1
SERVER_ERROR = -2
UDP_CONNECT_MSG = struct.pack("=I", 0x36373839)
UDP_CONNECT_REPLY = struct.pack("=I", 0x39383736)
_COOKIE_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
STATE_NAMES = {
    1: "TEST_START", 2: "TEST_RUNNING", 4: "TEST_END", 9: "PARAM_EXCHANGE", 10: "CREATE_STREAMS",
    11: "SERVER_TERMINATE", 12: "CLIENT_TERMINATE", 13: "EXCHANGE_RESULTS", 14: "DISPLAY_RESULTS",
    16: "IPERF_DONE", -1: "ACCESS_DENIED", -2: "SERVER_ERROR",
}  # fmt: skip


async def _reap(task: asyncio.Future[Any]) -> None:
    """Wait for a task we cancelled, without swallowing our own cancellation."""
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()


def make_cookie() -> bytes:
    return "".join(secrets.choice(_COOKIE_ALPHABET) for _ in range(36)).encode() + b"\0"


def encode_json(obj: dict[str, Any]) -> bytes:
    text = json.dumps(obj, separators=(",", ":")).encode()
    return struct.pack("!I", len(text)) + text


class _Control:
    def __init__(
        self,
        host: str,
        port: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        wait_s: float,
    ) -> None:
        self.where = f"iperf3 server {host}:{port}"
        self.reader = reader
        self.writer = writer
        self.wait_s = wait_s

    async def _exact(self, n: int, wait_s: float | None = None) -> bytes:
        try:
            return await asyncio.wait_for(self.reader.readexactly(n), wait_s or self.wait_s)
        except TimeoutError:
            raise ProbeError(
                f"{self.where}: no answer within {wait_s or self.wait_s:g} s"
            ) from None
        except asyncio.IncompleteReadError:
            raise ProbeError(f"{self.where}: closed the control connection") from None
        except (ConnectionError, OSError) as exc:
            raise ProbeError(f"{self.where}: control connection lost ({exc})") from None

    async def state(self, wait_s: float | None = None) -> int:
        b = (await self._exact(1, wait_s))[0]
        s = b - 256 if b > 127 else b
        if s == ACCESS_DENIED:
            raise ProbeError(f"{self.where}: busy (ACCESS_DENIED): another test is running")
        if s == SERVER_ERROR:
            i_errno, err = struct.unpack("!ii", await self._exact(8))
            detail = f"; {os.strerror(err)}" if err > 0 else ""
            raise ProbeError(f"{self.where}: server error (i_errno {i_errno}){detail}")
        if s == SERVER_TERMINATE:
            raise ProbeError(f"{self.where}: server terminated the test")
        return s

    async def expect(self, want: int, wait_s: float | None = None) -> None:
        got = await self.state(wait_s)
        if got != want:
            raise ProbeError(
                f"{self.where}: expected state {STATE_NAMES.get(want, want)}, got {STATE_NAMES.get(got, got)}"
            )

    async def send_state(self, s: int) -> None:
        self.writer.write(bytes([s & 0xFF]))
        await self.writer.drain()

    async def send_json(self, obj: dict[str, Any]) -> None:
        self.writer.write(encode_json(obj))
        await self.writer.drain()

    async def read_json(self) -> dict[str, Any]:
        (n,) = struct.unpack("!I", await self._exact(4))
        if n > 1 << 24:
            raise ProbeError(f"{self.where}: JSON message of {n} bytes is implausible")
        raw = await self._exact(n)
        try:
            obj = json.loads(raw)
        except ValueError:
            raise ProbeError(f"{self.where}: results are not JSON") from None
        if not isinstance(obj, dict):
            raise ProbeError(f"{self.where}: results are not a JSON object")
        return obj


def _as_int(v: Any) -> int | None:
    """iperf3 may send −1 as 18446744073709551615."""
    if not isinstance(v, int | float):
        return None
    n = int(v)
    return n - (1 << 64) if n >= 1 << 63 else n


async def run_iperf3(
    host: str,
    port: int = IPERF3_PORT,
    *,
    udp: bool = False,
    rate_bps: float | None = None,
    size: int | None = None,
    duration: float = 5.0,
    streams: int = 1,
    engine: Literal["auto", "c", "python"] = "auto",
    wait_s: float = 5.0,
) -> Iperf3Result:
    """Run one test against a stock ``iperf3 -s`` (client sends, server receives).

    UDP: ``rate_bps`` at iperf3's layer (UDP payload; None = unlimited),
    ``size`` the datagram payload (default 1460). TCP: ``streams`` parallel
    connections, ``size`` the write size (default 128 KiB).
    """
    if not 0 < duration <= 3600:
        raise ProbeError(f"duration {duration:g} s out of range (0 < duration <= 3600)")
    if not 1 <= streams <= 128:
        raise ProbeError(f"streams {streams} out of range (1..128)")
    if rate_bps is not None and not 0 < rate_bps <= 400e9:
        raise ProbeError(f"rate {rate_bps:g} bit/s out of range")
    blk = size or (1460 if udp else 128 * 1024)
    if udp and not 16 <= blk <= 65507:
        raise ProbeError(f"UDP datagram size {blk} out of range (16..65507)")
    if not udp and not 1 <= blk <= 1 << 20:
        raise ProbeError(f"TCP write size {blk} out of range (1..1048576)")
    eng = load_engine(engine) if udp else None
    where = f"iperf3 server {host}:{port}"
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), wait_s)
    except TimeoutError:
        raise ProbeError(f"{where}: no answer within {wait_s:g} s") from None
    except ConnectionRefusedError:
        raise ProbeError(f"{where}: connection refused (no iperf3 -s listening)") from None
    except OSError as exc:
        raise ProbeError(f"{where}: {exc.strerror or exc}") from None
    ctl = _Control(host, port, reader, writer, wait_s)
    cookie = make_cookie()
    data_socks: list[socket.socket] = []
    tcp_writers: list[asyncio.StreamWriter] = []
    stop = bytearray(1)
    try:
        writer.write(cookie)
        await writer.drain()
        await ctl.expect(PARAM_EXCHANGE)
        params: dict[str, Any] = {
            "udp" if udp else "tcp": True,
            "omit": 0,
            "time": max(1, round(duration)),
            "num": 0,
            "blockcount": 0,
            "parallel": streams,
            "len": blk,
            "pacing_timer": 1000,
            "client_version": "3.12",
        }
        if udp or rate_bps:
            params["bandwidth"] = int(rate_bps or 0)
        await ctl.send_json(params)
        await ctl.expect(CREATE_STREAMS)
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_DGRAM if udp else socket.SOCK_STREAM
        )
        family, _t, _p, _c, addr = infos[0]
        for _ in range(streams):
            if udp:
                s = socket.socket(family, socket.SOCK_DGRAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
                s.setblocking(False)
                data_socks.append(s)
                await loop.sock_connect(s, addr)
                await loop.sock_sendall(s, UDP_CONNECT_MSG)
                try:
                    reply = await asyncio.wait_for(loop.sock_recv(s, 4), wait_s)
                except TimeoutError:
                    raise ProbeError(
                        f"{where}: no answer to the UDP stream set-up within {wait_s:g} s"
                    ) from None
                except ConnectionRefusedError:
                    raise ProbeError(f"{where}: UDP port refused") from None
                if reply != UDP_CONNECT_REPLY:
                    raise ProbeError(f"{where}: unexpected UDP set-up reply {reply!r}")
            else:
                try:
                    _r, w = await asyncio.wait_for(asyncio.open_connection(host, port), wait_s)
                except (OSError, TimeoutError) as exc:
                    raise ProbeError(f"{where}: cannot open TCP stream: {exc}") from None
                w.write(cookie)
                tcp_writers.append(w)
        await ctl.expect(TEST_START)
        await ctl.expect(TEST_RUNNING)
        t0 = time.monotonic()
        sent_bytes = [0] * streams
        sent_packets = [0] * streams
        watcher = asyncio.ensure_future(ctl.state(duration + wait_s + 30))
        if udp:
            assert eng is not None
            pps = (rate_bps / (8.0 * blk) / streams) if rate_bps else 0.0
            jobs = [
                asyncio.to_thread(
                    eng.send_stream,
                    s.fileno(),
                    FMT_IPERF3,
                    blk,
                    pps,
                    duration,
                    1,
                    0,
                    64,
                    stop,
                    None,
                )
                for s in data_socks
            ]
            sender = asyncio.ensure_future(asyncio.gather(*jobs))
        else:
            block = bytes(blk)
            end = t0 + duration

            async def pump(i: int, w: asyncio.StreamWriter) -> None:
                while time.monotonic() < end:
                    w.write(block)
                    await asyncio.wait_for(w.drain(), wait_s + duration)
                    sent_bytes[i] += len(block)

            sender = asyncio.ensure_future(
                asyncio.gather(*(pump(i, w) for i, w in enumerate(tcp_writers)))
            )
        try:
            done, _pending = await asyncio.wait(
                {sender, watcher}, return_when=asyncio.FIRST_COMPLETED
            )
            if watcher in done:
                state = watcher.result()  # raises ProbeError for errors/termination
                raise ProbeError(
                    f"{where}: unexpected state {STATE_NAMES.get(state, state)} during the test"
                )
            try:
                outs = sender.result()
            except (ConnectionError, OSError) as exc:
                raise ProbeError(f"{where}: data stream failed: {exc}") from None
            except TimeoutError:
                raise ProbeError(f"{where}: data stream stalled") from None
        finally:
            stop[0] = 1
            if not sender.done():
                sender.cancel()
                await _reap(sender)
            if not watcher.done():
                watcher.cancel()
            await _reap(watcher)
        elapsed = time.monotonic() - t0
        if udp:
            for i, (pk, nb, _n, _g, el, err) in enumerate(outs):
                if err == _errno.ECONNREFUSED:
                    raise ProbeError(f"{where}: UDP port refused during the test")
                if err:
                    raise ProbeError(f"{where}: send failed: {os.strerror(err)}")
                sent_packets[i], sent_bytes[i] = pk, nb
                elapsed = max(elapsed, el / 1e9) if i == 0 else elapsed
        for w in tcp_writers:
            w.close()
        await ctl.send_state(TEST_END)
        await ctl.expect(EXCHANGE_RESULTS, wait_s + 5)
        ids = [1, *range(3, streams + 2)]
        await ctl.send_json(
            {
                "cpu_util_total": 0.0,
                "cpu_util_user": 0.0,
                "cpu_util_system": 0.0,
                "sender_has_retransmits": 0 if udp else -1,
                "streams": [
                    {
                        "id": ids[i],
                        "bytes": sent_bytes[i],
                        "retransmits": -1,
                        "jitter": 0,
                        "errors": 0,
                        "packets": sent_packets[i],
                        "start_time": 0,
                        "end_time": elapsed,
                    }
                    for i in range(streams)
                ],
            }
        )
        server = await ctl.read_json()
        await ctl.expect(DISPLAY_RESULTS, wait_s + 5)
        await ctl.send_state(IPERF_DONE)
    finally:
        stop[0] = 1
        for s in data_socks:
            s.close()
        for w in tcp_writers:
            w.close()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    srv_streams = server.get("streams") or []
    if not isinstance(srv_streams, list):
        raise ProbeError(f"{where}: results without a streams list")
    sbytes = sum(_as_int(s.get("bytes")) or 0 for s in srv_streams)
    spackets = sum(_as_int(s.get("packets")) or 0 for s in srv_streams) if udp else None
    slost = sum(_as_int(s.get("errors")) or 0 for s in srv_streams) if udp else None
    jitters = [float(s.get("jitter", 0.0)) for s in srv_streams]
    sjitter = (sum(jitters) / len(jitters) * 1000.0) if udp and jitters else None
    tot_sent = sum(sent_bytes)
    return Iperf3Result(
        host=host,
        port=port,
        protocol="udp" if udp else "tcp",
        streams=streams,
        duration_s=elapsed,
        size=blk,
        target_bps=rate_bps,
        sent_bytes=tot_sent,
        sent_packets=sum(sent_packets) if udp else None,
        sender_bps=tot_sent * 8 / elapsed,
        server_bytes=sbytes,
        server_packets=spackets,
        server_lost_packets=slost,
        server_jitter_ms=sjitter,
        receiver_bps=sbytes * 8 / elapsed,
        server_results=server,
        methods={
            "sent": "our counters (iperf3 payload layer: UDP payload or TCP payload)",
            "received": "the iperf3 server's own results (EXCHANGE_RESULTS) over our test time",
            "jitter": "iperf3 server's RFC 3550-style jitter of the datagram header timestamps",
        },
    )
