"""Provisioning through the openwrt driver when rpcd restarts between apply and confirm."""

from __future__ import annotations

from pathlib import Path

from eventops_hardware.fleet import SimFleet

from eventops.profile import load_profile
from eventops.provision.apply import ApplyOptions, ProgressEvent, Provisioner
from eventops.store.sqlite import SQLiteStore
from tests.integration.adapters.conftest import demo_profile_copy


class NoMaintenance:
    async def enter(self, device: str, reason: str) -> None:
        return None

    async def leave(self, device: str) -> None:
        return None


async def test_rpcd_restart_before_confirm_is_reported_as_new_config_kept(
    tmp_path: Path,
) -> None:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    async with SimFleet(profile) as fleet, SQLiteStore(tmp_path / "e.sqlite3") as store:
        sim = fleet.mast("mast-02")

        def progress(e: ProgressEvent) -> None:
            if e.phase == "confirming" and e.device == "mast-02":
                sim.restart_rpcd(down_s=0.2)  # the apply and its timer are gone

        prov = Provisioner(
            profile,
            store,
            lock_dir=tmp_path / "locks",
            options=ApplyOptions(confirm_timeout_s=5.0, poll_s=0.05, recover_s=2.0),
            progress=progress,
            maintenance=NoMaintenance(),
            secrets_base=path.parent,
        )
        report = await prov.apply(actor="technik", devices=["mast-02"])
        (dev,) = report.devices
        assert (dev.result, dev.state) == ("applied", "new"), dev
        assert dev.reason is not None
        assert "new config kept: rpcd restarted before confirm" in dev.reason
        assert sim.rpcd_restarts == 1 and sim.rollbacks == 0
        assert sim.committed("wireless")["radio0"]["channel"] == "11"
