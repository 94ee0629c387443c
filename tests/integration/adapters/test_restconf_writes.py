"""The RESTCONF simulator answers PUT, POST and DELETE as RFC 8040 says."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from eventops_hardware.fibre_switch import FibreSwitch

from eventops.clock import FakeClock

YANG = "application/yang-data+json"
IF = "/restconf/data/openconfig-interfaces:interfaces"
E12 = IF + "/interface=Ethernet1%2F2"


@pytest.fixture
async def sw(clock: FakeClock, mast_password: str) -> AsyncIterator[FibreSwitch]:
    s = FibreSwitch(
        "sw-w",
        clock=clock,
        ports=[("Ethernet1/1", "1000BASE-LX"), ("Ethernet1/2", None)],
        password=mast_password,
        seed=5,
    )
    s.add_user("viewer", mast_password, read_only=True)
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


async def req(
    sw: FibreSwitch,
    method: str,
    path: str,
    body: Any = None,
    *,
    user: str = "admin",
    ctype: str | None = YANG,
) -> tuple[int, dict[str, str], Any]:
    auth = base64.b64encode(f"{user}:{sw.users[user][0]}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}"}
    if ctype is not None and body is not None:
        headers["Content-Type"] = ctype
    data = None if body is None else json.dumps(body).encode()
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, sw.url + path, data=data, headers=headers) as r,
    ):
        text = await r.text()
        return r.status, dict(r.headers), json.loads(text) if text.startswith("{") else text


def error(body: Any) -> dict[str, Any]:
    (err,) = body["ietf-restconf:errors"]["error"]
    assert isinstance(err, dict)
    return err


async def test_put_replaces_an_interface_and_its_config(sw: FibreSwitch) -> None:
    port = sw.interface("Ethernet1/2")
    port.description, port.vlans = "old", [20, 30]
    entry = {"name": "Ethernet1/2", "config": {"name": "Ethernet1/2", "enabled": False}}
    status, _h, _b = await req(sw, "PUT", E12, {"openconfig-interfaces:interface": [entry]})
    assert status == 204
    # replace: what the body leaves out goes back to its default
    assert (port.description, port.enabled, port.vlans) == ("", False, [])
    status, _h, _b = await req(
        sw, "PUT", E12 + "/config", {"openconfig-interfaces:config": {"description": "uplink"}}
    )
    assert status == 204 and (port.description, port.enabled) == ("uplink", True)
    status, _h, _b = await req(
        sw, "PUT", E12 + "/config/description", {"openconfig-interfaces:description": "x"}
    )
    assert status == 204 and port.description == "x"
    status, _h, body = await req(
        sw, "PUT", E12, {"openconfig-interfaces:interface": [{**entry, "name": "Ethernet1/1"}]}
    )
    assert status == 400 and error(body)["error-tag"] == "invalid-value"
    status, _h, body = await req(sw, "PUT", E12, {"a": 1, "b": 2})
    assert status == 400 and error(body)["error-tag"] == "malformed-message"
    status, _h, body = await req(
        sw, "PUT", E12 + "/config", {"openconfig-interfaces:config": {"mtu2": 1}}
    )
    assert status == 400 and error(body)["error-tag"] == "unknown-element"
    status, _h, body = await req(sw, "PUT", IF, {"openconfig-interfaces:interfaces": {}})
    assert status == 405 and error(body)["error-tag"] == "operation-not-supported"
    status, _h, body = await req(
        sw, "PUT", IF + "/interface=Nope", {"openconfig-interfaces:interface": []}
    )
    assert status == 404 and error(body)["error-tag"] == "invalid-value"


async def test_post_creates_or_says_data_exists(sw: FibreSwitch) -> None:
    port = sw.interface("Ethernet1/2")
    status, headers, _b = await req(
        sw, "POST", E12 + "/config", {"openconfig-interfaces:description": "new"}
    )
    assert status == 201 and port.description == "new"
    assert headers["Location"] == E12 + "/config/description"
    status, _h, body = await req(
        sw, "POST", E12 + "/config", {"openconfig-interfaces:description": "again"}
    )
    assert status == 409 and error(body)["error-tag"] == "data-exists"
    assert port.description == "new"
    status, _h, body = await req(
        sw, "POST", IF, {"openconfig-interfaces:interface": [{"name": "Ethernet1/1"}]}
    )
    assert status == 409 and error(body)["error-tag"] == "data-exists"
    status, _h, body = await req(
        sw, "POST", IF, {"openconfig-interfaces:interface": [{"name": "Ethernet9/9"}]}
    )
    assert status == 400 and "ports are physical" in error(body)["error-message"]


async def test_delete_removes_or_says_data_missing(sw: FibreSwitch) -> None:
    port = sw.interface("Ethernet1/2")
    port.description, port.vlans = "d", [20, 30]
    vlans = E12 + "/openconfig-if-ethernet:ethernet/openconfig-vlan:switched-vlan/config"
    assert (await req(sw, "DELETE", vlans + "/trunk-vlans=20"))[0] == 204
    assert port.vlans == [30]
    status, _h, body = await req(sw, "DELETE", vlans + "/trunk-vlans=20")
    assert status == 409 and error(body)["error-tag"] == "data-missing"
    assert (await req(sw, "DELETE", vlans + "/trunk-vlans"))[0] == 204 and port.vlans == []
    assert (await req(sw, "DELETE", E12 + "/config/description"))[0] == 204
    status, _h, body = await req(sw, "DELETE", E12 + "/config/description")
    assert status == 409 and error(body)["error-tag"] == "data-missing"
    status, _h, body = await req(sw, "DELETE", E12)
    assert status == 405 and error(body)["error-tag"] == "operation-not-supported"


async def test_writes_need_rights_and_the_media_type(sw: FibreSwitch) -> None:
    for method in ("PUT", "POST", "DELETE"):
        status, _h, body = await req(
            sw, method, E12 + "/config", {"openconfig-interfaces:config": {}}, user="viewer"
        )
        assert status == 403 and error(body)["error-tag"] == "access-denied"
    for method in ("PUT", "POST"):
        status, _h, _b = await req(
            sw, method, E12 + "/config", {"openconfig-interfaces:config": {}}, ctype=None
        )
        assert status == 415
    status, _h, _b = await req(sw, "GET", E12)
    assert status == 200
