"""Probe errors produced for real (a stock ``iperf3 -s`` that is busy, a pcap that cannot be
written) keep their English and carry their message in German."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventops.errors import ProbeError
from eventops.i18n import render
from eventops.probe import run_iperf3, run_stamp, start_reflector
from eventops.probe.iperf3 import make_cookie
from eventops.probe.iperf3_wire import Iperf3Params, encode_json
from tests.integration.stock_iperf3 import StockServer


def de(exc: ProbeError) -> str:
    assert exc.msg_id is not None, exc
    return render(exc.msg_id, exc.params, "de", fallback="<no German>")


@pytest.fixture
def stock(tmp_path: Path) -> Iterator[StockServer]:
    s = StockServer(tmp_path, once=False)
    try:
        yield s
    finally:
        s.stop()


async def test_a_busy_stock_iperf3_server_is_named_in_german(stock: StockServer) -> None:
    # one client's test, waiting for its streams: the server takes every new connection
    # for one of them, and a connection without that test's cookie is denied
    reader, writer = await asyncio.open_connection("127.0.0.1", stock.port)
    try:
        writer.write(make_cookie())
        await writer.drain()
        assert await reader.readexactly(1) == b"\x09"  # PARAM_EXCHANGE
        writer.write(encode_json(Iperf3Params(protocol="tcp", duration=1).to_json()))
        await writer.drain()
        assert await reader.readexactly(1) == b"\x0a"  # CREATE_STREAMS: the server is busy
        with pytest.raises(ProbeError) as exc:
            await run_iperf3("127.0.0.1", stock.port, duration=1)
    finally:
        writer.close()
    where = f"127.0.0.1:{stock.port}"
    assert str(exc.value) == (
        f"iperf3 server {where}: busy (ACCESS_DENIED): another test is running"
    )
    assert de(exc.value) == (
        f"iperf3-Server {where}: belegt (ACCESS_DENIED): dort läuft schon eine andere Messung"
    )


async def test_nobody_listening_for_iperf3(tmp_path: Path) -> None:
    from tests.integration.stock_iperf3 import free_port

    port = free_port()
    with pytest.raises(ProbeError) as exc:
        await run_iperf3("127.0.0.1", port, duration=1)
    assert str(exc.value) == (
        f"iperf3 server 127.0.0.1:{port}: connection refused (no iperf3 -s listening)"
    )
    assert de(exc.value) == (
        f"iperf3-Server 127.0.0.1:{port}: Verbindung abgelehnt (dort lauscht kein iperf3 -s)"
    )


async def test_a_pcap_that_cannot_be_written(tmp_path: Path) -> None:
    refl = await start_reflector("127.0.0.1", 0)
    pcap = tmp_path / "no-such-folder" / "s.pcap"
    try:
        with pytest.raises(ProbeError) as exc:
            await run_stamp("127.0.0.1", refl.port, count=3, interval=0.001, pcap=pcap)
    finally:
        await refl.close()
    assert str(exc.value) == f"cannot write pcap {pcap}: No such file or directory"
    assert de(exc.value) == (
        f"pcap-Mitschnitt {pcap} nicht schreibbar: Datei oder Ordner nicht vorhanden"
    )


async def test_a_reflector_answering_only_garbage_names_the_kinds_in_german() -> None:
    from tests.integration.test_probe_stamp import _fake, _reply

    def answer(n: int, data: bytes) -> list[bytes]:  # one truncated, one without timestamps
        return [b"xx", _reply(data, seq=None, size=44)[:4] + b"\x00" * 40] if n == 0 else []

    async for port in _fake(answer):
        with pytest.raises(ProbeError) as exc:
            # the fake reflector shares this loop: 2.5 s lets a busy host deliver its answers
            await run_stamp("127.0.0.1", port, count=2, interval=0.001, wait_s=2.5)
    peer = f"127.0.0.1:{port}"
    english, german = str(exc.value), de(exc.value)
    assert english.startswith(f"STAMP reflector {peer}: no valid reply within 2.5 s to 2 packets")
    assert german.startswith(f"STAMP-Reflektor {peer}: keine gültige Antwort binnen 2,5 s")
    assert english.endswith("; 2 unusable replies (truncated 1, zero_timestamp 1)"), english
    assert german.endswith("; 2 unbrauchbare Antworten (zu kurz 1, ohne Zeitstempel 1)"), german
