"""``eventops demo``: simulators for the demo profile, the engine and its API, on loopback.

The simulators (``eventops_hardware``) listen at the profile's loopback
addresses and speak the devices' own protocols; the engine polls them
exactly as it would poll real masts and switches. Each link's probe far end
(STAMP reflector, throughput sink) runs at the loopback addresses its
``probe`` entry names, in a child process of its own (never in the process of
the engine and the terminal app, whose work would cost the far end packets),
so the links can be accepted while the demo runs.
On a repeating cycle (one fault a minute until quit, or a fifth of a
shorter run apart) the demo injects faults — a fibre link whose optics
degrade until it drops, a mast that reboots, the link repaired, interference
on a mast's radio and its end — and, headless, prints what the engine saw: every alert with the time it was raised and cleared, and how long
detection took.
"""

from __future__ import annotations

import asyncio
import importlib
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

from eventops.clock import Clock, SystemClock
from eventops.engine import Engine, build_engine
from eventops.errors import ApiError
from eventops.monitor.bus import BusEvent
from eventops.monitor.tasks import cancel_and_wait
from eventops.profile.models import Profile
from eventops.provision.apply import Provisioner
from eventops.provision.lock import lock_dir_for
from eventops.server.app import create_app
from eventops.signals import StopSignals
from eventops.store import Store, open_store

DEMO_PROFILE = Path(__file__).resolve().parent.parent / "profiles" / "demo.toml"


def demo_profile_path() -> Path:
    """profiles/demo.toml, from the source tree or the installed package."""
    if DEMO_PROFILE.exists():
        return DEMO_PROFILE
    mod = importlib.import_module("eventops_profiles")
    return Path(mod.__file__ or ".").parent / "demo.toml"


def fast(
    profile: Profile, *, mast_s: float = 2.0, fibre_s: float = 1.0, clear_s: float = 4.0
) -> Profile:
    """The profile with short poll intervals and hysteresis, so a short demo shows everything."""
    polling = profile.polling.model_copy(
        update={
            "mast_interval_s": mast_s,
            "fibre_interval_s": fibre_s,
            "timeout_s": min(1.5, fibre_s * 1.5),
        }
    )
    alerts = profile.alerts.model_copy(update={"clear_after_s": clear_s})
    return profile.model_copy(update={"polling": polling, "alerts": alerts})


async def preset_site(profile: Profile, store: Store, lock_dir: Path) -> list[str]:
    """Apply the profile to the simulated devices, exactly as ``eventops apply`` does.

    The demo starts from a site as it is after provisioning (the profile's
    SSIDs, radios, port descriptions and VLANs), and the apply is on the
    demo's record and timeline. Returns the devices that did not end at the
    new config, with their reasons.
    """
    prov = Provisioner(profile, store, lock_dir=lock_dir)
    report = await prov.apply(None, actor="demo")
    return [
        f"{d.device} ({d.result}: {d.reason})" if d.reason else f"{d.device} ({d.result})"
        for d in report.devices
        if d.state != "new"
    ]


@dataclass
class Fault:
    at_s: float
    label: str
    subject: str
    action: Callable[[], Awaitable[None] | None]
    expect: Callable[[BusEvent], bool] = lambda e: (
        e.type
        in (
            "alert.raised",
            "alert.updated",
            "alert.flapping",
        )
    )
    """Which bus event shows that the engine noticed."""
    done_at: float | None = None


@dataclass
class DemoLog:
    start: float
    clock: Clock
    out: TextIO | None
    events: list[tuple[float, BusEvent]] = field(default_factory=list)

    def t(self) -> float:
        return self.clock.monotonic() - self.start

    def note(self, text: str) -> None:
        if self.out is not None:
            print(f"[{self.t():6.1f}s] {text}", file=self.out, flush=True)


CYCLE_S = 60.0
"""Seconds between two faults of the demo's cycle when it runs until quit."""


def fault_step(duration: float | None) -> float:
    """Seconds between faults: a minute, or a fifth of a shorter run (so a 30 s headless
    run still shows the degrading optics, the reboot and the repair)."""
    return CYCLE_S if duration is None else min(CYCLE_S, duration * 0.2)


def _cycle(fleet: Any, step: float) -> list[tuple[str, str, Callable[[], Any], Any]]:
    """One round of the demo's faults: (label, subject, action, expect or None)."""

    def degrade() -> None:
        fleet.degrade_optics("fibre-police", step_db=1.5, every_s=max(step * 0.1, 0.5))

    def reboot() -> None:
        fleet.mast("mast-02").boot_s = max(step * 0.4, 2.0)
        fleet.reboot("mast-02")

    def repair() -> None:
        fleet.restore_link("fibre-police")

    def interference(db: float) -> Callable[[], None]:
        return lambda: fleet.mast("mast-01").interference("5g", db)

    def link_up(e: BusEvent) -> bool:
        return e.type == "link.state" and e.data.get("to") == "up"

    def cleared(e: BusEvent) -> bool:
        return e.type == "alert.cleared"

    return [
        ("optics of fibre-police start to degrade", "fibre-police", degrade, None),
        ("mast-02 reboots", "mast-02", reboot, None),
        ("fibre-police cleaned and re-patched", "fibre-police", repair, link_up),
        ("radio fault: interference on mast-01's 5 GHz radio", "mast-01", interference(25.0), None),
        ("mast-01's interference gone", "mast-01", interference(0.0), cleared),
    ]


def faults(fleet: Any, duration: float | None) -> Iterator[Fault]:
    """The demo's faults, one every :func:`fault_step` seconds, round after round until
    ``duration`` (forever without one)."""
    step = fault_step(duration)
    rounds = _cycle(fleet, step)
    at, k = min(step * 0.75, 10.0), 0
    while duration is None or at <= duration - step * 0.5:  # time to notice the last
        label, subject, action, expect = rounds[k % len(rounds)]
        f = Fault(at, label, subject, action)
        if expect is not None:
            f.expect = expect
        yield f
        at, k = at + step, k + 1


async def run_demo(
    *,
    duration: float | None,
    headless: bool,
    listen: str | None,
    db: Path | None,
    out: TextIO,
    profile_path: Path | None = None,
    ui: Callable[[str], Awaitable[None]] | None = None,
) -> int:
    """Run the demo; with ``ui`` (e.g. the terminal app), until ``ui(api_url)`` returns."""
    from eventops.profile import load_profile

    hw = importlib.import_module("eventops_hardware.fleet")  # the simulators: not part of the core
    SimFleet, SimPortInUse = hw.SimFleet, hw.SimPortInUse
    # the far ends run in a child process: never in the process that measures and shows
    LinkProbes = importlib.import_module("eventops_hardware.linkprobes").LinkProbesProcess

    base = await asyncio.to_thread(load_profile, profile_path or demo_profile_path())
    profile = fast(base)
    clock = SystemClock()
    dur = duration if duration is not None else 60.0
    try:
        fleet = SimFleet(profile, clock=clock)
        await fleet.start()
    except (SimPortInUse, OSError) as exc:
        raise ApiError(f"cannot start the simulators: {exc}") from None
    probes = LinkProbes(profile)
    try:
        await probes.start()  # a port in use: ProbeError naming the link and address
    except BaseException:
        await fleet.stop()
        raise
    tmp = None
    if db is None:
        tmp = tempfile.TemporaryDirectory(prefix="evo-demo-")
        db = Path(tmp.name) / "demo.sqlite3"
    runner: web.AppRunner | None = None
    stops = StopSignals().install()  # before anyone learns the demo is up
    try:
        async with open_store(db, profile) as store:
            ppath = Path(profile_path) if profile_path else demo_profile_path()
            engine = await asyncio.to_thread(
                lambda: build_engine(
                    profile,
                    store,
                    store_path=Path(db),
                    profile_path=ppath,
                    clock=clock,
                    stagger=True,
                    watch_site_locks=False,
                    run_sources=True,
                )
            )
            failed = await preset_site(profile, store, lock_dir_for(Path(db)))
            log = DemoLog(clock.monotonic(), clock, out if not headless and ui is None else None)
            if failed:
                print(f"warning: could not preset {', '.join(failed)}", file=out)
            host, _, port = (listen or profile.server.listen).rpartition(":")
            app = create_app(engine, manage_engine=True)
            runner = web.AppRunner(app, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, host or "127.0.0.1", int(port))
            try:
                await site.start()
            except OSError as exc:
                raise ApiError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
            print(
                f"eventops demo: {len(profile.masts)} masts, {len(profile.switches)} fibre "
                f"switches, {len(profile.links)} links simulated on loopback; engine API on "
                f"http://{host}:{port}/ (status page: /status?token=demo-police-token)",
                file=out,
                flush=True,
            )
            if probes.running or probes.skipped:
                print(f"link probes ({len(probes.running)} on loopback):", file=out)
                print("\n".join(probes.lines()), file=out, flush=True)
            until = dur if (headless or duration is not None) and ui is None else None
            planned = faults(fleet, until)
            done: list[Fault] = []
            watcher = asyncio.create_task(_watch(engine, log))
            try:
                if ui is None:
                    main = _run_faults(planned, done, log, until)
                else:
                    main = _with_ui(ui, f"http://{host or '127.0.0.1'}:{port}", planned, done, log)
                stopped_by = await stops.run(main)
            finally:
                await cancel_and_wait([watcher])
            if stopped_by is not None:
                print(f"eventops demo: stopped by {stopped_by}", file=out, flush=True)
                until = min(until, log.t()) if until is not None else None
            summary = _summary(engine, log, done, until if until is not None else log.t())
            print(summary, file=out, flush=True)
            await runner.cleanup()
            runner = None
        print("eventops demo: store closed", file=out, flush=True)
    finally:
        stops.remove()
        if runner is not None:
            await runner.cleanup()
        await probes.stop()
        await fleet.stop()
        if tmp is not None:
            tmp.cleanup()
    return 0


async def _with_ui(
    ui: Callable[[str], Awaitable[None]],
    url: str,
    planned: Iterator[Fault],
    done: list[Fault],
    log: DemoLog,
) -> None:
    """The faults run in the background while the UI runs; the demo ends with the UI."""
    task = asyncio.create_task(_run_faults(planned, done, log, None))
    try:
        await ui(url)
    finally:
        await cancel_and_wait([task])


async def _watch(engine: Engine, log: DemoLog) -> None:
    with engine.bus.subscribe(maxsize=100_000) as sub:
        while True:
            ev = await sub.get()
            log.events.append((log.t(), ev))
            if ev.type.startswith("alert."):
                d = ev.data
                log.note(f"{ev.type[6:]:<9} {d['severity']:<8} {d['summary']}")
            elif ev.type == "link.state":
                log.note(
                    f"link {ev.subject}: {ev.data['from']} -> {ev.data['to']} ({ev.data['reason']})"
                )


async def _run_faults(
    planned: Iterator[Fault], done: list[Fault], log: DemoLog, duration: float | None
) -> None:
    """Inject each planned fault at its time (into ``done``); then wait out ``duration``
    (without one the plan never ends: until interrupted)."""
    for f in planned:
        wait = f.at_s - log.t()
        if wait > 0:
            await asyncio.sleep(wait)
        res = f.action()
        if res is not None:
            await res
        f.done_at = log.t()
        done.append(f)
        log.note(f"FAULT: {f.label}")
    if duration is None:
        await asyncio.Event().wait()  # until interrupted
    else:
        rest = duration - log.t()
        if rest > 0:
            await asyncio.sleep(rest)


def _summary(engine: Engine, log: DemoLog, faults: list[Fault], duration: float) -> str:
    lines = [f"--- eventops demo: {duration:.0f} s ---"]
    polls = sum(1 for _, e in log.events if e.type == "device")
    lines.append(
        f"polls: {polls} device polls, {len(engine.devices)} devices, {len(engine.links)} links"
    )
    lines.append("faults injected:")
    for f in faults:
        if f.done_at is None:
            continue
        first = next(
            (
                (t, e)
                for t, e in log.events
                if t >= f.done_at and e.subject == f.subject and f.expect(e)
            ),
            None,
        )
        if first is None:
            seen = "not noticed"
        elif first[1].type == "link.state":
            seen = f"link {first[1].data['to']} after {first[0] - f.done_at:.1f} s"
        else:
            seen = f"alert after {first[0] - f.done_at:.1f} s: {first[1].data['summary']}"
        lines.append(f"  {f.done_at:6.1f}s  {f.label} -> {seen}")
    lines.append("alerts:")
    for t, e in log.events:
        if e.type in ("alert.raised", "alert.cleared", "alert.flapping"):
            d = e.data
            lines.append(
                f"  {t:6.1f}s  {e.type[6:]:<9} {d['severity']:<8} {d['key']}: {d['summary']}"
            )
    open_now = engine.alerts.open_alerts()
    lines.append(f"open at the end: {len(open_now)}")
    for a in open_now:
        lines.append(f"  {a.severity:<8} {a.summary}")
    lines.append("links:")
    for lk in engine.links:
        v = engine.link_view(lk)
        margin = "—" if v["margin_db"] is None else f"{v['margin_db']:.1f} dB"
        lines.append(f"  {lk:<14} {v['state']:<9} rx margin {margin}")
    return "\n".join(lines)
