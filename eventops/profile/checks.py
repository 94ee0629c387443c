"""Rules that look across a profile: ids, references, DE radio rules, time window.

They run on the raw TOML mapping, independently of the structural pydantic
pass, so that a file with a type error *and* a dangling reference reports
both. Every rule tolerates missing or mistyped parts (the structural pass
reports those) and yields :class:`~eventops.errors.Problem` with the exact key
path.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from eventops.errors import Problem
from eventops.profile.models import Radio
from eventops.profile.regulatory import COUNTRIES, check_radio

MAX_EVENT_DAYS = 60

Path = tuple[str | int, ...]


def _list(data: Any, key: str) -> list[tuple[int, Mapping[str, Any]]]:
    if not isinstance(data, Mapping):
        return []
    items = data.get(key)
    if not isinstance(items, list):
        return []
    return [(i, x) for i, x in enumerate(items) if isinstance(x, Mapping)]


def _str(x: Mapping[str, Any], key: str) -> str | None:
    v = x.get(key)
    return v if isinstance(v, str) else None


class _Collector:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def add(self, path: Path, message: str) -> None:
        self.problems.append(Problem(self.source, path, message))


def _unique(c: _Collector, items: Sequence[tuple[Path, str | None]], what: str) -> set[str]:
    seen: dict[str, Path] = {}
    for path, ident in items:
        if ident is None:
            continue
        if ident in seen:
            c.add(path, f"duplicate {what} {ident!r} (first defined at {_dotted(seen[ident])})")
        else:
            seen[ident] = path
    return set(seen)


def _dotted(path: Path) -> str:
    return Problem("", path, "").dotted


def _ids(c: _Collector, data: Mapping[str, Any]) -> dict[str, set[str]]:
    sites = _unique(
        c, [(("sites", i, "id"), _str(s, "id")) for i, s in _list(data, "sites")], "site id"
    )
    devices = _unique(
        c,
        [(("masts", i, "id"), _str(m, "id")) for i, m in _list(data, "masts")]
        + [(("switches", i, "id"), _str(s, "id")) for i, s in _list(data, "switches")],
        "device id",
    )
    links = _unique(
        c, [(("links", i, "id"), _str(x, "id")) for i, x in _list(data, "links")], "link id"
    )
    auths = _unique(
        c,
        [(("authorities", i, "id"), _str(a, "id")) for i, a in _list(data, "authorities")],
        "authority id",
    )
    _unique(
        c, [(("users", i, "name"), _str(u, "name")) for i, u in _list(data, "users")], "user name"
    )
    _unique(
        c,
        [(("users", i, "token_sha256"), _str(u, "token_sha256")) for i, u in _list(data, "users")],
        "token hash (two users share one token)",
    )
    wall = data.get("wall")
    _unique(
        c,
        [
            (("wall", "announcements", i, "id"), _str(a, "id"))
            for i, a in _list(wall, "announcements")
        ],
        "announcement id",
    )
    switches = {s: sw for _, sw in _list(data, "switches") if (s := _str(sw, "id"))}
    return {
        "sites": sites,
        "devices": devices,
        "links": links,
        "authorities": auths,
        "switches": set(switches),
        "masts": {m for _, x in _list(data, "masts") if (m := _str(x, "id"))},
    }


def _references(c: _Collector, data: Mapping[str, Any], ids: dict[str, set[str]]) -> None:
    def ref(path: Path, value: Any, pool: str, what: str) -> None:
        if isinstance(value, str) and value not in ids[pool]:
            known = ", ".join(sorted(ids[pool])) or "none defined"
            c.add(path, f"{what} {value!r} does not exist (known: {known})")

    def auth_list(path: Path, value: Any) -> None:
        if isinstance(value, list):
            for j, a in enumerate(value):
                ref((*path, j), a, "authorities", "authority")

    for i, m in _list(data, "masts"):
        ref(("masts", i, "site"), m.get("site"), "sites", "site")
        ref(("masts", i, "uplink"), m.get("uplink"), "links", "uplink link")
        auth_list(("masts", i, "authorities"), m.get("authorities"))
    for i, s in _list(data, "switches"):
        ref(("switches", i, "site"), s.get("site"), "sites", "site")
        auth_list(("switches", i, "authorities"), s.get("authorities"))
    ports: dict[str, set[str]] = {}
    for _, s in _list(data, "switches"):
        sid = _str(s, "id")
        if sid:
            ports[sid] = {p for _, x in _list(s, "ports") if (p := _str(x, "name"))}
    for i, link in _list(data, "links"):
        used: dict[tuple[str, str], str] = {}
        for end in ("a", "b"):
            ep = link.get(end)
            if not isinstance(ep, Mapping):
                continue
            dev, port = ep.get("device"), ep.get("port")
            if not isinstance(dev, str):
                continue
            if dev not in ids["switches"]:
                if dev in ids["masts"]:
                    c.add(
                        ("links", i, end, "device"),
                        f"endpoint {dev!r} is a mast; fibre links end on switches or media converters",
                    )
                else:
                    ref(("links", i, end, "device"), dev, "switches", "endpoint device")
                continue
            if isinstance(port, str):
                if port not in ports.get(dev, set()):
                    known = ", ".join(sorted(ports.get(dev, set()))) or "none"
                    c.add(
                        ("links", i, end, "port"),
                        f"port {port!r} is not declared on {dev} (ports: {known})",
                    )
                elif (dev, port) in used:
                    c.add(("links", i, end), f"both ends use {dev} {port}")
                used[(dev, port)] = end
        auth_list(("links", i, "authorities"), link.get("authorities"))
    # A port may carry only one link.
    owner: dict[tuple[str, str], Path] = {}
    for i, link in _list(data, "links"):
        for end in ("a", "b"):
            ep = link.get(end)
            if (
                isinstance(ep, Mapping)
                and isinstance(ep.get("device"), str)
                and isinstance(ep.get("port"), str)
            ):
                key = (ep["device"], ep["port"])
                if key in owner and owner[key][1] != i:
                    c.add(
                        ("links", i, end, "port"),
                        f"{key[0]} {key[1]} already carries {_dotted(owner[key])}",
                    )
                owner.setdefault(key, ("links", i))
    for i, u in _list(data, "users"):
        ref(("users", i, "authority"), u.get("authority"), "authorities", "authority")


def _radios_at(container: Any) -> list[tuple[int, Radio]]:
    out = []
    for j, r in _list(container, "radios"):
        try:
            out.append((j, Radio.model_validate(r)))
        except ValidationError:
            continue  # the structural pass reports it
    return out


def _regulatory(c: _Collector, data: Mapping[str, Any]) -> None:
    sites = {s: x for _, x in _list(data, "sites") if (s := _str(x, "id"))}
    defaults = data.get("defaults", {})
    default_mast = defaults.get("mast") if isinstance(defaults, Mapping) else None
    reported: set[tuple[Path, str]] = set()
    for i, m in _list(data, "masts"):
        indoor = m.get("indoor", False) is True
        gain = m.get("antenna_gain_dbi", 0.0)
        gain = float(gain) if isinstance(gain, int | float) and not isinstance(gain, bool) else 0.0
        mid = _str(m, "id") or f"masts[{i}]"
        if _country_of(m, sites, default_mast) not in COUNTRIES:
            continue  # the country is reported; other rules would add misleading faults
        if "radios" in m:
            base: Path = ("masts", i, "radios")
            radios = _radios_at(m)
            suffix = ""
        else:
            site_id = m.get("site")
            if site_id is not None and (not isinstance(site_id, str) or site_id not in sites):
                # The bad reference is reported; guessing what the mast would
                # inherit instead would only add misleading radio faults.
                continue
            site = sites.get(_str(m, "site") or "")
            site_mast = site.get("mast") if site else None
            if isinstance(site_mast, Mapping) and "radios" in site_mast:
                base = ("sites", list(sites).index(_str(m, "site") or ""), "mast", "radios")
                radios = _radios_at(site_mast)
            elif isinstance(default_mast, Mapping) and "radios" in default_mast:
                base = ("defaults", "mast", "radios")
                radios = _radios_at(default_mast)
            else:
                continue
            suffix = f" (inherited by mast {mid})"
        bands: dict[str, int] = {}
        for j, r in radios:
            if r.band in bands:
                c.add(
                    (*base, j, "band"),
                    f"two radios on {r.band} (radios[{bands[r.band]}] and radios[{j}]){suffix}",
                )
            bands.setdefault(r.band, j)
            res = check_radio(r.band, r.channel, r.width, r.tx_power_dbm, gain, indoor)
            for field, message in res.faults:
                key = ((*base, j, field), message + suffix)
                if key not in reported:
                    reported.add(key)
                    c.add(*key)


def _country_of(
    mast: Mapping[str, Any], sites: Mapping[str, Any], default_mast: object
) -> str | None:
    """The country a mast's radios follow: its own, its site's, the event's default."""
    site = sites.get(_str(mast, "site") or "")
    site_mast = site.get("mast") if isinstance(site, Mapping) else None
    for level in (mast, site_mast, default_mast):
        if isinstance(level, Mapping) and isinstance(level.get("country"), str):
            return str(level["country"])
    return "DE"  # no country set: the rules checked are Germany's


def _countries(c: _Collector, data: Mapping[str, Any]) -> None:
    """A well-formed country code these checks have no radio rules for (the pattern
    itself is the structural pass's)."""
    places: list[tuple[Path, object]] = []
    defaults = data.get("defaults")
    if isinstance(defaults, Mapping) and isinstance(defaults.get("mast"), Mapping):
        places.append((("defaults", "mast", "country"), defaults["mast"].get("country")))
    for i, s in _list(data, "sites"):
        if isinstance(s.get("mast"), Mapping):
            places.append((("sites", i, "mast", "country"), s["mast"].get("country")))
    for i, m in _list(data, "masts"):
        places.append((("masts", i, "country"), m.get("country")))
    known = ", ".join(sorted(COUNTRIES))
    for path, value in places:
        if isinstance(value, str) and re.fullmatch(r"[A-Z]{2}", value) and value not in COUNTRIES:
            c.add(path, f"country {value!r}: no radio rules for it here (known: {known})")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _management(c: _Collector, data: Mapping[str, Any]) -> None:
    for kind in ("masts", "switches"):
        for i, d in _list(data, kind):
            mg = d.get("management")
            if not isinstance(mg, Mapping) or not isinstance(mg.get("url"), str):
                continue
            parts = urlsplit(mg["url"])
            if parts.scheme == "https" and not mg.get("tls_pin"):
                c.add(
                    (kind, i, "management", "tls_pin"),
                    "https needs tls_pin (the SHA-256 of the device certificate); there is no unverified TLS",
                )
            if parts.scheme == "http" and not _loopback(parts.hostname or ""):
                c.add(
                    (kind, i, "management", "url"),
                    "plain http to a non-loopback device would send its password in clear; use https with tls_pin",
                )


def _time_window(c: _Collector, data: Mapping[str, Any]) -> None:
    ev = data.get("event")
    if not isinstance(ev, Mapping):
        return
    start, end = ev.get("start"), ev.get("end")
    if not (isinstance(start, datetime) and isinstance(end, datetime)):
        return
    try:
        tz = ZoneInfo(str(ev.get("timezone", "Europe/Berlin")))
    except Exception:
        return
    s = start if start.tzinfo else start.replace(tzinfo=tz)
    e = end if end.tzinfo else end.replace(tzinfo=tz)
    if e <= s:
        c.add(("event", "end"), f"end {end.isoformat()} is not after start {start.isoformat()}")
    elif e - s > timedelta(days=MAX_EVENT_DAYS):
        c.add(
            ("event", "end"),
            f"the event lasts {(e - s).days} days; more than {MAX_EVENT_DAYS} is not an event window",
        )


def semantic_problems(data: Mapping[str, Any], source: str) -> list[Problem]:
    """Every cross-object fault of a raw profile mapping."""
    c = _Collector(source)
    ids = _ids(c, data)
    _references(c, data, ids)
    _countries(c, data)
    _regulatory(c, data)
    _management(c, data)
    _time_window(c, data)
    return c.problems


def iter_problem_paths(problems: list[Problem]) -> Iterator[Path]:
    for p in problems:
        yield p.path
