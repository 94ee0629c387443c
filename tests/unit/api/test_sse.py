"""The sans-IO SSE codec against the WHATWG interpretation rules, chunked every way."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventops.api.sse import ServerSentEvent, SSEDecoder, SSEError, encode_comment, encode_event

E = ServerSentEvent


def whole(raw: bytes, **kw: str) -> list[ServerSentEvent]:
    return SSEDecoder(**kw).feed(raw)


def chunked(raw: bytes, cuts: list[int]) -> list[ServerSentEvent]:
    dec = SSEDecoder()
    out: list[ServerSentEvent] = []
    prev = 0
    for cut in [*sorted(set(cuts)), len(raw)]:
        out += dec.feed(raw[prev:cut])
        prev = cut
    return out


# The examples of the WHATWG spec (section "Event stream interpretation"), with what it says.
SPEC = [
    (b"data: YHOO\ndata: +2\ndata: 10\n\n", [E("YHOO\n+2\n10")]),
    (
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
        [E("first event", id="1"), E("second event", id="")],
    ),
    (b"data\n\ndata\ndata\n\ndata:", [E(""), E("\n")]),
    (b"data:test\n\ndata: test\n\n", [E("test"), E("test")]),
    (
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
        [E("73857293", event="add"), E("2153", event="remove"), E("113411", event="add")],
    ),
]


@pytest.mark.parametrize(("raw", "want"), SPEC)
@pytest.mark.parametrize("eol", [b"\n", b"\r", b"\r\n"])
def test_spec_examples_at_every_split(raw: bytes, want: list[ServerSentEvent], eol: bytes) -> None:
    raw = raw.replace(b"\n", eol)
    assert whole(raw) == want
    for i in range(len(raw) + 1):
        assert chunked(raw, [i]) == want, f"split at {i}"
    assert chunked(raw, list(range(len(raw)))) == want  # one byte at a time


def test_mixed_line_ends_and_cr_lf_split_across_chunks() -> None:
    raw = b"data: a\r\ndata: b\rdata: c\n\r\n"
    assert whole(raw) == [E("a\nb\nc")]
    dec = SSEDecoder()
    assert dec.feed(b"data: a\r") == []
    assert dec.feed(b"\n\r") == [E("a")]  # CR LF was one line end, the lone CR the blank line
    assert dec.feed(b"\ndata: b\n\n") == [E("b")]  # so this LF is its own (empty) line


def test_leading_bom_is_dropped_once_even_when_split() -> None:
    assert whole(b"\xef\xbb\xbfdata: a\n\n") == [E("a")]
    assert chunked(b"\xef\xbb\xbfdata: a\n\n", [1, 2]) == [E("a")]
    # a second BOM is part of the field name, an unknown field: ignored
    assert whole(b"\xef\xbb\xbf\xef\xbb\xbfdata: a\n\n") == []
    # a BOM that is not first in the stream is data
    assert whole(b"data: \xef\xbb\xbfx\n\n") == [E("\ufeffx")]


def test_field_without_colon_comments_and_unknown_fields() -> None:
    raw = b": keep-alive\nfoo: bar\nevent\ndata\n\n"
    dec = SSEDecoder()
    assert dec.feed(raw) == [E("", event="message")]
    assert dec.comments == ["keep-alive"]


def test_only_one_leading_space_is_dropped() -> None:
    assert whole(b"data:   x \n\n") == [E("  x ")]
    assert whole(b"event:  sp\ndata\n\n") == [E("", event=" sp")]


def test_id_persists_nul_ignored_and_empty_resets() -> None:
    dec = SSEDecoder(last_event_id="7")
    assert dec.feed(b"data: a\n\n") == [E("a", id="7")]
    assert dec.feed(b"id: 8\n\ndata: b\n\n") == [E("b", id="8")]  # id set by an event without data
    assert dec.feed(b"id: 9\x00\ndata: c\n\n") == [E("c", id="8")]
    assert dec.feed(b"id\ndata: d\n\n") == [E("d", id="")]
    assert dec.last_event_id == ""


def test_retry_only_ascii_digits() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"retry: 1500\ndata: a\n\n") == [E("a", retry=1500)]
    dec.feed(b"retry: 15x\nretry: -1\nretry: \xd9\xa1\nretry:\n")
    assert dec.retry == 1500


def test_event_type_resets_after_dispatch_and_after_empty_event() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"event: x\n\ndata: a\n\n") == [E("a")]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert whole(b"data: \xff\xfe ok\n\n") == [E("\ufffd\ufffd ok")]
    assert chunked("data: é€\n\n".encode(), [7, 8, 9]) == [E("é€")]


def test_unterminated_event_is_discarded() -> None:
    dec = SSEDecoder()
    assert dec.feed(b"id: 4\nevent: x\ndata: never") == []


def test_encode_exact_bytes() -> None:
    assert encode_event('{"a": 1}', event="device", id=42) == (
        b'id: 42\nevent: device\ndata: {"a": 1}\n\n'
    )
    assert encode_event("a\r\nb\rc\nd", retry=1000) == (
        b"retry: 1000\ndata: a\ndata: b\ndata: c\ndata: d\n\n"
    )
    assert encode_event("") == b"data: \n\n"
    assert encode_comment("keep-alive") == b": keep-alive\n\n"
    assert encode_comment() == b":\n\n"


@pytest.mark.parametrize(
    "kw",
    [{"event": "a\nb"}, {"id": "1\r"}, {"id": "a\x00"}, {"retry": -1}],
)
def test_encode_refuses_what_cannot_travel(kw: dict[str, object]) -> None:
    with pytest.raises(SSEError):
        encode_event("x", **kw)  # type: ignore[arg-type]


_line_safe = st.text(st.characters(blacklist_characters="\r\n\x00", codec="utf-8"), max_size=20)
_event = st.builds(
    lambda data, event, id_: (data, event or None, id_ or None),
    st.text(st.characters(codec="utf-8"), max_size=40),
    _line_safe,
    _line_safe,
)


@settings(max_examples=200, deadline=None)
@given(events=st.lists(_event, max_size=6), cuts=st.lists(st.integers(0, 2000), max_size=12))
def test_round_trip_any_chunking(
    events: list[tuple[str, str | None, str | None]], cuts: list[int]
) -> None:
    raw = b": hello\n\n" + b"".join(encode_event(d, event=e, id=i) for d, e, i in events)
    got = chunked(raw, [c for c in cuts if c <= len(raw)])
    want: list[ServerSentEvent] = []
    last = ""
    for data, event, id_ in events:
        last = id_ if id_ is not None else last
        norm = data.replace("\r\n", "\n").replace("\r", "\n")
        want.append(E(norm, event=event or "message", id=last))
    assert got == want


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=200), cut=st.integers(0, 200))
def test_any_bytes_split_anywhere_decode_the_same(raw: bytes, cut: int) -> None:
    cut = min(cut, len(raw))
    assert chunked(raw, [cut]) == whole(raw)
