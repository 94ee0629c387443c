"""Secret references: ``env:NAME`` or ``file:PATH``, never literal values.

A :class:`SecretRef` holds the reference only; :meth:`SecretRef.reveal` reads
the value when a connection needs it. Neither ``str`` nor ``repr`` ever shows
the value, and errors name the reference, not the content.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any, Literal

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from eventops.errors import SecretError

_ENV = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
_FILE = re.compile(r"^file:(.+)$")

LITERAL_HINT = "a literal secret is not allowed here; write env:NAME or file:PATH"
MAX_SECRET_BYTES = 64 * 1024
"""A password, token, key or PEM private key is far smaller; a bigger file is a wrong path."""


def _content_problem(raw: bytes) -> str | None:
    """Why a secret file's bytes cannot be a secret (too big, not UTF-8), or None."""
    if len(raw) > MAX_SECRET_BYTES:
        return f"file is larger than {MAX_SECRET_BYTES // 1024} KiB (not a secret; wrong path?)"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text (byte {exc.start})"
    return None


class SecretRef:
    """A reference to a secret kept outside the profile."""

    __slots__ = ("_base", "ref")

    def __init__(self, ref: str, base: Path | None = None) -> None:
        if not (_ENV.match(ref) or _FILE.match(ref)):
            raise ValueError(LITERAL_HINT)
        self.ref = ref
        self._base = base

    @property
    def kind(self) -> str:
        return self.ref.split(":", 1)[0]

    def with_base(self, base: Path) -> SecretRef:
        """The same reference, with relative file paths resolved against ``base``."""
        return SecretRef(self.ref, base)

    def path(self) -> Path | None:
        """The file a ``file:`` reference names (resolved against the profile's folder)."""
        if not self.ref.startswith("file:"):
            return None
        path = Path(self.ref[5:]).expanduser()
        if not path.is_absolute() and self._base is not None:
            path = self._base / path
        return path

    def check(self) -> tuple[Literal["error", "warning"], str] | None:
        """What ``profile check`` says about this reference, without reading the value out.

        ``file:`` that is missing, not a file, unreadable or empty: an error
        (the file ships with the profile, so it is there now or never);
        readable by every user: a warning. ``env:`` unset or empty: a
        warning, because the check may run in another shell than the engine
        (CI, a planning laptop) and the variable is set where it runs; the
        engine still stops with a one-line error if it is missing there.
        """
        m = _ENV.match(self.ref)
        if m:
            value = os.environ.get(m.group(1))
            if value is None:
                return ("warning", f"secret {self.ref}: environment variable is not set here")
            if not value.strip():
                return ("warning", f"secret {self.ref}: environment variable is empty here")
            return None
        path = self.path()
        assert path is not None
        try:
            st = path.stat()
        except FileNotFoundError:
            return ("error", f"secret {self.ref}: no such file ({path})")
        except OSError as exc:
            return ("error", f"secret {self.ref}: cannot reach file ({exc.strerror})")
        if not stat.S_ISREG(st.st_mode):
            return ("error", f"secret {self.ref}: not a regular file ({path})")
        try:
            with path.open("rb") as fh:
                head = fh.read(MAX_SECRET_BYTES + 1)
        except OSError as exc:
            return ("error", f"secret {self.ref}: cannot read file ({exc.strerror})")
        if not head:
            return ("error", f"secret {self.ref}: file is empty")
        problem = _content_problem(head)
        if problem:
            return ("error", f"secret {self.ref}: {problem}")
        if st.st_mode & stat.S_IROTH:
            return (
                "warning",
                f"secret {self.ref}: file is readable by every user (chmod o-r {path})",
            )
        return None

    def reveal(self) -> str:
        """Read the secret. Raises :class:`SecretError` naming the reference."""
        m = _ENV.match(self.ref)
        if m:
            value = os.environ.get(m.group(1))
            if value is None:
                raise SecretError(f"secret {self.ref}: environment variable is not set")
            return value
        path = self.path()
        assert path is not None
        try:
            with path.open("rb") as fh:
                raw = fh.read(MAX_SECRET_BYTES + 1)
        except OSError as exc:
            raise SecretError(f"secret {self.ref}: cannot read file ({exc.strerror})") from None
        problem = _content_problem(raw)
        if problem:
            raise SecretError(f"secret {self.ref}: {problem}")
        return raw.decode("utf-8").rstrip("\r\n")

    def __repr__(self) -> str:
        return f"SecretRef({self.ref!r})"

    def __str__(self) -> str:
        return self.ref

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretRef) and other.ref == self.ref

    def __hash__(self) -> int:
        return hash(self.ref)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any, info: core_schema.ValidationInfo) -> SecretRef:
            base = (info.context or {}).get("base_dir") if info.context else None
            if isinstance(value, SecretRef):
                return value if base is None else value.with_base(Path(base))
            if not isinstance(value, str):
                raise ValueError("expected a secret reference string (env:NAME or file:PATH)")
            return SecretRef(value, Path(base) if base is not None else None)

        return core_schema.with_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda v: v.ref),
            json_schema_input_schema=core_schema.str_schema(
                pattern=r"^(env:[A-Za-z_]\w*|file:.+)$"
            ),
        )
