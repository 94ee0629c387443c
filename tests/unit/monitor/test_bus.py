"""The event ring: bounded in events and in bytes, oldest dropped first."""

from __future__ import annotations

import json

from eventops.clock import FakeClock
from eventops.monitor.bus import EventBus


def test_ring_is_bounded_in_bytes_and_drops_the_oldest() -> None:
    bus = EventBus(FakeClock(), keep=10_000, max_bytes=20_000)
    for n in range(200):
        bus.publish("device", f"mast-{n:03d}", "device", data={"blob": "x" * 500, "n": n})
    kept = list(bus)
    assert bus.bytes <= 20_000 and len(kept) < 200
    assert bus.bytes == sum(len(json.dumps(e.as_dict(), separators=(",", ":"))) for e in kept)
    assert [e.data["n"] for e in kept] == list(range(200 - len(kept), 200))  # the newest
    assert bus.dropped == 200 - len(kept)
    # resuming from a dropped id: the caller must send a snapshot
    assert bus.since(1) is None
    assert [e.id for e in bus.since(bus.last_id - 2) or []] == [bus.last_id - 1, bus.last_id]


def test_ring_is_bounded_in_events_too_and_keeps_one_oversized_event() -> None:
    bus = EventBus(FakeClock(), keep=100, max_bytes=1 << 20)
    for n in range(150):
        bus.publish("link", "fibre-police", "link", data={"n": n})
    assert bus.kept == 100 and bus.dropped == 50
    small = EventBus(FakeClock(), keep=100, max_bytes=10)
    small.publish("reload", "", "event", data={"big": "y" * 100})
    assert small.kept == 1  # the newest is kept even when larger than the bound
