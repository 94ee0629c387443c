"""Hostile profile files: one line naming file and line, exit 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventops.errors import ProfileError
from eventops.profile import parse_profile

REPO = Path(__file__).resolve().parents[2]
HEAD = '[event]\nid = "t"\nname = "T"\nstart = 2026-06-18T14:00:00Z\nend = 2026-06-18T20:00:00Z\n'


def check(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    f = tmp_path / "hostile.toml"
    f.write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "eventops", "profile", "check", str(f)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (HEAD + "x = " + "[" * 20_000 + "]" * 20_000 + "\n", 6, "nested deeper than 32 levels"),
        (HEAD + "x = " + "{a = " * 20_000 + "1" + "}" * 20_000 + "\n", 6, "nested deeper"),
        (HEAD + "n = " + "9" * 5000 + "\n", None, "TOML value error: Exceeds the limit"),
        (HEAD + "d = 2026-02-30T00:00:00\n", 6, "TOML syntax error: Invalid date"),
        (HEAD + 'x = "\x1b[2J"\n', 6, "TOML syntax error: Illegal character"),
        (HEAD + "[event]\n", 6, "TOML syntax error"),
    ],
)
def test_parser_failures_are_one_line(
    tmp_path: Path, text: str, line: int | None, message: str
) -> None:
    r = check(tmp_path, text)
    assert r.returncode == 2 and r.stdout == "", r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    where = f"hostile.toml:{line}: " if line else "hostile.toml: "
    assert where in lines[0] and message in lines[0], lines[0]


def test_huge_file_is_refused_without_parsing(tmp_path: Path) -> None:
    r = check(tmp_path, HEAD + "# " + "x" * (9 * 1024 * 1024) + "\n")
    assert r.returncode == 2 and "not a profile" in r.stderr and len(r.stderr.splitlines()) == 1


def test_brackets_inside_strings_and_comments_do_not_count() -> None:
    text = HEAD + 'venue = "' + "[" * 100 + '"\n# ' + "{" * 100 + "\nx = '''" + "[" * 100 + "'''\n"
    with pytest.raises(ProfileError) as info:
        parse_profile(text, "p.toml")
    assert all("nested" not in x for x in info.value.lines())
    assert any("x: unknown key" in x for x in info.value.lines())


TOML_BITS = st.sampled_from(
    [
        "[",
        "]",
        "{",
        "}",
        "=",
        '"',
        "'",
        "\n",
        ",",
        ".",
        "a",
        "1",
        "true",
        "[[masts]]",
        "#",
        "\\",
        " ",
        "é",
        "\u202e",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(TOML_BITS, max_size=80).map("".join))
def test_any_text_is_a_profile_or_a_profile_error(text: str) -> None:
    try:
        parse_profile(HEAD + text, "p.toml")
    except ProfileError as exc:
        assert all(line.startswith("p.toml") for line in exc.lines())


def test_an_endless_file_is_refused_at_the_bound() -> None:
    """``/dev/zero`` reports size 0 and never ends: read to the bound, then refused."""
    r = subprocess.run(
        [sys.executable, "-m", "eventops", "profile", "check", "/dev/zero"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "eventops: error: /dev/zero: larger than 8 MiB; not a profile\n"


def test_a_byte_order_mark_is_not_a_syntax_error(tmp_path: Path) -> None:
    """Editors on Windows save UTF-8 with a BOM; tomllib alone calls it an invalid statement."""
    text = (REPO / "profiles" / "demo.toml").read_text(encoding="utf-8")
    f = tmp_path / "bom.toml"
    f.write_bytes(
        b"\xef\xbb\xbf"
        + text.replace("file:demo-secrets/", f"file:{REPO}/profiles/demo-secrets/").encode()
    )
    from eventops.profile import load_profile

    assert load_profile(f).event.id == "demo"
