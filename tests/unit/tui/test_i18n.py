"""Every UI string exists in German and English, with the same placeholders."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from eventops.tui.i18n import LANGUAGES, STRINGS, Tr, placeholders

TUI = Path(__file__).resolve().parents[3] / "eventops" / "tui"


@pytest.mark.parametrize("key", sorted(STRINGS))
def test_every_string_has_both_languages(key: str) -> None:
    entry = STRINGS[key]
    assert set(entry) == set(LANGUAGES), key
    for lang in LANGUAGES:
        assert entry[lang].strip(), f"{key}: empty {lang}"
    assert placeholders(entry["de"]) == placeholders(entry["en"]), key


def used_keys() -> set[str]:
    """String keys the app passes to tr(...) literally, and binding ids."""
    keys: set[str] = set()
    for path in TUI.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                if name == "tr" and node.args and isinstance(node.args[0], ast.Constant):
                    keys.add(str(node.args[0].value))
                if name == "Binding":
                    for kw in node.keywords:
                        if kw.arg == "id" and isinstance(kw.value, ast.Constant):
                            keys.add(str(kw.value.value))
                        if kw.arg == "description" and isinstance(kw.value, ast.Constant):
                            keys.add(str(kw.value.value))
                if name == "Tr":
                    continue
        for m in re.finditer(r'"(col\.[a-z_]+|view\.[a-z]+)"', path.read_text()):
            keys.add(m.group(1))
    return keys


def test_every_used_key_is_in_the_table() -> None:
    missing = sorted(k for k in used_keys() if k not in STRINGS)
    assert not missing, missing


def test_lookup_and_fallback() -> None:
    assert Tr("de")("state.down") == "ausgefallen"
    assert Tr("en")("state.down") == "down"
    assert Tr("fr")("state.down") == "down"  # unknown language: English
    assert Tr("de")("ack.done", n=3) == "3 Alarm(e) quittiert"


def test_wall_strings_built_at_run_time_exist() -> None:
    from eventops.server.wall import STATES
    from eventops.tui.screens.wall import WALL_STATES
    from eventops.wall.manual import MANUAL_ACTIONS

    for state in (*STATES, *WALL_STATES):
        assert f"wall.state.{state}" in STRINGS, state
    for action in MANUAL_ACTIONS:
        if action != "unpin":  # the pin key toggles; its message covers both
            assert f"wall.did.{action}" in STRINGS, action
