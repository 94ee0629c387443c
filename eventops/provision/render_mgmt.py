"""The management path of a mast: netifd's bridge-vlan rules, kept by :func:`~eventops.provision.render.resolve`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventops.adapters.base import Change
from eventops.errors import ProvisioningError

MGMT_IFACE = "lan"
"""The UCI interface the management address lives on."""
MGMT_VLAN = 1
"""The VLAN untagged management traffic is put in once the bridge filters VLANs."""
MGMT_BRIDGE_VLAN = "evo_mgmt_bv"


# -- the management path (netifd's bridge-vlan rules) ------------------------


def merge_uci(running: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """One UCI config after ``uci set`` of ``changes`` (options replace, None removes)."""
    out = {k: dict(v) for k, v in running.items() if isinstance(v, Mapping)}
    for sec, opts in changes.items():
        if not isinstance(opts, Mapping):
            continue
        cur = out.setdefault(sec, {})
        for k, v in opts.items():
            if v is None:
                cur.pop(k, None)
            else:
                cur[k] = v
    return out


def _list(v: Any) -> list[str]:
    if isinstance(v, list):
        return [str(x) for x in v]
    return str(v).split() if v is not None else []


def _bridge_ports(network: Mapping[str, Any]) -> dict[str, list[str]]:
    """Bridge device name -> its ports (``config device`` sections of type bridge)."""
    return {
        str(sec["name"]): _list(sec.get("ports"))
        for sec in network.values()
        if isinstance(sec, Mapping)
        and sec.get(".type") == "device"
        and sec.get("type") == "bridge"
        and "name" in sec
    }


def _bridge_vlans(network: Mapping[str, Any], bridge: str) -> dict[int, Mapping[str, Any]]:
    out: dict[int, Mapping[str, Any]] = {}
    for sec in network.values():
        if (
            isinstance(sec, Mapping)
            and sec.get(".type") == "bridge-vlan"
            and sec.get("device") == bridge
            and str(sec.get("vlan", "")).isdigit()
        ):
            out[int(str(sec["vlan"]))] = sec
    return dict(sorted(out.items()))


def _membership(vlan: Mapping[str, Any], port: str) -> tuple[bool, bool] | None:
    """(untagged, primary) of ``port`` in a bridge-vlan, or None if not a member.

    netifd: ``port`` is untagged, ``port:t`` tagged, ``*`` marks the primary VLAN (PVID).
    """
    for spec in _list(vlan.get("ports")):
        name, _, flags = spec.partition(":")
        if name == port:
            return "t" not in flags, "*" in flags
    return None


def port_pvid(network: Mapping[str, Any], bridge: str, port: str) -> int | None:
    """The VLAN untagged frames arriving on ``port`` go to (netifd: the VLAN marked
    ``*``, else the lowest VLAN the port is an untagged member of), or None: dropped."""
    first_untagged = None
    star = None
    for vid, vlan in _bridge_vlans(network, bridge).items():
        m = _membership(vlan, port)
        if m is None:
            continue
        untagged, primary = m
        if primary:
            star = vid
        elif untagged and first_untagged is None:
            first_untagged = vid
    return star if star is not None else first_untagged


def management_problems(
    network: Mapping[str, Any], iface: str = MGMT_IFACE, uplink: str | None = None
) -> list[str]:
    """Why untagged management traffic on the uplink would not reach ``iface``; [] if it does.

    The rules are netifd's: a bridge with any ``bridge-vlan`` section filters
    VLANs; the bridge itself then joins each VLAN tagged only (``local``), so
    the interface must sit on ``<bridge>.<vid>``, and the uplink port's
    untagged frames must land in that VLAN (its PVID). ``uplink`` defaults to
    the bridge's first port.
    """
    sec = network.get(iface)
    if not isinstance(sec, Mapping):
        return [f"no interface {iface!r}"]
    if sec.get("proto", "static") == "static" and not sec.get("ipaddr"):
        return [f"interface {iface!r} is static without an address"]
    dev = sec.get("device")
    if not isinstance(dev, str):
        return []  # pre-DSA (ifname) configs: outside these rules
    base, _, vid_s = dev.partition(".")
    bridges = _bridge_ports(network)
    if base not in bridges:
        return []  # directly on a port (or its VLAN): no bridge in the path
    ports = bridges[base]
    up = uplink or (ports[0] if ports else None)
    if up is None or up not in ports:
        return [f"uplink port {up or '(none)'} is not a port of bridge {base}"]
    vlans = _bridge_vlans(network, base)
    if not vlans:
        if vid_s:
            return [
                f"{iface} is on {dev}, but {base} filters no VLANs: untagged management "
                f"on {up} never reaches VLAN {vid_s}"
            ]
        return []
    if not vid_s:
        return [
            f"{iface} uses plain {base}, but {base} has bridge-vlan sections (VLAN "
            f"filtering on): the bridge itself only joins VLANs tagged, so untagged "
            f"management on {up} is cut (put {iface} on {base}.<vid>)"
        ]
    if not vid_s.isdigit() or int(vid_s) not in vlans:
        return [f"{iface} is on {dev}, but {base} has no bridge-vlan {vid_s}"]
    vid = int(vid_s)
    if str(vlans[vid].get("local", "1")) == "0":
        return [f"bridge-vlan {vid} of {base} has local 0: the bridge itself is not in it"]
    pvid = port_pvid(network, base, up)
    if pvid != vid:
        where = f"VLAN {pvid}" if pvid is not None else "no VLAN (dropped)"
        return [f"untagged frames on {up} go to {where}, not the management VLAN {vid}"]
    return []


def _keep_management_path(device: str, network: dict[str, Any], running: Mapping[str, Any]) -> None:
    """Add the management VLAN when the rendered VLANs would cut the management path."""
    merged = merge_uci(running, network)
    if not management_problems(merged):
        return
    lan = merged.get(MGMT_IFACE, {})
    dev = lan.get("device") if isinstance(lan, Mapping) else None
    bridge = str(dev).partition(".")[0] if isinstance(dev, str) else "br-lan"
    ports = _bridge_ports(merged).get(bridge)
    if ports is None:
        return  # nothing we rendered touches a bridge we know
    network[MGMT_BRIDGE_VLAN] = {
        ".type": "bridge-vlan",
        "device": bridge,
        "vlan": str(MGMT_VLAN),
        "ports": [f"{p}:u*" for p in ports],
    }
    network[MGMT_IFACE] = {**network.get(MGMT_IFACE, {}), "device": f"{bridge}.{MGMT_VLAN}"}
    problems = management_problems(merge_uci(running, network))
    if problems:
        raise ProvisioningError(
            f"{device}: the rendered network config would cut the management path: {problems[0]}"
        )


def _untagged_specs(v: Any) -> bool:
    """Port specs that carry untagged frames (``lan1``, ``lan1:u*``, ``lan1:*``)."""
    return any("t" not in spec.partition(":")[2] for spec in _list(v))


def management_path_changes(changes: list[Change]) -> list[tuple[str, str]]:
    """(path, reason) for each planned change that touches the management path.

    The management interface's address, device, protocol, netmask or
    gateway; the management bridge VLAN; bridge ports and any bridge-vlan
    membership that carries untagged frames (it can move a port's PVID).
    Tagged-only VLAN memberships (SSID VLANs on ``lan1:t``) do not touch it.
    """
    out: list[tuple[str, str]] = []
    by_path = {c.path: c for c in changes}
    mgmt_bv = f"network.{MGMT_BRIDGE_VLAN}"
    for c in changes:
        if not c.path.startswith("network."):
            continue
        parts = c.path.split(".")
        if len(parts) == 2 and c.op in ("add", "remove") and c.path == mgmt_bv:
            out.append((c.path, f"puts management on VLAN {MGMT_VLAN} of the bridge"))
        elif len(parts) == 2 and c.op == "remove":
            out.append((c.path, "removes a network section (bridge or VLAN)"))
        elif len(parts) == 3 and parts[1] == MGMT_IFACE:
            if parts[2] == "ipaddr":
                out.append((c.path, "moves the management address"))
            elif parts[2] in ("device", "proto", "netmask", "gateway", "ifname"):
                out.append((c.path, f"changes the management interface's {parts[2]}"))
        elif len(parts) == 3 and parts[2] in ("ports", "vlan", "local"):
            sec = by_path.get(".".join(parts[:2]))
            if ".".join(parts[:2]) == mgmt_bv:
                continue  # flagged with the section
            if parts[2] == "ports" and not (_untagged_specs(c.old) or _untagged_specs(c.new)):
                continue  # tagged-only membership: untagged management is unaffected
            if parts[2] != "ports" and sec is not None and sec.op == "add":
                continue  # a new VLAN's id/local: only its ports can touch management
            out.append((c.path, "changes which VLAN untagged frames on a bridge port reach"))
    return out
