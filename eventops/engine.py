"""The engine: owns the store, the pollers, the alert manager and the event bus.

One engine per event. It polls every device of the profile, turns each poll
into checks, health, samples and alert conditions, and publishes every change
on its :class:`~eventops.monitor.bus.EventBus`. The API server, the status
page, Prometheus and the TUI all read from here. The profile can be reloaded
while running (a mast added, a token revoked) without a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import aiohttp

from eventops.adapters.base import DeviceDriver, DeviceStatus, OpticStatus, driver_for
from eventops.clock import Clock, SystemClock
from eventops.errors import ApiError, DeviceError, ProfileError
from eventops.monitor import checks as chk
from eventops.monitor.alerts import (
    AlertManager,
    AlertmanagerWebhook,
    device_conditions,
    link_conditions,
)
from eventops.monitor.bus import EventBus
from eventops.monitor.checks import CheckResult, EndData, Health, Level, ProbeSummary
from eventops.monitor.history import Downsampler
from eventops.monitor.poller import DevicePoller, PollResult
from eventops.monitor.tasks import cancel_and_wait
from eventops.profile import load_profile
from eventops.profile.models import Endpoint, Link, Mast, Profile, Switch
from eventops.store.base import Store
from eventops.store.models import AlertRow, DeviceRow, HandoverRow, ProbeResultRow, Sample

log = logging.getLogger(__name__)

DriverFactory = Callable[[Mast | Switch, Clock, float], DeviceDriver]
LinkStateName = Literal["up", "degraded", "down", "unknown"]


NOT_POLLED = Health(Level.ok, 1000, "not polled yet")


def default_driver_factory(device: Mast | Switch, clock: Clock, timeout: float) -> DeviceDriver:
    """A driver with its own HTTP session (the engine shares one instead)."""
    return driver_for(device, clock=clock, timeout=timeout)


@dataclass
class DeviceState:
    id: str
    kind: str
    interval_s: float
    cur: DeviceStatus | None = None
    prev: DeviceStatus | None = None
    reachable: bool | None = None
    """None until the first poll finished."""
    last_ok: datetime | None = None
    last_poll: datetime | None = None
    error: str = ""
    failures: int = 0
    poll_duration_s: float = 0.0
    checks: list[CheckResult] = field(default_factory=list)
    health: Health = NOT_POLLED
    since: datetime | None = None
    """When the health level last changed."""


@dataclass
class LinkState:
    id: str
    state: LinkStateName = "unknown"
    since: datetime | None = None
    reason: str = "not polled yet"
    checks: list[CheckResult] = field(default_factory=list)
    health: Health = NOT_POLLED
    rx_dbm: dict[str, float | None] = field(default_factory=dict)
    margin_db: float | None = None
    in_bps: float | None = None
    out_bps: float | None = None
    utilisation_pct: float | None = None
    last_ok: datetime | None = None
    proof: ProbeSummary | None = None
    baseline: dict[str, float | None] = field(default_factory=dict)
    handed_to: str | None = None
    down_since_poll: bool = False
    """The link was down until ``since``: masts behind it not yet re-polled stay upstream-down."""


def _offset(device_id: str, interval_s: float) -> float:
    """A stable offset within the interval, from the device id (same after a reload)."""
    h = int.from_bytes(hashlib.blake2b(device_id.encode(), digest_size=4).digest(), "big")
    return interval_s * (h / 2**32)


def held_site_locks(lock_dir: Path, sites: list[str]) -> dict[str, str]:
    """Sites whose provisioning lock is held now, with who holds it.

    Read without taking the lock (which could make a starting apply fail):
    the holder writes itself into the file while it holds the lock and
    empties it on release; a holder on this host that died without releasing
    is recognised by its pid.
    """
    out: dict[str, str] = {}
    host = socket.gethostname()
    for site in sites:
        try:
            text = (lock_dir / f"site-{site}.lock").read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if not text:
            continue
        try:
            info = json.loads(text)
        except json.JSONDecodeError:
            continue
        if not isinstance(info, dict):
            continue
        pid = info.get("pid")
        if info.get("host") == host and isinstance(pid, int):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue  # killed while holding it: the kernel released the lock
            except PermissionError:
                pass
        out[site] = str(info.get("actor") or "someone")
    return out


def device_kind(device: Mast | Switch) -> Literal["mast", "switch", "media-converter"]:
    return "mast" if isinstance(device, Mast) else device.kind


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
        self.bus = EventBus(self.clock)
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
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._reload_lock = asyncio.Lock()
        self._probe_ids: set[int] = set()
        """Probe results already taken in (from the store, by id)."""
        self.maintenance: dict[str, str] = {}
        """Device id -> note, for devices under an apply."""
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

    async def start(self, *, poll: bool = True) -> None:
        ev = self.profile.event
        await self.store.put_event(ev.id, ev.name, ev.start, ev.end, ev.timezone)
        await self.store.put_devices([self._device_row(d) for d in self.profile.devices])
        await self.alerts.load(self.clock.now())
        await self.sync_probe_results()
        await self._load_handovers()
        if self.webhook is not None:
            await self.webhook.start()
        self._started = True
        if poll:
            for d in self.profile.devices:
                self._start_poller(d)
            self._tasks.append(asyncio.create_task(self._downsampler.run(), name="downsampler"))
            self._tasks.append(
                asyncio.create_task(self._watch_probe_results(), name="probe-results")
            )
            if self.lock_dir is not None:
                self._tasks.append(asyncio.create_task(self._watch_site_locks(), name="site-locks"))

    async def stop(self) -> None:
        self._started = False
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        await asyncio.gather(*(p.stop() for p in self._pollers.values()))
        self._pollers.clear()
        if self.webhook is not None:
            await self.webhook.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

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

    def _start_poller(self, d: Mast | Switch) -> None:
        st = self.devices[d.id]
        timeout = min(self.profile.polling.timeout_s, d.management.timeout_s)
        driver = self.driver_factory(d, self.clock, timeout)
        poller = DevicePoller(
            d.id,
            driver,
            interval_s=st.interval_s,
            timeout_s=timeout,
            clock=self.clock,
            limit=self._limit,
            on_result=self.on_poll,
            first_delay=_offset(d.id, st.interval_s) if self.stagger else 0.0,
        )
        self._pollers[d.id] = poller
        poller.start()

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
                    self.driver_factory(d, self.clock, timeout),
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
            self.profile = profile
            self.alerts.tol = profile.alerts
            self._init_states(profile)
            await self.store.put_devices([self._device_row(new[i]) for i in added + changed])
            if self._started and self._tasks:
                for dev_id in added + changed:
                    self._start_poller(new[dev_id])
            summary = {"added": added, "removed": removed, "changed": changed}
            await self.store.audit(actor, "profile.reload", profile.event.id, after=summary)
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
            st.last_ok = now
        else:
            st.reachable, st.error, st.failures = False, res.error, res.failures
        await self._store_samples(st, now)
        await self._evaluate_device(st, now)
        if was is not st.reachable:
            log.info("%s %s", st.id, "reachable" if st.reachable else f"unreachable: {st.error}")
        for link in self._links_of(st.id):
            await self._evaluate_link(link, now)

    def _links_of(self, device_id: str) -> list[Link]:
        return [lk for lk in self.profile.links if device_id in (lk.a.device, lk.b.device)]

    async def _evaluate_device(self, st: DeviceState, now: datetime) -> None:
        d = self.profile.device(st.id)
        checks: list[CheckResult] = []
        if st.reachable and st.cur is not None:
            if isinstance(d, Mast):
                checks = chk.mast_checks(self.profile, d, st.cur, st.prev)
            else:
                checks = [chk.check_reboot(st.prev, st.cur), *chk.check_system(st.cur)]
        before = st.health.level
        st.checks = checks
        st.health = chk.health(checks, reachable=bool(st.reachable))
        if st.since is None or st.health.level != before:
            st.since = now
        upstream = None
        if isinstance(d, Mast) and d.uplink and not st.reachable:
            ls = self.links.get(d.uplink)
            # down now, or back up only since this mast's last (failed) poll
            if ls is not None and (
                ls.state == "down"
                or (
                    ls.since is not None
                    and st.last_poll is not None
                    and st.last_poll < ls.since
                    and ls.down_since_poll
                )
            ):
                upstream = d.uplink
        conds = device_conditions(
            st.id,
            reachable=bool(st.reachable),
            checks=checks,
            upstream_down=upstream,
            error=st.error,
        )
        await self.alerts.evaluate(st.id, conds, now)
        self.bus.publish(
            "device", st.id, "device", self.authorities_of_device(st.id), self.device_view(st.id)
        )

    async def _evaluate_link(self, link: Link, now: datetime) -> None:
        ls = self.links[link.id]
        ends = []
        for name, ep in (("a", link.a), ("b", link.b)):
            ds = self.devices[ep.device]
            ends.append(
                EndData(
                    name,
                    ep.device,
                    ep.port,
                    bool(ds.reachable),
                    ds.cur,
                    ds.prev,
                    ls.baseline.get(name),
                )
            )
        checks = chk.link_checks(link, ends, self.profile.alerts, ls.proof)
        reachable = [e for e in ends if e.reachable and e.cur is not None]
        down = chk.link_down_reason(link, ends)
        health = chk.health(checks)
        state: LinkStateName
        if not reachable:
            state = "unknown"
        elif down:
            state = "down"
        elif health.level is not Level.ok:
            state = "degraded"
        else:
            state = "up"
        if state != ls.state:
            ls.since = now
            self.bus.publish(
                "link.state",
                link.id,
                "link",
                link.authorities,
                {"from": ls.state, "to": state, "reason": down or health.reason},
            )
        prev_state = ls.state
        ls.state, ls.checks, ls.health = state, checks, health
        ls.reason = down or (health.reason if health.level else "up")
        if reachable:
            oks = [t for e in reachable if (t := self.devices[e.device].last_ok) is not None]
            ls.last_ok = min(oks) if oks else ls.last_ok
        ls.rx_dbm = {
            e.end: chk.optic_rx(chk.find_optic(e.cur, e.port)) if e.cur else None for e in ends
        }
        margins = [chk.rx_margin(v, link.optic) for v in ls.rx_dbm.values() if v is not None]
        ls.margin_db = min(margins) if margins else None
        ctl = ends[0] if link.controller_end == "a" else ends[1]
        rates = None
        if ctl.cur is not None and ctl.prev is not None:
            cur_if = chk.find_interface(ctl.cur, ctl.port)
            if cur_if is not None:
                rates = chk.port_rates(
                    chk.find_interface(ctl.prev, ctl.port),
                    cur_if,
                    (ctl.cur.ts - ctl.prev.ts).total_seconds(),
                )
        if rates is not None:
            ls.in_bps, ls.out_bps = rates.in_bps, rates.out_bps
            ls.utilisation_pct = (
                100.0 * max(rates.in_bps, rates.out_bps) / (link.capacity_mbps * 1e6)
            )
        await self.alerts.evaluate(link.id, link_conditions(link.id, checks), now)
        self.bus.publish("link", link.id, "link", link.authorities, self.link_view(link.id))
        if prev_state != state:
            ls.down_since_poll = prev_state == "down"
        if (prev_state == "down") != (state == "down"):
            # masts behind this link: unreachable <-> upstream down, and a prompt re-poll
            for m in self.profile.masts:
                if m.uplink == link.id and m.id in self.devices:
                    mst = self.devices[m.id]
                    if mst.reachable is False:
                        await self._evaluate_device(mst, now)
                    poller = self._pollers.get(m.id)
                    if poller is not None and prev_state == "down":
                        poller.wake()

    async def _store_samples(self, st: DeviceState, now: datetime) -> None:
        out = [Sample(ts=now, device=st.id, metric="reachable", value=float(bool(st.reachable)))]
        s = st.cur
        if st.reachable and s is not None:
            out.append(Sample(ts=now, device=st.id, metric="poll_s", value=st.poll_duration_s))
            if s.system is not None:
                out.append(Sample(ts=now, device=st.id, metric="uptime_s", value=s.system.uptime_s))
                if s.system.load is not None:
                    out.append(Sample(ts=now, device=st.id, metric="load1", value=s.system.load[0]))
                if s.system.memory_total and s.system.memory_available is not None:
                    pct = 100.0 * s.system.memory_available / s.system.memory_total
                    out.append(Sample(ts=now, device=st.id, metric="mem_free_pct", value=pct))
            for r in s.radios:
                tag = r.band or r.name
                out.append(
                    Sample(ts=now, device=st.id, metric=f"clients.{tag}", value=len(r.clients))
                )
                if r.utilisation_pct is not None:
                    out.append(
                        Sample(ts=now, device=st.id, metric=f"util.{tag}", value=r.utilisation_pct)
                    )
                if r.noise_dbm is not None:
                    out.append(
                        Sample(ts=now, device=st.id, metric=f"noise.{tag}", value=r.noise_dbm)
                    )
            prev = {i.name: i for i in st.prev.interfaces} if st.prev else {}
            secs = (s.ts - st.prev.ts).total_seconds() if st.prev else 0.0
            for i in s.interfaces:
                out.append(
                    Sample(
                        ts=now,
                        device=st.id,
                        metric=f"oper_up.{i.name}",
                        value=float(i.oper_status == "UP"),
                    )
                )
                rates = chk.port_rates(prev.get(i.name), i, secs)
                if rates is not None:
                    out.append(
                        Sample(ts=now, device=st.id, metric=f"in_bps.{i.name}", value=rates.in_bps)
                    )
                    out.append(
                        Sample(
                            ts=now, device=st.id, metric=f"out_bps.{i.name}", value=rates.out_bps
                        )
                    )
            for o in s.optics:
                rx = chk.optic_rx(o)
                if rx is not None:
                    out.append(Sample(ts=now, device=st.id, metric=f"rx_dbm.{o.port}", value=rx))
                if o.tx_power_dbm:
                    out.append(
                        Sample(
                            ts=now,
                            device=st.id,
                            metric=f"tx_dbm.{o.port}",
                            value=min(o.tx_power_dbm),
                        )
                    )
        await self.store.add_samples(out)

    # -- alerts and the bus -------------------------------------------------------------------
    def _on_alert(self, kind: str, alert: AlertRow) -> None:
        self.bus.publish(
            f"alert.{kind}",
            alert.subject,
            "link" if alert.labels.get("kind") == "link" else "device",
            self.authorities_of(alert.subject),
            alert_view(alert, silenced=self.alerts.silenced(alert, self.clock.now())),
        )

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

    async def ack(self, alert_id: int, actor: str, note: str) -> AlertRow:
        before = self.alerts.alert(alert_id)
        if before is None:
            raise ApiError(f"alert {alert_id} is not open", status=404)
        after = await self.alerts.ack(alert_id, actor, note)
        await self.store.audit(
            actor,
            "alert.ack",
            str(alert_id),
            before={"acked_by": before.acked_by},
            after={"note": note},
        )
        assert after is not None
        return after

    async def silence(
        self, matchers: dict[str, str], duration_s: float, actor: str, note: str
    ) -> dict[str, Any]:
        if not matchers:
            raise ApiError("a silence needs at least one matcher", status=400)
        until = self.clock.now() + timedelta(seconds=duration_s)
        s = self.alerts.add_silence(matchers, until, actor, note)
        view = {
            "id": s.id,
            "matchers": s.matchers,
            "until": s.until.isoformat(),
            "by": actor,
            "note": note,
        }
        await self.store.audit(actor, "alert.silence", str(s.id), after=view)
        self.bus.publish("silence", "", "event", data=view)
        return view

    async def set_maintenance(self, device_id: str, on: bool, actor: str, note: str = "") -> None:
        self.profile.device(device_id)  # KeyError for unknown ids
        before = device_id in self.maintenance
        if on:
            self.maintenance[device_id] = note
        else:
            self.maintenance.pop(device_id, None)
        self.alerts.set_maintenance(device_id, on)
        await self.store.audit(
            actor, "device.maintenance", device_id, before=before, after={"on": on, "note": note}
        )
        self.bus.publish(
            "maintenance",
            device_id,
            "device",
            self.authorities_of_device(device_id),
            {"on": on, "note": note},
        )

    async def reboot(self, device_id: str, actor: str) -> None:
        """Reboot one device through its driver; audited, refused or not.

        Raises KeyError for an unknown id and the driver's DeviceError
        (:class:`~eventops.errors.Unsupported` when it cannot reboot).
        """
        d = self.profile.device(device_id)
        timeout = min(self.profile.polling.timeout_s, d.management.timeout_s)
        driver = self.driver_factory(d, self.clock, timeout)
        try:
            async with driver:
                await driver.reboot()
        except DeviceError as exc:
            await self.store.audit(
                actor, "device.reboot", device_id, after={"ok": False, "error": exc.one_line()}
            )
            raise
        await self.store.audit(actor, "device.reboot", device_id, after={"ok": True})
        self.bus.publish(
            "device.reboot",
            device_id,
            "device",
            self.authorities_of_device(device_id),
            {"by": actor},
        )

    async def _watch_site_locks(self) -> None:
        """Devices of a site under an apply (its provisioning lock held) raise no alerts."""
        assert self.lock_dir is not None
        while True:
            sites = sorted({d.site for d in self.profile.devices if d.site})
            held = await asyncio.to_thread(held_site_locks, self.lock_dir, sites)
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
                await self._announce_probe(r)

    def _note_probe(self, r: ProbeResultRow) -> None:
        ls = self.links.get(r.target)
        if ls is None:
            return
        if ls.proof is None or r.ts >= ls.proof.ts:
            ls.proof = ProbeSummary(r.ts, r.kind, r.passed, probe_throughput_mbps(r.result))

    async def record_probe_result(self, r: ProbeResultRow) -> int:
        """Store a probe result and take it into the link's health."""
        rid = await self.store.add_probe_result(r)
        self._probe_ids.add(rid)
        self._note_probe(r)
        await self._announce_probe(r)
        return rid

    async def take_probe_results(self) -> list[ProbeResultRow]:
        """Take in and announce the results stored since the last look, at once
        (a run in this process that stored its own result, such as an acceptance)."""
        new = await self.sync_probe_results()
        for r in new:
            await self._announce_probe(r)
        return new

    async def _announce_probe(self, r: ProbeResultRow) -> None:
        if r.target in self.links:
            self.bus.publish(
                "probe",
                r.target,
                "link",
                self.authorities_of(r.target),
                {"kind": r.kind, "passed": r.passed, "ts": r.ts.isoformat()},
            )
            await self._evaluate_link(self.profile.link(r.target), self.clock.now())

    async def _load_handovers(self) -> None:
        for h in await self.store.list_handovers():
            self._note_handover(h)

    def _note_handover(self, h: HandoverRow) -> None:
        ls = self.links.get(h.link)
        if ls is None:
            return
        ls.handed_to = h.authority
        ends = h.record.get("ends", {})
        ls.baseline = {k: v.get("rx_dbm") for k, v in ends.items() if isinstance(v, dict)}

    async def handover(self, link_id: str, authority: str, actor: str) -> HandoverRow:
        """Record the link's optics as the baseline and hand it to ``authority``."""
        try:
            link = self.profile.link(link_id)
        except KeyError:
            raise ApiError(f"no link {link_id!r} in the profile", status=404) from None
        if authority not in {a.id for a in self.profile.authorities}:
            raise ApiError(f"no authority {authority!r} in the profile", status=400)
        if authority not in link.authorities:
            raise ApiError(
                f"link {link_id} is not tagged for {authority} (add it to the link's authorities)",
                status=400,
            )
        now = self.clock.now()
        ends: dict[str, Any] = {}
        for name, ep in (("a", link.a), ("b", link.b)):
            ds = self.devices[ep.device]
            fresh = chk.freshness(ds.last_ok, now, ds.interval_s, self.profile.event.tz)
            if not ds.reachable or ds.cur is None or fresh.stale:
                why = ds.error or fresh.label or "no data"
                raise ApiError(
                    f"no fresh reading from {ep.device} ({why}): cannot take a baseline", status=409
                )
            optic = chk.find_optic(ds.cur, ep.port)
            iface = chk.find_interface(ds.cur, ep.port)
            ends[name] = {
                "device": ep.device,
                "port": ep.port,
                "oper_status": iface.oper_status if iface else "NOT_PRESENT",
                "rx_dbm": chk.optic_rx(optic),
                "tx_dbm": min(optic.tx_power_dbm) if optic and optic.tx_power_dbm else None,
                "bias_ma": min(optic.laser_bias_ma) if optic and optic.laser_bias_ma else None,
                "temperature_c": optic.temperature_c if optic else None,
                "vendor": optic.vendor if optic else "",
                "serial": optic.serial if optic else "",
                "pmd": optic.ethernet_pmd if optic else "",
                "margin_db": chk.rx_margin(v, link.optic)
                if (v := chk.optic_rx(optic)) is not None
                else None,
                "read_at": ds.last_ok.isoformat() if ds.last_ok else None,
            }
        for r in await self.sync_probe_results():  # a run just now, from another process
            await self._announce_probe(r)
        acceptance = [
            r for r in await self.store.list_probe_results(link_id) if r.kind == "acceptance"
        ]
        latest = acceptance[-1] if acceptance else None
        record = {
            "link": {
                "id": link.id,
                "name": link.name,
                "optic": link.optic,
                "length_m": link.length_m,
                "capacity_mbps": link.capacity_mbps,
                "sla": link.sla.model_dump(),
            },
            "authority": {
                "id": authority,
                "name": next(a.name for a in self.profile.authorities if a.id == authority),
            },
            "event": {
                "id": self.profile.event.id,
                "name": self.profile.event.name,
                "timezone": self.profile.event.timezone,
            },
            "ends": ends,
            "acceptance": None
            if latest is None
            else {
                "id": latest.id,
                "ts": latest.ts.isoformat(),
                "passed": latest.passed,
                "result": latest.result,
            },
            "link_state": self.links[link_id].state,
        }
        row = HandoverRow(ts=now, link=link_id, authority=authority, actor=actor, record=record)
        hid = await self.store.add_handover(row)
        row = row.model_copy(update={"id": hid})
        self._note_handover(row)
        await self.store.audit(
            actor, "link.handover", link_id, after={"to": authority, "handover": hid}
        )
        self.bus.publish(
            "handover", link_id, "link", link.authorities, {"id": hid, "to": authority, "by": actor}
        )
        return row

    # -- views (JSON-able) ----------------------------------------------------------------------
    def device_view(self, device_id: str) -> dict[str, Any]:
        st = self.devices[device_id]
        d = self.profile.device(device_id)
        now = self.clock.now()
        fresh = chk.freshness(st.last_ok, now, st.interval_s, self.profile.event.tz)
        s = st.cur
        return {
            "id": st.id,
            "kind": st.kind,
            "site": d.site,
            "reachable": st.reachable,
            "error": st.error,
            "health": st.health.level.label if st.reachable is not None else "unknown",
            "score": st.health.score,
            "reason": st.health.reason,
            "since": st.since.isoformat() if st.since else None,
            "stale": fresh.stale,
            "as_of": fresh.as_of.isoformat() if fresh.as_of else None,
            "stale_label": fresh.label,
            "maintenance": device_id in self.maintenance,
            "interval_s": st.interval_s,
            "uptime_s": (s.system.uptime_s if s.system else s.facts.uptime_s) if s else None,
            "clients": sum(len(r.clients) for r in s.radios) if s else None,
            "checks": [c.as_dict() for c in st.checks],
            "uplink": d.uplink if isinstance(d, Mast) else None,
        }

    def device_detail(self, device_id: str) -> dict[str, Any]:
        """:meth:`device_view` plus the last polled status: facts, radios with their
        clients, interfaces and optics (empty lists before the first good poll)."""
        out = self.device_view(device_id)
        s = self.devices[device_id].cur
        out["status_ts"] = s.ts.isoformat() if s else None
        out["facts"] = s.facts.model_dump(mode="json") if s else None
        out["system"] = s.system.model_dump(mode="json") if s and s.system else None
        out["radios"] = [r.model_dump(mode="json") for r in s.radios] if s else []
        out["interfaces"] = [i.model_dump(mode="json") for i in s.interfaces] if s else []
        out["optics"] = [self._optic_view(device_id, o) for o in s.optics] if s else []
        return out

    def _optic_view(self, device_id: str, optic: OpticStatus) -> dict[str, Any]:
        """One optic with its rx margin above the sensitivity of the link's optic
        type, when a link of the profile ends on this port (the link id is given
        too; the API redacts it for an authority that must not see it)."""
        o = optic.model_dump(mode="json")
        o["margin_db"] = None
        o["link"] = None
        for link in self._links_of(device_id):
            for end in (link.a, link.b):
                if end.device == device_id and end.port == optic.port:
                    o["link"] = link.id
                    rx = chk.optic_rx(optic)
                    if rx is not None:
                        o["margin_db"] = round(chk.rx_margin(rx, link.optic), 2)
                    o["peer"] = self._peer_optic(link, end)
        return o

    def _peer_optic(self, link: Link, end: Endpoint) -> dict[str, Any] | None:
        """The far end's optic of ``link`` as last polled (None if never polled)."""
        far = link.b if end is link.a else link.a
        st = self.devices.get(far.device)
        optic = chk.find_optic(st.cur if st else None, far.port)
        if optic is None:
            return None
        rx = chk.optic_rx(optic)
        return {
            "device": far.device,
            "port": far.port,
            "rx_power_dbm": optic.rx_power_dbm,
            "tx_power_dbm": optic.tx_power_dbm,
            "laser_bias_ma": optic.laser_bias_ma,
            "temperature_c": optic.temperature_c,
            "margin_db": None if rx is None else round(chk.rx_margin(rx, link.optic), 2),
        }

    def link_view(self, link_id: str) -> dict[str, Any]:
        ls = self.links[link_id]
        link = self.profile.link(link_id)
        now = self.clock.now()
        interval = max(
            self.devices[link.a.device].interval_s, self.devices[link.b.device].interval_s
        )
        fresh = chk.freshness(ls.last_ok, now, interval, self.profile.event.tz)
        proof = ls.proof
        return {
            "id": link.id,
            "name": link.name or link.id,
            "state": ls.state,
            "since": ls.since.isoformat() if ls.since else None,
            "reason": ls.reason,
            "health": ls.health.level.label,
            "score": ls.health.score,
            "capacity_mbps": link.capacity_mbps,
            "optic": link.optic,
            "in_mbps": None if ls.in_bps is None else ls.in_bps / 1e6,
            "out_mbps": None if ls.out_bps is None else ls.out_bps / 1e6,
            "utilisation_pct": ls.utilisation_pct,
            "rx_dbm": ls.rx_dbm,
            "margin_db": ls.margin_db,
            "baseline_dbm": ls.baseline,
            "handed_to": ls.handed_to,
            "proof": None
            if proof is None
            else {
                "ts": proof.ts.isoformat(),
                "kind": proof.kind,
                "passed": proof.passed,
                "throughput_mbps": proof.throughput_mbps,
            },
            "stale": fresh.stale,
            "as_of": fresh.as_of.isoformat() if fresh.as_of else None,
            "stale_label": fresh.label,
            "a": {"device": link.a.device, "port": link.a.port},
            "b": {"device": link.b.device, "port": link.b.port},
            "authorities": list(link.authorities),
            "checks": [c.as_dict() for c in ls.checks],
        }


def probe_throughput_mbps(result: dict[str, Any]) -> float | None:
    """The delivered rate a probe result proves, in Mb/s, whatever its shape.

    ``throughput_mbps`` / ``received_mbps`` (Mb/s), ``bits_per_second`` or
    ``received_bps`` (bit/s), or iperf3's ``end.sum_received.bits_per_second``.
    """
    for key, scale in (
        ("throughput_mbps", 1.0),
        ("received_mbps", 1.0),
        ("received_bps", 1e-6),
        ("bits_per_second", 1e-6),
    ):
        v = result.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool):
            return float(v) * scale
    end = result.get("end")
    if isinstance(end, dict):
        rx = end.get("sum_received")
        if isinstance(rx, dict) and isinstance(rx.get("bits_per_second"), int | float):
            return float(rx["bits_per_second"]) / 1e6
    return None


def alert_view(alert: AlertRow, *, silenced: bool = False) -> dict[str, Any]:
    d = alert.model_dump(mode="json")
    d["silenced"] = silenced
    return d
