"""The engine: owns the store, the services, and the tasks that keep them running.

One engine per event. It polls every device of the profile, turns each poll
into checks, health, samples and alert conditions, and publishes every change
on its :class:`~eventops.monitor.bus.EventBus`; it owns the provisioning,
probing and wall services (:mod:`eventops.engine.provisioning`,
:mod:`eventops.engine.probing`, :mod:`eventops.engine.wall`) and supervises
every background task it starts (:mod:`eventops.engine.supervisor`): a task
that dies is logged, counted, alerted on (subject ``engine``) and restarted.
The API server, the status page, Prometheus and the TUI all read from here.
The profile can be reloaded while running without a restart.

Errors are domain errors (:mod:`eventops.errors`): nothing here knows HTTP.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import aiohttp

from eventops.adapters.base import (
    Capabilities,
    DeviceDriver,
    DriverFactory,
    driver_for,
)
from eventops.clock import Clock, SystemClock
from eventops.engine import actions as _actions
from eventops.engine import checkpoints as _checkpoints
from eventops.engine import evaluate as _evaluate
from eventops.engine import handover as _handover
from eventops.engine import views as _views
from eventops.engine.probing import ProbeService
from eventops.engine.state import (
    DeviceState,
    LinkState,
    alert_view,
    device_kind,
    poll_offset,
    probe_throughput_mbps,
    samples_of,
)
from eventops.engine.supervisor import Supervisor
from eventops.errors import NotFound, ProfileError
from eventops.i18n import Msg, refusal
from eventops.monitor.alertmanager import AlertmanagerWebhook
from eventops.monitor.alerts import AlertManager, Condition
from eventops.monitor.bus import EventBus
from eventops.monitor.checks import ProbeSummary
from eventops.monitor.history import Downsampler
from eventops.monitor.poller import DevicePoller, PollResult
from eventops.profile import load_profile
from eventops.profile.models import Link, Mast, Profile, Switch
from eventops.provision.lock import held_sites
from eventops.store.base import OpsTx, Store
from eventops.store.models import AlertRow, DeviceRow, HandoverRow, ProbeResultRow

if TYPE_CHECKING:
    from eventops.engine.provisioning import ProvisionService
    from eventops.engine.wall import WallService

log = logging.getLogger(__name__)

ENGINE_SUBJECT = "engine"
"""The alert subject of the engine's own trouble (a task that died, no standby left)."""


def default_driver_factory(device: Mast | Switch, clock: Clock, timeout: float) -> DeviceDriver:
    """A driver with its own HTTP session (the engine shares one instead)."""
    return driver_for(device, clock=clock, timeout=timeout)


class Engine:
    def __init__(
        self,
        profile: Profile,
        store: Store,
        *,
        clock: Clock | None = None,
        driver_factory: DriverFactory | None = None,
        profile_path: str | Path | None = None,
        downsample_after_s: float = 3600.0,
        stagger: bool = False,
        lock_dir: Path | None = None,
        lock_poll_s: float = 2.0,
        task_backoff_s: float = 1.0,
        engine_alert_hold_s: float = 600.0,
    ) -> None:
        self.profile = profile
        self.profile_path = Path(profile_path) if profile_path else None
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.lock_dir = lock_dir
        """Where provisioning keeps its site locks: a locked site's devices are in maintenance."""
        self.lock_poll_s = lock_poll_s
        self._applying: dict[str, str] = {}
        self.stagger = stagger
        """Spread the first polls over each device's interval instead of polling all at once."""
        self.driver_factory: DriverFactory = driver_factory or self._shared_session_driver
        self._session: aiohttp.ClientSession | None = None
        self.bus = EventBus(
            self.clock,
            keep=profile.server.event_ring_events,
            max_bytes=int(profile.server.event_ring_mb * 1024 * 1024),
        )
        self.webhook: AlertmanagerWebhook | None = None
        if profile.alerts.webhook_url:
            self.webhook = AlertmanagerWebhook(profile.alerts.webhook_url, self.clock)
        self.alerts = AlertManager(
            store, profile.alerts, on_event=self._on_alert, notifier=self.webhook
        )
        self.devices: dict[str, DeviceState] = {}
        self.links: dict[str, LinkState] = {}
        self._pollers: dict[str, DevicePoller] = {}
        self._limit = asyncio.Semaphore(profile.polling.concurrency)
        self._downsampler = Downsampler(
            store,
            self.clock,
            after_s=downsample_after_s,
            retention_s=profile.event.retention_days * 86400.0,
        )
        self.supervisor = Supervisor(
            self.clock, on_failure=self._task_failed, backoff_s=task_backoff_s
        )
        """Runs every background task of the engine and its services; restarts the dead."""
        self.engine_alert_hold_s = engine_alert_hold_s
        """How long an engine alert stays raised after the task's last failure."""
        self._started = False
        self._polling = False
        self._caps: dict[str, Capabilities] = {}
        self.probes = ProbeService(self)
        """Link probes (STAMP, throughput, acceptance): one run per link at a time."""
        self.checkpoints = _checkpoints.setup(self)
        """Signed checkpoints of the audit head (None without an audit key)."""
        self.provision: ProvisionService | None = None
        """Provisioning (plan, apply, rollback), when the engine may apply (see build_engine)."""
        self.wall: WallService | None = None
        """The social wall (hub, moderation pipeline, retention), when the event has one."""
        self._reload_lock = asyncio.Lock()
        self._probe_ids: set[int] = set()
        """Probe results already taken in (from the store, by id)."""
        self.maintenance: dict[str, str] = {}
        """Device id -> note, for devices under an apply."""
        self.standby_conditions: list[Condition] = []
        """Engine conditions about the event's standby, set by the election when active
        (:mod:`eventops.engine.presence`); evaluated with the engine's other conditions."""
        self._init_states(profile)

    def _shared_session_driver(
        self, device: Mast | Switch, clock: Clock, timeout: float
    ) -> DeviceDriver:
        """Drivers share one HTTP session: one connection pool for the whole fleet."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.profile.polling.concurrency * 2),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return driver_for(device, clock=clock, timeout=timeout, session=self._session)

    # -- lifecycle ---------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self, *, poll: bool = True, services: bool = True) -> None:
        """Store the event, load open alerts, start the services and (``poll``) the pollers.
        Without ``services`` (a standby) nothing runs until :meth:`start_services`."""
        ev = self.profile.event
        await self.store.put_event(ev.id, ev.name, ev.start, ev.end, ev.timezone)
        await self.store.put_devices([self._device_row(d) for d in self.profile.devices])
        await self.alerts.load(self.clock.now())
        await self.sync_probe_results()
        await _handover.load_handovers(self)
        if self.webhook is not None:
            await self.webhook.start()
        self._started = True
        if services:
            await self.start_services(poll=poll)

    async def start_services(self, *, poll: bool = True) -> None:
        """Provisioning's recovery, the pollers and tasks (``poll``), and the wall."""
        if self.provision is not None:
            # before any poll: close applies a dead process left running, keep its restores
            await self.provision.start(watch=poll)
        if poll:
            self._polling = True
            for d in self.profile.devices:
                self._start_poller(d)
            sv = self.supervisor
            sv.spawn("downsampler", self._downsampler.run)
            sv.spawn("probe-results", self._watch_probe_results)
            sv.spawn("engine-alerts", self._watch_engine_alerts)
            if self.checkpoints is not None:
                sv.spawn("audit-checkpoints", self.checkpoints.run)
            if self.lock_dir is not None:
                sv.spawn("site-locks", self._watch_site_locks)
        if self.wall is not None:
            await self.wall.start()

    async def stop(self) -> None:
        self._started = False
        if self.provision is not None:
            await self.provision.close()
        await self.stop_polling()
        if self.wall is not None:
            await self.wall.close()
        if self.webhook is not None:
            await self.webhook.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def stop_polling(self) -> None:
        """Stop every poller and supervised task at once (the lease is lost; or stop)."""
        self._polling = False
        pollers, self._pollers = list(self._pollers.values()), {}
        await asyncio.gather(self.supervisor.stop(), *(p.stop() for p in pollers))

    @property
    def polling(self) -> bool:
        return self._polling

    def _init_states(self, profile: Profile) -> None:
        pol = profile.polling
        for d in profile.devices:
            if d.id not in self.devices:
                default = pol.mast_interval_s if isinstance(d, Mast) else pol.fibre_interval_s
                self.devices[d.id] = DeviceState(d.id, device_kind(d), d.poll_interval_s or default)
            else:
                st = self.devices[d.id]
                default = pol.mast_interval_s if isinstance(d, Mast) else pol.fibre_interval_s
                st.interval_s = d.poll_interval_s or default
        for link in profile.links:
            self.links.setdefault(link.id, LinkState(link.id))

    @staticmethod
    def _device_row(d: Mast | Switch) -> DeviceRow:
        return DeviceRow(
            id=d.id, kind=device_kind(d), driver=d.driver, site=d.site, address=d.management.url
        )

    def driver(self, d: Mast | Switch) -> DeviceDriver:
        """A (not yet opened) driver for ``d``; its capabilities are remembered."""
        timeout = min(self.profile.polling.timeout_s, d.management.timeout_s)
        driver = self.driver_factory(d, self.clock, timeout)
        self._caps[d.id] = driver.capabilities
        return driver

    def capabilities(self, device_id: str) -> Capabilities:
        """What the device's driver declares it can do (no I/O)."""
        found = self._caps.get(device_id)
        if found is None:
            found = _views.capabilities_of(self.profile.device(device_id))
        return found

    def _start_poller(self, d: Mast | Switch) -> None:
        st = self.devices[d.id]
        timeout = min(self.profile.polling.timeout_s, d.management.timeout_s)
        driver = self.driver(d)
        poller = DevicePoller(
            d.id,
            driver,
            interval_s=st.interval_s,
            timeout_s=timeout,
            clock=self.clock,
            limit=self._limit,
            on_result=self.on_poll,
            first_delay=poll_offset(d.id, st.interval_s) if self.stagger else 0.0,
            on_error=self.supervisor.failed,
        )
        self._pollers[d.id] = poller
        poller.start(self.supervisor.spawn)

    async def poll_now(self, device_ids: Iterable[str]) -> list[PollResult]:
        """One poll of each device, outside the schedule (CLI commands, tests)."""
        results = []
        for dev_id in device_ids:
            d = self.profile.device(dev_id)
            timeout = min(self.profile.polling.timeout_s, d.management.timeout_s)
            poller = self._pollers.get(dev_id)
            own = poller is None
            if poller is None:
                poller = DevicePoller(
                    dev_id,
                    self.driver(d),
                    interval_s=self.devices[dev_id].interval_s,
                    timeout_s=timeout,
                    clock=self.clock,
                    limit=self._limit,
                    on_result=self.on_poll,
                )
            try:
                res = await poller.poll_once()
                await self.on_poll(res)
                results.append(res)
            finally:
                if own:
                    await poller.stop()
        return results

    # -- reload ------------------------------------------------------------------------
    async def reload(
        self, profile: Profile | None = None, *, actor: str = "engine"
    ) -> dict[str, list[str]]:
        """Switch to a new profile without a restart; returns what changed."""
        async with self._reload_lock:
            if profile is None:
                if self.profile_path is None:
                    raise ProfileError("no profile file to reload from")
                profile = await asyncio.to_thread(load_profile, self.profile_path)
            if profile.event.id != self.profile.event.id:
                raise ProfileError(
                    f"reload: event id {profile.event.id!r} differs from {self.profile.event.id!r}"
                )
            old = {d.id: d for d in self.profile.devices}
            new = {d.id: d for d in profile.devices}
            added = sorted(set(new) - set(old))
            removed = sorted(set(old) - set(new))
            changed = sorted(i for i in set(new) & set(old) if new[i] != old[i])
            for dev_id in removed + changed:
                p = self._pollers.pop(dev_id, None)
                if p is not None:
                    await p.stop()
            for dev_id in removed:
                self.devices.pop(dev_id, None)
            for link_id in set(self.links) - {lk.id for lk in profile.links}:
                self.links.pop(link_id)
            old_links = {lk.id: lk for lk in self.profile.links}
            links_changed = sorted(
                lk.id for lk in profile.links if lk.id in old_links and old_links[lk.id] != lk
            )
            self.profile = profile
            self.alerts.tol = profile.alerts
            self._init_states(profile)
            await self.store.put_devices([self._device_row(new[i]) for i in added + changed])
            if self._polling:
                for dev_id in added + changed:
                    self._start_poller(new[dev_id])
            summary = {"added": added, "removed": removed, "changed": changed}
            await self.store.audit(
                actor,
                "profile.reload",
                profile.event.id,
                after={**summary, "links_changed": links_changed},  # voids their acceptance
            )
            self.bus.publish("reload", "", "event", data=summary)
            return summary

    # -- polling results -----------------------------------------------------------------
    async def on_poll(self, res: PollResult) -> None:
        st = self.devices.get(res.device)
        if st is None:
            return  # removed by a reload while polling
        now = self.clock.now()
        was = st.reachable
        st.last_poll = now
        st.poll_duration_s = res.duration_s
        if res.status is not None:
            st.prev, st.cur = st.cur, res.status
            st.reachable, st.error, st.failures = True, "", 0
            st.error_msg = None
            st.last_ok = now
        else:
            st.reachable, st.error, st.failures = False, res.error, res.failures
            st.error_msg = res.error_msg
        await self.store.add_samples(samples_of(st, now))
        await self._evaluate_device(st, now)
        if was is not st.reachable:
            log.info("%s %s", st.id, "reachable" if st.reachable else f"unreachable: {st.error}")
        for link in self.links_of(st.id):
            await self._evaluate_link(link, now)

    def links_of(self, device_id: str) -> list[Link]:
        return [lk for lk in self.profile.links if device_id in (lk.a.device, lk.b.device)]

    async def _evaluate_device(self, st: DeviceState, now: datetime) -> None:
        await _evaluate.evaluate_device(self, st, now)

    async def _evaluate_link(self, link: Link, now: datetime) -> None:
        await _evaluate.evaluate_link(self, link, now)

    # -- alerts and the bus -------------------------------------------------------------------
    def _on_alert(self, kind: str, alert: AlertRow) -> None:
        self.bus.publish(
            f"alert.{kind}",
            alert.subject,
            "link" if alert.labels.get("kind") == "link" else "device",
            self.authorities_of(alert.subject),
            alert_view(alert, silenced=self.alerts.silenced(alert, self.clock.now())),
        )

    def device(self, device_id: str) -> Mast | Switch:
        """The profile's device ``device_id``, or NotFound."""
        try:
            return self.profile.device(device_id)
        except KeyError:
            msg = Msg("err.no_device", {"device": repr(device_id)})
            raise refusal(NotFound, msg) from None

    def link(self, link_id: str) -> Link:
        """The profile's link ``link_id``, or NotFound."""
        try:
            return self.profile.link(link_id)
        except KeyError:
            raise refusal(NotFound, Msg("err.no_link", {"link": repr(link_id)})) from None

    def authorities_of_device(self, device_id: str) -> frozenset[str]:
        try:
            return frozenset(self.profile.device(device_id).authorities)
        except KeyError:
            return frozenset()

    def authorities_of(self, subject: str) -> frozenset[str]:
        for lk in self.profile.links:
            if lk.id == subject:
                return frozenset(lk.authorities)
        return self.authorities_of_device(subject)

    # -- actions (eventops.engine.actions) -------------------------------------------------------
    async def ack(self, alert_id: int, actor: str, note: str) -> AlertRow:
        return await _actions.ack(self, alert_id, actor, note)

    async def silence(
        self, matchers: dict[str, str], duration_s: float, actor: str, note: str
    ) -> dict[str, Any]:
        return await _actions.silence(self, matchers, duration_s, actor, note)

    async def unsilence(self, silence_id: int, actor: str) -> dict[str, Any]:
        return await _actions.unsilence(self, silence_id, actor)

    async def set_maintenance(self, device_id: str, on: bool, actor: str, note: str = "") -> None:
        await _actions.set_maintenance(self, device_id, on, actor, note)

    async def reboot(self, device_id: str, actor: str) -> None:
        """Reboot one device through its driver; audited, refused or not (see actions.reboot)."""
        await _actions.reboot(self, device_id, actor)

    async def _watch_site_locks(self) -> None:
        """Devices of a site under an apply (its provisioning lock held) raise no alerts."""
        assert self.lock_dir is not None
        while True:
            sites = sorted({d.site for d in self.profile.devices if d.site})
            held = await asyncio.to_thread(held_sites, self.lock_dir, sites)
            for site in sorted(set(held) | set(self._applying)):
                now_held = held.get(site)
                if now_held == self._applying.get(site):
                    continue
                on = now_held is not None
                note = f"apply by {now_held}" if now_held else ""
                for d in self.profile.devices:
                    if d.site == site:
                        await self.set_maintenance(d.id, on, "provisioning", note)
                if on:
                    self._applying[site] = now_held or ""
                else:
                    self._applying.pop(site, None)
            await self.clock.sleep(self.lock_poll_s)

    # -- probes and handovers ----------------------------------------------------------------
    async def sync_probe_results(self) -> list[ProbeResultRow]:
        """Take in the probe results stored since the last look, also those another
        process stored (``eventops probe accept`` against the event's store)."""
        new = [r for r in await self.store.list_probe_results() if r.id not in self._probe_ids]
        for r in new:
            if r.id is not None:
                self._probe_ids.add(r.id)
            self._note_probe(r)
        return new

    async def _watch_probe_results(self) -> None:
        while True:
            await self.clock.sleep(self.profile.polling.fibre_interval_s)
            for r in await self.sync_probe_results():
                await self.announce_probe(r)

    def _note_probe(self, r: ProbeResultRow) -> None:
        ls = self.links.get(r.target)
        if ls is None:
            return
        if ls.proof is None or r.ts >= ls.proof.ts:
            ls.proof = ProbeSummary(r.ts, r.kind, r.passed, probe_throughput_mbps(r.result))

    async def record_probe_result(
        self, r: ProbeResultRow, audit: tuple[str, str, str, dict[str, Any]] | None = None
    ) -> int:
        """Store a probe result and take it into the link's health.

        ``audit`` (actor, action, target, after): its audit entry, written in the same
        transaction, with the result's id added to ``after`` as ``probe_result``."""

        async def tx_body(tx: OpsTx) -> int:
            rid = await tx.add_probe_result(r)
            if audit is not None:
                actor, action, target, after = audit
                await tx.audit(actor, action, target, after={**after, "probe_result": rid})
            return rid

        rid = await self.store.ops_transaction(tx_body)
        self._probe_ids.add(rid)
        self._note_probe(r)
        await self.announce_probe(r)
        return rid

    async def take_probe_results(self) -> list[ProbeResultRow]:
        """Take in and announce the results stored since the last look, at once
        (a run in this process that stored its own result, such as an acceptance)."""
        new = await self.sync_probe_results()
        for r in new:
            await self.announce_probe(r)
        return new

    async def announce_probe(self, r: ProbeResultRow) -> None:
        if r.target in self.links:
            self.bus.publish(
                "probe",
                r.target,
                "link",
                self.authorities_of(r.target),
                {"kind": r.kind, "passed": r.passed, "ts": r.ts.isoformat()},
            )
            await self._evaluate_link(self.profile.link(r.target), self.clock.now())

    async def handover(
        self,
        link_id: str,
        authority: str,
        actor: str,
        *,
        force: bool = False,
        reason: str | None = None,
    ) -> HandoverRow:
        """Record the link's optics as the baseline and hand it to ``authority``; only with
        a passing acceptance newer than the last change to its ends, unless forced with a
        reason (see :mod:`eventops.engine.handover`). With an audit key, sign the audit
        head (handover included) for the authority to keep."""
        row = await _handover.handover(self, link_id, authority, actor, force=force, reason=reason)
        if row.id is not None:
            await _checkpoints.at_handover(self, row.id)
        return row

    # -- supervision: the engine's own alerts ----------------------------------------------------
    async def _task_failed(self, name: str, exc: BaseException) -> None:
        """A supervised task (or a poller's result handler) failed: raise an engine alert."""
        self.bus.publish(
            "engine.task_failed",
            ENGINE_SUBJECT,
            "event",
            frozenset(),
            {"task": name, "error": f"{type(exc).__name__}: {exc}"[:300]},
        )
        await self.evaluate_engine_alerts()

    def _engine_conditions(self) -> list[Condition]:
        return [*self.standby_conditions] + [
            Condition(
                f"engine:task:{f.task}:failed",
                "warning",
                ENGINE_SUBJECT,
                f"engine task {f.task} failed ({self.supervisor.failures[f.task]}x): {f.error}",
                {"kind": "engine", "task": f.task},
            )
            for f in self.supervisor.recent(self.engine_alert_hold_s)
        ]

    async def evaluate_engine_alerts(self) -> None:
        """Evaluate the engine's own conditions now (also the election, after a heartbeat)."""
        await self.alerts.evaluate(ENGINE_SUBJECT, self._engine_conditions(), self.clock.now())

    async def _watch_engine_alerts(self) -> None:
        """Raises an engine alert once its condition held long enough; clears it later."""
        step = max(1.0, min(10.0, self.profile.alerts.raise_after_s / 2 or 10.0))
        while True:
            await self.clock.sleep(step)
            await self.evaluate_engine_alerts()

    # -- views (JSON-able) ----------------------------------------------------------------------
    def device_view(self, device_id: str) -> dict[str, Any]:
        return _views.device_view(self, device_id)

    def device_detail(self, device_id: str) -> dict[str, Any]:
        """:meth:`device_view` plus the last polled status."""
        return _views.device_detail(self, device_id)

    def link_view(self, link_id: str) -> dict[str, Any]:
        return _views.link_view(self, link_id)
