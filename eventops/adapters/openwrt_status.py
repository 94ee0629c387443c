"""The ``openwrt`` driver's facts, status and preflight."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from eventops.adapters import ubus
from eventops.adapters.base import (
    DeviceStatus,
    Facts,
    InterfaceStatus,
    RadioStatus,
    SystemStatus,
    WlanClient,
)
from eventops.adapters.openwrt_core import (
    MAX_SKEW_S,
    MIN_RELEASE,
    REQUIRED_CALLS,
    OpenWrtCore,
    PreflightItem,
    _band,
    _num,
    _width,
)
from eventops.errors import (
    AuthenticationFailed,
    DeviceError,
    PermissionDenied,
    ProtocolError,
    Unsupported,
)


class OpenWrtStatusMixin(OpenWrtCore):
    # -- facts and status --------------------------------------------------

    @staticmethod
    def _ok(x: dict[str, Any] | DeviceError) -> dict[str, Any] | None:
        return x if isinstance(x, dict) else None

    def _why_unavailable(self, exc: DeviceError, obj: str) -> str | None:
        """The reason an optional object's answer is missing, or None for a hard failure."""
        if isinstance(exc, PermissionDenied):
            return f"access denied to {self.management.username}"
        if isinstance(exc, ubus.ObjectNotFound):
            module = ubus.RPCD_MODULES.get(obj)
            if obj in ubus.RPCD_OBJECTS:
                return f"{module or obj} not installed"
            return f"no {obj} object ({module} not running)" if module else f"no {obj} object"
        if isinstance(exc, Unsupported):
            return f"{obj} not supported"
        return None

    async def _settle(
        self,
        parts: list[dict[str, Any] | DeviceError],
        calls: Sequence[ubus.UbusCall],
        unavailable: dict[str, str],
    ) -> list[dict[str, Any] | DeviceError]:
        """Degrade optional objects to ``unavailable``; raise anything else.

        An rpcd object that answered before and is now absent is asked again
        (with :meth:`call`'s wait): rpcd is probably restarting.
        """
        out = list(parts)
        for n, (part, c) in enumerate(zip(parts, calls, strict=True)):
            if (
                isinstance(part, ubus.ObjectNotFound)
                and c.object in ubus.RPCD_OBJECTS
                and c.object in self._seen
            ):
                try:
                    out[n] = part = await self.call(c.object, c.method, c.args)
                except DeviceError as exc:
                    out[n] = part = exc
            if isinstance(part, dict):
                self._seen.add(c.object)
                continue
            why = self._why_unavailable(part, c.object)
            if why is None:
                raise part
            unavailable.setdefault(c.object, why)
        return out

    def _facts(self, board: dict[str, Any] | None, info: dict[str, Any] | None, mac: str) -> Facts:
        release = (board or {}).get("release") or {}
        return Facts(
            device=self.device_id,
            vendor=str(release.get("distribution", "OpenWrt")),
            model=str((board or {}).get("model", "")),
            firmware=str(release.get("description", "")),
            serial=mac,
            hostname=str((board or {}).get("hostname", "")),
            uptime_s=float((info or {}).get("uptime", 0) or 0),
        )

    async def facts(self) -> Facts:
        calls = [
            ubus.UbusCall("system", "board"),
            ubus.UbusCall("system", "info"),
            ubus.UbusCall("network.device", "status", {"name": "br-lan"}),
        ]
        parts = await self.batch(calls)
        parts[:2] = await self._settle(parts[:2], calls[:2], {})
        dev = self._ok(parts[2]) or {}  # only the serial: a mast without br-lan still has facts
        return self._facts(self._ok(parts[0]), self._ok(parts[1]), str(dev.get("macaddr", "")))

    async def status(self) -> DeviceStatus:
        unavailable: dict[str, str] = {}
        first = [
            ubus.UbusCall("system", "board"),
            ubus.UbusCall("system", "info"),
            ubus.UbusCall("network.interface", "dump"),
            ubus.UbusCall("network.device", "status"),
            ubus.UbusCall("iwinfo", "devices"),
        ]
        t0 = self.clock.monotonic()
        answered = await self.batch(first)  # the counters (network.device) are read here
        t1 = self.clock.monotonic()
        read_at = self.clock.now() - timedelta(seconds=(t1 - t0) / 2)
        parts = await self._settle(answered, first, unavailable)
        board, info, ifdump, devs, iw = (self._ok(p) for p in parts)
        devs = devs or {}
        mac = ""
        if isinstance(devs.get("br-lan"), dict):
            mac = str(devs["br-lan"].get("macaddr", ""))
        facts = self._facts(board, info, mac)
        system = None
        if info is not None:
            load = info.get("load")
            mem = info.get("memory") or {}
            system = SystemStatus(
                uptime_s=float(info.get("uptime", 0) or 0),
                load=tuple(float(x) / 65535 for x in load[:3])
                if isinstance(load, list) and len(load) >= 3
                else None,
                memory_total=mem.get("total"),
                memory_available=mem.get("available"),
            )
        interfaces = self._interfaces(ifdump, devs)
        radio_names = [str(d) for d in (iw or {}).get("devices", []) if isinstance(d, str)]
        radios: list[RadioStatus] = []
        if radio_names:
            second: list[ubus.UbusCall] = []
            for r in radio_names:
                second += [
                    ubus.UbusCall("iwinfo", "info", {"device": r}),
                    ubus.UbusCall("iwinfo", "assoclist", {"device": r}),
                    ubus.UbusCall("iwinfo", "survey", {"device": r}),
                ]
            rparts = await self.batch(second)
            gone: set[int] = set()  # radios that went away between the two batches
            for n in range(len(radio_names)):
                p = rparts[3 * n]
                if isinstance(p, ProtocolError) and p.code == 4:
                    gone.add(n)
            keep = [k for k in range(len(second)) if k // 3 not in gone]
            settled = await self._settle(
                [rparts[k] for k in keep], [second[k] for k in keep], unavailable
            )
            by_k = dict(zip(keep, settled, strict=True))
            for n, r in enumerate(radio_names):
                if n in gone:
                    continue
                info_p, assoc_p, survey_p = (by_k[3 * n + j] for j in range(3))
                radios.append(
                    self._radio(r, self._ok(info_p), self._ok(assoc_p), self._ok(survey_p))
                )
        return DeviceStatus(
            device=self.device_id,
            ts=read_at,
            mono=(t0 + t1) / 2,
            read_s=t1 - t0,
            facts=facts,
            system=system,
            radios=radios,
            interfaces=interfaces,
            unsupported=list(unavailable),
            unavailable=unavailable,
        )

    def _interfaces(
        self, dump: dict[str, Any] | None, devs: dict[str, Any]
    ) -> list[InterfaceStatus]:
        out = []
        for i in (dump or {}).get("interface", []):
            if not isinstance(i, dict) or i.get("interface") == "loopback":
                continue
            dev_name = i.get("l3_device") or i.get("device")
            dev = devs.get(dev_name) if isinstance(dev_name, str) else None
            dev = dev if isinstance(dev, dict) else {}
            st = dev.get("statistics") or {}
            speed = dev.get("speed")
            speed_mbps = None
            if isinstance(speed, str) and speed[:-1].isdigit():
                speed_mbps = float(speed[:-1])
            out.append(
                InterfaceStatus(
                    name=str(i.get("interface")),
                    oper_status="UP" if i.get("up") else "DOWN",
                    admin_status="UP" if i.get("autostart", True) else "DOWN",
                    carrier=dev.get("carrier") if isinstance(dev.get("carrier"), bool) else None,
                    speed_mbps=speed_mbps,
                    mtu=dev.get("mtu") if isinstance(dev.get("mtu"), int) else None,
                    in_octets=int(st.get("rx_bytes", 0)),
                    out_octets=int(st.get("tx_bytes", 0)),
                    in_errors=int(st.get("rx_errors", 0)),
                    out_errors=int(st.get("tx_errors", 0)),
                    in_discards=int(st.get("rx_dropped", 0)),
                    out_discards=int(st.get("tx_dropped", 0)),
                )
            )
        return out

    def _radio(
        self,
        name: str,
        info: dict[str, Any] | None,
        assoc: dict[str, Any] | None,
        survey: dict[str, Any] | None,
    ) -> RadioStatus:
        info = info or {}
        freq = info.get("frequency") if isinstance(info.get("frequency"), int) else None
        clients = []
        for c in (assoc or {}).get("results", []):
            if not isinstance(c, dict) or "mac" not in c:
                continue
            clients.append(
                WlanClient(
                    mac=str(c["mac"]).lower(),
                    signal_dbm=_num(c.get("signal")),
                    noise_dbm=_num(c.get("noise")),
                    rx_rate_kbps=_num((c.get("rx") or {}).get("rate")),
                    tx_rate_kbps=_num((c.get("tx") or {}).get("rate")),
                    connected_s=_num(c.get("connected_time")),
                    inactive_ms=_num(c.get("inactive")),
                )
            )
        util = None
        for s in (survey or {}).get("results", []):
            if isinstance(s, dict) and s.get("mhz") == freq:
                active, busy = _num(s.get("active_time")), _num(s.get("busy_time"))
                if active is None or busy is None:
                    break
                prev = self._survey_prev.get(name)
                self._survey_prev[name] = (active, busy)
                if prev is not None and active > prev[0] and busy >= prev[1]:
                    util = 100.0 * (busy - prev[1]) / (active - prev[0])
                elif active > 0:
                    util = 100.0 * busy / active
                break
        signal = _num(info.get("signal"))
        return RadioStatus(
            name=name,
            up=True,
            band=_band(freq),
            ssid=str(info.get("ssid", "")),
            bssid=str(info.get("bssid", "")).lower(),
            channel=info.get("channel") if isinstance(info.get("channel"), int) else None,
            frequency_mhz=freq,
            width_mhz=_width(info.get("htmode")),
            tx_power_dbm=_num(info.get("txpower")),
            noise_dbm=_num(info.get("noise")),
            signal_dbm=signal if signal else None,
            bitrate_kbps=_num(info.get("bitrate")),
            # busy > active is impossible: no figure rather than a clamped 100 %
            utilisation_pct=None
            if util is None or not -0.5 <= util <= 100.5
            else round(min(100.0, max(0.0, util)), 2),
            clients=clients,
        )

    # -- preflight ---------------------------------------------------------

    async def list_objects(self, *patterns: str) -> dict[str, dict[str, Any]]:
        """``list`` (no session needed): object -> method -> argument types."""
        (req_id,) = self._ids(1)
        reply = await self._post(ubus.list_request(req_id, patterns or ("*",)))
        result = reply.get("result") if isinstance(reply, Mapping) else None
        if not isinstance(result, dict):
            raise ProtocolError(self.device_id, "ubus list: unexpected answer")
        return {k: v for k, v in result.items() if isinstance(v, dict)}

    async def preflight(self, now_utc: datetime | None = None) -> list[PreflightItem]:
        """What eventops needs from this mast against what it offers, with a fix per gap.

        Login; every ubus object and method eventops calls (present? granted
        to the configured user?); firmware release; time sync.
        """
        user = self.management.username
        items: list[PreflightItem] = []
        try:
            await self.open()
        except AuthenticationFailed as exc:
            return [
                PreflightItem(
                    "login",
                    False,
                    exc.message,
                    f"check management.username/password for {self.device_id} in the profile "
                    f"(rpcd: the 'login' section for {user!r} in /etc/config/rpcd)",
                )
            ]
        items.append(PreflightItem("login", True, f"logged in as {user!r}"))
        offered = await self.list_objects("*")
        for obj, methods in REQUIRED_CALLS.items():
            have = offered.get(obj)
            pkg = ubus.RPCD_MODULES.get(obj, obj)
            if have is None:
                items.append(
                    PreflightItem(
                        f"object {obj}",
                        False,
                        f"ubus object {obj!r} missing ({pkg} not installed or not running)",
                        f"opkg update && opkg install {pkg}"
                        if pkg.startswith("rpcd-mod")
                        else f"start {pkg} (/etc/init.d/{pkg} start)",
                    )
                )
            else:
                lacking = [m for m in methods if m not in have]
                items.append(
                    PreflightItem(
                        f"object {obj}",
                        not lacking,
                        f"{pkg}: {', '.join(methods)}"
                        if not lacking
                        else f"{obj} lacks {', '.join(lacking)} (firmware too old?)",
                        None if not lacking else f"upgrade {pkg} (OpenWrt 23.05 or later)",
                    )
                )
            denied = []
            for m in methods:
                try:
                    data = await self.call(
                        "session", "access", {"scope": "ubus", "object": obj, "function": m}
                    )
                except PermissionDenied:  # not even "session access" is granted
                    data = {}
                if data.get("access") is not True:
                    denied.append(m)
            grant = ", ".join(f'"{m}"' for m in denied)
            items.append(
                PreflightItem(
                    f"acl {obj}",
                    not denied,
                    f"{user!r} may call {obj} {', '.join(methods)}"
                    if not denied
                    else f"the ACL of {user!r} denies {obj} {', '.join(denied)}",
                    None
                    if not denied
                    else f'add "ubus": {{"{obj}": [{grant}]}} to an ACL group in '
                    f"/usr/share/rpcd/acl.d/ that /etc/config/rpcd grants {user!r}, "
                    "then /etc/init.d/rpcd reload",
                )
            )
        items.append(await self._preflight_firmware())
        items.append(await self._preflight_time(now_utc or self.clock.now()))
        return items

    async def _preflight_firmware(self) -> PreflightItem:
        try:
            board = await self.call("system", "board")
        except DeviceError as exc:
            return PreflightItem("firmware", False, f"cannot read system board ({exc.message})")
        rel = board.get("release") or {}
        desc = str(rel.get("description") or rel.get("version") or "unknown")
        version = str(rel.get("version", ""))
        parts = version.split(".")
        try:
            major, minor = int(parts[0]), int(parts[1])
        except (ValueError, IndexError):
            return PreflightItem(
                "firmware", version == "SNAPSHOT", f"release {desc}", "install OpenWrt 23.05"
            )
        ok = (major, minor) >= MIN_RELEASE
        return PreflightItem(
            "firmware",
            ok,
            f"release {desc}",
            None if ok else "upgrade to OpenWrt 23.05 (sysupgrade)",
        )

    async def _preflight_time(self, now_utc: datetime) -> PreflightItem:
        fix_ntp = (
            "uci set system.ntp.enabled=1; uci add_list system.ntp.server=<ntp server>; "
            "uci commit system; /etc/init.d/sysntpd restart"
        )
        try:
            info = await self.call("system", "info")
            sysconf = (await self.call("uci", "get", {"config": "system"})).get("values") or {}
        except DeviceError as exc:
            return PreflightItem("time", False, f"cannot read the mast's time ({exc.message})")
        zone = "UTC"
        ntp_on = False
        for sec in sysconf.values():
            if not isinstance(sec, dict):
                continue
            if sec.get(".type") == "system":
                zone = str(sec.get("zonename", "UTC"))
            if sec.get(".type") == "timeserver":
                ntp_on = str(sec.get("enabled", "1")) == "1" and bool(sec.get("server"))
        try:
            off = now_utc.astimezone(ZoneInfo(zone)).utcoffset()
        except (ZoneInfoNotFoundError, ValueError):
            off = None
        local = info.get("localtime")
        if not isinstance(local, int | float) or off is None:
            return PreflightItem("time", False, f"no localtime or unknown zone {zone!r}", fix_ntp)
        skew = float(local) - (now_utc.timestamp() + off.total_seconds())
        ok = abs(skew) <= MAX_SKEW_S and ntp_on
        detail = f"clock {round(skew):+d} s from ours ({zone}), NTP {'on' if ntp_on else 'off'}"
        return PreflightItem("time", ok, detail, None if ok else fix_ntp)
