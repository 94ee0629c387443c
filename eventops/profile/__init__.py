"""Event profiles: one TOML file per event, validated by pydantic."""

from eventops.profile.loader import load_profile, parse_profile
from eventops.profile.models import (
    Authority,
    Endpoint,
    Event,
    Link,
    Management,
    Mast,
    Profile,
    Radio,
    Role,
    Site,
    Ssid,
    Switch,
    User,
    Wall,
)

__all__ = [
    "Authority",
    "Endpoint",
    "Event",
    "Link",
    "Management",
    "Mast",
    "Profile",
    "Radio",
    "Role",
    "Site",
    "Ssid",
    "Switch",
    "User",
    "Wall",
    "load_profile",
    "parse_profile",
]
