"""The moderation rule chain: pure rules applied in order, first verdict wins.

Each rule looks at one normalised post (plus facts computed once per post and
the chain's memory of recent posts) and either returns a :class:`Verdict` with
its reason or passes. The order is:

1. ``blocked_user``     the author is on the profile's or a runtime blocklist (with expiry)
2. ``blocked_word``     a blocklist word in the text, content warning, display name or
                        media description, however it is spelled (see :func:`fold`)
3. ``link_policy``      a link to a blocked domain, or outside the allowed domains
4. ``allowed_user``     an allowlisted author is approved without queueing
5. ``boost`` / ``reply`` / ``bot``   the profile's switches
6. ``language``         the source's language tag; a small detector only as fallback
7. ``sensitive``        sensitive or content-warned posts: rejected unless allowed,
                        and then always queued for a person
8. ``duplicate``        the same or nearly the same text (word-shingle Jaccard) as a
                        recent post
9. ``rate_cap``         the author's posts in the last hour reach the cap (spam waves)
10. ``mode``            pre-moderation queues what is left; post-moderation approves it

The chain is pure apart from :class:`ChainMemory` (recent posts, rate windows,
runtime blocks), which :meth:`ModerationChain.observe` updates after each
verdict, so the service stores the decision and the memory moves on together.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

from eventops import timefmt
from eventops.i18n import Msg
from eventops.profile.models import Wall
from eventops.wall.normalize import NormalPost
from eventops.wall.words import (
    DEFAULT_BLOCKLIST,
    Blocklist,
    detect_language,
    fold,
    load_word_list,
    tokens,
)

__all__ = [
    "DEFAULT_BLOCKLIST",
    "Blocklist",
    "ModerationChain",
    "Verdict",
    "detect_language",
    "fold",
    "load_word_list",
    "tokens",
]

Outcome = Literal["approve", "queue", "reject"]


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    rule: str
    reason: str
    """In English (stored and read by scripts)."""
    msg: Msg | None = None
    """``reason`` as a message (eventops.i18n), for clients in other languages."""

    @classmethod
    def of(cls, outcome: Outcome, rule: str, msg: Msg, tz: tzinfo = UTC) -> Verdict:
        """A verdict whose English reason is ``msg`` in English."""
        return cls(outcome, rule, msg.text("en", tz), msg)

    @property
    def reason_msg(self) -> dict[str, Any]:
        """``reason_id`` and ``reason_params`` of the decision it becomes."""
        if self.msg is None:
            return {}
        return {"reason_id": self.msg.msg_id, "reason_params": self.msg.as_dict()["params"]}

    @property
    def state(self) -> str:
        return {"approve": "approved", "queue": "pending", "reject": "rejected"}[self.outcome]


# -- shingles ----------------------------------------------------------------------------
def shingles(words: Sequence[str], size: int = 3) -> frozenset[int]:
    """Hashes of the word ``size``-grams (the words themselves for short texts)."""
    if len(words) < size:
        return frozenset(map(hash, words))
    return frozenset(map(hash, zip(*(words[i:] for i in range(size)), strict=False)))


@dataclass
class _Seen:
    post_id: str
    at: float
    grams: frozenset[int]


class DuplicateIndex:
    """Recent posts' shingle sets, found by their smallest hashes (bottom-k sketch).

    Two texts with Jaccard similarity J share their smallest shingle hash with
    probability J, so looking up each of the ``k`` smallest finds near
    duplicates with high probability at constant cost; each candidate is then
    compared exactly.
    """

    def __init__(self, window_s: float = 6 * 3600, k: int = 4, cap: int = 20000) -> None:
        self.window_s = window_s
        self.k = k
        self.cap = cap
        self._by_key: dict[int, deque[_Seen]] = {}
        self._order: deque[tuple[_Seen, tuple[int, ...]]] = deque()

    def _keys(self, grams: frozenset[int]) -> tuple[int, ...]:
        return tuple(sorted(grams)[: self.k])

    def find(
        self,
        grams: frozenset[int],
        now: float,
        threshold: float,
        exclude: tuple[str, ...] = (),
    ) -> tuple[str, float] | None:
        """A recent post at least ``threshold`` similar (not in ``exclude``), and how similar.

        An identical text (similarity 1) is preferred when several qualify.
        """
        if not grams:
            return None
        found: tuple[str, float] | None = None
        checked: set[int] = set()
        n = len(grams)
        for key in self._keys(grams):
            for seen in self._by_key.get(key, ()):
                if id(seen) in checked:
                    continue
                checked.add(id(seen))
                if now - seen.at > self.window_s or seen.post_id in exclude:
                    continue
                if seen.grams == grams:
                    return seen.post_id, 1.0
                inter = len(grams & seen.grams)
                sim = inter / (n + len(seen.grams) - inter)
                if sim >= threshold and (found is None or sim > found[1]):
                    found = (seen.post_id, sim)
        return found

    def add(self, post_id: str, grams: frozenset[int], now: float) -> None:
        if not grams:
            return
        seen = _Seen(post_id, now, grams)
        keys = self._keys(grams)
        for key in keys:
            self._by_key.setdefault(key, deque(maxlen=16)).append(seen)
        self._order.append((seen, keys))
        while self._order and (
            len(self._order) > self.cap or now - self._order[0][0].at > self.window_s
        ):
            old, old_keys = self._order.popleft()
            for key in old_keys:
                bucket = self._by_key.get(key)
                if bucket is not None:
                    try:
                        bucket.remove(old)
                    except ValueError:
                        pass
                    if not bucket:
                        del self._by_key[key]


# -- the chain -------------------------------------------------------------------------
@dataclass
class ChainMemory:
    """What the chain remembers between posts."""

    blocked_until: dict[str, datetime | None] = field(default_factory=dict)
    """Runtime author blocks: author → expiry (None: until lifted)."""
    rate: dict[str, deque[float]] = field(default_factory=dict)
    dupes: DuplicateIndex = field(default_factory=DuplicateIndex)


@dataclass(slots=True)
class PostFacts:
    """Computed once per post; rules read them."""

    words: list[str]
    """The folded words of the text."""
    screen_words: list[str]
    """The folded words of the content warning and media descriptions."""
    name_hit: str | None
    """The blocklist entry in the author's display name, if any."""
    grams: frozenset[int]
    at: float


@dataclass(frozen=True)
class ChainConfig:
    mode: Literal["pre", "post"]
    blocklist: Blocklist
    blocked_users: frozenset[str]
    allowed_users: frozenset[str]
    allowed_domains: tuple[str, ...]
    blocked_domains: tuple[str, ...]
    languages: frozenset[str]
    allow_sensitive: bool
    allow_replies: bool
    allow_boosts: bool
    allow_bots: bool
    max_per_hour: int
    duplicate_threshold: float = 0.8
    tz: tzinfo = UTC
    """The event's zone: times in a verdict's reason are shown in it."""

    @classmethod
    def from_wall(cls, wall: Wall, tz: tzinfo = UTC) -> ChainConfig:
        words = list(wall.blocked_words)
        if wall.use_default_blocklist:
            words = [*DEFAULT_BLOCKLIST, *words]
        return cls(
            mode=wall.moderation,
            blocklist=Blocklist.build(words),
            blocked_users=frozenset(author_key(u) for u in wall.blocked_users),
            allowed_users=frozenset(author_key(u) for u in wall.allowed_users),
            allowed_domains=tuple(d.lower().strip(".") for d in wall.allowed_domains),
            blocked_domains=tuple(d.lower().strip(".") for d in wall.blocked_domains),
            languages=frozenset(x.lower() for x in wall.languages),
            allow_sensitive=wall.allow_sensitive,
            allow_replies=wall.allow_replies,
            allow_boosts=wall.allow_boosts,
            allow_bots=wall.allow_bots,
            max_per_hour=wall.max_posts_per_author_per_hour,
            tz=tz,
        )


def author_key(value: str) -> str:
    """A profile's user entry as a comparable key.

    ``x:alice`` and ``mastodon:bob@social.example`` name one source's
    account; ``@alice`` or ``alice`` any account with that handle.
    """
    v = value.strip().lower()
    if ":" in v:
        src, _, name = v.partition(":")
        return f"{src}:{name.lstrip('@')}"
    return v.lstrip("@")


def author_keys(author: str) -> tuple[str, ...]:
    """The keys a post's author matches: itself, its bare handle, its local name."""
    src, _, name = author.partition(":")
    keys = [author, name]
    if "@" in name:
        keys.append(name.split("@", 1)[0])
    return tuple(keys) if src else (author,)


def _in_domains(domain: str, domains: Iterable[str]) -> str | None:
    for d in domains:
        if domain == d or domain.endswith("." + d):
            return d
    return None


Rule = Callable[[NormalPost, PostFacts, ChainConfig, ChainMemory, datetime], Verdict | None]


def rule_blocked_user(
    post: NormalPost, f: PostFacts, c: ChainConfig, m: ChainMemory, now: datetime
) -> Verdict | None:
    keys = author_keys(post.author)
    for key in keys:
        if key in c.blocked_users:
            msg = Msg("wall.rule.blocklisted", {"author": post.author})
            return Verdict.of("reject", "blocked_user", msg)
    for key in keys:
        if key in m.blocked_until:
            until = m.blocked_until[key]
            if until is None:
                msg = Msg("wall.rule.blocked", {"author": post.author})
                return Verdict.of("reject", "blocked_user", msg)
            if until > now:
                when = timefmt.stamp(until, c.tz, seconds=False)
                msg = Msg("wall.rule.blocked_until", {"author": post.author, "until": when})
                return Verdict.of("reject", "blocked_user", msg)
    return None


def rule_blocked_word(
    post: NormalPost, f: PostFacts, c: ChainConfig, m: ChainMemory, now: datetime
) -> Verdict | None:
    hit = c.blocklist.match(f.words) or f.name_hit
    if hit is None and f.screen_words:
        hit = c.blocklist.match(f.screen_words)
    if hit is not None:
        return Verdict.of("reject", "blocked_word", Msg("wall.rule.word", {"word": repr(hit)}))
    return None


def rule_link_policy(
    post: NormalPost, f: PostFacts, c: ChainConfig, m: ChainMemory, now: datetime
) -> Verdict | None:
    for link in post.links:
        bad = _in_domains(link.domain, c.blocked_domains)
        if bad is not None:
            msg = Msg("wall.rule.domain_blocked", {"domain": bad})
            return Verdict.of("reject", "link_policy", msg)
        if c.allowed_domains and _in_domains(link.domain, c.allowed_domains) is None:
            msg = Msg("wall.rule.domain_not_allowed", {"domain": link.domain})
            return Verdict.of("reject", "link_policy", msg)
    return None


def rule_allowed_user(
    post: NormalPost, f: PostFacts, c: ChainConfig, m: ChainMemory, now: datetime
) -> Verdict | None:
    if c.allowed_users and not c.allowed_users.isdisjoint(author_keys(post.author)):
        msg = Msg("wall.rule.allowlisted", {"author": post.author})
        return Verdict.of("approve", "allowed_user", msg)
    return None


def rule_switches(
    post: NormalPost, f: PostFacts, c: ChainConfig, m: ChainMemory, now: datetime
) -> Verdict | None:
    if post.is_boost and not c.allow_boosts:
        return Verdict.of("reject", "boost", Msg("wall.rule.boost"))
    if post.is_reply and not c.allow_replies:
        return Verdict.of("reject", "reply", Msg("wall.rule.reply"))
    if post.is_bot and not c.allow_bots:
        return Verdict.of("reject", "bot", Msg("wall.rule.bot"))
    return None


def rule_language(
    post: NormalPost, f: PostFacts, c: ChainConfig, m: ChainMemory, now: datetime
) -> Verdict | None:
    if not c.languages:
        return None
    lang = (post.lang or "").lower().split("-")[0] or None
    how = "tagged"
    if lang is None:
        lang, how = detect_language(post.text), "detected"
    if lang is not None and lang not in c.languages:
        msg = Msg("wall.rule.language", {"lang": lang, "how": how})
        return Verdict.of("reject", "language", msg)
    return None


def rule_sensitive(
    post: NormalPost, f: PostFacts, c: ChainConfig, m: ChainMemory, now: datetime
) -> Verdict | None:
    if not (post.sensitive or post.spoiler_text):
        return None
    what = (
        Msg("wall.rule.content_warning", {"warning": repr(post.spoiler_text)})
        if post.spoiler_text
        else Msg("wall.rule.sensitive")
    )
    if not c.allow_sensitive:
        return Verdict.of("reject", "sensitive", what)
    return Verdict.of("queue", "sensitive", Msg("wall.rule.person_decides", {"what": what}))


def rule_duplicate(
    post: NormalPost, f: PostFacts, c: ChainConfig, m: ChainMemory, now: datetime
) -> Verdict | None:
    hit = m.dupes.find(f.grams, f.at, c.duplicate_threshold, (post.id, *post.replaces))
    if hit is not None:
        other, sim = hit
        msg = (
            Msg("wall.rule.duplicate", {"other": other})
            if sim >= 0.999
            else Msg("wall.rule.near_duplicate", {"pct": sim * 100, "other": other})
        )
        return Verdict.of("reject", "duplicate", msg)
    return None


def rule_rate_cap(
    post: NormalPost, f: PostFacts, c: ChainConfig, m: ChainMemory, now: datetime
) -> Verdict | None:
    times = m.rate.get(post.author)
    if times is None:
        return None
    while times and f.at - times[0] >= 3600:
        times.popleft()
    if len(times) >= c.max_per_hour:
        msg = Msg("wall.rule.rate_cap", {"author": post.author, "n": len(times)})
        return Verdict.of("reject", "rate_cap", msg)
    return None


def rule_mode(
    post: NormalPost, f: PostFacts, c: ChainConfig, m: ChainMemory, now: datetime
) -> Verdict | None:
    if c.mode == "post":
        return Verdict.of("approve", "mode", Msg("wall.rule.post_moderation"))
    return Verdict.of("queue", "mode", Msg("wall.rule.pre_moderation"))


RULES: tuple[tuple[str, Rule], ...] = (
    ("blocked_user", rule_blocked_user),
    ("blocked_word", rule_blocked_word),
    ("link_policy", rule_link_policy),
    ("allowed_user", rule_allowed_user),
    ("switches", rule_switches),
    ("language", rule_language),
    ("sensitive", rule_sensitive),
    ("duplicate", rule_duplicate),
    ("rate_cap", rule_rate_cap),
    ("mode", rule_mode),
)


NAME_CACHE = 50_000


class ModerationChain:
    """Applies :data:`RULES` in order; remembers recent posts for the stateful rules."""

    def __init__(
        self,
        config: ChainConfig,
        memory: ChainMemory | None = None,
        rules: Sequence[tuple[str, Rule]] = RULES,
    ) -> None:
        self.config = config
        self.memory = memory or ChainMemory()
        self.rules = tuple(rules)
        self._names: dict[str, str | None] = {}

    @classmethod
    def from_wall(cls, wall: Wall, tz: tzinfo = UTC) -> ModerationChain:
        return cls(ChainConfig.from_wall(wall, tz))

    def facts(self, post: NormalPost, now: datetime) -> PostFacts:
        words = tokens(fold(post.text))
        extra = post.spoiler_text
        if post.media:
            extra = " ".join([extra, *(m.description for m in post.media)])
        return PostFacts(
            words=words,
            screen_words=tokens(fold(extra)) if extra else [],
            name_hit=self._name_hit(post.author_name),
            grams=shingles(words),
            at=now.timestamp(),
        )

    def _name_hit(self, name: str) -> str | None:
        """Blocklist check of a display name, remembered: authors post more than once."""
        if not name:
            return None
        try:
            return self._names[name]
        except KeyError:
            pass
        if len(self._names) >= NAME_CACHE:
            self._names.clear()
        hit = self._names[name] = self.config.blocklist.match(tokens(fold(name)))
        return hit

    def evaluate(self, post: NormalPost, now: datetime) -> tuple[Verdict, PostFacts]:
        f = self.facts(post, now)
        for _, rule in self.rules:
            verdict = rule(post, f, self.config, self.memory, now)
            if verdict is not None:
                return verdict, f
        raise AssertionError("the mode rule always decides")

    def observe(self, post: NormalPost, verdict: Verdict, facts: PostFacts) -> None:
        """Remember ``post`` for the duplicate and rate rules."""
        if verdict.rule in ("blocked_user", "duplicate"):
            return
        self.memory.rate.setdefault(post.author, deque()).append(facts.at)
        self.memory.dupes.add(post.id, facts.grams, facts.at)

    def moderate(self, post: NormalPost, now: datetime) -> Verdict:
        verdict, f = self.evaluate(post, now)
        self.observe(post, verdict, f)
        return verdict

    def block(self, author: str, until: datetime | None) -> None:
        self.memory.blocked_until[author_key(author)] = until

    def unblock(self, author: str) -> None:
        self.memory.blocked_until.pop(author_key(author), None)
