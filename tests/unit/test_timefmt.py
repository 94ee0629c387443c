"""One clock: people read the event's zone with the zone named; machines read UTC with Z."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from eventops import timefmt

BERLIN = ZoneInfo("Europe/Berlin")
SUMMER = datetime(2026, 6, 18, 12, 3, 12, tzinfo=UTC)
WINTER = datetime(2026, 12, 6, 12, 3, 12, tzinfo=UTC)


def test_clock_is_local_time_with_the_zone_abbreviation() -> None:
    assert timefmt.clock(SUMMER, BERLIN) == "14:03:12 CEST"
    assert timefmt.clock(WINTER, BERLIN) == "13:03:12 CET"
    assert timefmt.clock(SUMMER, BERLIN, seconds=False) == "14:03 CEST"
    assert timefmt.clock(SUMMER, BERLIN, show_zone=False) == "14:03:12"
    assert timefmt.clock(None, BERLIN) == "-"


def test_a_zone_without_an_abbreviation_shows_its_offset() -> None:
    # Asia/Dubai's database name is "+04"; Asia/Kolkata is IST; a fixed offset shows itself
    assert timefmt.clock(SUMMER, ZoneInfo("Asia/Dubai")) == "16:03:12 +04:00"
    assert timefmt.clock(SUMMER, ZoneInfo("America/St_Johns")) == "09:33:12 NDT"
    assert timefmt.zone_label(SUMMER, ZoneInfo("America/Sao_Paulo")) == "-03:00"


def test_iso_strings_with_z_and_naive_values_are_utc() -> None:
    assert timefmt.clock("2026-06-18T12:03:12Z", BERLIN) == "14:03:12 CEST"
    assert timefmt.clock("2026-06-18T12:03:12", BERLIN) == "14:03:12 CEST"
    assert timefmt.day_clock("2026-06-18T12:03:12+00:00", BERLIN) == "18.06. 14:03:12 CEST"
    assert timefmt.stamp(SUMMER, BERLIN) == "2026-06-18 14:03:12 CEST"


def test_utc_z_for_machines() -> None:
    local = SUMMER.astimezone(BERLIN)
    assert timefmt.utc_z(local) == "2026-06-18T12:03:12Z"
    assert timefmt.utc_z(SUMMER.replace(microsecond=250000)) == "2026-06-18T12:03:12.250Z"


def test_unknown_zone_names_fall_back() -> None:
    assert timefmt.zone("Mars/Olympus_Mons") is UTC
    assert timefmt.zone(None, BERLIN) is BERLIN
    assert timefmt.zone("Europe/Berlin") == BERLIN
