"""The openwrt driver against the OpenWrtMast simulator, over real sockets."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from eventops_hardware.openwrt_mast import OpenWrtMast
from eventops_hardware.tls import SimIdentity

from eventops.adapters.openwrt import OpenWrtDriver
from eventops.clock import FakeClock
from eventops.errors import (
    AuthenticationFailed,
    DeviceTimeout,
    DeviceUnreachable,
    PermissionDenied,
    ProtocolError,
    ProvisioningError,
)
from tests.integration.adapters.conftest import management


def driver(mast: OpenWrtMast, clock: FakeClock, **kw: Any) -> OpenWrtDriver:
    timeout = kw.pop("timeout", 2.0)
    return OpenWrtDriver(mast.device_id, management(mast.url, **kw), clock=clock, timeout=timeout)


async def rpc(url: str, body: Any) -> Any:
    async with (
        aiohttp.ClientSession() as s,
        s.post(url + "/ubus", data=json.dumps(body) if not isinstance(body, bytes) else body) as r,
    ):
        assert r.status == 200
        return await r.json(content_type=None)


def call(
    sid: str, obj: str, method: str, args: dict[str, Any] | None = None, req_id: int = 1
) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": req_id,
        "method": "call",
        "params": [sid, obj, method, args or {}],
    }


ANON = "0" * 32


async def login(url: str, user: str = "root", pw: str = "mast-secret-1") -> str:
    r = await rpc(url, call(ANON, "session", "login", {"username": user, "password": pw}))
    assert r["result"][0] == 0, r
    sid: str = r["result"][1]["ubus_rpc_session"]
    return sid


# -- wire fidelity of the simulator (what rpcd/uhttpd answer) ---------------


async def test_login_and_error_shapes(mast: OpenWrtMast) -> None:
    r = await rpc(
        mast.url, call(ANON, "session", "login", {"username": "root", "password": "mast-secret-1"})
    )
    data = r["result"][1]
    assert r["result"][0] == 0 and len(data["ubus_rpc_session"]) == 32
    assert data["timeout"] == 300 and data["data"] == {"username": "root"}
    assert (
        await rpc(mast.url, call(ANON, "session", "login", {"username": "root", "password": "x"}))
    )["result"] == [6]
    assert (await rpc(mast.url, call(ANON, "session", "login", {"username": "root"})))[
        "result"
    ] == [2]
    # object lookup before the ACL: unknown object is -32000 even for the anonymous sid
    assert (await rpc(mast.url, call(ANON, "nosuch", "x")))["error"]["code"] == -32000
    assert (await rpc(mast.url, call(ANON, "system", "board")))["error"] == {
        "code": -32002,
        "message": "Access denied",
    }
    sid = data["ubus_rpc_session"]
    # an unknown method: [3] where the ACL grants the object (root has "*"), else -32002
    assert (await rpc(mast.url, call(sid, "system", "nosuchmethod")))["result"] == [3]
    ro = await login(mast.url, "monitor")
    assert (await rpc(mast.url, call(ro, "system", "nosuchmethod")))["error"]["code"] == -32002
    bad = await rpc(mast.url, b'{"jsonrpc":"2.0","id":1,"method":')
    assert bad["id"] is None and bad["error"]["code"] == -32700
    listed = await rpc(mast.url, {"jsonrpc": "2.0", "id": 3, "method": "list"})
    assert "iwinfo" in listed["result"] and "uci" in listed["result"]


async def test_batch_answers_by_id(mast: OpenWrtMast) -> None:
    sid = await login(mast.url)
    r = await rpc(
        mast.url,
        [
            call(sid, "system", "board", req_id=7),
            call(sid, "uci", "get", {"config": "nope"}, req_id=8),
        ],
    )
    by_id = {x["id"]: x for x in r}
    assert by_id[7]["result"][1]["release"]["distribution"] == "OpenWrt"
    assert by_id[8]["result"] == [4]


async def test_uci_status_codes(mast: OpenWrtMast, clock: FakeClock) -> None:
    a = await login(mast.url)
    mast.add_user("ops2", "pw2")
    b = await login(mast.url, "ops2", "pw2")
    assert (await rpc(mast.url, call(a, "uci", "get", {})))["result"] == [2]
    assert (await rpc(mast.url, call(a, "uci", "apply", {"rollback": True, "timeout": 30})))[
        "result"
    ] == [5]
    assert (await rpc(mast.url, call(a, "uci", "confirm")))["result"] == [5]
    await rpc(
        mast.url,
        call(
            a,
            "uci",
            "set",
            {"config": "wireless", "section": "default_radio0", "values": {"ssid": "A"}},
        ),
    )
    # staged changes are invisible to other sessions
    other = await rpc(
        mast.url,
        call(
            b, "uci", "get", {"config": "wireless", "section": "default_radio0", "option": "ssid"}
        ),
    )
    assert other["result"][1] == {"value": "OpenWrt"}
    assert (await rpc(mast.url, call(a, "uci", "apply", {"rollback": True, "timeout": 30})))[
        "result"
    ] == [0]
    assert (await rpc(mast.url, call(a, "uci", "changes", {"config": "wireless"})))["result"][
        1
    ] == {"changes": []}
    assert (await rpc(mast.url, call(b, "uci", "apply", {"rollback": True})))["result"] == [6]
    assert (await rpc(mast.url, call(b, "uci", "confirm")))["result"] == [6]
    assert (await rpc(mast.url, call(a, "uci", "commit", {"config": "wireless"})))["result"] == [6]
    assert (await rpc(mast.url, call(a, "uci", "confirm")))["result"] == [0]


# -- the driver -----------------------------------------------------------


async def test_facts_and_status(mast: OpenWrtMast, clock: FakeClock) -> None:
    async with driver(mast, clock) as d:
        facts = await d.facts()
        assert facts.model == "GL.iNet GL-MT6000" and facts.hostname == "mast-t"
        assert facts.firmware.startswith("OpenWrt 23.05") and facts.serial == mast.macaddr
        st = await d.status()
        assert [r.name for r in st.radios] == ["phy0-ap0", "phy1-ap0"]
        r2, r5 = st.radios
        assert (r2.band, r2.channel, r2.frequency_mhz, r2.width_mhz) == ("2g", 1, 2412, 20)
        assert (r5.band, r5.channel, r5.frequency_mhz, r5.width_mhz) == ("5g", 36, 5180, 80)
        assert r5.tx_power_dbm == 20 and r5.noise_dbm is not None and r5.noise_dbm < -80
        assert r2.utilisation_pct is not None and 0 < r2.utilisation_pct < 100
        assert any(r.clients for r in st.radios)
        client = next(c for r in st.radios for c in r.clients)
        assert client.signal_dbm is not None and -95 < client.signal_dbm < -30
        assert client.tx_rate_kbps and client.tx_rate_kbps >= 72_200
        lan = next(i for i in st.interfaces if i.name == "lan")
        assert lan.oper_status == "UP" and lan.speed_mbps is None  # br-lan has no fixed speed
        assert st.system is not None and st.unsupported == []
        up0, bytes0 = st.system.uptime_s, lan.in_octets
        await clock.advance(600)
        st2 = await d.status()
        lan2 = next(i for i in st2.interfaces if i.name == "lan")
        assert st2.system is not None and st2.system.uptime_s == pytest.approx(up0 + 600, abs=1)
        assert lan2.in_octets > bytes0
        # clients join and leave; signal and utilisation drift over 60 steps of 10 s
        macs = {c.mac for r in st.radios for c in r.clients}
        assert {c.mac for r in st2.radios for c in r.clients} != macs
        assert [r.utilisation_pct for r in st2.radios] != [r.utilisation_pct for r in st.radios]


async def test_ssid_change_shows_in_iwinfo_after_confirm(
    mast: OpenWrtMast, clock: FakeClock
) -> None:
    async with driver(mast, clock) as d:
        await d.load_candidate(
            {"wireless": {"default_radio1": {"ssid": "Altstadtfest-Gast", "encryption": "owe"}}}
        )
        diff = await d.compare()
        assert diff.render() == (
            "~ wireless.default_radio1.encryption: 'none' -> 'owe'\n"
            "~ wireless.default_radio1.ssid: 'OpenWrt' -> 'Altstadtfest-Gast'"
        )
        assert [r.ssid for r in (await d.status()).radios] == ["OpenWrt", "OpenWrt"]  # staged only
        await d.commit(confirm_timeout=60)
        await d.confirm()
        await clock.advance(120)  # past the timeout: confirmed, nothing rolls back
        st = await d.status()
        assert [r.ssid for r in st.radios] == ["OpenWrt", "Altstadtfest-Gast"]
        assert (await d.get_config())["wireless"]["default_radio1"]["ssid"] == "Altstadtfest-Gast"
        assert mast.rollbacks == 0


async def test_new_section_and_delete(mast: OpenWrtMast, clock: FakeClock) -> None:
    async with driver(mast, clock) as d:
        await d.load_candidate(
            {
                "wireless": {
                    "staff5": {
                        ".type": "wifi-iface",
                        "device": "radio1",
                        "mode": "ap",
                        "ssid": "Staff",
                        "key": "s3cret!!",
                        "encryption": "sae-mixed",
                    }
                }
            }
        )
        text = (await d.compare()).render()
        assert "+ wireless.staff5 = '(wifi-iface)'" in text
        assert "wireless.staff5.key: (secret)" in text and "s3cret" not in text
        await d.commit()
        st = await d.status()
        assert "phy1-ap1" in [r.name for r in st.radios]
        assert next(r for r in st.radios if r.name == "phy1-ap1").ssid == "Staff"
        await d.load_candidate({"wireless": {"staff5": {"key": None}}})
        assert (await d.compare()).render() == "- wireless.staff5.key: (secret)"
        await d.discard()
        assert (await d.compare()).empty


async def test_apply_without_confirm_rolls_back(mast: OpenWrtMast, clock: FakeClock) -> None:
    async with driver(mast, clock) as d:
        await d.load_candidate({"wireless": {"default_radio0": {"ssid": "Broken"}}})
        await d.commit(confirm_timeout=30)
        assert (await d.status()).radios[0].ssid == "Broken"
        await clock.advance(31)
        st = await d.status()
        assert st.radios[0].ssid == "OpenWrt"
        assert mast.rollbacks == 1
        # rpcd puts the change back into the session's staging
        assert (
            "~ wireless.default_radio0.ssid: 'OpenWrt' -> 'Broken'" in (await d.compare()).render()
        )
        with pytest.raises(ProvisioningError, match="nothing to confirm"):
            await d.confirm()


async def test_rollback_now_and_timer_fault(mast: OpenWrtMast, clock: FakeClock) -> None:
    async with driver(mast, clock) as d:
        await d.load_candidate({"system": {"cfg01e48a": {"hostname": "renamed"}}})
        await d.commit(confirm_timeout=60)
        assert (await d.facts()).hostname == "renamed"
        await d.rollback()
        assert (await d.facts()).hostname == "mast-t"
        with pytest.raises(ProvisioningError, match="no unconfirmed apply"):
            await d.rollback()
        await d.commit(confirm_timeout=60)  # the change is staged again after the rollback
        assert mast.fire_rollback() is True
        assert (await d.facts()).hostname == "mast-t"
        with pytest.raises(ProvisioningError, match="the rollback timer already fired"):
            await d.confirm()


async def test_relogin_reclaims_pending_apply(mast: OpenWrtMast, clock: FakeClock) -> None:
    async with driver(mast, clock) as d:
        await d.load_candidate({"wireless": {"default_radio0": {"ssid": "Moved"}}})
        await d.commit(confirm_timeout=60)
        pending_sid = mast.pending.sid if mast.pending else None
    # a fresh driver (e.g. after the management address moved) logs in as the same user
    async with driver(mast, clock) as d2:
        assert d2._sid == pending_sid
        await d2.confirm()
    await clock.advance(120)
    assert mast.rollbacks == 0 and mast.pending is None


async def test_apply_refused_while_other_apply_pending(mast: OpenWrtMast, clock: FakeClock) -> None:
    mast.add_user("ops2", "pw2")
    async with driver(mast, clock) as d:
        await d.load_candidate({"wireless": {"default_radio0": {"ssid": "First"}}})
        await d.commit(confirm_timeout=60)
        other = await login(mast.url, "ops2", "pw2")
        await rpc(
            mast.url,
            call(
                other,
                "uci",
                "set",
                {"config": "system", "section": "cfg01e48a", "values": {"hostname": "x"}},
            ),
        )
        r = await rpc(mast.url, call(other, "uci", "apply", {"rollback": True}))
        assert r["result"] == [6]
        await d.confirm()


async def test_session_expiry_mid_run(mast: OpenWrtMast, clock: FakeClock) -> None:
    async with driver(mast, clock) as d:
        await d.status()
        first = d._sid
        await clock.advance(299)
        await d.facts()  # sliding: still the same session
        assert d._sid == first
        await clock.advance(301)
        facts = await d.facts()  # expired: -32002, one re-login, retry
        assert facts.hostname == "mast-t" and d._sid != first
        mast.expire_sessions()
        assert (await d.status()).radios


async def test_read_only_user(
    mast: OpenWrtMast, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the simulator's built-in read-only account
    async with driver(mast, clock, username="monitor") as d:
        assert (await d.status()).radios
        with pytest.raises(
            PermissionDenied,
            match=r"uci set: access denied to 'monitor' \(ubus -32002 after a fresh login\)",
        ):
            await d.load_candidate({"wireless": {"default_radio0": {"ssid": "nope"}}})
        with pytest.raises(PermissionDenied):
            await d.reboot()


async def test_missing_objects_are_unsupported_not_failures(
    mast: OpenWrtMast, clock: FakeClock
) -> None:
    mast.remove_object("iwinfo")
    mast.remove_object("network.interface")
    async with driver(mast, clock) as d:
        st = await d.status()
        assert st.radios == [] and st.interfaces == []
        assert st.unsupported == ["network.interface", "iwinfo"]
        assert st.facts.model == "GL.iNet GL-MT6000"


async def test_wrong_credentials(mast: OpenWrtMast, clock: FakeClock) -> None:
    mast.set_password("root", "changed")
    with pytest.raises(
        AuthenticationFailed,
        match=r"mast-t: login as 'root' refused \(wrong user name or password\)",
    ):
        async with driver(mast, clock):
            pass


async def test_wrong_credentials_mid_run(mast: OpenWrtMast, clock: FakeClock) -> None:
    async with driver(mast, clock) as d:
        await d.facts()
        mast.set_password("root", "changed")
        with pytest.raises(AuthenticationFailed):
            await d.facts()


async def test_reboot(mast: OpenWrtMast, clock: FakeClock) -> None:
    mast.boot_s = 40
    async with driver(mast, clock) as d:
        before = (await d.facts()).uptime_s
        assert before > 500
        await d.reboot()
        assert mast.sessions == {}
        with pytest.raises(DeviceUnreachable, match="closed the connection"):
            await d.facts()
        await clock.advance(45)
        assert (await d.facts()).uptime_s == pytest.approx(5, abs=1)


async def test_unreachable(mast: OpenWrtMast, clock: FakeClock) -> None:
    async with driver(mast, clock) as d:
        await mast.set_unreachable(True)
        with pytest.raises(DeviceUnreachable, match=rf"mast-t: cannot connect to {mast.url}/ubus"):
            await d.facts()
        assert await d.is_alive() is False
        await mast.set_unreachable(False)
        assert await d.is_alive() is True


async def test_slower_than_timeout(mast: OpenWrtMast, clock: FakeClock) -> None:
    mast.slow_s = 1.0
    with pytest.raises(DeviceTimeout, match=r"no answer to ubus call session login within 0.2 s"):
        async with driver(mast, clock, timeout=0.2):
            pass


async def test_malformed_json(mast: OpenWrtMast, clock: FakeClock) -> None:
    async with driver(mast, clock) as d:
        mast.malformed = True
        with pytest.raises(ProtocolError, match="malformed JSON from ubus"):
            await d.status()


async def test_http_500(mast: OpenWrtMast, clock: FakeClock) -> None:
    async with driver(mast, clock) as d:
        mast.http_500 = True
        with pytest.raises(ProtocolError, match="HTTP 500") as info:
            await d.facts()
        assert info.value.code == 500


async def test_tls_pin_match_and_mismatch(clock: FakeClock, mast_password: str) -> None:
    ident = SimIdentity.generate()
    m = OpenWrtMast("mast-tls", clock=clock, password=mast_password, tls=ident)
    await m.start()
    try:
        assert m.url.startswith("https://")
        async with OpenWrtDriver("mast-tls", management(m.url, pin=ident.pin), clock=clock) as d:
            assert (await d.facts()).model
        wrong = SimIdentity.generate().pin
        with pytest.raises(
            DeviceUnreachable, match=r"TLS certificate at .* does not match the profile's tls_pin"
        ):
            async with OpenWrtDriver("mast-tls", management(m.url, pin=wrong), clock=clock):
                pass
    finally:
        await m.stop()


async def test_third_party_client_aio_openwrt(mast: OpenWrtMast) -> None:
    from aio_openwrt import Ubus

    async with Ubus(mast.url + "/ubus", "root", "mast-secret-1") as client:
        await client.login()
        assert client.session_id is not None and len(client.session_id) == 32
        board = await client.system.board()
        assert board["release"]["distribution"] == "OpenWrt"
        assert board["hostname"] == "mast-t"


async def _until_sleeping(clock: FakeClock) -> None:
    for _ in range(500):
        if clock.pending:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the driver never started waiting")


async def test_confirm_waits_until_the_mast_answers_again(
    mast: OpenWrtMast, clock: FakeClock
) -> None:
    async with driver(mast, clock) as d:
        await d.load_candidate({"network": {"lan": {"ipaddr": "10.99.0.2"}}})
        await d.commit(confirm_timeout=60)
        await mast.set_unreachable(True)  # the change moved the mast away for a while
        task = asyncio.create_task(d.confirm())
        await _until_sleeping(clock)
        assert mast.pending is not None
        await mast.set_unreachable(False)
        await clock.advance(1)
        await task
        assert mast.pending is None
        await clock.advance(120)
        assert mast.rollbacks == 0


async def test_confirm_gives_up_at_the_deadline(mast: OpenWrtMast, clock: FakeClock) -> None:
    async with driver(mast, clock) as d:
        await d.load_candidate({"network": {"lan": {"ipaddr": "10.99.0.3"}}})
        await d.commit(confirm_timeout=5)
        await mast.set_unreachable(True)
        task = asyncio.create_task(d.confirm())
        for _ in range(2000):
            if task.done():
                break
            if clock.pending:
                await clock.advance(1)
            else:
                await asyncio.sleep(0.005)
        assert clock.monotonic() <= 7
        with pytest.raises(DeviceUnreachable, match=r"cannot connect to .* \(connection refused\)"):
            await task
        await mast.set_unreachable(False)
        assert mast.committed("network")["lan"]["ipaddr"] != "10.99.0.3"  # rolled back on the mast
        assert mast.rollbacks == 1
        assert "network.lan.ipaddr" in (await d.compare()).render()  # and staged again


async def test_oversized_request_is_refused_before_sending(
    mast: OpenWrtMast, clock: FakeClock
) -> None:
    async with driver(mast, clock) as d:
        before = mast.requests
        with pytest.raises(ProtocolError, match="exceeds the 64 KiB limit"):
            await d.load_candidate({"system": {"cfg01e48a": {"notes": "x" * 70_000}}})
        assert mast.requests == before + 1  # the get_config before it, not the set


async def test_simulator_refuses_bodies_over_64k_and_other_paths(mast: OpenWrtMast) -> None:
    async with aiohttp.ClientSession() as s:
        # uhttpd: HTTP 200 with -32700 and the connection closed
        async with s.post(mast.url + "/ubus", data=b"[" + b" " * 70_000 + b"]") as r:
            assert r.status == 200
            assert (await r.json())["error"]["code"] == -32700
            assert r.headers.get("Connection", "").lower() == "close"
        async with s.get(mast.url + "/ubus") as r:
            assert r.status == 404
        async with s.get(mast.url + "/cgi-bin/control") as r:
            assert r.status == 404
