"""An engine killed mid-apply: the next engine on the same store keeps the dead one's promises.

The engine (``eventops serve``) runs in a subprocess serving the demo profile against the simulated fleet (in
this process). An apply through its API changes a fibre media converter (RESTCONF: it
cannot roll back by itself); the change cuts the converter's management path, so the
apply waits at "verifying" — and the engine is SIGKILLed there. A new engine
(``eventops serve``) on the same store closes the apply as interrupted and puts the
converter's previous config back at the end of the confirm timeout.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from eventops_hardware.fleet import SimFleet

from eventops.api.client import EngineClient
from eventops.profile import load_profile
from eventops.profile.models import Profile
from eventops.store import open_store
from tests.integration.enginekit import (
    DEVICE,
    TECH,
    engine_process,
    engine_profile,
    serve,
    until_verifying,
    vlans_over_restconf,
    wait_for,
)

CONFIRM_S = 4.0


async def test_engine_killed_at_verifying_then_the_next_engine_restores_the_switch(
    tmp_path: Path,
) -> None:
    path, url = engine_profile(tmp_path)
    profile = load_profile(path)
    db = tmp_path / "event.sqlite3"
    async with SimFleet(profile) as fleet:
        sw = fleet.switch(DEVICE)
        assert await vlans_over_restconf(profile) == []
        async with (
            engine_process(*serve(path, db)) as first,
            EngineClient(url, TECH, timeout_s=30) as api,
        ):
            started: list[int] = []

            async def start() -> None:
                # the run's own confirm timeout, short so the test is quick
                started.append(
                    (await api.provision_apply([DEVICE], confirm_timeout_s=CONFIRM_S)).apply_id
                )

            apply_id = await until_verifying(api, sw, start)
            first.send_signal(signal.SIGKILL)
            await first.wait()
        assert [apply_id] == started
        sw.clear_faults()  # the converter answers again; it still holds the unconfirmed change
        assert await vlans_over_restconf(profile) == [110]

        async with open_store(db, profile) as store:
            (armed,) = await store.pending_restores()
            assert (armed.device, armed.apply_id) == (DEVICE, apply_id)
            assert (armed.deadline - armed.armed_at).total_seconds() == CONFIRM_S
            found = await store.get_apply(apply_id)
            assert found is not None and found[0].summary["state"] == "running"
            assert found[0].finished_at is None

        async with (
            engine_process(*serve(path, db)) as second,
            EngineClient(url, TECH, timeout_s=30) as api,
        ):
            # reconciled at start: closed as interrupted, with what is known of the device
            detail = await api.provision_apply_detail(apply_id)
            assert detail.state == "interrupted" and detail.finished_at is not None
            (res,) = detail.results
            assert res.device == DEVICE and res.result in ("interrupted", "restored")
            # and at the confirm deadline the converter gets its previous config back
            await wait_for(lambda: _restored(profile))
            detail = await wait_for(lambda: _settled(api, apply_id))
            (res,) = detail.results
            assert (res.result, res.state) == ("restored", "old")
            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), 30) == 0
            assert second.stderr is not None
            assert "Traceback" not in (await second.stderr.read()).decode()

        async with open_store(db, profile) as store:
            assert await store.pending_restores() == []
            audit = await store.audit_entries()
            actions = [e.action for e in audit]
            assert actions.index("provision.apply.interrupted") < actions.index("provision.restore")
            (restore,) = [e for e in audit if e.action == "provision.restore"]
            assert restore.target == DEVICE and restore.after["result"] == "restored"
            assert restore.ts >= armed.deadline  # not before the end of the confirm timeout
            (closed,) = [e for e in audit if e.action == "provision.apply.interrupted"]
            (dev,) = closed.after["devices"]
            assert dev["result"] == "interrupted"
            assert "eventops restores its previous config at" in dev["reason"]
            assert await store.verify_audit() == len(audit)


async def _restored(profile: Profile) -> bool:
    return await vlans_over_restconf(profile) == []


async def _settled(api: EngineClient, apply_id: int) -> Any:
    detail = await api.provision_apply_detail(apply_id)
    return detail if detail.results[0].result == "restored" else None
