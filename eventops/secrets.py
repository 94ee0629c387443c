"""Secret references: ``env:NAME`` or ``file:PATH``, never literal values.

A :class:`SecretRef` holds the reference only; :meth:`SecretRef.reveal` reads
the value when a connection needs it. Neither ``str`` nor ``repr`` ever shows
the value, and errors name the reference, not the content.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from eventops.errors import SecretError

_ENV = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
_FILE = re.compile(r"^file:(.+)$")

LITERAL_HINT = "a literal secret is not allowed here; write env:NAME or file:PATH"


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

    def reveal(self) -> str:
        """Read the secret. Raises :class:`SecretError` naming the reference."""
        m = _ENV.match(self.ref)
        if m:
            value = os.environ.get(m.group(1))
            if value is None:
                raise SecretError(f"secret {self.ref}: environment variable is not set")
            return value
        path = Path(self.ref[5:]).expanduser()
        if not path.is_absolute() and self._base is not None:
            path = self._base / path
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise SecretError(f"secret {self.ref}: cannot read file ({exc.strerror})") from None

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
