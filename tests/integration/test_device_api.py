"""Device detail and reboot through the API, against the simulators on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from eventops.server.app import create_app
from tests.unit.server.conftest import TOKENS

from .simrig import SimRig, sim_rig


@dataclass
class Api:
    sim: SimRig
    url: str
    http: aiohttp.ClientSession

    async def call(self, method: str, path: str, who: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {TOKENS[who]}"}
        async with self.http.request(method, self.url + path, headers=headers) as r:
            text = await r.text()
            return r.status, json.loads(text) if "json" in r.headers.get(
                "Content-Type", ""
            ) else text


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with sim_rig(tmp_path, clear_after_s=30) as sim:
        runner = web.AppRunner(create_app(sim.engine, heartbeat_s=0.2))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        try:
            async with aiohttp.ClientSession() as http:
                await sim.to(12)
                yield Api(sim, f"http://127.0.0.1:{runner.addresses[0][1]}", http)
        finally:
            await runner.cleanup()


async def test_mast_detail_has_radios_clients_and_interfaces(api: Api) -> None:
    sim = api.sim.fleet.mast("mast-02")
    ifname = str(sim._ifaces()[0]["ifname"])
    mac = sim.join_client(ifname, "02:00:5e:10:20:30", signal=-71.0)
    await api.sim.to(22)
    status, d = await api.call("GET", "/api/v1/devices/mast-02", "technik")
    assert status == 200
    assert d["id"] == "mast-02" and d["facts"]["hostname"]
    ssids = {r["ssid"] for r in d["radios"]}
    assert ssids and all(ssids)
    radio = next(r for r in d["radios"] if r["name"] == ifname)
    assert radio["channel"] and radio["band"] in ("2g", "5g", "6g")
    assert radio["width_mhz"] and radio["tx_power_dbm"] is not None
    client = next(c for c in radio["clients"] if c["mac"].lower() == mac.lower())
    assert -85 < client["signal_dbm"] < -55 and client["rx_rate_kbps"]
    assert d["interfaces"] and all("oper_status" in i for i in d["interfaces"])
    assert d["clients"] == sum(len(r["clients"]) for r in d["radios"])


async def test_device_views_carry_the_drivers_capabilities(api: Api) -> None:
    status, devices = await api.call("GET", "/api/v1/devices", "technik")
    assert status == 200
    caps = {d["id"]: d["capabilities"] for d in devices}
    assert caps["mc-police"] == {
        "rollback_on_device": False,
        "confirm_timeout": True,
        "streams_events": False,
        "reboot": False,
        "partial_config": True,
    }
    assert caps["mast-02"]["reboot"] is True
    status, d = await api.call("GET", "/api/v1/devices/sw-core", "technik")
    assert status == 200 and d["capabilities"]["reboot"] is False


async def test_switch_detail_has_optics_of_both_ends(api: Api) -> None:
    status, d = await api.call("GET", "/api/v1/devices/mc-police", "technik")
    assert status == 200
    sfp = next(o for o in d["optics"] if o["port"] == "sfp0")
    assert sfp["link"] == "fibre-police"
    assert sfp["rx_power_dbm"] and sfp["temperature_c"] is not None and sfp["laser_bias_ma"]
    assert sfp["margin_db"] is not None and sfp["margin_db"] > 0
    assert sfp["peer"]["device"] == "sw-core" and sfp["peer"]["port"] == "Ethernet1/1"
    assert sfp["peer"]["rx_power_dbm"]


async def test_authority_sees_its_device_without_foreign_ends(api: Api) -> None:
    status, d = await api.call("GET", "/api/v1/devices/mc-police", "police")
    assert status == 200
    sfp = next(o for o in d["optics"] if o["port"] == "sfp0")
    assert sfp["link"] == "fibre-police" and sfp["margin_db"] is not None
    assert sfp["peer"] is None  # sw-core is not tagged for the police
    text = json.dumps(d)
    for foreign in ("sw-core", "fibre-fire", "fibre-stage", "mc-fire"):
        assert foreign not in text
    assert (await api.call("GET", "/api/v1/devices/sw-core", "police"))[0] == 404
    assert (await api.call("GET", "/api/v1/devices/mc-police", "fire"))[0] == 404


async def test_reboot_roles_and_audit(api: Api) -> None:
    for who, code in (("police", 403), ("comms", 403)):
        assert (await api.call("POST", "/api/v1/devices/mast-02/reboot", who))[0] == code
    assert (await api.call("POST", "/api/v1/devices/nope/reboot", "technik"))[0] == 404
    status, body = await api.call("POST", "/api/v1/devices/mc-police/reboot", "technik")
    assert status == 409
    assert body["error"]["code"] == "not_supported"
    assert body["error"]["message"] == "mc-police: its driver (restconf) offers no reboot operation"
    audit = await api.sim.store.audit_entries()
    assert [(a.action, a.target, a.actor) for a in audit if a.action == "device.reboot"] == [
        ("device.reboot", "mc-police", "technik")
    ]


async def test_reboot_of_a_simulated_mast_shows_up(api: Api) -> None:
    sim = api.sim
    before = sim.engine.device_view("mast-02")["uptime_s"]
    assert before is not None and before > 5
    status, body = await api.call("POST", "/api/v1/devices/mast-02/reboot", "technik")
    assert status == 202 and body == {"device": "mast-02", "rebooting": True}
    await sim.to(60)
    keys = [key for kind, key, _ in sim.alerts() if kind == "alert.raised"]
    assert "device:mast-02:reboot" in keys
    after = sim.engine.device_view("mast-02")["uptime_s"]
    assert after is not None and after < before + 48
    assert any(ev.type == "device.reboot" and ev.subject == "mast-02" for ev in sim.engine.bus)
