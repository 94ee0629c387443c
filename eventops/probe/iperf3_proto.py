"""The iperf3 control protocol (iperf 3.x, checked against 3.12), sans IO.

No sockets here: a protocol object is fed the bytes read from the control
connection and returns events; the bytes it wants written are collected with
:meth:`data_to_send`. The socket code (:mod:`eventops.probe.iperf3` for the
client, :mod:`eventops.probe.iperf3_server` for the server) is a thin shell
that reads, feeds, acts on the events and writes.

Wire format (PROTOCOLS.md, "iperf3"): the client opens with a 37-byte cookie
(36 characters of ``a-z2-7`` and a NUL); the server drives the test with
signed one-byte states; parameters and results are JSON objects framed by a
u32 length in network order. Client view of one test::

    C cookie; S 9 PARAM_EXCHANGE; C params; S 10 CREATE_STREAMS;
    (data streams connect); S 1 TEST_START; S 2 TEST_RUNNING;
    ... data ...; C 4 TEST_END; S 13 EXCHANGE_RESULTS; C results;
    S results; S 14 DISPLAY_RESULTS; C 16 IPERF_DONE.

A malformed or unexpected message raises :class:`Iperf3ProtocolError` (a
:class:`~eventops.errors.ProbeError` with a one-line message); the protocol
object is then closed. A server protocol queues iperf3's SERVER_ERROR reply
(state −2, i_errno, errno) before raising, so the shell flushes
:meth:`ServerProtocol.data_to_send` and closes.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from eventops.errors import ProbeError
from eventops.i18n import Msg, refusal
from eventops.probe.checks import os_why
from eventops.probe.iperf3_wire import (
    ACCESS_DENIED,
    CLIENT_TERMINATE,
    COOKIE_SIZE,
    CREATE_STREAMS,
    DISPLAY_RESULTS,
    EXCHANGE_RESULTS,
    IPERF_DONE,
    MAX_JSON,
    PARAM_EXCHANGE,
    SERVER_ERROR,
    SERVER_TERMINATE,
    TEST_END,
    TEST_RUNNING,
    TEST_START,
    Iperf3Params,
    Iperf3ProtocolError,
    ParamsRejected,
    Results,
    encode_json,
    encode_server_error,
    encode_state,
    is_cookie,
    parse_params,
    parse_results,
    state_name,
    strerror,
)

# --- events -----------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    pass


@dataclass(frozen=True)
class CookieReceived(Event):
    cookie: bytes


@dataclass(frozen=True)
class ParamsReceived(Event):
    params: Iperf3Params
    raw: dict[str, Any]


@dataclass(frozen=True)
class CreateStreams(Event):
    pass


@dataclass(frozen=True)
class Started(Event):
    pass


@dataclass(frozen=True)
class Running(Event):
    pass


@dataclass(frozen=True)
class Ended(Event):
    pass


@dataclass(frozen=True)
class ResultsRequested(Event):
    pass


@dataclass(frozen=True)
class PeerResults(Event):
    results: Results
    raw: dict[str, Any]


@dataclass(frozen=True)
class Finished(Event):
    pass


class Phase(Enum):
    COOKIE = "cookie"
    PARAM_EXCHANGE = "waiting for PARAM_EXCHANGE"
    PARAMS = "waiting for the parameters"
    CREATE_STREAMS = "waiting for CREATE_STREAMS"
    STREAMS = "creating streams"
    TEST_START = "waiting for TEST_START"
    TEST_RUNNING = "waiting for TEST_RUNNING"
    RUNNING = "running"
    EXCHANGE_RESULTS = "waiting for EXCHANGE_RESULTS"
    OWN_RESULTS = "waiting for our results"
    PEER_RESULTS = "waiting for the peer's results"
    DISPLAY_RESULTS = "waiting for DISPLAY_RESULTS"
    IPERF_DONE = "waiting for IPERF_DONE"
    DONE = "done"
    CLOSED = "closed"


class _Framing:
    """Byte buffer with the two message kinds: one state byte, length + JSON."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.named = named(where)
        self.buf = bytearray()
        self.out = bytearray()
        self.phase = Phase.CLOSED

    def data_to_send(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data

    def _fail(self, why: Msg, english_why: str | None = None) -> Iperf3ProtocolError:
        """``{where}: {why}`` (in English ``english_why`` when given), with its message
        for other languages."""
        self.phase = Phase.CLOSED
        msg = Msg("iperf3.err.at", {"where": self.named, "why": why})
        english = f"{self.where}: {english_why or why.text('en')}"
        return Iperf3ProtocolError(english).with_msg(msg.msg_id, msg.as_dict()["params"])

    def _closed(self) -> Iperf3ProtocolError:
        return refusal(Iperf3ProtocolError, Msg("iperf3.err.already_closed", {"where": self.named}))

    def _state(self) -> int | None:
        if not self.buf:
            return None
        b = self.buf.pop(0)
        return b - 256 if b > 127 else b

    def _json(self, what: Msg) -> dict[str, Any] | None:
        if len(self.buf) < 4:
            return None
        (n,) = struct.unpack_from("!I", self.buf)
        if n == 0 or n > MAX_JSON:
            raise self._fail(Msg("iperf3.err.json_size", {"what": what, "n": n, "max": MAX_JSON}))
        if len(self.buf) < 4 + n:
            return None
        raw = bytes(self.buf[4 : 4 + n])
        del self.buf[: 4 + n]
        try:
            obj = json.loads(raw, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            raise self._fail(Msg("iperf3.err.not_json", {"what": what})) from None
        if not isinstance(obj, dict):
            raise self._fail(Msg("iperf3.err.not_object", {"what": what}))
        return obj

    def feed_eof(self) -> None:
        """The peer closed the connection: an error unless the test is done."""
        if self.phase in (Phase.DONE, Phase.CLOSED):
            return
        partial = Msg("iperf3.err.mid_message") if self.buf else ""
        raise self._fail(
            Msg("iperf3.err.eof", {"partial": partial, "phase": phase_msg(self.phase)})
        )


def phase_msg(phase: Phase) -> Msg:
    """The phase as a message (its English is the phase's value)."""
    return Msg(f"iperf3.phase.{phase.name}")


def named(where: str) -> Msg:
    """``iperf3 server host:port`` / ``iperf3 client host:port`` as a message."""
    for lead, msg_id in (
        ("iperf3 server ", "iperf3.server_at"),
        ("iperf3 client ", "iperf3.client_at"),
    ):
        if where.startswith(lead):
            return Msg(msg_id, {"peer": where.removeprefix(lead)})
    return Msg("method.as_said", {"text": where})


def said(exc: ProbeError) -> Msg:
    """An error's own message, else its English as it is."""
    if exc.msg_id is not None:
        return Msg(exc.msg_id, exc.params)
    return Msg("method.as_said", {"text": str(exc)})


def errno_msg(err: int) -> Msg:
    """The reason for an errno a peer sent (ours for the common ones, else as iperf3 says)."""
    return os_why(OSError(err, strerror(err)), strerror(err))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


class ClientProtocol(_Framing):
    """The client side: :meth:`start` queues the cookie; the server drives.

    The shell reacts to :class:`CreateStreams` (open the data streams),
    :class:`Running` (send data; call :meth:`end_test` when the time is
    up), :class:`ResultsRequested` (call :meth:`send_results`),
    :class:`PeerResults` and :class:`Finished` (IPERF_DONE already queued).
    """

    def __init__(self, params: Iperf3Params, cookie: bytes, where: str = "iperf3 server") -> None:
        super().__init__(where)
        if not is_cookie(cookie):
            raise ValueError("an iperf3 cookie is 36 characters of a-z2-7 and a NUL")
        self.params = params
        self.cookie = cookie
        self.peer: Results | None = None

    def start(self) -> None:
        self.out += self.cookie
        self.phase = Phase.PARAM_EXCHANGE

    def end_test(self) -> None:
        if self.phase is not Phase.RUNNING:
            raise RuntimeError(f"end_test while {self.phase.value}")
        self.out += encode_state(TEST_END)
        self.phase = Phase.EXCHANGE_RESULTS

    def send_results(self, results: Results) -> None:
        if self.phase is not Phase.OWN_RESULTS:
            raise RuntimeError(f"send_results while {self.phase.value}")
        self.out += encode_json(results.to_json())
        self.phase = Phase.PEER_RESULTS

    def terminate(self) -> None:
        """Abort (CLIENT_TERMINATE), e.g. on Ctrl-C."""
        if self.phase not in (Phase.DONE, Phase.CLOSED):
            self.out += encode_state(CLIENT_TERMINATE)
        self.phase = Phase.CLOSED

    _EXPECT: ClassVar[dict[Phase, int]] = {
        Phase.PARAM_EXCHANGE: PARAM_EXCHANGE,
        Phase.CREATE_STREAMS: CREATE_STREAMS,
        Phase.TEST_START: TEST_START,
        Phase.TEST_RUNNING: TEST_RUNNING,
        Phase.EXCHANGE_RESULTS: EXCHANGE_RESULTS,
        Phase.DISPLAY_RESULTS: DISPLAY_RESULTS,
    }

    def feed(self, data: bytes) -> list[Event]:
        if self.phase is Phase.CLOSED:
            raise self._closed()
        self.buf += data
        events: list[Event] = []
        while self.buf:
            if self.phase is Phase.PEER_RESULTS:
                obj = self._json(Msg("iperf3.what.server_results"))
                if obj is None:
                    break
                try:
                    res = parse_results(obj)
                except Iperf3ProtocolError as exc:
                    raise self._fail(Msg("iperf3.err.server_s", {"why": said(exc)})) from None
                self.peer = res
                self.phase = Phase.DISPLAY_RESULTS
                events.append(PeerResults(res, obj))
                continue
            if self.phase in (Phase.STREAMS, Phase.OWN_RESULTS, Phase.DONE):
                msg = Msg(
                    "iperf3.err.extra_bytes", {"n": len(self.buf), "phase": phase_msg(self.phase)}
                )
                raise self._fail(msg)
            if self.buf[0] == SERVER_ERROR & 0xFF and len(self.buf) < 9:
                break  # wait for SERVER_ERROR's two error numbers
            s = self._state()
            assert s is not None
            self._check_error_state(s)
            want = self._EXPECT.get(self.phase)
            if want is None or s != want:
                msg = Msg(
                    "iperf3.err.state", {"state": state_name(s), "phase": phase_msg(self.phase)}
                )
                raise self._fail(msg)
            if s == PARAM_EXCHANGE:
                self.out += encode_json(self.params.to_json())
                self.phase = Phase.CREATE_STREAMS
            elif s == CREATE_STREAMS:
                self.phase = Phase.TEST_START
                events.append(CreateStreams())
            elif s == TEST_START:
                self.phase = Phase.TEST_RUNNING
                events.append(Started())
            elif s == TEST_RUNNING:
                self.phase = Phase.RUNNING
                events.append(Running())
            elif s == EXCHANGE_RESULTS:
                self.phase = Phase.OWN_RESULTS
                events.append(ResultsRequested())
            elif s == DISPLAY_RESULTS:
                self.out += encode_state(IPERF_DONE)
                self.phase = Phase.DONE
                events.append(Finished())
        return events

    def _check_error_state(self, s: int) -> None:
        if s == ACCESS_DENIED:
            raise self._fail(Msg("iperf3.err.busy"))
        if s == SERVER_TERMINATE:
            raise self._fail(Msg("iperf3.err.terminated"))
        if s == SERVER_ERROR:
            i_errno, err = struct.unpack_from("!ii", self.buf)
            del self.buf[:8]
            detail = Msg("iperf3.err.detail", {"why": errno_msg(err)}) if err > 0 else ""
            english = f"server error (i_errno {i_errno})" + (
                f"; {strerror(err)}" if err > 0 else ""
            )
            msg = Msg("iperf3.err.server_error", {"i_errno": i_errno, "detail": detail})
            raise self._fail(msg, english)

    def feed_eof(self) -> None:
        if self.buf[:1] == encode_state(SERVER_ERROR):
            raise self._fail(Msg("iperf3.err.mid_error"))
        super().feed_eof()


class ServerProtocol(_Framing):
    """The server side of one control connection.

    Fed from the first byte on: :class:`CookieReceived` first (the shell
    decides whether this is a new test — :meth:`accept` — or must be refused
    — :meth:`deny`). Then :class:`ParamsReceived` (the shell prepares the
    streams and calls :meth:`create_streams`, then :meth:`start_test` once all
    have connected), :class:`Ended` (stop the streams; call
    :meth:`request_results`), :class:`PeerResults` (call
    :meth:`send_results`) and :class:`Finished` (IPERF_DONE received).
    """

    def __init__(self, where: str = "iperf3 client") -> None:
        super().__init__(where)
        self.phase = Phase.COOKIE
        self.cookie: bytes | None = None
        self.params: Iperf3Params | None = None
        self.peer: Results | None = None

    def accept(self) -> None:
        if self.phase is not Phase.PARAM_EXCHANGE:
            raise RuntimeError(f"accept while {self.phase.value}")
        self.out += encode_state(PARAM_EXCHANGE)
        self.phase = Phase.PARAMS

    def deny(self) -> None:
        self.out += encode_state(ACCESS_DENIED)
        self.phase = Phase.CLOSED

    def error(self, i_errno: int, err: int = 0) -> None:
        """Abort the test with SERVER_ERROR (e.g. a data stream failed)."""
        self.out += encode_server_error(i_errno, err)
        self.phase = Phase.CLOSED

    def create_streams(self) -> None:
        if self.phase is not Phase.CREATE_STREAMS:
            raise RuntimeError(f"create_streams while {self.phase.value}")
        self.out += encode_state(CREATE_STREAMS)
        self.phase = Phase.STREAMS

    def start_test(self) -> None:
        if self.phase is not Phase.STREAMS:
            raise RuntimeError(f"start_test while {self.phase.value}")
        self.out += encode_state(TEST_START) + encode_state(TEST_RUNNING)
        self.phase = Phase.RUNNING

    def request_results(self) -> None:
        if self.phase is not Phase.EXCHANGE_RESULTS:
            raise RuntimeError(f"request_results while {self.phase.value}")
        self.out += encode_state(EXCHANGE_RESULTS)
        self.phase = Phase.PEER_RESULTS

    def send_results(self, results: Results) -> None:
        if self.phase is not Phase.OWN_RESULTS:
            raise RuntimeError(f"send_results while {self.phase.value}")
        self.out += encode_json(results.to_json()) + encode_state(DISPLAY_RESULTS)
        self.phase = Phase.IPERF_DONE

    @property
    def expected_streams(self) -> int:
        p = self.params
        return 0 if p is None else p.parallel * (2 if p.bidirectional else 1)

    def feed(self, data: bytes) -> list[Event]:
        if self.phase is Phase.CLOSED:
            raise self._closed()
        self.buf += data
        events: list[Event] = []
        while self.buf:
            if self.phase is Phase.COOKIE:
                if len(self.buf) < COOKIE_SIZE:
                    break
                raw = bytes(self.buf[:COOKIE_SIZE])
                del self.buf[:COOKIE_SIZE]
                if not is_cookie(raw):
                    raise self._fail(Msg("iperf3.err.bad_cookie"))
                self.cookie = raw
                self.phase = Phase.PARAM_EXCHANGE
                events.append(CookieReceived(raw))
                continue
            if self.phase is Phase.PARAMS:
                obj = self._json(Msg("iperf3.what.params"))
                if obj is None:
                    break
                try:
                    self.params = parse_params(obj)
                except ParamsRejected as exc:
                    self.out += encode_server_error(exc.i_errno)
                    raise self._fail(said(exc)) from None
                self.phase = Phase.CREATE_STREAMS
                events.append(ParamsReceived(self.params, obj))
                continue
            if self.phase is Phase.PEER_RESULTS:
                obj = self._json(Msg("iperf3.what.client_results"))
                if obj is None:
                    break
                try:
                    res = parse_results(obj)
                except Iperf3ProtocolError as exc:
                    raise self._fail(Msg("iperf3.err.client_s", {"why": said(exc)})) from None
                self.peer = res
                self.phase = Phase.OWN_RESULTS
                events.append(PeerResults(res, obj))
                continue
            s = self._state()
            assert s is not None
            if s == CLIENT_TERMINATE:
                raise self._fail(Msg("iperf3.err.client_terminated"))
            if self.phase is Phase.RUNNING and s == TEST_END:
                self.phase = Phase.EXCHANGE_RESULTS
                events.append(Ended())
            elif self.phase is Phase.IPERF_DONE and s == IPERF_DONE:
                self.phase = Phase.DONE
                events.append(Finished())
            else:
                msg = Msg(
                    "iperf3.err.state", {"state": state_name(s), "phase": phase_msg(self.phase)}
                )
                raise self._fail(msg)
        return events
