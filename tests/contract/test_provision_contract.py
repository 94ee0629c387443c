"""Provisioning through EngineClient against the simulated fleet: plan (with dangerous
changes), a refused apply, apply, history, detail and rollback, every answer parsed by
the contract's models (``extra="forbid"``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web
from eventops_hardware.fleet import SimFleet

from eventops.api.client import EngineClient, RemoteConfirmationNeeded, RemoteNotFound
from eventops.engine import Engine
from eventops.errors import ApiError, ConfirmationNeeded, NotFound
from eventops.profile import load_profile
from eventops.provision.apply import ApplyOptions
from eventops.provision.lock import lock_dir_for
from eventops.server.app import create_app
from eventops.server.provision import PROVISION, provision_extension
from eventops.store.sqlite import SQLiteStore
from tests.integration.adapters.conftest import demo_profile_copy

from .conftest import WHO


async def test_provisioning_round_trip_through_the_client(tmp_path: Path) -> None:
    path = demo_profile_copy(tmp_path)
    profile = load_profile(path)
    db = tmp_path / "demo.sqlite3"
    async with SimFleet(profile) as _fleet, SQLiteStore(db) as store:
        engine = Engine(profile, store, profile_path=path, lock_dir=lock_dir_for(db))
        await engine.start(poll=False)
        ext = provision_extension(
            options=ApplyOptions(confirm_timeout_s=5.0, poll_s=0.05, recover_s=2.0)
        )
        runner = web.AppRunner(create_app(engine, heartbeat_s=0.2, extensions=[ext]))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        svc = runner.app[PROVISION]
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            link = profile.link("fibre-police")
            assert all(r.ok for r in await engine.poll_now([link.a.device, link.b.device]))
            await engine.handover(
                "fibre-police", "police", "tester", force=True, reason="set-up: no probe here"
            )
            async with EngineClient(url, WHO["technician"]) as api:
                plan = await api.provision_plan()
                assert plan.summary.change > 0 and plan.order
                assert {d.device for d in plan.dangerous} == {"sw-core", "mc-police"}
                with pytest.raises(ConfirmationNeeded) as refused:
                    await api.provision_apply()
                exc = refused.value
                assert isinstance(exc, RemoteConfirmationNeeded) and isinstance(exc, ApiError)
                assert exc.status == 409 and exc.confirm == "demo"
                assert {d.device for d in exc.dangerous} == {"sw-core", "mc-police"}
                started = await api.provision_apply(["mast-01"])
                assert started.total == 1
                assert (await asyncio.wait_for(svc.wait(), 60)) is not None
                assert await api.provision_running() is None
                history = await api.provision_applies()
                assert [a.id for a in history] == [started.apply_id]
                detail = await api.provision_apply_detail(started.apply_id)
                assert [r.device for r in detail.results] == ["mast-01"]
                assert detail.finished_at is not None
                rb = await api.provision_rollback(started.apply_id, confirm="demo")
                assert rb.rollback_of == started.apply_id
                assert (await asyncio.wait_for(svc.wait(), 60)) is not None
                assert (
                    await api.provision_apply_detail(rb.apply_id)
                ).rollback_of == started.apply_id
                with pytest.raises(NotFound) as missing:
                    await api.provision_apply_detail(999)
                assert isinstance(missing.value, RemoteNotFound)
                assert "no apply #999" in str(missing.value)
        finally:
            await runner.cleanup()
            await engine.stop()
