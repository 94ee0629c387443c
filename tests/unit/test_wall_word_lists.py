"""The moderation word lists are packaged data files, equal to the lists the rules used inline
(before they moved to eventops/wall/data/)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from eventops.wall import words
from eventops.wall.moderation import (
    DEFAULT_BLOCKLIST,
    Blocklist,
    detect_language,
    fold,
    load_word_list,
    tokens,
)


def test_blocklist_is_the_one_the_rules_used_before() -> None:
    assert len(DEFAULT_BLOCKLIST) == 53
    assert len(set(DEFAULT_BLOCKLIST)) == 53
    assert DEFAULT_BLOCKLIST[:3] == ("*fuck*", "shit", "shits")
    assert DEFAULT_BLOCKLIST[-3:] == ("scheiss", "verpiss dich", "halt die fresse")
    for entry in ("kill yourself", "*arschlöcher*", "scheiße", "ausländer raus", "untermensch*"):
        assert entry in DEFAULT_BLOCKLIST
    assert not any(e.startswith("#") or e != e.strip() or not e for e in DEFAULT_BLOCKLIST)


def test_stopwords_are_the_ones_the_language_guess_used_before() -> None:
    de, en = words._STOP["de"], words._STOP["en"]
    assert (len(de), len(en)) == (48, 41)
    assert {"der", "für", "schön", "wetter", "platz"} <= de
    assert {"the", "and", "weather", "there", "they"} <= en
    assert detect_language("Das Wetter ist heute sehr schön auf dem Platz") == "de"
    assert detect_language("The weather is great and we are here today") == "en"


def test_the_rules_match_words_from_the_file() -> None:
    bl = Blocklist.build(DEFAULT_BLOCKLIST)
    assert bl.match(tokens(fold("what a bullshit stage"))) == "bullshit"
    assert bl.match(tokens(fold("Halt die Fresse!"))) == "halt die fresse"
    assert bl.match(tokens(fold("a lovely evening at the lake"))) is None


def test_word_lists_are_packaged_data() -> None:
    data = resources.files("eventops.wall").joinpath("data")
    names = sorted(p.name for p in data.iterdir() if p.name.endswith(".txt"))
    assert names == ["blocklist.txt", "stopwords_de.txt", "stopwords_en.txt"]
    assert load_word_list("stopwords_en")[0] == "the"
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text("utf-8"))
    tool = pyproject["tool"]["setuptools"]
    assert "eventops.wall.data" in tool["packages"]
    assert "*.txt" in tool["package-data"]["eventops.wall.data"]
