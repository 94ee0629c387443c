"""The Pulse shows a running probe to technicians, and forgets it when it ends."""

from __future__ import annotations

import asyncio

import aiohttp

from eventops.tui.screens.pulse import PulseView
from tests.e2e.tui.conftest import TOKENS, Rig, until
from tests.e2e.tui.test_probe import LINK, prig

__all__ = ["prig"]


async def test_pulse_shows_a_running_probe(prig: Rig) -> None:
    app = prig.app("technik")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.ready and app.connected, "connected")
        pulse = app.query_one(PulseView)
        assert "Probe running" not in str(pulse.render())
        async with aiohttp.ClientSession() as http:
            run = asyncio.create_task(
                http.post(
                    f"{prig.url}/api/v1/probe/throughput",
                    headers={"Authorization": f"Bearer {TOKENS['technik']}"},
                    # long enough that a busy host still shows it: the progress event, the
                    # activity request and a repaint all happen while it runs
                    json={"link": LINK, "rate": "2M", "duration": 6, "size": 500},
                )
            )
            await until(pilot, lambda: "Probe running" in str(pulse.render()), "probe shown")
            line = next(ln for ln in str(pulse.render()).splitlines() if "Probe running" in ln)
            assert "throughput" in line and LINK in line and "technik" in line
            resp = await run
            assert resp.status == 200, await resp.text()
            resp.release()
        await until(pilot, lambda: "Probe running" not in str(pulse.render()), "probe gone")
        assert app.state.running_probes == ()


async def test_authority_pulse_has_no_activity(prig: Rig) -> None:
    app = prig.app("police")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.ready and app.connected, "connected")
        async with aiohttp.ClientSession() as http:
            resp = await http.post(
                f"{prig.url}/api/v1/probe/throughput",
                headers={"Authorization": f"Bearer {TOKENS['technik']}"},
                json={"link": LINK, "rate": "2M", "duration": 1.0, "size": 500},
            )
            assert resp.status == 200  # ran on the police's own link, start to end
            resp.release()
            for who, code in (("police", 403), ("technik", 200)):
                async with http.get(
                    f"{prig.url}/api/v1/probe/running",
                    headers={"Authorization": f"Bearer {TOKENS[who]}"},
                ) as r:
                    assert r.status == code
                    if code == 200:
                        assert await r.json() == []
        await pilot.pause(0.2)
        assert app.state.running_apply is None and app.state.running_probes == ()
        assert "Probe running" not in str(app.query_one(PulseView).render())
