"""A standby nobody can see is no standby: two ``eventops serve`` children of one event
(standbykit), the standby SIGKILLed. The active engine lists it while it stands by, raises
``engine:standby:missing`` once it has not been seen for three lease ttls (never before:
checked against its last heartbeat in the database, both on this machine's clock), and
clears it when a standby serves again.

About 25 s, on purpose: three serve processes and three lease ttls of real absence (the
tests' 3 s ttl, which a loaded CI box renews safely); the threshold itself, "not before"
and the clearing are also covered in-process on fake clocks (test_presence.py)."""

from __future__ import annotations

import signal
from pathlib import Path

import asyncpg
from eventops_hardware.fleet import SimFleet

from eventops.api.client import EngineClient
from eventops.api.models import EnginesView
from eventops.engine.presence import MISSING_KEY
from eventops.profile import load_profile
from tests.helpers.pgfixtures import PgDatabase
from tests.helpers.wait import eventually
from tests.integration.standbykit import LEASE_TTL_S, standby_pair


async def _missing(api: EngineClient) -> list[int]:
    return [a.id for a in await api.alerts() if a.key == MISSING_KEY]


async def _raised(api: EngineClient) -> bool:
    return bool(await _missing(api))


async def _cleared(api: EngineClient) -> bool:
    return not await _missing(api)


async def test_a_killed_standby_is_alerted_after_three_ttls_and_cleared_when_one_is_back(
    tmp_path: Path, pg_db: PgDatabase
) -> None:
    pair = standby_pair(tmp_path, pg_db)
    with pair.profile.open("a", encoding="utf-8") as fh:
        fh.write("\n[alerts]\nclear_after_s = 0\n")
    profile = load_profile(pair.profile)
    view = EnginesView(
        role="single",
        address=None,
        active=None,
        standby="auto",
        standby_expected=False,
        standby_live=False,
        absent_after_s=None,
        as_of=None,
        engines=[],
    )
    async with SimFleet(profile), pair.engine(0) as a, a.client() as api_a:
        await a.said("eventops: active for")
        async with pair.engine(1) as b:

            async def lists_b() -> bool:
                nonlocal view
                view = await api_a.engines()
                return view.standby_live

            await eventually(lists_b, within=60, what="A lists B as its standby")
            (row,) = [e for e in view.engines if e.address == b.url]
            assert row.role == "standby" and row.live and not row.this
            assert view.role == "active" and view.address == a.url
            assert view.absent_after_s == 3 * LEASE_TTL_S
            # the standby's views show the active engine's stored polls (PostgreSQL store)
            async with b.client() as api_b:

                async def b_shows_a() -> bool:
                    return {d.source for d in await api_b.devices()} == {"active"}

                await eventually(b_shows_a, within=60, what="B shows what A stored")
                link = await api_b.link("fibre-police")
                assert link.source == "active" and link.stored_at is not None, link
            b.proc.send_signal(signal.SIGKILL)
            await b.proc.wait()
            await eventually(lambda: _raised(api_a), within=60, what="A alerts: no standby")
        (alert,) = [x for x in await api_a.alerts() if x.key == MISSING_KEY]
        conn = await asyncpg.connect(pg_db.dsn)
        try:
            last_seen = await conn.fetchval(
                "SELECT seen_at FROM engine_presence WHERE holder = $1", row.holder
            )
        finally:
            await conn.close()
        assert (alert.raised_at - last_seen).total_seconds() > 3 * LEASE_TTL_S, (
            "raised before the standby was gone for three ttls"
        )
        assert alert.severity == "warning" and alert.params["address"] == b.url
        view = await api_a.engines()
        assert not view.standby_live and view.standby_expected
        # a standby serves again (a new process: a new holder) and the alert clears
        async with pair.engine(1) as b2:
            await eventually(lambda: _cleared(api_a), within=60, what="the alert clears")
            view = await api_a.engines()
            live = {e.holder: e.live for e in view.engines if e.address == b2.url}
            assert sorted(live.values()) == [False, True], view  # the dead one and the new one
        assert b.proc.returncode == -signal.SIGKILL
