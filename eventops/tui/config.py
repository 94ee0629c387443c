"""The terminal app's settings: a TOML file, environment overrides, typed.

The file is ``$EVENTOPS_TUI_CONFIG`` or ``~/.config/eventops/tui.toml`` (tests
pass a path). Environment variables ``EVENTOPS_TUI_<FIELD>`` override the
file (e.g. ``EVENTOPS_TUI_LANGUAGE=en``). Example::

    language = "de"
    theme = "terminal"
    timezone = "Europe/Berlin"
    [keymap]
    "alert.ack" = "k"
    [thresholds]
    margin_warn_db = 6
"""

from __future__ import annotations

import locale
import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from eventops.errors import ProfileError

CONFIG_ENV = "EVENTOPS_TUI_CONFIG"
DEFAULT_PATH = Path("~/.config/eventops/tui.toml")


class ConfigError(ProfileError):
    title = "Terminal app config error"


class Thresholds(BaseModel):
    margin_warn_db: float = 5.0
    """A link's rx margin below this is shown as a warning."""
    margin_crit_db: float = 2.0
    """... and below this as critical."""
    util_warn_pct: float = 70.0
    """Utilisation above this is shown as a warning."""
    util_crit_pct: float = 90.0
    """... and above this as critical."""


class TuiConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVENTOPS_TUI_", extra="forbid")

    language: Literal["de", "en"] | None = None
    """UI language; unset: from the locale (German for de_*, else English)."""
    theme: Literal["dark", "light", "terminal"] = "dark"
    """``terminal`` uses the terminal's own 16 colours (for poor terminals)."""
    timezone: str | None = None
    """Only for an engine that does not report its event's zone: times are shown in the
    event's zone (``/api/v1/whoami``), else in this one, else in the machine's."""
    refresh_s: float = Field(default=0.5, gt=0, le=10)
    """How often coalesced live updates are drawn."""
    wall_poll_s: float = Field(default=2.0, gt=0, le=60)
    """Unused: the wall follows the live stream's ``wall`` events (kept so that
    existing config files still load)."""
    engines_s: float = Field(default=15.0, ge=1, le=600)
    """How often a technician's header re-reads which engine answers and whether a standby
    is live (also at every reconnect, take-over and standby alert)."""
    series_len: int = Field(default=30, ge=2, le=500)
    """Points kept per sparkline."""
    keymap: dict[str, str] = Field(default_factory=dict)
    """Binding id → keys, e.g. ``"alert.ack" = "k"``."""
    thresholds: Thresholds = Thresholds()
    server: str | None = None
    """Engine URL (when not given on the command line)."""
    token: str | None = None
    """Token reference (``env:NAME`` or ``file:PATH``), never the token itself."""
    backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)
    """Reconnect delays after the engine is lost."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the environment overrides the file (whose values come in as init arguments)
        return (env_settings, init_settings)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r}") from None
        return v

    def lang(self) -> str:
        if self.language:
            return self.language
        loc = os.environ.get("LC_ALL") or os.environ.get("LANG") or (locale.getlocale()[0] or "")
        return "de" if loc.lower().startswith("de") else "en"

    def tz(self) -> ZoneInfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None


def load_config(path: Path | None = None) -> TuiConfig:
    """The config from ``path`` (or the default place; a missing default file is fine)."""
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    p = (path or Path(os.environ.get(CONFIG_ENV) or DEFAULT_PATH)).expanduser()
    data: dict[str, Any] = {}
    if p.exists() or explicit:
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{p}: cannot read ({exc.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: not valid TOML ({exc})") from None
    try:
        return TuiConfig(**data)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e["loc"]) or "config"
        raise ConfigError(f"{p}: {where}: {e['msg']}") from None
