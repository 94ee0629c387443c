"""Active or standby: an engine that polls only while it holds the event's lease.

Several ``eventops serve`` processes may serve one event from one PostgreSQL
database. Each runs an :class:`Election` around its engine:

- **standby** (the start): the engine is started without its services
  (:meth:`~eventops.engine.monitoring.Engine.start` with ``services=False``):
  no pollers, no alerting, no wall, no provisioning. It serves reads; it
  reloads the open alerts from the store at every step so that its status
  page shows what the active engine raised, and the newest stored samples
  so that its device and link views show what the active engine last polled
  (:mod:`eventops.engine.readings`), and it remembers where the
  active engine answers (the lease row's address) for the 503 it gives to
  writes (:mod:`eventops.server.standby`).
- **take-over**: every ``renew_s`` it tries to take the lease; the try
  succeeds once the active engine's lease has expired (it died, or lost the
  database) or was released (it stopped cleanly). It then loads the open
  alerts and silences from the store (so an alert already raised is not
  raised again), the probe results and handovers, and starts the services
  and the pollers, without staggering: the first polls go out at once.
- **active**: it renews the lease every ``renew_s``. When a renewal is
  refused (another engine holds the lease) or its own deadline passes
  without one (the database is gone), or when the fenced store refuses a
  write (:mod:`eventops.store.fenced`), the engine is **deposed**: its
  pollers and tasks stop at once, provisioning and the wall are closed, and
  ``on_deposed`` is told why. A deposed engine does not take the lease
  again; its process ends (``eventops serve`` exits) and is restarted as a
  standby, so no state of an old term survives into a new one.

At every step, active or standby, the engine records itself in the event's
presence table (:mod:`eventops.store.presence`: one statement on the
server's clock); the active engine turns what that returns into the engine
alert ``engine:standby:missing`` when the event's standby is gone
(:mod:`eventops.engine.presence`). A clean stop records the engine as
``stopped`` (``deposed`` after a lost lease).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from enum import StrEnum

from eventops.engine import handover as _handover
from eventops.engine import presence as _presence
from eventops.engine import readings as _readings
from eventops.engine.monitoring import ENGINE_SUBJECT, Engine
from eventops.errors import StoreError
from eventops.monitor.tasks import cancel_and_wait
from eventops.store.lease import Fenced, LeaderLease, LeaseHolder, LeaseUnavailable
from eventops.store.presence import PresenceSnapshot

log = logging.getLogger(__name__)


class Role(StrEnum):
    STANDBY = "standby"
    ACTIVE = "active"
    DEPOSED = "deposed"


class Election:
    """Runs ``engine`` as active or standby by ``lease`` (see the module's docstring)."""

    def __init__(
        self,
        engine: Engine,
        lease: LeaderLease,
        *,
        renew_s: float | None = None,
        on_change: Callable[[Role, str], None] | None = None,
        absent_after_s: float | None = None,
    ) -> None:
        self.engine = engine
        self.lease = lease
        self.renew_s = renew_s if renew_s is not None else lease.ttl_s / 3.0
        if not 0.0 < self.renew_s < lease.ttl_s:
            raise StoreError(f"lease renewal every {self.renew_s} s must be under its ttl")
        self.on_change = on_change
        self.role = Role.STANDBY
        self.active_address: str | None = None
        """Where the active engine answers (from the lease row), when another one is active."""
        self.reason = ""
        """Why this engine was deposed."""
        self.terms = 0
        """How many times this engine took the lease."""
        self.absent_after_s = (
            absent_after_s if absent_after_s is not None else _presence.ABSENT_TTLS * lease.ttl_s
        )
        """A standby not seen for longer than this is gone (server clock)."""
        self.presence: PresenceSnapshot | None = None
        """What the last heartbeat returned: the engines of the event."""
        self.presence_at = 0.0
        """When (the engine's monotonic clock) :attr:`presence` was taken."""
        self.heartbeats = 0
        """Heartbeats answered by the database (and, when active, evaluated)."""
        self._heartbeat_down_logged = False
        self.deposed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._deposing: asyncio.Task[None] | None = None
        self._db_down_logged = False

    @property
    def active(self) -> bool:
        return self.role is Role.ACTIVE

    @property
    def address(self) -> str:
        """This engine's own address (as the lease names it)."""
        return self.lease.address

    async def start(self) -> None:
        """Start the engine as a standby and run the election (its first step done here:
        the role and the active engine's address are known when this returns)."""
        await self.engine.start(services=False)
        await self._standby_step()
        self._task = asyncio.create_task(self._run(), name="election")

    async def stop(self) -> None:
        """Stop the election and the engine; an active engine releases its lease so a
        standby takes over at once."""
        tasks = [t for t in (self._task, self._deposing) if t is not None]
        await cancel_and_wait(tasks)
        was_active = self.role is Role.ACTIVE
        last = "deposed" if self.role is Role.DEPOSED else "stopped"
        self.role = Role.DEPOSED if was_active else self.role
        await self.engine.stop()
        if was_active:
            try:
                await self.lease.release()
            except LeaseUnavailable as exc:
                log.warning("could not release the lease: %s", exc.one_line())
        await self._heartbeat(last)

    # -- the loop -------------------------------------------------------------------------
    async def _run(self) -> None:
        clock = self.engine.clock
        await clock.sleep(self.renew_s)
        while self.role is not Role.DEPOSED:
            if self.role is Role.STANDBY:
                await self._standby_step()
                wait = self.renew_s
            else:
                await self._active_step()
                wait = min(self.renew_s, max(self.lease.left_s, 0.0))
            if self.deposed.is_set():
                return
            await clock.sleep(wait)
            if self.role is Role.ACTIVE and not self.lease.held:
                await self._depose("the lease ran out before it was renewed (database lost?)")

    async def _standby_step(self) -> None:
        try:
            if await self.lease.acquire():
                await self._take_over()
                return
            holder = await self.lease.current()
            self.active_address = holder.address if holder is not None and holder.live else None
            await self.engine.alerts.load(self.engine.clock.now())  # what the active raised
            await _readings.load_stored(self.engine)  # and what it last polled
            self._db_down_logged = False
        except (LeaseUnavailable, StoreError) as exc:
            if not self._db_down_logged:
                log.warning("standby: %s", exc.one_line())
                self._db_down_logged = True
        await self._heartbeat("standby")

    async def _active_step(self) -> None:
        try:
            if not await self.lease.renew():
                holder = await _quiet_current(self.lease)
                self.active_address = holder.address if holder is not None else None
                await self._depose("another engine took the lease")
            else:
                self._db_down_logged = False
                await self._heartbeat("active")
        except LeaseUnavailable as exc:
            if not self.lease.held:
                await self._depose(f"the lease ran out: {exc.one_line()}")
            elif not self._db_down_logged:
                log.warning("renewing the lease failed (%.1f s left): %s", self.lease.left_s, exc)
                self._db_down_logged = True

    async def _take_over(self) -> None:
        eng = self.engine
        self.terms += 1
        self.role = Role.ACTIVE
        self.active_address = None
        log.info("active for %s (lease token %s)", eng.profile.event.id, self.lease.token)
        try:
            await eng.alerts.load(eng.clock.now())  # open alerts and silences: none raised twice
            await eng.sync_probe_results()
            await _handover.load_handovers(eng)
            eng.stagger = False  # a take-over polls every device at once
            await eng.start_services(poll=True)
        except Fenced as exc:  # the term ended while taking over
            await self._depose(exc.one_line())
            return
        except Exception as exc:  # half started is no state to poll in: stop, restart clean
            log.exception("taking over failed")
            await self._depose(f"taking over failed: {type(exc).__name__}: {exc}"[:300])
            return
        eng.bus.publish(
            "engine.active",
            ENGINE_SUBJECT,
            "event",
            frozenset(),
            {"address": self.address, "token": self.lease.token},
        )
        self._tell(Role.ACTIVE, f"took the lease (token {self.lease.token})")
        await self._heartbeat("active")

    # -- presence ------------------------------------------------------------------------------
    async def _heartbeat(self, role: str) -> None:
        """Record this engine in the presence table; when active, raise or clear the
        alert that the event's standby is gone (:mod:`eventops.engine.presence`)."""
        if role in ("standby", "active") and self.role.value != role:
            return  # the role changed meanwhile (a take-over, a depose)
        try:
            snap = await self.lease.heartbeat(role, live_s=self.absent_after_s)
        except StoreError as exc:
            if not self._heartbeat_down_logged:
                log.warning("presence heartbeat: %s", exc.one_line())
                self._heartbeat_down_logged = True
            return
        self._heartbeat_down_logged = False
        self.presence, self.presence_at = snap, self.engine.clock.monotonic()
        if role == "active" and self.role is Role.ACTIVE and snap.term_s is not None:
            # (term_s None: the server no longer sees this term; the renewal will tell)
            eng = self.engine
            eng.standby_conditions = _presence.standby_conditions(
                snap, mode=eng.profile.store.standby, absent_after_s=self.absent_after_s
            )
            try:
                await eng.evaluate_engine_alerts()
            except StoreError as exc:  # Fenced: the store told the election already
                log.warning("evaluating the standby alert: %s", exc.one_line())
        self.heartbeats += 1

    # -- losing the lease ----------------------------------------------------------------------
    def fenced(self, exc: Fenced) -> None:
        """The fenced store refused a write: depose at once (called from the store)."""
        if self.role is Role.ACTIVE and self._deposing is None:
            self._deposing = asyncio.get_running_loop().create_task(
                self._depose(f"a write was fenced: {exc.one_line()}"), name="depose"
            )

    async def _depose(self, reason: str) -> None:
        if self.role is not Role.ACTIVE:
            return
        self.role = Role.DEPOSED
        self.reason = reason
        log.warning("deposed: %s", reason)
        eng = self.engine
        await eng.stop_polling()  # first: no poll of this term goes out any more
        if eng.provision is not None:
            await eng.provision.close()
        if eng.wall is not None:
            await eng.wall.close()
        self.deposed.set()
        self._tell(Role.DEPOSED, reason)

    def _tell(self, role: Role, what: str) -> None:
        if self.on_change is not None:
            self.on_change(role, what)


async def _quiet_current(lease: LeaderLease) -> LeaseHolder | None:
    try:
        return await lease.current()
    except LeaseUnavailable:
        return None
