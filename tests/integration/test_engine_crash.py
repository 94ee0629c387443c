"""An engine killed mid-apply: the next engine on the same store keeps the dead one's promises.

The engine runs in a subprocess serving the demo profile against the simulated fleet (in
this process). An apply through its API changes a fibre media converter (RESTCONF: it
cannot roll back by itself); the change cuts the converter's management path, so the
apply waits at "verifying" — and the engine is SIGKILLed there. A new engine
(``eventops serve``) on the same store closes the apply as interrupted and puts the
converter's previous config back at the end of the confirm timeout.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from eventops_hardware.fleet import SimFleet
from eventops_hardware.ports import free_ports

from eventops.adapters.base import driver_for
from eventops.api.client import EngineClient
from eventops.profile import load_profile
from eventops.profile.models import Profile
from eventops.store import open_store
from tests.integration.adapters.conftest import demo_profile_copy

REPO = Path(__file__).resolve().parents[2]
TECH = "demo-technician-token"
CONFIRM_S = 4.0
DEVICE = "mc-police"


def engine_profile(tmp_path: Path) -> tuple[Path, str]:
    """The demo profile on free ports (devices and API); the engine's URL."""
    path = demo_profile_copy(tmp_path)
    (api,) = free_ports(1)
    text = path.read_text(encoding="utf-8")
    assert 'listen = "127.0.0.1:8470"' in text
    path.write_text(text.replace('listen = "127.0.0.1:8470"', f'listen = "127.0.0.1:{api}"'))
    shutil.copy(REPO / "profiles" / "demo-wall.jsonl", tmp_path / "demo-wall.jsonl")
    return path, f"http://127.0.0.1:{api}"


@asynccontextmanager
async def engine_process(*argv: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child serving an engine; yields once it says it serves; killed at the end."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=REPO,
        env=os.environ.copy(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(60):
            line = (await proc.stdout.readline()).decode()
        assert "serving" in line and "http://127.0.0.1:" in line, line
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def wait_for(cond: Callable[[], Awaitable[Any]], limit_s: float = 60.0) -> Any:
    """Poll ``cond`` until it returns something truthy (a wait, not a timed assertion)."""
    async with asyncio.timeout(limit_s):
        while True:
            got = await cond()
            if got:
                return got
            await asyncio.sleep(0.05)


async def vlans_over_restconf(profile: Profile) -> list[int]:
    async with driver_for(profile.device(DEVICE)) as drv:
        config = await drv.get_config()
    return list(config["interfaces"]["eth0"]["vlans"])


async def test_engine_killed_at_verifying_then_the_next_engine_restores_the_switch(
    tmp_path: Path,
) -> None:
    path, url = engine_profile(tmp_path)
    profile = load_profile(path)
    db = tmp_path / "event.sqlite3"
    async with SimFleet(profile) as fleet:
        sw = fleet.switch(DEVICE)
        assert await vlans_over_restconf(profile) == []
        child = [sys.executable, "-m", "tests.helpers.engine_child", str(path), str(db)]
        async with (
            engine_process(*child, str(CONFIRM_S)) as first,
            EngineClient(url, TECH, timeout_s=30) as api,
        ):
            opened = asyncio.Event()
            verifying: asyncio.Future[int] = asyncio.get_running_loop().create_future()

            async def follow() -> None:
                async for msg in api.stream_once(idle_timeout_s=None, on_open=_set(opened)):
                    d = msg.data.get("data", {})
                    if (
                        msg.type == "provision"
                        and d.get("phase") == "verifying"
                        and d.get("device") == DEVICE
                    ):
                        verifying.set_result(int(d["apply_id"]))
                        return

            follower = asyncio.create_task(follow())
            async with asyncio.timeout(60):
                await opened.wait()
            # the change cuts the converter's management path: the read-back never answers
            sw.freeze_after_write = True
            started = await api.provision_apply([DEVICE])
            async with asyncio.timeout(60):
                apply_id = await verifying
            first.send_signal(signal.SIGKILL)
            await first.wait()
            await follower
        assert apply_id == started.apply_id
        sw.clear_faults()  # the converter answers again; it still holds the unconfirmed change
        assert await vlans_over_restconf(profile) == [110]

        async with open_store(db, profile) as store:
            (armed,) = await store.pending_restores()
            assert (armed.device, armed.apply_id) == (DEVICE, apply_id)
            found = await store.get_apply(apply_id)
            assert found is not None and found[0].summary["state"] == "running"
            assert found[0].finished_at is None

        serve = [sys.executable, "-m", "eventops", "serve", str(path), "--db", str(db)]
        async with (
            engine_process(*serve) as second,
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


def _set(ev: asyncio.Event) -> Callable[[], Awaitable[None]]:
    async def opened() -> None:
        ev.set()

    return opened


async def _restored(profile: Profile) -> bool:
    return await vlans_over_restconf(profile) == []


async def _settled(api: EngineClient, apply_id: int) -> Any:
    detail = await api.provision_apply_detail(apply_id)
    return detail if detail.results[0].result == "restored" else None
