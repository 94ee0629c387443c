"""The probe's own errors (range checks, the sink's refusals, iperf3 client and protocol
errors, pcap and listen failures) keep their English text exactly and carry a message
that reads as German in the German terminal app."""

from __future__ import annotations

import asyncio
import errno
import json
from typing import Any

import pytest

from eventops.errors import ProbeError
from eventops.i18n import MESSAGES, render
from eventops.probe.checks import check_interval, check_port, check_seconds, listen_failure
from eventops.probe.iperf3 import validate
from eventops.probe.iperf3_proto import ClientProtocol, Phase
from eventops.probe.iperf3_wire import Iperf3Params, Iperf3ProtocolError
from eventops.probe.sink import Sink, sink_failure
from eventops.probe.stamp import run_stamp
from eventops.probe.throughput import run_udp

COOKIE = b"4474fvsqwha2soxv5t4a7nbdckgjk4o2t6tx\x00"


def de(exc: ProbeError) -> str:
    assert exc.msg_id is not None, exc
    json.dumps(exc.params)  # what the API's error body carries
    return render(exc.msg_id, exc.params, "de", fallback="<no German>")


def test_every_iperf3_phase_has_its_message_with_its_value_in_english() -> None:
    for phase in Phase:
        entry = MESSAGES[f"iperf3.phase.{phase.name}"]
        assert entry["en"] == phase.value and entry["de"] != phase.value, phase


@pytest.mark.parametrize(
    ("call", "english", "german"),
    [
        (lambda: check_port(70000), "port 70000 out of range (1..65535)",
         "Port 70000 außerhalb des Bereichs (1..65535)"),
        (lambda: check_port(-1, listen=True), "port -1 out of range (0..65535)",
         "Port -1 außerhalb des Bereichs (0..65535)"),
        (lambda: check_seconds(0.5, "duration", 1, 86400),
         "duration 0.5 s out of range (1 < duration <= 86400)",
         "Dauer 0,5 s außerhalb des Bereichs (1 < Dauer <= 86400)"),
        (lambda: check_interval(0.005), "interval 0.005 s out of range (0.01..3600)",
         "Berichtsintervall 0,005 s außerhalb des Bereichs (0,01..3600)"),
        (lambda: validate(udp=True, rate_bps=None, size=None, duration=1.5, streams=1,
                          reverse=False, bidir=False),
         "duration 1.5 s out of range (whole seconds, 1..86400)",
         "Dauer 1,5 s außerhalb des Bereichs (ganze Sekunden, 1..86400)"),
        (lambda: validate(udp=True, rate_bps=None, size=8, duration=1, streams=1,
                          reverse=False, bidir=False),
         "UDP datagram size 8 out of range (16..65507)",
         "UDP-Datagrammgröße 8 außerhalb des Bereichs (16..65507)"),
        (lambda: validate(udp=False, rate_bps=None, size=None, duration=1, streams=200,
                          reverse=False, bidir=False),
         "streams 200 out of range (1..128)",
         "Datenströme 200 außerhalb des Bereichs (1..128)"),
        (lambda: validate(udp=False, rate_bps=None, size=None, duration=1, streams=1,
                          reverse=True, bidir=True),
         "choose one of reverse and bidir",
         "nur eines von beiden wählen: Gegenrichtung (reverse) oder beide Richtungen (bidir)"),
    ],
)  # fmt: skip
def test_range_checks_keep_their_english_and_say_it_in_german(
    call: Any, english: str, german: str
) -> None:
    with pytest.raises(ProbeError) as exc:
        call()
    assert str(exc.value) == english
    assert de(exc.value) == german


async def test_a_run_refused_before_it_starts_names_the_range_in_german() -> None:
    for kw, english, german in (
        ({"rate_bps": 1e6, "size": 5}, "datagram size 5 out of range (24..65507 bytes)",
         "Datagrammgröße 5 außerhalb des Bereichs (24..65507 Byte)"),
        ({"rate_bps": 5e11}, "rate 5e+11 bit/s out of range (0 < rate <= 4e+11)",
         "Rate 5e+11 bit/s außerhalb des Bereichs (0 < Rate <= 4e+11)"),
        ({"duration": 4000.0}, "duration 4000 s out of range (0 < duration <= 3600)",
         "Dauer 4000 s außerhalb des Bereichs (0 < Dauer <= 3600)"),
        ({"batched": False}, "an unbatched (delay) stream needs a rate",
         "ein ungebündelter Datenstrom (Verzögerungsmessung) braucht eine Rate"),
    ):  # fmt: skip
        with pytest.raises(ProbeError) as exc:
            await run_udp("127.0.0.1", 9, **kw)
        assert (str(exc.value), de(exc.value)) == (english, german)
    with pytest.raises(ProbeError) as stamp:
        await run_stamp("127.0.0.1", 9, count=0)
    assert str(stamp.value) == "count 0 out of range (1..10000000)"
    assert de(stamp.value) == "Paketanzahl 0 außerhalb des Bereichs (1..10000000)"


async def _ask(port: int, line: bytes) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(line)
        await writer.drain()
        reply: dict[str, Any] = json.loads(await reader.readline())
        return reply
    finally:
        writer.close()


async def test_the_sink_names_its_refusals_and_the_client_says_them_in_german() -> None:
    async with Sink("127.0.0.1", 0) as sink:
        await sink.start()
        peer = f"127.0.0.1:{sink.port}"
        cases = [
            (b'{"op":"udp","session":1,"window":3}\n',
             "control field 'window' = 3 is not a power of two",
             "Steuerfeld 'window' = 3 ist keine Zweierpotenz"),
            (b'{"op":"udp","session":1,"max_s":0}\n',
             "control field 'max_s' = 0 out of range (0 < max_s <= 3660)",
             "Steuerfeld 'max_s' = 0 außerhalb des Bereichs (0 < max_s <= 3660)"),
            (b'{"op":"udp"}\n', "control message without 'session'",
             "Steuernachricht ohne 'session'"),
            (b'{"op":"udp","session":1,"timestamps":"yes"}\n',
             "control field 'timestamps' = 'yes' is not a boolean",
             "Steuerfeld 'timestamps' = 'yes' ist kein Wahrheitswert"),
            (b'{"op":"dance"}\n', "unknown op 'dance'", "unbekannte Operation 'dance'"),
            (b'{"op":"data","session":5}\n', "data stream for no running test",
             "Datenstrom, aber keine laufende Messung"),
        ]  # fmt: skip
        for line, english, german in cases:
            reply = await _ask(sink.port, line)
            assert reply["ok"] is False and reply["error"] == english
            exc = sink_failure(peer, reply)
            assert str(exc) == f"sink {peer}: {english}"
            assert de(exc) == f"Senke {peer}: {german}"
        # busy: a test held open on one control connection
        reader, writer = await asyncio.open_connection("127.0.0.1", sink.port)
        try:
            writer.write(b'{"op":"tcp","session":7,"streams":1,"max_s":60}\n')
            await writer.drain()
            assert json.loads(await reader.readline()) == {"ok": True}
            with pytest.raises(ProbeError) as busy:
                await run_udp("127.0.0.1", sink.port, rate_bps=1e6, duration=1.0)
        finally:
            writer.close()
    assert str(busy.value) == f"sink {peer}: sink busy: another test is running"
    assert de(busy.value) == f"Senke {peer}: belegt, dort läuft schon eine andere Messung"


@pytest.mark.parametrize(
    ("reply", "english", "german"),
    [
        ({"ok": False}, "refused the test", "Messung abgelehnt"),
        ({"ok": False, "error": "mood"}, "mood", "mood"),
        # a message id a sink may not name, or parameters that are not plain and short
        ({"ok": False, "error": "x", "msg_id": "err.no_link", "params": {"link": "a"}}, "x", "x"),
        ({"ok": False, "error": "x", "msg_id": "sink.err.streams",
          "params": {"n": {"msg_id": "sink.err.busy", "params": {}}}}, "x", "x"),
        ({"ok": False, "error": "x", "msg_id": "sink.err.unknown_op",
          "params": {"op": "o" * 500}}, "x", "x"),
        ({"ok": False, "error": "x", "msg_id": "sink.err.streams", "params": {}}, "x", "x"),
        ({"ok": False, "error": "x", "msg_id": "sink.err.nope", "params": {}}, "x", "x"),
        ({"ok": False, "error": "x", "msg_id": "sink.err.streams", "params": [1]}, "x", "x"),
        ({"ok": False, "error": "x", "msg_id": "sink.err.streams", "params": {"n": 4}}, "x",
         "mehr als die 4 angekündigten Datenströme"),
        ({"ok": False, "error": "Connection refused", "msg_id": "probe.os.refused",
          "params": {}}, "Connection refused", "Verbindung abgelehnt"),
    ],
)  # fmt: skip
def test_a_sinks_reply_is_hostile_input(reply: dict[str, Any], english: str, german: str) -> None:
    exc = sink_failure("h:1", reply)
    assert str(exc) == f"sink h:1: {english}"
    assert de(exc) == f"Senke h:1: {german}"


def test_a_sink_whose_test_failed_at_its_end() -> None:
    exc = sink_failure("h:1", {"ok": False, "error": None}, final=True)
    assert str(exc) == "sink h:1: test failed"
    assert de(exc) == "Senke h:1: Messung fehlgeschlagen"
    err = sink_failure(
        "h:1", {"ok": False, "error": "No buffer space available"}, final=True
    )  # errno without words of ours: the sink's English as it is
    assert de(err) == "Senke h:1: No buffer space available"


@pytest.mark.parametrize(
    ("data", "english", "german"),
    [
        (b"\xff", "busy (ACCESS_DENIED): another test is running",
         "belegt (ACCESS_DENIED): dort läuft schon eine andere Messung"),
        (b"\x0b", "server terminated the test", "der Server hat die Messung abgebrochen"),
        (b"\xfe\x00\x00\x00\x06\x00\x00\x00\x00", "server error (i_errno 6)",
         "Fehler am Server (i_errno 6)"),
        (b"\xfe\x00\x00\x00\x65\x00\x00\x00\x0d", "server error (i_errno 101); Permission denied",
         "Fehler am Server (i_errno 101); nicht erlaubt"),
        (b"\xfe\x00\x00\x00\x65\x00\x00\x00\x01",
         "server error (i_errno 101); Operation not permitted",
         "Fehler am Server (i_errno 101); nicht erlaubt"),
        (b"\x01", "sent TEST_START while waiting for PARAM_EXCHANGE",
         "hat TEST_START gesendet, Zustand: wartet auf PARAM_EXCHANGE"),
    ],
)  # fmt: skip
def test_iperf3_servers_errors_in_german(data: bytes, english: str, german: str) -> None:
    c = ClientProtocol(Iperf3Params(protocol="tcp", duration=1), COOKIE, "iperf3 server h:5201")
    c.start()
    with pytest.raises(Iperf3ProtocolError) as exc:
        c.feed(data)
    assert str(exc.value) == f"iperf3 server h:5201: {english}"
    assert de(exc.value) == f"iperf3-Server h:5201: {german}"
    with pytest.raises(Iperf3ProtocolError) as closed:
        c.feed(b"\t")
    assert de(closed.value) == "iperf3-Server h:5201: Verbindung schon geschlossen"


def test_iperf3_servers_results_that_break_the_protocol() -> None:
    c = ClientProtocol(Iperf3Params(protocol="tcp", duration=1), COOKIE, "iperf3 server h:5201")
    c.start()
    c.feed(b"\t\n\x01\x02")
    c.end_test()
    c.feed(b"\x0d")
    from eventops.probe.iperf3_wire import Results, StreamResult

    c.send_results(Results(streams=(StreamResult(id=1, bytes=1),)))
    body = b'{"streams":[{"id":1,"bytes":5,"jitter":"x"}]}'
    with pytest.raises(Iperf3ProtocolError) as exc:
        c.feed(len(body).to_bytes(4, "big") + body)
    assert str(exc.value) == (
        "iperf3 server h:5201: server's results stream 0: 'jitter' is not a number"
    )
    assert de(exc.value) == (
        "iperf3-Server h:5201: Server: Ergebnis des Datenstroms 0: 'jitter' ist keine Zahl"
    )


def test_listen_failures_name_the_kernels_reason() -> None:
    exc = listen_failure("sink", "127.0.0.1", 5301, OSError(errno.EADDRINUSE, "Address in use"))
    assert str(exc) == "sink cannot listen on 127.0.0.1:5301: Address in use"
    assert de(exc) == "Messsenke kann nicht auf 127.0.0.1:5301 lauschen: Adresse schon belegt"


def test_every_kind_of_unusable_stamp_reply_has_its_words() -> None:
    from eventops.i18n import Msg
    from eventops.probe.models import StampAnomalies

    for name in StampAnomalies.model_fields:
        entry = MESSAGES[f"probe.anomaly.{name}"]
        assert entry["en"] == f"{name} {{n}}" and name not in entry["de"], name
    # a list of messages renders each in place (at most MAX_LIST), joined with ", "
    items = [Msg("probe.anomaly.truncated", {"n": 3}), Msg("probe.anomaly.wrong_ssid", {"n": 1})]
    msg = Msg("probe.err.unusable", {"n": 4, "what": items})
    assert msg.text("en") == "; 4 unusable replies (truncated 3, wrong_ssid 1)"
    assert msg.as_dict()["params"]["what"][1] == {
        "msg_id": "probe.anomaly.wrong_ssid",
        "params": {"n": 1},
    }
    stored = msg.as_dict()
    many = {**stored["params"], "what": stored["params"]["what"] * 100}
    assert render("probe.err.unusable", many, "de").count("zu kurz 3") == 16  # 32 shown
