"""The Probe view against the real engine and server, with a STAMP reflector on loopback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from eventops_hardware.linkprobes import Endpoint, LinkProbesProcess
from eventops_hardware.ports import free_ports
from textual.widgets import Input, OptionList, Static

from eventops.server.app import create_app
from eventops.server.probe import probe_extension
from eventops.server.wall import wall_extension
from eventops.tui.screens.probe import ProbeView
from tests.e2e.tui.conftest import Rig, until
from tests.integration.test_probe_api import LOOPBACK_SLA, with_probe

LINK = "fibre-police"


@pytest.fixture
async def prig(rig: Rig) -> AsyncIterator[Rig]:
    """The rig with fibre-police's probe at a real reflector and sink, the probe API mounted.

    The sink and the reflector run in a process of their own, as on a real link: the far
    end's packets never wait for the TUI's and the engine's event loop. Delay and jitter
    are judged by what a loopback keeps on a busy host (``LOOPBACK_SLA``); loss stays 0.1 %.
    """
    sink_port, refl_port = free_ports(2)
    ends = [
        Endpoint("sink", f"127.0.0.1:{sink_port}", (LINK,)),
        Endpoint("reflector", f"127.0.0.1:{refl_port}", (LINK,)),
    ]
    engine = rig.sim.engine
    engine.profile = with_probe(engine.profile, LINK, sink_port, refl_port, 20, LOOPBACK_SLA)
    async with LinkProbesProcess.of(ends):
        await rig.stop_server()
        wall = wall_extension(media_dir=rig.config_path.parent / "media")
        app = create_app(engine, heartbeat_s=0.2, extensions=[wall, probe_extension()])
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        rig.runner, rig.port = runner, runner.addresses[0][1]
        yield rig


async def test_run_a_stamp_probe_and_export_it(prig: Rig, tmp_path: Path) -> None:
    app = prig.app("technik")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: LINK in app.state.links and app.ready, "links arrive")
        await pilot.press("colon", *"probe", "enter")
        view = app.query_one(ProbeView)
        links = view.query_one("#probe-links", OptionList)
        await until(pilot, lambda: links.option_count == len(app.state.links), "link list")
        assert links.region.height > 3 and view.query_one("#probe-body").region.width > 40
        links.highlighted = sorted(app.state.links).index(LINK)
        await pilot.press("s")
        await until(pilot, lambda: view.last is not None or view.error != "", "the result")
        assert view.error == "" and view.last is not None
        assert view.last.kind == "stamp" and view.last.result["replies"] == 100
        body = str(view.query_one("#probe-body", Static).render())
        assert "RTT ms: min" in body and "100/100 replies" in body
        assert view.series and all(v > 0 for v in view.series)  # progress from the stream
        # the link's proof in the engine
        assert prig.sim.engine.link_view(LINK)["proof"]["kind"] == "stamp"
        # another link has no result; back on this one, its latest comes from the engine
        first = view.last.id
        links.highlighted = sorted(app.state.links).index("fibre-fire")
        await until(pilot, lambda: view.last is None, "no result on fibre-fire")
        links.highlighted = sorted(app.state.links).index(LINK)
        await until(pilot, lambda: view.last is not None and view.last.id == first, "history")
        out = tmp_path / "stamp.json"
        await pilot.press("e")
        await until(pilot, lambda: app.screen.__class__.__name__ == "InputScreen", "path dialog")
        app.screen.query_one(Input).value = str(out)
        await pilot.press("enter")
        await until(pilot, out.exists, "the exported file")
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["kind"] == "stamp" and saved["target"] == LINK
    assert saved["result"]["rtt"]["mean_ms"] > 0


async def test_only_technicians_get_the_probe_view(prig: Rig) -> None:
    app = prig.app("police")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.ready, "role set up")
        assert "probe" not in app.views and not app.query(ProbeView)
