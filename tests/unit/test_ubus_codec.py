"""The ubus codec without sockets: request bytes, reply mapping, batches."""

from __future__ import annotations

import json

import pytest

from eventops.adapters import ubus
from eventops.errors import DeviceTimeout, PermissionDenied, ProtocolError, Unsupported


def test_call_request_and_encode() -> None:
    c = ubus.login_call("root", "pw", 300)
    req = ubus.call_request(7, ubus.ANON_SID, c)
    assert json.loads(ubus.encode(req)) == {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "call",
        "params": [
            "0" * 32,
            "session",
            "login",
            {"username": "root", "password": "pw", "timeout": 300},
        ],
    }
    assert ubus.list_request(1) == {"jsonrpc": "2.0", "id": 1, "method": "list"}
    assert ubus.list_request(2, ["iwinfo"])["params"] == ["iwinfo"]
    with pytest.raises(ValueError, match="64 KiB"):
        ubus.encode({"x": "a" * 70_000})


def test_results() -> None:
    assert ubus.parse_reply("m", {"jsonrpc": "2.0", "id": 1, "result": [0]}) == {}
    assert ubus.parse_reply("m", {"result": [0, {"a": 1}]}) == {"a": 1}


@pytest.mark.parametrize(
    ("status", "cls", "text"),
    [
        (1, ProtocolError, "invalid command"),
        (2, ProtocolError, "invalid argument"),
        (3, Unsupported, "method not found"),
        (4, ProtocolError, "not found"),
        (5, ProtocolError, "no data"),
        (6, PermissionDenied, "permission denied"),
        (7, DeviceTimeout, "timeout"),
        (8, Unsupported, "not supported"),
        (9, ProtocolError, "unknown error"),
        (10, ProtocolError, "connection failed"),
        (11, ProtocolError, "out of memory"),
        (12, ProtocolError, "parse error"),
        (13, ProtocolError, "system error"),
    ],
)
def test_status_codes(status: int, cls: type[Exception], text: str) -> None:
    with pytest.raises(cls, match=rf"m: uci get: ubus status {status} \({text}\)") as info:
        ubus.parse_reply("m", {"result": [status]}, "uci get")
    if isinstance(info.value, ProtocolError):
        assert info.value.code == status


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (-32002, ubus.AccessDenied),
        (-32000, Unsupported),
        (-32601, Unsupported),
        (-32003, DeviceTimeout),
        (-32700, ProtocolError),
        (-32600, ProtocolError),
        (-32602, ProtocolError),
        (-32603, ProtocolError),
    ],
)
def test_jsonrpc_errors(code: int, cls: type[Exception]) -> None:
    with pytest.raises(cls) as info:
        ubus.parse_reply("m", {"id": 1, "error": {"code": code, "message": "x"}}, "system board")
    assert str(code) in str(info.value) and str(info.value).startswith("m: system board: ")
    assert isinstance(ubus.jsonrpc_error("m", -32002, "Access denied", ""), PermissionDenied)


@pytest.mark.parametrize(
    "reply",
    [[], {"result": "x"}, {"result": []}, {"result": [True]}, {"result": [0, [1]]}, {"error": 3}],
)
def test_garbage_replies(reply: object) -> None:
    with pytest.raises(ProtocolError):
        ubus.parse_reply("m", reply, "x")


def test_decode_malformed() -> None:
    with pytest.raises(ProtocolError, match="malformed JSON from ubus"):
        ubus.decode("m", b'{"jsonrpc":"2.0","res')
    with pytest.raises(ProtocolError):
        ubus.decode("m", b"\xff\xfe")


def test_split_batch_by_id_out_of_order() -> None:
    calls = [
        ubus.UbusCall("system", "board"),
        ubus.UbusCall("iwinfo", "devices"),
        ubus.UbusCall("uci", "get"),
    ]
    replies = [
        {"id": 12, "result": [4]},
        {"id": 10, "result": [0, {"model": "x"}]},
        {"id": 11, "error": {"code": -32000, "message": "Object not found"}},
    ]
    out = ubus.split_batch("m", replies, [10, 11, 12], calls)
    assert out[0] == {"model": "x"}
    assert isinstance(out[1], Unsupported) and "iwinfo devices" in str(out[1])
    assert isinstance(out[2], ProtocolError) and out[2].code == 4
    missing = ubus.split_batch("m", [], [1], calls[:1])
    assert isinstance(missing[0], ProtocolError) and "no answer in ubus batch" in str(missing[0])
    whole = ubus.split_batch(
        "m", {"id": None, "error": {"code": -32700, "message": "Parse error"}}, [1, 2], calls[:2]
    )
    assert all(isinstance(x, ProtocolError) for x in whole)


def test_login_result() -> None:
    assert ubus.login_result("m", {"ubus_rpc_session": "a" * 32, "timeout": 300}) == (
        "a" * 32,
        300.0,
    )
    with pytest.raises(ProtocolError, match="no ubus_rpc_session"):
        ubus.login_result("m", {"ubus_rpc_session": "short"})


@pytest.mark.parametrize(
    ("call", "status", "cls", "meaning"),
    [
        ("uci apply", 5, ubus.NothingStaged, "nothing staged to apply"),
        ("uci apply", 6, ubus.ApplyPending, "another apply is still waiting for its confirm"),
        ("uci commit", 6, ubus.ApplyPending, "an apply is waiting for its confirm"),
        ("uci revert", 6, ubus.ApplyPending, "an apply is waiting for its confirm"),
        ("uci confirm", 5, ubus.NothingPending, "no pending apply to confirm"),
        ("uci confirm", 6, ubus.OtherSessionsApply, "the pending apply belongs to another session"),
        ("uci rollback", 5, ubus.NothingPending, "no pending apply to roll back"),
        ("uci rollback", 6, ubus.OtherSessionsApply, "belongs to another session"),
    ],
)
def test_uci_call_status_meanings(
    call: str, status: int, cls: type[Exception], meaning: str
) -> None:
    with pytest.raises(cls, match=rf"m: {call}: .*{meaning}.* \(ubus status {status}\)") as info:
        ubus.parse_reply("m", {"result": [status]}, call)
    assert isinstance(info.value, ubus.UciStateError) and info.value.code == status


def test_uci_statuses_without_a_special_meaning_keep_the_generic_mapping() -> None:
    # status 6 on uci set is the uci scope ACL, not a pending apply
    with pytest.raises(PermissionDenied) as info:
        ubus.parse_reply("m", {"result": [6]}, "uci set")
    assert not isinstance(info.value, ubus.UciStateError)
    with pytest.raises(ProtocolError) as info2:
        ubus.parse_reply("m", {"result": [5]}, "uci commit")
    assert not isinstance(info2.value, ubus.UciStateError) and info2.value.code == 5


def test_object_not_found_names_its_object() -> None:
    err = ubus.jsonrpc_error("m", -32000, "Object not found", "iwinfo devices")
    assert isinstance(err, ubus.ObjectNotFound) and isinstance(err, Unsupported)
    assert err.object == "iwinfo" and "iwinfo" in ubus.RPCD_OBJECTS
    assert ubus.RPCD_MODULES["iwinfo"] == "rpcd-mod-iwinfo"
