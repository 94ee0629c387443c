"""Where each key of a TOML document is, by line.

``tomllib`` reports positions only for syntax errors, but a validation error
must name the line of the offending key. This is our own small scanner: it
walks the document once and maps every concrete key path (array-of-tables
and array elements as integer indices, as pydantic reports them) to the line
where that key or element starts. It assumes the document already parsed
with ``tomllib``, so it can be lenient about what it does not need.
"""

from __future__ import annotations

from collections.abc import Sequence

Path = tuple[str | int, ...]

_BARE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.line = 1
        self.lines: dict[Path, int] = {}
        self.aot_count: dict[Path, int] = {}
        self.aot_current: dict[Path, int] = {}

    # -- low level ---------------------------------------------------------
    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def advance(self, n: int = 1) -> None:
        for _ in range(n):
            if self.i < len(self.s):
                if self.s[self.i] == "\n":
                    self.line += 1
                self.i += 1

    def skip_ws(self, newlines: bool) -> None:
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.advance()
            elif c == "#":
                while self.i < len(self.s) and self.s[self.i] != "\n":
                    self.i += 1
            else:
                return

    def record(self, path: Path, line: int) -> None:
        self.lines.setdefault(path, line)

    # -- tokens ------------------------------------------------------------
    def string(self) -> str:
        q = self.peek()
        if self.s.startswith(q * 3, self.i):
            self.advance(3)
            end = self.s.find(q * 3, self.i)
            while q == '"' and end > 0 and self._escaped(end):
                end = self.s.find(q * 3, end + 1)
            end = len(self.s) if end < 0 else end
            # A closing run may be longer than three quotes.
            while end + 3 < len(self.s) and self.s[end + 3] == q:
                end += 1
            body = self.s[self.i : end]
            self.advance(end + 3 - self.i)
            return body
        self.advance()
        out = []
        while self.i < len(self.s) and self.peek() not in (q, "\n"):
            if q == '"' and self.peek() == "\\":
                out.append(self.peek(1))
                self.advance(2)
                continue
            out.append(self.peek())
            self.advance()
        self.advance()
        return "".join(out)

    def _escaped(self, j: int) -> bool:
        n = 0
        while j - 1 - n >= 0 and self.s[j - 1 - n] == "\\":
            n += 1
        return n % 2 == 1

    def key(self) -> list[str]:
        parts: list[str] = []
        while True:
            self.skip_ws(False)
            c = self.peek()
            if c in ('"', "'"):
                parts.append(self.string())
            else:
                start = self.i
                while self.peek() and self.peek() in _BARE:
                    self.advance()
                parts.append(self.s[start : self.i])
            self.skip_ws(False)
            if self.peek() == ".":
                self.advance()
                continue
            return parts

    def value(self, path: Path) -> None:
        self.skip_ws(False)
        c = self.peek()
        if c in ('"', "'"):
            self.string()
        elif c == "[":
            self.array(path)
        elif c == "{":
            self.inline_table(path)
        else:
            while self.peek() and self.peek() not in ",]}\n#":
                self.advance()

    def array(self, path: Path) -> None:
        self.advance()  # [
        index = 0
        while True:
            self.skip_ws(True)
            if self.peek() in ("]", ""):
                self.advance()
                return
            if self.peek() == ",":
                self.advance()
                continue
            self.record((*path, index), self.line)
            self.value((*path, index))
            index += 1

    def inline_table(self, path: Path) -> None:
        self.advance()  # {
        while True:
            self.skip_ws(True)
            if self.peek() in ("}", ""):
                self.advance()
                return
            if self.peek() == ",":
                self.advance()
                continue
            line = self.line
            keys = self.key()
            full = (*path, *keys)
            for n in range(1, len(keys) + 1):
                self.record((*path, *keys[:n]), line)
            self.skip_ws(False)
            if self.peek() == "=":
                self.advance()
            self.value(full)

    # -- document ----------------------------------------------------------
    def concrete(self, keys: Sequence[str]) -> Path:
        """Turn a header's dotted key into a concrete path through array tables."""
        out: list[str | int] = []
        for k in keys:
            out.append(k)
            if tuple(out) in self.aot_current:
                out.append(self.aot_current[tuple(out)])
        return tuple(out)

    def header(self) -> Path:
        line = self.line
        double = self.s.startswith("[[", self.i)
        self.advance(2 if double else 1)
        keys = self.key()
        self.advance(2 if double else 1)
        if double:
            parent = (*self.concrete(keys[:-1]), keys[-1])
            index = self.aot_count.get(parent, 0)
            self.aot_count[parent] = index + 1
            self.aot_current[parent] = index
            # A new element resets the nested arrays of tables below it.
            for p in [
                p for p in self.aot_current if len(p) > len(parent) and p[: len(parent)] == parent
            ]:
                del self.aot_current[p]
            self.record(parent, line)
            path: Path = (*parent, index)
        else:
            path = self.concrete(keys)
        for n in range(1, len(path) + 1):
            self.record(path[:n], line)
        return path

    def run(self) -> dict[Path, int]:
        table: Path = ()
        while True:
            self.skip_ws(True)
            if self.i >= len(self.s):
                return self.lines
            if self.peek() == "[":
                table = self.header()
                continue
            line = self.line
            keys = self.key()
            if not keys or keys == [""]:
                # Not a key: skip the rest of the line rather than loop.
                while self.peek() not in ("\n", ""):
                    self.advance()
                continue
            for n in range(1, len(keys) + 1):
                self.record((*table, *keys[:n]), line)
            self.skip_ws(False)
            if self.peek() == "=":
                self.advance()
            self.value((*table, *keys))


def key_lines(text: str) -> dict[Path, int]:
    """Map each concrete key path of a TOML document to its line (1-based)."""
    return _Scanner(text).run()


def line_of(lines: dict[Path, int], path: Sequence[str | int]) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one.

    Path elements that are not keys in the document (a pydantic union tag,
    say) are skipped.
    """
    p = tuple(path)
    if p in lines:
        return lines[p]
    kept: list[str | int] = []
    for part in p:
        if (*kept, part) in lines:
            kept.append(part)
    while kept:
        if tuple(kept) in lines:
            return lines[tuple(kept)]
        kept.pop()
    return None
