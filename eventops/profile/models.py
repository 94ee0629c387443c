"""The event profile: pydantic v2 models of one event's TOML file.

Structure and types are checked here; rules that look across objects
(unique ids, references, DE radio rules, secrets, time window) live in
:mod:`eventops.profile.checks` so that every fault in a file is reported at
once, each at its own key. Load profiles with
:func:`eventops.profile.load_profile`, which runs both.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

from eventops.profile.text import MULTILINE_FIELDS, clean_text
from eventops.secrets import SecretRef

Id = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$",
        description="lower-case identifier: a-z, 0-9, '.', '_', '-' (max 63)",
    ),
]
Hex64 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


Float = Annotated[float, Strict()]
"""A number: TOML integer or float; never true/false or a string."""
Int = Annotated[int, Strict()]
"""A TOML integer; never true/false, a float or a string."""
Bool = Annotated[bool, Strict()]
"""true or false; never 0/1 or a string."""


class Model(BaseModel):
    """Every profile object: unknown keys refused, numbers and booleans strict, text clean.

    TOML has real types, so a profile never needs ``tx_power_dbm = true`` or
    ``channel = "6"`` to mean a number, nor ``enabled = 1`` to mean true:
    pydantic's lax coercions would turn typos into settings. Free text is
    cleaned of control and bidi-control characters (:mod:`eventops.profile.text`).
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, use_attribute_docstrings=True, allow_inf_nan=False
    )

    @field_validator("*", mode="after")
    @classmethod
    def _clean_text(cls, value: Any, info: ValidationInfo) -> Any:
        multiline = info.field_name in MULTILINE_FIELDS
        if isinstance(value, str):
            return clean_text(value, multiline=multiline)
        if isinstance(value, list) and any(isinstance(v, str) for v in value):
            return [clean_text(v, multiline=multiline) if isinstance(v, str) else v for v in value]
        return value


class Role(StrEnum):
    technician = "technician"
    authority = "authority"
    comms = "comms"


class Event(Model):
    id: Id
    """Short identifier; names the store file and the wall URL."""
    name: str = Field(min_length=1)
    venue: str = ""
    start: datetime
    """Start of the event window (with offset, or local to ``timezone``)."""
    end: datetime
    timezone: str = "Europe/Berlin"
    """IANA time zone the event is shown in; times are stored in UTC."""
    retention_days: Int = Field(default=30, ge=1, le=3650)
    """Posts, cached media and samples older than this are purged."""

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @model_validator(mode="after")
    def _localise(self) -> Event:
        tz = ZoneInfo(self.timezone)
        for name in ("start", "end"):
            value: datetime = getattr(self, name)
            if value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=tz))
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Location(Model):
    lat: Float | None = Field(default=None, ge=-90, le=90)
    lon: Float | None = Field(default=None, ge=-180, le=180)
    description: str = ""


class Radio(Model):
    band: Literal["2g", "5g"]
    channel: Int = Field(ge=1, le=196)
    width: Int = Field(default=20, description="channel width in MHz")
    tx_power_dbm: Float = Field(ge=0, le=36)
    """Conducted transmit power; plus the mast's antenna gain gives EIRP."""
    enabled: Bool = True


class Ssid(Model):
    name: str = Field(min_length=1, max_length=32)
    security: Literal["open", "owe", "wpa2", "wpa3", "wpa2-wpa3", "wpa2-enterprise"] = "wpa2"
    key: SecretRef | None = None
    """Pre-shared key reference (env:NAME or file:PATH); required for wpa2/wpa3."""
    vlan: Int | None = Field(default=None, ge=1, le=4094)
    isolation: Bool = False
    """Client isolation: stations cannot talk to each other."""
    bands: list[Literal["2g", "5g"]] = Field(default_factory=lambda: ["2g", "5g"])  # type: ignore[arg-type]
    hidden: Bool = False

    @model_validator(mode="after")
    def _key(self) -> Ssid:
        needs_key = self.security in ("wpa2", "wpa3", "wpa2-wpa3")
        if needs_key and self.key is None:
            raise ValueError(f"security {self.security} needs a key reference")
        if self.security in ("open", "owe") and self.key is not None:
            raise ValueError(f"security {self.security} takes no key")
        return self


class MastSettings(Model):
    """Settings a site or the event defines for its masts; a mast overrides them."""

    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    ssids: list[Ssid] | None = None
    radios: list[Radio] | None = None


class Defaults(Model):
    mast: MastSettings = MastSettings()


class Site(Model):
    id: Id
    name: str = ""
    mast: MastSettings = MastSettings()
    """Overrides the event defaults for masts at this site."""


class Credentials(Model):
    username: str = Field(min_length=1)
    password: SecretRef


class Management(Model):
    """How eventops reaches a device."""

    url: str = Field(pattern=r"^https?://[^/\s]+$")
    """Scheme, host and port only, e.g. https://10.20.0.7:443."""
    tls_pin: str | None = None
    """SHA-256 of the device certificate (DER), hex, colons allowed."""
    username: str = Field(default="root", min_length=1)
    password: SecretRef
    timeout_s: Float = Field(default=5.0, gt=0, le=120)

    @field_validator("tls_pin")
    @classmethod
    def _pin(cls, v: str | None) -> str | None:
        if v is None:
            return v
        clean = v.lower().removeprefix("sha256:").replace(":", "")
        if len(clean) != 64 or any(c not in "0123456789abcdef" for c in clean):
            raise ValueError(
                "tls_pin must be a SHA-256 fingerprint: 64 hex digits (colons allowed)"
            )
        return clean


#: Drivers a profile may name, per kind of device (each is in eventops.adapters.base.DRIVERS).
MAST_DRIVERS: tuple[str, ...] = ("openwrt",)
SWITCH_DRIVERS: tuple[str, ...] = ("restconf",)


def _driver(value: str, allowed: tuple[str, ...], kind: str) -> str:
    if value not in allowed:
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise ValueError(f"unknown {kind} driver {shown!r} (allowed: {', '.join(allowed)})")
    return value


class Mast(Model):
    id: Id
    site: Id | None = None
    driver: str = "openwrt"
    """How eventops talks to the mast; one of MAST_DRIVERS."""
    hostname: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
    management: Management
    location: Location = Location()
    indoor: Bool = False
    antenna_gain_dbi: Float = Field(default=0.0, ge=0, le=30)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    radios: list[Radio] | None = None
    ssids: list[Ssid] | None = None
    uplink: Id | None = None
    """The fibre link this mast hangs off (for upstream-down grouping and apply order)."""
    authorities: list[Id] = Field(default_factory=list)
    poll_interval_s: Float | None = Field(default=None, gt=0, le=3600)

    @field_validator("driver")
    @classmethod
    def _known_driver(cls, v: str) -> str:
        return _driver(v, MAST_DRIVERS, "mast")


class Port(Model):
    name: str = Field(min_length=1)
    description: str = ""
    vlans: list[Int] = Field(default_factory=list)
    enabled: Bool = True

    @field_validator("vlans")
    @classmethod
    def _vlans(cls, v: list[int]) -> list[int]:
        for vid in v:
            if not 1 <= vid <= 4094:
                raise ValueError(f"VLAN {vid} is out of range 1-4094")
        return v


class Switch(Model):
    """A switch or media converter at one end of a fibre link."""

    id: Id
    site: Id | None = None
    kind: Literal["switch", "media-converter"] = "switch"
    driver: str = "restconf"
    management: Management
    location: Location = Location()
    ports: list[Port] = Field(min_length=1)
    authorities: list[Id] = Field(default_factory=list)
    poll_interval_s: Float | None = Field(default=None, gt=0, le=3600)

    @field_validator("driver")
    @classmethod
    def _known_driver(cls, v: str) -> str:
        return _driver(v, SWITCH_DRIVERS, "switch")


class Endpoint(Model):
    device: Id
    port: str = Field(min_length=1)


class Sla(Model):
    loss_pct: Float = Field(default=0.1, ge=0, le=100)
    delay_ms: Float = Field(default=5.0, gt=0, le=60_000)
    jitter_ms: Float = Field(default=1.0, gt=0, le=60_000)


class RxThresholds(Model):
    """Receive-power thresholds in dBm; default from the optic's window."""

    warn_low_dbm: Float | None = Field(default=None, ge=-60, le=30)
    crit_low_dbm: Float | None = Field(default=None, ge=-60, le=30)
    warn_high_dbm: Float | None = Field(default=None, ge=-60, le=30)
    crit_high_dbm: Float | None = Field(default=None, ge=-60, le=30)


Optic = Literal["1000BASE-LX", "1000BASE-SX", "1000BASE-BX", "10GBASE-LR", "10GBASE-SR"]


class ProbeTarget(Model):
    """Where the link's proof runs: a STAMP reflector and a throughput sink."""

    reflector: str = Field(pattern=r"^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$")
    """host:port of the STAMP reflector at the far end."""
    sink: str | None = Field(default=None, pattern=r"^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$")
    """host:port of an eventops probe sink (control port) at the far end."""


class Link(Model):
    id: Id
    name: str = ""
    a: Endpoint
    b: Endpoint
    controller_end: Literal["a", "b"] = "a"
    """The end that faces the control room / core network."""
    length_m: Float = Field(gt=0, le=80_000)
    optic: Optic
    capacity_mbps: Float = Field(gt=0, le=400_000)
    """Contracted capacity."""
    sla: Sla = Sla()
    probe: ProbeTarget | None = None
    rx_power: RxThresholds = RxThresholds()
    authorities: list[Id] = Field(default_factory=list)


class Polling(Model):
    mast_interval_s: Float = Field(default=10.0, gt=0, le=3600)
    fibre_interval_s: Float = Field(default=5.0, gt=0, le=3600)
    timeout_s: Float = Field(default=4.0, gt=0, le=120)
    concurrency: Int = Field(default=64, ge=1, le=4096)


class AlertTolerances(Model):
    """How long a condition must hold before it raises, and how it clears."""

    raise_after_s: Float = Field(default=0.0, ge=0, le=86_400)
    clear_after_s: Float = Field(default=30.0, ge=0, le=86_400)
    flap_transitions: Int = Field(default=4, ge=2, le=1000)
    flap_window_s: Float = Field(default=300.0, gt=0, le=86_400)
    rx_margin_warn_db: Float = Field(default=3.0, ge=0, le=60)
    rx_margin_crit_db: Float = Field(default=1.0, ge=0, le=60)
    drift_warn_db: Float = Field(default=2.0, gt=0, le=60)
    drift_crit_db: Float = Field(default=4.0, gt=0, le=60)
    utilisation_warn_pct: Float = Field(default=70.0, gt=0, le=100)
    utilisation_crit_pct: Float = Field(default=90.0, gt=0, le=100)
    webhook_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    """Alertmanager-compatible webhook receiver."""


class XSource(Model):
    kind: Literal["x"]
    bearer_token: SecretRef
    query: str | None = None
    """Search query; default built from the hashtags."""
    poll_interval_s: Float = Field(default=15.0, ge=1, le=3600)


class MastodonSource(Model):
    kind: Literal["mastodon"]
    instance: str = Field(pattern=r"^https?://[^/\s]+$")
    token: SecretRef | None = None
    stream: Bool = True
    poll_interval_s: Float = Field(default=15.0, ge=1, le=3600)


class ReplaySource(Model):
    kind: Literal["replay"]
    path: str
    """A recorded JSONL feed, relative to the profile's folder."""
    speed: Float = Field(default=1.0, gt=0, le=1000)
    loop: Bool = True


Source = Annotated[XSource | MastodonSource | ReplaySource, Field(discriminator="kind")]


class Announcement(Model):
    id: Id
    title_de: str = Field(min_length=1)
    text_de: str = Field(min_length=1)
    title_en: str = Field(min_length=1)
    text_en: str = Field(min_length=1)


class Wall(Model):
    hashtags: list[str] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    moderation: Literal["pre", "post"] = "pre"
    """pre: a person approves every post; post: what passes the rules is shown."""
    blocked_words: list[str] = Field(default_factory=list)
    use_default_blocklist: Bool = True
    blocked_users: list[str] = Field(default_factory=list)
    allowed_users: list[str] = Field(default_factory=list)
    allowed_domains: list[str] = Field(default_factory=list)
    blocked_domains: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    """ISO 639-1 codes; empty: any language."""
    allow_sensitive: Bool = False
    allow_replies: Bool = False
    allow_boosts: Bool = False
    allow_bots: Bool = False
    max_posts_per_author_per_hour: Int = Field(default=6, ge=1, le=10_000)
    screen_offline_blank_s: Float = Field(default=30.0, gt=0, le=86_400)
    """A screen that lost the server this long blanks to the event slide."""
    screen_rotate_s: Float = Field(default=12.0, ge=2, le=3600)
    """How long a screen shows one page when the wall is longer than the screen."""
    media_hosts: list[str] = Field(default_factory=list)
    """Hosts (``host`` or ``host:port``) the server may fetch avatars and thumbnails from,
    besides the Mastodon instances and X's picture host; screens never load them directly."""
    media_max_bytes: Int = Field(default=2_000_000, ge=1024, le=50_000_000)
    announcements: list[Announcement] = Field(default_factory=list)

    @field_validator("hashtags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        out = []
        for tag in v:
            t = tag.removeprefix("#")
            if not t or not all(c.isalnum() or c == "_" for c in t):
                raise ValueError(f"hashtag {tag!r} must be letters, digits or _")
            out.append(t)
        return out


class Authority(Model):
    id: Id
    name: str = Field(min_length=1)


class User(Model):
    name: Id
    role: Role
    authority: Id | None = None
    """For role=authority: which authority this user speaks for."""
    token_sha256: Hex64
    """SHA-256 of the user's API token (hex); `eventops token new USER` makes one."""

    @model_validator(mode="after")
    def _authority(self) -> User:
        if self.role is Role.authority and self.authority is None:
            raise ValueError("a user with role authority needs `authority`")
        if self.role is not Role.authority and self.authority is not None:
            raise ValueError(f"`authority` is only for role authority, not {self.role.value}")
        return self


class Server(Model):
    listen: str = Field(default="127.0.0.1:8470", pattern=r"^[^\s]+:\d{1,5}$")
    tls_cert: str | None = None
    tls_key: SecretRef | None = None
    event_ring_mb: Float = Field(default=8.0, gt=0, le=1024)
    """How much of the live stream's recent events the engine keeps for clients that
    resume (Last-Event-ID), in MB of their JSON; older events are dropped, and a client
    resuming from a dropped id gets a fresh snapshot."""
    event_ring_events: int = Field(default=10_000, ge=100, le=1_000_000)
    """... and at most this many events."""


class AuditSettings(Model):
    """The audit log's key: it keys the chain and signs checkpoints (eventops.store.audit)."""

    key: SecretRef | None = None
    """Secret reference (env:NAME or file:PATH) to at least 16 random bytes, e.g.
    `openssl rand -hex 32`; without it the log has the plain hash chain only."""
    checkpoint_interval_s: Float = Field(default=300.0, ge=10, le=86_400)
    """How often the engine signs a checkpoint of the log's head."""


class StoreSettings(Model):
    """Where the event's store lives: SQLite in the data folder (default), or PostgreSQL."""

    url: str | None = Field(default=None, max_length=2000)
    """``postgresql://USER@HOST[:PORT]/DATABASE`` (or ``?host=/socket/dir``): a PostgreSQL
    database that several events may share (every row carries the event id). Without it
    the store is an SQLite file in $EVENTOPS_DATA_DIR."""
    password: SecretRef | None = None
    """The database password as a secret reference (env:NAME or file:PATH), never in ``url``."""
    standby: Literal["auto", "required", "off"] = "auto"
    """Under a leader lease: when the active engine alerts that the event has no standby
    engine (none seen for three lease ttls). ``auto``: once an active engine of the event
    has seen a standby; ``required``: always; ``off``: never."""

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        if v is None:
            return None
        try:
            parts = urlsplit(v)
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            raise ValueError(f"not a URL ({exc})") from None
        if parts.scheme not in ("postgresql", "postgres"):
            raise ValueError("must start with postgresql:// (leave it out for SQLite)")
        if parts.password is not None or "password=" in parts.query.lower():
            raise ValueError(
                "must not carry the password: put it in [store] password as env:NAME or file:PATH"
            )
        if not parts.path.strip("/"):
            raise ValueError("names no database (postgresql://user@host/DATABASE)")
        return v


class Profile(Model):
    event: Event
    defaults: Defaults = Defaults()
    sites: list[Site] = Field(default_factory=list)
    masts: list[Mast] = Field(default_factory=list)
    switches: list[Switch] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    polling: Polling = Polling()
    alerts: AlertTolerances = AlertTolerances()
    wall: Wall = Wall()
    authorities: list[Authority] = Field(default_factory=list)
    users: list[User] = Field(default_factory=list)
    server: Server = Server()
    audit: AuditSettings = AuditSettings()
    store: StoreSettings = StoreSettings()

    @model_validator(mode="after")
    def _semantics(self, info: Any) -> Profile:
        # Direct construction (not via load_profile) still gets every rule.
        ctx = getattr(info, "context", None) or {}
        if not ctx.get("skip_semantics"):
            from eventops.profile.checks import semantic_problems

            problems = semantic_problems(self.model_dump(mode="python"), "<profile>")
            if problems:
                raise ValueError("; ".join(f"{p.dotted}: {p.message}" for p in problems))
        return self

    # Lookups used everywhere else.
    def mast(self, mast_id: str) -> Mast:
        for m in self.masts:
            if m.id == mast_id:
                return m
        raise KeyError(mast_id)

    def switch(self, switch_id: str) -> Switch:
        for s in self.switches:
            if s.id == switch_id:
                return s
        raise KeyError(switch_id)

    def link(self, link_id: str) -> Link:
        for link in self.links:
            if link.id == link_id:
                return link
        raise KeyError(link_id)

    def device(self, device_id: str) -> Mast | Switch:
        for d in self.devices:
            if d.id == device_id:
                return d
        raise KeyError(device_id)

    @property
    def devices(self) -> list[Mast | Switch]:
        return [*self.masts, *self.switches]

    def site_of(self, mast: Mast) -> Site | None:
        return next((s for s in self.sites if s.id == mast.site), None)

    def user(self, name: str) -> User:
        for u in self.users:
            if u.name == name:
                return u
        raise KeyError(name)
