"""A profile with X, Mastodon and replay sources, built and run against the simulators."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import pytest
from eventops_hardware.mastodon_api import MastodonSimulator
from eventops_hardware.x_api import XApiSimulator

from eventops.clock import FakeClock
from eventops.profile.loader import parse_profile
from eventops.store import SQLiteStore
from eventops.wall.service import WallPipeline, build_sources
from tests.integration.wallkit import TestTLS, mapped_session

REPO = Path(__file__).resolve().parents[2]
TLS = TestTLS("api.twitter.com")


async def test_profile_sources_run_through_one_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock()
    monkeypatch.setenv("EVO_X_TOKEN", "test-bearer")
    monkeypatch.setenv("EVO_MASTODON_TOKEN", "test-token")
    async with (
        XApiSimulator(clock, ssl_context=TLS.server_context()) as xsim,
        MastodonSimulator(clock) as msim,
        mapped_session("api.twitter.com", xsim.port, TLS) as xs,
        aiohttp.ClientSession() as ms,
        SQLiteStore(tmp_path / "s.sqlite3") as store,
    ):
        text = (REPO / "profiles" / "demo.toml").read_text(encoding="utf-8")
        sources = (
            'sources = [{ kind = "replay", path = "demo-wall.jsonl", loop = false }, '
            '{ kind = "x", bearer_token = "env:EVO_X_TOKEN" }, '
            f'{{ kind = "mastodon", instance = "{msim.url}", token = "env:EVO_MASTODON_TOKEN", '
            "stream = false }]"
        )
        text = re.sub(r"^sources = .*$", sources, text, count=1, flags=re.M)
        profile = parse_profile(text, "demo.toml", base_dir=REPO / "profiles")
        xsim.state.post("anna", "Hallo vom #altstadtfest, die Sonne scheint heute", lang="de")
        msim.state.post("ben", "Grüße vom #afdemo Stand, kommt heute vorbei")
        sessions = {"x": xs, f"mastodon:{msim.url.split('://')[1]}": ms}
        built = build_sources(profile, REPO / "profiles", store, clock, sessions.get)
        assert [s.name for s in built] == ["replay", "x", f"mastodon:127.0.0.1:{msim.port}"]
        pipe = WallPipeline(profile.wall, store, clock, built)
        await pipe.ingest_once()
        posts = await store.list_posts(limit=1000)
        sources_seen = {p.source for p in posts}
        assert sources_seen == {"replay", "x", f"mastodon:127.0.0.1:{msim.port}"}
        search = next(r for r in xsim.state.requests if r[1].endswith("/recent"))
        assert search[2]["query"] == "(#altstadtfest OR #afdemo) -is:retweet"
        await pipe.aclose()
        assert not xs.closed and not ms.closed  # the caller's sessions stay the caller's


async def test_simulator_control_apis(tmp_path: Path) -> None:
    clock = FakeClock()
    async with (
        XApiSimulator(clock) as xsim,
        MastodonSimulator(clock) as msim,
        aiohttp.ClientSession() as http,
    ):
        xc = f"http://127.0.0.1:{xsim.control_port}"
        async with http.post(f"{xc}/burst", json={"n": 12, "tag": "fest"}) as r:
            ids = (await r.json())["ids"]
        assert len(ids) == 12 and len(xsim.state.tweets) == 12
        async with http.post(f"{xc}/edit", json={"id": ids[0], "text": "neu #fest"}) as r:
            new = (await r.json())["id"]
        assert xsim.state.tweets[int(new)].history == [int(ids[0]), int(new)]
        async with http.post(f"{xc}/delete", json={"id": ids[1]}) as r:
            assert r.status == 200
        assert xsim.state.tweets[int(ids[1])].deleted
        async with http.post(f"{xc}/delete", json={}) as r:
            assert r.status == 400 and "bad control request" in (await r.json())["error"]
        mc = f"http://127.0.0.1:{msim.control_port}"
        async with http.post(f"{mc}/spam", json={"n": 5, "tag": "fest"}) as r:
            assert len((await r.json())["ids"]) == 5
        async with http.post(f"{mc}/ratelimit", json={"remaining": 0, "reset_in": 60}) as r:
            assert r.status == 200
        async with http.get(f"{msim.url}/api/v1/timelines/tag/fest") as r:
            assert r.status == 429 and (await r.json()) == {"error": "Too many requests"}
            assert r.headers["X-RateLimit-Remaining"] == "0"
            assert r.headers["X-RateLimit-Reset"].endswith("Z")


async def test_one_failing_source_does_not_stop_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventops.errors import WallError

    clock = FakeClock()
    monkeypatch.setenv("EVO_X_TOKEN", "wrong-token")
    async with (
        XApiSimulator(clock, ssl_context=TLS.server_context()) as xsim,
        mapped_session("api.twitter.com", xsim.port, TLS) as xs,
        SQLiteStore(tmp_path / "s.sqlite3") as store,
    ):
        text = (REPO / "profiles" / "demo.toml").read_text(encoding="utf-8")
        sources = (
            'sources = [{ kind = "x", bearer_token = "env:EVO_X_TOKEN" }, '
            '{ kind = "replay", path = "demo-wall.jsonl", loop = false }]'
        )
        text = re.sub(r"^sources = .*$", sources, text, count=1, flags=re.M)
        profile = parse_profile(text, "demo.toml", base_dir=REPO / "profiles")
        built = build_sources(profile, REPO / "profiles", store, clock, {"x": xs}.get)
        pipe = WallPipeline(profile.wall, store, clock, built)
        with pytest.raises(WallError, match=r"1 of 2 wall source\(s\) failed: x: .*\(401\)"):
            await pipe.ingest_once()
        assert len(await store.list_posts()) == 25  # the replay ran all the same
        assert await store.get_cursor("wall:replay") == "1:26"
