"""``eventops wall ...``: ingest posts, read the queue, decide, undo.

- ``wall ingest PROFILE [--once]``   run the profile's sources through the rules into the store
- ``wall queue PROFILE``             list posts (pending by default) with their last reason
- ``wall decide PROFILE POST ACTION --user U [--for 2h]``  approve, reject, pin, unpin,
  take_down, block_author (``--for``: block_author only, how long the block lasts)
- ``wall undo PROFILE DECISION --user U``       put a post back as it was before a decision
  (any person's decision the post was not decided on since; an undo can be undone)
- ``wall decisions PROFILE [POST]``  every decision with who, when and why
- ``wall purge PROFILE``             delete posts and cached pictures older than the retention
- ``wall forget PROFILE AUTHOR --user U``  delete everything of one author (audited)
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from eventops import i18n, timefmt
from eventops.clock import SystemClock
from eventops.errors import WallError
from eventops.i18n import LANGUAGES, Msg
from eventops.monitor.history import decider
from eventops.profile import load_profile
from eventops.profile.models import Profile
from eventops.store import Store, default_store_path, open_store
from eventops.store.models import DecisionRow
from eventops.wall.manual import MANUAL_ACTIONS, ManualModeration
from eventops.wall.media import MediaCache, allowed_hosts, default_media_dir
from eventops.wall.retention import forget, purge
from eventops.wall.service import WallPipeline, build_sources

STATES = ("pending", "approved", "rejected", "hidden", "taken_down", "all")
_SOURCE_EVENTS = ("deleted", "edited")


def register(sub: Any) -> None:
    p = sub.add_parser("wall", help="the moderated social wall")
    psub = p.add_subparsers(dest="wall_command", metavar="ACTION")
    psub.required = True

    def common(a: argparse.ArgumentParser) -> None:
        a.add_argument("profile", help="the event profile (TOML)")
        a.add_argument("--db", help="store file (default: the event's store)")

    a = psub.add_parser(
        "ingest", help="read the profile's sources through the rules into the store"
    )
    common(a)
    a.add_argument("--once", action="store_true", help="one poll cycle of each source, then exit")
    a.set_defaults(func=ingest_cmd)

    a = psub.add_parser("queue", help="list posts and why they are where they are")
    common(a)
    a.add_argument("--state", choices=STATES, default="pending")
    a.add_argument("--limit", type=int, default=50)
    a.add_argument("--json", action="store_true", help="one JSON object per line")
    a.add_argument(
        "--lang", choices=LANGUAGES, default="en", help="the language of rules and reasons"
    )
    a.set_defaults(func=queue_cmd)

    a = psub.add_parser(
        "decide",
        help="a person's decision on a post (audited)",
        description="A person's decision on a post, checked against the post's state as the "
        "write finds it (exit 8 with the post's current state if another moderator got there "
        "first). approve: pending or rejected → approved; reject: pending → rejected; "
        "pin/unpin: an approved post; take_down: approved → taken_down; block_author: hide "
        "every shown or queued post of the author and reject new ones until the block ends.",
    )
    common(a)
    a.add_argument("post", help="post id, e.g. x:1790000000000000000")
    a.add_argument("action", choices=MANUAL_ACTIONS)
    a.add_argument("--user", required=True, help="who decides (recorded in the audit log)")
    a.add_argument("--reason", default="", help="why (recorded in the audit log)")
    a.add_argument(
        "--for",
        dest="duration",
        metavar="DURATION",
        help="block_author only: how long the block lasts, e.g. 30m, 2h, 1d (default: until "
        "lifted); the other actions hold until someone decides again",
    )
    a.set_defaults(func=decide_cmd)

    a = psub.add_parser(
        "undo",
        help="put a post back as it was before a decision (audited)",
        description="Put a post back as it was before a person's decision, if the post was "
        "not decided on since (a decision and its undo cancel out, so decisions can be undone "
        "one after another, newest first). An undo can itself be undone, which redoes what it "
        "undid. Undoing a block lifts it and restores the posts it hid; undoing that puts the "
        "block back with its original end (refused once the end has passed) and hides the "
        "author's shown and queued posts again.",
    )
    common(a)
    a.add_argument("decision", type=int, help="decision id (see `wall decisions`)")
    a.add_argument("--user", required=True)
    a.add_argument("--reason", default="")
    a.set_defaults(func=undo_cmd)

    a = psub.add_parser("decisions", help="every decision: who, when, what and why")
    common(a)
    a.add_argument("post", nargs="?", help="only this post")
    a.add_argument("--json", action="store_true")
    a.add_argument(
        "--lang", choices=LANGUAGES, default="en", help="the language of rules and reasons"
    )
    a.set_defaults(func=decisions_cmd)

    a = psub.add_parser(
        "purge", help="delete posts and cached pictures older than event.retention_days"
    )
    common(a)
    a.set_defaults(func=purge_cmd)

    a = psub.add_parser("forget", help="delete everything of one author (GDPR; audited)")
    common(a)
    a.add_argument("author", help="author key as `wall queue` shows it, e.g. x:alice")
    a.add_argument("--user", required=True, help="who handles the request (audit log)")
    a.add_argument("--reason", default="", help="e.g. the request's reference")
    a.set_defaults(func=forget_cmd)


def _open(args: argparse.Namespace) -> tuple[Profile, Store]:
    profile = load_profile(args.profile)
    path = Path(args.db) if args.db else default_store_path(profile.event.id)
    return profile, open_store(path, profile)


def _profile_dir(path: str) -> Path:
    return Path(path).resolve().parent


def parse_duration(text: str) -> timedelta:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if not m:
        raise WallError(f"--for {text!r}: write a number and s, m, h or d (e.g. 2h)")
    n = float(m.group(1))
    return timedelta(seconds=n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)])


async def ingest_cmd(args: argparse.Namespace) -> int:
    profile, store = _open(args)
    clock = SystemClock()
    async with store:
        sources = build_sources(profile, _profile_dir(args.profile), store, clock)
        if not sources:
            raise WallError(f"{args.profile}: [wall] has no sources")
        pipe = WallPipeline(profile.wall, store, clock, sources, tz=profile.event.tz)
        try:
            if args.once:
                counts = await pipe.ingest_once()
            else:
                await pipe.run()
                counts = await pipe.outcome()
        finally:
            await pipe.aclose()
    repeat = counts.pop("repeat", 0)
    total = sum(counts.values())
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    read = f"{total} post(s) now {summary}" if total else "nothing new"
    events = [f"{n} {what}" for what, n in sorted(pipe.counts.items()) if what in _SOURCE_EVENTS]
    extra = f" ({', '.join(events)} at the source)" if events else ""
    seen = f"; {repeat} seen before" if repeat else ""
    print(f"ok {profile.event.id}: {read}{extra}{seen}")
    return 0


def _who_why(d: DecisionRow, lang: str, tz: tzinfo) -> tuple[str, str]:
    """Who decided and why, in ``lang`` (English: as stored; a person's reason as typed)."""
    if lang == "en":
        return d.actor, d.reason
    who = decider(d.actor)
    return (
        who.text(lang, tz) if isinstance(who, Msg) else who,
        i18n.render(d.reason_id, d.reason_params, lang, tz, d.reason),
    )


async def queue_cmd(args: argparse.Namespace) -> int:
    profile, store = _open(args)
    async with store:
        state = None if args.state == "all" else args.state
        posts = await store.list_posts(state, limit=args.limit)
        last = await store.last_decisions([p.id for p in posts])
    for p in posts:
        d = last.get(p.id)
        if args.json:
            row: dict[str, Any] = p.model_dump(mode="json")
            row["last_decision"] = d.model_dump(mode="json") if d else None
            print(json.dumps(row, ensure_ascii=False))
            continue
        pin = " 📌" if p.pinned else ""
        who, said = _who_why(d, args.lang, profile.event.tz) if d else ("", "")
        why = f"{who}: {said}" if d else ""
        text = " ".join(p.text.split())
        print(f"{p.id:<34} {p.state:<10}{pin} {p.author:<28} {text[:70]}")
        if why:
            print(f"{'':<34} └ {why}")
    if not args.json:
        print(f"{len(posts)} post(s)")
    return 0


async def decide_cmd(args: argparse.Namespace) -> int:
    profile, store = _open(args)
    clock = SystemClock()
    async with store:
        desk = ManualModeration(store, clock, tz=profile.event.tz)
        if args.action == "block_author":
            until = clock.now() + parse_duration(args.duration) if args.duration else None
            did = await desk.block_author(args.post, args.user, args.reason, until=until)
        else:
            if args.duration:
                raise WallError(
                    f"--for: only block_author takes a duration; {args.action} holds until "
                    "someone decides again"
                )
            did = await desk.decide(args.post, args.action, args.user, args.reason)
        post = await store.get_post(args.post)
    state = post.state if post else "?"
    print(f"ok decision {did}: {args.action} {args.post} (now {state})")
    return 0


async def undo_cmd(args: argparse.Namespace) -> int:
    _, store = _open(args)
    async with store:
        did = await ManualModeration(store, SystemClock()).undo(
            args.decision, args.user, args.reason
        )
    print(f"ok decision {did}: undid decision {args.decision}")
    return 0


async def decisions_cmd(args: argparse.Namespace) -> int:
    profile, store = _open(args)
    async with store:
        rows = await store.list_decisions(args.post)
    for d in rows:
        if args.json:
            print(json.dumps(d.model_dump(mode="json"), ensure_ascii=False))
        else:
            ts: datetime = d.ts
            who, said = _who_why(d, args.lang, profile.event.tz)
            did = d.action if args.lang == "en" else i18n.render("wall.now", {"state": d.action},
                                                                  args.lang, fallback=d.action)  # fmt: skip
            print(
                f"{d.id:6d} {timefmt.stamp(ts, profile.event.tz)} {d.post_id:<30} {who:<20} "
                f"{did:<12} {said}"
            )
    return 0


def _media(profile: Profile, args: argparse.Namespace) -> MediaCache:
    path = Path(args.db) if args.db else default_store_path(profile.event.id)
    return MediaCache(default_media_dir(path), allowed_hosts(profile.wall))


async def purge_cmd(args: argparse.Namespace) -> int:
    profile, store = _open(args)
    media = _media(profile, args)
    async with store:
        res = await purge(
            store, media, SystemClock(), profile.event.retention_days, actor="wall purge"
        )
    print(
        f"ok {profile.event.id}: purged {res['posts']} post(s) and {res['media']} picture(s) "
        f"older than {profile.event.retention_days} day(s)"
    )
    return 0


async def forget_cmd(args: argparse.Namespace) -> int:
    profile, store = _open(args)
    media = _media(profile, args)
    async with store:
        res = await forget(store, media, args.author, args.user, args.reason)
    print(
        f"ok {profile.event.id}: forgot {args.author}: {res['posts']} post(s), "
        f"{res['media']} picture(s) deleted; recorded in the audit log"
    )
    return 0
