"""The wall view and announcements against the real engine with the wall mounted."""

from __future__ import annotations

from eventops.server.wall import WALL
from eventops.tui.app import EventOpsApp
from eventops.tui.dialogs import ConfirmScreen, PickScreen
from eventops.tui.safe import strip_control
from eventops.tui.screens.wall import WallTable
from tests.e2e.tui.conftest import Rig, until
from tests.e2e.tui.test_pilot import bound_actions

MODERATION = {
    "app.wall_approve",
    "app.wall_reject",
    "app.wall_pin",
    "app.wall_take_down",
    "app.wall_block",
    "app.wall_undo",
}


async def state_of(rig: Rig, pid: str) -> str:
    row = await rig.sim.store.get_post(pid)
    assert row is not None
    return row.state


async def open_wall(app: EventOpsApp, pilot: object, rows: int) -> WallTable:
    from textual.pilot import Pilot

    assert isinstance(pilot, Pilot)
    await until(pilot, lambda: app.ready and "wall" in app.views, "wall view mounted")
    if app.current != "wall":
        await pilot.press("colon", *"wall", "enter")
    table = app.query_one(WallTable)
    await until(pilot, lambda: table.row_count == rows, f"{rows} post(s) in the queue")
    return table


async def test_approve_leaves_the_queue_and_undo_brings_it_back(rig: Rig) -> None:
    await rig.add_post("replay:1", "Schönes Fest!", "replay:anna")
    await rig.add_post("replay:2", "Wo ist die Bühne?", "replay:ben")
    app = rig.app("comms")
    async with app.run_test(size=(120, 36)) as pilot:
        table = await open_wall(app, pilot, 2)
        assert app.current == "wall"  # comms land on the wall
        assert "wall: 2 pending" in str(app.top_text())
        table.move_cursor(row=table.get_row_index("replay:1"))
        await pilot.pause()
        preview = app.query_one("#wall-preview")
        await until(pilot, lambda: "Schönes Fest!" in str(preview.render()), "preview")
        assert "mode: pre-moderation" in str(preview.render())
        await pilot.press("a")
        await until(pilot, lambda: "replay:1" not in table._order, "approved post left")
        assert await state_of(rig, "replay:1") == "approved"
        assert "replay:1" in rig.runner.app[WALL].hub.posts  # type: ignore[union-attr]
        assert "wall: 1 pending" in str(app.top_text())
        await pilot.press("u")
        await until(pilot, lambda: "replay:1" in table._order, "undo brings it back")
        assert await state_of(rig, "replay:1") == "pending"


async def test_bulk_approve_marked_rows(rig: Rig) -> None:
    for i in range(3):
        await rig.add_post(f"replay:{i}", f"Beitrag {i}", f"replay:user{i}")
    app = rig.app("comms")
    async with app.run_test(size=(120, 36)) as pilot:
        table = await open_wall(app, pilot, 3)
        table.move_cursor(row=table.get_row_index("replay:0"))
        await pilot.press("space")
        table.move_cursor(row=table.get_row_index("replay:2"))
        await pilot.press("space")
        assert table.marked == {"replay:0", "replay:2"}
        await pilot.press("a")
        await until(pilot, lambda: table._order == ["replay:1"], "both marked posts left")
        assert [await state_of(rig, f"replay:{i}") for i in range(3)] == [
            "approved",
            "pending",
            "approved",
        ]
        assert not table.marked
        # a post the pipeline queues while the view is open shows up by itself
        await rig.add_post("replay:new", "Gerade angekommen", "replay:carla")
        await until(pilot, lambda: "replay:new" in table._order, "new post polled in")
        assert "wall: 2 pending" in str(app.top_text())


async def test_take_down_and_block_author(rig: Rig) -> None:
    await rig.add_post("replay:ok", "Tolle Musik", "replay:anna", state="approved")
    await rig.add_post("replay:bad", "Kauft spamcoin", "replay:spammer", state="approved")
    await rig.add_post("replay:bad2", "noch mehr", "replay:spammer")
    app = rig.app("comms")
    async with app.run_test(size=(120, 36)) as pilot:
        table = await open_wall(app, pilot, 1)  # pending: only bad2
        await pilot.press("v")  # approved
        await until(pilot, lambda: set(table._order) == {"replay:ok", "replay:bad"}, "approved")
        table.move_cursor(row=table.get_row_index("replay:bad"))
        await pilot.press("t")
        await until(pilot, lambda: table._order == ["replay:ok"], "taken down")
        assert await state_of(rig, "replay:bad") == "taken_down"
        assert "replay:bad" not in rig.runner.app[WALL].hub.posts  # type: ignore[union-attr]
        await pilot.press("v")  # all
        await until(pilot, lambda: len(table._order) == 3, "all posts")
        table.move_cursor(row=table.get_row_index("replay:bad2"))
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "block confirmation")
        await pilot.press("y")
        await until(
            pilot, lambda: "hidden" in str(table.get_cell("replay:bad2", "state")), "blocked"
        )
        assert await state_of(rig, "replay:bad2") == "hidden"
        blocks = await rig.sim.store.list_author_blocks()
        assert [b.author for b in blocks] == ["replay:spammer"]


async def test_technician_sees_the_queue_read_only(rig: Rig) -> None:
    await rig.add_post("replay:1", "Hallo", "replay:anna")
    app = rig.app("technik")
    async with app.run_test(size=(120, 36)) as pilot:
        table = await open_wall(app, pilot, 1)
        bound = bound_actions(app)
        assert not bound & MODERATION
        assert not bound & {"announce", "withdraw", "pause_wall"}
        assert "app.ack" in bound  # its own mutations are still there
        await pilot.press("a", "t", "n")
        await pilot.pause()
        assert len(app.screen_stack) == 1
        assert await state_of(rig, "replay:1") == "pending"
        assert table.row_count == 1
        assert "🔒" not in str(app.top_text()) and "wall: 1 pending" in str(app.top_text())


async def test_authority_only_announces(rig: Rig) -> None:
    await rig.add_post("replay:1", "Hallo", "replay:anna")
    app = rig.app("police")
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.ready and app.state.templates, "templates known")
        assert "wall" not in app.views
        bound = bound_actions(app)
        assert {"announce", "withdraw"} <= bound
        assert not bound & MODERATION and "pause_wall" not in bound
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, PickScreen), "template picker")
        await pilot.press("down", "enter")  # the second template: storm
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        await pilot.press("y")
        await until(pilot, lambda: "Severe weather warning" in str(app.top_text()), "in the header")
        hub = rig.runner.app[WALL].hub  # type: ignore[union-attr]
        assert hub.announcement is not None and hub.announcement["issued_by"] == "polizei-lage"
        pulse = app.query_one("#pulse")
        await until(pilot, lambda: "Severe weather warning" in str(pulse.render()), "pulse")
        assert "wall queue" not in str(pulse.render())  # the queue is not theirs
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        await pilot.press("y")
        await until(pilot, lambda: "📣" not in str(app.top_text()), "withdrawn")
        assert hub.announcement is None


async def test_comms_announce_and_pause(rig: Rig) -> None:
    app = rig.app("comms", config='language = "de"\n')
    async with app.run_test(size=(120, 36)) as pilot:
        await open_wall(app, pilot, 0)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, PickScreen), "template picker")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "confirmation")
        await pilot.press("j")
        await until(pilot, lambda: "Bitte Marktplatz räumen" in str(app.top_text()), "header")
        await pilot.press("P")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "pause confirmation")
        await pilot.press("j")
        hub = rig.runner.app[WALL].hub  # type: ignore[union-attr]
        await until(pilot, lambda: hub.paused is not None, "paused on the server")
        await until(pilot, lambda: "pausiert" in str(app.top_text()), "pause in the header")


HOSTILE = [
    ("replay:h1", "[@click=app.quit]click me[/]", "replay:[bold]mallory[/bold]"),
    ("replay:h2", "[bold red]ALARM[/] \x1b[31mred\x1b[0m\x07 bell", "replay:eve"),
    ("replay:h3", "evil \u202etxt.exe [link=https://x.invalid]x[/link]", "replay:trudy"),
]


async def test_hostile_posts_render_literally(rig: Rig) -> None:
    for pid, text, author in HOSTILE:
        await rig.add_post(pid, text, author, author_name=author.split(":", 1)[1])
    app = rig.app("comms")
    async with app.run_test(size=(160, 40)) as pilot:
        table = await open_wall(app, pilot, 3)
        assert str(table.get_cell("replay:h1", "text")) == "[@click=app.quit]click me[/]"
        assert str(table.get_cell("replay:h1", "author")) == "[bold]mallory[/bold]"
        assert str(table.get_cell("replay:h2", "text")) == "[bold red]ALARM[/] [31mred[0m bell"
        preview = app.query_one("#wall-preview")
        for pid, text, _ in HOSTILE:
            table.move_cursor(row=table.get_row_index(pid))
            literal = strip_control(text)

            def on_screen(s: str = literal) -> bool:
                return s in str(preview.render())

            await until(pilot, on_screen, f"{pid} literal")
            shown = str(preview.render())
            assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
        assert "[link=https://x.invalid]x[/link]" in str(preview.render())
        table.move_cursor(row=table.get_row_index("replay:h1"))
        await until(pilot, lambda: "[bold]mallory[/bold]" in str(preview.render()), "author")
        # clicking the would-be link does nothing: the app still runs
        await pilot.click("#wall-preview")
        await pilot.pause()
        assert app.is_running
