"""The Provision view against a real engine (provisioning mounted) and simulated devices."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from eventops.errors import ApiError
from eventops.provision.apply import ApplyOptions
from eventops.server.app import create_app
from eventops.server.provision import provision_extension
from eventops.server.wall import wall_extension
from eventops.tui.i18n import STRINGS
from eventops.tui.screens.provision import ProvisionScreen
from tests.e2e.tui.conftest import Rig, until


@pytest.fixture
async def prig(rig: Rig) -> AsyncIterator[Rig]:
    """The rig's engine behind a second server that also has provisioning mounted."""
    tmp = rig.config_path.parent
    prov = provision_extension(
        lock_dir=tmp / "locks",
        options=ApplyOptions(confirm_timeout_s=30.0, poll_s=0.05, recover_s=2.0),
    )
    wall = wall_extension(media_dir=tmp / "media2")
    runner = web.AppRunner(create_app(rig.sim.engine, heartbeat_s=0.2, extensions=[wall, prov]))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield Rig(rig.sim, runner.addresses[0][1], runner, rig.config_path)
    finally:
        await runner.cleanup()


def diff_text(screen: ProvisionScreen) -> str:
    return str(screen.query_one("#prov-diff").render())


async def test_plan_shows_the_diff_per_device_then_apply_with_progress(prig: Rig) -> None:
    app = prig.app("technik")
    async with app.run_test(size=(160, 48)) as pilot:
        await until(pilot, lambda: app.ready and app.connected, "connected")
        await pilot.press("colon", *"provision", "enter")
        await until(pilot, lambda: isinstance(app.screen, ProvisionScreen), "provision view")
        screen = app.screen
        assert isinstance(screen, ProvisionScreen)
        await until(pilot, lambda: screen.plan is not None, "the plan arrives")
        assert screen.plan is not None
        table = screen.query_one("#prov-devices")
        devices = [d.device for d in screen.plan.devices]
        assert set(devices) == {d.id for d in prig.sim.engine.profile.devices}
        # the fibre endpoint's VLAN change, coloured as a change
        table.move_cursor(row=devices.index("mc-police"))  # type: ignore[attr-defined]
        await until(pilot, lambda: "mc-police" in diff_text(screen), "mc-police diff shown")
        assert "~ interfaces.eth0.vlans: [] -> [110]" in diff_text(screen)
        # a mast: its new SSID added, the key only as a secret
        table.move_cursor(row=devices.index("mast-02"))  # type: ignore[attr-defined]
        await until(pilot, lambda: "mast-02" in diff_text(screen), "mast-02 diff shown")
        text = diff_text(screen)
        assert "+ wireless.evo_altstadtfest_staff_2g.key: (secret)" in text
        assert "eventops-demo" not in text
        # apply: a yes/no question (nothing dangerous), then per-device progress from the stream
        assert screen.plan.dangerous == []
        await pilot.press("a")
        await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", "question")
        await pilot.press("y")
        await until(
            pilot,
            lambda: screen.running is None and len(screen.results) == len(devices),
            "every device's result arrives and the apply ends",
            steps=2000,
        )
        assert set(screen.results) == set(devices)
        assert set(screen.results.values()) == {"applied"}
        assert set(screen.progress) == set(devices)  # each device's steps were shown
        assert str(table.get_cell("mast-02", "step")) == "applied"  # type: ignore[attr-defined]
        assert prig.sim.engine.maintenance == {}  # and each left maintenance again
        assert "applied" in str(screen.query_one("#prov-status").render())
        # the plan column follows without a key: planned again once the apply ended
        await until(
            pilot,
            lambda: screen.plan is not None and screen.plan.summary.change == 0,
            "the plan after the apply is empty",
            steps=800,
        )
        states = {str(table.get_cell(d, "state")) for d in devices}  # type: ignore[attr-defined]
        assert states == {"unchanged"}, states  # no stale "to change"
        assert str(table.get_cell("mast-02", "step")) == "applied"  # type: ignore[attr-defined]
        status = str(screen.query_one("#prov-status").render())
        assert "applied" in status and "0 to change" in status


async def test_authority_has_no_provision_view(prig: Rig) -> None:
    app = prig.app("police")
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.ready, "ready")
        await pilot.press("colon", *"provision", "enter")
        await pilot.pause()
        assert len(app.screen_stack) == 1
        assert not isinstance(app.screen, ProvisionScreen)


def test_plan_states_have_strings() -> None:
    for state in ("change", "unchanged", "unreachable", "error"):
        assert f"prov.state.{state}" in STRINGS


async def test_dangerous_apply_needs_the_typed_event_id_and_rollback(prig: Rig) -> None:
    engine = prig.sim.engine
    await engine.handover(
        "fibre-police", "police", "tester", force=True, reason="set-up: no probe here"
    )
    app = prig.app("technik")
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.ready and app.connected, "connected")
        await pilot.press("colon", *"provision", "enter")
        await until(pilot, lambda: isinstance(app.screen, ProvisionScreen), "provision view")
        screen = app.screen
        assert isinstance(screen, ProvisionScreen)
        await until(pilot, lambda: screen.plan is not None, "the plan arrives")
        assert screen.plan is not None
        assert {d.device for d in screen.plan.dangerous} == {"sw-core", "mc-police"}
        assert "dangerous" in str(screen.query_one("#prov-status").render())
        # a wrong phrase: the engine refuses, nothing is applied
        await pilot.press("a")
        await until(pilot, lambda: type(app.screen).__name__ == "InputScreen", "typed confirmation")
        await pilot.press(*"yes", "enter")
        await until(
            pilot,
            lambda: any("type the event id 'demo'" in n.message for n in app._notifications),
            "the refusal is shown",
        )
        assert await engine.store.list_applies() == []
        # the event id: the apply runs to its end
        await pilot.press("a")
        await until(pilot, lambda: type(app.screen).__name__ == "InputScreen", "typed confirmation")
        await pilot.press(*"demo", "enter")
        await until(
            pilot,
            lambda: screen.running is None and len(screen.results) == 7,
            "the apply ends",
            steps=2000,
        )
        first = (await engine.store.list_applies())[0].id
        # roll back to it: pick the recorded apply, type the event id
        await pilot.press("R")
        await until(pilot, lambda: type(app.screen).__name__ == "PickScreen", "pick an apply")
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ == "InputScreen", "typed confirmation")
        await pilot.press(*"demo", "enter")
        await until(
            pilot,
            lambda: len(screen.ended) == 2 and screen.running is None,
            "rollback ends",
            steps=2000,
        )
        assert first is not None and screen.status.startswith(f"#{first + 1}: ")
    rows = await engine.store.list_applies()
    assert [r.summary["kind"] for r in rows] == ["rollback", "apply"]
    assert rows[0].summary["rollback_of"] == first and rows[0].actor == "technik"


async def test_authority_gets_403_from_the_provision_api(prig: Rig) -> None:
    from eventops.tui.client import Api
    from eventops.tui.screens.provision import ProvisionApi

    api = Api(prig.url, "demo-police-token")
    try:
        with pytest.raises(ApiError) as err:
            await ProvisionApi(api).plan()
        assert err.value.status == 403
        with pytest.raises(ApiError) as err:
            await ProvisionApi(api).apply(None, "demo")
        assert err.value.status == 403
    finally:
        await api.close()
