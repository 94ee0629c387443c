"""iperf3 wire messages (iperf 3.x, checked against 3.12): states, framing, params, results.

Pure functions and frozen dataclasses; the state machines are in
:mod:`eventops.probe.iperf3_proto`.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from eventops.errors import ProbeError
from eventops.i18n import Msg, refusal

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
STATE_NAMES = {
    1: "TEST_START", 2: "TEST_RUNNING", 4: "TEST_END", 9: "PARAM_EXCHANGE", 10: "CREATE_STREAMS",
    11: "SERVER_TERMINATE", 12: "CLIENT_TERMINATE", 13: "EXCHANGE_RESULTS", 14: "DISPLAY_RESULTS",
    16: "IPERF_DONE", -1: "ACCESS_DENIED", -2: "SERVER_ERROR",
}  # fmt: skip

COOKIE_SIZE = 37
COOKIE_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_COOKIE_RE = re.compile(rb"[a-z2-7]{36}\0")
MAX_JSON = 1 << 20
"""Longest JSON message we accept (iperf3's results for 128 streams are ~40 KiB)."""
MAX_STREAMS = 128
MAX_TIME = 86400
MAX_UDP_BLOCK = 65507
MAX_TCP_BLOCK = 1 << 20
DEFAULT_UDP_BLKSIZE = 1460
DEFAULT_TCP_BLKSIZE = 128 * 1024
UDP_CONNECT_MSG = struct.pack("=I", 0x36373839)
UDP_CONNECT_REPLY = struct.pack("=I", 0x39383736)
U64_MINUS_ONE = (1 << 64) - 1
"""How iperf3 writes −1 for an unsigned field (``retransmits`` when unknown)."""

# iperf3's i_errno values for the errors our server reports (src/iperf_api.h).
IEDURATION = 5
IENUMSTREAMS = 6
IEBLOCKSIZE = 7
IEUNIMP = 13


class Iperf3ProtocolError(ProbeError):
    """The peer broke the iperf3 control protocol (one-line message)."""


def state_name(s: int) -> str:
    return STATE_NAMES.get(s, f"unknown state {s}")


def encode_state(s: int) -> bytes:
    return bytes([s & 0xFF])


def encode_json(obj: dict[str, Any]) -> bytes:
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
    return struct.pack("!I", len(text)) + text


def encode_server_error(i_errno: int, err: int = 0) -> bytes:
    return encode_state(SERVER_ERROR) + struct.pack("!ii", i_errno, err)


def is_cookie(raw: bytes) -> bool:
    return _COOKIE_RE.fullmatch(raw) is not None


def as_signed(v: Any) -> int | None:
    """An iperf3 integer, with 2**64 − 1 (and anything ≥ 2**63) read as negative."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    n = int(v)
    return n - (1 << 64) if n >= 1 << 63 else n


# --- parameters -------------------------------------------------------------


@dataclass(frozen=True)
class Iperf3Params:
    """The client's test parameters (PARAM_EXCHANGE), validated."""

    protocol: str = "tcp"
    duration: int = 10
    parallel: int = 1
    blksize: int = DEFAULT_TCP_BLKSIZE
    bandwidth: int = 0
    """Target rate in bit/s per stream (0: unlimited)."""
    reverse: bool = False
    bidirectional: bool = False
    omit: int = 0
    client_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def udp(self) -> bool:
        return self.protocol == "udp"

    def to_json(self) -> dict[str, Any]:
        """The params message as iperf3 3.12 writes it (key order included)."""
        out: dict[str, Any] = {self.protocol: True, "omit": self.omit, "time": self.duration}
        out.update({"num": 0, "blockcount": 0, "parallel": self.parallel})
        if self.reverse:
            out["reverse"] = True
        if self.bidirectional:
            out["bidirectional"] = True
        out["len"] = self.blksize
        if self.udp or self.bandwidth:
            out["bandwidth"] = self.bandwidth
        out["pacing_timer"] = 1000
        out["client_version"] = self.client_version or "3.12"
        return out


class ParamsRejected(Iperf3ProtocolError):
    def __init__(self, message: str, i_errno: int) -> None:
        super().__init__(message)
        self.i_errno = i_errno


def _int_field(obj: dict[str, Any], key: str, lo: int, hi: int, default: int, ie: int) -> int:
    v = obj.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise ParamsRejected(f"parameter {key!r} is not an integer", ie)
    if not lo <= v <= hi:
        raise ParamsRejected(f"parameter {key!r} = {v} out of range ({lo}..{hi})", ie)
    return v


def parse_params(obj: dict[str, Any]) -> Iperf3Params:
    """Validate a client's params message (what our server agrees to run)."""
    protos = [p for p in ("tcp", "udp", "sctp") if obj.get(p) is True]
    if len(protos) != 1:
        raise ParamsRejected("parameters name no single protocol (tcp or udp)", IEUNIMP)
    if protos[0] == "sctp":
        raise ParamsRejected("SCTP tests are not supported", IEUNIMP)
    udp = protos[0] == "udp"
    for key in ("num", "blockcount"):
        if obj.get(key, 0) not in (0, None):
            raise ParamsRejected(f"byte/block-count tests ({key}) are not supported", IEUNIMP)
    duration = _int_field(obj, "time", 1, MAX_TIME, 10, IEDURATION)
    parallel = _int_field(obj, "parallel", 1, MAX_STREAMS, 1, IENUMSTREAMS)
    hi = MAX_UDP_BLOCK if udp else MAX_TCP_BLOCK
    default = DEFAULT_UDP_BLKSIZE if udp else DEFAULT_TCP_BLKSIZE
    blksize = _int_field(obj, "len", 16 if udp else 1, hi, default, IEBLOCKSIZE)
    bandwidth = _int_field(obj, "bandwidth", 0, 1 << 40, 0, IEUNIMP)
    omit = _int_field(obj, "omit", 0, 600, 0, IEUNIMP)
    flags = {}
    for key in ("reverse", "bidirectional"):
        v = obj.get(key, False)
        if not isinstance(v, bool):
            raise ParamsRejected(f"parameter {key!r} is not a boolean", IEUNIMP)
        flags[key] = v
    version = obj.get("client_version", "")
    if not isinstance(version, str) or len(version) > 64:
        raise ParamsRejected("parameter 'client_version' is not a short string", IEUNIMP)
    known = {"tcp", "udp", "time", "num", "blockcount", "parallel", "len", "bandwidth", "omit"}
    known |= {"reverse", "bidirectional", "client_version"}
    return Iperf3Params(
        protocol="udp" if udp else "tcp",
        duration=duration,
        parallel=parallel,
        blksize=blksize,
        bandwidth=bandwidth,
        reverse=flags["reverse"],
        bidirectional=flags["bidirectional"],
        omit=omit,
        client_version=version,
        extra={k: v for k, v in obj.items() if k not in known},
    )


# --- results ----------------------------------------------------------------


@dataclass(frozen=True)
class StreamResult:
    """One stream's line in an EXCHANGE_RESULTS message."""

    id: int
    bytes: int
    retransmits: int = -1
    jitter_s: float = 0.0
    errors: int = 0
    packets: int = 0
    start_time: float = 0.0
    end_time: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "bytes": self.bytes,
            "retransmits": self.retransmits if self.retransmits >= 0 else U64_MINUS_ONE,
            "jitter": self.jitter_s,
            "errors": self.errors,
            "packets": self.packets,
            "start_time": self.start_time,
            "end_time": self.end_time,
        }


@dataclass(frozen=True)
class Results:
    """One side's EXCHANGE_RESULTS message."""

    streams: tuple[StreamResult, ...]
    cpu_total: float = 0.0
    cpu_user: float = 0.0
    cpu_system: float = 0.0
    sender_has_retransmits: int = -1
    congestion_used: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cpu_util_total": self.cpu_total,
            "cpu_util_user": self.cpu_user,
            "cpu_util_system": self.cpu_system,
            "sender_has_retransmits": self.sender_has_retransmits
            if self.sender_has_retransmits >= 0
            else U64_MINUS_ONE,
        }
        if self.congestion_used is not None:
            out["congestion_used"] = self.congestion_used
        out["streams"] = [s.to_json() for s in self.streams]
        return out

    def by_id(self) -> dict[int, StreamResult]:
        return {s.id: s for s in self.streams}


def _num(obj: dict[str, Any], key: str, where: Msg) -> float:
    v = obj.get(key, 0)
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        msg = Msg("iperf3.err.not_number", {"where": where, "key": repr(key)})
        raise refusal(Iperf3ProtocolError, msg)
    return float(v)


def parse_results(obj: dict[str, Any], max_streams: int = 2 * MAX_STREAMS) -> Results:
    """Validate a results message (either side's)."""
    streams = obj.get("streams")
    if not isinstance(streams, list):
        raise refusal(Iperf3ProtocolError, Msg("iperf3.err.no_streams"))
    if len(streams) > max_streams:
        msg = Msg("iperf3.err.too_many", {"n": len(streams), "max": max_streams})
        raise refusal(Iperf3ProtocolError, msg)
    out = []
    for i, s in enumerate(streams):
        where = Msg("iperf3.what.stream", {"i": i})
        if not isinstance(s, dict):
            raise refusal(
                Iperf3ProtocolError, Msg("iperf3.err.stream_not_object", {"where": where})
            )
        sid, nbytes = as_signed(s.get("id")), as_signed(s.get("bytes"))
        if sid is None or sid < 0 or nbytes is None or nbytes < 0:
            raise refusal(Iperf3ProtocolError, Msg("iperf3.err.id_bytes", {"where": where}))
        out.append(
            StreamResult(
                id=sid,
                bytes=nbytes,
                retransmits=as_signed(s.get("retransmits", -1)) or 0,
                jitter_s=_num(s, "jitter", where),
                errors=as_signed(s.get("errors", 0)) or 0,
                packets=as_signed(s.get("packets", 0)) or 0,
                start_time=_num(s, "start_time", where),
                end_time=_num(s, "end_time", where),
            )
        )
    cong = obj.get("congestion_used")
    return Results(
        streams=tuple(out),
        cpu_total=_num(obj, "cpu_util_total", Msg("iperf3.what.results")),
        cpu_user=_num(obj, "cpu_util_user", Msg("iperf3.what.results")),
        cpu_system=_num(obj, "cpu_util_system", Msg("iperf3.what.results")),
        sender_has_retransmits=as_signed(obj.get("sender_has_retransmits", -1)) or 0,
        congestion_used=cong if isinstance(cong, str) and len(cong) <= 32 else None,
    )


def stream_ids(n: int) -> list[int]:
    """iperf3's stream ids in connection order: 1, 3, 4, 5, ..."""
    return [1, *range(3, n + 2)]


def strerror(err: int) -> str:
    try:
        return os.strerror(err)
    except ValueError:
        return f"errno {err}"
