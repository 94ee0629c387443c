"""The restconf driver against the FibreSwitch simulator, over real sockets."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from eventops_hardware.fibre_switch import FibreSwitch
from eventops_hardware.tls import SimIdentity

from eventops.adapters.restconf import RestconfDriver
from eventops.clock import FakeClock
from eventops.errors import (
    AuthenticationFailed,
    DeviceTimeout,
    DeviceUnreachable,
    PermissionDenied,
    ProtocolError,
    ProvisioningError,
    Unsupported,
)
from tests.integration.adapters.conftest import management

PW = "mast-secret-1"


@pytest.fixture
async def sw(clock: FakeClock, mast_password: str) -> AsyncIterator[FibreSwitch]:
    s = FibreSwitch(
        "sw-t",
        clock=clock,
        ports=[
            ("Ethernet1/1", "1000BASE-LX"),
            ("Ethernet1/2", "10GBASE-LR"),
            ("Ethernet1/3", None),
        ],
        password=mast_password,
        seed=3,
    )
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


def driver(sw: FibreSwitch, clock: FakeClock, **kw: Any) -> RestconfDriver:
    timeout = kw.pop("timeout", 2.0)
    return RestconfDriver(
        sw.device_id, management(sw.url, username="admin", **kw), clock=clock, timeout=timeout
    )


def _auth() -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"admin:{PW}".encode()).decode()}


async def raw(
    method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, url, data=body, headers={**_auth(), **(headers or {})}) as r,
    ):
        return r.status, await r.text()


async def test_wire_host_meta_keys_and_errors(sw: FibreSwitch) -> None:
    status, xrd = await raw("GET", sw.url + "/.well-known/host-meta")
    assert status == 200 and "rel='restconf'" in xrd and "href='/restconf'" in xrd
    status, text = await raw(
        "GET",
        sw.url
        + "/restconf/data/openconfig-interfaces:interfaces/interface=Ethernet1%2F2/state/counters",
    )
    assert status == 200
    counters = json.loads(text)["openconfig-interfaces:counters"]
    assert isinstance(counters["in-octets"], str)  # RFC 7951: uint64 as string
    status, text = await raw(
        "GET", sw.url + "/restconf/data/openconfig-interfaces:interfaces/interface=Ethernet9%2F9"
    )
    err = json.loads(text)["ietf-restconf:errors"]["error"][0]
    assert status == 404 and err["error-tag"] == "invalid-value"
    status, _ = await raw(
        "PATCH", sw.url + "/restconf/data/openconfig-interfaces:interfaces", b"{}"
    )
    assert status == 415
    async with (
        aiohttp.ClientSession() as s,
        s.get(sw.url + "/restconf/data/openconfig-interfaces:interfaces") as r,
    ):
        assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Basic")


async def test_facts_and_status(sw: FibreSwitch, clock: FakeClock) -> None:
    async with driver(sw, clock) as d:
        facts = await d.facts()
        assert (facts.model, facts.hostname, facts.firmware) == ("MoGlI FX-8", "sw-t", "4.2.1")
        assert facts.serial == sw.serial and facts.uptime_s > 3000
        st = await d.status()
        assert [i.name for i in st.interfaces] == ["Ethernet1/1", "Ethernet1/2", "Ethernet1/3"]
        assert all(i.oper_status == "UP" for i in st.interfaces)
        assert st.interfaces[0].speed_mbps == 1000 and st.interfaces[1].speed_mbps == 10000
        lx, lr = st.optics
        assert (lx.port, lx.ethernet_pmd, lx.form_factor) == (
            "Ethernet1/1",
            "ETH_1000BASE_LX10",
            "SFP",
        )
        assert -19 <= lx.rx_power_dbm[0] <= -3 and -11 <= lx.tx_power_dbm[0] <= -3
        assert -14.4 <= lr.rx_power_dbm[0] <= 0.5 and lr.ethernet_pmd == "ETH_10GBASE_LR"
        assert lx.thresholds["warning"].input_power_lower == -20.0
        assert lx.thresholds["critical"].input_power_upper == -1.0
        assert (
            lx.laser_bias_ma[0] > 0 and lx.temperature_c is not None and 20 < lx.temperature_c < 60
        )
        before = st.interfaces[0].in_octets
        await clock.advance(60)
        st2 = await d.status()
        assert st2.interfaces[0].in_octets > before
        assert st2.facts.uptime_s == pytest.approx(facts.uptime_s + 60, abs=2)


async def test_link_down_degrade_and_crc(sw: FibreSwitch, clock: FakeClock) -> None:
    port = sw.interface("Ethernet1/1")
    async with driver(sw, clock) as d:
        start = (await d.status()).optics[0].rx_power_dbm[0]
        port.degrade(step_db=2.0, every_s=10)
        await clock.advance(10)
        assert (await d.status()).optics[0].rx_power_dbm[0] == pytest.approx(start - 2, abs=0.01)
        await clock.advance(10)
        st = await d.status()
        assert st.optics[0].rx_power_dbm[0] == pytest.approx(start - 4, abs=0.01)
        assert st.interfaces[0].oper_status == "UP"
        await clock.advance(100)  # far below sensitivity: the link drops
        st = await d.status()
        assert st.interfaces[0].oper_status == "DOWN" and st.interfaces[0].carrier_transitions == 1
        port.restore()
        port.crc_per_s = 20
        await clock.advance(10)
        st = await d.status()
        assert st.interfaces[0].oper_status == "UP" and st.interfaces[0].carrier_transitions == 2
        assert st.interfaces[0].in_fcs_errors == 200 and st.interfaces[0].in_errors >= 200
        port.set_link(False)
        st = await d.status()
        assert st.interfaces[0].oper_status == "DOWN" and st.optics[0].rx_power_dbm[0] == -40.0


async def test_config_patch_and_confirm(sw: FibreSwitch, clock: FakeClock) -> None:
    async with driver(sw, clock) as d:
        assert (await d.get_config())["interfaces"]["Ethernet1/3"] == {
            "description": "",
            "enabled": True,
            "vlans": [],
        }
        await d.load_candidate(
            {"interfaces": {"Ethernet1/3": {"description": "Polizei", "vlans": [110, 20]}}}
        )
        assert (await d.compare()).render() == (
            "~ interfaces.Ethernet1/3.description: '' -> 'Polizei'\n~ interfaces.Ethernet1/3.vlans: [] -> [20, 110]"
        )
        await d.commit(confirm_timeout=30)
        assert sw.interface("Ethernet1/3").vlans == [20, 110]
        await d.confirm()
        await clock.advance(60)
        assert (await d.get_config())["interfaces"]["Ethernet1/3"] == {
            "description": "Polizei",
            "enabled": True,
            "vlans": [20, 110],
        }
        with pytest.raises(ProvisioningError, match="nothing to confirm"):
            await d.confirm()


async def test_commit_without_confirm_is_reverted(sw: FibreSwitch, clock: FakeClock) -> None:
    async with driver(sw, clock) as d:
        await d.load_candidate({"interfaces": {"Ethernet1/2": {"enabled": False}}})
        await d.commit(confirm_timeout=30)
        assert sw.interface("Ethernet1/2").oper_status() == "DOWN"
        await clock.advance(31)
        for _ in range(300):  # the revert is an HTTP PATCH: wait for it on real IO
            if d.auto_reverted:
                break
            await asyncio.sleep(0.01)
        assert sw.interface("Ethernet1/2").enabled is True and d.auto_reverted
        with pytest.raises(ProvisioningError, match="already reverted"):
            await d.confirm()


async def test_rollback_and_bad_candidates(sw: FibreSwitch, clock: FakeClock) -> None:
    async with driver(sw, clock) as d:
        await d.load_candidate({"interfaces": {"Ethernet1/1": {"description": "x"}}})
        await d.commit(confirm_timeout=300)
        await d.rollback()
        assert sw.interface("Ethernet1/1").description == ""
        with pytest.raises(ProvisioningError, match="no interface 'Ethernet7'"):
            await d.load_candidate({"interfaces": {"Ethernet7": {"description": "x"}}})
        with pytest.raises(ProvisioningError, match="vlans must be ids 1-4094"):
            await d.load_candidate({"interfaces": {"Ethernet1/1": {"vlans": [5000]}}})
        await d.load_candidate({"interfaces": {"Ethernet1/1": {"description": "dropped"}}})
        assert not (await d.compare()).empty
        await d.discard()
        assert (await d.compare()).empty
        with pytest.raises(ProvisioningError, match="nothing loaded"):
            await d.commit()
        with pytest.raises(Unsupported, match="no reboot"):
            await d.reboot()


async def test_device_rejects_invalid_value(sw: FibreSwitch, clock: FakeClock) -> None:
    async with driver(sw, clock) as d:
        body = {
            "openconfig-interfaces:interfaces": {
                "interface": [{"name": "Ethernet1/1", "config": {"description": 5}}]
            }
        }
        with pytest.raises(
            ProtocolError, match="invalid-value: description must be a string"
        ) as info:
            await d.patch(body, "openconfig-interfaces:interfaces")
        assert info.value.code == "invalid-value"


async def test_read_only_user_cannot_patch(sw: FibreSwitch, clock: FakeClock) -> None:
    d = RestconfDriver("sw-t", management(sw.url, username="monitor"), clock=clock)
    async with d:
        await d.load_candidate({"interfaces": {"Ethernet1/1": {"description": "x"}}})
        with pytest.raises(PermissionDenied, match="access-denied"):
            await d.commit()


async def test_faults(sw: FibreSwitch, clock: FakeClock) -> None:
    sw.set_password("admin", "other")
    with pytest.raises(
        AuthenticationFailed, match=r"sw-t: GET /restconf: credentials refused \(HTTP 401\)"
    ):
        async with driver(sw, clock):
            pass
    sw.set_password("admin", PW)
    async with driver(sw, clock) as d:
        sw.http_500 = True
        with pytest.raises(ProtocolError, match="HTTP 500"):
            await d.status()
        sw.http_500 = False
        sw.malformed = True
        with pytest.raises(ProtocolError, match="malformed JSON"):
            await d.status()
        sw.malformed = False
        await sw.set_unreachable(True)
        with pytest.raises(DeviceUnreachable, match="cannot connect"):
            await d.status()
        await sw.set_unreachable(False)
        assert await d.is_alive()
    sw.slow_s = 1.0
    with pytest.raises(DeviceTimeout, match=r"within 0\.2 s"):
        async with driver(sw, clock, timeout=0.2):
            pass


async def test_tls_pin(clock: FakeClock, mast_password: str) -> None:
    ident = SimIdentity.generate()
    s = FibreSwitch(
        "sw-tls", clock=clock, ports=[("sfp0", "1000BASE-LX")], password=mast_password, tls=ident
    )
    await s.start()
    try:
        async with RestconfDriver(
            "sw-tls", management(s.url, username="admin", pin=ident.pin), clock=clock
        ) as d:
            assert (await d.status()).optics
        with pytest.raises(DeviceUnreachable, match="does not match the profile's tls_pin"):
            async with RestconfDriver(
                "sw-tls", management(s.url, username="admin", pin="ab" * 32), clock=clock
            ):
                pass
    finally:
        await s.stop()
