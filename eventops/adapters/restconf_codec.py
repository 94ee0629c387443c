"""RESTCONF (RFC 8040) and OpenConfig message handling, without sockets.

- :func:`parse_host_meta`: the RESTCONF root from ``/.well-known/host-meta`` (XRD).
- :func:`data_path`: ``{root}/data/...`` with module-qualified top nodes and
  percent-encoded list keys (``interface=Ethernet1%2F1``).
- :func:`error_for`: an ``ietf-restconf:errors`` body (or its absence) and
  the HTTP status to the eventops exception hierarchy.
- RFC 7951 numbers: 64-bit integers and decimal64 arrive as strings
  (:func:`u64`, :func:`dec`).
- OpenConfig readers: interfaces (:func:`interfaces_from`), transceivers
  (:func:`optics_from`), the config tree (:func:`config_from`) and the
  PATCH body for interface changes (:func:`patch_body`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from eventops.adapters.base import InterfaceStatus, OpticStatus, OpticThresholds
from eventops.errors import (
    AuthenticationFailed,
    DeviceError,
    PermissionDenied,
    ProtocolError,
    Unsupported,
)

YANG_JSON = "application/yang-data+json"
IF_MODULE = "openconfig-interfaces"
PLATFORM_MODULE = "openconfig-platform"
SYSTEM_MODULE = "openconfig-system"

_LINK = re.compile(r"<Link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"""(\w+)\s*=\s*(?:'([^']*)'|"([^"]*)")""")


def parse_host_meta(text: str) -> str | None:
    """The ``href`` of the ``rel='restconf'`` link in an XRD document, if any."""
    for tag in _LINK.findall(text[:65536]):
        attrs = {
            m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _ATTR.finditer(tag)
        }
        if attrs.get("rel") == "restconf" and attrs.get("href"):
            href = attrs["href"].rstrip("/")
            if not href.startswith("/") or any(c in href for c in "?#\\ "):
                return None
            return href
    return None


def key_segment(name: str, *keys: str | int) -> str:
    """A list entry segment: ``name=k1,k2`` with each key percent-encoded."""
    return name + "=" + ",".join(quote(str(k), safe="") for k in keys)


def data_path(root: str, *segments: str) -> str:
    """``{root}/data/seg/seg`` (segments already encoded with :func:`key_segment`)."""
    return "/".join([root.rstrip("/") + "/data", *segments])


def decode_json(device: str, raw: bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        snippet = raw[:40].decode("utf-8", "replace")
        raise ProtocolError(
            device, f"{what}: malformed JSON from RESTCONF server ({snippet!r})"
        ) from None


def error_for(device: str, status: int, raw: bytes, what: str) -> DeviceError:
    """The exception for a non-2xx answer."""
    tag: str | None = None
    message = ""
    path = ""
    try:
        body = json.loads(raw) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    if isinstance(body, Mapping):
        errs = body.get("ietf-restconf:errors", body.get("errors"))
        lst = errs.get("error") if isinstance(errs, Mapping) else None
        if isinstance(lst, list) and lst and isinstance(lst[0], Mapping):
            first = lst[0]
            tag = str(first.get("error-tag", "")) or None
            message = str(first.get("error-message", ""))
            path = str(first.get("error-path", ""))
    detail = f"{tag}" if tag else f"HTTP {status}"
    if message:
        detail += f": {message}"
    if path:
        detail += f" at {path}"
    text = f"{what}: {detail} (HTTP {status})" if tag else f"{what}: HTTP {status}"
    if status == 401:
        return AuthenticationFailed(device, f"{what}: credentials refused (HTTP 401)")
    if status == 403 or tag == "access-denied":
        return PermissionDenied(device, text)
    if tag == "operation-not-supported" or status in (405, 501):
        return Unsupported(device, text)
    if status == 404 and tag in (None, "invalid-value", "data-missing"):
        return Unsupported(device, text)
    return ProtocolError(device, text, code=tag or status, text=message)


def u64(v: Any) -> int:
    """An RFC 7951 64-bit integer (a string, or a number from lax servers)."""
    if isinstance(v, bool):
        return 0
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            return 0
    return 0


def dec(v: Any) -> float | None:
    """An RFC 7951 decimal64 (a string)."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def member(node: Any, name: str) -> Any:
    """A child by name, module-qualified or not (``ethernet`` finds ``openconfig-if-ethernet:ethernet``)."""
    if not isinstance(node, Mapping):
        return None
    if name in node:
        return node[name]
    local = name.rpartition(":")[2]
    for k, v in node.items():
        if k.rpartition(":")[2] == local:
            return v
    return None


def unwrap(body: Any, name: str) -> Any:
    """The payload of a GET answer, whose single top member is module-qualified."""
    return member(body, name)


def _identity(v: Any) -> str:
    return str(v).rpartition(":")[2] if v is not None else ""


def _ns_time(v: Any) -> datetime | None:
    ns = u64(v)
    if ns <= 0:
        return None
    return datetime.fromtimestamp(ns / 1e9, UTC)


_SPEEDS = {
    "SPEED_10MB": 10,
    "SPEED_100MB": 100,
    "SPEED_1GB": 1000,
    "SPEED_2500MB": 2500,
    "SPEED_5GB": 5000,
    "SPEED_10GB": 10000,
    "SPEED_25GB": 25000,
    "SPEED_40GB": 40000,
    "SPEED_100GB": 100000,
}


def interfaces_from(interfaces: Any) -> list[InterfaceStatus]:
    out = []
    for i in member(interfaces, "interface") or []:
        if not isinstance(i, Mapping):
            continue
        st = member(i, "state") or {}
        cfg = member(i, "config") or {}
        c = member(st, "counters") or {}
        eth = member(member(i, "ethernet"), "state") or {}
        speed = _SPEEDS.get(_identity(member(eth, "negotiated-port-speed"))) or _SPEEDS.get(
            _identity(member(eth, "port-speed"))
        )
        oper = str(member(st, "oper-status") or "UNKNOWN")
        out.append(
            InterfaceStatus(
                name=str(member(i, "name")),
                oper_status=oper,
                admin_status=str(
                    member(st, "admin-status")
                    or ("UP" if member(cfg, "enabled") is not False else "DOWN")
                ),
                description=str(member(st, "description") or member(cfg, "description") or ""),
                carrier=oper == "UP",
                speed_mbps=float(speed) if speed else None,
                mtu=member(st, "mtu") if isinstance(member(st, "mtu"), int) else None,
                in_octets=u64(member(c, "in-octets")),
                out_octets=u64(member(c, "out-octets")),
                in_errors=u64(member(c, "in-errors")),
                out_errors=u64(member(c, "out-errors")),
                in_discards=u64(member(c, "in-discards")),
                out_discards=u64(member(c, "out-discards")),
                in_fcs_errors=u64(member(c, "in-fcs-errors")),
                carrier_transitions=u64(member(c, "carrier-transitions")),
                last_change=_ns_time(member(st, "last-change")),
            )
        )
    return out


_THRESHOLD_LEAVES = {
    "input-power-upper": "input_power_upper",
    "input-power-lower": "input_power_lower",
    "output-power-upper": "output_power_upper",
    "output-power-lower": "output_power_lower",
    "laser-bias-current-upper": "laser_bias_upper",
    "laser-bias-current-lower": "laser_bias_lower",
    "module-temperature-upper": "temperature_upper",
    "module-temperature-lower": "temperature_lower",
}


def optics_from(components: Any, ports: Sequence[str] = ()) -> list[OpticStatus]:
    """Transceivers, each named by the port it sits in (``state/parent``, else a name match)."""
    out = []
    for comp in member(components, "component") or []:
        xcvr = member(comp, "transceiver")
        if not isinstance(xcvr, Mapping):
            continue
        cstate = member(comp, "state") or {}
        name = str(member(comp, "name") or "")
        parent = member(cstate, "parent")
        port = str(parent) if parent else next((p for p in ports if name.startswith(p)), name)
        xs = member(xcvr, "state") or {}
        rx: list[float] = []
        tx: list[float] = []
        bias: list[float] = []
        channels = member(member(xcvr, "physical-channels"), "channel") or []
        for ch in sorted(
            (c for c in channels if isinstance(c, Mapping)), key=lambda c: u64(member(c, "index"))
        ):
            s = member(ch, "state") or {}
            for lst, leaf in (
                (rx, "input-power"),
                (tx, "output-power"),
                (bias, "laser-bias-current"),
            ):
                v = dec(member(member(s, leaf), "instant"))
                if v is not None:
                    lst.append(v)
        thresholds: dict[str, OpticThresholds] = {}
        for t in member(member(xcvr, "thresholds"), "threshold") or []:
            ts = member(t, "state") or {}
            sev = _identity(member(t, "severity") or member(ts, "severity")).lower()
            if sev:
                thresholds[sev] = OpticThresholds(
                    **{py: dec(member(ts, leaf)) for leaf, py in _THRESHOLD_LEAVES.items()}
                )
        present = member(xs, "present")
        out.append(
            OpticStatus(
                port=port,
                present=present in (None, "PRESENT", True),
                form_factor=_identity(member(xs, "form-factor")),
                ethernet_pmd=_identity(member(xs, "ethernet-pmd")),
                vendor=str(member(xs, "vendor") or ""),
                serial=str(member(xs, "serial-no") or ""),
                rx_power_dbm=rx,
                tx_power_dbm=tx,
                laser_bias_ma=bias,
                temperature_c=dec(member(member(cstate, "temperature"), "instant")),
                thresholds=thresholds,
            )
        )
    return out


def _vlans(i: Any) -> list[int]:
    sv = member(member(i, "ethernet"), "switched-vlan")
    cfg = member(sv, "config") or member(sv, "state") or {}
    out: set[int] = set()
    for v in member(cfg, "trunk-vlans") or []:
        if isinstance(v, int) and not isinstance(v, bool):
            out.add(v)
        elif isinstance(v, str) and ".." in v:
            lo, _, hi = v.partition("..")
            if lo.isdigit() and hi.isdigit():
                out.update(range(int(lo), int(hi) + 1))
    access = member(cfg, "access-vlan")
    if isinstance(access, int) and member(cfg, "interface-mode") == "ACCESS":
        out = {access}
    return sorted(out)


def config_from(interfaces: Any) -> dict[str, Any]:
    """The config tree ``{"interfaces": {name: {description, enabled, vlans}}}``."""
    tree: dict[str, Any] = {}
    for i in member(interfaces, "interface") or []:
        if not isinstance(i, Mapping):
            continue
        cfg = member(i, "config") or {}
        tree[str(member(i, "name"))] = {
            "description": str(member(cfg, "description") or ""),
            "enabled": member(cfg, "enabled") is not False,
            "vlans": _vlans(i),
        }
    return {"interfaces": tree}


def patch_body(changes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A merge body for ``PATCH .../openconfig-interfaces:interfaces``.

    ``changes``: interface name -> the leaves to set (description, enabled, vlans).
    """
    items = []
    for name, leaves in changes.items():
        item: dict[str, Any] = {"name": name}
        cfg: dict[str, Any] = {}
        if "description" in leaves:
            cfg["description"] = str(leaves["description"])
        if "enabled" in leaves:
            cfg["enabled"] = bool(leaves["enabled"])
        if cfg:
            item["config"] = {"name": name, **cfg}
        if "vlans" in leaves:
            item["openconfig-if-ethernet:ethernet"] = {
                "openconfig-vlan:switched-vlan": {
                    "config": {
                        "interface-mode": "TRUNK",
                        "trunk-vlans": [int(v) for v in leaves["vlans"]],
                    }
                }
            }
        items.append(item)
    return {f"{IF_MODULE}:interfaces": {"interface": items}}
