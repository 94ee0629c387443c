"""One async interface for every device family, with NAPALM's verbs.

A driver talks to one device through that device's own protocol (OpenWrt
ubus JSON-RPC, RESTCONF/OpenConfig, ...). The verbs are the same for every
family: open/close/is_alive, facts, status, get_config, load_candidate,
compare, commit (with a confirm timeout), confirm, discard, rollback,
reboot. What a driver can do beyond the minimum is declared in
:class:`Capabilities`, which the UI and provisioning read: a driver that
cannot roll back by itself says so, and provisioning restores the previous
config on its own.

Errors are the :class:`~eventops.errors.DeviceError` branch of the
hierarchy: unreachable, timeout, authentication, permission, protocol error
(with the device's own code and text), unsupported.

Configuration is exchanged as a :data:`ConfigTree`: nested mappings whose
leaves are strings, numbers, booleans or lists of those. OpenWrt uses
``{config: {section: {option: value}}}`` (UCI); RESTCONF endpoints use
``{"interfaces": {name: {"description": ..., "enabled": ..., "vlans": [...]}}}``.
:func:`flatten` turns a tree into leaf paths for diffs and checksums.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, ClassVar, Literal, Self

import aiohttp
from pydantic import BaseModel, ConfigDict, Field

from eventops.clock import Clock, SystemClock
from eventops.errors import ProfileError
from eventops.profile.models import Management, Mast, Switch

ConfigTree = dict[str, Any]


class Capabilities(BaseModel):
    model_config = ConfigDict(frozen=True)

    rollback_on_device: bool = False
    """The device restores its previous config by itself if a commit is not confirmed."""
    confirm_timeout: bool = False
    """commit() accepts a confirm timeout."""
    streams_events: bool = False
    """The device can push events (e.g. ubus subscribe) rather than only be polled."""
    reboot: bool = True
    partial_config: bool = True
    """load_candidate() merges into the running config rather than replacing it."""


class Facts(BaseModel):
    device: str
    vendor: str = ""
    model: str = ""
    firmware: str = ""
    serial: str = ""
    hostname: str = ""
    uptime_s: float = 0.0


class WlanClient(BaseModel):
    mac: str
    signal_dbm: float | None = None
    noise_dbm: float | None = None
    rx_rate_kbps: float | None = None
    tx_rate_kbps: float | None = None
    connected_s: float | None = None
    inactive_ms: float | None = None


class RadioStatus(BaseModel):
    name: str
    """Interface name, e.g. ``phy0-ap0``."""
    up: bool = True
    band: Literal["2g", "5g", "6g"] | None = None
    ssid: str = ""
    bssid: str = ""
    channel: int | None = None
    frequency_mhz: int | None = None
    width_mhz: int | None = None
    tx_power_dbm: float | None = None
    noise_dbm: float | None = None
    signal_dbm: float | None = None
    bitrate_kbps: float | None = None
    utilisation_pct: float | None = None
    """Channel busy time / active time, from the survey of the in-use frequency."""
    clients: list[WlanClient] = Field(default_factory=list)


class InterfaceStatus(BaseModel):
    name: str
    oper_status: str = "UNKNOWN"
    """UP, DOWN, TESTING, UNKNOWN, DORMANT, NOT_PRESENT, LOWER_LAYER_DOWN."""
    admin_status: str = "UP"
    description: str = ""
    carrier: bool | None = None
    speed_mbps: float | None = None
    mtu: int | None = None
    in_octets: int = 0
    out_octets: int = 0
    in_errors: int = 0
    out_errors: int = 0
    in_discards: int = 0
    out_discards: int = 0
    in_fcs_errors: int = 0
    carrier_transitions: int = 0
    last_change: datetime | None = None


class OpticThresholds(BaseModel):
    input_power_upper: float | None = None
    input_power_lower: float | None = None
    output_power_upper: float | None = None
    output_power_lower: float | None = None
    laser_bias_upper: float | None = None
    laser_bias_lower: float | None = None
    temperature_upper: float | None = None
    temperature_lower: float | None = None


class OpticStatus(BaseModel):
    port: str
    present: bool = True
    form_factor: str = ""
    ethernet_pmd: str = ""
    vendor: str = ""
    serial: str = ""
    rx_power_dbm: list[float] = Field(default_factory=list)
    """Input power per lane (channel), dBm."""
    tx_power_dbm: list[float] = Field(default_factory=list)
    laser_bias_ma: list[float] = Field(default_factory=list)
    temperature_c: float | None = None
    thresholds: dict[str, OpticThresholds] = Field(default_factory=dict)
    """The module's own thresholds by severity (``critical``, ``major``, ``warning`` ...)."""


class SystemStatus(BaseModel):
    uptime_s: float
    load: tuple[float, float, float] | None = None
    memory_total: int | None = None
    memory_available: int | None = None


class DeviceStatus(BaseModel):
    device: str
    ts: datetime
    """When the counters were read (the middle of that request), on the wall clock."""
    mono: float | None = None
    """The same moment as ``ts`` on the driver clock's monotonic clock: rates are taken
    over this, and a wall clock that moved differently has jumped."""
    read_s: float | None = None
    """How long the request that read the counters took (how well ``mono`` is known)."""
    facts: Facts
    system: SystemStatus | None = None
    radios: list[RadioStatus] = Field(default_factory=list)
    interfaces: list[InterfaceStatus] = Field(default_factory=list)
    optics: list[OpticStatus] = Field(default_factory=list)
    unsupported: list[str] = Field(default_factory=list)
    """What this device does not offer (e.g. a ubus object missing), not a failure."""
    unavailable: dict[str, str] = Field(default_factory=dict)
    """Why each entry of ``unsupported`` is missing, e.g. ``{"iwinfo": "rpcd-mod-iwinfo
    not installed"}`` or ``{"iwinfo": "access denied to monitor"}``; checks that need it
    show "not available: <reason>" instead of alerting."""


class Change(BaseModel):
    path: str
    """Leaf path, e.g. ``wireless.default_radio0.ssid`` or ``interfaces.Ethernet1/1.description``."""
    op: Literal["add", "change", "remove"]
    old: Any = None
    new: Any = None
    secret: bool = False
    """Show as "changed" only: the values are secrets."""

    def render(self) -> str:
        if self.secret:
            return (
                f"~ {self.path}: (secret changed)"
                if self.op == "change"
                else f"{'+' if self.op == 'add' else '-'} {self.path}: (secret)"
            )
        if self.op == "add":
            return f"+ {self.path} = {self.new!r}"
        if self.op == "remove":
            return f"- {self.path} (was {self.old!r})"
        return f"~ {self.path}: {self.old!r} -> {self.new!r}"


class ConfigDiff(BaseModel):
    device: str
    changes: list[Change] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.changes

    def render(self) -> str:
        return "\n".join(c.render() for c in self.changes)


SECRET_KEYS = frozenset({"key", "password", "auth_secret", "priv_key_pwd", "sae_password"})


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Leaf paths of a config tree, joined with dots."""
    out: dict[str, Any] = {}
    for k in sorted(tree):
        v = tree[k]
        path = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(flatten(v, path))
        else:
            out[path] = v
    return out


def diff_trees(device: str, running: Mapping[str, Any], desired: Mapping[str, Any]) -> ConfigDiff:
    """Leaf-level diff from ``running`` to ``desired``; only keys in ``desired`` are compared."""
    a, b = flatten(running), flatten(desired)
    changes = []
    for path in sorted(b):
        secret = path.rsplit(".", 1)[-1] in SECRET_KEYS
        if path not in a:
            changes.append(Change(path=path, op="add", new=b[path], secret=secret))
        elif a[path] != b[path]:
            changes.append(Change(path=path, op="change", old=a[path], new=b[path], secret=secret))
    return ConfigDiff(device=device, changes=changes)


def checksum(tree: Mapping[str, Any]) -> str:
    """Deterministic SHA-256 over a config tree (key order and number spelling do not matter)."""
    canon = json.dumps(flatten(tree), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canon.encode()).hexdigest()


def ssl_for(management: Management) -> aiohttp.Fingerprint | bool:
    """The TLS setting for a device: its certificate pin, or plain HTTP.

    There is no "verify off": an https device without a pin is a profile
    error, and a certificate that does not match the pin fails the connection.
    """
    if management.url.startswith("https://"):
        if not management.tls_pin:
            raise ProfileError(f"{management.url}: https needs tls_pin")
        return aiohttp.Fingerprint(bytes.fromhex(management.tls_pin))
    return True


class DeviceDriver(ABC):
    """Base of every device driver; one instance per device."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(
        self,
        device_id: str,
        management: Management,
        *,
        clock: Clock | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: float | None = None,
    ) -> None:
        self.device_id = device_id
        self.management = management
        self.clock = clock or SystemClock()
        self.timeout = timeout if timeout is not None else management.timeout_s
        self._session = session
        self._own_session = session is None
        self._password: str | None = None

    async def password(self) -> str:
        """The device password from its secret reference, read off the event loop once."""
        if self._password is None:
            self._password = await asyncio.to_thread(self.management.password.reveal)
        return self._password

    def forget_password(self) -> None:
        """Read the secret again next time (e.g. after the device refused it)."""
        self._password = None

    async def __aenter__(self) -> Self:
        try:
            await self.open()
        except BaseException:
            await self.close()  # release the HTTP session of a failed open
            raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @abstractmethod
    async def open(self) -> None:
        """Connect and authenticate."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def is_alive(self) -> bool:
        """A cheap check that the device answers and our session is valid."""

    @abstractmethod
    async def facts(self) -> Facts: ...

    @abstractmethod
    async def status(self) -> DeviceStatus: ...

    @abstractmethod
    async def get_config(self) -> ConfigTree:
        """The running config, in the driver's tree shape."""

    @abstractmethod
    async def load_candidate(self, candidate: ConfigTree) -> None:
        """Stage ``candidate`` (merged into running) without activating it."""

    @abstractmethod
    async def compare(self) -> ConfigDiff:
        """The staged changes against the running config."""

    @abstractmethod
    async def commit(self, confirm_timeout: float | None = None) -> None:
        """Activate the staged config; with a timeout, the device (or the driver)
        reverts unless :meth:`confirm` follows in time."""

    @abstractmethod
    async def confirm(self) -> None: ...

    @abstractmethod
    async def discard(self) -> None:
        """Drop staged changes."""

    @abstractmethod
    async def rollback(self) -> None:
        """Undo the last (unconfirmed) commit now."""

    @abstractmethod
    async def reboot(self) -> None: ...


DriverFactory = Callable[[Mast | Switch, Clock, float], "DeviceDriver"]
"""Makes a (not yet opened) driver for a device: ``factory(device, clock, timeout_s)``.

The one signature the engine, provisioning and tests use to put their own
drivers (a shared HTTP session, a scripted fake) in place of :func:`driver_for`.
"""

#: Driver name (as in the profile) to "module:Class".
DRIVERS: Mapping[str, str] = {
    "openwrt": "eventops.adapters.openwrt:OpenWrtDriver",
    "restconf": "eventops.adapters.restconf:RestconfDriver",
}


def driver_class(name: str) -> type[DeviceDriver]:
    try:
        target = DRIVERS[name]
    except KeyError:
        known = ", ".join(sorted(DRIVERS))
        raise ProfileError(f"unknown driver {name!r} (known: {known})") from None
    module, cls = target.split(":")
    found: type[DeviceDriver] = getattr(importlib.import_module(module), cls)
    return found


def driver_for(device: Mast | Switch, **kwargs: Any) -> DeviceDriver:
    """A driver instance for a profile device (not yet opened)."""
    return driver_class(device.driver)(device.id, device.management, **kwargs)
