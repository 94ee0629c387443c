"""A simulated OpenWrt WLAN mast: ubus JSON-RPC over HTTP(S) as uhttpd-mod-ubus and rpcd serve it.

Device-facing: ``POST /ubus`` (legacy JSON-RPC 2.0, single requests and
batches) and the newer ``GET /ubus/list[/obj]`` and ``POST /ubus/call/obj``
(session as ``Authorization: Bearer``; no ``/ubus/subscribe`` events). Behind
them rpcd as it is: sessions (all-zero sid for ``session login``; 32-hex
sids; sliding expiry; ``session destroy``), ACLs per user (fnmatch patterns,
``-32002`` for what they lack), per-session UCI staging with rpcd's change
records, ``uci apply``/``confirm``/``rollback`` with the rollback timer, the
status codes and observed facts of PROTOCOLS.md, ``network.wireless``,
``file``, ``hostapd.<ifname>`` and ``network.interface.<name>`` objects, and
two restart faults: session expiry (the rollback fires) and an rpcd restart
(the pending apply is lost, the new config stays, rpcd's objects vanish briefly).

One state model per device answers everything: the committed UCI config is
the device's configuration, so an applied SSID change shows in ``iwinfo
info``; clients join and leave, signal and channel utilisation drift,
counters grow and uptime advances, all on the injected clock. The model
advances lazily when the device is asked (no task per device), so hundreds
of masts cost little.
"""

from __future__ import annotations

import asyncio
import copy
import fnmatch
import json
import random
import re
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from aiohttp.web_request import BaseRequest

from eventops.clock import Clock

from .simbase import SimDevice
from .tls import SimIdentity

ANON = "0" * 32
BODY_LIMIT = 64 * 1024
STEP_S = 10.0
"""Random walks (clients, signal, utilisation) move once per simulated step."""
NOISE_BAND = (-100.0, -88.0)
"""Noise floor (dBm) walks inside this band: the monitor warns from -85."""
UTIL_BAND = (0.02, 0.6)
"""Channel busy share walks inside this band: the monitor warns from 70 %."""
LOAD_BAND = (0.01, 1.5)
MEM_FREE_BAND = (250_000_000, 400_000_000)

Status = tuple[int, dict[str, Any] | None]
Handler = Callable[["Session | None", dict[str, Any]], Status]
Method = tuple[Handler, dict[str, int]]
UciConfig = dict[str, dict[str, Any]]
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_TYPE = re.compile(r"^[A-Za-z0-9_-]+$")

# blobmsg type numbers, as ``list`` reports a method's argument types.
ARRAY, TABLE, STRING, INT64, INT32, INT16, BOOL, DOUBLE = 1, 2, 3, 4, 5, 6, 7, 8

UBUS_STRERROR = {
    1: "Invalid command",
    2: "Invalid argument",
    3: "Method not found",
    4: "Not found",
    5: "No response",
    6: "Permission denied",
    7: "Request timed out",
    8: "Operation not supported",
    9: "Unknown error",
    10: "Connection failed",
    11: "Out of memory",
    12: "Parsing message data failed",
    13: "System error",
}
"""libubus's ubus_strerror(), as the newer API puts it in ``error.message``."""

RPCD_OBJECTS = frozenset({"session", "uci", "iwinfo", "file"})
"""Objects rpcd (and its plugins) registers: absent while rpcd restarts."""

FULL_ACL: dict[str, list[str]] = {"*": ["*"]}

READ_ONLY_ACL: dict[str, list[str]] = {
    "session": ["access", "login", "destroy"],
    "system": ["board", "info"],
    "network.interface": ["dump", "status"],
    "network.interface.*": ["status"],
    "network.device": ["status"],
    "network.wireless": ["status"],
    "iwinfo": ["devices", "info", "assoclist", "survey", "freqlist", "txpowerlist", "countrylist"],
    "uci": ["get", "changes", "configs", "state"],
    "file": ["read", "stat", "list"],
    "hostapd.*": ["get_clients", "get_status"],
}


def restricted_acl(*, without: tuple[str, ...] = ("iwinfo",)) -> dict[str, list[str]]:
    """A read-only ACL lacking some objects (a ``monitor`` user as often deployed)."""
    return {k: list(v) for k, v in READ_ONLY_ACL.items() if k not in without}


@dataclass
class SimUser:
    password: str
    read_only: bool = False
    acl: dict[str, list[str]] | None = None
    """ubus ACL: object pattern -> method patterns (fnmatch, as rpcd)."""

    def ubus_acl(self) -> dict[str, list[str]]:
        if self.acl is not None:
            return self.acl
        return READ_ONLY_ACL if self.read_only else FULL_ACL


@dataclass
class Session:
    sid: str
    user: str
    timeout: float
    expires_at: float
    staging: dict[str, list[list[Any]]] = field(default_factory=dict)


@dataclass
class PendingApply:
    sid: str
    deadline: float
    snapshot: dict[str, UciConfig]
    changes: dict[str, list[list[Any]]]


@dataclass
class Client:
    mac: str
    signal: float
    connected_at: float
    rx_rate: int
    tx_rate: int
    packets: int = 0


@dataclass
class RadioState:
    noise: float
    utilisation: float
    interference_db: float = 0.0
    """Injected fault: a nearby transmitter lifts the noise floor by this much."""
    active_ms: float = 0.0
    busy_ms: float = 0.0
    clients: dict[str, list[Client]] = field(default_factory=dict)


def _freq(band: str, channel: int) -> int:
    if band == "2g":
        return 2484 if channel == 14 else 2407 + 5 * channel
    if band == "6g":
        return 5950 + 5 * channel
    return 5000 + 5 * channel


def _width(htmode: str) -> int:
    digits = "".join(c for c in htmode if c.isdigit())
    return int(digits) if digits else 20


def default_uci(
    hostname: str, rng: random.Random, *, vlan_filtering: bool = True
) -> dict[str, UciConfig]:
    """A dual-band OpenWrt 23.05 AP's relevant configs, as staged for an event.

    ``vlan_filtering`` (the default): br-lan filters VLANs, as LuCI sets it up
    when VLAN filtering is enabled: VLAN 1 untagged and primary on every
    port, the management interface on ``br-lan.1``. Without it: factory-fresh
    (``lan`` on plain ``br-lan``).
    """
    cfg = _factory_uci(hostname, rng)
    if vlan_filtering:
        net = cfg["network"]
        net["cfg050f15"] = {
            ".type": "bridge-vlan",
            ".anonymous": True,
            "device": "br-lan",
            "vlan": "1",
            "ports": ["lan1:u*", "lan2:u*"],
        }
        net["lan"]["device"] = "br-lan.1"
    return cfg


def _factory_uci(hostname: str, rng: random.Random) -> dict[str, UciConfig]:
    return {
        "system": {
            "cfg01e48a": {
                ".type": "system",
                ".anonymous": True,
                "hostname": hostname,
                "timezone": "CET-1CEST,M3.5.0,M10.5.0/3",
                "zonename": "Europe/Berlin",
                "ttylogin": "0",
                "log_size": "64",
            },
            "ntp": {
                ".type": "timeserver",
                ".anonymous": False,
                "enabled": "1",
                "server": ["0.openwrt.pool.ntp.org", "1.openwrt.pool.ntp.org"],
            },
        },
        "network": {
            "loopback": {
                ".type": "interface",
                ".anonymous": False,
                "device": "lo",
                "proto": "static",
                "ipaddr": "127.0.0.1",
                "netmask": "255.0.0.0",
            },
            "cfg030f15": {
                ".type": "device",
                ".anonymous": True,
                "name": "br-lan",
                "type": "bridge",
                "ports": ["lan1", "lan2"],
            },
            "lan": {
                ".type": "interface",
                ".anonymous": False,
                "device": "br-lan",
                "proto": "static",
                "ipaddr": f"10.20.{rng.randint(0, 255)}.{rng.randint(2, 254)}",
                "netmask": "255.255.0.0",
            },
            "wan": {".type": "interface", ".anonymous": False, "device": "wan", "proto": "dhcp"},
        },
        "wireless": {
            "radio0": {
                ".type": "wifi-device",
                ".anonymous": False,
                "type": "mac80211",
                "path": "platform/soc/18000000.wifi",
                "band": "2g",
                "channel": "1",
                "htmode": "HE20",
                "txpower": "17",
                "country": "DE",
                "cell_density": "0",
            },
            "radio1": {
                ".type": "wifi-device",
                ".anonymous": False,
                "type": "mac80211",
                "path": "platform/soc/18000000.wifi+1",
                "band": "5g",
                "channel": "36",
                "htmode": "HE80",
                "txpower": "20",
                "country": "DE",
                "cell_density": "0",
            },
            "default_radio0": {
                ".type": "wifi-iface",
                ".anonymous": False,
                "device": "radio0",
                "network": "lan",
                "mode": "ap",
                "ssid": "OpenWrt",
                "encryption": "none",
            },
            "default_radio1": {
                ".type": "wifi-iface",
                ".anonymous": False,
                "device": "radio1",
                "network": "lan",
                "mode": "ap",
                "ssid": "OpenWrt",
                "encryption": "none",
            },
        },
    }


def _uci_value(v: Any) -> str | list[str] | None:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int | float | str):
        return str(v)
    if isinstance(v, list) and all(isinstance(x, str | int | float | bool) for x in v):
        return [str(_uci_value(x)) for x in v]
    return None


def apply_changes(cfg: UciConfig, changes: list[list[Any]]) -> None:
    """Replay staged changes (rpcd's delta records) on a config, in place.

    ``["add", sec, type]`` an anonymous section; ``["set", sec, type]`` a
    named one; ``["set", sec, opt, val]``; ``["remove", sec[, opt]]``;
    ``["list-add", sec, opt, val]`` appends to a list option.
    """
    for ch in changes:
        op, sec = ch[0], ch[1]
        if op == "add":
            cfg[sec] = {".type": ch[2], ".anonymous": True}
        elif op == "set" and len(ch) == 3:
            if sec in cfg:
                cfg[sec][".type"] = ch[2]
            else:
                cfg[sec] = {".type": ch[2], ".anonymous": False}
        elif op == "set" and sec in cfg:
            cfg[sec][ch[2]] = ch[3]
        elif op == "list-add" and sec in cfg:
            have = cfg[sec].get(ch[2])
            if isinstance(have, list):
                have.append(ch[3])
            elif isinstance(have, str):
                cfg[sec][ch[2]] = [have, ch[3]]
            else:
                cfg[sec][ch[2]] = [ch[3]]
        elif op == "remove":
            if len(ch) == 2:
                cfg.pop(sec, None)
            elif sec in cfg:
                cfg[sec].pop(ch[2], None)


_EXT = re.compile(r"^@([A-Za-z0-9_-]+)\[(-?\d+)\]$")


def resolve_section(cfg: UciConfig, name: str) -> str | None:
    """A section name, or an extended name (``@wifi-iface[0]``, ``@system[-1]``), to its name."""
    m = _EXT.match(name)
    if m is None:
        return name if name in cfg else None
    typ, idx = m.group(1), int(m.group(2))
    of_type = [n for n, sec in cfg.items() if sec.get(".type") == typ]
    try:
        return of_type[idx]
    except IndexError:
        return None


class OpenWrtMast(SimDevice):
    kind = "mast"

    def __init__(
        self,
        device_id: str,
        *,
        clock: Clock,
        username: str = "root",
        password: str,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: SimIdentity | None = None,
        hostname: str | None = None,
        seed: int | None = None,
        model: str = "GL.iNet GL-MT6000",
        viewer: str | None = "monitor",
    ) -> None:
        """``viewer``: a read-only account (ubus read ACLs only) with the same password."""
        super().__init__(device_id, clock=clock, host=host, port=port, tls=tls)
        self.rng = random.Random(seed if seed is not None else device_id)
        self.users: dict[str, SimUser] = {username: SimUser(password)}
        if viewer is not None and viewer != username:
            self.users[viewer] = SimUser(password, read_only=True)
        self.model = model
        self.board_name = "glinet,gl-mt6000"
        self.macaddr = "94:83:c4:{:02x}:{:02x}:{:02x}".format(
            *tuple(self.rng.randrange(256) for _ in range(3))
        )
        self.uci: dict[str, UciConfig] = default_uci(hostname or device_id, self.rng)
        self.sessions: dict[str, Session] = {}
        self.pending: PendingApply | None = None
        self.missing_objects: set[str] = set()
        self.rpcd_down_until = float("-inf")
        """Device clock until which rpcd is restarting (its objects are absent)."""
        self.rpcd_restarts = 0
        self.boot_s = 0.0
        """Seconds (device clock) a reboot keeps the mast from answering."""
        self.rollbacks = 0
        self._booted_at = clock.monotonic() - self.rng.uniform(600, 7200)
        self._last = clock.monotonic()
        self._walk_t = self._last
        self._radios: dict[str, RadioState] = {}
        self._counters: dict[str, list[float]] = {}
        self._load = [0.12, 0.18, 0.2]
        self._mem_free = 300_000_000
        self.client_target = self.rng.randint(2, 12)
        start = clock.monotonic()
        for k in range(12):  # a mast in service already has clients, some for a while
            self._walk(self._ifaces(), start - (12 - k) * STEP_S)
        sid_arg = {"ubus_rpc_session": STRING}
        sec = {"config": STRING, "section": STRING}
        self._methods: dict[str, dict[str, Method]] = {
            "session": {
                "login": (self._login, {"username": STRING, "password": STRING, "timeout": INT32}),
                "access": (
                    self._access,
                    {**sid_arg, "scope": STRING, "object": STRING, "function": STRING},
                ),
                "destroy": (self._destroy, sid_arg),
            },
            "system": {
                "board": (self._board, {}),
                "info": (self._info, {}),
                "reboot": (self._reboot, {}),
            },
            "network.interface": {
                "dump": (self._if_dump, {}),
                "status": (self._if_status, {"interface": STRING}),
            },
            "network.device": {"status": (self._dev_status, {"name": STRING})},
            "network.wireless": {"status": (self._wl_status, {"device": STRING})},
            "iwinfo": {
                "devices": (self._iw_devices, {}),
                "info": (self._iw_info, {"device": STRING}),
                "assoclist": (self._iw_assoclist, {"device": STRING, "mac": STRING}),
                "survey": (self._iw_survey, {"device": STRING}),
            },
            "uci": {
                "configs": (self._uci_configs, {}),
                "get": (
                    self._uci_get,
                    {**sec, "option": STRING, "type": STRING, "match": TABLE, **sid_arg},
                ),
                "set": (
                    self._uci_set,
                    {**sec, "type": STRING, "match": TABLE, "values": TABLE, **sid_arg},
                ),
                "add": (
                    self._uci_add,
                    {
                        "config": STRING,
                        "type": STRING,
                        "name": STRING,
                        "values": TABLE,
                        **sid_arg,
                    },
                ),
                "delete": (
                    self._uci_delete,
                    {**sec, "type": STRING, "option": STRING, "options": ARRAY, **sid_arg},
                ),
                "changes": (self._uci_changes, {"config": STRING, **sid_arg}),
                "revert": (self._uci_revert, {"config": STRING, **sid_arg}),
                "commit": (self._uci_commit, {"config": STRING, **sid_arg}),
                "apply": (self._uci_apply, {"rollback": BOOL, "timeout": INT32, **sid_arg}),
                "confirm": (self._uci_confirm, sid_arg),
                "rollback": (self._uci_rollback, sid_arg),
            },
            "file": {
                "read": (self._file_read, {"path": STRING, "base64": BOOL, **sid_arg}),
                "stat": (self._file_stat, {"path": STRING, **sid_arg}),
                "list": (self._file_list, {"path": STRING, **sid_arg}),
            },
        }

    # == handle (test / control API) =======================================

    def add_user(
        self,
        name: str,
        password: str,
        *,
        read_only: bool = False,
        acl: dict[str, list[str]] | None = None,
    ) -> None:
        """A user with full rights, the read-only ACL, or its own ubus ``acl``."""
        self.users[name] = SimUser(password, read_only or acl is not None, acl)

    def restrict_acl(self, name: str, without: tuple[str, ...] = ("iwinfo",)) -> None:
        """Give ``name`` every ubus object except ``without`` (an ACL file written before
        eventops needed those objects): calls to them answer -32002."""
        acl = {o: ["*"] for o in [*self._methods, "hostapd.*"] if o not in without}
        self.users[name] = SimUser(self.users[name].password, False, acl)

    def set_password(self, name: str, password: str) -> None:
        """Change a user's password; its sessions end (the 'wrong credentials' fault)."""
        self.users[name].password = password
        for sid in [s for s, v in self.sessions.items() if v.user == name]:
            del self.sessions[sid]

    def reboot(self) -> None:
        """Reboot now: uptime restarts, sessions and staged changes are gone."""
        self._tick()
        self.sessions.clear()
        self.pending = None  # rpcd's snapshot lives in tmpfs: the applied config stays
        now = self.clock.monotonic()
        self._booted_at = now + self.boot_s
        self.down_until = now + self.boot_s
        for r in self._radios.values():
            r.clients.clear()
            r.active_ms = r.busy_ms = 0.0
        self._counters.clear()

    def expire_sessions(self) -> None:
        """Every session times out at once; a pending apply stays armed, so its
        timer rolls the config back (nobody can confirm it any more)."""
        self.sessions.clear()

    def restart_rpcd(self, down_s: float = 2.0) -> None:
        """rpcd restarts (TERM/HUP): sessions and the pending apply with its
        timer are lost, the NEW config stays, and rpcd's objects are absent
        (-32000) for ``down_s`` seconds of device time."""
        self._tick()
        self.sessions.clear()
        self.pending = None
        self.rpcd_restarts += 1
        self.rpcd_down_until = self.clock.monotonic() + down_s

    def object_present(self, name: str) -> bool:
        if name in self.missing_objects:
            return False
        if name in RPCD_OBJECTS and self.clock.monotonic() < self.rpcd_down_until:
            return False
        return self._object(name) is not None

    def fire_rollback(self) -> bool:
        """Let a pending apply's rollback timer fire now. False if none is pending."""
        if self.pending is None:
            return False
        self._do_rollback()
        return True

    def remove_object(self, name: str) -> None:
        """Make a ubus object disappear (as without procd/netifd/iwinfo)."""
        self.missing_objects.add(name)

    def join_client(self, ifname: str, mac: str | None = None, signal: float = -60.0) -> str:
        self._tick()
        mac = mac or self._random_mac()
        radio = self._radio_state(self._radio_of(ifname))
        radio.clients.setdefault(ifname, []).append(
            Client(mac, signal, self.clock.monotonic(), 144_400, 173_300)
        )
        return mac

    def _radio_of(self, ifname: str) -> str:
        for i in self._ifaces():
            if i["ifname"] == ifname:
                return str(i["radio"])
        raise KeyError(f"{self.device_id}: no wireless interface {ifname}")

    def leave_client(self, ifname: str, mac: str) -> None:
        radio = self._radio_state(self._radio_of(ifname))
        radio.clients[ifname] = [c for c in radio.clients.get(ifname, []) if c.mac != mac]

    def committed(self, config: str) -> UciConfig:
        """The mast's active config (after any rollback that is due), for tests."""
        self._tick()
        return copy.deepcopy(self.uci.get(config, {}))

    @property
    def uptime(self) -> float:
        return max(0.0, self.clock.monotonic() - self._booted_at)

    def describe(self) -> dict[str, Any]:
        self._tick()
        d = super().describe()
        d["uptime"] = int(self.uptime)
        d["sessions"] = len(self.sessions)
        d["pending_apply"] = self.pending is not None
        d["ssids"] = sorted({i["ssid"] for i in self._ifaces()})
        return d

    # == wire ==============================================================

    async def handle(self, request: BaseRequest) -> web.StreamResponse:
        path = request.path
        if path != "/ubus" and not path.startswith("/ubus/"):
            return web.Response(status=404, text="Not Found")
        if request.method == "OPTIONS":
            return web.Response(status=200, content_type="application/json")
        if request.method == "GET":
            if path == "/ubus/list" or path.startswith("/ubus/list/"):
                self._tick()
                return self._get_list(path[len("/ubus/list/") :] or None)
            return web.Response(status=404, text="Not Found")  # also GET /ubus
        if request.method != "POST":
            return web.Response(status=400, text="Bad Request")
        if path.startswith("/ubus/call/"):
            return await self._rest_call(request, path[len("/ubus/call/") :])
        if path not in ("/ubus", "/ubus/"):
            return web.Response(status=404, text="Not Found")
        if (request.content_length or 0) > BODY_LIMIT:
            return self._too_big()
        raw = await request.content.read(BODY_LIMIT + 1)
        if len(raw) > BODY_LIMIT:
            return self._too_big()
        self._tick()
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return self._json(self._error(None, -32700, "Parse error"))
        if isinstance(body, list):
            return self._json([self._one(r) for r in body])
        if not isinstance(body, dict):
            return self._json(self._error(None, -32700, "Parse error"))
        return self._json(self._one(body))

    # -- the newer API (OpenWrt 21.02+): GET /ubus/list, POST /ubus/call/<object> --

    def _get_list(self, pattern: str | None) -> web.Response:
        """Signatures of every object (keyed by object), or of the objects matching
        ``pattern`` merged (not keyed); an unknown object is HTTP 500 with ubus status 4."""
        names = self._object_names()
        if pattern is None:
            hits = names
        elif pattern.endswith("*"):
            hits = [n for n in names if n.startswith(pattern[:-1])]
        else:
            hits = [pattern] if pattern in names else []
        if pattern is not None and not hits:
            return web.Response(
                status=500,
                reason="Ubus Protocol Error",
                body=json.dumps({"code": 4, "message": "Not found"}).encode(),
                content_type="application/json",
            )
        out: dict[str, Any] = {}
        for n in hits:
            sigs = {m: dict(sig) for m, (_h, sig) in (self._object(n) or {}).items()}
            if pattern is None:
                out[n] = sigs
            else:
                out.update(sigs)
        return self._json(out)

    async def _rest_call(self, request: BaseRequest, obj: str) -> web.Response:
        """``POST /ubus/call/<obj>``: JSON-RPC with the ubus method as ``method``, the
        args as ``params`` and the session as ``Authorization: Bearer <sid>``; a
        non-zero ubus status is an ``error`` with that code."""
        if (request.content_length or 0) > BODY_LIMIT:
            return self._too_big()
        raw = await request.content.read(BODY_LIMIT + 1)
        if len(raw) > BODY_LIMIT:
            return self._too_big()
        self._tick()
        auth = request.headers.get("Authorization", "")
        sid = auth[7:] if auth[:7].lower() == "bearer " else ANON
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return self._json(self._error(None, -32700, "Parse error"))
        if not isinstance(body, dict):
            return self._json(self._error(None, -32700, "Parse error"))
        req_id = body.get("id")
        meth, args = body.get("method"), body.get("params", {})
        if body.get("jsonrpc") != "2.0" or not isinstance(meth, str) or not isinstance(args, dict):
            return self._json(self._error(req_id, -32700, "Parse error"))
        methods = self._object(obj)
        if methods is None or not self.object_present(obj):
            return self._json(self._error(req_id, -32000, "Object not found"))
        if not self._allowed(sid, obj, meth):
            return self._json(self._error(req_id, -32002, "Access denied"))
        if "ubus_rpc_session" in args:
            return self._json(self._error(req_id, -32602, "Invalid parameters"))
        if meth not in methods:
            status, data = 3, None
        else:
            status, data = methods[meth][0](self.sessions.get(sid), args)
        if status:
            return self._json(self._error(req_id, status, UBUS_STRERROR.get(status, "Unknown")))
        return self._json({"jsonrpc": "2.0", "id": req_id, "result": data})

    def _too_big(self) -> web.Response:
        """uhttpd stops reading, answers -32700 and closes the connection."""
        resp = self._json(self._error(None, -32700, "Parse error"))
        resp.force_close()
        return resp

    @staticmethod
    def _json(payload: Any) -> web.Response:
        return web.Response(
            body=json.dumps(payload, separators=(",", ":")).encode(),
            content_type="application/json",
        )

    @staticmethod
    def _error(req_id: Any, code: int, message: str) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": req_id, "error": {"code": code, "message": message}}

    def _one(self, req: Any) -> dict[str, Any]:
        if not isinstance(req, dict):
            return self._error(None, -32700, "Parse error")
        req_id = req.get("id")
        method = req.get("method")
        if req.get("jsonrpc") != "2.0" or not isinstance(method, str):
            return self._error(req_id, -32700, "Parse error")
        params = req.get("params")
        if method == "list":
            return self._list(req_id, params)
        if method != "call":
            return self._error(req_id, -32601, "Method not found")
        if (
            not isinstance(params, list)
            or len(params) < 4
            or not all(isinstance(p, str) for p in params[:3])
            or not isinstance(params[3], dict)
        ):
            return self._error(req_id, -32700, "Parse error")
        sid, obj, meth, args = params[0], params[1], params[2], params[3]
        methods = self._object(obj)
        if methods is None or not self.object_present(obj):
            return self._error(req_id, -32000, "Object not found")
        if not self._allowed(sid, obj, meth):
            return self._error(req_id, -32002, "Access denied")
        if "ubus_rpc_session" in args:
            return self._error(req_id, -32602, "Invalid parameters")
        if meth not in methods:
            return {"jsonrpc": "2.0", "id": req_id, "result": [3]}
        session = self.sessions.get(sid)
        status, data = methods[meth][0](session, args)
        result: list[Any] = [status] if data is None else [status, data]
        return {"jsonrpc": "2.0", "id": req_id, "result": result}

    def _object(self, name: str) -> dict[str, Method] | None:
        if name.startswith("hostapd."):
            ifname = name[len("hostapd.") :]
            if ifname not in self._ifnames():
                return None
            return {
                "get_clients": (lambda s, a: self._hapd_clients(ifname), {}),
                "get_status": (lambda s, a: self._hapd_status(ifname), {}),
                "del_client": (
                    lambda s, a: self._hapd_del(ifname, a),
                    {"addr": STRING, "reason": INT32, "deauth": BOOL, "ban_time": INT32},
                ),
            }
        if name.startswith("network.interface."):
            iface = name[len("network.interface.") :]
            if iface not in {n for n, _s in self._interfaces()}:
                return None
            return {"status": (lambda s, a: self._if_status(s, {"interface": iface}), {})}
        return self._methods.get(name)

    def _object_names(self) -> list[str]:
        names = [
            *self._methods,
            *(f"hostapd.{i}" for i in self._ifnames()),
            *(f"network.interface.{n}" for n, _s in self._interfaces()),
        ]
        return sorted(n for n in names if self.object_present(n))

    def _list(self, req_id: Any, params: Any) -> dict[str, Any]:
        names = self._object_names()
        if not isinstance(params, list):
            return {"jsonrpc": "2.0", "id": req_id, "result": names}
        out: dict[str, Any] = {}
        for p in params:
            if not isinstance(p, str):
                continue
            if p.endswith("*"):
                hits = [n for n in names if n.startswith(p[:-1])]
            else:
                hits = [p] if p in names else []
            for n in hits:
                methods = self._object(n) or {}
                out[n] = {m: dict(sig) for m, (_h, sig) in methods.items()}
        return {"jsonrpc": "2.0", "id": req_id, "result": out}

    # == sessions ==========================================================

    def _session(self, sid: str) -> Session | None:
        """The live session (its expiry re-armed), or None if unknown or expired."""
        s = self.sessions.get(sid)
        if s is None:
            return None
        now = self.clock.monotonic()
        if now > s.expires_at:
            del self.sessions[sid]
            return None
        s.expires_at = now + s.timeout
        return s

    def _acl_allows(self, acl: dict[str, list[str]], obj: str, meth: str) -> bool:
        return any(
            fnmatch.fnmatchcase(obj, o) and any(fnmatch.fnmatchcase(meth, m) for m in ms)
            for o, ms in acl.items()
        )

    def _allowed(self, sid: str, obj: str, meth: str) -> bool:
        """uhttpd's check: ``session access`` (so rpcd must be up) for this sid."""
        if not self.object_present("session"):
            return False
        if sid == ANON:
            return obj == "session" and meth in ("access", "login")
        s = self._session(sid)
        if s is None:
            return False
        user = self.users.get(s.user)
        return user is not None and self._acl_allows(user.ubus_acl(), obj, meth)

    def _acls(self, user: SimUser) -> dict[str, Any]:
        if user.read_only:
            return {
                "access-group": {"eventops-read": ["read"]},
                "ubus": {k: list(v) for k, v in user.ubus_acl().items()},
                "uci": {"*": ["read"]},
                "file": {"/etc/config/*": ["read"], "/etc/openwrt_release": ["read"]},
            }
        return {
            "access-group": {"superuser": ["read", "write"]},
            "ubus": {"*": ["*"]},
            "uci": {"*": ["read", "write"]},
            "file": {"/*": ["*"]},
        }

    def _login(self, _s: Session | None, a: dict[str, Any]) -> Status:
        name, pw = a.get("username"), a.get("password")
        if not isinstance(name, str) or not isinstance(pw, str):
            return 2, None
        user = self.users.get(name)
        if user is None or not secrets.compare_digest(user.password, pw):
            return 6, None
        timeout = a.get("timeout", 300)
        timeout = float(timeout) if isinstance(timeout, int) and timeout > 0 else 300.0
        now = self.clock.monotonic()
        p = self.pending
        owner = self._session(p.sid) if p is not None else None
        if owner is not None and owner.user == name:
            s = owner  # rpcd hands back the pending apply's session while it exists
        else:
            s = Session(secrets.token_hex(16), name, timeout, now + timeout)
            self.sessions[s.sid] = s
        return 0, {
            "ubus_rpc_session": s.sid,
            "timeout": int(s.timeout),
            "expires": int(s.expires_at - now),
            "acls": self._acls(user),
            "data": {"username": name},
        }

    def _access(self, s: Session | None, a: dict[str, Any]) -> Status:
        scope, obj, func = a.get("scope", "ubus"), a.get("object"), a.get("function")
        if s is None:  # the anonymous session
            allowed = scope == "ubus" and obj == "session" and func in ("access", "login")
            return 0, {"access": allowed}
        user = self.users.get(s.user)
        if user is None:
            return 0, {"access": False}
        if not isinstance(obj, str) or not isinstance(func, str):
            return 0, self._acls(user)
        if scope == "ubus":
            return 0, {"access": self._acl_allows(user.ubus_acl(), obj, func)}
        if scope == "uci":
            return 0, {"access": func == "read" or not user.read_only}
        if scope == "file":
            acl = self._acls(user)["file"]
            return 0, {"access": self._acl_allows(acl, obj, func)}
        return 0, {"access": False}

    def _destroy(self, s: Session | None, _a: dict[str, Any]) -> Status:
        if s is None:
            return 6, None  # the anonymous session cannot be destroyed
        self.sessions.pop(s.sid, None)
        return 0, None

    # == system / network ==================================================

    def _hostname(self) -> str:
        for sec in self.uci.get("system", {}).values():
            if sec.get(".type") == "system":
                return str(sec.get("hostname", "OpenWrt"))
        return "OpenWrt"

    def _utc_offset(self) -> int:
        """Seconds east of UTC for the configured zone (rpcd's localtime is local time)."""
        for sec in self.uci.get("system", {}).values():
            if sec.get(".type") == "system":
                try:
                    zone = ZoneInfo(str(sec.get("zonename", "UTC")))
                except (ZoneInfoNotFoundError, ValueError):
                    return 0
                off = self.clock.now().astimezone(zone).utcoffset()
                return int(off.total_seconds()) if off is not None else 0
        return 0

    def _board(self, _s: Session | None, _a: dict[str, Any]) -> Status:
        return 0, {
            "kernel": "5.15.150",
            "hostname": self._hostname(),
            "system": "ARMv8 Processor rev 4",
            "model": self.model,
            "board_name": self.board_name,
            "rootfs_type": "squashfs",
            "release": {
                "distribution": "OpenWrt",
                "version": "23.05.3",
                "revision": "r23809-234f1a2efa",
                "target": "mediatek/filogic",
                "description": "OpenWrt 23.05.3 r23809-234f1a2efa",
            },
        }

    def _info(self, _s: Session | None, _a: dict[str, Any]) -> Status:
        total = 1_022_000_000
        return 0, {
            "localtime": int(self.clock.now().timestamp()) + self._utc_offset(),
            "uptime": int(self.uptime),
            "load": [int(x * 65535) for x in self._load],
            "memory": {
                "total": total,
                "free": self._mem_free,
                "shared": 1_200_000,
                "buffered": 0,
                "available": self._mem_free + 60_000_000,
                "cached": 60_000_000,
            },
            "root": {"total": 98_000, "free": 91_000, "used": 7_000, "avail": 86_000},
            "tmp": {"total": 499_000, "free": 497_000, "used": 2_000, "avail": 497_000},
            "swap": {"total": 0, "free": 0},
        }

    def _reboot(self, _s: Session | None, _a: dict[str, Any]) -> Status:
        # Answer first; the reboot happens as the answer leaves.
        asyncio.get_running_loop().call_soon(self.reboot)
        return 0, None

    def _interfaces(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (name, sec)
            for name, sec in self.uci.get("network", {}).items()
            if sec.get(".type") == "interface"
        ]

    def _if_entry(self, name: str, sec: dict[str, Any]) -> dict[str, Any]:
        dev = str(sec.get("device", name))
        up = name != "wan"
        entry: dict[str, Any] = {
            "interface": name,
            "up": up,
            "pending": False,
            "available": True,
            "autostart": True,
            "dynamic": False,
            "proto": sec.get("proto", "none"),
            "device": dev,
            "data": {},
        }
        if up:
            entry["uptime"] = int(self.uptime)
            entry["l3_device"] = dev
            entry["ipv4-address"] = (
                [
                    {
                        "address": sec["ipaddr"],
                        "mask": _mask_len(str(sec.get("netmask", "255.255.255.0"))),
                    }
                ]
                if "ipaddr" in sec
                else []
            )
            entry["ipv6-address"] = []
            entry["route"] = []
            entry["dns-server"] = []
        return entry

    def _if_dump(self, _s: Session | None, _a: dict[str, Any]) -> Status:
        return 0, {"interface": [self._if_entry(n, s) for n, s in self._interfaces()]}

    def _if_status(self, _s: Session | None, a: dict[str, Any]) -> Status:
        name = a.get("interface")
        for n, s in self._interfaces():
            if n == name:
                return 0, self._if_entry(n, s)
        return 4, None

    def _devices(self) -> list[str]:
        vlan_devs = [
            str(sec["device"])
            for _n, sec in self._interfaces()
            if "." in str(sec.get("device", ""))
        ]
        return ["br-lan", *vlan_devs, "lan1", "lan2", "lo", *self._ifnames()]

    def _dev_entry(self, name: str) -> dict[str, Any]:
        # a VLAN device on the bridge (br-lan.1) counts the bridge's traffic
        c = self._counters.setdefault(name.split(".")[0], [0.0, 0.0, 0.0, 0.0])
        up = name not in ("lan2", "wan")
        return {
            "external": False,
            "present": True,
            "type": "bridge" if name == "br-lan" else ("VLAN" if "." in name else "Network device"),
            "up": up,
            "carrier": up,
            "speed": "1000F" if name.startswith("lan") else "-1F",
            "mtu": 65536 if name == "lo" else 1500,
            "macaddr": "00:00:00:00:00:00" if name == "lo" else self.macaddr,
            "statistics": {
                "rx_bytes": int(c[0]),
                "tx_bytes": int(c[1]),
                "rx_packets": int(c[2]),
                "tx_packets": int(c[3]),
                "rx_errors": 0,
                "tx_errors": 0,
                "rx_dropped": 0,
                "tx_dropped": 0,
                "multicast": int(c[2] // 50),
                "collisions": 0,
            },
        }

    def _dev_status(self, _s: Session | None, a: dict[str, Any]) -> Status:
        name = a.get("name")
        if name is None:
            return 0, {d: self._dev_entry(d) for d in self._devices()}
        if name not in self._devices():
            return 4, None
        return 0, self._dev_entry(str(name))

    # == wireless model ====================================================

    def _ifaces(self) -> list[dict[str, Any]]:
        """Active AP interfaces from the committed wireless config."""
        wl = self.uci.get("wireless", {})
        radios = [n for n, s in wl.items() if s.get(".type") == "wifi-device"]
        per_radio: dict[str, int] = {}
        out = []
        for name, sec in wl.items():
            if sec.get(".type") != "wifi-iface" or sec.get("disabled") == "1":
                continue
            radio = str(sec.get("device", ""))
            if radio not in radios or wl[radio].get("disabled") == "1":
                continue
            idx = per_radio.get(radio, 0)
            per_radio[radio] = idx + 1
            ifname = str(sec.get("ifname") or f"phy{radios.index(radio)}-ap{idx}")
            out.append(
                {
                    "ifname": ifname,
                    "section": name,
                    "radio": radio,
                    "phy": f"phy{radios.index(radio)}",
                    "ssid": str(sec.get("ssid", "OpenWrt")),
                    "encryption": str(sec.get("encryption", "none")),
                    "dev": wl[radio],
                    "index": idx,
                }
            )
        return out

    def _ifnames(self) -> list[str]:
        return [i["ifname"] for i in self._ifaces()]

    def _iface(self, a: dict[str, Any]) -> dict[str, Any] | None:
        name = a.get("device")
        for i in self._ifaces():
            if name in (i["ifname"], i["radio"]):
                return i
        return None

    def interference(self, band: str, db: float) -> None:
        """Fault: lift the noise floor of the mast's ``band`` radio by ``db`` (0 clears)."""
        for name, sec in self.uci.get("wireless", {}).items():
            if sec.get(".type") == "wifi-device" and sec.get("band") == band:
                self._radio_state(name).interference_db = db

    def _radio_state(self, radio: str) -> RadioState:
        r = self._radios.get(radio)
        if r is None:
            band = str(self.uci.get("wireless", {}).get(radio, {}).get("band", "5g"))
            util = self.rng.uniform(0.1, 0.5)
            r = RadioState(noise=-92.0 if band == "2g" else -95.0, utilisation=util)
            r.active_ms = self.uptime * 1000  # survey counters run since boot
            r.busy_ms = r.active_ms * util
            self._radios[radio] = r
        return r

    def _random_mac(self) -> str:
        return "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}".format(
            self.rng.choice([0x02, 0x06, 0x0A, 0x3C, 0xA4, 0xF0]),
            *(self.rng.randrange(256) for _ in range(5)),
        )

    def _tick(self) -> None:
        """Advance the model to the clock's now: walks per step, counters by time."""
        now = self.clock.monotonic()
        if self.pending is not None and now >= self.pending.deadline:
            self._do_rollback()
        dt = now - self._last
        if dt <= 0:
            return
        self._last = now
        ifaces = self._ifaces()
        steps = int((now - self._walk_t) // STEP_S)
        if steps > 0:
            first = max(0, steps - 30)  # after a long jump, only the last steps matter
            for k in range(first, steps):
                self._walk(ifaces, self._walk_t + (k + 1) * STEP_S)
            self._walk_t += steps * STEP_S
        clients = 0
        for i in ifaces:
            r = self._radio_state(i["radio"])
            n = len(r.clients.get(i["ifname"], []))
            clients += n
            c = self._counters.setdefault(i["ifname"], [0.0, 0.0, 0.0, 0.0])
            rate = 20_000 + n * 40_000
            c[0] += rate * dt
            c[1] += rate * 3 * dt
            c[2] += rate * dt / 600
            c[3] += rate * 3 * dt / 900
            for cl in r.clients.get(i["ifname"], []):
                cl.packets += int(dt * 50)
        for radio in {i["radio"] for i in ifaces}:
            r = self._radio_state(radio)
            r.active_ms += dt * 1000
            r.busy_ms += dt * 1000 * r.utilisation
        for dev, share in (("br-lan", 1.0), ("lan1", 1.02)):
            c = self._counters.setdefault(dev, [0.0, 0.0, 0.0, 0.0])
            lan_rate = (40_000 + clients * 40_000) * share
            c[0] += lan_rate * 3 * dt
            c[1] += lan_rate * dt
            c[2] += lan_rate * 3 * dt / 900
            c[3] += lan_rate * dt / 600

    def _walk(self, ifaces: list[dict[str, Any]], t: float) -> None:
        rng = self.rng
        # Noise stays inside normal bands (issue 19): below the monitor's warning
        # thresholds unless a fault is injected.
        self._load = [
            max(LOAD_BAND[0], min(LOAD_BAND[1], x + rng.uniform(-0.05, 0.05))) for x in self._load
        ]
        self._mem_free = max(
            MEM_FREE_BAND[0],
            min(MEM_FREE_BAND[1], self._mem_free + rng.randint(-2, 2) * 1_000_000),
        )
        for i in ifaces:
            r = self._radio_state(i["radio"])
            r.noise = max(NOISE_BAND[0], min(NOISE_BAND[1], r.noise + rng.uniform(-1, 1)))
            r.utilisation = max(
                UTIL_BAND[0], min(UTIL_BAND[1], r.utilisation + rng.uniform(-0.04, 0.04))
            )
            lst = r.clients.setdefault(i["ifname"], [])
            target = self.client_target
            if len(lst) < target and rng.random() < 0.5:
                lst.append(
                    Client(
                        self._random_mac(),
                        rng.uniform(-80, -45),
                        t,
                        rng.choice([72_200, 144_400, 286_700, 576_500]),
                        rng.choice([72_200, 144_400, 286_700, 576_500]),
                    )
                )
            elif lst and rng.random() < (0.3 if len(lst) > target else 0.08):
                lst.pop(rng.randrange(len(lst)))
            for cl in lst:
                cl.signal = max(-90.0, min(-35.0, cl.signal + rng.uniform(-2, 2)))

    def _iw_devices(self, _s: Session | None, _a: dict[str, Any]) -> Status:
        return 0, {"devices": self._ifnames()}

    def _iw_info(self, _s: Session | None, a: dict[str, Any]) -> Status:
        i = self._iface(a)
        if i is None:
            return 4, None
        dev = i["dev"]
        band = str(dev.get("band", "5g"))
        channel = int(str(dev.get("channel", "36")).replace("auto", "36"))
        htmode = str(dev.get("htmode", "HE20"))
        r = self._radio_state(i["radio"])
        clients = r.clients.get(i["ifname"], [])
        signal = int(sum(c.signal for c in clients) / len(clients)) if clients else 0
        bssid = self._bssid(i)
        enc = i["encryption"]
        encryption: dict[str, Any] = {"enabled": enc != "none"}
        if enc.startswith(("psk", "sae")):
            encryption.update(
                {
                    "wpa": [2, 3] if "sae" in enc else [2],
                    "authentication": ["psk"],
                    "ciphers": ["ccmp"],
                }
            )
        elif enc == "owe":
            encryption.update({"wpa": [3], "authentication": ["owe"], "ciphers": ["ccmp"]})
        return 0, {
            "phy": i["phy"],
            "ssid": i["ssid"],
            "bssid": bssid,
            "country": str(dev.get("country", "00")),
            "mode": "Master",
            "channel": channel,
            "center_chan1": channel,
            "frequency": _freq(band, channel),
            "frequency_offset": 0,
            "txpower": int(float(str(dev.get("txpower", "20")))),
            "txpower_offset": 0,
            "quality": max(0, min(70, signal + 110)) if clients else 0,
            "quality_max": 70,
            "signal": signal,
            "noise": int(r.noise + r.interference_db),
            "bitrate": int(sum(c.tx_rate for c in clients) / len(clients)) if clients else 0,
            "encryption": encryption,
            "htmodes": ["HT20", "HT40", "VHT20", "VHT40", "VHT80", "HE20", "HE40", "HE80"],
            "hwmodes": ["n", "ac", "ax"] if band == "5g" else ["b", "g", "n", "ax"],
            "hwmode": "ax",
            "htmode": htmode,
        }

    def _iw_assoclist(self, _s: Session | None, a: dict[str, Any]) -> Status:
        i = self._iface(a)
        if i is None:
            return 4, None
        r = self._radio_state(i["radio"])
        now = self.clock.monotonic()
        out = []
        for c in r.clients.get(i["ifname"], []):
            out.append(
                {
                    "mac": c.mac.upper(),
                    "signal": int(c.signal),
                    "signal_avg": int(c.signal),
                    "noise": int(r.noise + r.interference_db),
                    "inactive": self.rng.randint(0, 3000),
                    "connected_time": int(now - c.connected_at),
                    "thr": c.tx_rate // 2,
                    "authorized": True,
                    "authenticated": True,
                    "preamble": "long",
                    "wme": True,
                    "mfp": True,
                    "tdls": False,
                    "rx": {
                        "rate": c.rx_rate,
                        "mcs": 9,
                        "40mhz": False,
                        "short_gi": False,
                        "packets": c.packets,
                    },
                    "tx": {
                        "rate": c.tx_rate,
                        "mcs": 9,
                        "40mhz": False,
                        "short_gi": False,
                        "packets": c.packets * 2,
                        "retries": c.packets // 40,
                        "failed": c.packets // 900,
                    },
                }
            )
        return 0, {"results": out}

    def _iw_survey(self, _s: Session | None, a: dict[str, Any]) -> Status:
        i = self._iface(a)
        if i is None:
            return 4, None
        dev = i["dev"]
        band = str(dev.get("band", "5g"))
        channel = int(str(dev.get("channel", "36")).replace("auto", "36"))
        r = self._radio_state(i["radio"])
        in_use = _freq(band, channel)
        chans = [1, 6, 11] if band == "2g" else [36, 44, 100, 116]
        out = []
        for ch in sorted({*chans, channel}):
            f = _freq(band, ch)
            if f == in_use:
                out.append(
                    {
                        "mhz": f,
                        "noise": int(r.noise + r.interference_db),
                        "active_time": int(r.active_ms),
                        "busy_time": int(r.busy_ms),
                        "busy_time_ext": 0,
                        "rx_time": int(r.busy_ms * 0.6),
                        "tx_time": int(r.busy_ms * 0.3),
                    }
                )
            else:
                out.append(
                    {
                        "mhz": f,
                        "noise": int(r.noise + r.interference_db) - 1,
                        "active_time": 120,
                        "busy_time": 30,
                    }
                )
        return 0, {"results": out}

    # == netifd wireless, hostapd, rpcd-mod-file ============================

    def _wl_status(self, _s: Session | None, a: dict[str, Any]) -> Status:
        wl = self.uci.get("wireless", {})
        want = a.get("device")
        ifaces = self._ifaces()
        out: dict[str, Any] = {}
        for name, sec in wl.items():
            if sec.get(".type") != "wifi-device" or (want is not None and want != name):
                continue
            disabled = sec.get("disabled") == "1"
            out[name] = {
                "up": not disabled,
                "pending": False,
                "autostart": True,
                "disabled": disabled,
                "retry_setup_failed": False,
                "config": {k: v for k, v in sec.items() if not k.startswith(".")},
                "interfaces": [
                    {
                        "section": i["section"],
                        "ifname": i["ifname"],
                        "config": {
                            k: ([v] if k == "network" and isinstance(v, str) else v)
                            for k, v in wl[i["section"]].items()
                            if not k.startswith(".")
                        },
                        "vlans": [],
                        "stations": [],
                    }
                    for i in ifaces
                    if i["radio"] == name
                ],
            }
        if want is not None and not out:
            return 4, None
        return 0, out

    def _hapd_clients(self, ifname: str) -> Status:
        r = self._radio_state(self._radio_of(ifname))
        now = self.clock.monotonic()
        clients = {
            c.mac: {
                "auth": True,
                "assoc": True,
                "authorized": True,
                "preauth": False,
                "wds": False,
                "wmm": True,
                "ht": True,
                "vht": True,
                "he": True,
                "wps": False,
                "mfp": True,
                "rrm": [0, 0, 0, 0, 0],
                "extended_capabilities": [],
                "aid": n + 1,
                "signature": "",
                "bytes": {"rx": c.packets * 900, "tx": c.packets * 1800},
                "airtime": {"rx": 0, "tx": 0},
                "packets": {"rx": c.packets, "tx": c.packets * 2},
                "rate": {"rx": c.rx_rate, "tx": c.tx_rate},
                "signal": int(c.signal),
                "capabilities": {},
                "connected_time": int(now - c.connected_at),
            }
            for n, c in enumerate(r.clients.get(ifname, []))
        }
        return 0, {"freq": self._iface_freq(ifname), "clients": clients}

    def _hapd_status(self, ifname: str) -> Status:
        i = next(x for x in self._ifaces() if x["ifname"] == ifname)
        return 0, {
            "status": "ENABLED",
            "bssid": self._bssid(i).lower(),
            "ssid": i["ssid"],
            "freq": self._iface_freq(ifname),
            "channel": int(str(i["dev"].get("channel", "36")).replace("auto", "36")),
            "op_class": 0,
            "beacon_interval": 100,
            "phy": i["phy"],
        }

    def _hapd_del(self, ifname: str, a: dict[str, Any]) -> Status:
        addr = a.get("addr")
        if not isinstance(addr, str):
            return 2, None
        r = self._radio_state(self._radio_of(ifname))
        lst = r.clients.get(ifname, [])
        keep = [c for c in lst if c.mac.lower() != addr.lower()]
        if len(keep) == len(lst):
            return 4, None
        r.clients[ifname] = keep
        return 0, None

    def _iface_freq(self, ifname: str) -> int:
        i = next(x for x in self._ifaces() if x["ifname"] == ifname)
        band = str(i["dev"].get("band", "5g"))
        return _freq(band, int(str(i["dev"].get("channel", "36")).replace("auto", "36")))

    def _bssid(self, i: dict[str, Any]) -> str:
        bssid = self.macaddr[:-2] + "%02x" % (
            (int(self.macaddr[-2:], 16) + 1 + i["index"] + 8 * int(i["phy"][3:])) % 256
        )
        return bssid.upper()

    def _files(self) -> dict[str, str]:
        """The few files a client reads: /etc/config/* (from UCI) and the release."""
        out = {f"/etc/config/{c}": render_uci(cfg, c) for c, cfg in self.uci.items()}
        out["/etc/openwrt_release"] = (
            "DISTRIB_ID='OpenWrt'\nDISTRIB_RELEASE='23.05.3'\n"
            "DISTRIB_REVISION='r23809-234f1a2efa'\nDISTRIB_TARGET='mediatek/filogic'\n"
            "DISTRIB_DESCRIPTION='OpenWrt 23.05.3 r23809-234f1a2efa'\n"
        )
        return out

    def _file_ok(self, s: Session | None, path: str, perm: str) -> bool:
        user = self.users.get(s.user) if s is not None else None
        if user is None:
            return False
        return self._acl_allows(self._acls(user)["file"], path, perm)

    def _file_read(self, s: Session | None, a: dict[str, Any]) -> Status:
        path = a.get("path")
        if not isinstance(path, str):
            return 2, None
        if not self._file_ok(s, path, "read"):
            return 6, None
        files = self._files()
        if path not in files:
            return 4, None
        return 0, {"data": files[path]}

    def _stat_of(self, path: str, size: int, is_dir: bool) -> dict[str, Any]:
        t = int(self.clock.now().timestamp() - self.uptime)
        return {
            "path": path,
            "type": "directory" if is_dir else "file",
            "size": size,
            "mode": 0o40755 if is_dir else 0o100644,
            "atime": t,
            "mtime": t,
            "ctime": t,
            "inode": 1000 + (zlib.crc32(path.encode()) % 50000),
            "uid": 0,
            "gid": 0,
        }

    def _file_stat(self, s: Session | None, a: dict[str, Any]) -> Status:
        path = a.get("path")
        if not isinstance(path, str):
            return 2, None
        if not self._file_ok(s, path, "list") and not self._file_ok(s, path, "read"):
            return 6, None
        files = self._files()
        if path in files:
            return 0, self._stat_of(path, len(files[path].encode()), False)
        d = path.rstrip("/") + "/"
        if any(f.startswith(d) for f in files):
            return 0, self._stat_of(path, 4096, True)
        return 4, None

    def _file_list(self, s: Session | None, a: dict[str, Any]) -> Status:
        path = a.get("path")
        if not isinstance(path, str):
            return 2, None
        if not self._file_ok(s, path, "list") and not self._file_ok(s, path, "read"):
            return 6, None
        d = path.rstrip("/") + "/"
        files = self._files()
        entries: dict[str, dict[str, Any]] = {}
        for f, text in sorted(files.items()):
            if not f.startswith(d):
                continue
            rest = f[len(d) :]
            head = rest.split("/", 1)[0]
            is_dir = "/" in rest
            st = self._stat_of(d + head, 4096 if is_dir else len(text.encode()), is_dir)
            st.pop("path")
            entries[head] = {"name": head, **st}
        if not entries:
            return 4, None
        return 0, {"entries": list(entries.values())}

    # == UCI ===============================================================

    def _view(self, s: Session | None, config: str) -> UciConfig | None:
        base = self.uci.get(config)
        staged = s.staging.get(config, []) if s else []
        if base is None:
            if not any(ch[0] == "add" for ch in staged):
                return None
            base = {}
        view = copy.deepcopy(base)
        apply_changes(view, staged)
        return view

    @staticmethod
    def _section_out(name: str, sec: dict[str, Any], index: int | None) -> dict[str, Any]:
        out: dict[str, Any] = {
            ".anonymous": bool(sec.get(".anonymous")),
            ".type": sec[".type"],
            ".name": name,
        }
        if index is not None:
            out[".index"] = index
        out.update({k: v for k, v in sec.items() if not k.startswith(".")})
        return out

    def _uci_configs(self, _s: Session | None, _a: dict[str, Any]) -> Status:
        return 0, {"configs": sorted(self.uci)}

    def _uci_get(self, s: Session | None, a: dict[str, Any]) -> Status:
        config = a.get("config")
        if not isinstance(config, str):
            return 2, None
        view = self._view(s, config)
        if view is None:
            return 4, None
        section, option, typ = a.get("section"), a.get("option"), a.get("type")
        if section is None:
            values = {
                n: self._section_out(n, sec, idx)
                for idx, (n, sec) in enumerate(view.items())
                if typ is None or sec[".type"] == typ
            }
            return 0, {"values": values}
        name = resolve_section(view, str(section))
        if name is None:
            return 0, None  # rpcd: a missing section is [0] without data
        if option is None:
            return 0, {"values": self._section_out(name, view[name], None)}
        if not isinstance(option, str) or option.startswith(".") or option not in view[name]:
            return 0, None
        return 0, {"value": view[name][option]}

    def _stage(self, s: Session | None, config: str, change: list[Any]) -> None:
        if s is not None:
            s.staging.setdefault(config, []).append(change)

    def _stage_values(
        self, s: Session | None, config: str, section: str, have: dict[str, Any], values: Any
    ) -> int:
        """Stage option values as rpcd records them; returns a ubus status."""
        if not isinstance(values, dict):
            return 2
        for opt, val in values.items():
            v = _uci_value(val)
            if not _NAME.match(opt) or v is None:
                return 2
            if isinstance(v, list):
                self._stage(s, config, ["remove", section, opt])
                for elem in v:
                    self._stage(s, config, ["list-add", section, opt, elem])
            elif v == "":
                if opt in have:
                    self._stage(s, config, ["remove", section, opt])
            elif have.get(opt) != v:  # setting the current value stages nothing
                self._stage(s, config, ["set", section, opt, v])
        return 0

    def _uci_set(self, s: Session | None, a: dict[str, Any]) -> Status:
        config, section, values = a.get("config"), a.get("section"), a.get("values")
        if not isinstance(config, str) or not isinstance(values, dict):
            return 2, None
        view = self._view(s, config)
        if view is None:
            return 4, None
        name = resolve_section(view, section) if isinstance(section, str) else None
        if name is None:
            return 4, None
        return self._stage_values(s, config, name, view[name], values), None

    def _uci_add(self, s: Session | None, a: dict[str, Any]) -> Status:
        config, typ, name = a.get("config"), a.get("type"), a.get("name")
        values = a.get("values", {})
        if not isinstance(config, str) or not isinstance(typ, str) or not _TYPE.match(typ):
            return 2, None
        if not isinstance(values, dict) or (
            name is not None and (not isinstance(name, str) or not _NAME.match(name))
        ):
            return 2, None
        view = self._view(s, config)
        if view is None:
            return 4, None
        have: dict[str, Any] = {}
        if name is None:
            name = f"cfg{self.rng.randrange(1 << 24):06x}"
            self._stage(s, config, ["add", name, typ])
        elif name not in view or view[name].get(".type") != typ:
            self._stage(s, config, ["set", name, typ])  # a named add is a section "set"
        else:
            have = view[name]
        status = self._stage_values(s, config, name, have, values)
        if status:
            return status, None
        return 0, {"section": name}

    def _uci_delete(self, s: Session | None, a: dict[str, Any]) -> Status:
        config, section = a.get("config"), a.get("section")
        if not isinstance(config, str) or not isinstance(section, str):
            return 2, None
        view = self._view(s, config)
        name = resolve_section(view, section) if view is not None else None
        if view is None or name is None:
            return 4, None
        options = a.get("options")
        option = a.get("option")
        if isinstance(option, str):
            if option not in view[name]:
                return 4, None
            self._stage(s, config, ["remove", name, option])
        elif isinstance(options, list):
            for o in options:
                if isinstance(o, str) and o in view[name]:
                    self._stage(s, config, ["remove", name, o])
        else:
            self._stage(s, config, ["remove", name])
        return 0, None

    def _uci_changes(self, s: Session | None, a: dict[str, Any]) -> Status:
        assert s is not None
        config = a.get("config")
        if config is None:
            return 0, {"changes": {c: list(v) for c, v in s.staging.items() if v}}
        if not isinstance(config, str):
            return 2, None
        if config not in self.uci and config not in s.staging:
            return 4, None
        return 0, {"changes": list(s.staging.get(config, []))}

    def _uci_revert(self, s: Session | None, a: dict[str, Any]) -> Status:
        assert s is not None
        config = a.get("config")
        if not isinstance(config, str):
            return 2, None
        if self.pending is not None:
            return 6, None
        s.staging.pop(config, None)
        return 0, None

    def _commit_config(self, s: Session, config: str) -> None:
        view = self._view(s, config)
        if view is not None:
            self.uci[config] = view
        s.staging.pop(config, None)

    def _uci_commit(self, s: Session | None, a: dict[str, Any]) -> Status:
        assert s is not None
        config = a.get("config")
        if not isinstance(config, str):
            return 2, None
        if self.pending is not None:
            return 6, None
        self._commit_config(s, config)
        return 0, None

    def _uci_apply(self, s: Session | None, a: dict[str, Any]) -> Status:
        assert s is not None
        rollback = a.get("rollback") is True or a.get("rollback") == 1
        if self.pending is not None:
            # rpcd: another rollback pending -> 6; a plain apply answers 0 and
            # applies nothing (the changes stay staged)
            return (6, None) if rollback else (0, None)
        staged = {c: list(v) for c, v in s.staging.items() if v}
        if not staged:
            return 5, None
        timeout = a.get("timeout")
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1:
            timeout = 60  # rpcd ignores a timeout that is not an integer
        snapshot = {c: copy.deepcopy(self.uci[c]) for c in staged if c in self.uci}
        for c in staged:
            self._commit_config(s, c)
        if rollback:
            self.pending = PendingApply(s.sid, self.clock.monotonic() + timeout, snapshot, staged)
        return 0, None

    def _uci_confirm(self, s: Session | None, _a: dict[str, Any]) -> Status:
        assert s is not None
        if self.pending is None:
            return 5, None
        if self.pending.sid != s.sid:
            return 6, None
        self.pending = None
        return 0, None

    def _uci_rollback(self, s: Session | None, _a: dict[str, Any]) -> Status:
        assert s is not None
        if self.pending is None:
            return 5, None
        if self.pending.sid != s.sid:
            return 6, None
        self._do_rollback()
        return 0, None

    def _do_rollback(self) -> None:
        p = self.pending
        if p is None:
            return
        self.pending = None
        self.rollbacks += 1
        for c in p.changes:
            if c in p.snapshot:
                self.uci[c] = p.snapshot[c]
            else:
                self.uci.pop(c, None)
        owner = self.sessions.get(p.sid)
        if owner is not None and self.clock.monotonic() > owner.expires_at:
            owner = None  # expired: only the files are restored
        if owner is not None:
            for c, chs in p.changes.items():
                owner.staging[c] = [*chs, *owner.staging.get(c, [])]


def _mask_len(netmask: str) -> int:
    try:
        return sum(bin(int(x)).count("1") for x in netmask.split("."))
    except ValueError:
        return 24


def _quote(v: str) -> str:
    return "'" + v.replace("'", "'\\''") + "'"


def render_uci(cfg: UciConfig, name: str) -> str:
    """A config in /etc/config syntax (what ``file read`` of it returns)."""
    lines: list[str] = []
    for sec_name, sec in cfg.items():
        head = f"config {sec['.type']}"
        if not sec.get(".anonymous"):
            head += f" {_quote(sec_name)}"
        lines.append(head)
        for k, v in sec.items():
            if k.startswith("."):
                continue
            if isinstance(v, list):
                lines.extend(f"\tlist {k} {_quote(str(x))}" for x in v)
            else:
                lines.append(f"\toption {k} {_quote(str(v))}")
        lines.append("")
    return "\n".join(lines) + ("\n" if lines else "")
