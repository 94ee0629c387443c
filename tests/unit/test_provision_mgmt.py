"""The management path survives every rendered mast config (netifd's bridge-vlan rules)."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import pytest
from eventops_hardware.openwrt_mast import default_uci

from eventops.adapters.base import Change
from eventops.engine.provisioning import dangerous_changes
from eventops.errors import ProvisioningError
from eventops.profile import load_profile
from eventops.provision.apply import DevicePlan, PlanReport
from eventops.provision.render import (
    management_path_changes,
    management_problems,
    merge_uci,
    port_pvid,
    redacted_diff,
    render,
    resolve,
    secret_paths,
)

REPO = Path(__file__).resolve().parents[2]
PROFILES = sorted((REPO / "profiles").glob("*.toml"))


def factory_network() -> dict[str, dict[str, object]]:
    net: dict[str, dict[str, object]] = default_uci(
        "OpenWrt", random.Random(1), vlan_filtering=False
    )["network"]
    return net


@pytest.mark.parametrize("staged", [True, False], ids=["vlan-filtering", "factory"])
@pytest.mark.parametrize("path", PROFILES, ids=[p.stem for p in PROFILES])
def test_every_example_profile_keeps_every_mast_reachable(path: Path, staged: bool) -> None:
    profile = load_profile(path)
    assert profile.masts
    for mast_id, desired in render(profile, [m.id for m in profile.masts]).items():
        running = default_uci(mast_id, random.Random(mast_id), vlan_filtering=staged)
        assert management_problems(running["network"]) == []
        tree = resolve(desired, running)
        after = merge_uci(running["network"], tree.get("network", {}))
        assert management_problems(after) == [], mast_id
        changes = redacted_diff(mast_id, running, tree, secret_paths(tree)).changes
        flagged = {p for p, _why in management_path_changes(changes)}
        if any(s.get(".type") == "bridge-vlan" for s in after.values()):
            # VLAN filtering on: management rides on VLAN 1, untagged and primary on lan1
            assert after["lan"]["device"] == "br-lan.1"
            assert port_pvid(after, "br-lan", "lan1") == 1
            assert port_pvid(after, "br-lan", "lan2") == 1
        if staged:  # SSID VLANs are tagged-only: the management path is untouched
            assert flagged <= {"network.lan.ipaddr"}, (mast_id, flagged)
        elif any(s.get(".type") == "bridge-vlan" for s in after.values()):
            assert {"network.evo_mgmt_bv", "network.lan.device"} <= flagged


def test_the_rules_catch_what_cuts_the_management_path() -> None:
    net = factory_network()
    bv = {".type": "bridge-vlan", "device": "br-lan", "vlan": "20", "ports": ["lan1:t"]}
    # SSID VLANs alone (the old render): filtering on, lan still on plain br-lan
    cut = merge_uci(net, {"v20": bv})
    assert "uses plain br-lan" in management_problems(cut)[0]
    # on br-lan.1 but lan1 only tagged in VLAN 1: untagged frames are dropped
    tagged = merge_uci(
        net,
        {
            "v20": bv,
            "m": {**bv, "vlan": "1", "ports": ["lan1:t", "lan2"]},
            "lan": {"device": "br-lan.1"},
        },
    )
    assert management_problems(tagged) == [
        "untagged frames on lan1 go to no VLAN (dropped), not the management VLAN 1"
    ]
    # a lower untagged VLAN wins as PVID unless '*' marks the management one
    lower = {"v5": {**bv, "vlan": "5", "ports": ["lan1"]}, "lan": {"device": "br-lan.20"}}
    lower_net = merge_uci(net, {**lower, "v20": {**bv, "ports": ["lan1"]}})
    assert "go to VLAN 5, not the management VLAN 20" in management_problems(lower_net)[0]
    starred = merge_uci(net, {**lower, "v20": {**bv, "ports": ["lan1:*"]}})
    assert management_problems(starred) == []
    # the bridge itself left out of the VLAN, the address gone, the uplink unplugged
    nolocal = merge_uci(starred, {"v20": {"local": "0"}})
    assert "local 0" in management_problems(nolocal)[0]
    assert "without an address" in management_problems(merge_uci(net, {"lan": {"ipaddr": None}}))[0]
    unplugged = merge_uci(net, {"cfg030f15": {"ports": ["lan2"]}})
    assert management_problems(unplugged, uplink="lan1") == [
        "uplink port lan1 is not a port of bridge br-lan"
    ]


def test_resolve_refuses_a_config_it_cannot_make_safe() -> None:
    profile = load_profile(REPO / "profiles" / "demo.toml")
    desired = render(profile, ["mast-01"])["mast-01"]
    running = default_uci("mast-01", random.Random(1))
    running["network"]["cfg030f15"]["ports"] = []  # a bridge without ports
    with pytest.raises(ProvisioningError, match="would cut the management path: uplink port"):
        resolve(desired, running)


def test_plan_flags_management_path_changes_as_dangerous_with_the_reason() -> None:
    changes = [
        Change(path="network.evo_mgmt_bv", op="add", new="(bridge-vlan)"),
        Change(path="network.evo_mgmt_bv.ports", op="add", new=["lan1:u*"]),
        Change(path="network.lan.device", op="change", old="br-lan", new="br-lan.1"),
        Change(path="network.vlan20_bv", op="add", new="(bridge-vlan)"),
        Change(path="network.vlan20_bv.ports", op="add", new=["lan1:t"]),
        Change(path="network.vlan20_bv.vlan", op="add", new="20"),
        Change(path="network.guest_bv.ports", op="change", old=["lan2:t"], new=["lan2"]),
        Change(path="wireless.radio0.channel", op="change", old="1", new="6"),
    ]
    assert management_path_changes(changes) == [
        ("network.evo_mgmt_bv", "puts management on VLAN 1 of the bridge"),
        ("network.lan.device", "changes the management interface's device"),
        (
            "network.guest_bv.ports",
            "changes which VLAN untagged frames on a bridge port reach",
        ),
    ]
    profile = load_profile(REPO / "profiles" / "demo.toml")
    eng = SimpleNamespace(
        profile=profile, links={lk.id: SimpleNamespace(handed_to=None) for lk in profile.links}
    )
    plan = PlanReport(
        devices=[DevicePlan(device="mast-01", kind="mast", state="change", changes=changes)],
        waves=[],
    )
    found = dangerous_changes(eng, plan)  # type: ignore[arg-type]
    assert [(d.path, d.reason) for d in found] == management_path_changes(changes)
