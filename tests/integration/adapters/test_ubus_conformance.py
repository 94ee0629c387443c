"""Conformance table: the mast simulator answers as real ubusd + rpcd + uhttpd do.

Each row is one observed fact from ``PROTOCOLS.md`` (OpenWrt section): the
requests sent over HTTP to ``POST /ubus`` and what the last answer must be.
``$root``, ``$monitor`` (read-only with iwinfo), ``$nowifi`` (read-only
without iwinfo) and ``$bogus`` stand for session ids made fresh per row.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from eventops_hardware.openwrt_mast import OpenWrtMast, restricted_acl

from eventops.clock import FakeClock
from tests.integration.adapters.conftest import PASSWORD

ANON = "0" * 32


def c(sid: str, obj: str, method: str, args: Any = None, req_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": req_id,
        "method": "call",
        "params": [sid, obj, method, {} if args is None else args],
    }


def lst(*objs: str) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": "list"}
    if objs:
        body["params"] = list(objs)
    return body


def err(code: int, req_id: Any = 1) -> Callable[[Any, OpenWrtMast], bool]:
    return lambda r, _m: r.get("id") == req_id and r.get("error", {}).get("code") == code


def res(*result: Any) -> Callable[[Any, OpenWrtMast], bool]:
    return lambda r, _m: r.get("result") == list(result)


def data(pred: Callable[[Any], bool]) -> Callable[[Any, OpenWrtMast], bool]:
    return lambda r, _m: r.get("result", [None])[0] == 0 and pred(r["result"][1])


def _fake(m: OpenWrtMast) -> FakeClock:
    assert isinstance(m.clock, FakeClock), "the conformance rows run on the fake clock"
    return m.clock


async def restart_rpcd(m: OpenWrtMast, _sids: dict[str, str]) -> None:
    m.restart_rpcd(down_s=5)


async def after_restart(m: OpenWrtMast, _sids: dict[str, str]) -> None:
    await _fake(m).advance(6)


async def past_timeout(m: OpenWrtMast, _sids: dict[str, str]) -> None:
    await _fake(m).advance(61)


async def relogin_root(m: OpenWrtMast, sids: dict[str, str]) -> None:
    async with aiohttp.ClientSession() as s:
        login = c(ANON, "session", "login", {"username": "root", "password": PASSWORD})
        r = await _post(s, m.url, json.dumps(login).encode())
        sids["$fresh"] = r["result"][1]["ubus_rpc_session"]


@dataclass(frozen=True)
class Row:
    fact: str
    """The observed fact, as PROTOCOLS.md words it."""
    steps: list[Any]
    expect: Callable[[Any, OpenWrtMast], bool]
    raw: bytes | None = None
    """Send these bytes as the last request instead of ``steps[-1]``."""
    tags: tuple[str, ...] = field(default=())


SSID = {"config": "wireless", "section": "default_radio0"}
WL_SET = c("$root", "uci", "set", {**SSID, "values": {"ssid": "X"}})

ROWS: list[Row] = [
    Row(
        "login answers ubus_rpc_session (32 hex), timeout 300, acls and data.username",
        [c(ANON, "session", "login", {"username": "root", "password": PASSWORD})],
        data(
            lambda d: (
                len(d["ubus_rpc_session"]) == 32
                and d["timeout"] == 300
                and "ubus" in d["acls"]
                and d["data"] == {"username": "root"}
            )
        ),
    ),
    Row(
        "wrong credentials -> [6]",
        [c(ANON, "session", "login", {"username": "root", "password": "nope"})],
        res(6),
    ),
    Row(
        "login with missing fields -> [2]",
        [c(ANON, "session", "login", {"username": "root"})],
        res(2),
    ),
    Row(
        "unknown or expired sid -> -32002 Access denied (never -32001)",
        [c("$bogus", "system", "board")],
        lambda r, _m: r["error"] == {"code": -32002, "message": "Access denied"},
    ),
    Row(
        "object lookup before the ACL: an unknown object is -32000 even for the anonymous sid",
        [c(ANON, "nosuch", "x")],
        err(-32000),
    ),
    Row(
        "an unknown method -> [3] when the ACL grants the object ('*')",
        [c("$root", "system", "nosuchmethod")],
        res(3),
    ),
    Row(
        "an unknown method -> -32002 when the ACL does not grant it",
        [c("$monitor", "system", "nosuchmethod")],
        err(-32002),
    ),
    Row(
        "session access with an unknown sid -> -32002, not [0,{access:false}]",
        [c("$bogus", "session", "access", {"scope": "ubus", "object": "uci", "function": "get"})],
        err(-32002),
    ),
    Row(
        "session access with a live sid -> [0, {access: bool}] from the ACL",
        [c("$monitor", "session", "access", {"scope": "ubus", "object": "uci", "function": "set"})],
        res(0, {"access": False}),
    ),
    Row(
        "a user whose ACL lacks an existing object gets -32002 right after a fresh login",
        [c("$nowifi", "iwinfo", "devices")],
        err(-32002),
    ),
    Row(
        "sessions live until session destroy; then the sid is unknown (-32002)",
        [c("$root", "session", "destroy"), c("$root", "system", "board")],
        err(-32002),
    ),
    Row(
        "uci get of a missing config -> [4]", [c("$root", "uci", "get", {"config": "nope"})], res(4)
    ),
    Row("uci get without arguments -> [2]", [c("$root", "uci", "get")], res(2)),
    Row(
        "uci get of a missing section -> [0] with no data",
        [c("$root", "uci", "get", {"config": "wireless", "section": "nosuch"})],
        res(0),
    ),
    Row(
        "uci get of a missing option -> [0] with no data",
        [c("$root", "uci", "get", {**SSID, "option": "nosuch"})],
        res(0),
    ),
    Row(
        "extended names (@wifi-iface[0]) work in get",
        [c("$root", "uci", "get", {"config": "wireless", "section": "@wifi-iface[0]"})],
        data(lambda d: d["values"][".name"] == "default_radio0"),
    ),
    Row(
        "extended names (@wifi-iface[-1]) work in set",
        [
            c(
                "$root",
                "uci",
                "set",
                {"config": "wireless", "section": "@wifi-iface[-1]", "values": {"ssid": "Y"}},
            ),
            c("$root", "uci", "changes", {"config": "wireless"}),
        ],
        res(0, {"changes": [["set", "default_radio1", "ssid", "Y"]]}),
    ),
    Row(
        "section-level get has no .index",
        [c("$root", "uci", "get", SSID)],
        data(lambda d: ".index" not in d["values"] and d["values"][".type"] == "wifi-iface"),
    ),
    Row(
        "config-level get: sections carry .type, .name, .anonymous, .index",
        [c("$root", "uci", "get", {"config": "wireless"})],
        data(
            lambda d: (
                {".type", ".name", ".anonymous", ".index"} <= set(d["values"]["default_radio0"])
            )
        ),
    ),
    Row(
        "list needs no sid and answers every object name",
        [lst()],
        lambda r, _m: (
            {"session", "uci", "iwinfo", "network.wireless", "file", "hostapd.phy0-ap0"}
            <= set(r["result"])
        ),
    ),
    Row(
        "list answers typed signatures (blobmsg type numbers), not {}",
        [lst("uci")],
        lambda r, _m: (
            r["result"]["uci"]["get"]["config"] == 3
            and r["result"]["uci"]["apply"]["rollback"] == 7
            and r["result"]["uci"]["apply"]["timeout"] == 5
        ),
    ),
    Row(
        "list of * enumerates every object with its signatures",
        [lst("*")],
        lambda r, _m: (
            {"system", "uci", "network.wireless", "file"} <= set(r["result"])
            and "board" in r["result"]["system"]
        ),
    ),
    Row(
        "args that contain ubus_rpc_session -> -32602",
        [c("$root", "system", "board", {"ubus_rpc_session": ANON})],
        err(-32602),
    ),
    Row("an empty batch [] -> []", [[]], lambda r, _m: r == []),
    Row(
        "a batch element that is not an object -> -32700",
        [[5, c("$root", "system", "board", req_id=2)]],
        lambda r, _m: r[0]["error"]["code"] == -32700 and r[1]["result"][0] == 0,
    ),
    Row(
        "a request without jsonrpc -> -32700",
        [{"id": 1, "method": "call", "params": [ANON, "session", "login", {}]}],
        err(-32700),
    ),
    Row(
        "call args given as a list -> -32700",
        [{"jsonrpc": "2.0", "id": 1, "method": "call", "params": ["$root", "system", "board", []]}],
        err(-32700),
    ),
    Row(
        "a call without sid/object/method/args -> -32700",
        [{"jsonrpc": "2.0", "id": 1, "method": "call", "params": ["$root", "system"]}],
        err(-32700),
    ),
    Row(
        "malformed JSON -> {id: null, error -32700}",
        [None],
        err(-32700, req_id=None),
        raw=b'{"jsonrpc":"2.0","id":1,"method":',
    ),
    Row(
        "a JSON-RPC method other than call/list -> -32601",
        [{"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": []}],
        err(-32601),
    ),
    Row(
        "changes: a named add is recorded as ['set', sec, type] (three elements)",
        [
            c("$root", "uci", "add", {"config": "network", "type": "bridge-vlan", "name": "v10"}),
            c("$root", "uci", "changes", {"config": "network"}),
        ],
        res(0, {"changes": [["set", "v10", "bridge-vlan"]]}),
    ),
    Row(
        "changes: a list option is ['remove', sec, opt] then one list-add per element",
        [
            c(
                "$root",
                "uci",
                "set",
                {"config": "network", "section": "lan", "values": {"dns": ["1.1.1.1", "9.9.9.9"]}},
            ),
            c("$root", "uci", "changes", {"config": "network"}),
        ],
        res(
            0,
            {
                "changes": [
                    ["remove", "lan", "dns"],
                    ["list-add", "lan", "dns", "1.1.1.1"],
                    ["list-add", "lan", "dns", "9.9.9.9"],
                ]
            },
        ),
    ),
    Row(
        "setting an option to its current value stages nothing",
        [
            c("$root", "uci", "set", {**SSID, "values": {"ssid": "OpenWrt"}}),
            c("$root", "uci", "changes", {"config": "wireless"}),
        ],
        res(0, {"changes": []}),
    ),
    Row(
        "changes are staged per session, invisible to others",
        [WL_SET, c("$monitor", "uci", "get", {**SSID, "option": "ssid"})],
        res(0, {"value": "OpenWrt"}),
    ),
    Row(
        "apply with nothing staged -> [5]",
        [c("$root", "uci", "apply", {"rollback": True, "timeout": 30})],
        res(5),
    ),
    Row("confirm with nothing pending -> [5]", [c("$root", "uci", "confirm")], res(5)),
    Row(
        "apply writes the config at once and the session's changes becomes empty",
        [
            WL_SET,
            c("$root", "uci", "apply", {"rollback": True, "timeout": 30}),
            c("$root", "uci", "changes", {"config": "wireless"}),
        ],
        lambda r, m: (
            r["result"] == [0, {"changes": []}]
            and m.committed("wireless")["default_radio0"]["ssid"] == "X"
        ),
    ),
    Row(
        "a non-integer timeout is ignored (60 s default)",
        [WL_SET, c("$root", "uci", "apply", {"rollback": True, "timeout": "soon"})],
        lambda r, m: (
            r["result"] == [0]
            and m.pending is not None
            and m.pending.deadline - m.clock.monotonic() == 60
        ),
    ),
    Row(
        "apply with rollback while another rollback is pending -> [6]",
        [
            WL_SET,
            c("$root", "uci", "apply", {"rollback": True}),
            c("$root", "uci", "set", {**SSID, "values": {"ssid": "Z"}}),
            c("$root", "uci", "apply", {"rollback": True}),
        ],
        res(6),
    ),
    Row(
        "apply without rollback while another apply is pending -> [0], nothing applied",
        [
            WL_SET,
            c("$root", "uci", "apply", {"rollback": True}),
            c("$root", "uci", "set", {**SSID, "values": {"ssid": "Z"}}),
            c("$root", "uci", "apply", {}),
            c("$root", "uci", "changes", {"config": "wireless"}),
        ],
        lambda r, m: (
            r["result"] == [0, {"changes": [["set", "default_radio0", "ssid", "Z"]]}]
            and m.committed("wireless")["default_radio0"]["ssid"] == "X"
        ),
    ),
    Row(
        "commit during a pending rollback -> [6]",
        [
            WL_SET,
            c("$root", "uci", "apply", {"rollback": True}),
            c("$root", "uci", "commit", {"config": "wireless"}),
        ],
        res(6),
    ),
    Row(
        "confirm from another session -> [6]",
        [
            WL_SET,
            c("$root", "uci", "apply", {"rollback": True}),
            c("$other", "uci", "confirm"),
        ],
        res(6),
    ),
    Row(
        "uci rollback by the owner reverts at once and stages the change again",
        [
            WL_SET,
            c("$root", "uci", "apply", {"rollback": True}),
            c("$root", "uci", "rollback"),
            c("$root", "uci", "changes", {"config": "wireless"}),
        ],
        lambda r, m: (
            r["result"] == [0, {"changes": [["set", "default_radio0", "ssid", "X"]]}]
            and m.committed("wireless")["default_radio0"]["ssid"] == "OpenWrt"
        ),
    ),
    Row(
        "network.wireless status: radios with their interfaces and config",
        [c("$root", "network.wireless", "status")],
        data(
            lambda d: (
                d["radio1"]["up"] is True
                and d["radio1"]["interfaces"][0]["ifname"] == "phy1-ap0"
                and d["radio1"]["interfaces"][0]["config"]["ssid"] == "OpenWrt"
                and d["radio1"]["config"]["band"] == "5g"
            )
        ),
    ),
    Row(
        "file read per ACL (rpcd-mod-file)",
        [c("$root", "file", "read", {"path": "/etc/config/wireless"})],
        data(lambda d: "config wifi-iface 'default_radio0'" in d["data"]),
    ),
    Row(
        "file read outside the user's file ACL -> [6]",
        [c("$monitor", "file", "read", {"path": "/etc/shadow"})],
        res(6),
    ),
    Row(
        "file stat / list",
        [c("$root", "file", "list", {"path": "/etc/config"})],
        data(lambda d: {"network", "wireless", "system"} <= {e["name"] for e in d["entries"]}),
    ),
    Row(
        "hostapd.<ifname> get_clients",
        [c("$root", "hostapd.phy1-ap0", "get_clients")],
        data(lambda d: isinstance(d["clients"], dict) and d["freq"] == 5180),
    ),
    Row(
        "hostapd.<ifname> get_status",
        [c("$monitor", "hostapd.phy0-ap0", "get_status")],
        data(lambda d: d["ssid"] == "OpenWrt" and d["status"] == "ENABLED"),
    ),
    Row(
        "while rpcd restarts its objects are briefly absent (-32000), e.g. uci",
        [restart_rpcd, c("$root", "uci", "get", {"config": "wireless"})],
        err(-32000),
    ),
    Row(
        "while rpcd restarts, objects of other daemons answer -32002 (no session object)",
        [restart_rpcd, c("$root", "system", "board")],
        err(-32002),
    ),
    Row(
        "rpcd restart between apply and confirm: confirm is [5] and the NEW config stays",
        [
            WL_SET,
            c("$root", "uci", "apply", {"rollback": True, "timeout": 30}),
            restart_rpcd,
            after_restart,
            relogin_root,
            past_timeout,
            c("$fresh", "uci", "confirm"),
        ],
        lambda r, m: (
            r["result"] == [5]
            and m.committed("wireless")["default_radio0"]["ssid"] == "X"
            and m.rollbacks == 0
        ),
    ),
    Row(
        "destroying the apply's session instead: rpcd rolls back when the timer fires",
        [
            WL_SET,
            c("$root", "uci", "apply", {"rollback": True, "timeout": 30}),
            c("$root", "session", "destroy"),
            past_timeout,
            c("$other", "uci", "confirm"),
        ],
        lambda r, m: (
            r["result"] == [5] and m.committed("wireless")["default_radio0"]["ssid"] == "OpenWrt"
        ),
    ),
    Row(
        "a login of the same user during a pending apply gets the apply owner's sid",
        [
            WL_SET,
            c("$root", "uci", "apply", {"rollback": True}),
            relogin_root,
            c("$fresh", "uci", "confirm"),  # only the owner's sid may confirm
        ],
        lambda r, m: r["result"] == [0] and m.pending is None,
    ),
    Row(
        "the reclaim works only while the apply's session exists",
        [
            WL_SET,
            c("$root", "uci", "apply", {"rollback": True}),
            c("$root", "session", "destroy"),
            relogin_root,
            c("$fresh", "uci", "confirm"),
        ],
        res(6),
    ),
]


async def _post(s: aiohttp.ClientSession, url: str, body: bytes) -> Any:
    async with s.post(url + "/ubus", data=body) as r:
        assert r.status == 200 and r.content_type == "application/json"
        return await r.json()


def _subst(x: Any, sids: dict[str, str]) -> Any:
    if isinstance(x, str) and x.startswith("$"):
        return sids[x]
    if isinstance(x, list):
        return [_subst(v, sids) for v in x]
    if isinstance(x, dict):
        return {k: _subst(v, sids) for k, v in x.items()}
    return x


@pytest.mark.parametrize("row", ROWS, ids=[r.fact for r in ROWS])
async def test_conformance(row: Row, mast: OpenWrtMast) -> None:
    mast.add_user("nowifi", PASSWORD, acl=restricted_acl(without=("iwinfo",)))
    mast.add_user("other", PASSWORD)
    async with aiohttp.ClientSession() as s:
        sids = {"$bogus": "f" * 32}
        for name in ("root", "monitor", "nowifi", "other"):
            login = c(ANON, "session", "login", {"username": name, "password": PASSWORD})
            r = await _post(s, mast.url, json.dumps(login).encode())
            sids[f"${name}"] = r["result"][1]["ubus_rpc_session"]
        reply: Any = None
        for n, step in enumerate(row.steps):
            if callable(step):  # a fault or the passing of time on the mast
                await step(mast, sids)
                continue
            last = n == len(row.steps) - 1
            body = row.raw if last and row.raw is not None else json.dumps(_subst(step, sids))
            reply = await _post(s, mast.url, body if isinstance(body, bytes) else body.encode())
        assert row.expect(reply, mast), reply


async def test_http_facts(mast: OpenWrtMast) -> None:
    """GET /ubus -> 404; a body over 64 KiB -> HTTP 200, -32700, connection closed."""
    async with aiohttp.ClientSession() as s:
        async with s.get(mast.url + "/ubus") as r:
            assert r.status == 404
        async with s.post(mast.url + "/ubus", data=b" " * (64 * 1024 + 1)) as r:
            assert r.status == 200 and r.headers.get("Connection", "").lower() == "close"
            assert (await r.json())["error"]["code"] == -32700


async def test_newer_api_facts(mast: OpenWrtMast) -> None:
    """GET /ubus/list[/obj] and POST /ubus/call/obj with Authorization: Bearer <sid>."""
    async with aiohttp.ClientSession() as s:
        async with s.get(mast.url + "/ubus/list") as r:
            everything = await r.json()
            assert r.status == 200 and everything["uci"]["get"]["config"] == 3
        async with s.get(mast.url + "/ubus/list/iwinfo") as r:
            assert r.status == 200 and (await r.json())["info"] == {"device": 3}
        async with s.get(mast.url + "/ubus/list/nosuch") as r:
            assert r.status == 500 and (await r.json())["code"] == 4
        login = c(ANON, "session", "login", {"username": "root", "password": PASSWORD})
        sid = (await _post(s, mast.url, json.dumps(login).encode()))["result"][1][
            "ubus_rpc_session"
        ]

        async def call(obj: str, method: str, params: Any, bearer: str | None) -> Any:
            headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
            body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": params}
            async with s.post(f"{mast.url}/ubus/call/{obj}", json=body, headers=headers) as r:
                assert r.status == 200
                return await r.json()

        board = await call("system", "board", {}, sid)
        assert board["id"] == 7 and board["result"]["hostname"] == "mast-t"
        assert (await call("system", "board", {}, None))["error"]["code"] == -32002
        assert (await call("nosuch", "x", {}, sid))["error"]["code"] == -32000
        # a non-zero ubus status is an error with that code and libubus's text
        missing = await call("uci", "get", {"config": "nope"}, sid)
        assert missing["error"] == {"code": 4, "message": "Not found"}
        assert (await call("uci", "get", {"ubus_rpc_session": sid}, sid))["error"]["code"] == -32602
        empty = await call("uci", "set", {**SSID, "values": {"ssid": "OpenWrt"}}, sid)
        assert "result" in empty and empty["result"] is None
