"""API tokens: random values handed to a user once; the profile keeps their SHA-256.

Token parsing is total: whatever bytes or text arrive in an ``Authorization``
header or a cookie (latin-1 decoded, surrogate-escaped, NUL, 1 MB of junk),
:func:`parse_token` answers a token or None and :func:`match_token` a user or
None; nothing here raises on input.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable

from eventops.profile.models import User

TOKEN_PREFIX = "evo_"
MAX_TOKEN_LENGTH = 512

# RFC 6750 b64token: what a bearer token may consist of.
_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")


def new_token() -> str:
    """A fresh token: 32 random bytes, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_token(raw: str | bytes | None) -> str | None:
    """``raw`` as a token, or None when it cannot be one (never raises)."""
    if raw is None:
        return None
    if isinstance(raw, bytes | bytearray | memoryview):
        try:
            raw = bytes(raw).decode("ascii")
        except UnicodeDecodeError:
            return None
    if not isinstance(raw, str) or not 0 < len(raw) <= MAX_TOKEN_LENGTH:
        return None
    return raw if _TOKEN.fullmatch(raw) else None


def token_hash(token: str) -> str:
    """SHA-256 (hex) of the token's UTF-8 bytes; total over any ``str`` (lone surrogates too)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def match_token(token: str | bytes | None, users: Iterable[User]) -> User | None:
    """The user whose token hash matches, compared in constant time; None for any non-token.

    Every user's hash is compared (no early exit), so timing does not reveal
    which or how many users exist.
    """
    parsed = parse_token(token)
    if parsed is None:
        return None
    digest = token_hash(parsed)
    found: User | None = None
    for user in users:
        if hmac.compare_digest(digest, user.token_sha256):
            found = user
    return found
