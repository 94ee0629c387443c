"""What the terminal app knows of the event: the last snapshot plus live events.

Pure data, no IO and no Textual. Events are applied as they arrive; the ids
they touch are collected as *dirty* so that the app re-renders only those
rows, at most once per refresh tick however many events came in (updates
coalesce). Short series per device and link (clients, utilisation, rx power)
feed the sparklines.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from eventops.tui.client import (
    AlertView,
    Announcement,
    DeviceView,
    LinkView,
    RunningApply,
    RunningProbe,
    Snapshot,
    StreamEvent,
    WallPost,
)

M = TypeVar("M", bound=BaseModel)

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float] | deque[float], width: int = 12) -> str:
    """Block characters for the last ``width`` values (scaled to their own range)."""
    vals = list(values)[-width:]
    if not vals:
        return ""
    lo, hi = min(vals), max(vals)
    if hi - lo < 1e-9:
        return SPARK[0 if hi <= 0 else 3] * len(vals)
    top = len(SPARK) - 1
    return "".join(SPARK[round((v - lo) / (hi - lo) * top)] for v in vals)


@dataclass
class Dirty:
    devices: set[str] = field(default_factory=set)
    links: set[str] = field(default_factory=set)
    alerts: bool = False
    wall: bool = False
    """The wall's queue, announcement or pause changed."""
    activity: bool = False
    """A running apply or probe started, progressed or ended."""
    structure: bool = False
    """Rows were added or removed (snapshot, reload): tables rebuild."""

    def __bool__(self) -> bool:
        return bool(
            self.devices
            or self.links
            or self.alerts
            or self.wall
            or self.structure
            or self.activity
        )


@dataclass
class LiveState:
    series_len: int = 30
    devices: dict[str, DeviceView] = field(default_factory=dict)
    links: dict[str, LinkView] = field(default_factory=dict)
    alerts: dict[int, AlertView] = field(default_factory=dict)
    clients: dict[str, deque[float]] = field(default_factory=dict)
    util: dict[str, deque[float]] = field(default_factory=dict)
    rx: dict[str, deque[float]] = field(default_factory=dict)
    as_of: datetime | None = None
    """Server time of the last event or snapshot applied."""
    last_id: int | None = None
    dirty: Dirty = field(default_factory=Dirty)
    skipped: int = 0
    """Events whose payload did not validate (counted, not fatal)."""
    wall_posts: dict[str, WallPost] = field(default_factory=dict)
    """The wall queue as last polled (in the state the wall view filters on)."""
    wall_pending: int | None = None
    """Posts waiting for a decision; None: the wall is not known to this client."""
    announcement: Announcement | None = None
    templates: tuple[Announcement, ...] = ()
    wall_paused: bool = False
    running_apply: RunningApply | None = None
    """The apply or rollback running in the engine (technicians)."""
    running_probes: tuple[RunningProbe, ...] = ()
    """Probe runs in flight (technicians)."""

    def take_dirty(self) -> Dirty:
        d, self.dirty = self.dirty, Dirty()
        return d

    def _push(self, store: dict[str, deque[float]], key: str, value: float | None) -> None:
        if value is None:
            return
        series = store.get(key)
        if series is None:
            series = store[key] = deque(maxlen=self.series_len)
        series.append(float(value))

    def put_device(self, d: DeviceView) -> None:
        old = self.devices.get(d.id)
        self.devices[d.id] = d
        if old is None:
            self.dirty.structure = True
        if old != d:
            self.dirty.devices.add(d.id)
        self._push(self.clients, d.id, d.clients)

    def put_link(self, lk: LinkView) -> None:
        old = self.links.get(lk.id)
        self.links[lk.id] = lk
        if old is None:
            self.dirty.structure = True
        if old != lk:
            self.dirty.links.add(lk.id)
        self._push(self.util, lk.id, lk.utilisation_pct)
        self._push(self.rx, lk.id, lk.rx_min)

    def put_alert(self, a: AlertView) -> None:
        if a.state == "cleared":
            if self.alerts.pop(a.id, None) is not None:
                self.dirty.alerts = True
            return
        if self.alerts.get(a.id) != a:
            self.alerts[a.id] = a
            self.dirty.alerts = True

    def set_wall_posts(self, posts: list[WallPost]) -> None:
        new = {p.id: p for p in posts}
        if new != self.wall_posts:
            self.wall_posts = new
            self.dirty.wall = True

    def set_wall_pending(self, n: int) -> None:
        if n != self.wall_pending:
            self.wall_pending = n
            self.dirty.wall = True

    def set_announcements(
        self, active: Announcement | None, templates: tuple[Announcement, ...], paused: bool
    ) -> None:
        if (active, templates, paused) != (self.announcement, self.templates, self.wall_paused):
            self.announcement, self.templates, self.wall_paused = active, templates, paused
            self.dirty.wall = True

    def set_activity(self, apply: RunningApply | None, probes: Iterable[RunningProbe]) -> None:
        """What runs in the engine now (an apply, probe runs)."""
        runs = tuple(probes)
        if (apply, runs) != (self.running_apply, self.running_probes):
            self.running_apply, self.running_probes = apply, runs
            self.dirty.activity = True

    def load(self, snap: Snapshot) -> None:
        """Replace everything with a snapshot (ids that vanished go away)."""
        devices = self._valid(DeviceView, snap.devices)
        links = self._valid(LinkView, snap.links)
        ids = {d.id for d in devices}
        self.devices = {k: v for k, v in self.devices.items() if k in ids}
        ids = {lk.id for lk in links}
        self.links = {k: v for k, v in self.links.items() if k in ids}
        self.alerts = {}
        for d in devices:
            self.put_device(d)
        for lk in links:
            self.put_link(lk)
        for a in self._valid(AlertView, snap.alerts):
            self.put_alert(a)
        self.dirty.structure = True
        self.dirty.alerts = True

    def _valid(self, model: type[M], raw: Iterable[dict[str, Any]]) -> list[M]:
        out = []
        for item in raw:
            try:
                out.append(model.model_validate(item))
            except ValidationError:
                self.skipped += 1
        return out

    def apply(self, ev: StreamEvent) -> None:
        self.last_id = ev.id
        ts = ev.data.get("ts") if ev.type != "snapshot" else None
        try:
            if ev.type == "snapshot":
                self.load(Snapshot.model_validate(ev.data))
            elif ev.type == "device":
                self.put_device(DeviceView.model_validate(ev.data["data"]))
            elif ev.type == "link":
                self.put_link(LinkView.model_validate(ev.data["data"]))
            elif ev.type.startswith("alert."):
                self.put_alert(AlertView.model_validate(ev.data["data"]))
            elif ev.type == "maintenance" and ev.data.get("subject") in self.devices:
                dev = self.devices[ev.data["subject"]]
                on = bool(ev.data.get("data", {}).get("on", not dev.maintenance))
                self.put_device(dev.model_copy(update={"maintenance": on}))
            elif ev.type == "handover" and ev.data.get("subject") in self.links:
                lk = self.links[ev.data["subject"]]
                to = ev.data.get("data", {}).get("to")
                if isinstance(to, str):
                    self.put_link(lk.model_copy(update={"handed_to": to}))
        except (ValidationError, KeyError, TypeError):
            self.skipped += 1
            return
        if isinstance(ts, str):
            try:
                self.as_of = datetime.fromisoformat(ts)
            except ValueError:
                pass
        elif ev.type == "snapshot":
            stamps = [d.as_of for d in self.devices.values() if d.as_of is not None]
            stamps += [lk.as_of for lk in self.links.values() if lk.as_of is not None]
            self.as_of = max(stamps) if stamps else self.as_of

    # -- the pulse -----------------------------------------------------------------------------
    def mast_counts(self) -> dict[str, int]:
        """Masts by state: up, degraded, down, unknown."""
        out = {"up": 0, "degraded": 0, "down": 0, "unknown": 0}
        for d in self.devices.values():
            if d.kind != "mast":
                continue
            out[device_state(d)] += 1
        return out

    def link_counts(self) -> dict[str, int]:
        out = {"up": 0, "degraded": 0, "down": 0, "unknown": 0}
        for lk in self.links.values():
            out[lk.state if lk.state in out else "unknown"] += 1
        return out

    def alert_counts(self) -> dict[str, int]:
        out = {"critical": 0, "warning": 0, "info": 0}
        for a in self.alerts.values():
            out[a.severity] += 1
        return out

    def wlan_clients(self) -> int:
        return sum(d.clients or 0 for d in self.devices.values() if d.kind == "mast")

    def min_margin(self) -> tuple[str, float] | None:
        margins = [(lk.id, lk.margin_db) for lk in self.links.values() if lk.margin_db is not None]
        if not margins:
            return None
        lid, m = min(margins, key=lambda x: x[1])
        assert m is not None
        return lid, m


def device_state(d: DeviceView) -> str:
    if d.reachable is None:
        return "unknown"
    if not d.reachable or d.health == "critical":
        return "down"
    if d.health == "warning":
        return "degraded"
    return "up"
