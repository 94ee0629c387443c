"""The header's engine words for every role under the lease, whatever the engine sends
(the live states against real engines: tests/e2e/tui/test_standby_header.py)."""

from __future__ import annotations

from typing import Any

import pytest

from eventops.tui.app import EventOpsApp
from eventops.tui.client import Engines, WhoAmI
from eventops.tui.config import TuiConfig


def view(**kw: Any) -> Engines:
    base: dict[str, Any] = {
        "role": "active",
        "address": "http://a:1",
        "active": "http://a:1",
        "standby": "auto",
        "standby_expected": True,
        "standby_live": False,
        "absent_after_s": 90.0,
        "as_of": None,
        "engines": [],
    }
    return Engines.model_validate({**base, **kw})


def words(engines: Engines, lang: str = "en", role: str = "technician") -> tuple[str, str]:
    app = EventOpsApp(None, TuiConfig(language=lang))
    app.who = WhoAmI(name="t", role=role)
    app.connected, app.engines = True, engines
    text = app.engine_text()
    return ("", "") if text is None else (str(text), str(text.style))


@pytest.mark.parametrize(
    ("kw", "lang", "expected"),
    [
        ({"standby_live": True}, "en", ("active · standby ok", "green")),
        ({}, "en", ("active · NO STANDBY", "bold yellow")),
        ({}, "de", ("aktiv · KEIN STANDBY", "bold yellow")),
        ({"standby_expected": False, "standby": "off"}, "en", ("active · no standby", "")),
        ({"role": "standby"}, "en", ("standby (active: a:1)", "yellow")),
        (
            {"role": "standby", "active": None},
            "de",
            ("Standby (keine aktive Engine)", "bold yellow"),
        ),
        ({"role": "deposed"}, "en", ("deposed", "bold red")),
        ({"role": "single", "address": None, "active": None}, "en", ("", "")),
    ],
)
async def test_each_role_has_its_words(
    kw: dict[str, Any], lang: str, expected: tuple[str, str]
) -> None:
    assert words(view(**kw), lang) == expected


async def test_other_roles_and_a_lost_connection_show_nothing() -> None:
    assert words(view(standby_live=True), role="authority") == ("", "")
    app = EventOpsApp(None, TuiConfig(language="en"))
    app.who = WhoAmI(name="t", role="technician")
    app.engines = view(standby_live=True)
    app.connected = False  # what was read may be another engine's now
    assert app.engine_text() is None


async def test_a_hostile_active_address_is_plain_bounded_and_without_credentials() -> None:
    hostile = "http://user:secret@[bold]evil\x1b[31m" + "x" * 300 + ":1/path?q"
    shown, _ = words(view(role="standby", active=hostile))
    assert shown.startswith("standby (active: [bold]evil")
    assert "secret" not in shown and "user" not in shown and "\x1b" not in shown
    assert len(shown) <= len("standby (active: )") + 48
