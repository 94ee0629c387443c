"""Two engines of one event under a real lease, in-process, each served on 127.0.0.1:0.

The lease and the presence table are in the real PostgreSQL server of the ``pg_db``
fixture; each engine's time is a FakeClock, so a renewal step is a clock step
(:meth:`Side.step`), and "not seen for 100 s" is made by moving the row's ``seen_at``
back in the database (:func:`unseen_for`), not by waiting. Used by the tests of the
presence table and its alert, and of what shows whether the event has a working standby
(the TUI's header, ``/metrics``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiohttp import web
from aiohttp.typedefs import Handler
from eventops_hardware.fleet import SimFleet

from eventops.clock import FakeClock
from eventops.engine import Engine, build_engine
from eventops.engine.presence import MISSING_KEY
from eventops.engine.standby import Election
from eventops.profile import load_profile
from eventops.profile.models import Profile
from eventops.server.app import create_app
from eventops.server.standby import election_extension
from eventops.store import SQLiteStore
from eventops.store.fenced import fenced_store
from eventops.store.lease import Fenced, LeaderLease
from tests.helpers.pgfixtures import PgDatabase
from tests.helpers.wait import eventually
from tests.integration.adapters.conftest import demo_profile_copy

TTL_S = 30.0
"""The lease's ttl: a standby is gone after 3 x 30 s on the server's clock."""


class Side:
    """One engine with its election, on its own clock, served on 127.0.0.1:0."""

    def __init__(self, profile: Profile, inner: SQLiteStore, lease: LeaderLease) -> None:
        self.lease = lease
        clock = lease.clock
        assert isinstance(clock, FakeClock)
        self.clock: FakeClock = clock
        self.election: Election | None = None
        store = fenced_store(inner, lease, self._fenced)
        self.engine: Engine = build_engine(
            profile, store, clock=clock, provisioning=False, wall=False
        )
        self.election = Election(self.engine, lease)
        self.url = ""
        self.runner: web.AppRunner | None = None
        self.paths: list[str] = []
        """The path of every request the server was sent."""

    @property
    def el(self) -> Election:
        assert self.election is not None
        return self.election

    def _fenced(self, exc: Fenced) -> None:
        if self.election is not None:  # a fenced write before the election exists
            self.election.fenced(exc)

    def missing(self) -> list[str]:
        """The open "no standby" alert's key, if it is open."""
        return [a.key for a in self.engine.alerts.open_alerts() if a.key == MISSING_KEY]

    async def stop_serving(self) -> None:
        """Stop the server and with it the election (an active engine releases its lease)."""
        if self.runner is not None:
            runner, self.runner = self.runner, None
            await runner.cleanup()

    async def step(self) -> None:
        """One renewal step on this engine's clock, until its heartbeat is answered."""
        before = self.el.heartbeats
        await self.clock.advance(self.el.renew_s)
        await eventually(lambda: self.el.heartbeats > before, what="a heartbeat")


@asynccontextmanager
async def served(side: Side) -> AsyncIterator[Side]:
    """The engine's API with its election (started with the app, stopped with it)."""

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        side.paths.append(request.path)
        return await handler(request)

    app = create_app(side.engine, heartbeat_s=0.2, extensions=[election_extension(side.el)])
    app.middlewares.insert(0, record)
    runner = side.runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        side.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        yield side
    finally:
        await side.stop_serving()


def election_profile(tmp_path: Path, standby: str = "auto") -> Profile:
    """The demo profile on free ports; alerts clear at once (no tolerance to wait out)."""
    p = load_profile(demo_profile_copy(tmp_path))
    return p.model_copy(
        update={
            "alerts": p.alerts.model_copy(update={"clear_after_s": 0.0}),
            "store": p.store.model_copy(update={"standby": standby}),
        }
    )


async def sql(db: PgDatabase, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(db.dsn)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def unseen_for(db: PgDatabase, holder: str, seconds: float) -> None:
    """The holder's row as if it was last seen ``seconds`` ago on the server's clock, and the
    active engine's term as if it began an hour ago (so it is not what bounds the absence)."""
    await sql(
        db,
        "UPDATE engine_presence SET started_at = now() - interval '2 hours',"
        " seen_at = now() - make_interval(secs => $2) WHERE holder = $1",
        holder,
        seconds,
    )
    await sql(db, "UPDATE engine_lease SET acquired_at = now() - interval '1 hour'")


@dataclass
class Pair:
    a: Side
    """Started first: active."""
    b: Side
    """Its standby."""
    profile: Profile
    inner: SQLiteStore
    """The event's store both write through their fenced wrappers."""
    fleet: SimFleet


@asynccontextmanager
async def engine_pair(tmp_path: Path, db: PgDatabase, *, seen: bool = True) -> AsyncIterator[Pair]:
    """A active, B its standby, both served, the simulated devices up; A has seen B
    (``seen=False``: A has taken only its first election step, B's clock has not moved)."""
    profile = election_profile(tmp_path)
    ev = profile.event.id
    async with AsyncExitStack() as stack:
        fleet = await stack.enter_async_context(SimFleet(profile))
        inner = await stack.enter_async_context(SQLiteStore(tmp_path / "event.sqlite3"))
        leases = [
            await stack.enter_async_context(
                LeaderLease(db.dsn, ev, address=addr, ttl_s=TTL_S, clock=FakeClock())
            )
            for addr in ("http://a:1", "http://b:1")
        ]
        a = await stack.enter_async_context(served(Side(profile, inner, leases[0])))
        b = await stack.enter_async_context(served(Side(profile, inner, leases[1])))
        assert a.el.active and not b.el.active
        if seen:
            await a.step()  # A's first step saw no standby yet; this one sees B
        yield Pair(a, b, profile, inner, fleet)
