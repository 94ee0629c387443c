"""The leader lease of an event in PostgreSQL, with a fencing token.

Several engines may serve one event from one PostgreSQL database; exactly one
of them, the holder of the event's lease, polls, alerts and applies. The
lease is one row per event in ``engine_lease``:

- ``holder``: the id of the engine process that holds it (new at every start);
- ``address``: where that engine answers, for clients sent away by a standby;
- ``token``: the fencing token, raised by one at every change of holder and
  never lowered, so a term is named by its token;
- ``expires_at``: on the database server's clock.

Every change is one SQL statement that compares and sets the row on the
server's clock (``now()``): taking the lease succeeds only when the row is
missing or expired, renewing only while the row still names this holder and
token and has not expired. The holder also keeps a local deadline on its own
monotonic clock, measured from *before* the statement was sent, so it always
believes in its lease a little less long than the server does.

Writes that only the leader may make check the lease first
(:meth:`LeaderLease.check`: the row still names this holder and token and has
not expired on the server's clock), so a deposed engine's late write is
refused with :class:`Fenced` (see :mod:`eventops.store.fenced`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from eventops.clock import Clock, SystemClock, within
from eventops.errors import StoreError
from eventops.store import presence as _presence
from eventops.store.presence import PresenceSnapshot

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS engine_lease (
    event_id    text PRIMARY KEY CHECK (length(event_id) BETWEEN 1 AND 200),
    holder      text NOT NULL CHECK (length(holder) BETWEEN 1 AND 200),
    address     text NOT NULL CHECK (length(address) <= 500),
    token       bigint NOT NULL CHECK (token > 0),
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
)
"""

# One statement each; ``now()`` is the server's clock (the statement's transaction start).
_ACQUIRE = """
INSERT INTO engine_lease AS l (event_id, holder, address, token, acquired_at, expires_at)
VALUES ($1, $2, $3, 1, now(), now() + make_interval(secs => $4))
ON CONFLICT (event_id) DO UPDATE
   SET holder = EXCLUDED.holder, address = EXCLUDED.address, token = l.token + 1,
       acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at
 WHERE l.expires_at <= now()
RETURNING token, expires_at
"""
_RENEW = """
UPDATE engine_lease SET expires_at = now() + make_interval(secs => $4)
 WHERE event_id = $1 AND holder = $2 AND token = $3 AND expires_at > now()
RETURNING expires_at
"""
_RELEASE = """
UPDATE engine_lease SET expires_at = now()
 WHERE event_id = $1 AND holder = $2 AND token = $3 AND expires_at > now()
"""
_CHECK = """
SELECT 1 FROM engine_lease
 WHERE event_id = $1 AND holder = $2 AND token = $3 AND expires_at > now()
"""
_CURRENT = """
SELECT holder, address, token, expires_at, expires_at > now() AS live,
       extract(epoch FROM expires_at - now()) AS left_s
  FROM engine_lease WHERE event_id = $1
"""


# -- the fence in the database ------------------------------------------------------------
# An engine's store connections carry two settings (``fence_settings``: its event and
# holder id, as URL query parameters, which asyncpg sends as server settings). A trigger on
# every leader-only table refuses a statement from such a connection unless the lease row
# still names that holder and has not expired on the server's clock; it locks the row
# (FOR SHARE) until the writing transaction ends, so a take-over waits for a write that
# was allowed, and a write that comes after the take-over is refused. A holder id is one
# term: a deposed engine never takes the lease again (its process ends). Connections
# without the settings (store copy, migrations, the CLI) are not fenced.
FENCE_EVENT = "eventops.lease_event"
FENCE_HOLDER = "eventops.lease_holder"
FENCED_TABLES = (
    "samples",
    "alerts",
    "silences",
    "probe_results",
    "applies",
    "apply_devices",
    "pending_restores",
    "handovers",
    "audit",
    "posts",
    "decisions",
    "author_blocks",
    "cursors",
)
"""The tables only the lease holder writes (the event's row and its devices are not)."""
FENCE_SQLSTATE = "EO001"
FENCE_MARK = "does not hold the lease of event"
"""In the database's refusal, whatever the store wraps it in."""
_FENCE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION eventops_lease_fence() RETURNS trigger
LANGUAGE plpgsql AS $fence$
DECLARE
    ev text := current_setting('{FENCE_EVENT}', true);
    h text := current_setting('{FENCE_HOLDER}', true);
BEGIN
    IF coalesce(ev, '') = '' OR coalesce(h, '') = '' THEN
        RETURN NULL;
    END IF;
    PERFORM 1 FROM engine_lease
     WHERE event_id = ev AND holder = h AND expires_at > now() FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'fenced: % {FENCE_MARK} % (a take-over)', h, ev
            USING ERRCODE = '{FENCE_SQLSTATE}';
    END IF;
    RETURN NULL;
END
$fence$
"""


def fence_settings(event_id: str, holder: str) -> dict[str, str]:
    """The server settings that make a store connection fenced by ``holder``'s term."""
    return {FENCE_EVENT: event_id, FENCE_HOLDER: holder}


def fenced_url(url: str, event_id: str, holder: str) -> str:
    """``url`` with :func:`fence_settings` as query parameters (asyncpg passes unknown
    query parameters to the server as settings)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, v) for k, v in query if k not in (FENCE_EVENT, FENCE_HOLDER)]
    query += list(fence_settings(event_id, holder).items())
    return urlunsplit(parts._replace(query=urlencode(query)))


async def install_fence(conn: asyncpg.Connection | PoolConnectionProxy[Any]) -> list[str]:
    """Create the fence's function and its trigger on every leader-only table there is
    (the event store's tables must exist); the tables now fenced."""
    await conn.execute(_FENCE_FUNCTION)
    present = await conn.fetch(
        "SELECT c.relname, EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid"
        " AND t.tgname = 'eventops_lease_fence') AS has"
        " FROM pg_class c WHERE c.relkind = 'r' AND c.relname = ANY($1::text[])"
        " AND c.relnamespace = to_regnamespace(current_schema())::oid",
        list(FENCED_TABLES),
    )
    for row in present:
        if not row["has"]:
            await conn.execute(
                f'CREATE TRIGGER eventops_lease_fence BEFORE INSERT OR UPDATE OR DELETE ON "'
                f'{row["relname"]}" FOR EACH STATEMENT EXECUTE FUNCTION eventops_lease_fence()'
            )
    return sorted(r["relname"] for r in present)


class Fenced(StoreError):
    """A write that only the leader may make, from an engine that no longer holds the lease."""

    title = "Not the leader"


class LeaseUnavailable(StoreError):
    """The lease's database cannot be reached (or did not answer in time)."""

    title = "Lease database unavailable"


@dataclass(frozen=True)
class LeaseHolder:
    """The lease row as the database has it."""

    holder: str
    address: str
    token: int
    expires_at: datetime
    live: bool
    """Not yet expired on the server's clock."""
    left_s: float
    """Seconds until it expires (negative when expired)."""


def new_holder_id() -> str:
    """A holder id unique to this process start."""
    return f"engine-{secrets.token_hex(8)}"


class LeaderLease:
    """One engine's side of an event's lease (see the module's docstring).

    ``dsn`` is a ``postgresql://`` URL (its password, if any, is never logged);
    ``ttl_s`` how long one take or renewal holds; every database call is bounded by
    ``op_timeout_s`` (default a third of the ttl) on ``clock``."""

    def __init__(
        self,
        dsn: str,
        event_id: str,
        *,
        address: str,
        ttl_s: float,
        holder: str | None = None,
        clock: Clock | None = None,
        op_timeout_s: float | None = None,
        connect_kwargs: dict[str, Any] | None = None,
        fence_tables: bool = True,
    ) -> None:
        if not 0.2 <= ttl_s <= 3600.0:
            raise StoreError(f"lease ttl {ttl_s} s is outside 0.2 .. 3600 s")
        if not event_id or len(event_id) > 200:
            raise StoreError("lease: the event id must have 1 to 200 characters")
        if len(address) > 500:
            raise StoreError("lease: the engine's address is longer than 500 characters")
        if holder is not None and not 1 <= len(holder) <= 200:
            raise StoreError("lease: the holder id must have 1 to 200 characters")
        self.dsn = dsn
        self.event_id = event_id
        self.address = address
        self.ttl_s = ttl_s
        self.holder = holder or new_holder_id()
        self.clock: Clock = clock or SystemClock()
        self.op_timeout_s = op_timeout_s if op_timeout_s is not None else ttl_s / 3.0
        self._connect_kwargs = connect_kwargs or {}
        self.fence_tables = fence_tables
        """Install the fence's trigger on the event store's tables in this database."""
        self.fenced_tables: list[str] = []
        self._pool: asyncpg.Pool | None = None
        self.token: int | None = None
        """The token of this engine's current term; None when it does not hold the lease."""
        self._deadline = 0.0
        """Local monotonic time until which this engine may act as the holder."""

    # -- connection -----------------------------------------------------------------------
    async def open(self) -> None:
        try:
            pool = await within(
                self.clock,
                max(self.op_timeout_s, 5.0),
                asyncpg.create_pool(
                    self.dsn,
                    min_size=1,
                    max_size=4,
                    command_timeout=self.op_timeout_s,
                    **self._connect_kwargs,
                ),
            )
            if pool is None:
                raise LeaseUnavailable("lease database: no connection pool")
            self._pool = pool
            async with pool.acquire() as conn, conn.transaction():
                # CREATE TABLE IF NOT EXISTS races with itself: one creator at a time.
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext('eventops.engine_lease'))"
                )
                await conn.execute(SCHEMA)
                await conn.execute(_presence.SCHEMA)
                if not await conn.fetchval(_presence.HAS_MARK, _presence.MARK_COLUMN):
                    await conn.execute(_presence.ADD_MARK)
                if self.fence_tables:
                    self.fenced_tables = await install_fence(conn)
        except (OSError, asyncpg.PostgresError, TimeoutError, asyncpg.InterfaceError) as exc:
            await self.close()
            raise LeaseUnavailable(f"lease database: {_why(exc)}") from None

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), 5.0)
            except (TimeoutError, OSError, asyncpg.InterfaceError):
                pool.terminate()

    async def __aenter__(self) -> LeaderLease:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, method: str, sql: str, *args: Any) -> Any:
        if self._pool is None:
            raise LeaseUnavailable("the lease is not open")
        try:
            return await within(
                self.clock, self.op_timeout_s, getattr(self._pool, method)(sql, *args)
            )
        except (OSError, asyncpg.PostgresError, TimeoutError, asyncpg.InterfaceError) as exc:
            raise LeaseUnavailable(f"lease database: {_why(exc)}") from None

    # -- the term -------------------------------------------------------------------------
    @property
    def held(self) -> bool:
        """This engine holds the lease by its own clock (no database call)."""
        return self.token is not None and self.clock.monotonic() < self._deadline

    @property
    def left_s(self) -> float:
        """Seconds left of this engine's term by its own clock (0 without one)."""
        return max(0.0, self._deadline - self.clock.monotonic()) if self.token else 0.0

    async def acquire(self) -> bool:
        """Take the lease if it is free or expired: a new term with a higher token."""
        sent = self.clock.monotonic()
        row = await self._call(
            "fetchrow", _ACQUIRE, self.event_id, self.holder, self.address, self.ttl_s
        )
        if row is None:
            return False
        self.token = int(row["token"])
        self._deadline = sent + self.ttl_s
        log.info("took the lease of %s (token %d)", self.event_id, self.token)
        return True

    async def renew(self) -> bool:
        """Extend this term; False (and the term is over) when the lease was lost.

        A database that cannot be reached raises :class:`LeaseUnavailable` and leaves
        the local deadline as it was: the term ends when it passes."""
        token = self.token
        if token is None:
            return False
        sent = self.clock.monotonic()
        row = await self._call("fetchrow", _RENEW, self.event_id, self.holder, token, self.ttl_s)
        if self.token != token:
            return False  # the term ended meanwhile (another task saw it run out)
        if row is None:
            log.warning("lost the lease of %s (token %d)", self.event_id, token)
            self.token = None
            self._deadline = 0.0
            return False
        self._deadline = sent + self.ttl_s
        return True

    async def release(self) -> None:
        """End this term now (a clean stop), so a standby takes over at once."""
        token, self.token, self._deadline = self.token, None, 0.0
        if token is not None:
            await self._call("execute", _RELEASE, self.event_id, self.holder, token)

    async def current(self) -> LeaseHolder | None:
        """The lease row of the event, as the database has it."""
        row = await self._call("fetchrow", _CURRENT, self.event_id)
        if row is None:
            return None
        return LeaseHolder(
            holder=row["holder"],
            address=row["address"],
            token=int(row["token"]),
            expires_at=row["expires_at"],
            live=bool(row["live"]),
            left_s=float(row["left_s"]),
        )

    async def heartbeat(
        self,
        role: str,
        *,
        live_s: float,
        keep_s: float = _presence.KEEP_S,
        max_rows: int = _presence.MAX_ROWS,
    ) -> PresenceSnapshot:
        """Record this engine as present in ``role`` (one statement on the server's clock,
        see :mod:`eventops.store.presence`): prunes the rows of engines gone for ``keep_s``
        or beyond the ``max_rows`` most recent, marks the event as having a standby when
        this engine holds the lease and another one was seen as a standby within
        ``live_s``, and returns the event's rows."""
        if role not in _presence.ROLES:
            raise StoreError(f"presence: role {role[:20]!r} is not one of {_presence.ROLES}")
        rows = await self._call(
            "fetch",
            _presence.HEARTBEAT,
            self.event_id,
            self.holder,
            self.address,
            role,
            max(keep_s, live_s),
            max_rows,
            live_s,
        )
        return _presence.snapshot_of(list(rows))

    def check_local(self) -> int:
        """The current term's token if this engine holds the lease by its own clock;
        :class:`Fenced` otherwise (no database call: for a store the database fences)."""
        token = self.token
        if token is None or not self.held:
            self.token = None
            raise Fenced(f"this engine does not hold the lease of event {self.event_id!r}")
        return token

    async def check(self) -> int:
        """The current term's token if this engine still holds the lease on the server's
        clock; :class:`Fenced` otherwise (and the term is over)."""
        token = self.check_local()
        found = await self._call("fetchval", _CHECK, self.event_id, self.holder, token)
        if found is None:
            if self.token == token:
                self.token, self._deadline = None, 0.0
            raise Fenced(
                f"this engine's lease of event {self.event_id!r} (token {token}) is over: "
                "another engine took over"
            )
        return token


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, asyncpg.InvalidPasswordError):
        return "password refused"
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return "no such database"
    if isinstance(exc, asyncpg.PostgresError):
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__
