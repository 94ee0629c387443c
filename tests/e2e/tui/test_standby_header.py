"""The technician sees in the header whether the event has a working standby, at 80×24.

Two engines of one event under a real lease (the real PostgreSQL server of ``pg_db``,
in-process elections on FakeClocks: tests/integration/electionkit.py), each behind its real
server; the app reads ``/api/v1/engines`` at start and again when the live stream says the
standby alert was raised or cleared, another engine took over, or after a reconnect (here:
to the engine that took over); the periodic re-read is set to 10 minutes, so only those can
have moved it. A single engine shows nothing,
and an authority's app never asks.
"""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from eventops.tui.app import EventOpsApp
from eventops.tui.client import Api
from eventops.tui.config import load_config
from tests.e2e.tui.conftest import TEST_CONFIG, TOKENS, Rig, until
from tests.helpers.pgfixtures import PgDatabase
from tests.integration.electionkit import engine_pair, sql, unseen_for

W, H = 80, 24


def tui(url: str, who: str, tmp: Path, lang: str = "en") -> EventOpsApp:
    path = tmp / f"tui-{who}-{lang}.toml"
    path.write_text(
        TEST_CONFIG.replace('language = "en"', f'language = "{lang}"') + "engines_s = 600\n"
    )
    return EventOpsApp(Api(url, TOKENS[who]), load_config(path))


def header(app: EventOpsApp) -> str:
    """The header as an 80-column terminal shows it."""
    text = app.top_text(app.screen)
    text.truncate(W)
    return str(text)


async def shows(pilot: Pilot[None], app: EventOpsApp, words: str) -> None:
    await until(pilot, lambda: words in header(app), f"{words!r} in the header")


async def test_the_header_follows_the_standby_through_loss_return_and_take_over(
    tmp_path: Path, pg_db: PgDatabase
) -> None:
    async with engine_pair(tmp_path, pg_db) as pair:
        a, b = pair.a, pair.b
        app = tui(a.url, "technik", tmp_path)
        async with app.run_test(size=(W, H)) as pilot:
            await shows(pilot, app, " · live ")
            await shows(pilot, app, " · active · standby ok")
            assert header(app).startswith(" eventops  Pulse · live ")
            ok = app.engine_text()
            assert ok is not None and str(ok.style) == "green"
            # B is not seen for more than three ttls: A raises the alert, the app re-reads
            await b.lease.close()
            await unseen_for(pg_db, b.lease.holder, 100.0)
            await a.step()
            await shows(pilot, app, " · active · NO STANDBY")
            warn = app.engine_text()
            assert warn is not None and str(warn.style) == "bold yellow"
            # B serves again: the alert clears, and the header says so
            await b.lease.open()
            await b.step()
            await a.step()
            await shows(pilot, app, " · active · standby ok")
        # the standby's own view names the active engine (in German here); A's lease runs
        # out (A does not notice: its clock stands still) and B takes over: its stream's
        # take-over event makes the app read again
        app_b = tui(b.url, "technik", tmp_path, "de")
        async with app_b.run_test(size=(W, H)) as pilot:
            await shows(pilot, app_b, " · Standby (aktiv: a:1)")
            assert header(app_b).startswith(" eventops  Überblick · live ")
            await a.lease.close()
            await sql(pg_db, "UPDATE engine_lease SET expires_at = now()")
            await b.step()
            assert b.el.active
            await shows(pilot, app_b, " · aktiv · KEIN STANDBY")
        # given both addresses, the app talks to A, which still answers as the active
        # engine; A stops: the app follows to B on its reconnect and reads there that B is
        # active, with no standby (B's take-over event is long past)
        app = tui(f"{a.url},{b.url}", "technik", tmp_path)
        async with app.run_test(size=(W, H)) as pilot:
            await shows(pilot, app, " · active · standby ok")
            await a.stop_serving()
            await shows(pilot, app, " · active · NO STANDBY")
            assert app.engines is not None and app.engines.address == "http://b:1"


async def test_an_authority_never_asks_and_sees_nothing_of_it(
    tmp_path: Path, pg_db: PgDatabase
) -> None:
    async with engine_pair(tmp_path, pg_db) as pair:
        app = tui(pair.a.url, "police", tmp_path)
        async with app.run_test(size=(W, H)) as pilot:
            await until(pilot, lambda: app.ready and app.connected, "live")
            await app.refresh_engines().wait()  # as the periodic re-read would
            await pilot.pause()
            assert app.engines is None and app.engine_text() is None
            assert "standby" not in header(app).lower() and "active" not in header(app)
            assert not app._notifications, list(app._notifications)
        assert pair.a.paths and "/api/v1/engines" not in pair.a.paths


async def test_a_single_engine_shows_no_engine_role(rig: Rig) -> None:
    app = rig.app("technik")
    async with app.run_test(size=(W, H)) as pilot:
        await until(pilot, lambda: app.engines is not None, "the engines read")
        assert app.engines is not None and app.engines.role == "single"
        await until(pilot, lambda: app.connected, "live")
        assert app.engine_text() is None
        assert "standby" not in header(app) and "active" not in header(app)
