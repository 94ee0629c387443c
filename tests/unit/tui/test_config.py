from __future__ import annotations

from pathlib import Path

import pytest

from eventops.tui.config import ConfigError, load_config


def test_file_values_and_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "tui.toml"
    p.write_text('language = "de"\ntheme = "light"\n[keymap]\n"alert.ack" = "k"\n')
    c = load_config(p)
    assert (c.lang(), c.theme, c.keymap) == ("de", "light", {"alert.ack": "k"})
    monkeypatch.setenv("EVENTOPS_TUI_LANGUAGE", "en")
    assert load_config(p).lang() == "en"


def test_missing_default_file_is_fine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("EVENTOPS_TUI_CONFIG", raising=False)
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    assert load_config().lang() == "de"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("theme = 'neon'", "theme"),
        ("language = = 1", "not valid TOML"),
        ("timezone = 'Mars/Olympus'", "unknown time zone"),
        ("refresh_s = 0", "refresh_s"),
        ("colour = 'x'", "colour"),
    ],
)
def test_bad_config_is_one_line(tmp_path: Path, body: str, needle: str) -> None:
    p = tmp_path / "tui.toml"
    p.write_text(body)
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    msg = exc.value.one_line()
    assert needle in msg and str(p) in msg and "\n" not in msg
