"""Words: the packaged word lists, spelling-proof folding, the blocklist, a language guess.

The moderation chain (:mod:`eventops.wall.moderation`) matches posts with these:
:func:`fold` undoes homoglyphs, leetspeak, spacing and repeats so that a blocked
word matches however it is spelled; :class:`Blocklist` matches folded words
against whole-word, prefix, infix and phrase entries; :func:`detect_language`
guesses German or English from common words. The word lists are data files
(``eventops/wall/data/*.txt``), read with :mod:`importlib.resources`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from operator import methodcaller

from eventops.errors import WallError


# -- word lists ----------------------------------------------------------------------
# Packaged data files (eventops/wall/data/*.txt): one entry per line, "#" starts a
# comment line. In the blocklist ``word`` matches a whole word, ``word*`` any word
# starting with it, ``*word*`` any word containing it; several words match as a
# phrase. Events add their own words.
def load_word_list(name: str) -> tuple[str, ...]:
    """The entries of the packaged word list ``data/<name>.txt``, in file order."""
    text = resources.files("eventops.wall").joinpath("data", f"{name}.txt").read_text("utf-8")
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


DEFAULT_BLOCKLIST: tuple[str, ...] = load_word_list("blocklist")

# Letters from Cyrillic and Greek that look like Latin ones (lower case: we fold first).
_HOMOGLYPHS = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
    "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ї": "i",
    "ј": "j", "һ": "h", "ԁ": "d", "ɡ": "g", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ո": "n",
    "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
    "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y", "ϲ": "c", "ѵ": "v", "ω": "w",
    "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ı": "i",
}  # fmt: skip
# Capitals look different from their small letters (Greek Η is H, η is n): map them first.
_UPPER_HOMOGLYPHS = str.maketrans({
    "А": "a", "В": "b", "Е": "e", "К": "k", "М": "m", "Н": "h", "О": "o", "Р": "p",
    "С": "c", "Т": "t", "Х": "x", "У": "y", "Ѕ": "s", "І": "i", "Ј": "j", "Һ": "h",
    "Α": "a", "Β": "b", "Ε": "e", "Ζ": "z", "Η": "h", "Ι": "i", "Κ": "k", "Μ": "m",
    "Ν": "n", "Ο": "o", "Ρ": "p", "Τ": "t", "Υ": "y", "Χ": "x",
})  # fmt: skip
_LEET = {"0": "o", "6": "g", "8": "b", "9": "g", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s",
         "!": "i", "|": "i", "€": "e", "+": "t"}  # fmt: skip
_INVISIBLE = ("\u00ad", "\u034f", "\u061c", "\u115f", "\u1160", "\u17b4", "\u17b5",
              "\u180e", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060",
              "\u2061", "\u2062", "\u2063", "\u2064", "\ufeff", "\u3164", "\uffa0")  # fmt: skip


def _fold_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {ord(k): v for k, v in _HOMOGLYPHS.items()}
    for ch in _INVISIBLE:
        table[ord(ch)] = None
    for cp in (
        list(range(0x0300, 0x0370))
        + list(range(0x1AB0, 0x1B00))
        + list(range(0x1DC0, 0x1E00))
        + list(range(0x20D0, 0x2100))
        + list(range(0xFE20, 0xFE30))
    ):
        table[cp] = None
    for cp in range(0xFE00, 0xFE10):  # variation selectors
        table[cp] = None
    return table


_FOLD = _fold_table()
_LEET_TABLE = str.maketrans(_LEET)
# Words with digits: leet inside words with letters (h0r3), lone digits between lone
# letters (h.u.r.3.n); symbols right before a letter (sh!t, $hit).
_DIGIT_WORD = re.compile(r"\b\w*\d\w*")
_HAS_DIGIT = re.compile(r"\d")
_LEET_SYMBOLS = re.compile(r"[@$!|€+](?=[^\W\d_])")
_HAS_SYMBOL = re.compile(r"[@$!|€+]")
_SPACERS = frozenset(" .-_*·/")
_REPEATS = re.compile(r"([^\W\d_])\1+")
_ASCII_REPEATS = re.compile(r"([a-z])\1+")
_FIRST_GROUP = methodcaller("group", 1)
_TOKEN = re.compile(r"(?:[^\W\d_]|\*)+")


def _leet(m: re.Match[str]) -> str:
    return m.group(0).translate(_LEET_TABLE)


def _leet_word(m: re.Match[str]) -> str:
    word = m.group(0)
    if not word.isdigit():
        return word.translate(_LEET_TABLE)
    if len(word) == 1:
        return _spaced_leet(m)
    return word


def _lone_letter(t: str, i: int) -> bool:
    """``t[i]`` is a letter standing alone (no word character on either side)."""
    return (
        0 <= i < len(t)
        and t[i].isalpha()
        and (i == 0 or not t[i - 1].isalnum())
        and (i + 1 >= len(t) or not t[i + 1].isalnum())
    )


def _spaced_leet(m: re.Match[str]) -> str:
    t, i = m.string, m.start()
    j = i - 1
    while j >= 0 and t[j] in _SPACERS and i - j <= 3:
        j -= 1
    k = i + 1
    while k < len(t) and t[k] in _SPACERS and k - i <= 3:
        k += 1
    left = j < i - 1 and _lone_letter(t, j)
    right = k > i + 1 and _lone_letter(t, k)
    return m.group(0).translate(_LEET_TABLE) if left or right else m.group(0)


def fold(text: str) -> str:
    """The text as the blocklist sees it.

    Fullwidth and other compatibility forms become their plain letters (NFKD),
    accents and zero-width characters vanish, Cyrillic/Greek look-alikes
    become Latin, leetspeak inside words becomes letters (``h0r3``, ``sh!t``,
    ``$hit``), case is folded and letter runs are collapsed (``fuuuck`` →
    ``fuck``). Digits outside words and trailing punctuation stay as they are.
    """
    if text.isascii():
        text = text.lower()
    else:
        text = (
            unicodedata.normalize("NFKD", text)
            .translate(_UPPER_HOMOGLYPHS)
            .casefold()
            .translate(_FOLD)
        )
    if _HAS_DIGIT.search(text):
        text = _DIGIT_WORD.sub(_leet_word, text)
    if _HAS_SYMBOL.search(text):
        text = _LEET_SYMBOLS.sub(_leet, text)
    return (_ASCII_REPEATS if text.isascii() else _REPEATS).sub(_FIRST_GROUP, text)


def tokens(folded: str) -> list[str]:
    """Words of a folded text; runs of three or more single letters (``f.u.c.k``,
    ``f u c k``) are joined into one word."""
    words = _TOKEN.findall(folded)
    if "*" in folded:
        words = [s for s in (w.strip("*") for w in words) if s]
    if min(map(len, words), default=2) > 1:
        return words
    out: list[str] = []
    run: list[str] = []
    for w in words:
        if len(w) == 1:
            run.append(w)
            continue
        if run:
            out.extend([_REPEATS.sub(_FIRST_GROUP, "".join(run))] if len(run) >= 3 else run)
            run = []
        out.append(w)
    if run:
        out.extend([_REPEATS.sub(_FIRST_GROUP, "".join(run))] if len(run) >= 3 else run)
    return out


@dataclass(frozen=True)
class Blocklist:
    """Blocklist entries compiled for matching folded word lists."""

    exact: frozenset[str]
    prefix: tuple[tuple[str, str], ...]
    """(folded prefix, entry) pairs."""
    contains: tuple[tuple[str, str], ...]
    phrases: dict[str, tuple[tuple[tuple[str, ...], str], ...]]
    """first word → ((all words), entry); an entry ending in ``*`` takes the last as a prefix."""
    names: dict[str, str]
    _wild: re.Pattern[str] | None

    @classmethod
    def build(cls, entries: Iterable[str]) -> Blocklist:
        exact: dict[str, str] = {}
        prefix: dict[str, str] = {}
        contains: dict[str, str] = {}
        phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for raw in entries:
            entry = raw.strip()
            if not entry:
                continue
            starts, ends = entry.startswith("*"), entry.endswith("*")
            words = tokens(fold(entry.strip("*")))
            if not words:
                raise WallError(f"blocked word {entry!r}: has no letters to match")
            if len(words) > 1:
                phrases.setdefault(words[0], []).append((tuple(words), entry))
            elif starts and ends:
                contains.setdefault(words[0], entry)
            elif ends:
                prefix.setdefault(words[0], entry)
            else:
                exact.setdefault(words[0], entry)
        alternatives = [re.escape(p) for p in sorted(prefix, key=len, reverse=True)]
        wild_parts = []
        if alternatives:
            wild_parts.append(r"(?<![^\W\d_])(?:" + "|".join(alternatives) + ")")
        if contains:
            wild_parts.append("(?:" + "|".join(re.escape(c) for c in contains) + ")")
        wild = re.compile("|".join(wild_parts)) if wild_parts else None
        names = {**exact, **prefix, **contains}
        return cls(
            exact=frozenset(exact),
            prefix=tuple(prefix.items()),
            contains=tuple(contains.items()),
            phrases={k: tuple(v) for k, v in phrases.items()},
            names=names,
            _wild=wild,
        )

    def match(self, words: Sequence[str]) -> str | None:
        """The blocklist entry found in ``words`` (folded), or None."""
        if not self.exact.isdisjoint(words):
            for w in words:
                if w in self.exact:
                    return self.names[w]
        if self._wild is not None:
            m = self._wild.search(" ".join(words))
            if m is not None:
                return self.names.get(m.group(0), m.group(0))
        if self.phrases and not self.phrases.keys().isdisjoint(words):
            for i, w in enumerate(words):
                for seq, entry in self.phrases.get(w, ()):
                    got = words[i : i + len(seq)]
                    if len(got) < len(seq) or tuple(got[:-1]) != seq[:-1]:
                        continue
                    last = got[-1]
                    if last == seq[-1] or (entry.endswith("*") and last.startswith(seq[-1])):
                        return entry
        for w in words:
            if "*" in w and len(w) > 2:
                hit = self._masked(w)
                if hit is not None:
                    return hit
        return None

    def _masked(self, word: str) -> str | None:
        """``f*ck``: stars in a word stand for letters of an entry."""
        if sum(c != "*" for c in word) < 2:
            return None

        def fits(window: str, entry: str) -> bool:
            return all(a == b or a == "*" for a, b in zip(window, entry, strict=True))

        for e in self.exact:
            if len(e) == len(word) and fits(word, e):
                return self.names[e]
        for p, entry in self.prefix:
            if len(word) >= len(p) and fits(word[: len(p)], p):
                return entry
        for p, entry in self.contains:
            for i in range(len(word) - len(p) + 1):
                if fits(word[i : i + len(p)], p):
                    return entry
        return None


# -- language ---------------------------------------------------------------------
_STOP = {lang: frozenset(load_word_list(f"stopwords_{lang}")) for lang in ("de", "en")}
"""Common words per language: :func:`detect_language` counts them."""


def detect_language(text: str) -> str | None:
    """A guess between German and English from common words; None when unsure."""
    words = re.findall(r"[^\W\d_]+", text.casefold())
    if not words:
        return None
    scores = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOP.items()}
    best = max(scores, key=lambda k: scores[k])
    others = max(v for k, v in scores.items() if k != best)
    if scores[best] >= 2 and scores[best] >= 2 * others:
        return best
    return None
