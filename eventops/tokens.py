"""API tokens: random values handed to a user once; the profile keeps their SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable

from eventops.profile.models import User

TOKEN_PREFIX = "evo_"


def new_token() -> str:
    """A fresh token: 32 random bytes, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def match_token(token: str, users: Iterable[User]) -> User | None:
    """The user whose token hash matches, compared in constant time.

    Every user's hash is compared (no early exit), so timing does not reveal
    which or how many users exist.
    """
    digest = token_hash(token)
    found: User | None = None
    for user in users:
        if hmac.compare_digest(digest, user.token_sha256):
            found = user
    return found
