"""The engine with simulated devices behind its real server on 127.0.0.1:0, for TUI pilots.

The server has the wall mounted (as ``eventops serve`` does); posts are put in
the store as the wall's pipeline leaves them, with the rule's queue decision.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from eventops.i18n import Msg
from eventops.server.app import create_app
from eventops.server.wall import WALL, wall_extension
from eventops.store.models import DecisionRow, PostRow
from eventops.tui.app import EventOpsApp
from eventops.tui.client import Api
from eventops.tui.config import load_config
from tests.helpers.pilot import until as until  # the TUI tests' wait, imported from here
from tests.integration.simrig import SimRig, sim_rig

TOKENS = {
    "technik": "demo-technician-token",
    "police": "demo-police-token",
    "fire": "demo-fire-token",
    "comms": "demo-comms-token",
}

TEST_CONFIG = """
language = "en"
theme = "dark"
timezone = "UTC"
refresh_s = 0.05
wall_poll_s = 0.1
backoff_s = [0.05, 0.1]
"""


@dataclass
class Rig:
    sim: SimRig
    port: int
    runner: web.AppRunner | None
    config_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start_server(self, port: int = 0) -> None:
        wall = wall_extension(media_dir=self.config_path.parent / "media")
        runner = web.AppRunner(create_app(self.sim.engine, heartbeat_s=0.2, extensions=[wall]))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        self.runner = runner
        self.port = runner.addresses[0][1]

    async def stop_server(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def add_post(
        self,
        pid: str,
        text: str = "Hallo Altstadtfest",
        author: str = "replay:anna",
        *,
        author_name: str | None = None,
        state: str = "pending",
        rule: tuple[str, str | Msg] = ("mode", "pre-moderation: a person decides"),
        data: dict[str, Any] | None = None,
    ) -> None:
        """A post as the pipeline leaves it: stored, with the deciding rule's verdict (its
        reason a message as the pipeline writes it, or English text only)."""
        assert self.runner is not None
        clock = self.sim.clock
        row = PostRow(
            id=pid,
            source="replay",
            author=author,
            author_name=author.split(":")[-1].title() if author_name is None else author_name,
            text=text,
            created_at=clock.now() - timedelta(minutes=2),
            data=data or {},
        )
        await self.sim.store.upsert_posts([row])
        name, why = rule
        said = (
            {"reason": why}
            if isinstance(why, str)
            else {
                "reason": why.text("en"),
                "reason_id": why.msg_id,
                "reason_params": why.as_dict()["params"],
            }
        )
        await self.sim.store.decide(
            DecisionRow(post_id=pid, ts=clock.now(), actor=f"rule:{name}", action="queue", **said),
            state,
            None,
        )
        await self.runner.app[WALL].hub.refresh()

    def app(self, who: str = "technik", config: str = "") -> EventOpsApp:
        path = self.config_path
        if config:
            path = path.with_name(f"tui-{who}.toml")
            keys = {ln.split("=")[0].strip() for ln in config.splitlines() if "=" in ln}
            base = [ln for ln in TEST_CONFIG.splitlines() if ln.split("=")[0].strip() not in keys]
            path.write_text("\n".join(base) + "\n" + config)
        return EventOpsApp(Api(self.url, TOKENS[who]), load_config(path))


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    cfg = tmp_path / "tui.toml"
    cfg.write_text(TEST_CONFIG)
    async with sim_rig(tmp_path) as sim:
        r = Rig(sim, 0, None, cfg)
        await r.start_server()
        try:
            await sim.to(12)
            yield r
        finally:
            await r.stop_server()
