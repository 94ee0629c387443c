"""The Provision view tells the truth when its live stream is lost during an apply (issue 19).

The terminal app reaches the engine through a loopback proxy the test
controls. An apply runs (the simulators hold every answer on the fake clock,
so it stays running for as long as the test wants); then

- only the live stream is cut, and new streams are refused while everything
  else goes through: the view says the engine is alive and the apply continues;
- the engine is unreachable altogether (the proxy's port closed): the view says
  so, and that the apply's state is unknown until it returns;
- meanwhile the apply ends in the engine; the engine is reachable again: the
  view learns the apply's end and its results, and plans again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from eventops.provision.apply import ApplyOptions
from eventops.server.app import create_app
from eventops.server.provision import provision_extension
from eventops.server.wall import wall_extension
from eventops.tui.app import EventOpsApp
from eventops.tui.client import Api
from eventops.tui.config import load_config
from eventops.tui.screens.provision import ProvisionScreen
from tests.e2e.tui.conftest import TOKENS, Rig, until

STREAM = b"GET /api/v1/stream"


class Gate:
    """A loopback TCP proxy to the engine that can refuse live streams (``streams``
    False: such a connection is dropped), drop everything open, or be down (its port
    closed: connection refused) and come back up on the same port."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = 0
        self.streams = True
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
        self._server = None
        self.cut()

    def cut(self) -> None:
        for w in list(self._open):
            w.transport.abort()
        self._open.clear()

    async def close(self) -> None:
        if self._server is not None:
            await self.down()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, up_w}
        for src, dst, upward in ((reader, up_w, True), (up_r, writer, False)):
            t = asyncio.create_task(self._pipe(src, dst, upward, (writer, up_w)))
            self._tasks.add(t)
            t.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        src: asyncio.StreamReader,
        dst: asyncio.StreamWriter,
        upward: bool,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        try:
            while data := await src.read(65536):
                if upward and not self.streams and STREAM in data:
                    break  # a new live stream (on a fresh or a kept-alive connection): refused
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            for w in pair:
                w.transport.abort()
                self._open.discard(w)


@pytest.fixture
async def prig(rig: Rig) -> AsyncIterator[Rig]:
    """The rig's engine behind a server with provisioning mounted."""
    tmp = rig.config_path.parent
    prov = provision_extension(
        lock_dir=tmp / "locks",
        # a request held on the fake clock still has a timeout on the wall clock: far above
        # what the held phases take on a busy host
        options=ApplyOptions(
            confirm_timeout_s=30.0, poll_s=0.05, recover_s=2.0, device_timeout_s=120.0
        ),
    )
    wall = wall_extension(media_dir=tmp / "media2")
    runner = web.AppRunner(create_app(rig.sim.engine, heartbeat_s=0.2, extensions=[wall, prov]))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield Rig(rig.sim, runner.addresses[0][1], runner, rig.config_path)
    finally:
        await runner.cleanup()


def status(screen: ProvisionScreen) -> str:
    return str(screen.query_one("#prov-status").render())


async def test_provision_view_says_whether_the_engine_is_alive_when_the_stream_is_lost(
    prig: Rig,
) -> None:
    engine, clock = prig.sim.engine, prig.sim.clock
    sims = [*prig.sim.fleet.masts.values(), *prig.sim.fleet.switches.values()]
    gate = Gate(prig.port)
    await gate.up()
    app = EventOpsApp(Api(f"http://127.0.0.1:{gate.port}", TOKENS["technik"]),
                      load_config(prig.config_path))  # fmt: skip
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.ready and app.connected, "connected")
            await pilot.press("colon", *"provision", "enter")
            await until(pilot, lambda: isinstance(app.screen, ProvisionScreen), "provision")
            screen = app.screen
            assert isinstance(screen, ProvisionScreen)
            await until(pilot, lambda: screen.plan is not None, "the plan arrives")
            assert screen.plan is not None and screen.plan.summary.change > 0
            # from here every device answer waits for the fake clock: the apply stays running
            for sim in sims:
                sim.lag_s = 0.5
            await pilot.press("a")
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", "question")
            await pilot.press("y")
            for _ in range(400):  # answers come one clock step at a time until it has started
                if screen.running is not None:
                    break
                await clock.advance(0.5)
                await pilot.pause(0.02)
            apply_id = screen.running
            assert apply_id is not None
            assert engine.provision is not None and engine.provision.run is not None
            assert engine.provision.run.apply_id == apply_id

            # 1. only the live stream is lost (and refused): the engine is alive, the apply goes on
            gate.streams = False
            gate.cut()
            await until(
                pilot,
                lambda: "engine alive" in status(screen),
                "the view says the engine is alive",
            )
            text = status(screen)
            assert f"apply #{apply_id} continues" in text, text
            assert "unknown" not in text
            assert app.alive is True and not app.connected

            # 2. the engine is unreachable: its state is unknown, and the view says so
            await gate.down()
            await until(
                pilot, lambda: "engine unreachable" in status(screen), "the view says unreachable"
            )
            text = status(screen)
            assert f"apply #{apply_id} state unknown until it returns" in text, text
            assert f"127.0.0.1:{gate.port}" in text
            assert screen.running == apply_id  # not reported as ended, nor as going on

            # 3. meanwhile the apply ends in the engine; then the engine is reachable again
            for sim in sims:
                sim.lag_s = 0.0
            run = engine.provision.run
            for _ in range(400):
                if run.task.done():
                    break
                await clock.advance(0.5)
                await asyncio.sleep(0.01)
            assert run.task.done() and run.task.result().ok
            gate.streams = True
            await gate.up()
            await until(
                pilot,
                lambda: screen.running is None and apply_id in screen.ended,
                "the view learns the apply's end",
                steps=1000,
            )
            text = status(screen)
            assert f"#{apply_id}" in text and "unknown" not in text, text
            assert set(screen.results.values()) == {"applied"}, screen.results
            await until(
                pilot,
                lambda: screen.plan is not None and screen.plan.summary.change == 0,
                "planned again: nothing left to change",
                steps=1000,
            )
    finally:
        await gate.close()
