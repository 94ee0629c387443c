"""Token parsing is total: any bytes in an Authorization header or cookie are "not a token"."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from eventops.profile.models import User
from eventops.tokens import MAX_TOKEN_LENGTH, match_token, new_token, parse_token, token_hash

GOOD = new_token()
USERS = [
    User(name="t", role="technician", token_sha256=token_hash(GOOD)),
    User(name="d", role="comms", token_sha256=token_hash("demo-comms-token")),
]
ANY_CHAR = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=())


@settings(max_examples=500)
@given(st.binary(max_size=2048))
def test_any_header_bytes_are_not_a_token(raw: bytes) -> None:
    # aiohttp hands headers and cookies over as UTF-8 with surrogateescape
    for text in (raw.decode("utf-8", "surrogateescape"), raw.decode("latin-1")):
        assert match_token(text, USERS) is None or text in (GOOD, "demo-comms-token")
        parsed = parse_token(text)
        assert parsed is None or parsed == text
    assert match_token(raw, USERS) is None or raw in (GOOD.encode(), b"demo-comms-token")


@settings(max_examples=500)
@given(st.text(alphabet=ANY_CHAR, max_size=600))
def test_any_text_hashes_and_never_raises(text: str) -> None:
    assert len(token_hash(text)) == 64
    parsed = parse_token(text)
    if parsed is not None:
        assert parsed == text and len(text) <= MAX_TOKEN_LENGTH and text.isascii()
    assert match_token(text, USERS) is None


@given(st.text(alphabet=string.ascii_letters + string.digits + "-._~+/", min_size=1, max_size=64))
def test_well_formed_tokens_parse(token: str) -> None:
    assert parse_token(token) == token
    assert parse_token(token.encode()) == token


def test_known_tokens_still_match_and_hostile_ones_do_not() -> None:
    assert match_token(GOOD, USERS) is USERS[0]
    assert match_token(GOOD.encode(), USERS) is USERS[0]
    assert match_token("demo-comms-token", USERS) is USERS[1]
    for hostile in (
        "demo-comms-token\udcff",
        "dëmo",
        "\x00",
        "a b",
        "",
        None,
        "x" * (MAX_TOKEN_LENGTH + 1),
        b"\xff\xfe",
        GOOD + "\n",
    ):
        assert match_token(hostile, USERS) is None
