"""The openwrt driver against what real rpcd/uhttpd do (issue 14, adapter bugs 1-8).

Each test sets the simulator up the way a real mast behaved (restricted
ACLs, rpcd restarts, real change records) and asserts what the driver
reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
from eventops_hardware.openwrt_mast import OpenWrtMast, restricted_acl

from eventops.adapters.openwrt import OpenWrtDriver, replay_changes
from eventops.clock import FakeClock
from eventops.errors import (
    DeviceTimeout,
    PermissionDenied,
    ProtocolError,
    ProvisioningError,
    Unsupported,
)
from eventops.monitor import checks
from eventops.monitor.poller import DevicePoller
from eventops.profile import load_profile
from tests.integration.adapters.conftest import PASSWORD, REPO, management

T = TypeVar("T")


def driver(mast: OpenWrtMast, clock: FakeClock, **kw: Any) -> OpenWrtDriver:
    return OpenWrtDriver(mast.device_id, management(mast.url, **kw), clock=clock, timeout=2.0)


async def drive(clock: FakeClock, aw: Awaitable[T], step: float = 0.5) -> T:
    """Run ``aw`` to the end, advancing the fake clock whenever it sleeps."""
    task = asyncio.ensure_future(aw)
    for _ in range(4000):
        if task.done():
            return task.result()
        if clock.pending:
            await clock.advance(step)
        else:
            await asyncio.sleep(0.002)
    task.cancel()
    raise AssertionError("the driver call never finished")


# -- 1 + 2: an ACL without iwinfo degrades only the radio checks ---------------------


async def test_monitor_without_iwinfo_stays_reachable_with_one_session(
    mast: OpenWrtMast, clock: FakeClock
) -> None:
    mast.add_user("monitor", PASSWORD, acl=restricted_acl(without=("iwinfo",)))
    d = driver(mast, clock, username="monitor")
    poller = DevicePoller(
        mast.device_id,
        d,
        interval_s=10,
        timeout_s=4,
        clock=clock,
        limit=asyncio.Semaphore(1),
        on_result=lambda _r: asyncio.sleep(0),
    )
    profile = load_profile(REPO / "profiles" / "demo.toml")
    try:
        for _ in range(12):
            res = await poller.poll_once()
            assert res.ok, res.error
            assert res.status is not None
            st = res.status
            assert st.radios == [] and st.unsupported == ["iwinfo"]
            assert st.unavailable == {"iwinfo": "access denied to monitor"}
            assert st.facts.model == "GL.iNet GL-MT6000" and st.interfaces
            got = checks.mast_checks(profile, profile.masts[0], st)
            assert all(c.level is not checks.Level.critical for c in got)
            assert {c.reason for c in got if c.name.startswith("radio.")} == {
                "not available: access denied to monitor"
            }
            await clock.advance(10)
        assert d.logins == 1  # no second login per poll
        assert len(mast.sessions) == 1  # one session reused across polls
    finally:
        await poller.stop()
    assert mast.sessions == {}  # close() destroyed it


async def test_mast_without_rpcd_mod_iwinfo(mast: OpenWrtMast, clock: FakeClock) -> None:
    mast.remove_object("iwinfo")
    async with driver(mast, clock) as d:
        st = await d.status()
        assert st.unavailable == {"iwinfo": "rpcd-mod-iwinfo not installed"}
        assert st.interfaces and st.system is not None


# -- 3: a transient -32000 while rpcd restarts is waited out -------------------------


async def test_rpcd_restart_is_waited_out_not_unsupported(
    mast: OpenWrtMast, clock: FakeClock
) -> None:
    async with driver(mast, clock) as d:
        await d.status()
        mast.restart_rpcd(down_s=2.0)
        cfg = await drive(clock, d.get_config())
        assert cfg["wireless"]["default_radio0"]["ssid"] == "OpenWrt"
        mast.restart_rpcd(down_s=1.5)
        st = await drive(clock, d.status())
        assert st.unsupported == [] and len(st.radios) == 2
        assert d.logins == 3  # the restarts ended our session each time


async def test_an_rpcd_object_that_never_returns_is_unsupported(
    mast: OpenWrtMast, clock: FakeClock
) -> None:
    async with driver(mast, clock) as d:
        mast.remove_object("uci")
        with pytest.raises(Unsupported, match=r"uci get: ubus object not found \(ubus -32000"):
            await drive(clock, d.get_config())
        assert clock.monotonic() >= d.restart_wait_s


# -- 4: rpcd restart between apply and confirm keeps the new config -------------------


async def test_rpcd_restart_before_confirm_reports_new_config_kept(
    mast: OpenWrtMast, clock: FakeClock
) -> None:
    async with driver(mast, clock) as d:
        await d.load_candidate({"wireless": {"default_radio0": {"ssid": "Kept"}}})
        await d.commit(confirm_timeout=60)
        mast.restart_rpcd(down_s=1.0)
        with pytest.raises(
            ProvisioningError,
            match=r"nothing to confirm: new config kept: rpcd restarted before confirm",
        ):
            await drive(clock, d.confirm())
    await clock.advance(120)
    assert mast.committed("wireless")["default_radio0"]["ssid"] == "Kept"
    assert mast.rollbacks == 0


async def test_session_expiry_before_confirm_rolls_back(
    mast: OpenWrtMast, clock: FakeClock
) -> None:
    async with driver(mast, clock) as d:
        await d.load_candidate({"wireless": {"default_radio0": {"ssid": "Lost"}}})
        await d.commit(confirm_timeout=60)
        mast.expire_sessions()  # the apply's session is gone: a new login cannot reclaim it
        with pytest.raises(ProvisioningError, match="belongs to another session"):
            await d.confirm()
        await clock.advance(61)
        assert mast.committed("wireless")["default_radio0"]["ssid"] == "OpenWrt"
        assert mast.rollbacks == 1


async def test_reboot_before_confirm_is_named(mast: OpenWrtMast, clock: FakeClock) -> None:
    async with driver(mast, clock) as d:
        await d.load_candidate({"system": {"cfg01e48a": {"hostname": "after-boot"}}})
        await d.commit(confirm_timeout=60)
        await clock.advance(5)
        mast.reboot()
        with pytest.raises(ProvisioningError, match="new config kept: the mast rebooted"):
            await d.confirm()


# -- 5: an ACL denial on confirm is not "another session" -----------------------------


async def test_confirm_denied_by_acl_says_so(mast: OpenWrtMast, clock: FakeClock) -> None:
    acl = {
        "session": ["access", "login", "destroy"],
        "uci": ["get", "set", "add", "delete", "changes", "apply", "revert"],
    }
    mast.add_user("staging", PASSWORD, acl=acl)
    async with driver(mast, clock, username="staging") as d:
        await d.load_candidate({"wireless": {"default_radio0": {"ssid": "Nope"}}})
        await d.commit(confirm_timeout=30)
        with pytest.raises(PermissionDenied, match="ACL of 'staging' does not allow it") as info:
            await d.confirm()
        assert "another session" not in str(info.value)


# -- 6: compare reads real rpcd change records ----------------------------------------


async def test_compare_named_add_and_lists(mast: OpenWrtMast, clock: FakeClock) -> None:
    async with driver(mast, clock) as d:
        await d.load_candidate(
            {
                "network": {
                    "vlan10": {".type": "bridge-vlan", "device": "br-lan", "ports": ["lan1:t"]},
                    "cfg030f15": {"ports": ["lan1"]},
                }
            }
        )
        changes = (await d.call("uci", "changes", {"config": "network"}))["changes"]
        assert ["set", "vlan10", "bridge-vlan"] in changes  # a named add, three elements
        assert ["list-add", "vlan10", "ports", "lan1:t"] in changes
        assert (await d.compare()).render().splitlines() == [
            "~ network.cfg030f15.ports: ['lan1', 'lan2'] -> ['lan1']",
            "+ network.vlan10 = '(bridge-vlan)'",
            "+ network.vlan10.device = 'br-lan'",
            "+ network.vlan10.ports = ['lan1:t']",
        ]
        await d.discard()
        # setting a list to what it is stages remove + list-add, which is no change
        await d.call(
            "uci",
            "set",
            {"config": "network", "section": "cfg030f15", "values": {"ports": ["lan1", "lan2"]}},
        )
        assert (await d.call("uci", "changes", {"config": "network"}))["changes"] == [
            ["remove", "cfg030f15", "ports"],
            ["list-add", "cfg030f15", "ports", "lan1"],
            ["list-add", "cfg030f15", "ports", "lan2"],
        ]
        assert (await d.compare()).empty


def test_replay_changes_is_pure() -> None:
    running = {"network": {"lan": {".type": "interface", "proto": "static"}}}
    out = replay_changes(
        running,
        {
            "network": [
                ["add", "cfg0a", "device"],
                ["set", "cfg0a", "name", "br-x"],
                ["list-add", "cfg0a", "ports", "lan1"],
                ["list-add", "cfg0a", "ports", "lan2"],
                ["list-del", "cfg0a", "ports", "lan1"],
                ["remove", "lan", "proto"],
                ["bogus"],
            ]
        },
    )
    assert out["network"] == {
        "lan": {".type": "interface"},
        "cfg0a": {".type": "device", "name": "br-x", "ports": ["lan2"]},
    }
    assert running["network"]["lan"]["proto"] == "static"  # not modified


# -- 7: a plain commit while another apply is pending applied nothing ----------------


async def test_commit_without_rollback_during_pending_apply_is_an_error(
    mast: OpenWrtMast, clock: FakeClock
) -> None:
    mast.add_user("ops2", "pw2")
    async with driver(mast, clock) as first:
        await first.load_candidate({"wireless": {"default_radio0": {"ssid": "First"}}})
        await first.commit(confirm_timeout=60)
        other = OpenWrtDriver(
            "mast-t", management(mast.url, username="ops2"), clock=clock, timeout=2.0
        )
        other.management.password.reveal()  # same env secret; the user differs
        mast.users["ops2"].password = PASSWORD
        async with other:
            await other.load_candidate({"system": {"cfg01e48a": {"hostname": "second"}}})
            with pytest.raises(ProtocolError, match="answered OK but applied nothing"):
                await other.commit()
            assert mast.committed("system")["cfg01e48a"]["hostname"] == "mast-t"
        await first.confirm()


# -- 8: sessions are destroyed on close; is_alive reads the access boolean ------------


async def test_close_destroys_the_session_and_is_alive(mast: OpenWrtMast, clock: FakeClock) -> None:
    for _ in range(5):  # five CLI runs leave nothing behind
        async with driver(mast, clock) as d:
            assert await d.is_alive() is True
            await d.facts()
    assert mast.sessions == {}
    async with driver(mast, clock) as d:
        await d.load_candidate({"wireless": {"default_radio0": {"ssid": "Pending"}}})
        await d.commit(confirm_timeout=60)
    assert len(mast.sessions) == 1  # the apply's session stays, so a later run can confirm
    async with driver(mast, clock) as d2:
        await d2.confirm()
    assert mast.sessions == {}


async def test_close_after_a_silent_mast_does_not_wait_again(
    mast: OpenWrtMast, clock: FakeClock
) -> None:
    d = OpenWrtDriver(mast.device_id, management(mast.url), clock=clock, timeout=0.2)
    await d.open()
    mast.slow_s = 1.0
    with pytest.raises(DeviceTimeout):
        await d.facts()
    before = mast.requests
    await d.close()  # no session destroy sent to a mast that just did not answer
    assert mast.requests == before


async def test_facts_without_network_device(mast: OpenWrtMast, clock: FakeClock) -> None:
    mast.remove_object("network.device")
    async with driver(mast, clock) as d:
        facts = await d.facts()
        assert facts.model == "GL.iNet GL-MT6000" and facts.serial == ""
        assert (await d.status()).unavailable == {
            "network.device": "no network.device object (netifd not running)"
        }
