"""Load a profile file: TOML syntax, structure (pydantic), then cross-object rules.

All faults are collected and reported together, one :class:`Problem` per
fault with the file, the line of the offending key and its dotted path.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from eventops.errors import Problem, ProfileError
from eventops.profile.checks import semantic_problems
from eventops.profile.models import Profile
from eventops.profile.tomlpos import key_lines, line_of

_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")


def _message(err: Any) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing required key"
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    # Never echo the input: it may be a literal secret.
    return msg


def _loc(err: Any) -> tuple[str | int, ...]:
    # Pydantic adds union tags and validator names (e.g. "function-after[...]")
    # to locations; they are not keys of the file.
    return tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))


def parse_profile(text: str, source: str = "<profile>", base_dir: Path | None = None) -> Profile:
    """Parse and validate profile text; raise :class:`ProfileError` with every fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POS.search(str(exc))
        msg = _TOML_POS.sub("", str(exc)).strip()
        line = int(m.group(1)) if m else None
        raise ProfileError([Problem(source, (), f"TOML syntax error: {msg}", line)]) from None
    lines = key_lines(text)
    problems: list[Problem] = []
    profile: Profile | None = None
    context = {"skip_semantics": True, "base_dir": str(base_dir) if base_dir else None}
    try:
        profile = Profile.model_validate(data, context=context)
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False):
            loc = _loc(err)
            problems.append(Problem(source, loc, _message(err)))
    problems.extend(semantic_problems(data, source))
    if problems:
        placed = [Problem(p.source, p.path, p.message, line_of(lines, p.path)) for p in problems]
        placed.sort(key=lambda p: (p.line or 0, p.dotted))
        raise ProfileError(_dedupe(placed))
    assert profile is not None
    return profile


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[tuple[str | int, ...], str]] = set()
    out = []
    for p in problems:
        if (p.path, p.message) not in seen:
            seen.add((p.path, p.message))
            out.append(p)
    return out


def load_profile(path: str | Path) -> Profile:
    """Read and validate the profile at ``path``."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise ProfileError(f"{p}: is a directory, not a profile file") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{p}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ProfileError(f"{p}: cannot read ({exc.strerror})") from None
    return parse_profile(text, str(p), p.resolve().parent)
