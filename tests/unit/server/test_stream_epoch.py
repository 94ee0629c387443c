"""The live stream: ids carry the engine run, keep-alives are per connection."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from eventops.api.client import EngineClient, parse_stream_id
from eventops.monitor.bus import EventBus

from .conftest import SSE, TOKENS, Served


async def _first(served: Served, last: str | None) -> dict[str, str]:
    headers = {**served.auth("technik")}
    if last is not None:
        headers["Last-Event-ID"] = last
    async with served.http.get(served.url + "/api/v1/stream", headers=headers) as r:
        return await SSE(r).next()


async def test_ids_carry_the_run_and_foreign_ids_get_a_snapshot(served: Served) -> None:
    bus = served.engine.bus
    start = bus.last_id
    assert start > 2
    snap = await _first(served, None)
    assert snap["event"] == "snapshot" and snap["id"] == f"{bus.epoch}-{start}"
    # this run's id: the gap
    ev = await _first(served, bus.wire_id(start - 1))
    assert ev["event"] != "snapshot" and ev["id"] == bus.wire_id(start)
    # another run (the engine restarted: ids began at 1 again), the future, an old plain
    # number, junk: a fresh snapshot each, never silence
    other = "0" if bus.epoch != "0" else "1"
    for last in (
        f"{other}-{start - 1}",
        bus.wire_id(start + 50),
        str(start - 1),
        "x-1",
        f"{bus.epoch}-{'9' * 30}",
        f"{bus.epoch}--1",
    ):
        ev = await _first(served, last)
        assert ev["event"] == "snapshot" and ev["id"] == bus.wire_id(bus.last_id), last


async def test_a_restarted_engine_sends_a_resuming_client_a_snapshot(served: Served) -> None:
    async with EngineClient(served.url, TOKENS["technik"]) as api:
        msgs = api.stream_once()
        first = await anext(msgs)
        await msgs.aclose()
        assert first.type == "snapshot" and first.stream_id == served.engine.bus.wire_id(first.id)
        # the engine restarts: a new run, ids from 1 again (here: the bus is replaced)
        old_last = served.engine.bus.last_id
        served.engine.bus = EventBus(served.clock, keep=200)
        served.engine.bus.publish("mark", "mast-01", "device", {"police"})
        assert served.engine.bus.last_id < old_last
        msgs = api.stream_once(first.stream_id)
        again = await anext(msgs)
        await msgs.aclose()
        assert again.type == "snapshot" and again.stream_id == served.engine.bus.wire_id(1)


def test_stream_id_parsing_is_total() -> None:
    assert parse_stream_id("a1b2-17") == 17
    assert parse_stream_id("17") == 17  # an older engine's plain number
    for bad in ("", "-", "x", "a1-", "a1-1x", "a1-" + "9" * 40, "a1-١"):
        assert parse_stream_id(bad) is None, bad


async def test_keep_alives_are_per_connection_not_per_bus(served: Served) -> None:
    """A police stream gets keep-alives while a steady flow of events it may not see
    keeps the bus busy (issue 15: 0 bytes in 60 s while others had traffic)."""
    bus = served.engine.bus
    stop = asyncio.Event()
    published = 0

    async def traffic() -> None:
        nonlocal published
        while not stop.is_set():
            bus.publish("mark", "fibre-fire", "link", {"fire"})  # police never sees it
            published += 1
            await asyncio.sleep(0.02)  # far more often than the 0.2 s heartbeat

    async with served.http.get(
        served.url + "/api/v1/stream",
        headers=served.auth("police"),
        timeout=aiohttp.ClientTimeout(total=None),
    ) as r:
        snap = await SSE(r).next()
        assert snap["event"] == "snapshot"
        assert "fibre-fire" not in json.dumps(snap)
        feeder = asyncio.create_task(traffic())
        try:
            keep_alives = 0
            async with asyncio.timeout(20):
                while keep_alives < 3:
                    line = await r.content.readline()
                    assert line, "stream ended"
                    assert b"fibre-fire" not in line
                    if line.startswith(b": keep-alive"):
                        keep_alives += 1
        finally:
            stop.set()
            await feeder
    assert published > 3  # the bus was busy the whole time
