"""Quiet simulators (issue 19): no alert nobody injected, no traceback when a client hangs up."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest
from eventops_hardware.fleet import SimFleet
from eventops_hardware.openwrt_mast import OpenWrtMast

from eventops.adapters.base import DeviceStatus, driver_for
from eventops.clock import FakeClock
from eventops.monitor import checks
from eventops.profile import load_profile
from tests.integration.adapters.conftest import demo_profile_copy

NOISY = (".noise", ".utilisation", ".clients", "cpu", "memory", "uplink")
"""Mast checks fed by the simulator's random walks (channel/width follow provisioning)."""


async def test_simulators_stay_inside_normal_bands_for_a_long_time(tmp_path: Path) -> None:
    profile = load_profile(demo_profile_copy(tmp_path))
    clock = FakeClock()
    tol = profile.alerts
    async with SimFleet(profile, clock=clock) as _fleet:
        drivers = {d.id: driver_for(d, clock=clock, timeout=5.0) for d in profile.devices}
        try:
            for drv in drivers.values():
                await drv.open()
            prev: dict[str, DeviceStatus] = {}
            baseline: dict[tuple[str, str], float | None] = {}
            seen = 0
            for _ in range(144):  # 12 h of simulated time, a poll every 5 min
                await clock.advance(300)
                cur = {dev_id: await drv.status() for dev_id, drv in drivers.items()}
                for mast in profile.masts:
                    st = cur[mast.id]
                    assert len(st.radios) == 2 and st.unsupported == []
                    for c in checks.mast_checks(profile, mast, st, prev.get(mast.id)):
                        if c.name.endswith(NOISY) or c.name in NOISY:
                            assert c.level is checks.Level.ok, (mast.id, c)
                            seen += 1
                for link in profile.links:
                    for end, ref in (("a", link.a), ("b", link.b)):
                        optic = checks.find_optic(cur[ref.device], ref.port)
                        base = baseline.setdefault((link.id, end), checks.optic_rx(optic))
                        e = checks.EndData(
                            end,
                            ref.device,
                            ref.port,
                            True,
                            cur[ref.device],
                            prev.get(ref.device),
                            base,
                        )
                        for c in checks.end_checks(link, e, tol):
                            assert c.level is checks.Level.ok, (link.id, c)
                            seen += 1
                prev = cur
            assert seen > 144 * 20  # the checks really ran
        finally:
            for drv in drivers.values():
                await drv.close()


async def test_a_client_hanging_up_on_a_slow_request_logs_no_error(
    mast: OpenWrtMast, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mast.slow_s = 0.3
    async with aiohttp.ClientSession() as s:
        with pytest.raises(TimeoutError):
            async with s.post(
                mast.url + "/ubus",
                data=b'{"jsonrpc":"2.0","id":1,"method":"list"}',
                timeout=aiohttp.ClientTimeout(total=0.05),
            ) as r:
                await r.read()
    for _ in range(400):  # until the simulator has finished with the abandoned request
        if mast.hangups:
            break
        await asyncio.sleep(0.01)
    assert mast.hangups == 1
    await asyncio.sleep(0)  # let aiohttp finish the request cycle
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    mast.slow_s = 0.0
    async with (
        aiohttp.ClientSession() as s,
        s.post(mast.url + "/ubus", data=b'{"jsonrpc":"2.0","id":1,"method":"list"}') as r,
    ):
        assert r.status == 200  # still serving
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
