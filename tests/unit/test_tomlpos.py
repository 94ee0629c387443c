"""The position-aware TOML pass maps key paths to lines."""

from __future__ import annotations

import tomllib

from hypothesis import given, settings
from hypothesis import strategies as st

from eventops.profile.tomlpos import key_lines, line_of

DOC = '''# comment [[not.a.table]]
[event]
id = "x"   # trailing
name = """multi
[[fake]]
key = 1
"""
quoted."dotted key" = 'lit'

[[masts]]
id = "m1"
management = { url = "http://a", password = "env:X", nested = { deep = 1 } }

[[masts.radios]]
band = "5g"

[[masts.radios]]
band = "2g"

[[masts]]
id = "m2"
ssids = [
  { name = "a" },  # first
  { name = "b", key = "x" },
]
tags = ["a", "b"]

[masts.location]
lat = 1.5
'''


def test_doc_parses() -> None:
    tomllib.loads(DOC)


def test_paths() -> None:
    lines = key_lines(DOC)
    assert lines[("event", "id")] == 3
    assert lines[("event", "name")] == 4
    assert ("fake",) not in lines and ("event", "key") not in lines
    assert lines[("event", "quoted", "dotted key")] == 8
    assert lines[("masts", 0)] == 10
    assert lines[("masts", 0, "management", "password")] == 12
    assert lines[("masts", 0, "management", "nested", "deep")] == 12
    assert lines[("masts", 0, "radios", 0, "band")] == 15
    assert lines[("masts", 0, "radios", 1, "band")] == 18
    assert lines[("masts", 1, "id")] == 21
    assert lines[("masts", 1, "ssids", 0, "name")] == 23
    assert lines[("masts", 1, "ssids", 1, "key")] == 24
    assert lines[("masts", 1, "tags", 1)] == 26
    assert lines[("masts", 1, "location", "lat")] == 29


def test_nested_array_tables_restart_per_parent() -> None:
    doc = "[[a]]\n[[a.b]]\nx = 1\n[[a]]\n[[a.b]]\nx = 2\n"
    lines = key_lines(doc)
    assert lines[("a", 1, "b", 0, "x")] == 6
    assert ("a", 1, "b", 1) not in lines


def test_line_of_falls_back_to_ancestor_and_skips_tags() -> None:
    lines = key_lines(DOC)
    assert line_of(lines, ("masts", 1, "location", "lon")) == 28
    assert line_of(lines, ("masts", 0, "function-after", "management")) == 12
    assert line_of(lines, ("nothing",)) is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True),
            st.one_of(
                st.integers(),
                st.text(
                    st.characters(exclude_characters="\x7f", exclude_categories=["Cs"]),
                    max_size=20,
                ),
                st.booleans(),
            ),
        ),
        min_size=1,
        max_size=12,
        unique_by=lambda kv: kv[0],
    )
)
def test_every_generated_key_is_found_on_its_line(pairs: list[tuple[str, object]]) -> None:
    import json

    out = ["[t]"]
    for k, v in pairs:
        if isinstance(v, bool):
            val = "true" if v else "false"
        elif isinstance(v, int):
            val = str(v)
        else:
            val = json.dumps(v, ensure_ascii=False)
        out.append(f"{k} = {val}")
    doc = "\n".join(out) + "\n"
    tomllib.loads(doc)
    lines = key_lines(doc)
    for i, (k, _) in enumerate(pairs):
        assert lines[("t", k)] == i + 2
