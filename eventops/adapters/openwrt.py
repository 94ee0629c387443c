"""The ``openwrt`` mast driver: ubus JSON-RPC over HTTP(S) (uhttpd-mod-ubus + rpcd).

- Logs in with the all-zero sid; the session slides (300 s by default). An
  ``-32002 Access denied`` (expired session or ACL) triggers one fresh
  login and a retry; a second denial is :class:`PermissionDenied`.
- Status comes from two batches: ``system board/info``, ``network.interface
  dump``, ``network.device status``, ``iwinfo devices``; then per radio
  ``iwinfo info/assoclist/survey``. An object the device lacks is listed in
  :attr:`DeviceStatus.unsupported`, it does not fail the device.
- Config is UCI, as ``{config: {section: {".type": type, option: value}}}``.
  ``load_candidate`` stages ``uci add/set/delete`` in our session,
  ``compare`` reads ``uci changes``, ``commit`` is ``uci apply`` (with
  ``rollback: true`` and a timeout when a confirm timeout is given) and
  ``confirm`` waits until the mast answers us again, then ``uci confirm``.
  If the session got lost meanwhile, logging in again as the same user hands
  back the pending apply session (rpcd does that), so the confirm still counts.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from typing import Any

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
        status, _headers, raw = await exchange(
            self.device_id,
            self._http(),
            "POST",
            self.url,
            timeout_s=self.timeout,
            ssl=self._ssl,
            data=data,
            headers={"Content-Type": "application/json"},
        )
        if status != 200:
            raise ProtocolError(
                self.device_id,
                f"HTTP {status} from {self.url}",
                code=status,
                text=raw[:80].decode("utf-8", "replace"),
            )
        return ubus.decode(self.device_id, raw)

    async def _login(self) -> None:
        password = await self.password()
        call = ubus.login_call(self.management.username, password)
        (req_id,) = self._ids(1)
        reply = await self._post(ubus.call_request(req_id, ubus.ANON_SID, call))
        try:
            data = ubus.parse_reply(self.device_id, reply, "session login")
        except PermissionDenied:
            self.forget_password()
            raise AuthenticationFailed(
                self.device_id,
                f"login as {self.management.username!r} refused (wrong user name or password)",
            ) from None
        except Unsupported:
            raise ProtocolError(
                self.device_id, "no ubus session object (is rpcd running?)"
            ) from None
        self._sid, _timeout = ubus.login_result(self.device_id, data)

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

    async def call(
        self, obj: str, method: str, args: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """One ubus call; logs in again once if the session is gone."""
        c = ubus.UbusCall(obj, method, dict(args or {}))
        for attempt in (0, 1):
            sid = await self._sid_now()
            (req_id,) = self._ids(1)
            reply = await self._post(ubus.call_request(req_id, sid, c))
            try:
                return ubus.parse_reply(self.device_id, reply, c.name)
            except ubus.AccessDenied:
                if attempt:
                    break
                await self._relogin(sid)
        raise PermissionDenied(
            self.device_id,
            f"{c.name}: access denied to {self.management.username!r} (ubus -32002 after a fresh login)",
        )

    async def batch(self, calls: Sequence[ubus.UbusCall]) -> list[dict[str, Any] | DeviceError]:
        """Several calls in one request; each item is the data or its exception."""
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
            retry = []
            for k, part in zip(todo, parts, strict=True):
                if isinstance(part, ubus.AccessDenied):
                    if attempt == 0:
                        retry.append(k)
                        continue
                    part = PermissionDenied(
                        self.device_id,
                        f"{calls[k].name}: access denied to {self.management.username!r} "
                        "(ubus -32002 after a fresh login)",
                    )
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
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def is_alive(self) -> bool:
        try:
            await self.call(
                "session", "access", {"scope": "ubus", "object": "uci", "function": "get"}
            )
        except DeviceError:
            return False
        return True

    # -- facts and status --------------------------------------------------

    @staticmethod
    def _ok(x: dict[str, Any] | DeviceError) -> dict[str, Any] | None:
        return x if isinstance(x, dict) else None

    def _raise_hard(
        self,
        parts: Sequence[dict[str, Any] | DeviceError],
        unsupported: list[str],
        calls: Sequence[ubus.UbusCall],
    ) -> None:
        for part, c in zip(parts, calls, strict=True):
            if isinstance(part, Unsupported):
                if c.object not in unsupported:
                    unsupported.append(c.object)
            elif isinstance(part, DeviceError):
                raise part

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
        unsupported: list[str] = []
        self._raise_hard(parts[:2], unsupported, calls[:2])
        dev = self._ok(parts[2]) or {}
        return self._facts(self._ok(parts[0]), self._ok(parts[1]), str(dev.get("macaddr", "")))

    async def status(self) -> DeviceStatus:
        unsupported: list[str] = []
        first = [
            ubus.UbusCall("system", "board"),
            ubus.UbusCall("system", "info"),
            ubus.UbusCall("network.interface", "dump"),
            ubus.UbusCall("network.device", "status"),
            ubus.UbusCall("iwinfo", "devices"),
        ]
        parts = await self.batch(first)
        self._raise_hard(parts, unsupported, first)
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
            for n, r in enumerate(radio_names):
                info_p, assoc_p, survey_p = rparts[3 * n : 3 * n + 3]
                if isinstance(info_p, ProtocolError) and info_p.code == 4:
                    continue  # the radio went away between the two batches
                self._raise_hard(
                    [info_p, assoc_p, survey_p], unsupported, second[3 * n : 3 * n + 3]
                )
                radios.append(
                    self._radio(r, self._ok(info_p), self._ok(assoc_p), self._ok(survey_p))
                )
        return DeviceStatus(
            device=self.device_id,
            ts=self.clock.now(),
            facts=facts,
            system=system,
            radios=radios,
            interfaces=interfaces,
            unsupported=unsupported,
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
            utilisation_pct=None if util is None else round(min(100.0, max(0.0, util)), 2),
            clients=clients,
        )

    # -- config ------------------------------------------------------------

    async def get_config(self) -> ConfigTree:
        calls = [ubus.UbusCall("uci", "get", {"config": c}) for c in self.configs]
        parts = await self.batch(calls)
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
        running = self._running or {}
        out: list[Change] = []
        for config, chs in sorted((await self._changes()).items()):
            for ch in chs:
                if not isinstance(ch, list) or len(ch) < 2:
                    continue
                op, sec = ch[0], ch[1]
                old_sec = running.get(config, {}).get(sec)
                if op == "add":
                    out.append(
                        Change(
                            path=f"{config}.{sec}",
                            op="add",
                            new=f"({ch[2] if len(ch) > 2 else '?'})",
                        )
                    )
                elif op in ("set", "list-add") and len(ch) >= 4:
                    opt, val = ch[2], ch[3]
                    old = (old_sec or {}).get(opt)
                    if old == val:
                        continue
                    out.append(
                        Change(
                            path=f"{config}.{sec}.{opt}",
                            op="change" if old is not None else "add",
                            old=old,
                            new=val,
                            secret=opt in SECRET_KEYS,
                        )
                    )
                elif op == "remove":
                    if len(ch) >= 3:
                        opt = ch[2]
                        out.append(
                            Change(
                                path=f"{config}.{sec}.{opt}",
                                op="remove",
                                old=(old_sec or {}).get(opt),
                                secret=opt in SECRET_KEYS,
                            )
                        )
                    else:
                        out.append(
                            Change(
                                path=f"{config}.{sec}",
                                op="remove",
                                old=f"({(old_sec or {}).get('.type', '?')})",
                            )
                        )
        out.sort(key=lambda c: c.path)
        return ConfigDiff(device=self.device_id, changes=out)

    async def commit(self, confirm_timeout: float | None = None) -> None:
        args: dict[str, Any] = {"rollback": confirm_timeout is not None}
        if confirm_timeout is not None:
            args["timeout"] = max(1, math.ceil(confirm_timeout))
        try:
            await self.call("uci", "apply", args)
        except PermissionDenied as exc:
            if isinstance(exc, ubus.AccessDenied) or "status 6" not in exc.message:
                raise
            raise ProtocolError(
                self.device_id,
                "uci apply refused: another apply is still waiting for its confirm (ubus status 6)",
                code=6,
            ) from None
        except ProtocolError as exc:
            if exc.code == 5:
                raise ProtocolError(
                    self.device_id, "uci apply: nothing staged to apply (ubus status 5)", code=5
                ) from None
            raise
        self._apply_deadline = (
            self.clock.monotonic() + confirm_timeout if confirm_timeout is not None else None
        )

    async def confirm(self) -> None:
        deadline = self._apply_deadline
        # Only confirm once the mast answers us again (a change may have moved it).
        while True:
            try:
                await self.call(
                    "session", "access", {"scope": "ubus", "object": "uci", "function": "confirm"}
                )
                break
            except DeviceUnreachable:
                if deadline is None or self.clock.monotonic() >= deadline:
                    raise
                await self.clock.sleep(self.confirm_poll_s)
        try:
            await self.call("uci", "confirm")
        except ProtocolError as exc:
            if exc.code == 5:
                raise ProvisioningError(
                    f"{self.device_id}: nothing to confirm: the mast has no pending apply "
                    "(the rollback timer already fired, or it rebooted)"
                ) from None
            raise
        except PermissionDenied as exc:
            if isinstance(exc, ubus.AccessDenied):
                raise
            raise ProvisioningError(
                f"{self.device_id}: the pending apply belongs to another session (ubus status 6)"
            ) from None
        self._apply_deadline = None

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
        except ProtocolError as exc:
            if exc.code == 5:
                raise ProvisioningError(
                    f"{self.device_id}: no unconfirmed apply to roll back"
                ) from None
            raise
        self._apply_deadline = None

    async def reboot(self) -> None:
        await self.call("system", "reboot")
        self._sid = None
