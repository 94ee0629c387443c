"""The handover from the TUI (technicians): pick the authority, confirm, the engine decides."""

from __future__ import annotations

from datetime import timedelta

from eventops.store.models import ApplyDeviceRow, ApplyRow, ProbeResultRow
from eventops.tui.dialogs import ConfirmScreen, PickScreen
from eventops.tui.screens.detail import DetailScreen
from eventops.tui.screens.links import LinksTable
from tests.e2e.tui.conftest import Rig, until


async def prove(rig: Rig, link: str = "fibre-police") -> None:
    """A passing acceptance of the link, as `eventops probe accept` stores it."""
    await rig.sim.store.add_probe_result(
        ProbeResultRow(
            ts=rig.sim.clock.now(),
            target=link,
            kind="acceptance",
            passed=True,
            result={"throughput_mbps": 480.0, "steps": [], "outcome": "passed"},
        )
    )


async def open_handover(app: object, pilot: object, link: str = "fibre-police") -> None:
    from textual.pilot import Pilot

    from eventops.tui.app import EventOpsApp

    assert isinstance(app, EventOpsApp) and isinstance(pilot, Pilot)
    await until(pilot, lambda: app.ready and link in app.state.links, "live")
    await pilot.press("colon", *"links", "enter")
    table = app.query_one("#links", LinksTable)
    await until(pilot, lambda: table.row_count == 3, "links")
    table.move_cursor(row=table.get_row_index(link))
    await pilot.press("h")
    await until(pilot, lambda: isinstance(app.screen, PickScreen), "authority picker")
    await pilot.press("enter")  # the link's only authority
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")


async def test_handover_refused_shows_the_engines_reason(rig: Rig) -> None:
    await prove(rig)
    await rig.sim.fleet.switch("mc-police").set_unreachable(True)
    await rig.sim.to(40)
    app = rig.app("technik")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_handover(app, pilot)
        await pilot.press("y")
        await until(pilot, lambda: bool(app.last_handover_error), "refused")
        assert "409" in app.last_handover_error or "mc-police" in app.last_handover_error
        assert "mc-police" in app.last_handover_error
        notes = [str(n.message) for n in app._notifications]
        assert any("mc-police" in n for n in notes)
        assert any(n.title == "Handover refused" for n in app._notifications)
    assert await rig.sim.store.list_handovers() == []


async def test_handover_with_proof_is_recorded_and_declining_does_nothing(rig: Rig) -> None:
    await prove(rig)
    await rig.sim.to(20)
    app = rig.app("technik")
    async with app.run_test(size=(80, 24)) as pilot:
        await open_handover(app, pilot)
        await pilot.press("n")
        await until(pilot, lambda: len(app.screen_stack) == 1, "declined")
        assert await rig.sim.store.list_handovers() == []
        # from the link's detail this time
        table = app.query_one("#links", LinksTable)
        table.move_cursor(row=table.get_row_index("fibre-police"))
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "link detail")
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, PickScreen), "authority picker")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        await pilot.press("y")
        await until(
            pilot,
            lambda: app.state.links["fibre-police"].handed_to == "police",
            "handed over (seen on the stream)",
        )
        assert app.last_handover_error == ""
    [row] = await rig.sim.store.list_handovers()
    assert (row.link, row.authority, row.actor) == ("fibre-police", "police", "technik")
    assert row.record["acceptance"]["passed"] is True


async def test_authority_has_no_handover_key(rig: Rig) -> None:
    app = rig.app("police")
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.ready and app.state.links, "live")
        await pilot.press("colon", *"links", "enter")
        table = app.query_one("#links", LinksTable)
        await until(pilot, lambda: table.row_count == 1, "links")
        await pilot.press("h")
        await pilot.pause()
        assert not isinstance(app.screen, PickScreen)
        assert "h" not in table._bindings.key_to_bindings


async def test_refusal_without_proof_is_in_the_apps_language(rig: Rig) -> None:
    """The engine sends its reason as a message id too: the German app says it in German,
    the time of the test in the event's zone; the API keeps the English for scripts."""
    import aiohttp

    from tests.e2e.tui.conftest import TOKENS

    await prove(rig, "fibre-police")
    await rig.sim.to(15)
    apply = await rig.sim.store.record_apply(*_apply(rig, "mc-police"))
    await rig.sim.to(20)
    app = rig.app("technik", 'language = "de"')
    async with app.run_test(size=(80, 24)) as pilot:
        await open_handover(app, pilot)
        await pilot.press("y")
        await until(pilot, lambda: bool(app.last_handover_error), "refused")
    why = app.last_handover_error
    assert why.startswith("fibre-police nicht übergeben: kein Nachweis (die letzte Abnahme (Nr. ")
    assert f"Anwenden Nr. {apply} hat mc-police geändert (angewendet) um " in why
    assert " CEST)" in why or " CET)" in why
    assert "not handed over" not in why
    assert await rig.sim.store.list_handovers() == []
    headers = {"Authorization": f"Bearer {TOKENS['technik']}"}
    async with aiohttp.ClientSession() as http:
        url = f"{rig.url}/api/v1/links/fibre-police/handover"
        async with http.post(url, json={"to": "police"}, headers=headers) as resp:
            body = await resp.json()
    assert resp.status == 409 and body["error"]["msg_id"] == "handover.unproven"
    assert body["error"]["message"].startswith("fibre-police not handed over: no proof (")
    assert body["error"]["params"]["problem"]["msg_id"] == "proof.older"


def _apply(rig: Rig, device: str) -> tuple[ApplyRow, list[ApplyDeviceRow]]:
    now = rig.sim.clock.now()
    row = ApplyRow(
        started_at=now - timedelta(seconds=3),
        finished_at=now,
        actor="anna",
        summary={"kind": "apply", "devices": [device]},
    )
    return row, [ApplyDeviceRow(device=device, result="applied")]
