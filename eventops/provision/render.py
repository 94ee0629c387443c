"""Desired state: what each device's config should be, rendered from the profile.

Settings override in the order event defaults → site → device:

- ``country`` and ``ssids``: the most specific level that sets them wins
  (an SSID list replaces the one above it as a whole, so a site can drop a
  default SSID);
- ``radios``: merged per band, so a mast that only moves its 5 GHz radio
  keeps the site's 2.4 GHz settings.

Masts (``openwrt``) render to UCI: ``system`` (hostname), ``network``
(the management address when the profile reaches the mast on a routable
IPv4 address; one interface and bridge-vlan per SSID VLAN) and ``wireless``
(radios with channel, width, tx power, country; one ``wifi-iface`` per SSID
and band). Sections whose names differ per device are written as
placeholders (``@system[0]``, ``@wifi-device[band=5g]``) and resolved
against the config read from the device by :func:`resolve`, which also
disables every access point the profile does not name (a factory "OpenWrt"
open network must not stay on air).

The management path is kept (see :func:`management_problems`, which
encodes netifd's bridge-vlan rules): once SSID VLANs add ``bridge-vlan``
sections to the mast's bridge, VLAN filtering is on and the bridge itself
only joins VLANs tagged, so :func:`resolve` adds the management VLAN
(:data:`MGMT_VLAN`, every bridge port untagged and primary) and moves the
management interface onto ``br-lan.<MGMT_VLAN>``; a result that would
still cut the management path is refused. :func:`management_path_changes`
names the planned changes that touch the management path (for ``plan``).

Fibre endpoints (``restconf``) render to
``{"interfaces": {port: {"description", "enabled", "vlans"}}}``.

Secrets stay :class:`~eventops.secrets.SecretRef` leaves in the rendered
tree; :func:`materialise` reads them (off the event loop) only when a
driver needs the values, and :func:`redacted_diff` never carries them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from eventops.adapters.base import SECRET_KEYS, Change, ConfigDiff, ConfigTree, flatten
from eventops.errors import ProvisioningError
from eventops.profile.models import Mast, Profile, Radio, Ssid, Switch
from eventops.profile.regulatory import DFS, bonded_block
from eventops.secrets import SecretRef

ENCRYPTION: dict[str, str] = {
    "open": "none",
    "owe": "owe",
    "wpa2": "psk2+ccmp",
    "wpa3": "sae",
    "wpa2-wpa3": "sae-mixed",
    "wpa2-enterprise": "wpa2+ccmp",
}
WEATHER_RADAR = frozenset({120, 124, 128})
"""ETSI EN 301 893: channels overlapping 5600-5650 MHz listen 10 minutes, not 1."""

MGMT_IFACE = "lan"
"""The UCI interface the management address lives on."""
MGMT_VLAN = 1
"""The VLAN untagged management traffic is put in once the bridge filters VLANs."""
MGMT_BRIDGE_VLAN = "evo_mgmt_bv"

_PLACEHOLDER = re.compile(r"^@([A-Za-z0-9_-]+)\[(?:(\d+)|([A-Za-z0-9_]+)=([^\]]*))\]$")
SECRET_MARK = "(secret)"


@dataclass(frozen=True)
class DfsNote:
    """A DFS channel: the radio listens for radar before it transmits."""

    radio: str
    """The radio's section (placeholder until resolved)."""
    band: str
    channel: int
    cac_s: int

    def text(self) -> str:
        mins = self.cac_s // 60
        return (
            f"{self.band} channel {self.channel} is a DFS channel: the radio listens for radar "
            f"for {mins} min before it transmits (channel availability check, not a failure)"
        )


@dataclass
class Desired:
    """One device's desired config, before resolution against the device."""

    device: str
    driver: str
    tree: ConfigTree
    dfs: list[DfsNote] = field(default_factory=list)
    required_radios: set[str] = field(default_factory=set)
    """Radio placeholders the profile configures: the device must have them. An
    SSID on a band the profile leaves alone is dropped where the device lacks it."""


# -- effective settings ----------------------------------------------------


@dataclass(frozen=True)
class MastSettings:
    country: str | None
    ssids: list[Ssid]
    radios: list[Radio]


def effective(profile: Profile, mast: Mast) -> MastSettings:
    """The settings that apply to ``mast``: event defaults → site → mast."""
    site = profile.site_of(mast)
    levels = [profile.defaults.mast]
    if site is not None:
        levels.append(site.mast)
    country: str | None = None
    ssids: list[Ssid] = []
    radios: dict[str, Radio] = {}
    for lvl in levels:
        if lvl.country is not None:
            country = lvl.country
        if lvl.ssids is not None:
            ssids = list(lvl.ssids)
        for r in lvl.radios or []:
            radios[r.band] = r
    if mast.country is not None:
        country = mast.country
    if mast.ssids is not None:
        ssids = list(mast.ssids)
    for r in mast.radios or []:
        radios[r.band] = r
    return MastSettings(country, ssids, [radios[b] for b in sorted(radios)])


# -- rendering -------------------------------------------------------------


def _b(v: bool) -> str:
    return "1" if v else "0"


def _slug(name: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return s[:24] or "ssid"


def cac_seconds(band: str, channel: int, width: int) -> int | None:
    """Radar listening time before transmitting, or None for a non-DFS channel."""
    if band != "5g":
        return None
    block = bonded_block(band, channel, width) or (channel,)
    if not any(ch in DFS for ch in block):
        return None
    return 600 if any(ch in WEATHER_RADAR for ch in block) else 60


def _mgmt_ipv4(mast: Mast) -> str | None:
    host = urlsplit(mast.management.url).hostname
    try:
        addr = ipaddress.ip_address(host or "")
    except ValueError:
        return None
    if addr.version != 4 or addr.is_loopback or addr.is_unspecified:
        return None
    return str(addr)


def render_mast(profile: Profile, mast: Mast) -> Desired:
    st = effective(profile, mast)
    system: dict[str, Any] = {"@system[0]": {"hostname": mast.hostname or mast.id}}
    network: dict[str, Any] = {}
    wireless: dict[str, Any] = {}
    dfs: list[DfsNote] = []
    ip = _mgmt_ipv4(mast)
    if ip is not None:
        network["lan"] = {"ipaddr": ip}
    radio_of: dict[str, str] = {}
    for r in st.radios:
        key = f"@wifi-device[band={r.band}]"
        radio_of[r.band] = key
        opts: dict[str, Any] = {
            "channel": str(r.channel),
            "htmode": f"HE{r.width}",
            "txpower": str(round(r.tx_power_dbm)),
            "disabled": _b(not r.enabled),
        }
        if st.country is not None:
            opts["country"] = st.country
        wireless[key] = opts
        cac = cac_seconds(r.band, r.channel, r.width)
        if cac is not None and r.enabled:
            dfs.append(DfsNote(key, r.band, r.channel, cac))
    vlans = sorted({s.vlan for s in st.ssids if s.vlan is not None})
    for vid in vlans:
        network[f"vlan{vid}"] = {
            ".type": "interface",
            "device": f"br-lan.{vid}",
            "proto": "none",
        }
        network[f"vlan{vid}_bv"] = {
            ".type": "bridge-vlan",
            "device": "br-lan",
            "vlan": str(vid),
            "ports": ["lan1:t"],
        }
    used: set[str] = set()
    for ssid in st.ssids:
        slug = _slug(ssid.name)
        base, n = slug, 2
        while slug in used:
            slug, n = f"{base}{n}", n + 1
        used.add(slug)
        for band in ssid.bands:
            iface: dict[str, Any] = {
                ".type": "wifi-iface",
                "device": radio_of.get(band, f"@wifi-device[band={band}]"),
                "mode": "ap",
                "network": f"vlan{ssid.vlan}" if ssid.vlan is not None else "lan",
                "ssid": ssid.name,
                "encryption": ENCRYPTION[ssid.security],
                "isolate": _b(ssid.isolation),
                "hidden": _b(ssid.hidden),
                "disabled": "0",
            }
            if ssid.key is not None:
                iface["key"] = ssid.key
            wireless[f"evo_{slug}_{band}"] = iface
    tree: ConfigTree = {"system": system, "wireless": wireless}
    if network:
        tree["network"] = network
    return Desired(mast.id, mast.driver, tree, dfs, set(radio_of.values()))


def render_switch(switch: Switch) -> Desired:
    ports = {
        p.name: {"description": p.description, "enabled": p.enabled, "vlans": sorted(set(p.vlans))}
        for p in switch.ports
    }
    return Desired(switch.id, switch.driver, {"interfaces": ports})


def render(profile: Profile, devices: list[str] | None = None) -> dict[str, Desired]:
    """The desired state of every device (or of the named ones), in profile order."""
    out: dict[str, Desired] = {}
    for d in profile.devices:
        if devices is not None and d.id not in devices:
            continue
        out[d.id] = render_mast(profile, d) if isinstance(d, Mast) else render_switch(d)
    return out


# -- resolution against the device -------------------------------------------


def _find_section(device: str, config: str, sections: Mapping[str, Any], ph: str) -> str:
    m = _PLACEHOLDER.match(ph)
    if m is None:
        return ph
    typ, index, key, value = m.groups()
    matching = [n for n, s in sections.items() if isinstance(s, Mapping) and s.get(".type") == typ]
    if index is not None:
        if int(index) < len(matching):
            return matching[int(index)]
        raise ProvisioningError(f"{device}: the device has no {config} section {ph}")
    for n in matching:
        if str(sections[n].get(key)) == value:
            return n
    what = f"{value} radio" if typ == "wifi-device" and key == "band" else f"{config} section {ph}"
    raise ProvisioningError(f"{device}: the device has no {what}")


def resolve(desired: Desired, running: ConfigTree) -> ConfigTree:
    """The desired tree with placeholders replaced by the device's own section names.

    For masts, every access point on the device that the profile does not
    name is disabled. For fibre endpoints, every port must exist.
    """
    dev = desired.device
    if desired.driver == "restconf" or set(desired.tree) == {"interfaces"}:
        have = running.get("interfaces", {})
        missing = [p for p in desired.tree.get("interfaces", {}) if p not in have]
        if missing:
            raise ProvisioningError(f"{dev}: no port {', '.join(missing)} on the device")
        return {"interfaces": {n: dict(v) for n, v in desired.tree["interfaces"].items()}}
    out: ConfigTree = {}
    for config, sections in desired.tree.items():
        have = running.get(config)
        if have is None:
            raise ProvisioningError(f"{dev}: UCI config {config!r} does not exist on the device")
        res: dict[str, Any] = {}
        for sec, opts in sections.items():
            name = _find_section(dev, config, have, sec)
            o = dict(opts)
            if config == "wireless" and isinstance(o.get("device"), str):
                try:
                    o["device"] = _find_section(dev, config, have, o["device"])
                except ProvisioningError:
                    if o["device"] in desired.required_radios:
                        raise
                    continue  # e.g. a 2.4 GHz-only mast: its SSIDs stay on the bands it has
            res[name] = o
        out[config] = res
    if isinstance(out.get("network"), dict) and isinstance(running.get("network"), Mapping):
        _keep_management_path(dev, out["network"], running["network"])
    wl = running.get("wireless")
    if isinstance(wl, Mapping) and "wireless" in out:
        for name, sec in wl.items():
            if (
                isinstance(sec, Mapping)
                and sec.get(".type") == "wifi-iface"
                and name not in out["wireless"]
            ):
                out["wireless"][name] = {"disabled": "1"}
    return out


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


def resolved_dfs(desired: Desired, running: ConfigTree) -> dict[str, DfsNote]:
    """DFS notes keyed by the radio's real section name."""
    wl = running.get("wireless", {})
    out = {}
    for note in desired.dfs:
        try:
            out[_find_section(desired.device, "wireless", wl, note.radio)] = note
        except ProvisioningError:
            continue
    return out


# -- secrets ---------------------------------------------------------------


def secret_paths(tree: Mapping[str, Any]) -> set[str]:
    return {p for p, v in flatten(tree).items() if isinstance(v, SecretRef)}


def _map_leaves(tree: Mapping[str, Any], fn: Any) -> dict[str, Any]:
    return {k: _map_leaves(v, fn) if isinstance(v, Mapping) else fn(k, v) for k, v in tree.items()}


async def materialise(tree: Mapping[str, Any]) -> ConfigTree:
    """The tree with every SecretRef read (files read off the event loop)."""
    refs = {v for v in flatten(tree).values() if isinstance(v, SecretRef)}
    values: dict[SecretRef, str] = {}
    for ref in refs:
        values[ref] = await asyncio.to_thread(ref.reveal)
    return _map_leaves(tree, lambda _k, v: values[v] if isinstance(v, SecretRef) else v)


def redact(tree: Mapping[str, Any]) -> dict[str, Any]:
    """A tree fit for the store, logs and screens: secret leaves become a mark."""

    def leaf(k: str, v: Any) -> Any:
        if isinstance(v, SecretRef):
            return {"$secret": v.ref}
        return SECRET_MARK if k in SECRET_KEYS else v

    return _map_leaves(tree, leaf)


def to_record(tree: Mapping[str, Any]) -> dict[str, Any]:
    """A resolved desired tree as stored in an apply record (secrets as references)."""
    return _map_leaves(tree, lambda _k, v: {"$secret": v.ref} if isinstance(v, SecretRef) else v)


def from_record(data: Mapping[str, Any], base: Any = None) -> ConfigTree:
    """The inverse of :func:`to_record`; ``base`` resolves relative ``file:`` references."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if isinstance(v, Mapping) and set(v) == {"$secret"}:
            out[k] = SecretRef(str(v["$secret"]), base)
        elif isinstance(v, Mapping):
            out[k] = from_record(v, base)
        else:
            out[k] = v
    return out


# -- comparing ---------------------------------------------------------------


def redacted_diff(
    device: str, running: ConfigTree, plain: ConfigTree, secrets: set[str]
) -> ConfigDiff:
    """Leaf diff from ``running`` to ``plain`` (secrets already read); no secret value
    is carried: those changes are only "changed"."""
    have = flatten(running)
    want = flatten(plain)
    changes: list[Change] = []
    new_sections: set[str] = set()
    present: set[str] = set()  # every proper prefix of a running path
    for p in have:
        i = p.find(".")
        while i > 0:
            present.add(p[:i])
            i = p.find(".", i + 1)
    for path in sorted(want):
        head, _, key = path.rpartition(".")
        if key.startswith(".") or path.endswith("..type"):
            continue
        secret = path in secrets or key in SECRET_KEYS
        old, new = have.get(path), want[path]
        if path not in have:
            sec = head
            if sec not in new_sections and sec not in present:
                new_sections.add(sec)
                typ = want.get(f"{sec}..type")
                if typ is not None:
                    changes.append(Change(path=sec, op="add", new=f"({typ})"))
            changes.append(Change(path=path, op="add", new=None if secret else new, secret=secret))
        elif old != new:
            changes.append(
                Change(
                    path=path,
                    op="change",
                    old=None if secret else old,
                    new=None if secret else new,
                    secret=secret,
                )
            )
    return ConfigDiff(device=device, changes=changes)


def mismatches(readback: ConfigTree, plain: ConfigTree) -> list[str]:
    """Paths where the device's config differs from what we asked for (no values)."""
    have = flatten(readback)
    return [
        p
        for p, v in flatten(plain).items()
        if not p.rpartition(".")[2].startswith(".")
        and not p.endswith("..type")
        and have.get(p) != v
    ]
