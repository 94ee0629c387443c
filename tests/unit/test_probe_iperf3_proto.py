"""The iperf3 control protocol state machines, without sockets.

The byte strings marked "captured" were recorded between a stock iperf3 3.12
client and server (``iperf3 -c -R -P 2`` through a logging TCP relay).
"""

from __future__ import annotations

import json
import struct

import pytest

from eventops.errors import ProbeError
from eventops.probe.iperf3_proto import (
    ClientProtocol,
    CookieReceived,
    CreateStreams,
    Ended,
    Finished,
    ParamsReceived,
    PeerResults,
    Phase,
    ResultsRequested,
    Running,
    ServerProtocol,
    Started,
)
from eventops.probe.iperf3_wire import (
    Iperf3Params,
    Iperf3ProtocolError,
    Results,
    StreamResult,
    encode_json,
    parse_params,
    parse_results,
    stream_ids,
)

COOKIE = b"4474fvsqwha2soxv5t4a7nbdckgjk4o2t6tx\x00"
CAPTURED_PARAMS = (
    b'\x00\x00\x00\x8a{"tcp":true,"omit":0,"time":1,"num":0,"blockcount":0,"parallel":2,'
    b'"reverse":true,"len":131072,"pacing_timer":1000,"client_version":"3.12"}'
)
CAPTURED_SERVER_RESULTS = (
    b'\x00\x00\x01\x8b{"cpu_util_total":9.06043687138562,"cpu_util_user":0.30642922064302192,'
    b'"cpu_util_system":8.7538078924501352,"sender_has_retransmits":1,"congestion_used":"bbr",'
    b'"streams":[{"id":1,"bytes":310640640,"retransmits":0,"jitter":0,"errors":0,"packets":0,'
    b'"start_time":0,"end_time":1.001002},{"id":3,"bytes":302776320,"retransmits":0,"jitter":0,'
    b'"errors":0,"packets":0,"start_time":0,"end_time":1.001004}]}\x0e'
)
REVERSE_P2 = Iperf3Params(protocol="tcp", duration=1, parallel=2, blksize=131072, reverse=True)
OWN = Results(
    streams=(StreamResult(id=1, bytes=299105986, end_time=1.000037),),
    cpu_total=1.5,
)


def _client(params: Iperf3Params = REVERSE_P2) -> ClientProtocol:
    c = ClientProtocol(params, COOKIE)
    c.start()
    return c


def _running_client() -> ClientProtocol:
    c = _client()
    c.feed(b"\t\n\x01\x02")
    c.data_to_send()
    return c


# --- client -----------------------------------------------------------------


def test_client_full_exchange_exact_bytes() -> None:
    c = _client()
    assert c.data_to_send() == COOKIE
    assert c.feed(b"\t") == []
    # the params message byte for byte as iperf3 3.12 writes it
    assert c.data_to_send() == CAPTURED_PARAMS
    assert c.feed(b"\n") == [CreateStreams()]
    assert c.feed(b"\x01\x02") == [Started(), Running()]
    assert c.data_to_send() == b""
    c.end_test()
    assert c.data_to_send() == b"\x04"
    assert c.feed(b"\r") == [ResultsRequested()]
    c.send_results(OWN)
    sent = c.data_to_send()
    (n,) = struct.unpack("!I", sent[:4])
    body = json.loads(sent[4:])
    assert n == len(sent) - 4
    assert body["streams"][0]["retransmits"] == 18446744073709551615
    assert body["sender_has_retransmits"] == 18446744073709551615
    assert list(body) == [
        "cpu_util_total",
        "cpu_util_user",
        "cpu_util_system",
        "sender_has_retransmits",
        "streams",
    ]
    events = c.feed(CAPTURED_SERVER_RESULTS)
    assert isinstance(events[0], PeerResults)
    assert [s.bytes for s in events[0].results.streams] == [310640640, 302776320]
    assert events[0].results.congestion_used == "bbr"
    assert events[1:] == [Finished()]
    assert c.data_to_send() == b"\x10"
    assert c.phase is Phase.DONE
    c.feed_eof()  # a close after the test is fine


def test_client_bytes_split_anywhere() -> None:
    stream = b"\t\n\x01\x02"
    c = _client()
    seen = []
    for b in stream:
        seen += c.feed(bytes([b]))
    assert seen == [CreateStreams(), Started(), Running()]
    c.end_test()
    c.feed(b"\r")
    c.send_results(OWN)
    seen = []
    for i in range(len(CAPTURED_SERVER_RESULTS)):
        seen += c.feed(CAPTURED_SERVER_RESULTS[i : i + 1])
    assert [type(e) for e in seen] == [PeerResults, Finished]


def test_udp_params_carry_bandwidth() -> None:
    p = Iperf3Params(protocol="udp", duration=2, blksize=1448, bandwidth=1_000_000)
    c = _client(p)
    assert c.data_to_send() == COOKIE
    c.feed(b"\t")
    sent = c.data_to_send()
    assert sent[4:] == (
        b'{"udp":true,"omit":0,"time":2,"num":0,"blockcount":0,"parallel":1,'
        b'"len":1448,"bandwidth":1000000,"pacing_timer":1000,"client_version":"3.12"}'
    )


def test_bidir_params() -> None:
    c = _client(Iperf3Params(protocol="tcp", duration=3, bidirectional=True))
    c.feed(b"\t")
    assert b'"bidirectional":true,"len":131072,' in c.data_to_send()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff", "busy (ACCESS_DENIED): another test is running"),
        (b"\x0b", "server terminated the test"),
        (b"\xfe\x00\x00\x00\x06\x00\x00\x00\x00", "server error (i_errno 6)"),
        (b"\xfe\x00\x00\x00\x65\x00\x00\x00\x0d", "server error (i_errno 101); Permission denied"),
        (b"\x01", "sent TEST_START while waiting for PARAM_EXCHANGE"),
        (b"\x63", "sent unknown state 99 while waiting for PARAM_EXCHANGE"),
    ],
)
def test_client_error_states(data: bytes, message: str) -> None:
    c = _client()
    with pytest.raises(Iperf3ProtocolError) as exc:
        c.feed(data)
    assert str(exc.value) == f"iperf3 server: {message}"
    assert isinstance(exc.value, ProbeError)
    assert c.phase is Phase.CLOSED
    with pytest.raises(Iperf3ProtocolError, match="already closed"):
        c.feed(b"\t")


def test_client_server_error_split_waits_for_numbers() -> None:
    c = _client()
    assert c.feed(b"\xfe\x00\x00") == []
    with pytest.raises(Iperf3ProtocolError, match="middle of a SERVER_ERROR"):
        c.feed_eof()


def test_client_unexpected_bytes_while_running_and_streams() -> None:
    c = _running_client()
    with pytest.raises(Iperf3ProtocolError, match="sent DISPLAY_RESULTS while running"):
        c.feed(b"\x0e")
    c = _client()
    c.feed(b"\t\n")
    with pytest.raises(Iperf3ProtocolError, match="sent TEST_RUNNING while waiting for TEST_START"):
        c.feed(b"\x02")
    c = _running_client()
    c.end_test()
    c.feed(b"\r")
    with pytest.raises(
        Iperf3ProtocolError, match=r"1 unexpected bytes \(waiting for our results\)"
    ):
        c.feed(b"\x0e")


def _results_client() -> ClientProtocol:
    c = _running_client()
    c.end_test()
    c.feed(b"\r")
    c.send_results(OWN)
    c.data_to_send()
    return c


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00\x00\x00", "the server's results of 0 bytes"),
        (b"\x7f\xff\xff\xff", "the server's results of 2147483647 bytes"),
        (b"\x00\x00\x00\x03abc", "the server's results is not JSON"),
        (b"\x00\x00\x00\x02[]", "the server's results is not a JSON object"),
        (b"\x00\x00\x00\x02{}", "server's results without a streams list"),
        (encode_json({"streams": {}}), "server's results without a streams list"),
        (encode_json({"streams": [3]}), "server's results stream 0 is not an object"),
        (encode_json({"streams": [{"id": 1}]}), "'id' or 'bytes' missing or negative"),
        (encode_json({"streams": [{"id": 1, "bytes": -5}]}), "'id' or 'bytes' missing"),
        (encode_json({"streams": [{"id": 1, "bytes": 5, "jitter": "x"}]}), "'jitter' is not"),
        (b'\x00\x00\x00\x0e{"x":NaN,"y":1}', "the server's results is not JSON"),
        (encode_json({"streams": [{"id": 1, "bytes": 1}] * 300}), "300 streams"),
    ],
)
def test_client_malformed_results(data: bytes, message: str) -> None:
    c = _results_client()
    with pytest.raises(Iperf3ProtocolError, match=message.replace("(", r"\(")):
        c.feed(data)


@pytest.mark.parametrize("cut", [1, 3, 4, 20])
def test_client_truncated_results_then_eof(cut: int) -> None:
    c = _results_client()
    assert c.feed(CAPTURED_SERVER_RESULTS[:cut]) == []
    with pytest.raises(Iperf3ProtocolError) as exc:
        c.feed_eof()
    assert str(exc.value) == (
        "iperf3 server: closed the control connection in the middle of a message "
        "(waiting for the peer's results)"
    )


def test_client_eof_between_messages() -> None:
    c = _client()
    c.feed(b"\t")
    with pytest.raises(
        Iperf3ProtocolError, match=r"closed the control connection \(waiting for CREATE_STREAMS\)"
    ):
        c.feed_eof()


def test_client_rejects_bad_cookie_and_misuse() -> None:
    with pytest.raises(ValueError, match="cookie"):
        ClientProtocol(REVERSE_P2, b"x" * 37)
    c = _client()
    with pytest.raises(RuntimeError, match="end_test while waiting for PARAM_EXCHANGE"):
        c.end_test()
    with pytest.raises(RuntimeError, match="send_results"):
        c.send_results(OWN)


def test_client_terminate() -> None:
    c = _running_client()
    c.terminate()
    assert c.data_to_send() == b"\x0c"


# --- server -----------------------------------------------------------------


def _server_after_params(params: bytes = CAPTURED_PARAMS) -> ServerProtocol:
    s = ServerProtocol()
    s.feed(COOKIE)
    s.accept()
    s.feed(params)
    s.data_to_send()
    return s


def test_server_full_exchange_exact_bytes() -> None:
    s = ServerProtocol()
    assert s.feed(COOKIE[:10]) == []
    assert s.feed(COOKIE[10:]) == [CookieReceived(COOKIE)]
    s.accept()
    assert s.data_to_send() == b"\t"
    events = s.feed(CAPTURED_PARAMS)
    assert len(events) == 1 and isinstance(events[0], ParamsReceived)
    p = events[0].params
    assert (p.protocol, p.duration, p.parallel, p.blksize, p.reverse) == ("tcp", 1, 2, 131072, True)
    assert s.expected_streams == 2
    s.create_streams()
    assert s.data_to_send() == b"\n"
    s.start_test()
    assert s.data_to_send() == b"\x01\x02"
    assert s.feed(b"\x04") == [Ended()]
    s.request_results()
    assert s.data_to_send() == b"\r"
    own = encode_json(OWN.to_json())
    events = s.feed(own)
    assert isinstance(events[0], PeerResults) and events[0].results == OWN
    s.send_results(OWN)
    assert s.data_to_send() == own + b"\x0e"
    assert s.feed(b"\x10") == [Finished()]
    s.feed_eof()


def test_server_deny() -> None:
    s = ServerProtocol()
    s.feed(COOKIE)
    s.deny()
    assert s.data_to_send() == b"\xff"


@pytest.mark.parametrize(
    "cookie",
    [
        b"A" * 36 + b"\0",
        b"a" * 37,
        b"a" * 35 + b"1\0",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n12345678901",
    ],
)
def test_server_malformed_cookie(cookie: bytes) -> None:
    s = ServerProtocol()
    with pytest.raises(Iperf3ProtocolError, match="malformed cookie"):
        s.feed(cookie)


@pytest.mark.parametrize(
    ("params", "i_errno", "message"),
    [
        ({"tcp": True, "time": 0}, 5, "'time' = 0 out of range"),
        ({"tcp": True, "time": 10**9}, 5, "'time' = 1000000000 out of range"),
        ({"tcp": True, "time": "10"}, 5, "'time' is not an integer"),
        ({"tcp": True, "parallel": -1}, 6, "'parallel' = -1 out of range"),
        ({"tcp": True, "parallel": 100000000}, 6, "'parallel' = 100000000 out of range"),
        ({"udp": True, "len": 70000}, 7, "'len' = 70000 out of range"),
        ({"udp": True, "len": 4}, 7, "'len' = 4 out of range"),
        ({"tcp": True, "udp": True}, 13, "no single protocol"),
        ({"time": 3}, 13, "no single protocol"),
        ({"sctp": True}, 13, "SCTP"),
        ({"tcp": True, "num": 1000}, 13, "byte/block-count"),
        ({"tcp": True, "reverse": 1}, 13, "'reverse' is not a boolean"),
        ({"tcp": True, "bandwidth": -1}, 13, "'bandwidth' = -1 out of range"),
        ({"tcp": True, "parallel": True}, 6, "'parallel' is not an integer"),
    ],
)
def test_server_rejects_params(params: dict[str, object], i_errno: int, message: str) -> None:
    s = ServerProtocol()
    s.feed(COOKIE)
    s.accept()
    s.data_to_send()
    with pytest.raises(Iperf3ProtocolError) as exc:
        s.feed(encode_json(params))
    assert message in str(exc.value)
    assert s.data_to_send() == b"\xfe" + struct.pack("!ii", i_errno, 0)
    assert s.phase is Phase.CLOSED


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00\x00\x05[1,2]", "parameters message is not a JSON object"),
        (b"\x00\x00\x00\x01{", "parameters message is not JSON"),
        (b"\x00\x20\x00\x00", "parameters message of 2097152 bytes"),
    ],
)
def test_server_malformed_params(data: bytes, message: str) -> None:
    s = ServerProtocol()
    s.feed(COOKIE)
    s.accept()
    with pytest.raises(Iperf3ProtocolError, match=message):
        s.feed(data)


def test_server_truncated_params_then_eof() -> None:
    s = ServerProtocol()
    s.feed(COOKIE)
    s.accept()
    s.feed(CAPTURED_PARAMS[:50])
    with pytest.raises(Iperf3ProtocolError, match="middle of a message"):
        s.feed_eof()
    s = ServerProtocol()
    s.feed(COOKIE[:20])
    with pytest.raises(Iperf3ProtocolError, match=r"middle of a message \(cookie\)"):
        s.feed_eof()


def test_server_unexpected_states() -> None:
    s = _server_after_params()
    s.create_streams()
    with pytest.raises(Iperf3ProtocolError, match="sent TEST_END while creating streams"):
        s.feed(b"\x04")
    s = _server_after_params()
    s.create_streams()
    s.start_test()
    with pytest.raises(Iperf3ProtocolError, match="sent IPERF_DONE while running"):
        s.feed(b"\x10")
    s = _server_after_params()
    s.create_streams()
    s.start_test()
    s.feed(b"\x04")
    s.request_results()
    with pytest.raises(Iperf3ProtocolError, match="client's results without a streams list"):
        s.feed(encode_json({"cpu_util_total": 1}))


def test_server_client_terminate_while_running() -> None:
    s = _server_after_params()
    s.create_streams()
    s.start_test()
    with pytest.raises(Iperf3ProtocolError, match="client terminated the test"):
        s.feed(b"\x0c")


def test_bidir_expects_twice_the_streams() -> None:
    s = _server_after_params(encode_json({"tcp": True, "parallel": 4, "bidirectional": True}))
    assert s.expected_streams == 8


# --- messages -----------------------------------------------------------------


def test_parse_params_defaults_and_extra() -> None:
    p = parse_params({"udp": True, "pacing_timer": 1000, "client_version": "3.12"})
    assert (p.duration, p.parallel, p.blksize, p.bandwidth) == (10, 1, 1460, 0)
    assert p.extra == {"pacing_timer": 1000}


def test_parse_results_minus_one_is_u64_max() -> None:
    r = parse_results(json.loads(CAPTURED_SERVER_RESULTS[4:-1]))
    assert r.sender_has_retransmits == 1
    r2 = parse_results(
        {
            "sender_has_retransmits": 18446744073709551615,
            "streams": [{"id": 1, "bytes": 3, "retransmits": 18446744073709551615}],
        }
    )
    assert r2.sender_has_retransmits == -1 and r2.streams[0].retransmits == -1


def test_stream_ids() -> None:
    assert stream_ids(1) == [1]
    assert stream_ids(4) == [1, 3, 4, 5]
