"""Snapshots at 80×24 and 160×48 against a real engine with simulated devices.

The engine runs on its own event loop in a thread (the snapshot plugin runs
the app on another); simulated time stands still while the picture is taken,
the config pins language, theme and time zone, and nothing shows a clock of
its own: every time on screen comes from the simulated devices.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from textual.pilot import Pilot

from eventops.server.app import create_app
from eventops.tui.app import EventOpsApp
from eventops.tui.client import Api
from eventops.tui.config import load_config
from tests.e2e.tui.conftest import TEST_CONFIG, TOKENS
from tests.integration.simrig import sim_rig


class EngineThread:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.url = ""
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.loop = asyncio.new_event_loop()
        self.stop_evt: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to the test
            self.error = exc
            self.ready.set()
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self.stop_evt = asyncio.Event()
        async with sim_rig(self.tmp) as sim:
            runner = web.AppRunner(create_app(sim.engine, heartbeat_s=0.2))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
            try:
                await sim.to(12)
                sim.fleet.link_down("fibre-fire")
                await sim.to(30)
                self.ready.set()
                await self.stop_evt.wait()
            finally:
                await runner.cleanup()

    def __enter__(self) -> EngineThread:
        self.thread.start()
        assert self.ready.wait(60), "engine did not start"
        if self.error:
            raise self.error
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stop_evt is not None:
            self.loop.call_soon_threadsafe(self.stop_evt.set)
        self.thread.join(30)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineThread]:
    with EngineThread(tmp_path_factory.mktemp("snap")) as e:
        yield e


def make_app(engine: EngineThread, tmp: Path, who: str = "technik") -> EventOpsApp:
    cfg = tmp / "tui.toml"
    cfg.write_text(TEST_CONFIG)
    return EventOpsApp(Api(engine.url, TOKENS[who]), load_config(cfg))


def ready_then(*keys: str) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, EventOpsApp)
        for _ in range(500):
            if app.ready and app.connected and app.state.links:
                break
            await pilot.pause(0.02)
        await pilot.press(*keys)
        for _ in range(5):
            app.flush()
            await pilot.pause(0.05)

    return run_before


Snap = Callable[..., bool]


def test_pulse_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    assert snap_compare(make_app(engine, tmp_path), terminal_size=(80, 24), run_before=ready_then())


def test_masts_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path)
    keys = ("colon", *"masts", "enter")
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready_then(*keys))


def test_links_160x48(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path)
    keys = ("colon", *"links", "enter")
    assert snap_compare(app, terminal_size=(160, 48), run_before=ready_then(*keys))


def test_alerts_160x48(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path)
    keys = ("colon", *"alerts", "enter")
    assert snap_compare(app, terminal_size=(160, 48), run_before=ready_then(*keys))


def test_authority_pulse_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path, "fire")
    assert snap_compare(app, terminal_size=(80, 24), run_before=ready_then())
