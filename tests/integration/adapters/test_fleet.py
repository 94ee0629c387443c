"""SimFleet: a whole profile's devices at the profile's addresses, faults across both ends."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from eventops_hardware.fleet import SimFleet
from eventops_hardware.simbase import SimPortInUse
from eventops_hardware.tls import SimIdentity

from eventops.adapters.base import driver_for
from eventops.clock import FakeClock
from eventops.errors import AuthenticationFailed, DeviceUnreachable
from eventops.profile import load_profile
from tests.integration.adapters.conftest import demo_profile_copy


async def test_fleet_at_profile_addresses_and_link_faults(tmp_path: Path) -> None:
    profile = load_profile(demo_profile_copy(tmp_path))
    clock = FakeClock()
    async with SimFleet(profile, clock=clock, control="127.0.0.1:0") as fleet:
        for dev in profile.devices:
            assert fleet.device(dev.id).url == dev.management.url
        async with driver_for(profile.device("mast-02"), clock=clock) as d:
            assert (await d.facts()).hostname == "mast-02"
        core = driver_for(profile.device("sw-core"), clock=clock)
        mc = driver_for(profile.device("mc-police"), clock=clock)
        async with core, mc:
            assert (await core.status()).interfaces[0].oper_status == "UP"
            fleet.link_down("fibre-police")
            a, b = await core.status(), await mc.status()
            assert a.interfaces[0].oper_status == "DOWN" and b.interfaces[0].oper_status == "DOWN"
            assert a.interfaces[1].oper_status == "UP"  # the stage link is untouched
            assert b.optics[0].rx_power_dbm == [-40.0]
            fleet.link_up("fibre-police")
            before_b = (await mc.status()).optics[0].rx_power_dbm[0]
            before_a = (await core.status()).optics[0].rx_power_dbm[0]
            port = fleet.degrade_optics("fibre-police", step_db=1.5, every_s=30)
            assert port is fleet.switch("mc-police").interface("sfp0")  # the receiving end
            await clock.advance(60)
            assert (await mc.status()).optics[0].rx_power_dbm[0] == pytest.approx(
                before_b - 3.0, abs=0.01
            )
            assert (await core.status()).optics[0].rx_power_dbm[0] == pytest.approx(
                before_a, abs=0.01
            )
            await clock.advance(600)  # below sensitivity: both ends lose the link
            assert (await mc.status()).interfaces[0].oper_status == "DOWN"
            assert (await core.status()).interfaces[0].oper_status == "DOWN"
            fleet.restore_link("fibre-police")
            fleet.crc_errors("fibre-police", 10)
            await clock.advance(10)
            assert (await mc.status()).interfaces[0].in_fcs_errors == 100
        # the control API drives the same state
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{fleet.control.url}/links/fibre-fire/down") as r:
                assert r.status == 200 and (await r.json())["oper"] == ["DOWN", "DOWN"]
            async with s.post(
                f"{fleet.control.url}/devices/mast-01/faults", json={"wrong_credentials": True}
            ) as r:
                assert r.status == 200
            async with s.post(f"{fleet.control.url}/devices/nope/faults", json={}) as r:
                assert r.status == 404
            async with s.post(f"{fleet.control.url}/time/advance", json={"seconds": 30}) as r:
                assert r.status == 200
            async with s.get(fleet.control.url + "/") as r:
                overview = await r.json()
        assert clock.monotonic() == 700
        assert {d["id"] for d in overview["devices"]} == {d.id for d in profile.devices}
        with pytest.raises(AuthenticationFailed):
            async with driver_for(profile.device("mast-01"), clock=clock):
                pass
        async with (
            aiohttp.ClientSession() as s,
            s.post(f"{fleet.control.url}/devices/mast-03/faults", json={"unreachable": True}) as r,
        ):
            assert r.status == 200
        with pytest.raises(DeviceUnreachable):
            async with driver_for(profile.device("mast-03"), clock=clock):
                pass


async def test_fleet_https_with_pinned_identity(tmp_path: Path) -> None:
    ident = SimIdentity.generate()
    profile = load_profile(demo_profile_copy(tmp_path, https_pin=ident.pin))
    async with SimFleet(profile, clock=FakeClock(), tls=ident) as fleet:
        assert fleet.mast("mast-01").url.startswith("https://")
        async with driver_for(profile.device("sw-stage")) as d:
            assert (await d.status()).optics


async def test_port_in_use_is_one_line_and_nothing_left_running(tmp_path: Path) -> None:
    profile = load_profile(demo_profile_copy(tmp_path))
    host_port = profile.device("sw-stage").management.url.rsplit(":", 1)[1]
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", int(host_port)))
    blocker.listen()
    try:
        fleet = SimFleet(profile, clock=FakeClock())
        with pytest.raises(
            SimPortInUse, match=rf"sw-stage: cannot listen on 127.0.0.1:{host_port}"
        ):
            await fleet.start()
        assert not any(d.running for d in fleet.devices)
    finally:
        blocker.close()


async def _cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eventops",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_devices_command(tmp_path: Path) -> None:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    async with SimFleet(profile) as fleet:
        rc, out, err = await _cli("devices", str(path))
        assert rc == 0 and out.splitlines()[-1] == "7 of 7 devices reachable", err
        await fleet.mast("mast-02").set_unreachable(True)
        rc, out, err = await _cli("devices", str(path), "--json")
        assert rc == 3, err  # one device unreachable: exit 3 (documented in --help)
        rows = {r["id"]: r for r in json.loads(out)["devices"]}
        assert (
            rows["mast-01"]["reachable"]
            and rows["mast-01"]["facts"]["model"] == "GL.iNet GL-MT6000"
        )
        assert rows["mast-02"]["reachable"] is False
        assert rows["mast-02"]["reason"].startswith("mast-02: cannot connect to http://127.0.0.1:")
        assert rows["sw-core"]["status"]["optics"][0]["rx_power_dbm"]
        rc, out, err = await _cli("devices", str(path))
        assert rc == 3 and err == ""
        lines = out.splitlines()
        assert lines[0].startswith("DEVICE") and lines[-1] == "6 of 7 devices reachable"
        assert any(line.startswith("mast-02") and "UNREACHABLE" in line for line in lines)
        assert any(line.startswith("sw-core") and "4/4 ports up" in line for line in lines)


async def test_sim_command_serves_profile_and_reports_port_in_use(tmp_path: Path) -> None:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eventops",
        "sim",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        control = None
        while control is None:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, "eventops sim exited early"
            if line.startswith("control API: "):
                control = line.split(": ", 1)[1].strip()
        async with driver_for(profile.device("mc-fire")) as d:
            assert (await d.facts()).model == "MoGlI MC-2"
        async with aiohttp.ClientSession() as s, s.get(control + "/") as r:
            assert r.status == 200
        rc, _out, err = await _cli("sim", str(path))
        assert rc != 0 and len(err.strip().splitlines()) == 1
        assert "cannot listen on 127.0.0.1:" in err and "Traceback" not in err
    finally:
        proc.send_signal(2)
        await asyncio.wait_for(proc.wait(), 30)
    assert proc.returncode == 0


async def test_control_api_faults_and_validation(tmp_path: Path) -> None:
    profile = load_profile(demo_profile_copy(tmp_path))
    clock = FakeClock()
    async with (
        SimFleet(profile, clock=clock, control="127.0.0.1:0") as fleet,
        aiohttp.ClientSession() as s,
    ):
        url = fleet.control.url
        mast = fleet.mast("mast-01")
        async with driver_for(profile.device("mast-01"), clock=clock) as d:
            assert (await d.facts()).uptime_s > 500
            async with s.post(f"{url}/devices/mast-01/faults", json={"reboot": True}) as r:
                assert r.status == 200 and (await r.json())["uptime"] == 0
            assert (await d.facts()).uptime_s == 0 and len(mast.sessions) == 1  # re-logged in
            async with s.post(f"{url}/devices/mast-01/faults", json={"fire_rollback": True}) as r:
                assert r.status == 409
            await d.load_candidate({"wireless": {"default_radio0": {"ssid": "X"}}})
            await d.commit(confirm_timeout=300)
            async with s.post(f"{url}/devices/mast-01/faults", json={"fire_rollback": True}) as r:
                assert r.status == 200 and (await r.json())["pending_apply"] is False
            assert (await d.status()).radios[0].ssid == "OpenWrt"
            async with s.post(
                f"{url}/devices/mast-01/faults", json={"http_500": True, "slow_s": 0}
            ) as r:
                assert (await r.json())["faults"]["http_500"] is True
            async with s.post(f"{url}/devices/mast-01/faults", json={"clear": True}) as r:
                assert (await r.json())["faults"]["http_500"] is False
        async with s.post(f"{url}/devices/sw-core/faults", json={"expire_sessions": True}) as r:
            assert r.status == 400
        async with s.post(f"{url}/devices/mast-01/faults", json={"explode": True}) as r:
            assert r.status == 400 and "explode" in (await r.json())["error"]
        async with s.post(f"{url}/devices/mast-01/faults", data=b"{nope") as r:
            assert r.status == 400
        async with s.post(
            f"{url}/links/fibre-stage/degrade", json={"step_db": 2, "every_s": 5, "end": "a"}
        ) as r:
            assert r.status == 200
        await clock.advance(10)
        assert fleet.switch("sw-core").interface("Ethernet1/2").extra_loss() == 4


async def test_sim_command_with_pinned_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "sim-cert.pem", tmp_path / "sim-key.pem"
    ident = SimIdentity.generate()
    ident.write(cert, key)
    path = demo_profile_copy(tmp_path, https_pin=ident.pin)
    profile = load_profile(path)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eventops",
        "sim",
        str(path),
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        while not seen or not seen[-1].startswith("control API: "):
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, "eventops sim exited early"
            seen.append(line)
        assert f"https devices present a certificate with tls_pin {ident.pin}\n" in seen
        assert not any("differs" in line for line in seen)
        async with driver_for(profile.device("mast-02")) as d:
            assert (await d.facts()).hostname == "mast-02"
    finally:
        proc.send_signal(2)
        await asyncio.wait_for(proc.wait(), 30)
    (tmp_path / "bad.pem").write_text("not a certificate")
    rc, _out, err = await _cli(
        "sim", str(path), "--tls-cert", str(tmp_path / "bad.pem"), "--tls-key", str(key)
    )
    assert rc != 0 and len(err.strip().splitlines()) == 1 and "not a usable PEM certificate" in err
    rc, _out, err = await _cli("sim", str(path), "--tls-cert", str(cert))
    assert rc != 0 and "--tls-cert and --tls-key go together" in err
