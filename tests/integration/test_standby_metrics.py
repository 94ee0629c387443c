"""``/metrics`` says whether the event has a working standby, for the city's own monitoring:
``eventops_engine_role`` and ``eventops_engine_standbys_live`` (and whether one is expected)
on each engine under the lease, from its last presence heartbeat; none of them on a single
engine. Two in-process engines, the lease in the real PostgreSQL server (electionkit)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from aiohttp import web
from eventops_hardware.fleet import SimFleet

from eventops.engine import build_engine
from eventops.server.app import create_app
from eventops.store import SQLiteStore
from tests.e2e.tui.conftest import TOKENS
from tests.helpers.pgfixtures import PgDatabase
from tests.integration.electionkit import election_profile, engine_pair, unseen_for

GAUGES = (
    "eventops_engine_polling",
    "eventops_engine_role",
    "eventops_engine_standbys_live",
    "eventops_engine_standby_expected",
    "eventops_engine_presence_age_seconds",
)


async def scrape(url: str, who: str = "technik") -> dict[str, float]:
    """The engine gauges of ``/metrics`` as ``name{labels}`` → value."""
    headers = {"Authorization": f"Bearer {TOKENS[who]}"}
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics", headers=headers) as r:
        assert r.status == 200, await r.text()
        text = await r.text()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(GAUGES):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def role_of(gauges: dict[str, float]) -> list[str]:
    return [
        k.split('"')[1] for k, v in gauges.items() if k.startswith("eventops_engine_role{") and v
    ]


async def test_each_engine_reports_its_role_and_the_live_standbys(
    tmp_path: Path, pg_db: PgDatabase
) -> None:
    async with engine_pair(tmp_path, pg_db) as pair:
        a, b = pair.a, pair.b
        got_a = await scrape(a.url)
        assert role_of(got_a) == ["active"]
        assert {k for k in got_a if k.startswith("eventops_engine_role")} == {
            'eventops_engine_role{role="standby"}',
            'eventops_engine_role{role="active"}',
            'eventops_engine_role{role="deposed"}',
        }
        assert got_a["eventops_engine_standbys_live"] == 1.0
        assert got_a["eventops_engine_standby_expected"] == 1.0
        assert 0.0 <= got_a["eventops_engine_presence_age_seconds"] < a.el.renew_s
        got_b = await scrape(b.url)
        assert role_of(got_b) == ["standby"]
        assert got_b["eventops_engine_standbys_live"] == 1.0  # itself
        # an authority's scraper sees them too (no addresses in them)
        assert role_of(await scrape(a.url, "police")) == ["active"]

        # B not seen for more than three ttls: A's next heartbeat counts no standby
        await pair.b.lease.close()
        await unseen_for(pg_db, b.lease.holder, 100.0)
        await a.step()
        got_a = await scrape(a.url)
        assert got_a["eventops_engine_standbys_live"] == 0.0
        assert got_a["eventops_engine_standby_expected"] == 1.0
        # it is back
        await b.lease.open()
        await b.step()
        await a.step()
        assert (await scrape(a.url))["eventops_engine_standbys_live"] == 1.0


async def test_a_single_engine_has_no_lease_gauges(tmp_path: Path) -> None:
    profile = election_profile(tmp_path)
    async with SimFleet(profile), SQLiteStore(tmp_path / "event.sqlite3") as store:
        engine = build_engine(profile, store, provisioning=False, wall=False)
        runner = web.AppRunner(create_app(engine))
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            got = await scrape(f"http://127.0.0.1:{runner.addresses[0][1]}")
        finally:
            await runner.cleanup()
    assert set(got) == {"eventops_engine_polling"}  # the lease's gauges are absent
