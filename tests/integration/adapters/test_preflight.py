"""``eventops devices --preflight`` against the simulated demo fleet."""

from __future__ import annotations

import argparse
from pathlib import Path

import aiohttp
import pytest
from eventops_hardware.fleet import SimFleet

from eventops.cli.devices_cmd import devices_cmd, preflight_all
from eventops.profile import load_profile
from tests.integration.adapters.conftest import demo_profile_copy


async def test_demo_fleet_is_all_green(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    async with SimFleet(profile) as fleet:
        rows = await preflight_all(profile)
        assert [r["id"] for r in rows if not r["ready"]] == []
        mast = next(r for r in rows if r["id"] == "mast-01")
        names = {i["name"] for i in mast["items"]}
        assert {"login", "object iwinfo", "acl iwinfo", "acl uci", "firmware", "time"} <= names
        assert all(not s.sessions for s in fleet.masts.values())  # preflight cleans up
        code = await devices_cmd(argparse.Namespace(profile=str(path), json=False, preflight=True))
    out = capsys.readouterr().out
    assert code == 0 and out.rstrip().endswith(f"all {len(rows)} devices ready")
    assert "GAP" not in out


async def test_restricted_acl_without_iwinfo_shows_the_two_gaps_with_fixes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    async with SimFleet(profile, control="127.0.0.1:0") as fleet:
        # as a technician would set the fault: through the control API
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                f"{fleet.control.url}/devices/mast-02/faults",
                json={"restrict_acl": ["iwinfo"], "remove_objects": ["iwinfo"]},
            ) as r,
        ):
            assert r.status == 200, await r.text()
        code = await devices_cmd(argparse.Namespace(profile=str(path), json=False, preflight=True))
        rows = await preflight_all(profile)
    out = capsys.readouterr().out
    assert code == 1
    gaps = {r["id"]: [i for i in r["items"] if not i["ok"]] for r in rows}
    assert {k for k, v in gaps.items() if v} == {"mast-02"}
    (missing, acl) = gaps["mast-02"]
    assert missing["name"] == "object iwinfo"
    assert missing["fix"] == "opkg update && opkg install rpcd-mod-iwinfo"
    assert acl["name"] == "acl iwinfo"
    assert acl["detail"] == "the ACL of 'root' denies iwinfo devices, info, assoclist, survey"
    assert '"ubus": {"iwinfo": ["devices", "info", "assoclist", "survey"]}' in acl["fix"]
    assert "fix: opkg update && opkg install rpcd-mod-iwinfo" in out
    assert out.rstrip().endswith("2 gaps on 1 of 7 devices")


async def test_wrong_password_is_a_login_gap(tmp_path: Path) -> None:
    profile = load_profile(demo_profile_copy(tmp_path))
    async with SimFleet(profile) as fleet:
        fleet.wrong_credentials("mast-01")
        rows = {r["id"]: r for r in await preflight_all(profile)}
    (item,) = rows["mast-01"]["items"]
    assert (item["name"], item["ok"]) == ("login", False)
    assert "management.username/password for mast-01" in item["fix"]


async def test_devices_lists_a_mast_without_iwinfo_as_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    async with SimFleet(profile) as fleet:
        fleet.mast("mast-02").restrict_acl("root", ("iwinfo",))
        fleet.mast("mast-03").remove_object("iwinfo")
        code = await devices_cmd(argparse.Namespace(profile=str(path), json=False, preflight=False))
        assert all(len(m.sessions) == 0 for m in fleet.masts.values())
    out = capsys.readouterr().out
    assert code == 0 and out.rstrip().endswith("7 of 7 devices reachable")
    line2 = next(x for x in out.splitlines() if x.startswith("mast-02"))
    assert " up " in line2 and "not available: iwinfo (access denied to root)" in line2
    line3 = next(x for x in out.splitlines() if x.startswith("mast-03"))
    assert "not available: iwinfo (rpcd-mod-iwinfo not installed)" in line3
