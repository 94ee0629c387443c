"""Packet probe: UDP/TCP throughput, STAMP latency and loss, iperf3 client.

The public, stable async API (everything else in this package is internal)::

    from eventops import probe

    # far end, in-process: a throughput sink and a STAMP reflector
    sink = await probe.start_sink("10.9.0.2", 5301)                  # -> Sink, .port, .close()
    refl = await probe.start_reflector("10.9.0.2", 862, stateful=True)  # -> Reflector, .port, .close()

    # near end
    r = await probe.run_udp("10.9.0.2", 5301, rate_bps=100e6, size=1472,
                            duration=5, batched=True)              # -> UdpResult
    r = await probe.run_udp(..., batched=False)                     # + one-way delay, jitter, IPDV
    t = await probe.run_tcp("10.9.0.2", 5301, streams=4)           # -> TcpResult
    s = await probe.run_stamp("10.9.0.2", 862, count=100, interval=0.01)  # -> StampResult
    i = await probe.run_iperf3("10.9.0.2", 5201, udp=True, rate_bps=1e9)  # -> Iperf3Result
    i = await probe.run_iperf3("10.9.0.2", reverse=True)  # or bidir=True; i.iperf3_json(): iperf3 3.12 -J

    # an iperf3-compatible server for stock iperf3 -c clients
    async with probe.Iperf3Server("0.0.0.0", 5201, on_test=print) as srv: ...

    await sink.close(); await refl.close()

Results are pydantic models (:mod:`eventops.probe.models`). Each carries
``methods``: which method produced each figure (batched GSO/GRO counters,
unbatched stream with kernel receive timestamps, STAMP round trip). Rates
state their layer (``udp-payload``, ``l2``, ``tcp-payload``). ``UdpResult``,
``TcpResult`` and ``Iperf3Result`` have ``iperf3_json()`` (iperf3 ``-J``
shape where the concepts match).

Batched UDP streams measure throughput, loss, duplicates and reordering only;
delay, jitter (RFC 3550) and IPDV (RFC 3393/5481) come from an unbatched
stream (``batched=False``) or from STAMP.

Every fault a user can cause (unreachable host, refused port, silent
reflector, a rate or size out of range, a busy sink or iperf3 server) raises
:class:`eventops.errors.ProbeError` with a one-line message. Every wait has a
timeout. The hot loop is a C extension (``_fastprobe``); without it the
pure-Python engine gives identical counts more slowly, except under
``CI=true`` where a missing C engine is an error (:func:`load_engine`).
"""

from eventops.probe.datapath import load_engine
from eventops.probe.iperf3 import IPERF3_PORT, run_iperf3
from eventops.probe.iperf3_server import Iperf3Server, Iperf3ServerTest
from eventops.probe.models import (
    DelayStats,
    Interval,
    Iperf3Result,
    PacingReport,
    StampAnomalies,
    StampResult,
    TcpResult,
    UdpResult,
)
from eventops.probe.reflector import Reflector, start_reflector
from eventops.probe.sink import DEFAULT_SINK_PORT, Sink, start_sink
from eventops.probe.stamp import STAMP_PORT, run_stamp
from eventops.probe.throughput import run_tcp, run_udp

__all__ = [
    "DEFAULT_SINK_PORT",
    "IPERF3_PORT",
    "STAMP_PORT",
    "DelayStats",
    "Interval",
    "Iperf3Result",
    "Iperf3Server",
    "Iperf3ServerTest",
    "PacingReport",
    "Reflector",
    "Sink",
    "StampAnomalies",
    "StampResult",
    "TcpResult",
    "UdpResult",
    "load_engine",
    "run_iperf3",
    "run_stamp",
    "run_tcp",
    "run_udp",
    "start_reflector",
    "start_sink",
]
