"""A standby engine takes over: two ``eventops serve`` children of one event, one lease.

The simulated fleet runs in this process; both engines poll it every second (the
demo profile, see standbykit). The active engine is SIGKILLed mid-poll (a device
holds its request) or mid-apply; the standby takes the lease, loads the open alerts
and raises the next injected fault's alert on its first polls; no alert is raised
twice and the audit chain verifies. A write to the standby is answered 503 naming
the active engine; a deposed engine's late write is refused by the fence.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from eventops_hardware.fleet import SimFleet

from eventops.api.client import EngineClient, StreamMessage
from eventops.cli import build_parser, serve_ha
from eventops.errors import ProfileError
from eventops.profile import load_profile
from eventops.profile.models import Profile
from tests.helpers.pgfixtures import PgDatabase
from tests.helpers.wait import eventually
from tests.integration.enginekit import DEVICE, REPO, TECH, until_verifying, vlans_over_restconf
from tests.integration.standbykit import Pair, standby_pair

POLICE = "link:fibre-police:down"
FIRE = "link:fibre-fire:down"


async def _open_keys(api: EngineClient) -> list[str]:
    return sorted(a.key for a in await api.alerts())


async def _has(api: EngineClient, key: str) -> bool:
    try:
        return key in await _open_keys(api)
    except Exception:
        return False


async def _stored_alerts(pair: Pair) -> list[tuple[str, str]]:
    async with pair.store() as store:
        return sorted((a.key, a.state) for a in await store.list_alerts())


async def _polling_metric(url: str) -> float:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TECH}"}) as r,
    ):
        text = await r.text()
    assert r.status == 200, text[:200]
    (line,) = [ln for ln in text.splitlines() if ln.startswith("eventops_engine_polling ")]
    return float(line.split()[1])


def _raised(msg: StreamMessage, subject: str) -> bool:
    return msg.type == "alert.raised" and msg.data.get("subject") == subject


async def _polls_between(
    pair: Pair, pg_db: PgDatabase, devices: tuple[str, ...], until: datetime
) -> int:
    """How many polls of any of ``devices`` the current lease holder stored from the
    moment it took the lease until ``until`` (excluded)."""
    conn = await asyncpg.connect(pg_db.dsn)
    try:
        since = await conn.fetchval("SELECT acquired_at FROM engine_lease")
    finally:
        await conn.close()
    async with pair.store() as store:
        found = [
            s
            for d in devices
            for s in await store.query_samples(d, "reachable", since, until)
            if s.ts < until
        ]
    return max((sum(1 for s in found if s.device == d) for d in devices), default=0)


async def _audit_verifies(pair: Pair) -> None:
    """``eventops audit verify``: the SQLite file, or the profile's PostgreSQL database."""
    db = ["--db", str(pair.db)] if pair.backend == "sqlite" else []
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "eventops", "audit", "verify", str(pair.profile), *db],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "verifies" in done.stdout


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_standby_answers_writes_503_and_takes_over_after_sigkill_mid_poll(
    tmp_path: Path, pg_db: PgDatabase, backend: str
) -> None:
    pair = standby_pair(tmp_path, pg_db, backend)
    profile = load_profile(pair.profile)
    async with SimFleet(profile) as fleet, pair.engine(0) as a:
        await a.said("eventops: active for")
        async with (
            pair.engine(1) as b,
            a.client() as api_a,
            b.client() as api_b,
            EngineClient(f"{b.url},{a.url}", TECH, timeout_s=30) as follow,
        ):
            # the standby serves reads and names the active engine ...
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{b.url}/healthz") as r,
            ):
                assert r.status == 200
                assert r.headers["X-Eventops-Role"] == "standby"
                assert r.headers["X-Eventops-Active"] == a.url
            # ... and answers a write 503 with the active engine's address
            async with (
                aiohttp.ClientSession() as http,
                http.post(
                    f"{b.url}/api/v1/devices/mast-01/maintenance",
                    json={"on": True, "note": "x"},
                    headers={"Authorization": f"Bearer {TECH}"},
                ) as r,
            ):
                body = json.loads(await r.text())
                assert r.status == 503, body
                assert r.headers["X-Eventops-Active"] == a.url
                assert body["error"]["code"] == "unavailable"
                assert body["error"]["active"] == a.url
                assert a.url in body["error"]["message"]
            assert not (await api_b.device("mast-01")).maintenance
            # Prometheus sees which engine polls
            assert await _polling_metric(a.url) == 1.0
            assert await _polling_metric(b.url) == 0.0
            # the status page stays readable on the standby
            async with (
                aiohttp.ClientSession() as http,
                http.get(f"{b.url}/status", params={"token": TECH}) as r,
            ):
                page = await r.text()
                assert r.status == 200 and "<html" in page.lower(), page[:200]
                assert r.headers["X-Eventops-Role"] == "standby"
            # a client given both addresses, the standby's first, follows the active one
            assert (await follow.whoami()).name
            assert follow.transport.base_url == a.url
            # fault 1 on the active engine; the standby's reads show its alert too
            fleet.link_down("fibre-police")
            await eventually(lambda: _has(api_a, POLICE), within=60, what="A raises fault 1")
            await eventually(lambda: _has(api_b, POLICE), within=60, what="B reads fault 1")
            assert not any("active for" in ln for ln in b.lines), b.lines

            # a live stream through the address list, on the active engine for now
            seen: list[StreamMessage] = []

            async def follow_stream() -> None:
                async with EngineClient(f"{b.url},{a.url}", TECH, timeout_s=30) as watcher:
                    async for msg in watcher.stream(backoff_s=(0.2,), idle_timeout_s=5.0):
                        seen.append(msg)

            streaming = asyncio.create_task(follow_stream())
            await eventually(lambda: bool(seen), within=60, what="the stream's snapshot")
            # SIGKILL the active engine while a device holds its poll request
            held = fleet.mast("mast-02")
            held.freeze()
            before = held.requests
            await eventually(lambda: held.requests > before, within=60, what="a poll in flight")
            a.proc.send_signal(signal.SIGKILL)
            await a.proc.wait()
            held.clear_faults()
            fleet.link_down("fibre-fire")  # the next fault
            await b.said("eventops: active for", limit_s=60)
            await eventually(lambda: _has(api_b, FIRE), within=60, what="B raises fault 2")
            keys = await _open_keys(api_b)
            assert keys.count(POLICE) == 1 and keys.count(FIRE) == 1, keys
            assert await _polling_metric(b.url) == 1.0
            # counted in polls, not seconds: B raised it on its first or second poll of the
            # link's ends after it took the lease
            (fire,) = [x for x in await api_b.alerts() if x.key == FIRE]
            polls = await _polls_between(pair, pg_db, ("sw-core", "mc-fire"), fire.raised_at)
            assert polls <= 1, polls
            # the stream followed: the new active engine's alert came through it
            await eventually(
                lambda: any(_raised(m, "fibre-fire") for m in seen), within=60, what="streamed"
            )
            streaming.cancel()
            await asyncio.gather(streaming, return_exceptions=True)
            # the standby, now active, takes writes; the client given both follows it
            assert (await follow.maintenance("mast-03", True, "after failover")).maintenance
            assert follow.transport.base_url == b.url
    stored = await _stored_alerts(pair)
    assert [k for k, s in stored if k == POLICE] == [POLICE], stored  # raised once, by A
    assert [k for k, s in stored if k == FIRE] == [FIRE], stored  # raised once, by B
    await _audit_verifies(pair)


async def test_sigkill_mid_apply_the_standby_closes_it_and_restores(
    tmp_path: Path, pg_db: PgDatabase
) -> None:
    pair = standby_pair(tmp_path, pg_db)
    profile = load_profile(pair.profile)
    async with SimFleet(profile) as fleet, pair.engine(0) as a:
        await a.said("eventops: active for")
        async with pair.engine(1) as b, a.client() as api_a, b.client() as api_b:
            sw = fleet.switch(DEVICE)
            before = await vlans_over_restconf(profile)

            async def start() -> None:
                await api_a.provision_apply([DEVICE], confirm_timeout_s=4.0)

            apply_id = await until_verifying(api_a, sw, start)
            a.proc.send_signal(signal.SIGKILL)
            await a.proc.wait()
            sw.clear_faults()
            fleet.link_down("fibre-fire")
            await b.said("eventops: active for", limit_s=60)
            # the new active engine closed the dead one's apply and keeps its restore
            detail = await api_b.provision_apply_detail(apply_id)
            assert detail.state == "interrupted", detail
            await eventually(
                lambda: _vlans_are(profile, before), within=60, what="the switch is restored"
            )
            await eventually(lambda: _has(api_b, FIRE), within=60, what="B raises the fault")
            keys = await _open_keys(api_b)
            assert keys.count(FIRE) == 1, keys
    await _audit_verifies(pair)


async def _vlans_are(profile: Profile, want: list[int]) -> bool:
    try:
        return await vlans_over_restconf(profile) == want
    except Exception:
        return False


async def test_a_paused_active_engine_finds_its_term_over_and_stops(
    tmp_path: Path, pg_db: PgDatabase
) -> None:
    pair = standby_pair(tmp_path, pg_db)
    profile = load_profile(pair.profile)
    async with SimFleet(profile) as fleet, pair.engine(0) as a:
        await a.said("eventops: active for")
        async with pair.engine(1) as b, b.client() as api_b:
            # the active engine stops dead (a paused VM) with polls in flight
            a.proc.send_signal(signal.SIGSTOP)
            await b.said("eventops: active for", limit_s=60)
            a.proc.send_signal(signal.SIGCONT)
            # its term is over: it stops polling at once (any late write is refused) and exits
            async with asyncio.timeout(60):
                code = await a.proc.wait()
            assert code == 75, a.lines
            line = await a.said("eventops: stopped: this engine lost the lease")
            assert "restart it to stand by" in line, line
            # the renewal racing the election's own end of the term logs no error
            assert not any("Traceback" in x or "Logging error" in x for x in a.lines), a.lines
            # whichever of its tasks woke first saw it: the election (its lease ran out by its
            # own clock), a poller's write (fenced), or its renewal (refused)
            reasons = ("ran out", "a write was fenced", "another engine took the lease")
            assert any(r in line for r in reasons), line
            # B is still the one and only active engine
            assert b.proc.returncode is None
            fleet.link_down("fibre-fire")
            await eventually(lambda: _has(api_b, FIRE), within=60, what="B raises the fault")
            keys = await _open_keys(api_b)
            assert keys.count(FIRE) == 1, keys
    stored = await _stored_alerts(pair)
    assert [k for k, _ in stored].count(FIRE) == 1, stored


async def test_a_late_write_after_the_lease_was_taken_away_is_refused_by_the_database(
    tmp_path: Path, pg_db: PgDatabase
) -> None:
    """The active engine's own clock says it still holds the lease (30 s), but the row was
    expired (an operator, or a clock that runs slow) and the standby took it: the
    database refuses the active engine's next write (or its renewal), and it stops."""
    pair = standby_pair(tmp_path, pg_db)
    profile = load_profile(pair.profile)
    async with SimFleet(profile), pair.engine(0, ttl_s=30.0) as a:
        await a.said("eventops: active for")
        async with pair.engine(1, ttl_s=3.0) as b, b.client() as api_b:
            conn = await asyncpg.connect(pg_db.dsn)
            try:
                await conn.execute("UPDATE engine_lease SET expires_at = now()")
            finally:
                await conn.close()
            await b.said("eventops: active for", limit_s=60)
            async with asyncio.timeout(60):
                code = await a.proc.wait()
            assert code == 75, a.lines
            line = await a.said("lost the lease")
            # refused by the database (the fence or the renewal's compare-and-set), not by
            # its own clock, which still gave it most of 30 s
            assert "a write was fenced" in line or "another engine took the lease" in line, line
            assert "ran out" not in line, line
            assert b.proc.returncode is None
            assert (await api_b.whoami()).name


async def test_bad_lease_settings_are_one_line(tmp_path: Path, pg_db: PgDatabase) -> None:
    pair = standby_pair(tmp_path, pg_db, "sqlite")
    profile = load_profile(pair.profile)
    parse = build_parser()

    def settings(*extra: str) -> object:
        args = parse.parse_args(["serve", str(pair.profile), *extra])
        serve_ha.advertise_url(args, "127.0.0.1", 1, False)
        return serve_ha.lease_settings(args, profile)

    for extra, line in [
        (["--lease", pg_db.url, "--lease-ttl", "0.01"], "--lease-ttl 0.01: expected 0.2 to 3600"),
        (["--lease", pg_db.url, "--advertise", "ftp://x"], "--advertise 'ftp://x': expected"),
        (["--lease", "mysql://x/db"], "--lease: expected a postgresql:// URL"),
        (["--lease-ttl", "5"], "--lease-ttl needs a lease"),
    ]:
        with pytest.raises(ProfileError) as caught:
            settings(*extra)
        assert caught.value.one_line().startswith(line), caught.value.one_line()
    assert settings() is None  # SQLite without --lease: one engine, no election
    # through the command: a refused password is one line (never the password), exit 4
    env = {**os.environ, "PGPASSWORD": "wrong-secret"}
    done = await asyncio.to_thread(
        subprocess.run,
        pair.argv(pair.urls[0]),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    out = (done.stdout + done.stderr).strip()
    assert done.returncode == 4, out
    assert out == "eventops: error: lease database: password refused", out


async def test_a_clean_stop_hands_over_at_once(tmp_path: Path, pg_db: PgDatabase) -> None:
    pair = standby_pair(tmp_path, pg_db)
    profile = load_profile(pair.profile)
    async with SimFleet(profile), pair.engine(0, ttl_s=300.0) as a:
        await a.said("eventops: active for")
        async with pair.engine(1) as b:
            a.proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(60):
                assert await a.proc.wait() == 0, a.lines
            assert await a.said("stopped by SIGTERM")
            # a released its lease: b need not wait for its 300 s to run out
            line = await b.said("eventops: active for", limit_s=60)
            assert "token 2" in line, line
