"""A simulated OpenWrt WLAN mast: ubus JSON-RPC over HTTP(S) as uhttpd-mod-ubus and rpcd serve it.

Device-facing: ``POST /ubus`` only (legacy JSON-RPC 2.0, single requests and
batches), with rpcd's sessions (all-zero sid for ``session login``; 32-hex
sids; sliding expiry), ACLs (a full user and optional read-only users),
per-session UCI staging, ``uci apply``/``confirm``/``rollback`` with the
rollback timer, and the status codes of PROTOCOLS.md.

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
import json
import random
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.web_request import BaseRequest
from eventops_hardware.simbase import SimDevice
from eventops_hardware.tls import SimIdentity

from eventops.clock import Clock

ANON = "0" * 32
BODY_LIMIT = 64 * 1024
STEP_S = 10.0
"""Random walks (clients, signal, utilisation) move once per simulated step."""

Status = tuple[int, dict[str, Any] | None]
UciConfig = dict[str, dict[str, Any]]
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_TYPE = re.compile(r"^[A-Za-z0-9_-]+$")

READ_ONLY_ACL: dict[str, list[str]] = {
    "session": ["access", "login", "destroy"],
    "system": ["board", "info"],
    "network.interface": ["dump", "status"],
    "network.device": ["status"],
    "iwinfo": ["devices", "info", "assoclist", "survey", "freqlist", "txpowerlist", "countrylist"],
    "uci": ["get", "changes", "configs", "state"],
}


@dataclass
class SimUser:
    password: str
    read_only: bool = False


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


def default_uci(hostname: str, rng: random.Random) -> dict[str, UciConfig]:
    """A factory-fresh dual-band OpenWrt 23.05 AP's relevant configs."""
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
    """Replay staged changes (rpcd's delta format) on a config, in place."""
    for ch in changes:
        op, sec = ch[0], ch[1]
        if op == "add":
            cfg[sec] = {".type": ch[2], ".anonymous": sec.startswith("cfg")}
        elif op == "set" and sec in cfg:
            cfg[sec][ch[2]] = ch[3]
        elif op == "remove":
            if len(ch) == 2:
                cfg.pop(sec, None)
            elif sec in cfg:
                cfg[sec].pop(ch[2], None)


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
        self.boot_s = 0.0
        """Seconds (device clock) a reboot keeps the mast from answering."""
        self.rollbacks = 0
        self._booted_at = clock.monotonic() - self.rng.uniform(600, 7200)
        self._last = clock.monotonic()
        self._walk_t = self._last
        self._radios: dict[str, RadioState] = {}
        self._counters: dict[str, list[float]] = {}
        self._load = [0.12, 0.18, 0.2]
        self._mem_free = 180_000_000
        self.client_target = self.rng.randint(2, 12)
        start = clock.monotonic()
        for k in range(12):  # a mast in service already has clients, some for a while
            self._walk(self._ifaces(), start - (12 - k) * STEP_S)
        self._methods: dict[str, dict[str, Callable[[Session | None, dict[str, Any]], Status]]] = {
            "session": {
                "login": self._login,
                "access": self._access,
                "destroy": self._destroy,
            },
            "system": {"board": self._board, "info": self._info, "reboot": self._reboot},
            "network.interface": {"dump": self._if_dump, "status": self._if_status},
            "network.device": {"status": self._dev_status},
            "iwinfo": {
                "devices": self._iw_devices,
                "info": self._iw_info,
                "assoclist": self._iw_assoclist,
                "survey": self._iw_survey,
            },
            "uci": {
                "configs": self._uci_configs,
                "get": self._uci_get,
                "set": self._uci_set,
                "add": self._uci_add,
                "delete": self._uci_delete,
                "changes": self._uci_changes,
                "revert": self._uci_revert,
                "commit": self._uci_commit,
                "apply": self._uci_apply,
                "confirm": self._uci_confirm,
                "rollback": self._uci_rollback,
            },
        }

    # == handle (test / control API) =======================================

    def add_user(self, name: str, password: str, *, read_only: bool = False) -> None:
        self.users[name] = SimUser(password, read_only)

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
        """Forget every session at once (as after rpcd restarts)."""
        self.sessions.clear()

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
        if request.path != "/ubus":
            return web.Response(status=404, text="Not Found")
        if request.method != "POST":
            return web.Response(status=405 if request.method != "OPTIONS" else 200)
        if (request.content_length or 0) > BODY_LIMIT:
            return web.Response(status=413, text="Request Entity Too Large")
        raw = await request.read()
        if len(raw) > BODY_LIMIT:
            return web.Response(status=413, text="Request Entity Too Large")
        self._tick()
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return self._json(self._error(None, -32700, "Parse error"))
        if isinstance(body, list):
            if not body:
                return self._json(self._error(None, -32600, "Invalid request"))
            return self._json([self._one(r) for r in body])
        return self._json(self._one(body))

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
            return self._error(None, -32600, "Invalid request")
        req_id = req.get("id")
        if req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
            return self._error(req_id, -32600, "Invalid request")
        method = req["method"]
        params = req.get("params")
        if method == "list":
            return self._list(req_id, params)
        if method != "call":
            return self._error(req_id, -32601, "Method not found")
        if (
            not isinstance(params, list)
            or len(params) < 4
            or not all(isinstance(p, str) for p in params[:3])
        ):
            return self._error(req_id, -32700, "Parse error")
        sid, obj, meth, args = params[0], params[1], params[2], params[3]
        if not isinstance(args, dict):
            return self._error(req_id, -32602, "Invalid parameters")
        methods = self._methods.get(obj)
        if methods is None or obj in self.missing_objects:
            return self._error(req_id, -32000, "Object not found")
        session = None
        anonymous_ok = obj == "session" and meth in ("login", "access")
        if not anonymous_ok:
            session = self._session(sid)
            if session is None or meth not in methods or not self._allowed(session, obj, meth):
                return self._error(req_id, -32002, "Access denied")
        elif sid != ANON:
            session = self._session(sid)
        if meth not in methods:
            return self._error(req_id, -32002, "Access denied")
        status, data = methods[meth](session, args)
        result: list[Any] = [status] if data is None else [status, data]
        return {"jsonrpc": "2.0", "id": req_id, "result": result}

    def _list(self, req_id: Any, params: Any) -> dict[str, Any]:
        names = [o for o in self._methods if o not in self.missing_objects]
        if not params:
            return {"jsonrpc": "2.0", "id": req_id, "result": names}
        if not isinstance(params, list):
            return self._error(req_id, -32602, "Invalid parameters")
        out: dict[str, Any] = {}
        for p in params:
            if isinstance(p, str) and p in names:
                out[p] = {m: {} for m in self._methods[p]}
        return {"jsonrpc": "2.0", "id": req_id, "result": out}

    # == sessions ==========================================================

    def _session(self, sid: str) -> Session | None:
        s = self.sessions.get(sid)
        if s is None:
            return None
        now = self.clock.monotonic()
        owns_pending = self.pending is not None and self.pending.sid == sid
        if now > s.expires_at and not owns_pending:
            del self.sessions[sid]
            return None
        s.expires_at = now + s.timeout
        return s

    def _allowed(self, s: Session, obj: str, meth: str) -> bool:
        user = self.users.get(s.user)
        if user is None:
            return False
        if not user.read_only:
            return True
        return meth in READ_ONLY_ACL.get(obj, [])

    def _acls(self, user: SimUser) -> dict[str, Any]:
        if user.read_only:
            return {
                "access-group": {"eventops-read": ["read"]},
                "ubus": {k: list(v) for k, v in READ_ONLY_ACL.items()},
                "uci": {"*": ["read"]},
            }
        return {
            "access-group": {"superuser": ["read", "write"]},
            "ubus": {"*": ["*"]},
            "uci": {"*": ["read", "write"]},
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
        if p is not None and p.sid in self.sessions and self.sessions[p.sid].user == name:
            s = self.sessions[p.sid]  # hand back the pending apply session
            s.expires_at = now + s.timeout
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
        if s is None:
            return 0, {"access": False}
        scope, obj, func = a.get("scope", "ubus"), a.get("object"), a.get("function")
        if scope == "ubus" and isinstance(obj, str) and isinstance(func, str):
            return 0, {"access": self._allowed(s, obj, func)}
        return 0, {"access": True}

    def _destroy(self, s: Session | None, _a: dict[str, Any]) -> Status:
        if s is not None:
            self.sessions.pop(s.sid, None)
        return 0, None

    # == system / network ==================================================

    def _hostname(self) -> str:
        for sec in self.uci.get("system", {}).values():
            if sec.get(".type") == "system":
                return str(sec.get("hostname", "OpenWrt"))
        return "OpenWrt"

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
            "localtime": int(self.clock.now().timestamp()) + 7200,
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
        return ["br-lan", "lan1", "lan2", "lo", *self._ifnames()]

    def _dev_entry(self, name: str) -> dict[str, Any]:
        c = self._counters.setdefault(name, [0.0, 0.0, 0.0, 0.0])
        up = name not in ("lan2", "wan")
        return {
            "external": False,
            "present": True,
            "type": "bridge" if name == "br-lan" else "Network device",
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
        self._load = [max(0.01, min(4.0, x + rng.uniform(-0.05, 0.05))) for x in self._load]
        self._mem_free = max(
            60_000_000, min(400_000_000, self._mem_free + rng.randint(-2, 2) * 1_000_000)
        )
        for i in ifaces:
            r = self._radio_state(i["radio"])
            r.noise = max(-100.0, min(-85.0, r.noise + rng.uniform(-1, 1)))
            r.utilisation = max(0.02, min(0.95, r.utilisation + rng.uniform(-0.04, 0.04)))
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
        bssid = self.macaddr[:-2] + "%02x" % (
            (int(self.macaddr[-2:], 16) + 1 + i["index"] + 8 * int(i["phy"][3:])) % 256
        )
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
            "bssid": bssid.upper(),
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
            "noise": int(r.noise),
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
                    "noise": int(r.noise),
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
                        "noise": int(r.noise),
                        "active_time": int(r.active_ms),
                        "busy_time": int(r.busy_ms),
                        "busy_time_ext": 0,
                        "rx_time": int(r.busy_ms * 0.6),
                        "tx_time": int(r.busy_ms * 0.3),
                    }
                )
            else:
                out.append(
                    {"mhz": f, "noise": int(r.noise) - 1, "active_time": 120, "busy_time": 30}
                )
        return 0, {"results": out}

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
    def _section_out(name: str, sec: dict[str, Any], index: int) -> dict[str, Any]:
        out = {
            ".anonymous": bool(sec.get(".anonymous")),
            ".type": sec[".type"],
            ".name": name,
            ".index": index,
        }
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
        if section not in view:
            return 4, None
        idx = list(view).index(section)
        if option is None:
            return 0, {"values": self._section_out(section, view[section], idx)}
        if option not in view[section] or str(option).startswith("."):
            return 4, None
        return 0, {"value": view[section][option]}

    def _stage(self, s: Session | None, config: str, change: list[Any]) -> None:
        if s is not None:
            s.staging.setdefault(config, []).append(change)

    def _uci_set(self, s: Session | None, a: dict[str, Any]) -> Status:
        config, section, values = a.get("config"), a.get("section"), a.get("values")
        if not isinstance(config, str) or not isinstance(values, dict):
            return 2, None
        view = self._view(s, config)
        if view is None:
            return 4, None
        if not isinstance(section, str) or section not in view:
            return 4, None
        for opt, val in values.items():
            v = _uci_value(val)
            if not _NAME.match(opt) or v is None:
                return 2, None
            if v == "" or v == []:
                if opt in view[section]:
                    self._stage(s, config, ["remove", section, opt])
            else:
                self._stage(s, config, ["set", section, opt, v])
        return 0, None

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
        if name is None:
            name = f"cfg{self.rng.randrange(1 << 24):06x}"
        if name not in view:
            self._stage(s, config, ["add", name, typ])
        for opt, val in values.items():
            v = _uci_value(val)
            if not _NAME.match(opt) or v is None:
                return 2, None
            self._stage(s, config, ["set", name, opt, v])
        return 0, {"section": name}

    def _uci_delete(self, s: Session | None, a: dict[str, Any]) -> Status:
        config, section = a.get("config"), a.get("section")
        if not isinstance(config, str) or not isinstance(section, str):
            return 2, None
        view = self._view(s, config)
        if view is None or section not in view:
            return 4, None
        options = a.get("options")
        option = a.get("option")
        if isinstance(option, str):
            if option not in view[section]:
                return 4, None
            self._stage(s, config, ["remove", section, option])
        elif isinstance(options, list):
            for o in options:
                if isinstance(o, str) and o in view[section]:
                    self._stage(s, config, ["remove", section, o])
        else:
            self._stage(s, config, ["remove", section])
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
        if self.pending is not None:
            return 6, None
        staged = {c: list(v) for c, v in s.staging.items() if v}
        if not staged:
            return 5, None
        rollback = bool(a.get("rollback", False))
        timeout = a.get("timeout", 30)
        if not isinstance(timeout, int) or isinstance(timeout, bool) or timeout < 1:
            return 2, None
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
        if owner is not None:
            for c, chs in p.changes.items():
                owner.staging[c] = [*chs, *owner.staging.get(c, [])]


def _mask_len(netmask: str) -> int:
    try:
        return sum(bin(int(x)).count("1") for x in netmask.split("."))
    except ValueError:
        return 24
