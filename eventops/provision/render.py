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
from eventops.provision.render_mgmt import (
    MGMT_BRIDGE_VLAN,
    MGMT_IFACE,
    MGMT_VLAN,
    _bridge_ports,
    _bridge_vlans,
    _keep_management_path,
    _list,
    _membership,
    _untagged_specs,
    management_path_changes,
    management_problems,
    merge_uci,
    port_pvid,
)
from eventops.secrets import SecretRef

__all__ = [
    "ENCRYPTION",
    "MGMT_BRIDGE_VLAN",
    "MGMT_IFACE",
    "MGMT_VLAN",
    "SECRET_MARK",
    "WEATHER_RADAR",
    "_PLACEHOLDER",
    "Desired",
    "DfsNote",
    "MastSettings",
    "_b",
    "_bridge_ports",
    "_bridge_vlans",
    "_find_section",
    "_keep_management_path",
    "_list",
    "_map_leaves",
    "_membership",
    "_mgmt_ipv4",
    "_slug",
    "_untagged_specs",
    "cac_seconds",
    "effective",
    "from_record",
    "management_path_changes",
    "management_problems",
    "materialise",
    "merge_uci",
    "mismatches",
    "port_pvid",
    "redact",
    "redacted_diff",
    "render",
    "render_mast",
    "render_switch",
    "resolve",
    "resolved_dfs",
    "secret_paths",
    "to_record",
]

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
