"""Retention: ``eventops wall purge`` and ``eventops wall forget``, and the hub seeing them."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from eventops.cli import main
from eventops.clock import FakeClock, SystemClock
from eventops.store import SQLiteStore
from eventops.store.models import DecisionRow, PostRow
from eventops.wall.display import WallHub
from eventops.wall.media import MediaCache, default_media_dir, media_key
from eventops.wall.retention import author_ref
from tests.helpers.pgfixtures import StoreMaker
from tests.unit.monitor.factories import demo_profile

REPO = Path(__file__).resolve().parents[2]
DEMO = str(REPO / "profiles" / "demo.toml")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


async def _seed(db: Path, now_days_ago: dict[str, tuple[str, float]]) -> None:
    now = SystemClock().now()
    async with SQLiteStore(db) as store:
        for pid, (author, days) in now_days_ago.items():
            ts = now - timedelta(days=days)
            await store.upsert_posts(
                [
                    PostRow(
                        id=pid,
                        source="replay",
                        author=author,
                        text=f"post {pid}",
                        created_at=ts,
                        data={"avatar_url": f"https://pics.example/{author}.png"},
                    )
                ]
            )
            await store.decide(
                DecisionRow(post_id=pid, ts=ts, actor="rule:mode", action="approve"),
                "approved",
                None,
            )


def test_purge_and_forget_commands(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = data_dir / "demo.sqlite3"
    asyncio.run(
        _seed(
            db,
            {
                "replay:old": ("replay:anna", 20),
                "replay:new": ("replay:anna", 1),
                "replay:b1": ("replay:bert", 1),
                "replay:b2": ("replay:bert", 30),
            },
        )
    )
    media = default_media_dir(db)
    media.mkdir(parents=True)
    key = media_key("https://pics.example/replay:bert.png")
    (media / f"{key}.bin").write_bytes(b"\x89PNG\r\n\x1a\n")
    (media / f"{key}.type").write_text("image/png\n")

    code, out, _ = run(capsys, "wall", "purge", DEMO)
    assert code == 0
    assert out.strip() == "ok demo: purged 2 post(s) and 0 picture(s) older than 14 day(s)"
    code, out, _ = run(capsys, "wall", "queue", DEMO, "--state", "all", "--json")
    assert sorted(json.loads(line)["id"] for line in out.splitlines()) == [
        "replay:b1",
        "replay:new",
    ]
    code, out, _ = run(capsys, "wall", "purge", DEMO)
    assert "purged 0 post(s)" in out

    code, out, _ = run(
        capsys, "wall", "forget", DEMO, "replay:bert", "--user", "dpo", "--reason", "req 12"
    )
    assert code == 0
    assert out.strip() == (
        "ok demo: forgot replay:bert: 1 post(s), 1 picture(s) deleted; recorded in the audit log"
    )
    assert not (media / f"{key}.bin").exists()
    code, out, _ = run(capsys, "wall", "decisions", DEMO)
    assert "replay:b1" not in out and "replay:new" in out
    code, out, _ = run(capsys, "audit", "show", DEMO, "--json")
    entries = [json.loads(line) for line in out.splitlines()]
    forget = [e for e in entries if e["action"] == "wall.forget"]
    assert len(forget) == 1 and forget[0]["actor"] == "dpo"
    assert forget[0]["target"] == author_ref("replay:bert")
    assert forget[0]["after"] == {"posts": 1, "media": 1, "reason": "req 12"}
    assert [e["action"] for e in entries].count("wall.purge") == 1
    code, out, _ = run(capsys, "audit", "verify", DEMO)
    assert code == 0

    code, _, err = run(capsys, "wall", "forget", DEMO, "  ", "--user", "dpo")
    assert code != 0 and "give the author" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


async def test_hub_sees_decisions_made_elsewhere(tmp_path: Path, make_store: StoreMaker) -> None:
    clock = FakeClock()
    profile = demo_profile()
    async with make_store(now=clock.now) as store:
        hub = WallHub(profile, store, clock, MediaCache(tmp_path / "m", []), poll_s=1.0)
        await hub.start()
        try:
            with hub.subscribe() as screen:
                now = clock.now()
                await store.upsert_posts(
                    [PostRow(id="p", source="replay", author="replay:a", text="t", created_at=now)]
                )
                # another process (the CLI) approves it: the next poll notices
                await store.decide(
                    DecisionRow(post_id="p", ts=now, actor="maria", action="approve"),
                    "approved",
                    None,
                )
                await clock.advance(1.0)
                msg = await asyncio.wait_for(screen.queue.get(), 5)
                assert msg.startswith(b"event: post\n") and b'"id": "p"' in msg
                await store.forget_author("replay:a")
                await clock.advance(1.0)
                while (msg := await asyncio.wait_for(screen.queue.get(), 5)).startswith(
                    b"event: post"
                ):
                    pass
                assert msg == b'event: remove\ndata: {"id": "p"}\n\n'
                assert hub.posts == {}
        finally:
            await hub.stop()
