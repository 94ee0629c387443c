"""One clock for people: every time a person reads is in the event's zone, with the zone shown.

Stored and exchanged times are UTC (the API's JSON carries ISO 8601 with
``Z``); anything printed for a person — the terminal app, CLI output, check and
alert texts, the status page, the handover report, the wall's admin lines —
goes through these helpers with the event's zone (``[event] timezone`` of the
profile, which the engine also reports in ``/api/v1/whoami``).

The zone is shown by its abbreviation when the zone database has one
(``14:03:12 CEST``), else as the UTC offset (``14:03:12 +04:00``).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "clock",
    "day_clock",
    "parse",
    "stamp",
    "utc_z",
    "zone",
    "zone_label",
]


def zone(name: str | None, fallback: tzinfo = UTC) -> tzinfo:
    """The zone called ``name`` (an IANA name), or ``fallback`` when unset or unknown."""
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


def parse(value: str | datetime) -> datetime:
    """An aware datetime from an ISO 8601 string (``Z`` accepted); naive values are UTC."""
    ts = value if isinstance(value, datetime) else datetime.fromisoformat(value.strip())
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts


def zone_label(ts: datetime, tz: tzinfo) -> str:
    """``CEST``, or ``+04:00`` where the zone has no abbreviation (or for UTC offsets)."""
    local = parse(ts).astimezone(tz)
    name = local.tzname() or ""
    if name and name[0] not in "+-" and not name[0].isdigit():
        return name
    off = local.utcoffset()
    secs = int(off.total_seconds()) if off is not None else 0
    sign = "-" if secs < 0 else "+"
    secs = abs(secs)
    return f"{sign}{secs // 3600:02d}:{secs % 3600 // 60:02d}"


def clock(
    ts: datetime | str | None, tz: tzinfo, *, seconds: bool = True, show_zone: bool = True
) -> str:
    """``14:03:12 CEST`` (``-`` for no time)."""
    if ts is None or ts == "":
        return "-"
    t = parse(ts)
    text = t.astimezone(tz).strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{text} {zone_label(t, tz)}" if show_zone else text


def day_clock(ts: datetime | str | None, tz: tzinfo, *, seconds: bool = True) -> str:
    """``18.06. 14:03:12 CEST``: a time within the event's days."""
    if ts is None or ts == "":
        return "-"
    t = parse(ts)
    text = t.astimezone(tz).strftime("%d.%m. %H:%M:%S" if seconds else "%d.%m. %H:%M")
    return f"{text} {zone_label(t, tz)}"


def stamp(ts: datetime | str | None, tz: tzinfo, *, seconds: bool = True) -> str:
    """``2026-06-18 14:03:12 CEST``: a full date and time."""
    if ts is None or ts == "":
        return "-"
    t = parse(ts)
    text = t.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} {zone_label(t, tz)}"


def utc_z(ts: datetime) -> str:
    """ISO 8601 in UTC with ``Z`` (for JSON and machines)."""
    t = parse(ts).astimezone(UTC)
    text = t.isoformat(timespec="milliseconds" if t.microsecond else "seconds")
    return text.replace("+00:00", "Z")
