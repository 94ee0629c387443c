"""An engine in a subprocess for crash tests: the demo profile on free ports, waits, RESTCONF reads."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from eventops_hardware.ports import free_ports
from eventops_hardware.simbase import SimDevice

from eventops.adapters.base import driver_for
from eventops.api.client import EngineClient
from eventops.profile.models import Profile
from tests.integration.adapters.conftest import demo_profile_copy

REPO = Path(__file__).resolve().parents[2]
TECH = "demo-technician-token"
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


def serve(path: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "eventops", "serve", str(path), "--db", str(db)]


async def until_verifying(
    api: EngineClient, sw: SimDevice, start: Callable[[], Awaitable[Any]]
) -> int:
    """Run ``start`` (which starts an apply of DEVICE) with the switch set to stop answering
    right after the change is written: the apply's id once the engine says "verifying"
    on its live stream (so a kill or cut lands exactly there)."""
    opened = asyncio.Event()
    verifying: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_open() -> None:
        opened.set()

    async def follow() -> None:
        async for msg in api.stream_once(idle_timeout_s=None, on_open=on_open):
            d = msg.data.get("data", {})
            if (
                msg.type == "provision"
                and d.get("phase") == "verifying"
                and d.get("device") == DEVICE
            ):
                verifying.set_result(int(d["apply_id"]))
                return

    follower = asyncio.create_task(follow())
    try:
        async with asyncio.timeout(60):
            await opened.wait()
        # the change cuts the converter's management path: the read-back never answers
        sw.freeze_after_write = True
        await start()
        async with asyncio.timeout(60):
            return await asyncio.shield(verifying)
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
