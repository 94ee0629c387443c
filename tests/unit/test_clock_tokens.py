from __future__ import annotations

import asyncio

import pytest

from eventops.clock import FakeClock, within
from eventops.profile.models import User
from eventops.tokens import match_token, new_token, token_hash


async def test_fake_clock_wakes_sleepers_in_order() -> None:
    clock = FakeClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, s: float) -> None:
        await clock.sleep(s)
        woke.append((name, clock.monotonic()))

    tasks = [asyncio.create_task(sleeper("b", 5)), asyncio.create_task(sleeper("a", 2))]
    await asyncio.sleep(0)
    await clock.advance(1)
    assert woke == []
    await clock.advance(10)
    assert woke == [("a", 2.0), ("b", 5.0)]
    assert clock.monotonic() == 11
    await asyncio.gather(*tasks)


def test_tokens_match_by_hash() -> None:
    t1, t2 = new_token(), new_token()
    assert t1 != t2 and t1.startswith("evo_")
    users = [
        User(name="a", role="technician", token_sha256=token_hash(t1)),
        User(name="b", role="comms", token_sha256=token_hash(t2)),
    ]
    assert match_token(t2, users) is users[1]
    assert match_token("evo_wrong", users) is None


async def test_within_times_out_on_the_injected_clock_only() -> None:
    clock = FakeClock()
    gate = asyncio.Event()

    async def work() -> str:
        await gate.wait()
        return "done"

    fast = asyncio.create_task(within(clock, 2.0, work()))
    await asyncio.sleep(0)  # started (its timer set) before the clock moves
    await clock.advance(1.9)
    gate.set()
    assert await fast == "done"
    gate.clear()
    slow = asyncio.create_task(within(clock, 2.0, work()))
    await asyncio.sleep(0)
    await clock.advance(1.9)
    assert not slow.done()  # the wall clock moving does not matter; only this clock
    await clock.advance(0.2)
    with pytest.raises(TimeoutError):
        await slow
    # the caller's own cancellation is not turned into a timeout
    outer = asyncio.create_task(within(clock, 5.0, work()))
    await asyncio.sleep(0)
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert clock.pending == 0


def test_fake_clock_wall_jump_leaves_monotonic_alone() -> None:
    clock = FakeClock()
    t0, m0 = clock.now(), clock.monotonic()
    clock.jump(-3600)
    assert (clock.now() - t0).total_seconds() == -3600 and clock.monotonic() == m0


def test_request_names_for_timeout_messages() -> None:
    from eventops.adapters import ubus
    from eventops.adapters.http import request_name

    url = "http://10.0.0.1/restconf/data/openconfig-interfaces:interfaces"
    assert request_name("GET", url) == "GET …/openconfig-interfaces:interfaces"
    assert request_name("GET", "http://10.0.0.1/restconf") == "GET /restconf"
    calls = [ubus.call_request(i, "s", ubus.UbusCall("system", "board")) for i in (1, 2, 3)]
    assert ubus.request_name(calls) == "ubus call system board (+2 more)"
    assert ubus.request_name(ubus.list_request(1)) == "ubus list"
