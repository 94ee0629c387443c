"""The mast faults of the control API: rpcd restart, missing objects, restricted ACLs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from eventops_hardware.fleet import SimFleet

from eventops.clock import FakeClock
from eventops.profile import load_profile
from tests.integration.adapters.conftest import demo_profile_copy


async def test_mast_faults_through_the_control_api(tmp_path: Path) -> None:
    profile = load_profile(demo_profile_copy(tmp_path))
    clock = FakeClock()
    async with SimFleet(profile, clock=clock, control="127.0.0.1:0") as fleet:
        url = f"{fleet.control.url}/devices"

        async def fault(dev: str, body: dict[str, Any]) -> tuple[int, Any]:
            async with aiohttp.ClientSession() as s, s.post(f"{url}/{dev}/faults", json=body) as r:
                return r.status, await r.json()

        sim = fleet.mast("mast-01")
        assert await fault("mast-01", {"restart_rpcd": 3}) == (200, sim.describe())
        assert not sim.object_present("uci") and sim.object_present("system")
        await clock.advance(3.5)
        assert sim.object_present("uci") and sim.rpcd_restarts == 1
        status, _ = await fault("mast-01", {"remove_objects": ["iwinfo", "file"]})
        assert status == 200 and not sim.object_present("iwinfo")
        status, _ = await fault("mast-01", {"restrict_acl": ["uci"]})
        user = sim.users[profile.mast("mast-01").management.username]
        assert status == 200 and "uci" not in user.ubus_acl() and "system" in user.ubus_acl()
        for bad in ({"restart_rpcd": -1}, {"restart_rpcd": True}, {"remove_objects": "iwinfo"}):
            status, body = await fault("mast-01", bad)
            assert status == 400 and "error" in body
        status, body = await fault("sw-core", {"restart_rpcd": 1})
        assert status == 400 and body["error"] == "sw-core is not a mast"
