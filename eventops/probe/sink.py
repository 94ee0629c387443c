"""The far end of a throughput test: TCP control and UDP data on one port.

The sink validates every control message (a malformed one gets an error line
and the sink keeps serving), drains its UDP socket before each test, and
reports its own receive-buffer drops apart from network loss. Control
protocol (JSON lines)::

    C: {"op":"udp","session":S,"size":L,"timestamps":false,"window":W,"max_s":T}
    S: {"ok":true,"engine":"c"}              or {"ok":false,"error":"..."}
    C: {"op":"status"}   S: {"received":..,"duplicated":..,...}   (any number)
    C: {"op":"end","sent":N}
    S: {"ok":true,"counters":{...},"datagrams":..,"bytes":..,"foreign":..,"delay":{..}|null}
    C: {"op":"tcp","session":S,"streams":K,"max_s":T}   S: {"ok":true}
    K connections: {"op":"data","session":S}\\n followed by raw bytes until EOF
    C: {"op":"status"} S: {"bytes":..}   C: {"op":"end"} S: {"ok":true,"bytes":[..]}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from eventops.errors import ProbeError
from eventops.i18n import LANGUAGES, MESSAGES, Msg, refusal, render_strict
from eventops.probe.checks import check_port, listen_failure, os_why
from eventops.probe.datapath import (
    FMT_EVENTOPS,
    HEADER_LEN,
    MAGIC,
    Datapath,
    drain_udp,
    load_engine,
    udp_socket_drops,
)
from eventops.probe.iperf3_streams import StreamIO, tcp_recv
from eventops.probe.models import SINK_DELAY, Interval
from eventops.probe.stats import delay_stats

DEFAULT_SINK_PORT = 5301
SO_TIMESTAMPNS = 35
log = logging.getLogger(__name__)
MAX_DURATION_S = 3600.0
_HDR = struct.Struct("!IIQQ")

Progress = Callable[[Interval], None]


def _line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


async def _read_json(
    reader: asyncio.StreamReader, wait_s: float, what: str, peer: str | None = None
) -> dict[str, Any]:
    """One JSON control line from ``what``; ``peer`` (host:port): the far sink, named in
    the error's message for other languages too."""

    def failed(msg_id: str, params: dict[str, Any]) -> ProbeError:
        english = Msg(msg_id, {"what": what, **params}).text("en")
        named = Msg("probe.sink_at", {"peer": peer}) if peer else what
        said = Msg(msg_id, {"what": named, **params})
        return ProbeError(english).with_msg(said.msg_id, said.as_dict()["params"])

    try:
        raw = await asyncio.wait_for(reader.readline(), wait_s)
    except TimeoutError:
        raise failed("probe.ctl.no_answer", {"s": wait_s}) from None
    except (ConnectionError, OSError) as exc:
        raise failed("probe.ctl.lost", {"why": str(exc.strerror or exc)}) from None
    if not raw:
        raise failed("probe.ctl.closed", {})
    try:
        msg = json.loads(raw)
    except ValueError:
        raise failed("probe.ctl.not_json", {"raw": repr(raw[:60])}) from None
    if not isinstance(msg, dict):
        raise failed("probe.ctl.not_object", {})
    return msg


class ControlError(ProbeError):
    """A malformed control message: answered with an error line, the sink keeps serving."""


SAID_PREFIXES = ("sink.err.", "probe.os.")
"""The message ids a sink may name for its ``error`` (its own refusals, the kernel's reasons)."""
MAX_SAID_PARAM = 200


def _refusal_line(exc: ProbeError | Msg) -> bytes:
    """The sink's ``{"ok": false, "error": English}`` line, with the message id and
    parameters of the error when it has them (the client shows them in its language)."""
    if isinstance(exc, Msg):
        return _line({"ok": False, "error": exc.text("en"), **exc.as_dict()})
    out: dict[str, Any] = {"ok": False, "error": str(exc)}
    if exc.msg_id is not None and exc.msg_id.startswith(SAID_PREFIXES):
        out |= {"msg_id": exc.msg_id, "params": dict(exc.params)}
    return _line(out)


def _os_said(err: int) -> dict[str, Any]:
    """The message fields of the kernel's reason ``err`` when we have words for it."""
    if not err:
        return {}
    why = os_why(OSError(err, os.strerror(err)))
    return why.as_dict() if why.msg_id.startswith(SAID_PREFIXES) else {}


def _peer_said(reply: dict[str, Any]) -> Msg | None:
    """The sink's ``error`` as its message, if the reply names one of the ids a sink may
    name, with plain, short parameters that render in every language (a peer is hostile)."""
    mid, params = reply.get("msg_id"), reply.get("params", {})
    if not isinstance(mid, str) or not mid.startswith(SAID_PREFIXES) or mid not in MESSAGES:
        return None
    if not isinstance(params, dict) or len(params) > 8:
        return None
    for k, v in params.items():
        plain = isinstance(v, int | float) or (isinstance(v, str) and len(v) <= MAX_SAID_PARAM)
        if not isinstance(k, str) or not plain:
            return None
    try:
        for lang in LANGUAGES:
            render_strict(mid, params, lang)
    except (KeyError, ValueError, TypeError, IndexError):
        return None
    return Msg(mid, params)


def sink_failure(peer: str, reply: dict[str, Any], *, final: bool = False) -> ProbeError:
    """``sink {peer}: {the sink's error}``: a test the sink refused (its hello) or that
    failed at its end (``final``), with the sink's own message when it sent a valid one."""
    if final:
        error = reply.get("error")
        english = str(error or "test failed")
        default = Msg("probe.err.sink_failed") if not error else None
    else:
        english = str(reply.get("error", "refused the test"))
        default = Msg("probe.err.sink_refused") if "error" not in reply else None
    text = english[:MAX_SAID_PARAM]
    why = _peer_said(reply) or default or Msg("method.as_said", {"text": text})
    msg = Msg("probe.err.sink_said", {"peer": peer, "why": why})
    return ProbeError(f"sink {peer}: {english}").with_msg(msg.msg_id, msg.as_dict()["params"])


def _int_field(msg: dict[str, Any], key: str, lo: int, hi: int, default: int | None = None) -> int:
    v = msg.get(key, default)
    if v is None:
        raise refusal(ControlError, Msg("sink.err.missing", {"key": repr(key)}))
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        shown = repr(v)[:MAX_SAID_PARAM]
        said = Msg("sink.err.int_range", {"key": repr(key), "value": shown, "lo": lo, "hi": hi})
        english = f"control field {key!r} = {v!r} out of range ({lo}..{hi})"
        raise ControlError(english).with_msg(said.msg_id, said.as_dict()["params"])
    return v


def _seconds_field(msg: dict[str, Any], key: str, hi: float, default: float) -> float:
    v = msg.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= hi:
        said = Msg(
            "sink.err.seconds_range",
            {"key": repr(key), "value": repr(v)[:MAX_SAID_PARAM], "name": key, "hi": hi},
        )
        english = f"control field {key!r} = {v!r} out of range (0 < {key} <= {hi:g})"
        raise ControlError(english).with_msg(said.msg_id, said.as_dict()["params"])
    return float(v)


def _window_field(msg: dict[str, Any]) -> int:
    w = _int_field(msg, "window", 2, 1 << 28, 1 << 20)
    if w & (w - 1):
        raise refusal(ControlError, Msg("sink.err.window", {"w": w}))
    return w


def _bool_field(msg: dict[str, Any], key: str) -> bool:
    v = msg.get(key, False)
    if not isinstance(v, bool):
        said = Msg("sink.err.not_bool", {"key": repr(key), "value": repr(v)[:MAX_SAID_PARAM]})
        english = f"control field {key!r} = {v!r} is not a boolean"
        raise ControlError(english).with_msg(said.msg_id, said.as_dict()["params"])
    return v


def recv_timestamped(
    fd: int, acct: Any, session: int, stop: bytearray, timeout: float, max_samples: int = 2_000_000
) -> tuple[int, int, int, list[tuple[int, float]]]:
    """Unbatched receive with kernel receive timestamps (SO_TIMESTAMPNS).

    Returns (datagrams, bytes, foreign, samples) where samples are
    (seq, one-way delay ms) in arrival order: kernel CLOCK_REALTIME receive
    time minus the sender's CLOCK_REALTIME transmit stamp.
    """
    sock = socket.socket(fileno=os.dup(fd))
    samples: list[tuple[int, float]] = []
    datagrams = nbytes = foreign = 0
    try:
        sock.setsockopt(17, 104, 0)  # no GRO: one datagram per read
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setblocking(False)
        end = time.monotonic() + timeout
        ctl = socket.CMSG_SPACE(16)
        while not stop[0] and time.monotonic() < end:
            try:
                data, anc, _f, _a = sock.recvmsg(65536, ctl)
            except (BlockingIOError, InterruptedError):
                select.select([sock], [], [], 0.005)
                continue
            except ConnectionRefusedError:
                continue
            if len(data) < HEADER_LEN:
                foreign += 1
                continue
            magic, sess, seq, tx = _HDR.unpack_from(data)
            if magic != MAGIC or sess != session:
                foreign += 1
                continue
            rx = None
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                    sec, nsec = struct.unpack("=qq", value[:16])
                    rx = sec * 1_000_000_000 + nsec
            acct.feed_one(seq)
            datagrams += 1
            nbytes += len(data)
            if rx is not None and len(samples) < max_samples:
                samples.append((seq, (rx - tx) / 1e6))
    finally:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 0)
        sock.close()  # closes our dup, not the caller's descriptor
    return datagrams, nbytes, foreign, samples


# ------------------------------------------------------------------ sink


@dataclass
class _TcpTest:
    session: int
    streams: int
    counts: list[int] = field(default_factory=list)
    ios: list[StreamIO] = field(default_factory=list)
    done: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def received(self) -> int:
        return sum(self.counts) + sum(st.bytes for st in self.ios)


class Sink:
    """The far end of a throughput test. Use :func:`start_sink`."""

    def __init__(
        self, host: str, port: int, *, engine: Literal["auto", "c", "python"] = "auto"
    ) -> None:
        self.host = host
        self.port = port
        self.engine: Datapath = load_engine(engine)
        self._server: asyncio.Server | None = None
        self._udp: socket.socket | None = None
        self._busy = False
        self.tests = 0
        """Tests started on this sink."""
        self._tcp: _TcpTest | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def busy(self) -> bool:
        """A test is running; the next one is refused until it ends."""
        return self._busy

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]
            fam = self._server.sockets[0].family
            self._udp = socket.socket(fam, socket.SOCK_DGRAM)
            self._udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
            self._udp.bind((self.host, self.port))
            self._udp.setblocking(False)
        except OSError as exc:
            await self.close()
            raise listen_failure("sink", self.host, self.port, exc) from None

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for t in list(self._tasks):
                t.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None

    async def __aenter__(self) -> Sink:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            msg = await _read_json(reader, 10.0, "sink control")
            op = msg.get("op")
            if op == "data":
                await self._data(msg, reader, writer)
            elif op in ("udp", "tcp"):
                if self._busy:
                    writer.write(_refusal_line(Msg("sink.err.busy")))
                    await writer.drain()
                    return
                self._busy = True
                self.tests += 1
                try:
                    if op == "udp":
                        await self._udp_test(msg, reader, writer)
                    else:
                        await self._tcp_test(msg, reader, writer)
                finally:
                    self._busy = False
            else:
                shown = repr(op)
                said = Msg("sink.err.unknown_op", {"op": shown[:MAX_SAID_PARAM]})
                english = ProbeError(f"unknown op {shown}")
                writer.write(_refusal_line(english.with_msg(said.msg_id, said.as_dict()["params"])))
                await writer.drain()
        except ControlError as exc:
            log.warning("sink: %s", exc)
            with contextlib.suppress(Exception):
                writer.write(_refusal_line(exc))
                await writer.drain()
        except (ProbeError, ConnectionError, ValueError, TypeError):
            pass  # a client that breaks the protocol only ends its own test
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _udp_test(
        self, msg: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        assert self._udp is not None
        session = _int_field(msg, "session", 0, 0xFFFFFFFF)
        max_s = _seconds_field(msg, "max_s", MAX_DURATION_S + 60, 60)
        window = _window_field(msg)
        stamped = _bool_field(msg, "timestamps")
        acct = (
            self.engine.Accountant(window)
            if not stamped
            else load_engine("python").Accountant(window)
        )
        stop = bytearray(1)
        # datagrams left from an earlier test are not this test's (nor "foreign")
        drained = drain_udp(self._udp)
        drops0 = udp_socket_drops(self._udp)
        fd = self._udp.fileno()
        if stamped:
            recv = asyncio.create_task(
                asyncio.to_thread(recv_timestamped, fd, acct, session, stop, max_s)
            )
        else:
            recv = asyncio.create_task(
                asyncio.to_thread(
                    self.engine.recv_stream, fd, acct, FMT_EVENTOPS, session, stop, max_s, None
                )
            )
        try:
            writer.write(_line({"ok": True, "engine": "python" if stamped else self.engine.name}))
            await writer.drain()
            while True:
                req = await _read_json(reader, max_s, "sink control")
                if req.get("op") == "status":
                    writer.write(_line(acct.counters()))
                    await writer.drain()
                    continue
                if req.get("op") != "end":
                    raise refusal(ProbeError, Msg("sink.err.unexpected"))
                sent = int(req.get("sent", 0))
                # drain: wait until every sent datagram is in, or 300 ms without progress
                last, quiet = -1, 0.0
                deadline = time.monotonic() + 3.0
                while time.monotonic() < deadline:
                    c = acct.counters()
                    if c["received"] >= sent:
                        break
                    if c["received"] == last:
                        quiet += 0.05
                        if quiet >= 0.3:
                            break
                    else:
                        last, quiet = c["received"], 0.0
                    await asyncio.sleep(0.05)
                stop[0] = 1
                out = await recv
                delay: dict[str, Any] | None = None
                res: Any = out
                if stamped:
                    datagrams, nbytes, foreign, samples = res
                    delay = delay_stats(
                        samples,
                        method=SINK_DELAY.text("en"),
                    ).model_dump(mode="json")
                    err = 0
                else:
                    datagrams, nbytes, foreign, _rec, err = res
                drops1 = udp_socket_drops(self._udp)
                own = drops1 - drops0 if drops0 is not None and drops1 is not None else None
                writer.write(
                    _line(
                        {
                            "ok": err == 0,
                            "error": os.strerror(err) if err else None,
                            **_os_said(err),
                            "counters": acct.counters(),
                            "datagrams": datagrams,
                            "bytes": nbytes,
                            "foreign": foreign,
                            "drained": drained,
                            "sink_drops": own,
                            "delay": delay,
                        }
                    )
                )
                await writer.drain()
                return
        finally:
            stop[0] = 1
            with contextlib.suppress(Exception):
                await recv

    async def _tcp_test(
        self, msg: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        streams = _int_field(msg, "streams", 1, 128)
        max_s = _seconds_field(msg, "max_s", MAX_DURATION_S + 60, 60)
        test = _TcpTest(session=_int_field(msg, "session", 0, 0xFFFFFFFF), streams=streams)
        self._tcp = test
        try:
            writer.write(_line({"ok": True}))
            await writer.drain()
            while True:
                req = await _read_json(reader, max_s, "sink control")
                if req.get("op") == "status":
                    writer.write(_line({"bytes": test.received()}))
                    await writer.drain()
                    continue
                deadline = time.monotonic() + 5.0
                while test.done < len(test.counts) or len(test.counts) < streams:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    test.changed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(test.changed.wait(), left)
                writer.write(
                    _line(
                        {
                            "ok": True,
                            "bytes": [
                                c + st.bytes for c, st in zip(test.counts, test.ios, strict=True)
                            ],
                        }
                    )
                )
                await writer.drain()
                return
        finally:
            test.stop.set()
            self._tcp = None

    async def _data(
        self, msg: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        test = self._tcp
        session = _int_field(msg, "session", 0, 0xFFFFFFFF)
        if test is None or session != test.session:
            raise refusal(ControlError, Msg("sink.err.no_test"))
        if len(test.counts) >= test.streams:
            raise refusal(ControlError, Msg("sink.err.streams", {"n": test.streams}))
        idx = len(test.counts)
        # Bytes already read past the control line stay counted; the rest is read
        # by a thread on the same socket (blocking reads release the GIL, so
        # parallel streams use every core); the event loop stops reading it.
        writer.transport.pause_reading()  # type: ignore[attr-defined]
        test.counts.append(len(getattr(reader, "_buffer", b"")))
        raw = socket.socket(fileno=os.dup(writer.get_extra_info("socket").fileno()))
        st = StreamIO(idx + 1, raw, sender=False, udp=False)
        test.ios.append(st)
        test.changed.set()
        try:
            await asyncio.to_thread(tcp_recv, st, 1 << 18, test.stop)
        finally:
            raw.close()
            test.done += 1
            test.changed.set()


async def start_sink(
    host: str = "127.0.0.1",
    port: int = DEFAULT_SINK_PORT,
    *,
    engine: Literal["auto", "c", "python"] = "auto",
) -> Sink:
    """Start a throughput sink in this process; ``await sink.close()`` to stop it."""
    check_port(port, listen=True)
    sink = Sink(host, port, engine=engine)
    await sink.start()
    return sink
