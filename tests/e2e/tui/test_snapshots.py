"""Snapshots at 80×24 (every view of every role) and 160×48 against a real engine
with simulated devices and the wall mounted.

The engine runs on its own event loop in a thread (the snapshot plugin runs
the app on another); simulated time stands still while the picture is taken,
the config pins language, theme and time zone, and nothing shows a clock of
its own: every time on screen comes from the simulated devices. Each picture
is taken once what it shows has arrived (a condition polled on the app, never
a fixed wait). The same screens are asserted in plain text by
test_small_terminal.py: a snapshot cannot fail meaningfully when first written.
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
from textual.widgets import OptionList

from eventops.server.app import create_app
from eventops.server.provision import provision_extension
from eventops.server.wall import wall_extension
from eventops.tui.app import EventOpsApp
from eventops.tui.client import Api
from eventops.tui.config import load_config
from eventops.tui.keybar import KeyBar
from eventops.tui.screens.detail import DetailScreen
from eventops.tui.screens.map import MapView
from eventops.tui.screens.provision import ProvisionScreen
from eventops.tui.tables import RowTable
from tests.e2e.tui.conftest import TEST_CONFIG, TOKENS, Rig
from tests.helpers.pilot import until as wait
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
            # as ``eventops serve`` mounts it: the wall and provisioning
            prov = provision_extension(lock_dir=self.tmp / "locks")
            wall = wall_extension(media_dir=self.tmp / "media")
            runner = web.AppRunner(create_app(sim.engine, heartbeat_s=0.2, extensions=[wall, prov]))
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            rig = Rig(sim, runner.addresses[0][1], runner, self.tmp / "tui.toml")
            self.url = rig.url
            try:
                await sim.to(12)
                sim.fleet.link_down("fibre-fire")
                await sim.to(30)
                await rig.add_post("replay:1", "Schönes Fest!", "replay:anna")
                await rig.add_post("replay:2", "Wo ist die Bühne?", "replay:ben")
                self.ready.set()
                await self.stop_evt.wait()
            finally:
                await rig.stop_server()

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


Cond = Callable[[EventOpsApp], object]


def rows(view: str, n: int | None = None) -> Cond:
    """The view is in front with its rows drawn (``n`` of them, or any)."""

    def cond(app: EventOpsApp) -> object:
        t = app._table_in(view) if app.current == view else None
        if not isinstance(t, RowTable):
            return False
        return t.row_count == n if n is not None else t.row_count > 0

    return cond


def ready_then(*keys: str, until: Cond | None = None) -> Callable[[Pilot[Any]], Any]:
    """Wait for the app to be live, press the keys, then wait until what the picture
    shows has arrived (``until``) and the key bar is drawn: polled, never a fixed wait."""

    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        assert isinstance(app, EventOpsApp)
        await wait(
            pilot,
            lambda: (
                app.ready
                and app.connected
                and (app.state.links or app.role == "comms")
                # the header's wall count comes from its own request, after the snapshot
                and ("wall" not in app.views or app.state.wall_pending is not None)
            ),
            "live",
        )
        await pilot.press(*keys)
        if until is not None:
            await wait(pilot, lambda: until(app), f"after {keys}")
        app.flush()
        await wait(pilot, lambda: app.screen.query_one(KeyBar).lines, "key bar drawn")
        await pilot.pause()

    return run_before


Snap = Callable[..., bool]
SMALL = (80, 24)


def view_keys(view: str) -> tuple[str, ...]:
    return ("colon", *view, "enter")


def test_pulse_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    assert snap_compare(make_app(engine, tmp_path), terminal_size=SMALL, run_before=ready_then())


def test_masts_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path)
    run = ready_then(*view_keys("masts"), until=rows("masts", 3))
    assert snap_compare(app, terminal_size=SMALL, run_before=run)


def test_devices_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path)
    run = ready_then(*view_keys("devices"), until=rows("devices", 7))
    assert snap_compare(app, terminal_size=SMALL, run_before=run)


def test_links_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path)
    run = ready_then(*view_keys("links"), until=rows("links", 3))
    assert snap_compare(app, terminal_size=SMALL, run_before=run)


def alerts_drawn(app: EventOpsApp) -> object:
    return app.state.alerts and rows("alerts", len(app.state.alerts))(app)


def test_alerts_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path)
    run = ready_then(*view_keys("alerts"), until=alerts_drawn)
    assert snap_compare(app, terminal_size=SMALL, run_before=run)


def test_timeline_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path)
    run = ready_then(
        *view_keys("timeline"), until=lambda a: a.timeline_loaded and rows("timeline")(a)
    )
    assert snap_compare(app, terminal_size=SMALL, run_before=run)


def wall_drawn(app: EventOpsApp) -> object:
    preview = app.query("#wall-preview")
    return rows("wall", 2)(app) and preview and "Schönes Fest!" in str(preview.first().render())


def test_wall_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path)
    run = ready_then(*view_keys("wall"), until=wall_drawn)
    assert snap_compare(app, terminal_size=SMALL, run_before=run)


def test_probe_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    def links_listed(app: EventOpsApp) -> object:
        ol = app.query("#probe-links")
        return app.current == "probe" and ol and ol.first(OptionList).option_count == 3

    app = make_app(engine, tmp_path)
    run = ready_then(*view_keys("probe"), until=links_listed)
    assert snap_compare(app, terminal_size=SMALL, run_before=run)


def test_device_detail_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    def detail_loaded(app: EventOpsApp) -> object:
        s = app.screen
        # poll_s is the last series fetched: the chart is complete (drawn in the same step)
        return isinstance(s, DetailScreen) and s.detail is not None and "poll_s" in s.history

    app = make_app(engine, tmp_path)
    # the masts sort by state, then id: the cursor starts on the first
    run = ready_then(*view_keys("masts"), "enter", until=detail_loaded)
    assert snap_compare(app, terminal_size=SMALL, run_before=run)


def test_provision_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    def planned(app: EventOpsApp) -> object:
        s = app.screen
        return isinstance(s, ProvisionScreen) and s.plan is not None

    app = make_app(engine, tmp_path)
    run = ready_then(*view_keys("provision"), until=planned)
    assert snap_compare(app, terminal_size=SMALL, run_before=run)


def test_authority_pulse_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path, "fire")
    assert snap_compare(app, terminal_size=SMALL, run_before=ready_then())


def test_authority_devices_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path, "fire")
    run = ready_then(*view_keys("devices"), until=rows("devices"))
    assert snap_compare(app, terminal_size=SMALL, run_before=run)


def test_authority_links_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path, "fire")
    run = ready_then(*view_keys("links"), until=rows("links", 1))
    assert snap_compare(app, terminal_size=SMALL, run_before=run)


def test_authority_alerts_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path, "fire")
    run = ready_then(*view_keys("alerts"), until=alerts_drawn)
    assert snap_compare(app, terminal_size=SMALL, run_before=run)


def test_comms_wall_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path, "comms")
    assert snap_compare(app, terminal_size=SMALL, run_before=ready_then(until=wall_drawn))


def map_drawn(app: EventOpsApp) -> object:
    mv = app.query(MapView)
    return app.current == "map" and mv and mv.first().canvas is not None and mv.first().selected


def test_map_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    # fibre-fire is down: the worst item is selected, its detail under the site
    app = make_app(engine, tmp_path)
    run = ready_then(*view_keys("map"), until=map_drawn)
    assert snap_compare(app, terminal_size=SMALL, run_before=run)


def test_authority_map_80x24(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path, "fire")
    run = ready_then(*view_keys("map"), until=map_drawn)
    assert snap_compare(app, terminal_size=SMALL, run_before=run)


def test_links_160x48(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    app = make_app(engine, tmp_path)
    run = ready_then(*view_keys("links"), until=rows("links", 3))
    assert snap_compare(app, terminal_size=(160, 48), run_before=run)


def test_alerts_160x48(engine: EngineThread, tmp_path: Path, snap_compare: Snap) -> None:
    # the picture waits for the alert rows themselves (it used to flush 5×0.05 s and hope)
    app = make_app(engine, tmp_path)
    run = ready_then(*view_keys("alerts"), until=alerts_drawn)
    assert snap_compare(app, terminal_size=(160, 48), run_before=run)
