"""A simulated fibre switch or media converter: RESTCONF (RFC 8040) with OpenConfig.

Device-facing, as a RESTCONF server answers:

- ``GET /.well-known/host-meta`` (XRD naming the RESTCONF root ``/restconf``);
- ``GET /restconf`` and ``GET /restconf/data/...`` for
  ``openconfig-interfaces:interfaces`` (with the ``openconfig-if-ethernet``
  and ``openconfig-vlan`` augments), ``openconfig-platform:components``
  (chassis and transceivers with per-lane power, bias, temperature and the
  module's thresholds) and ``openconfig-system:system``; list keys
  percent-encoded (``interface=Ethernet1%2F1``); RFC 7951 JSON (64-bit
  counters and decimals as strings);
- ``PATCH`` (merge) of interface description, enabled and VLAN membership;
  ``PUT`` (replace: 204) of an interface entry, its ``config`` or a config
  leaf; ``POST`` (create: 201 with ``Location``; ``data-exists`` 409 when
  it exists, physical ports cannot be created); ``DELETE`` of the
  description, the trunk VLANs or one of them (``data-missing`` 409 when
  absent; ports cannot be deleted: 405); ``application/yang-data+json``
  only (415 otherwise), writes refused to read-only users (403);
- HTTP Basic authentication; errors as ``ietf-restconf:errors``.

One state model per switch: ports with their optic, counters that grow with
time, and, when the fleet connects two ports by a fibre link, receive power
computed from the far end's laser minus the path loss and any injected
degradation. Link down, degrading optics and CRC errors are faults set
through the port handles (:class:`SimPort`); time comes from the injected clock.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import web
from aiohttp.web_request import BaseRequest

from eventops.clock import Clock

from .simbase import SimDevice
from .tls import SimIdentity

YANG_JSON = "application/yang-data+json"
LOS_DBM = -40.0


@dataclass(frozen=True)
class OpticSpec:
    pmd: str
    form_factor: str
    speed: str
    speed_mbps: int
    wavelength_nm: int
    tx_min: float
    tx_max: float
    rx_sensitivity: float
    rx_overload: float
    loss_db_per_km: float


OPTICS: dict[str, OpticSpec] = {
    "1000BASE-LX": OpticSpec(
        "ETH_1000BASE_LX10", "SFP", "SPEED_1GB", 1000, 1310, -11.0, -3.0, -19.0, -3.0, 0.4
    ),
    "1000BASE-BX": OpticSpec(
        "ETH_1000BASE_BX10", "SFP", "SPEED_1GB", 1000, 1310, -9.0, -3.0, -19.5, -3.0, 0.4
    ),
    "1000BASE-SX": OpticSpec(
        "ETH_1000BASE_SX", "SFP", "SPEED_1GB", 1000, 850, -9.5, -4.0, -17.0, 0.0, 3.0
    ),
    "10GBASE-LR": OpticSpec(
        "ETH_10GBASE_LR", "SFP_PLUS", "SPEED_10GB", 10000, 1310, -8.2, 0.5, -14.4, 0.5, 0.4
    ),
    "10GBASE-SR": OpticSpec(
        "ETH_10GBASE_SR", "SFP_PLUS", "SPEED_10GB", 10000, 850, -7.3, -1.0, -9.9, -1.0, 3.0
    ),
}


@dataclass
class Degradation:
    step_db: float
    every_s: float
    since: float
    max_db: float = 30.0


@dataclass
class SimPort:
    """One port and, when it has one, its transceiver. Handles for faults live here."""

    name: str
    ifindex: int
    clock: Clock
    optic: OpticSpec | None = None
    description: str = ""
    enabled: bool = True
    vlans: list[int] = field(default_factory=list)
    peer: SimPort | None = None
    path_loss_db: float = 1.5
    """Fibre attenuation plus connectors between this port and the far end."""
    tx_dbm: float = -6.0
    bias_ma: float = 18.0
    temp_c: float = 38.0
    serial: str = ""
    link_fault: bool = False
    """The fibre is cut / unplugged (both ends see it when the fleet sets it)."""
    degradation: Degradation | None = None
    crc_per_s: float = 0.0
    counters: dict[str, float] = field(default_factory=dict)
    carrier_transitions: int = 0
    last_change_ns: int = 0
    rate_bps: float = 40e6
    _oper: str = "UP"
    _last: float = 0.0
    _rx_min: float = 0.0
    _rx_max: float = -99.0

    # -- handles -----------------------------------------------------------

    def set_link(self, up: bool) -> None:
        self.link_fault = not up
        self.tick()

    def degrade(self, step_db: float = 1.0, every_s: float = 10.0, max_db: float = 30.0) -> None:
        """Receive power drops by ``step_db`` every ``every_s`` seconds of the device clock."""
        self.tick()
        self.degradation = Degradation(step_db, every_s, self.clock.monotonic(), max_db)

    def restore(self) -> None:
        """Clear link, optic and CRC faults."""
        self.link_fault = False
        self.degradation = None
        self.crc_per_s = 0.0
        self.tick()

    # -- model -------------------------------------------------------------

    def extra_loss(self) -> float:
        d = self.degradation
        if d is None:
            return 0.0
        steps = int(max(0.0, self.clock.monotonic() - d.since) // d.every_s)
        return min(d.max_db, steps * d.step_db)

    def rx_dbm(self) -> float:
        if self.optic is None:
            return LOS_DBM
        if self.link_fault or (
            self.peer is not None and (self.peer.link_fault or not self.peer.enabled)
        ):
            return LOS_DBM
        far_tx = (
            self.peer.tx_dbm
            if self.peer is not None
            else (self.optic.tx_min + self.optic.tx_max) / 2
        )
        return far_tx - self.path_loss_db - self.extra_loss()

    def signal_ok(self) -> bool:
        if self.optic is None:
            return not self.link_fault
        return self.rx_dbm() >= self.optic.rx_sensitivity - 2.0

    def oper_status(self) -> str:
        if not self.enabled:
            return "DOWN"
        if not self.signal_ok():
            return "DOWN"
        if self.peer is not None and not self.peer.signal_ok():
            return "DOWN"  # the far end lost our light: no link (no RX -> remote fault)
        return "UP"

    def tick(self) -> None:
        now = self.clock.monotonic()
        dt = max(0.0, now - self._last)
        self._last = now
        oper = self.oper_status()
        if oper != self._oper:
            self._oper = oper
            self.carrier_transitions += 1
            self.last_change_ns = int(self.clock.now().timestamp() * 1e9)
        c = self.counters
        if oper == "UP" and dt > 0:
            rate = self.rate_bps / 8
            c["in-octets"] = c.get("in-octets", 0.0) + rate * dt
            c["out-octets"] = c.get("out-octets", 0.0) + rate * 0.4 * dt
            c["in-unicast-pkts"] = c.get("in-unicast-pkts", 0.0) + rate * dt / 800
            c["out-unicast-pkts"] = c.get("out-unicast-pkts", 0.0) + rate * 0.4 * dt / 800
            if self.crc_per_s:
                c["in-fcs-errors"] = c.get("in-fcs-errors", 0.0) + self.crc_per_s * dt
                c["in-errors"] = c.get("in-errors", 0.0) + self.crc_per_s * dt
        rx = self.rx_dbm()
        if self.optic is not None and rx > LOS_DBM:
            self._rx_min = min(self._rx_min, rx) if self._rx_max > -99 else rx
            self._rx_max = max(self._rx_max, rx)


def _d(v: float, digits: int = 2) -> str:
    """decimal64 in RFC 7951 JSON: a string."""
    return f"{v:.{digits}f}"


def _stat(v: float, lo: float, hi: float, digits: int = 2) -> dict[str, str]:
    return {
        "instant": _d(v, digits),
        "avg": _d(v, digits),
        "min": _d(lo, digits),
        "max": _d(hi, digits),
    }


class FibreSwitch(SimDevice):
    kind = "switch"

    def __init__(
        self,
        device_id: str,
        *,
        clock: Clock,
        ports: list[tuple[str, str | None]],
        username: str = "admin",
        password: str,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: SimIdentity | None = None,
        hostname: str | None = None,
        seed: int | None = None,
        model: str = "MoGlI FX-8",
        viewer: str | None = "monitor",
    ) -> None:
        """``ports``: (name, optic type such as "1000BASE-LX", or None for copper).
        ``viewer``: a read-only account (no PATCH) with the same password."""
        super().__init__(device_id, clock=clock, host=host, port=port, tls=tls)
        self.rng = random.Random(seed if seed is not None else device_id)
        self.users: dict[str, tuple[str, bool]] = {username: (password, False)}
        if viewer is not None and viewer != username:
            self.users[viewer] = (password, True)
        self.hostname = hostname or device_id
        self.model = model
        self.serial = f"FX{self.rng.randrange(10**9):09d}"
        self.firmware = "4.2.1"
        self._booted_at = clock.monotonic() - self.rng.uniform(3600, 86400)
        self._boot_wall = clock.now().timestamp() - (clock.monotonic() - self._booted_at)
        self.ports: dict[str, SimPort] = {}
        for idx, (name, optic) in enumerate(ports, start=1):
            spec = OPTICS[optic] if optic else None
            p = SimPort(name=name, ifindex=idx, clock=clock, optic=spec)
            if spec is not None:
                p.tx_dbm = round(self.rng.uniform(spec.tx_min + 2.0, spec.tx_max - 1.0), 2)
                p.bias_ma = round(self.rng.uniform(12, 30), 2)
                p.temp_c = round(self.rng.uniform(32, 46), 1)
                p.serial = f"OP{self.rng.randrange(10**8):08d}"
            else:
                p.rate_bps = 5e6
            p._last = clock.monotonic()
            self.ports[name] = p

    # -- handles -----------------------------------------------------------

    def interface(self, name: str) -> SimPort:
        return self.ports[name]

    def add_user(self, name: str, password: str, *, read_only: bool = False) -> None:
        self.users[name] = (password, read_only)

    def set_password(self, name: str, password: str) -> None:
        self.users[name] = (password, self.users[name][1])

    def reboot(self) -> None:
        now = self.clock.monotonic()
        self._booted_at = now
        self._boot_wall = self.clock.now().timestamp()
        for p in self.ports.values():
            p.counters.clear()
            p.carrier_transitions = 0

    @property
    def uptime(self) -> float:
        return max(0.0, self.clock.monotonic() - self._booted_at)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["uptime"] = int(self.uptime)
        d["ports"] = {
            n: {"oper": p.oper_status(), "rx_dbm": round(p.rx_dbm(), 2) if p.optic else None}
            for n, p in self.ports.items()
        }
        return d

    # -- data tree ---------------------------------------------------------

    def _interface(self, p: SimPort) -> dict[str, Any]:
        p.tick()
        c = p.counters
        cfg = {
            "name": p.name,
            "type": "iana-if-type:ethernetCsmacd",
            "description": p.description,
            "enabled": p.enabled,
            "mtu": 9216,
        }
        counters = {
            k: str(int(c.get(k, 0.0)) % 2**64)  # 64-bit counters wrap, as on the device
            for k in (
                "in-octets",
                "in-unicast-pkts",
                "in-errors",
                "in-discards",
                "in-fcs-errors",
                "out-octets",
                "out-unicast-pkts",
                "out-errors",
                "out-discards",
            )
        }
        counters["carrier-transitions"] = str(p.carrier_transitions)
        oper = p.oper_status()
        speed = p.optic.speed if p.optic else "SPEED_1GB"
        vlan_cfg: dict[str, Any] = {"interface-mode": "TRUNK", "trunk-vlans": list(p.vlans)}
        return {
            "name": p.name,
            "config": cfg,
            "state": {
                **cfg,
                "ifindex": p.ifindex,
                "admin-status": "UP" if p.enabled else "DOWN",
                "oper-status": oper,
                "last-change": str(p.last_change_ns),
                "counters": counters,
            },
            "openconfig-if-ethernet:ethernet": {
                "config": {
                    "port-speed": f"openconfig-if-ethernet:{speed}",
                    "auto-negotiate": p.optic is None,
                },
                "state": {
                    "port-speed": f"openconfig-if-ethernet:{speed}",
                    "negotiated-port-speed": f"openconfig-if-ethernet:{speed if oper == 'UP' else 'SPEED_UNKNOWN'}",
                    "hw-mac-address": f"02:42:ac:00:{p.ifindex:02x}:01",
                    "counters": {"in-crc-errors": counters["in-fcs-errors"]},
                },
                "openconfig-vlan:switched-vlan": {"config": vlan_cfg, "state": dict(vlan_cfg)},
            },
        }

    def _transceiver(self, p: SimPort) -> dict[str, Any]:
        assert p.optic is not None
        o = p.optic
        rx = p.rx_dbm()
        lo = min(p._rx_min, rx) if p._rx_max > -99 else rx
        hi = max(p._rx_max, rx)
        tx = p.tx_dbm if p.enabled and not p.link_fault else LOS_DBM
        bias = p.bias_ma if tx > LOS_DBM else 0.0

        def thr(sev: str, margin: float) -> dict[str, Any]:
            return {
                "severity": f"openconfig-alarm-types:{sev}",
                "state": {
                    "severity": f"openconfig-alarm-types:{sev}",
                    "input-power-upper": _d(o.rx_overload + margin),
                    "input-power-lower": _d(o.rx_sensitivity - margin),
                    "output-power-upper": _d(o.tx_max + margin),
                    "output-power-lower": _d(o.tx_min - margin),
                    "laser-bias-current-upper": _d(90.0 + 10 * margin),
                    "laser-bias-current-lower": _d(max(0.0, 4.0 - margin)),
                    "module-temperature-upper": _d(75.0 + 5 * margin, 1),
                    "module-temperature-lower": _d(-5.0 - 5 * margin, 1),
                },
            }

        return {
            "name": f"{p.name}-transceiver",
            "config": {"name": f"{p.name}-transceiver"},
            "state": {
                "name": f"{p.name}-transceiver",
                "type": "openconfig-platform-types:TRANSCEIVER",
                "parent": p.name,
                "mfg-name": "FlexOptix",
                "serial-no": p.serial,
                "part-no": f"S.{o.pmd}",
                "temperature": {
                    **_stat(p.temp_c, p.temp_c - 1, p.temp_c + 1, 1),
                    "alarm-status": False,
                },
            },
            "openconfig-platform-transceiver:transceiver": {
                "state": {
                    "present": "PRESENT",
                    "form-factor": f"openconfig-transport-types:{o.form_factor}",
                    "ethernet-pmd": f"openconfig-transport-types:{o.pmd}",
                    "vendor": "FlexOptix",
                    "vendor-part": f"S.{o.pmd}",
                    "serial-no": p.serial,
                    "date-code": "2024-03-11T00:00:00Z",
                    "fault-condition": rx <= LOS_DBM,
                },
                "physical-channels": {
                    "channel": [
                        {
                            "index": 0,
                            "state": {
                                "index": 0,
                                "description": f"{o.wavelength_nm} nm",
                                "input-power": _stat(rx, lo, hi),
                                "output-power": _stat(tx, tx, tx),
                                "laser-bias-current": _stat(bias, bias, bias),
                            },
                        }
                    ]
                },
                "thresholds": {"threshold": [thr("CRITICAL", 2.0), thr("WARNING", 1.0)]},
            },
        }

    def _components(self) -> dict[str, Any]:
        comps: list[dict[str, Any]] = [
            {
                "name": "chassis",
                "config": {"name": "chassis"},
                "state": {
                    "name": "chassis",
                    "type": "openconfig-platform-types:CHASSIS",
                    "description": self.model,
                    "mfg-name": "MoGlI Systems",
                    "part-no": self.model,
                    "serial-no": self.serial,
                    "software-version": self.firmware,
                    "hardware-version": "B1",
                    "temperature": _stat(41.5, 40.0, 44.0, 1),
                },
            }
        ]
        for p in self.ports.values():
            if p.optic is not None:
                p.tick()
                comps.append(self._transceiver(p))
        return {"component": comps}

    def _system(self) -> dict[str, Any]:
        now = self.clock.now()
        return {
            "config": {"hostname": self.hostname},
            "state": {
                "hostname": self.hostname,
                "current-datetime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "boot-time": str(int(self._boot_wall * 1e9)),
            },
        }

    def _tree(self) -> dict[str, Any]:
        return {
            "openconfig-interfaces:interfaces": {
                "interface": [self._interface(p) for p in self.ports.values()]
            },
            "openconfig-platform:components": self._components(),
            "openconfig-system:system": self._system(),
        }

    # -- wire --------------------------------------------------------------

    @staticmethod
    def _errors(
        status: int, tag: str, message: str, path: str | None = None, etype: str = "application"
    ) -> web.Response:
        err: dict[str, Any] = {"error-type": etype, "error-tag": tag, "error-message": message}
        if path:
            err["error-path"] = path
        body = json.dumps({"ietf-restconf:errors": {"error": [err]}})
        headers = {"WWW-Authenticate": 'Basic realm="restconf"'} if status == 401 else None
        return web.Response(status=status, text=body, content_type=YANG_JSON, headers=headers)

    def _auth(self, request: BaseRequest) -> tuple[str, bool] | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        try:
            user, _, pw = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        known = self.users.get(user)
        if known is None or not secrets.compare_digest(known[0], pw):
            return None
        return user, known[1]

    async def handle(self, request: BaseRequest) -> web.StreamResponse:
        path = request.rel_url.raw_path
        if path == "/.well-known/host-meta" and request.method == "GET":
            xrd = (
                "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n"
                "  <Link rel='restconf' href='/restconf'/>\n</XRD>\n"
            )
            return web.Response(text=xrd, content_type="application/xrd+xml")
        if path != "/restconf" and not path.startswith("/restconf/"):
            return web.Response(status=404, text="Not Found")
        who = self._auth(request)
        if who is None:
            return self._errors(401, "access-denied", "authentication failed", etype="protocol")
        accept = request.headers.get("Accept", YANG_JSON)
        if not any(a in accept for a in (YANG_JSON, "application/json", "*/*", "application/*")):
            return self._errors(406, "invalid-value", f"cannot produce {accept}", etype="protocol")
        if path in ("/restconf", "/restconf/"):
            if request.method != "GET":
                return self._errors(
                    405, "operation-not-supported", "method not allowed", etype="protocol"
                )
            return self._json(
                {
                    "ietf-restconf:restconf": {
                        "data": {},
                        "operations": {},
                        "yang-library-version": "2019-01-04",
                    }
                }
            )
        if not path.startswith("/restconf/data"):
            return self._errors(404, "invalid-value", "no such resource", etype="protocol")
        segments = [s for s in path[len("/restconf/data") :].split("/") if s]
        if request.method == "GET":
            return self._get(segments)
        if request.method == "PATCH":
            if who[1]:
                return self._errors(
                    403, "access-denied", "user may not write configuration", etype="protocol"
                )
            ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
            if ctype not in (YANG_JSON, "application/json"):
                return web.Response(status=415, text="Unsupported Media Type")
            raw = await request.read()
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                return self._errors(
                    400, "malformed-message", "request body is not valid JSON", etype="protocol"
                )
            return self._written(self._patch(segments, body))
        if request.method in ("PUT", "POST", "DELETE"):
            if who[1]:
                return self._errors(
                    403, "access-denied", "user may not write configuration", etype="protocol"
                )
            if request.method == "DELETE":
                return self._written(self._delete([unquote(s) for s in segments]))
            ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
            if ctype not in (YANG_JSON, "application/json"):
                return web.Response(status=415, text="Unsupported Media Type")
            try:
                body = json.loads(await request.read())
            except (ValueError, UnicodeDecodeError):
                return self._errors(
                    400, "malformed-message", "request body is not valid JSON", etype="protocol"
                )
            if request.method == "PUT":
                return self._written(self._put([unquote(s) for s in segments], body))
            return self._written(self._post([unquote(s) for s in segments], body))
        return self._errors(405, "operation-not-supported", "method not allowed", etype="protocol")

    def _written(self, resp: web.Response) -> web.Response:
        if resp.status < 300:
            self.wrote()
        return resp

    @staticmethod
    def _json(payload: Any) -> web.Response:
        return web.Response(text=json.dumps(payload), content_type=YANG_JSON)

    def _get(self, segments: list[str]) -> web.Response:
        if not segments:
            return self._json(self._tree())
        node: Any = self._tree()
        module = ""
        name = ""
        is_list_item = False
        for seg in segments:
            raw_name, eq, raw_key = seg.partition("=")
            qname = unquote(raw_name)
            prefix, _, local = qname.rpartition(":")
            if not isinstance(node, dict):
                return self._errors(404, "invalid-value", f"{qname}: no such node", path=qname)
            key = next(
                (k for k in node if k == qname or (not prefix and k.rpartition(":")[2] == local)),
                None,
            )
            if key is None:
                return self._errors(404, "invalid-value", f"uri keypath not found: {unquote(seg)}")
            kprefix = key.rpartition(":")[0]
            if kprefix:
                module = kprefix
            name = local
            node = node[key]
            is_list_item = False
            if eq:
                if not isinstance(node, list):
                    return self._errors(400, "invalid-value", f"{local} is not a list")
                want = unquote(raw_key)
                found = None
                for item in node:
                    keyval = item.get("name", item.get("index", item.get("severity")))
                    if str(keyval) == want or str(keyval).rpartition(":")[2] == want:
                        found = item
                        break
                if found is None:
                    return self._errors(
                        404, "invalid-value", f"uri keypath not found: {local}={want}"
                    )
                node = found
                is_list_item = True
        return self._json({f"{module}:{name}": [node] if is_list_item else node})

    def _patch(self, segments: list[str], body: Any) -> web.Response:
        decoded = [unquote(s) for s in segments]
        if not isinstance(body, dict) or len(body) != 1:
            return self._errors(
                400, "malformed-message", "body must hold exactly one top-level node"
            )
        ((top, value),) = body.items()
        items: list[Any]
        if (
            decoded == ["openconfig-interfaces:interfaces"]
            and top == "openconfig-interfaces:interfaces"
        ):
            items = value.get("interface", []) if isinstance(value, dict) else []
        elif (
            len(decoded) == 2
            and decoded[0] == "openconfig-interfaces:interfaces"
            and decoded[1].startswith("interface=")
            and top == "openconfig-interfaces:interface"
        ):
            items = value if isinstance(value, list) else []
            want = decoded[1].split("=", 1)[1]
            if any(not isinstance(i, dict) or i.get("name") != want for i in items):
                return self._errors(400, "invalid-value", "list key in body does not match the URI")
        elif (
            len(decoded) == 3
            and decoded[0] == "openconfig-interfaces:interfaces"
            and decoded[2] == "config"
            and top == "openconfig-interfaces:config"
        ):
            items = [{"name": decoded[1].split("=", 1)[1], "config": value}]
        else:
            return self._errors(
                405,
                "operation-not-supported",
                f"PATCH of {'/'.join(decoded) or 'the datastore'} is not supported",
            )
        if not isinstance(items, list):
            return self._errors(400, "malformed-message", "interface must be a list")
        checked = self._validate(items)
        if isinstance(checked, web.Response):
            return checked
        self._apply(checked)
        return web.Response(status=204)

    def _validate(
        self, items: list[Any], base: dict[str, Any] | None = None
    ) -> list[tuple[SimPort, dict[str, Any]]] | web.Response:
        """Interface entries checked as a whole: (port, leaves to set), or the error.

        ``base``: leaves every entry starts from (a PUT replaces with defaults)."""
        updates: list[tuple[SimPort, dict[str, Any]]] = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                return self._errors(400, "missing-element", "interface entry without name")
            port = self.ports.get(item["name"])
            where = f"/openconfig-interfaces:interfaces/interface[name='{item['name']}']"
            if port is None:
                return self._errors(
                    400,
                    "invalid-value",
                    f"interface {item['name']} does not exist on this device",
                    path=where,
                )
            upd: dict[str, Any] = dict(base or {})
            for k, v in item.items():
                if k == "name":
                    continue
                if k == "config" and isinstance(v, dict):
                    for leaf, lv in v.items():
                        if leaf == "description":
                            if not isinstance(lv, str) or len(lv) > 240:
                                return self._errors(
                                    400,
                                    "invalid-value",
                                    "description must be a string of up to 240 characters",
                                    path=f"{where}/config/description",
                                )
                            upd["description"] = lv
                        elif leaf == "enabled":
                            if not isinstance(lv, bool):
                                return self._errors(
                                    400,
                                    "invalid-value",
                                    "enabled must be true or false",
                                    path=f"{where}/config/enabled",
                                )
                            upd["enabled"] = lv
                        elif leaf == "name":
                            if lv != item["name"]:
                                return self._errors(
                                    400,
                                    "invalid-value",
                                    "config/name must equal the key",
                                    path=f"{where}/config/name",
                                )
                        elif leaf in ("type", "mtu"):
                            continue
                        else:
                            return self._errors(
                                400,
                                "unknown-element",
                                f"unknown leaf {leaf}",
                                path=f"{where}/config/{leaf}",
                            )
                elif k in ("openconfig-if-ethernet:ethernet", "ethernet") and isinstance(v, dict):
                    sv = v.get("openconfig-vlan:switched-vlan", v.get("switched-vlan"))
                    cfg = sv.get("config") if isinstance(sv, dict) else None
                    if not isinstance(cfg, dict):
                        return self._errors(
                            400,
                            "malformed-message",
                            "expected switched-vlan/config",
                            path=f"{where}/ethernet",
                        )
                    vl = cfg.get("trunk-vlans")
                    if vl is not None:
                        if not isinstance(vl, list) or not all(
                            isinstance(x, int) and not isinstance(x, bool) and 1 <= x <= 4094
                            for x in vl
                        ):
                            return self._errors(
                                400,
                                "invalid-value",
                                "trunk-vlans must be VLAN ids 1-4094",
                                path=f"{where}/ethernet/switched-vlan/config/trunk-vlans",
                            )
                        upd["vlans"] = sorted(set(vl))
                else:
                    return self._errors(
                        400,
                        "unknown-element",
                        f"unknown or read-only node {k}",
                        path=f"{where}/{k}",
                    )
            updates.append((port, upd))
        return updates

    @staticmethod
    def _apply(updates: list[tuple[SimPort, dict[str, Any]]]) -> None:
        for port, upd in updates:  # validated as a whole, then applied
            port.tick()
            if "description" in upd:
                port.description = upd["description"]
            if "enabled" in upd:
                port.enabled = upd["enabled"]
            if "vlans" in upd:
                port.vlans = upd["vlans"]
            port.tick()
            if port.peer is not None:
                port.peer.tick()

    # -- PUT, POST, DELETE (RFC 8040 4.4, 4.5, 4.7) on interface config --------

    def _target(self, decoded: list[str]) -> tuple[SimPort | None, list[str]] | web.Response:
        """(port, the path below it) for ``interfaces/interface=X/...``; (None, []) for the list."""
        if not decoded or decoded[0] != "openconfig-interfaces:interfaces":
            what = "/".join(decoded) or "the datastore"
            return self._errors(
                405, "operation-not-supported", f"writing {what} is not supported here"
            )
        if len(decoded) == 1:
            return None, []
        name, eq, key = decoded[1].partition("=")
        if name.rpartition(":")[2] != "interface" or not eq:
            return self._errors(400, "invalid-value", f"{decoded[1]}: expected interface=<name>")
        port = self.ports.get(key)
        if port is None:
            return self._errors(
                404, "invalid-value", f"uri keypath not found: interface={key}", path=decoded[1]
            )
        return port, [d.rpartition(":")[2] for d in decoded[2:]]

    @staticmethod
    def _one_node(body: Any, want: str) -> Any:
        """The value of the single top-level node ``want`` (module prefix optional), or KeyError."""
        if not isinstance(body, dict) or len(body) != 1:
            raise KeyError(want)
        ((top, value),) = body.items()
        if top.rpartition(":")[2] != want:
            raise KeyError(want)
        return value

    def _leaf_value(self, port: SimPort, leaf: str) -> Any:
        return {"description": port.description or None, "enabled": port.enabled}.get(leaf)

    def _put(self, decoded: list[str], body: Any) -> web.Response:
        target = self._target(decoded)
        if isinstance(target, web.Response):
            return target
        port, below = target
        where = "/" + "/".join(decoded)
        try:
            if port is None:
                return self._errors(
                    405,
                    "operation-not-supported",
                    "replacing the whole interface list is not supported (ports are physical)",
                )
            if not below:
                items = self._one_node(body, "interface")
                if not isinstance(items, list) or len(items) != 1:
                    return self._errors(400, "malformed-message", "expected one interface entry")
                if not isinstance(items[0], dict) or items[0].get("name") != port.name:
                    return self._errors(
                        400, "invalid-value", "list key in body does not match the URI", path=where
                    )
                base = {"description": "", "enabled": True, "vlans": []}
                checked = self._validate(items, base)
            elif below == ["config"]:
                cfg = self._one_node(body, "config")
                checked = self._validate(
                    [{"name": port.name, "config": cfg}], {"description": "", "enabled": True}
                )
            elif (
                len(below) == 2 and below[0] == "config" and below[1] in ("description", "enabled")
            ):
                value = self._one_node(body, below[1])
                checked = self._validate([{"name": port.name, "config": {below[1]: value}}])
            else:
                return self._errors(
                    405, "operation-not-supported", f"PUT of {where} is not supported"
                )
        except KeyError as exc:
            return self._errors(
                400,
                "malformed-message",
                f"body must hold exactly the target node {exc.args[0]}",
                path=where,
            )
        if isinstance(checked, web.Response):
            return checked
        self._apply(checked)
        return web.Response(status=204)  # the resource existed: replaced

    def _post(self, decoded: list[str], body: Any) -> web.Response:
        target = self._target(decoded)
        if isinstance(target, web.Response):
            return target
        port, below = target
        where = "/" + "/".join(decoded)
        if port is None:  # create interface entries
            try:
                items = self._one_node(body, "interface")
            except KeyError:
                return self._errors(400, "malformed-message", "expected an interface entry")
            if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
                return self._errors(400, "malformed-message", "expected one interface entry")
            name = items[0].get("name")
            if name in self.ports:
                return self._errors(
                    409,
                    "data-exists",
                    f"interface {name} already exists",
                    path=f"/openconfig-interfaces:interfaces/interface[name='{name}']",
                )
            return self._errors(
                400,
                "invalid-value",
                f"interface {name} cannot be created: this device's ports are physical",
                path=where,
            )
        if below == ["config"]:
            if not isinstance(body, dict) or len(body) != 1:
                return self._errors(400, "malformed-message", "expected one child node")
            ((top, value),) = body.items()
            leaf = top.rpartition(":")[2]
            if leaf not in ("description", "enabled"):
                return self._errors(
                    400, "unknown-element", f"unknown leaf {leaf}", path=f"{where}/{leaf}"
                )
            if self._leaf_value(port, leaf) is not None:
                return self._errors(
                    409, "data-exists", f"{leaf} already exists", path=f"{where}/{leaf}"
                )
            checked = self._validate([{"name": port.name, "config": {leaf: value}}])
            if isinstance(checked, web.Response):
                return checked
            self._apply(checked)
            loc = "/restconf/data/" + "/".join(quote(d, safe=":=") for d in decoded)
            loc += f"/{leaf}"
            return web.Response(status=201, headers={"Location": loc})
        return self._errors(405, "operation-not-supported", f"POST to {where} is not supported")

    def _delete(self, decoded: list[str]) -> web.Response:
        target = self._target(decoded)
        if isinstance(target, web.Response):
            return target
        port, below = target
        where = "/" + "/".join(decoded)
        if port is None or not below:
            return self._errors(
                405,
                "operation-not-supported",
                "interfaces cannot be deleted: this device's ports are physical",
                path=where,
            )
        upd: dict[str, Any]
        if below == ["config", "description"]:
            if not port.description:
                return self._errors(409, "data-missing", "description is not set", path=where)
            upd = {"description": ""}
        elif below == ["ethernet", "switched-vlan", "config", "trunk-vlans"]:
            if not port.vlans:
                return self._errors(409, "data-missing", "no trunk-vlans are set", path=where)
            upd = {"vlans": []}
        elif (
            len(below) == 4
            and below[:3] == ["ethernet", "switched-vlan", "config"]
            and below[3].startswith("trunk-vlans=")
        ):
            vid = below[3].split("=", 1)[1]
            if not vid.isdigit() or int(vid) not in port.vlans:
                return self._errors(409, "data-missing", f"VLAN {vid} is not trunked", path=where)
            upd = {"vlans": [v for v in port.vlans if v != int(vid)]}
        else:
            return self._errors(
                405, "operation-not-supported", f"DELETE of {where} is not supported", path=where
            )
        self._apply([(port, upd)])
        return web.Response(status=204)
