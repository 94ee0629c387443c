"""The ``openwrt`` mast driver: ubus JSON-RPC over HTTP(S) (uhttpd-mod-ubus + rpcd).

- Logs in with the all-zero sid; one session per driver, reused across
  polls (it slides, 300 s by default) and destroyed by :meth:`close`. An
  ``-32002 Access denied`` (expired session or ACL) triggers one fresh
  login and a retry; a second denial is :class:`PermissionDenied`, and the
  call is remembered as an ACL denial so later polls do not log in again.
- ``-32000`` for an object that lives in rpcd (``uci``, ``session``,
  ``iwinfo``, ``file``) is retried for a few seconds: rpcd's objects vanish
  while it restarts. Only then is it "not offered".
- Status comes from two batches: ``system board/info``, ``network.interface
  dump``, ``network.device status``, ``iwinfo devices``; then per radio
  ``iwinfo info/assoclist/survey``. An object the device lacks, or that the
  user's ACL denies, is listed in :attr:`DeviceStatus.unsupported` with its
  reason in :attr:`DeviceStatus.unavailable` ("rpcd-mod-iwinfo not
  installed", "access denied to monitor"); it never fails the device.
- Config is UCI, as ``{config: {section: {".type": type, option: value}}}``.
  ``load_candidate`` stages ``uci add/set/delete`` in our session,
  ``compare`` replays ``uci changes`` (rpcd's delta records: named adds as
  three-element ``set``, lists as ``remove`` + ``list-add``) on the running
  config and diffs the result; ``commit`` is ``uci apply`` (with
  ``rollback: true`` and a timeout when a confirm timeout is given) and
  checks that something was applied; ``confirm`` waits until the mast
  answers us again, then ``uci confirm``. If the session got lost meanwhile,
  logging in again as the same user hands back the pending apply session
  (rpcd does that while that session exists). If nothing is pending any
  more, confirm reads the running config back and says which state the
  mast is in (new config kept after an rpcd restart or reboot, or rolled back).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp

from eventops.adapters import ubus
from eventops.adapters.base import (
    SECRET_KEYS,
    Capabilities,
    Change,
    ConfigDiff,
    ConfigTree,
    DeviceDriver,
    DeviceStatus,
    Facts,
    InterfaceStatus,
    RadioStatus,
    SystemStatus,
    WlanClient,
    ssl_for,
)
from eventops.adapters.http import exchange, new_session
from eventops.clock import Clock
from eventops.errors import (
    AuthenticationFailed,
    DeviceError,
    DeviceUnreachable,
    PermissionDenied,
    ProtocolError,
    ProvisioningError,
    Unsupported,
)
from eventops.profile.models import Management

DEFAULT_CONFIGS = ("system", "network", "wireless")

REQUIRED_CALLS: Mapping[str, tuple[str, ...]] = {
    "session": ("access", "destroy"),
    "system": ("board", "info", "reboot"),
    "network.interface": ("dump",),
    "network.device": ("status",),
    "iwinfo": ("devices", "info", "assoclist", "survey"),
    "uci": ("get", "set", "add", "delete", "changes", "revert", "apply", "confirm", "rollback"),
}
"""Every ubus object and method this driver calls (monitoring and provisioning)."""

MIN_RELEASE = (21, 2)
MAX_SKEW_S = 5.0


@dataclass(frozen=True)
class PreflightItem:
    """One thing eventops needs from a device: met or not, and the fix if not."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


def _band(freq: int | None) -> Any:
    if freq is None:
        return None
    if freq < 3000:
        return "2g"
    if freq < 5925:
        return "5g"
    return "6g"


def _width(htmode: Any) -> int | None:
    if not isinstance(htmode, str):
        return None
    digits = "".join(c for c in htmode if c.isdigit())
    return int(digits) if digits else None


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _uci_out(v: Any) -> Any:
    """A tree value as UCI wants it: strings, or lists of strings."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, list):
        return [_uci_out(x) for x in v]
    return str(v)


class OpenWrtDriver(DeviceDriver):
    name = "openwrt"
    capabilities = Capabilities(
        rollback_on_device=True,
        confirm_timeout=True,
        streams_events=False,
        reboot=True,
        partial_config=True,
    )

    def __init__(
        self,
        device_id: str,
        management: Management,
        *,
        clock: Clock | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float | None = None,
        configs: Sequence[str] = DEFAULT_CONFIGS,
        confirm_poll_s: float = 1.0,
        restart_wait_s: float = 5.0,
    ) -> None:
        super().__init__(device_id, management, clock=clock, session=session, timeout=timeout)
        self.configs = tuple(configs)
        self.confirm_poll_s = confirm_poll_s
        self.url = management.url.rstrip("/") + "/ubus"
        self._ssl = ssl_for(management)
        self._sid: str | None = None
        self._next_id = 1
        self._login_lock = asyncio.Lock()
        self._survey_prev: dict[str, tuple[float, float]] = {}
        self._running: ConfigTree | None = None
        self._apply_deadline: float | None = None
        self._candidate: ConfigTree | None = None
        self._commit_t = 0.0
        self.restart_wait_s = restart_wait_s
        """How long an rpcd object may be absent (-32000) before it counts as not offered."""
        self._seen: set[str] = set()
        """ubus objects that answered at least once (their absence is then likely transient)."""
        self._answering = False
        """The last exchange got an HTTP answer (so a session destroy is worth sending)."""
        self._denied: set[str] = set()
        """Calls the user's ACL denies (seen after a fresh login): no re-login for them."""
        self.logins = 0

    # -- transport ---------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = new_session()
            self._own_session = True
        return self._session

    def _ids(self, n: int) -> list[int]:
        first = self._next_id
        self._next_id += n
        return list(range(first, first + n))

    async def _post(self, body: Any) -> Any:
        try:
            data = ubus.encode(body)
        except ValueError as exc:  # beyond uhttpd's body limit: never sent
            raise ProtocolError(self.device_id, str(exc)) from None
        try:
            status, _headers, raw = await exchange(
                self.device_id,
                self._http(),
                "POST",
                self.url,
                timeout_s=self.timeout,
                ssl=self._ssl,
                data=data,
                headers={"Content-Type": "application/json"},
                clock=self.clock,
                what=ubus.request_name(body),
            )
        except DeviceUnreachable:
            self._answering = False
            raise
        self._answering = True
        if status != 200:
            raise ProtocolError(
                self.device_id,
                f"HTTP {status} from {self.url}",
                code=status,
                text=raw[:80].decode("utf-8", "replace"),
            )
        return ubus.decode(self.device_id, raw)

    async def _wait_for_rpcd(self, exc: ubus.ObjectNotFound, waited: float) -> float:
        """Sleep a little if ``exc`` may be rpcd restarting; re-raise once that took too long."""
        if exc.object not in ubus.RPCD_OBJECTS or waited >= self.restart_wait_s:
            raise exc
        step = min(self.confirm_poll_s, max(0.1, self.restart_wait_s - waited))
        await self.clock.sleep(step)
        return waited + step

    async def _login(self) -> None:
        password = await self.password()
        call = ubus.login_call(self.management.username, password)
        waited = 0.0
        while True:
            (req_id,) = self._ids(1)
            reply = await self._post(ubus.call_request(req_id, ubus.ANON_SID, call))
            try:
                data = ubus.parse_reply(self.device_id, reply, "session login")
                break
            except PermissionDenied:
                self.forget_password()
                raise AuthenticationFailed(
                    self.device_id,
                    f"login as {self.management.username!r} refused (wrong user name or password)",
                ) from None
            except ubus.ObjectNotFound as exc:
                try:
                    waited = await self._wait_for_rpcd(exc, waited)
                except ubus.ObjectNotFound:
                    raise ProtocolError(
                        self.device_id,
                        f"no ubus session object after {waited:g} s (is rpcd running?)",
                    ) from None
        self._sid, _timeout = ubus.login_result(self.device_id, data)
        self.logins += 1

    async def _relogin(self, stale: str | None) -> None:
        async with self._login_lock:
            if self._sid is None or self._sid == stale:
                self._sid = None
                await self._login()

    async def _sid_now(self) -> str:
        if self._sid is None:
            await self._relogin(None)
        assert self._sid is not None
        return self._sid

    def _acl_denied(self, c: ubus.UbusCall) -> PermissionDenied:
        return PermissionDenied(
            self.device_id,
            f"{c.name}: access denied to {self.management.username!r} "
            "(ubus -32002 after a fresh login)",
        )

    async def call(
        self, obj: str, method: str, args: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """One ubus call; logs in again once if the session is gone, waits out an rpcd restart."""
        c = ubus.UbusCall(obj, method, dict(args or {}))
        relogged = False
        waited = 0.0
        while True:
            sid = await self._sid_now()
            (req_id,) = self._ids(1)
            reply = await self._post(ubus.call_request(req_id, sid, c))
            try:
                data = ubus.parse_reply(self.device_id, reply, c.name)
            except ubus.AccessDenied:
                if relogged or c.name in self._denied:
                    self._denied.add(c.name)
                    raise self._acl_denied(c) from None
                relogged = True
                await self._relogin(sid)
                continue
            except ubus.ObjectNotFound as exc:
                waited = await self._wait_for_rpcd(exc, waited)
                continue
            self._denied.discard(c.name)
            return data

    async def batch(self, calls: Sequence[ubus.UbusCall]) -> list[dict[str, Any] | DeviceError]:
        """Several calls in one request; each item is the data or its exception.

        A ``-32002`` part means an expired session only if nothing else in the
        batch got through; otherwise it is the ACL (no second login).
        """
        results: list[dict[str, Any] | DeviceError] = [
            ProtocolError(self.device_id, "not sent") for _ in calls
        ]
        todo = list(range(len(calls)))
        for attempt in (0, 1):
            if not todo:
                break
            sid = await self._sid_now()
            ids = self._ids(len(todo))
            body = [ubus.call_request(i, sid, calls[k]) for i, k in zip(ids, todo, strict=True)]
            replies = await self._post(body)
            parts = ubus.split_batch(self.device_id, replies, ids, [calls[k] for k in todo])
            # only an answer from behind the ACL check proves the session valid
            session_ok = any(
                isinstance(p, dict)
                or (isinstance(p, ProtocolError) and isinstance(p.code, int) and p.code > 0)
                for p in parts
            )
            retry = []
            for k, part in zip(todo, parts, strict=True):
                c = calls[k]
                if isinstance(part, ubus.AccessDenied):
                    if attempt == 0 and not session_ok and c.name not in self._denied:
                        retry.append(k)
                        continue
                    self._denied.add(c.name)
                    part = self._acl_denied(c)
                elif isinstance(part, dict):
                    self._denied.discard(c.name)
                results[k] = part
            todo = retry
            if todo:
                await self._relogin(sid)
        return results

    # -- lifecycle ---------------------------------------------------------

    async def open(self) -> None:
        self._http()
        await self._relogin(None)

    async def close(self) -> None:
        """Destroy our session on the mast (unless it owns a pending apply), then the HTTP session."""
        sid, self._sid = self._sid, None
        try:
            # not when the mast just failed to answer: close() must not wait a timeout more
            if sid is not None and self._apply_deadline is None and self._answering:
                try:
                    (req_id,) = self._ids(1)
                    await self._post(
                        ubus.call_request(req_id, sid, ubus.UbusCall("session", "destroy"))
                    )
                except DeviceError:
                    pass  # the mast is gone or the session already expired
        finally:
            if self._own_session and self._session is not None:
                await self._session.close()
                self._session = None

    async def is_alive(self) -> bool:
        """The mast answers and our session is valid (``session access`` says so)."""
        try:
            data = await self.call(
                "session", "access", {"scope": "ubus", "object": "session", "function": "access"}
            )
        except DeviceError:
            return False
        return data.get("access") is True

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

    # -- config ------------------------------------------------------------

    async def get_config(self) -> ConfigTree:
        calls = [ubus.UbusCall("uci", "get", {"config": c}) for c in self.configs]
        parts = await self.batch(calls)
        for n, (c_, part) in enumerate(zip(calls, parts, strict=True)):
            if isinstance(part, ubus.ObjectNotFound):  # uci is required: wait out a restart
                try:
                    parts[n] = await self.call(c_.object, c_.method, c_.args)
                except ProtocolError as exc:
                    parts[n] = exc
        tree: ConfigTree = {}
        for c, part in zip(self.configs, parts, strict=True):
            if isinstance(part, ProtocolError) and part.code == 4:
                continue  # this config does not exist on the device
            if isinstance(part, DeviceError):
                raise part
            sections: dict[str, Any] = {}
            values = part.get("values") or {}
            for sec_name, sec in sorted(values.items(), key=lambda kv: kv[1].get(".index", 0)):
                if not isinstance(sec, dict):
                    continue
                sections[sec_name] = {".type": sec.get(".type")} | {
                    k: v for k, v in sec.items() if not k.startswith(".")
                }
            tree[c] = sections
        return tree

    async def load_candidate(self, candidate: ConfigTree) -> None:
        running = await self.get_config()
        self._running = running
        self._candidate = candidate
        calls: list[ubus.UbusCall] = []
        for config, sections in candidate.items():
            if not isinstance(sections, Mapping):
                raise ProvisioningError(
                    f"{self.device_id}: candidate {config!r} is not a mapping of sections"
                )
            have = running.get(config)
            if have is None:
                raise ProvisioningError(
                    f"{self.device_id}: UCI config {config!r} does not exist on the device"
                )
            for sec, options in sections.items():
                if not isinstance(options, Mapping):
                    raise ProvisioningError(
                        f"{self.device_id}: {config}.{sec} is not a mapping of options"
                    )
                values = {
                    k: _uci_out(v)
                    for k, v in options.items()
                    if not k.startswith(".") and v is not None
                }
                removed = [k for k, v in options.items() if v is None and k in have.get(sec, {})]
                if sec not in have:
                    typ = options.get(".type")
                    if not isinstance(typ, str):
                        raise ProvisioningError(
                            f"{self.device_id}: new section {config}.{sec} needs a '.type'"
                        )
                    calls.append(
                        ubus.UbusCall(
                            "uci",
                            "add",
                            {"config": config, "type": typ, "name": sec, "values": values},
                        )
                    )
                    continue
                changed = {k: v for k, v in values.items() if have[sec].get(k) != v}
                if changed:
                    calls.append(
                        ubus.UbusCall(
                            "uci", "set", {"config": config, "section": sec, "values": changed}
                        )
                    )
                if removed:
                    calls.append(
                        ubus.UbusCall(
                            "uci", "delete", {"config": config, "section": sec, "options": removed}
                        )
                    )
        if not calls:
            return
        for part in await self.batch(calls):
            if isinstance(part, DeviceError):
                raise part

    async def _changes(self) -> dict[str, list[list[Any]]]:
        data = await self.call("uci", "changes")
        changes = data.get("changes") or {}
        if not isinstance(changes, dict):
            raise ProtocolError(self.device_id, "uci changes: unexpected answer")
        return {c: v for c, v in changes.items() if isinstance(v, list) and v}

    async def compare(self) -> ConfigDiff:
        running = self._running if self._running is not None else await self.get_config()
        changes = await self._changes()
        staged = replay_changes(running, changes)
        out: list[Change] = []
        for config in sorted(changes):
            old_cfg, new_cfg = running.get(config, {}), staged.get(config, {})
            for sec in sorted(set(old_cfg) | set(new_cfg)):
                old_sec, new_sec = old_cfg.get(sec), new_cfg.get(sec)
                if old_sec is None and new_sec is not None:
                    out.append(
                        Change(path=f"{config}.{sec}", op="add", new=f"({new_sec.get('.type')})")
                    )
                elif new_sec is None and old_sec is not None:
                    out.append(
                        Change(
                            path=f"{config}.{sec}",
                            op="remove",
                            old=f"({old_sec.get('.type', '?')})",
                        )
                    )
                    continue
                old_opts, new_opts = old_sec or {}, new_sec or {}
                for opt in sorted(set(old_opts) | set(new_opts)):
                    if opt.startswith("."):
                        continue
                    old, new = old_opts.get(opt), new_opts.get(opt)
                    if old == new:
                        continue
                    path, secret = f"{config}.{sec}.{opt}", opt in SECRET_KEYS
                    if old is None:
                        out.append(Change(path=path, op="add", new=new, secret=secret))
                    elif new is None:
                        out.append(Change(path=path, op="remove", old=old, secret=secret))
                    else:
                        out.append(Change(path=path, op="change", old=old, new=new, secret=secret))
        out.sort(key=lambda c: c.path)
        return ConfigDiff(device=self.device_id, changes=out)

    async def commit(self, confirm_timeout: float | None = None) -> None:
        args: dict[str, Any] = {"rollback": confirm_timeout is not None}
        if confirm_timeout is not None:
            args["timeout"] = max(1, math.ceil(confirm_timeout))
        try:
            await self.call("uci", "apply", args)
        except ubus.UciStateError as exc:
            raise ProtocolError(
                self.device_id,
                f"uci apply refused: {exc.message.split(': ', 1)[-1]}",
                code=exc.code,
            ) from None
        if confirm_timeout is None and await self._changes():
            # rpcd answers a plain apply with [0] and applies nothing while
            # another session's apply waits for its confirm
            raise ProtocolError(
                self.device_id,
                "uci apply answered OK but applied nothing: the changes are still staged "
                "(another apply is waiting for its confirm)",
                code=6,
            )
        self._commit_t = self.clock.monotonic()
        self._apply_deadline = (
            self.clock.monotonic() + confirm_timeout if confirm_timeout is not None else None
        )

    async def confirm(self) -> None:
        deadline = self._apply_deadline
        # Only confirm once the mast answers us again (a change may have moved it).
        while True:
            try:
                data = await self.call(
                    "session", "access", {"scope": "ubus", "object": "uci", "function": "confirm"}
                )
                break
            except DeviceUnreachable:
                if deadline is None or self.clock.monotonic() >= deadline:
                    raise
                await self.clock.sleep(self.confirm_poll_s)
        if data.get("access") is not True:
            raise PermissionDenied(
                self.device_id,
                f"uci confirm: the ACL of {self.management.username!r} does not allow it",
            )
        try:
            await self.call("uci", "confirm")
        except ubus.NothingPending:
            self._apply_deadline = None
            raise ProvisioningError(
                f"{self.device_id}: nothing to confirm: {await self._state_after_lost_apply()}"
            ) from None
        except ubus.OtherSessionsApply:
            raise ProvisioningError(
                f"{self.device_id}: the pending apply belongs to another session (ubus status 6)"
            ) from None
        self._apply_deadline = None

    async def _state_after_lost_apply(self) -> str:
        """Read the mast back and say which config it runs now that no apply is pending."""
        try:
            if await self._changes():
                # rpcd put the applied delta back into our staging: it rolled back
                return (
                    "the mast has no pending apply and runs the old config "
                    "(the rollback timer already fired; the change is staged again)"
                )
            now_cfg = await self.get_config()  # nothing staged: this is the running config
        except DeviceError as exc:
            return f"the mast has no pending apply and its config could not be read ({exc.message})"
        cand = self._candidate or {}
        old = self._running or {}
        if cand and _contains(now_cfg, cand):
            why = "rpcd restarted before confirm"
            try:
                info = await self.call("system", "info")
                up = info.get("uptime")
                since = self.clock.monotonic() - self._commit_t
                if isinstance(up, int | float) and up < since:
                    why = "the mast rebooted before confirm"
            except DeviceError:
                pass
            return f"new config kept: {why} (the pending apply was lost, no rollback will happen)"
        if old and all(now_cfg.get(c) == old.get(c) for c in cand or old):
            return (
                "the mast has no pending apply and runs the old config "
                "(the rollback timer already fired, or it rebooted)"
            )
        return "the mast has no pending apply and runs neither the old nor the new config"

    async def discard(self) -> None:
        changes = await self._changes()
        for part in await self.batch(
            [ubus.UbusCall("uci", "revert", {"config": c}) for c in changes]
        ):
            if isinstance(part, DeviceError):
                raise part
        self._running = None

    async def rollback(self) -> None:
        try:
            await self.call("uci", "rollback")
        except ubus.NothingPending:
            raise ProvisioningError(
                f"{self.device_id}: no unconfirmed apply to roll back"
            ) from None
        self._apply_deadline = None

    async def reboot(self) -> None:
        await self.call("system", "reboot")
        self._sid = None


def _contains(tree: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    """Every option of ``want`` (a candidate; None = removed) holds in ``tree``."""
    for config, sections in want.items():
        have_cfg = tree.get(config)
        if not isinstance(have_cfg, Mapping) or not isinstance(sections, Mapping):
            return False
        for sec, options in sections.items():
            have = have_cfg.get(sec)
            if not isinstance(have, Mapping) or not isinstance(options, Mapping):
                return False
            for k, v in options.items():
                if k.startswith("."):
                    continue
                if v is None:
                    if k in have:
                        return False
                elif have.get(k) != _uci_out(v):
                    return False
    return True


def replay_changes(
    running: Mapping[str, Any], changes: Mapping[str, Sequence[Any]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """The configs after rpcd's delta records for each config, replayed on ``running``.

    Records: ``["add", sec, type]`` (anonymous section), ``["set", sec, type]``
    (named section), ``["set", sec, opt, val]``, ``["remove", sec]``,
    ``["remove", sec, opt]``, ``["list-add", sec, opt, val]``,
    ``["list-del", sec, opt, val]``; anything else is ignored.
    """
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for config, recs in changes.items():
        base = running.get(config) or {}
        cfg = {
            sec: {k: (list(v) if isinstance(v, list) else v) for k, v in opts.items()}
            for sec, opts in base.items()
            if isinstance(opts, Mapping)
        }
        for rec in recs:
            if (
                not isinstance(rec, list)
                or len(rec) < 2
                or not all(isinstance(x, str) for x in rec)
            ):
                continue
            op, sec = rec[0], rec[1]
            if op in ("add", "set") and len(rec) == 3:
                cfg.setdefault(sec, {})[".type"] = rec[2]
            elif op == "set" and len(rec) == 4 and sec in cfg:
                cfg[sec][rec[2]] = rec[3]
            elif op == "remove" and len(rec) == 2:
                cfg.pop(sec, None)
            elif op == "remove" and len(rec) == 3 and sec in cfg:
                cfg[sec].pop(rec[2], None)
            elif op == "list-add" and len(rec) == 4 and sec in cfg:
                have = cfg[sec].get(rec[2])
                if isinstance(have, list):
                    have.append(rec[3])
                else:
                    cfg[sec][rec[2]] = [have, rec[3]] if isinstance(have, str) else [rec[3]]
            elif op == "list-del" and len(rec) == 4 and sec in cfg:
                have = cfg[sec].get(rec[2])
                if isinstance(have, list):
                    cfg[sec][rec[2]] = [x for x in have if x != rec[3]]
        out[config] = cfg
    return out
