"""Third-party ubus clients against the mast simulator (as they would use a real mast).

aio-openwrt (async, aiohttp) and openwrt-ubus-rpc (requests, run in a
thread) log in, ``list *``, read ``network.wireless status``, iwinfo and
UCI, and discover what they discover on a real mast (per-interface
``network.interface.<name>`` objects, ``hostapd.<ifname>``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from eventops_hardware.openwrt_mast import OpenWrtMast

from tests.integration.adapters.conftest import PASSWORD


async def test_aio_openwrt(mast: OpenWrtMast) -> None:
    from aio_openwrt import Ubus

    async with Ubus(mast.url + "/ubus", "root", PASSWORD) as client:
        await client.login()
        assert client.session_id is not None and len(client.session_id) == 32
        assert client.ubus_access == {"*": ["*"]}
        everything = await client.list("*")
        assert {"uci", "iwinfo", "network.wireless", "file", "hostapd.phy1-ap0"} <= set(everything)
        assert everything["iwinfo"]["info"] == {"device": 3}
        # interface discovery: the per-interface objects netifd registers
        names = sorted(i._key for i in await client.network.interface.list_children())
        assert names == ["lan", "loopback", "wan"]
        # (aio-openwrt 0.3's InterfaceEntry.status() calls "interfaceentry": its own bug)
        lan = await client.call("network.interface.lan", "status")
        assert lan["up"] is True and lan["l3_device"] == "br-lan.1"
        wl = await client.call("network.wireless", "status")
        assert wl["radio0"]["interfaces"][0]["ifname"] == "phy0-ap0"
        devices = (await client.call("iwinfo", "devices"))["devices"]
        assert devices == ["phy0-ap0", "phy1-ap0"]
        info = await client.call("iwinfo", "info", {"device": "phy1-ap0"})
        assert info["ssid"] == "OpenWrt" and info["frequency"] == 5180
        ifaces = await client.call("uci", "get", {"config": "wireless", "type": "wifi-iface"})
        assert sorted(ifaces["values"]) == ["default_radio0", "default_radio1"]
        hostapd = sorted(h._path for h in await client.hostapd.list_children())
        assert hostapd == ["hostapd.phy0-ap0", "hostapd.phy1-ap0"]
        clients = await client.hostapd["phy1-ap0"].get_clients()
        assert isinstance(clients["clients"], dict)
        text = await client.file.read(path="/etc/config/wireless")
        assert "option ssid 'OpenWrt'" in text
        await client.session.destroy()
    assert mast.sessions == {}


def _ubus_rpc_session(url: str) -> dict[str, Any]:
    """The openwrt-ubus-rpc calls (blocking requests: run in a thread)."""
    from openwrt.ubus import Ubus

    client = Ubus(url, "root", PASSWORD, timeout=5)
    sid = client.connect()
    everything = client.api_call("list", "*")
    return {
        "sid": sid,
        "list": everything,
        "board": client.system_board(),
        "wireless": client.api_call("call", "network.wireless", "status"),
        "iwinfo": client.api_call("call", "iwinfo", "info", {"device": "phy0-ap0"}),
        "uci": client.get_uci_config("wireless", "wifi-device"),
        "hostapd": client.get_hostapd(),
        "hostapd_clients": client.get_hostapd_clients("hostapd.phy0-ap0"),
        "file": client.file_read("/etc/config/network"),
    }


async def test_openwrt_ubus_rpc(mast: OpenWrtMast) -> None:
    got = await asyncio.to_thread(_ubus_rpc_session, mast.url + "/ubus")
    assert isinstance(got["sid"], str) and len(got["sid"]) == 32
    assert {"uci", "iwinfo", "network.wireless", "file", "system"} <= set(got["list"])
    assert got["list"]["uci"]["get"]["config"] == 3
    assert got["board"]["hostname"] == "mast-t"
    assert got["wireless"]["radio1"]["config"]["band"] == "5g"
    assert got["iwinfo"]["ssid"] == "OpenWrt" and got["iwinfo"]["channel"] == 1
    assert sorted(got["uci"]["values"]) == ["radio0", "radio1"]
    assert set(got["hostapd"]) == {"hostapd.phy0-ap0", "hostapd.phy1-ap0"}
    assert "get_clients" in got["hostapd"]["hostapd.phy0-ap0"]
    assert isinstance(got["hostapd_clients"]["clients"], dict)
    assert "config bridge-vlan" in got["file"]["data"]
