"""The ``openwrt`` driver's core: session, login, ubus calls and batches, lifecycle.

See :mod:`eventops.adapters.openwrt` for the protocol notes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from eventops.adapters import ubus
from eventops.adapters.base import (
    ConfigTree,
    DeviceDriver,
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


class OpenWrtCore(DeviceDriver):
    """Transport and lifecycle; :class:`~eventops.adapters.openwrt.OpenWrtDriver` adds the rest."""

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
