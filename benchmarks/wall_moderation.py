"""Posts per second through the full moderation rule chain, on one core.

Runs a generated stream of realistic posts (German and English event posts,
links, media, replies, bots, spam waves with near-duplicates, obfuscated
insults) through :class:`eventops.wall.moderation.ModerationChain` — every
rule, including folding, blocklist, link policy, language, shingles and
rate caps — and, as the anchor measured in the same run, through a naive
filter that runs one case-insensitive regex per blocklist word over the raw
text (and does nothing else). Prints both rates, their ratio, the goal
(≥ 20,000 posts/s) and how many of the hostile posts each one caught.
Times are this process's CPU time (best of several rounds), so other load on
a shared machine disturbs them less than wall-clock time would.

    .venv/bin/python benchmarks/wall_moderation.py [--posts 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import re
import time
from datetime import UTC, datetime, timedelta

from eventops.profile.models import Wall
from eventops.wall.moderation import DEFAULT_BLOCKLIST, ModerationChain
from eventops.wall.normalize import Link, Media, NormalPost

GOAL = 20_000

DE = (
    "Endlich wieder Altstadtfest, die Sonne scheint und der Marktplatz ist voll",
    "Die Band auf der Bühne am Brunnen ist der Wahnsinn, kommt alle vorbei",
    "Lecker Flammkuchen am Stand {n}, die Schlange lohnt sich wirklich",
    "Danke an alle Helferinnen und Helfer und an die Feuerwehr für die Show",
    "Wo ist denn das Fundbüro? Habe meine Jacke bei Bühne {n} verloren",
    "Das Feuerwerk heute Abend um 22:30 Uhr wird bestimmt großartig",
)
EN = (
    "First time at the festival and the old town looks amazing tonight",
    "The brass band just started playing in front of the town hall",
    "Great food, great music, great people, see you next year at stage {n}",
    "Does anyone know when the fireworks start? We are near gate {n}",
)
HOSTILE = (
    "Ihr seid alle H.U.R.E.N.S.Ö.H.N.E",
    "du Аrschlосh",  # Cyrillic
    "ＳＩＥＧ ＨＥＩＬ",
    "f u c k this festival",
    "Hurens\u200bohn am Eingang",
    "wh0r3s everywhere",
    "sh!t music",
)
SPAM = "WIN FREE spamcoin now!!! claim at stand {n}"


def corpus(n: int, seed: int = 7) -> tuple[list[NormalPost], set[str], set[str]]:
    rnd = random.Random(seed)
    t0 = datetime(2026, 6, 18, 16, 0, tzinfo=UTC)
    posts: list[NormalPost] = []
    hostile: set[str] = set()
    spam: set[str] = set()
    for i in range(n):
        kind = rnd.random()
        lang = "de"
        extra: dict[str, object] = {}
        if kind < 0.05:
            text = rnd.choice(HOSTILE) + " #altstadtfest"
            hostile.add(f"b:{i}")
        elif kind < 0.12:
            text = SPAM.format(n=rnd.randint(1, 3)) + " #altstadtfest"
            author = f"b:spam{rnd.randint(1, 5)}"
            spam.add(f"b:{i}")
            extra["author"] = author
        elif kind < 0.55:
            text = rnd.choice(DE).format(n=rnd.randint(1, 40)) + " #altstadtfest"
        else:
            text = rnd.choice(EN).format(n=rnd.randint(1, 40)) + " #altstadtfest"
            lang = "en"
        if rnd.random() < 0.2:
            extra["links"] = (
                Link(url=f"https://site{i % 50}.example/p", domain=f"site{i % 50}.example"),
            )
        if rnd.random() < 0.15:
            extra["media"] = (
                Media(kind="photo", url="https://m.example/x.jpg", description="Bühne"),
            )
        if rnd.random() < 0.05:
            extra["is_reply"] = True
        if rnd.random() < 0.1:
            lang = ""
        posts.append(
            NormalPost(
                id=f"b:{i}",
                source="b",
                native_id=str(i),
                author=str(extra.pop("author", f"b:user{rnd.randint(1, 3000)}")),
                author_name=f"User {i % 3000}",
                text=f"{text} {i}" if rnd.random() < 0.5 else text,
                created_at=t0 + timedelta(seconds=i * 0.2),
                lang=lang or None,
                **extra,  # type: ignore[arg-type]
            )
        )
    return posts, hostile, spam


def run_chain(posts: list[NormalPost], wall: Wall) -> tuple[float, set[str]]:
    chain = ModerationChain.from_wall(wall)
    caught: set[str] = set()
    start = time.process_time()
    for p in posts:
        v = chain.moderate(p, p.created_at)
        if v.rule == "blocked_word":
            caught.add(p.id)
    return time.process_time() - start, caught


def run_naive(posts: list[NormalPost], words: list[str]) -> tuple[float, set[str]]:
    patterns = [re.compile(r"\b" + re.escape(w.strip("*")) + r"\b", re.IGNORECASE) for w in words]
    caught: set[str] = set()
    start = time.process_time()
    for p in posts:
        for pat in patterns:
            if pat.search(p.text):
                caught.add(p.id)
                break
    return time.process_time() - start, caught


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    wall = Wall(
        hashtags=["altstadtfest"],
        moderation="pre",
        blocked_words=["spamcoin"],
        blocked_domains=["spam.example"],
        languages=["de", "en"],
    )
    words = [*DEFAULT_BLOCKLIST, "spamcoin"]
    posts, hostile, spam = corpus(args.posts)
    best_chain = best_naive = float("inf")
    caught_chain: set[str] = set()
    caught_naive: set[str] = set()
    for _ in range(args.rounds):
        t, caught_chain = run_chain(posts, wall)
        best_chain = min(best_chain, t)
        t, caught_naive = run_naive(posts, words)
        best_naive = min(best_naive, t)
    chain_rate = len(posts) / best_chain
    naive_rate = len(posts) / best_naive
    print(
        f"posts: {len(posts)}, blocklist entries: {len(words)}, best of {args.rounds} rounds, CPU time"
    )
    print(f"full rule chain      : {chain_rate:10,.0f} posts/s")
    print(f"naive regex per word : {naive_rate:10,.0f} posts/s (blocklist only)")
    print(f"ratio chain/naive    : {chain_rate / naive_rate:10.2f}")
    print(f"goal ≥ {GOAL:,} posts/s : {'met' if chain_rate >= GOAL else 'NOT met'}")
    print(
        f"obfuscated hostile posts caught: chain {len(caught_chain & hostile)}/{len(hostile)}, "
        f"naive {len(caught_naive & hostile)}/{len(hostile)}"
    )
    print(
        f"ordinary posts blocked by words (false alarms): chain {len(caught_chain - hostile - spam)}, "
        f"naive {len(caught_naive - hostile - spam)}"
    )


if __name__ == "__main__":
    main()
