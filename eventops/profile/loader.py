"""Load a profile file: TOML syntax, structure (pydantic), then cross-object rules.

All faults are collected and reported together, one :class:`Problem` per
fault with the file, the line of the offending key and its dotted path.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from eventops.errors import Problem, ProfileError
from eventops.profile.checks import semantic_problems
from eventops.profile.models import Profile
from eventops.profile.text import MULTILINE_FIELDS, removed_characters
from eventops.profile.tomlpos import key_lines, line_of
from eventops.secrets import SecretRef

_TOML_POS = re.compile(r"\(at line (\d+), column (\d+)\)")

MAX_PROFILE_BYTES = 8 * 1024 * 1024
"""A profile is a few hundred kilobytes at most; anything far larger is not one."""
MAX_NESTING = 32
"""Arrays and inline tables nested deeper than this are refused before parsing
(tomllib recurses once per level and would exhaust the stack)."""


def _too_deep(text: str, limit: int = MAX_NESTING) -> int | None:
    """The line where brackets/braces nest deeper than ``limit``, else None.

    Counts ``[`` and ``{`` outside strings and comments, iteratively; table
    headers (``[a]``, ``[[a]]``) close on their own line and count as 1 or 2.
    """
    depth, line, i, n = 0, 1, 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif c == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        elif c in "\"'":
            triple = text.startswith(c * 3, i)
            if triple:
                end = i + 3
                while True:
                    end = text.find(c * 3, end)
                    if end < 0 or c == "'" or not _escaped(text, end):
                        break
                    end += 1
                stop = n if end < 0 else end + 3
            else:
                end = i + 1
                while end < n and text[end] not in (c, "\n"):
                    end += 2 if (c == '"' and text[end] == "\\") else 1
                stop = min(n, end + 1)
            line += text.count("\n", i, stop) if triple else 0
            i = stop
            continue
        elif c in "[{":
            depth += 1
            if depth > limit:
                return line
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None


def _escaped(text: str, j: int) -> bool:
    k = 0
    while j - 1 - k >= 0 and text[j - 1 - k] == "\\":
        k += 1
    return k % 2 == 1


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
    if len(text) > MAX_PROFILE_BYTES:
        raise ProfileError(
            [Problem(source, (), f"larger than {MAX_PROFILE_BYTES // 2**20} MiB; not a profile")]
        )
    deep = _too_deep(text)
    if deep is not None:
        raise ProfileError(
            [Problem(source, (), f"arrays or tables nested deeper than {MAX_NESTING} levels", deep)]
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_POS.search(str(exc))
        msg = _TOML_POS.sub("", str(exc)).strip()
        line = int(m.group(1)) if m else None
        raise ProfileError([Problem(source, (), f"TOML syntax error: {msg}", line)]) from None
    except RecursionError:
        raise ProfileError([Problem(source, (), "TOML nested too deeply to parse")]) from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        msg = str(exc).split(";")[0].strip()
        raise ProfileError([Problem(source, (), f"TOML value error: {msg}")]) from None
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


def _secret_refs(
    obj: Any, path: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], SecretRef]]:
    if isinstance(obj, SecretRef):
        return [(path, obj)]
    if isinstance(obj, BaseModel):
        return [
            ref
            for name in type(obj).model_fields
            for ref in _secret_refs(getattr(obj, name), (*path, name))
        ]
    if isinstance(obj, list):
        return [ref for i, item in enumerate(obj) for ref in _secret_refs(item, (*path, i))]
    return []


def secret_problems(
    profile: Profile, source: str, text: str | None = None
) -> tuple[list[Problem], list[Problem]]:
    """``(errors, warnings)`` about every secret reference the profile holds.

    See :meth:`eventops.secrets.SecretRef.check` for what is an error and what
    a warning. One line per reference, at the first key that uses it.
    """
    lines = key_lines(text) if text is not None else {}
    uses: dict[SecretRef, list[tuple[str | int, ...]]] = {}
    for where, ref in _secret_refs(profile):
        uses.setdefault(ref, []).append(where)
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for ref, places in uses.items():
        found = ref.check()
        if found is None:
            continue
        severity, message = found
        placed = sorted(places, key=lambda w: line_of(lines, w) or 0)
        if len(placed) > 1:
            message += f" (used by {len(placed)} keys)"
        problem = Problem(source, placed[0], message, line_of(lines, placed[0]))
        (errors if severity == "error" else warnings).append(problem)
    errors.sort(key=lambda p: p.line or 0)
    warnings.sort(key=lambda p: p.line or 0)
    return errors, warnings


def check_profile(path: str | Path) -> tuple[Profile, list[Problem]]:
    """What ``eventops profile check`` runs: load, then check every secret reference.

    Returns the profile and the warnings; raises :class:`ProfileError` with
    every error (structure, rules, or a ``file:`` secret that cannot be read).
    """
    p = Path(path)
    text = _read(p)
    profile = parse_profile(text, str(p), p.resolve().parent)
    errors, warnings = secret_problems(profile, str(p), text)
    if errors:
        raise ProfileError(errors)
    return profile, warnings + text_problems(text, str(p))


def text_problems(text: str, source: str) -> list[Problem]:
    """Warnings for text the load cleaned (control and bidi-control characters)."""
    lines = key_lines(text)
    out: list[Problem] = []

    def walk(value: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(value, str):
            field = next((x for x in reversed(path) if isinstance(x, str)), "")
            found = removed_characters(value, multiline=field in MULTILINE_FIELDS)
            if found:
                shown = ", ".join(found[:4]) + (" …" if len(found) > 4 else "")
                message = f"control or bidi-control characters removed ({shown})"
                out.append(Problem(source, path, message, line_of(lines, path)))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, (*path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*path, i))

    walk(tomllib.loads(text), ())
    return out


def _read(p: Path) -> str:
    """The file's text, read at most to the size bound (``/dev/zero`` or a pipe that never
    ends is refused, not read forever); a UTF-8 byte-order mark is dropped."""
    too_big = ProfileError(f"{p}: larger than {MAX_PROFILE_BYTES // 2**20} MiB; not a profile")
    try:
        if p.is_file() and p.stat().st_size > MAX_PROFILE_BYTES:
            raise too_big
        with p.open("rb") as fh:
            raw = fh.read(MAX_PROFILE_BYTES + 1)
        if len(raw) > MAX_PROFILE_BYTES:
            raise too_big
        return raw.decode("utf-8").removeprefix("\ufeff")
    except FileNotFoundError:
        raise ProfileError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise ProfileError(f"{p}: is a directory, not a profile file") from None
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{p}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ProfileError(f"{p}: cannot read ({exc.strerror})") from None


def load_profile(path: str | Path) -> Profile:
    """Read and validate the profile at ``path``."""
    p = Path(path)
    return parse_profile(_read(p), str(p), p.resolve().parent)
