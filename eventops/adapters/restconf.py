"""The ``restconf`` fibre-endpoint driver: RESTCONF (RFC 8040) with OpenConfig.

Finds the RESTCONF root through ``/.well-known/host-meta``, speaks
``application/yang-data+json`` with HTTP Basic authentication, and reads
``openconfig-interfaces`` (oper/admin status, counters), the
``openconfig-platform`` transceivers (per-lane power, bias, temperature,
the module's thresholds) and ``openconfig-system`` (hostname, boot time).

Config is ``{"interfaces": {name: {"description", "enabled", "vlans"}}}``.
There is no candidate datastore on these devices: ``load_candidate`` keeps
the candidate here, ``compare`` diffs it against the running config read
from the device, and ``commit`` sends one PATCH with only what differs.
A commit with a confirm timeout is reverted by this driver (not the
device) unless :meth:`confirm` comes in time: ``rollback_on_device`` is False.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from eventops.adapters import restconf_codec as rc
from eventops.adapters.base import (
    Capabilities,
    ConfigDiff,
    ConfigTree,
    DeviceDriver,
    DeviceStatus,
    Facts,
    SystemStatus,
    diff_trees,
    ssl_for,
)
from eventops.adapters.http import exchange, new_session
from eventops.clock import Clock
from eventops.errors import DeviceError, ProtocolError, ProvisioningError, Unsupported
from eventops.profile.models import Management

IF_PATH = f"{rc.IF_MODULE}:interfaces"
COMP_PATH = f"{rc.PLATFORM_MODULE}:components"
SYS_PATH = f"{rc.SYSTEM_MODULE}:system"
CONFIG_LEAVES = ("description", "enabled", "vlans")


class RestconfDriver(DeviceDriver):
    name = "restconf"
    capabilities = Capabilities(
        rollback_on_device=False,
        confirm_timeout=True,
        streams_events=False,
        reboot=False,
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
    ) -> None:
        super().__init__(device_id, management, clock=clock, session=session, timeout=timeout)
        self.base = management.url.rstrip("/")
        self._ssl = ssl_for(management)
        self.root: str | None = None
        self._candidate: ConfigTree | None = None
        self._previous: dict[str, dict[str, Any]] | None = None
        self._revert_task: asyncio.Task[None] | None = None
        self.auto_reverted = False
        self.revert_error: DeviceError | None = None

    # -- transport ---------------------------------------------------------

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = new_session()
            self._own_session = True
        return self._session

    async def _auth(self) -> str:
        user = self.management.username
        if ":" in user:
            raise ProtocolError(self.device_id, "HTTP Basic user names cannot contain ':'")
        token = f"{user}:{await self.password()}".encode()
        return "Basic " + base64.b64encode(token).decode("ascii")

    async def _request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        headers = {"Accept": rc.YANG_JSON}
        if path.startswith(self.root or "\0"):
            headers["Authorization"] = await self._auth()
        data = None
        if body is not None:
            headers["Content-Type"] = rc.YANG_JSON
            data = json.dumps(body).encode()
        status, _h, raw = await exchange(
            self.device_id,
            self._http(),
            method,
            self.base + path,
            timeout_s=self.timeout,
            ssl=self._ssl,
            data=data,
            headers=headers,
            clock=self.clock,
        )
        return status, raw

    async def _discover(self) -> str:
        status, raw = await self._request("GET", "/.well-known/host-meta")
        if status == 200:
            root = rc.parse_host_meta(raw.decode("utf-8", "replace"))
            if root is None:
                raise ProtocolError(
                    self.device_id, "host-meta names no RESTCONF root (rel='restconf')"
                )
            return root
        if status == 404:
            return "/restconf"  # servers without host-meta use the conventional root
        raise rc.error_for(self.device_id, status, raw, "GET /.well-known/host-meta")

    async def _root(self) -> str:
        if self.root is None:
            self.root = await self._discover()
        return self.root

    async def get(self, *segments: str) -> Any:
        root = await self._root()
        path = rc.data_path(root, *segments)
        status, raw = await self._request("GET", path)
        if status != 200:
            raise rc.error_for(self.device_id, status, raw, f"GET {path}")
        return rc.decode_json(self.device_id, raw, f"GET {path}")

    async def patch(self, body: Mapping[str, Any], *segments: str) -> None:
        root = await self._root()
        path = rc.data_path(root, *segments)
        status, raw = await self._request("PATCH", path, body)
        if status not in (200, 204):
            raise rc.error_for(self.device_id, status, raw, f"PATCH {path}")

    # -- lifecycle ---------------------------------------------------------

    async def open(self) -> None:
        root = await self._root()
        status, raw = await self._request("GET", root)
        if status != 200:
            if status == 401:
                self.forget_password()
            raise rc.error_for(self.device_id, status, raw, f"GET {root}")
        rc.decode_json(self.device_id, raw, f"GET {root}")

    async def close(self) -> None:
        if self._revert_task is not None:
            self._revert_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._revert_task
            self._revert_task = None
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def is_alive(self) -> bool:
        try:
            await self.get(SYS_PATH, "state")
        except Unsupported:
            return True
        except DeviceError:
            return False
        return True

    # -- facts and status --------------------------------------------------

    async def _facts_from(self, unsupported: list[str]) -> tuple[Facts, Any]:
        components: Any = None
        facts = Facts(device=self.device_id)
        try:
            components = rc.unwrap(await self.get(COMP_PATH), COMP_PATH)
        except Unsupported:
            unsupported.append(rc.PLATFORM_MODULE)
        for comp in rc.member(components, "component") or []:
            st = rc.member(comp, "state") or {}
            if str(rc.member(st, "type") or "").endswith("CHASSIS"):
                facts.vendor = str(rc.member(st, "mfg-name") or "")
                facts.model = str(rc.member(st, "part-no") or rc.member(st, "description") or "")
                facts.serial = str(rc.member(st, "serial-no") or "")
                facts.firmware = str(rc.member(st, "software-version") or "")
                break
        sys_state: Any = None
        try:
            sys_state = rc.unwrap(await self.get(SYS_PATH, "state"), "state")
        except Unsupported:
            unsupported.append(rc.SYSTEM_MODULE)
        if isinstance(sys_state, Mapping):
            facts.hostname = str(rc.member(sys_state, "hostname") or "")
            boot = rc.u64(rc.member(sys_state, "boot-time"))
            now_s = rc.member(sys_state, "current-datetime")
            try:
                now = (
                    datetime.fromisoformat(str(now_s).replace("Z", "+00:00")).timestamp()
                    if now_s
                    else None
                )
            except ValueError:
                now = None
            if boot and now:
                facts.uptime_s = max(0.0, now - boot / 1e9)
        return facts, components

    async def facts(self) -> Facts:
        facts, _ = await self._facts_from([])
        return facts

    async def status(self) -> DeviceStatus:
        unsupported: list[str] = []
        t0 = self.clock.monotonic()
        interfaces = rc.unwrap(await self.get(IF_PATH), IF_PATH)
        t1 = self.clock.monotonic()
        read_at = self.clock.now() - timedelta(seconds=(t1 - t0) / 2)
        facts, components = await self._facts_from(unsupported)
        ifs = rc.interfaces_from(interfaces)
        return DeviceStatus(
            device=self.device_id,
            ts=read_at,
            mono=(t0 + t1) / 2,
            read_s=t1 - t0,
            facts=facts,
            system=SystemStatus(uptime_s=facts.uptime_s) if facts.uptime_s else None,
            interfaces=ifs,
            optics=rc.optics_from(components, [i.name for i in ifs])
            if components is not None
            else [],
            unsupported=unsupported,
        )

    # -- config ------------------------------------------------------------

    async def get_config(self) -> ConfigTree:
        return rc.config_from(rc.unwrap(await self.get(IF_PATH), IF_PATH))

    async def load_candidate(self, candidate: ConfigTree) -> None:
        ifs = candidate.get("interfaces")
        if set(candidate) - {"interfaces"} or not isinstance(ifs, Mapping):
            raise ProvisioningError(
                f"{self.device_id}: a RESTCONF candidate is {{'interfaces': {{name: {{...}}}}}}"
            )
        running = (await self.get_config())["interfaces"]
        for name, leaves in ifs.items():
            if name not in running:
                raise ProvisioningError(f"{self.device_id}: no interface {name!r} on the device")
            if not isinstance(leaves, Mapping) or set(leaves) - set(CONFIG_LEAVES):
                raise ProvisioningError(
                    f"{self.device_id}: interface {name!r}: only {', '.join(CONFIG_LEAVES)} can be set"
                )
            vlans = leaves.get("vlans", [])
            if not isinstance(vlans, list) or not all(
                isinstance(v, int) and 1 <= v <= 4094 for v in vlans
            ):
                raise ProvisioningError(
                    f"{self.device_id}: interface {name!r}: vlans must be ids 1-4094"
                )
        self._candidate = {"interfaces": {n: dict(v) for n, v in ifs.items()}}

    def _normalise(self, tree: ConfigTree) -> ConfigTree:
        out: dict[str, Any] = {}
        for n, leaves in tree.get("interfaces", {}).items():
            d = dict(leaves)
            if "vlans" in d:
                d["vlans"] = sorted(set(d["vlans"]))
            out[n] = d
        return {"interfaces": out}

    async def compare(self) -> ConfigDiff:
        if self._candidate is None:
            return ConfigDiff(device=self.device_id)
        running = await self.get_config()
        return diff_trees(self.device_id, running, self._normalise(self._candidate))

    async def commit(self, confirm_timeout: float | None = None) -> None:
        if self._candidate is None:
            raise ProvisioningError(f"{self.device_id}: nothing loaded to commit")
        if self._previous is not None:
            raise ProvisioningError(
                f"{self.device_id}: the previous commit still waits for its confirm"
            )
        running = (await self.get_config())["interfaces"]
        wanted = self._normalise(self._candidate)["interfaces"]
        changes: dict[str, dict[str, Any]] = {}
        previous: dict[str, dict[str, Any]] = {}
        for name, leaves in wanted.items():
            diff = {k: v for k, v in leaves.items() if running[name].get(k) != v}
            if diff:
                changes[name] = diff
                previous[name] = {k: running[name].get(k) for k in diff}
        if changes:
            await self.patch(rc.patch_body(changes), IF_PATH)
        self._candidate = None
        if confirm_timeout is not None and changes:
            self._previous = previous
            self.auto_reverted = False
            self._revert_task = asyncio.create_task(self._revert_after(confirm_timeout))
            await asyncio.sleep(0)  # let the timer start counting now, not at the next await

    async def _revert_after(self, seconds: float) -> None:
        await self.clock.sleep(seconds)
        if self._previous is not None:
            previous, self._previous = self._previous, None
            self._revert_task = None
            try:
                await self.patch(rc.patch_body(previous), IF_PATH)
            except DeviceError as exc:
                self.revert_error = exc  # provisioning reads this; the device keeps the change
                return
            self.auto_reverted = True

    async def confirm(self) -> None:
        if self._previous is None:
            raise ProvisioningError(
                f"{self.device_id}: nothing to confirm"
                + (
                    " (the commit was already reverted after its timeout)"
                    if self.auto_reverted
                    else ""
                )
            )
        self._previous = None
        await self._cancel_revert()

    async def _cancel_revert(self) -> None:
        task, self._revert_task = self._revert_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def discard(self) -> None:
        self._candidate = None

    async def rollback(self) -> None:
        if self._previous is None:
            raise ProvisioningError(f"{self.device_id}: no unconfirmed commit to roll back")
        previous, self._previous = self._previous, None
        await self._cancel_revert()
        await self.patch(rc.patch_body(previous), IF_PATH)

    async def reboot(self) -> None:
        raise Unsupported(
            self.device_id, "RESTCONF/OpenConfig offers no reboot operation on this device"
        )
