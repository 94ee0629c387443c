"""``eventops demo`` with the terminal app: simulators, engine and TUI in one process."""

from __future__ import annotations

import io
from pathlib import Path

from eventops.cli.demo_cmd import DEMO_TOKEN
from eventops.demo import run_demo
from eventops.tui.app import EventOpsApp
from eventops.tui.client import Api
from eventops.tui.config import load_config
from tests.e2e.tui.conftest import TEST_CONFIG, until
from tests.integration.test_cli_engine import demo_copy


async def test_demo_runs_the_tui_against_its_engine(tmp_path: Path) -> None:
    path, api_port = demo_copy(tmp_path)
    cfg = tmp_path / "tui.toml"
    cfg.write_text(TEST_CONFIG)
    seen: dict[str, object] = {}

    async def ui(url: str) -> None:
        app = EventOpsApp(Api(url, DEMO_TOKEN), load_config(cfg))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.connected and len(app.state.devices) == 7, "live")
            await until(
                pilot, lambda: all(d.reachable for d in app.state.devices.values()), "polled"
            )
            seen["url"] = url
            seen["role"] = app.role

    out = io.StringIO()
    code = await run_demo(
        duration=None,
        headless=False,
        listen=f"127.0.0.1:{api_port}",
        db=None,
        out=out,
        profile_path=path,
        ui=ui,
    )
    assert code == 0
    assert seen == {"url": f"http://127.0.0.1:{api_port}", "role": "technician"}
    text = out.getvalue()
    assert "engine API on" in text and "--- eventops demo" in text
    assert "FAULT:" not in text  # the live log stays off while the app owns the terminal
