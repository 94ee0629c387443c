"""``apply --server`` and ``probe accept --server`` say what a lost connection means.

A real engine runs in a subprocess (the demo profile against the simulated fleet in
this process) and the CLI in another. The apply waits at "verifying" (the change cut
the converter's management path); then either the engine is SIGKILLed — the CLI says
the engine is unreachable and the apply's state unknown, and fails — or only the
CLI's connections are cut (a proxy between them) — the CLI finds the engine alive,
says the apply continues, follows it again and prints its report. The same for an
acceptance run through the engine: its request broken off, the CLI says whether the run
goes on in a live engine or its state is unknown.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from eventops_hardware.fleet import SimFleet

from eventops import probe
from eventops.api.client import EngineClient
from eventops.profile import load_profile
from tests.integration.enginekit import (
    DEVICE,
    REPO,
    TECH,
    engine_process,
    engine_profile,
    serve,
    until_verifying,
    vlans_over_restconf,
    wait_for,
)


class CuttableProxy:
    """A loopback TCP forwarder whose open connections the test can cut (a network
    blip between a client and the engine); new connections go through afterwards."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> int:
        """Abort every open connection both ways; how many there were."""
        pairs, self._pairs = self._pairs, set()
        for a, b in pairs:
            a.transport.abort()
            b.transport.abort()
        return len(pairs)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection(*self.target)
        pair = (writer, up_w)
        self._pairs.add(pair)
        for src, dst in ((reader, up_w), (up_r, writer)):
            task = asyncio.create_task(self._pipe(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            dst.transport.abort() if dst.transport.is_closing() else dst.close()


async def cli_apply(path: Path, url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eventops",
        "apply",
        str(path),
        "--yes",
        "--device",
        DEVICE,
        "--server",
        url,
        "--token",
        "env:EVO_T",
        cwd=REPO,
        env={**os.environ, "EVO_T": TECH},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def read_until(stream: asyncio.StreamReader, needle: str, seen: list[str]) -> str:
    """Lines of ``stream`` until one holds ``needle`` (that line)."""
    async with asyncio.timeout(60):
        while True:
            raw = await stream.readline()
            assert raw, f"ended before {needle!r}: {seen}"
            line = raw.decode(errors="replace")
            seen.append(line)
            if needle in line:
                return line


async def test_apply_server_says_engine_unreachable_when_the_engine_dies(tmp_path: Path) -> None:
    path, url = engine_profile(tmp_path)
    profile = load_profile(path)
    db = tmp_path / "event.sqlite3"
    async with SimFleet(profile) as fleet:
        sw = fleet.switch(DEVICE)
        cli: list[asyncio.subprocess.Process] = []
        try:
            async with (
                engine_process(*serve(path, db)) as engine,
                EngineClient(url, TECH, timeout_s=30) as api,
            ):

                async def start() -> None:
                    cli.append(await cli_apply(path, url))

                apply_id = await until_verifying(api, sw, start)
                engine.send_signal(signal.SIGKILL)
                await engine.wait()
                out, err = await asyncio.wait_for(cli[0].communicate(), 60)
        finally:
            sw.clear_faults()
            for p in cli:
                if p.returncode is None:
                    p.kill()
                    await p.wait()
        text = err.decode()
        assert cli[0].returncode == 6, (out, text)
        assert (
            f"engine unreachable; apply #{apply_id} state unknown until it returns "
            f"(then: GET /api/v1/provision/applies/{apply_id})"
        ) in text, text
        assert "goes on in the engine" not in text and "continues" not in text
        assert "Traceback" not in text
        assert await vlans_over_restconf(profile) == [110]  # left unconfirmed by the dead engine


async def test_apply_server_follows_on_when_only_the_stream_was_lost(tmp_path: Path) -> None:
    path, url = engine_profile(tmp_path)
    profile = load_profile(path)
    db = tmp_path / "event.sqlite3"
    host, port = url.removeprefix("http://").split(":")
    async with (
        SimFleet(profile) as fleet,
        engine_process(*serve(path, db)) as engine,
        EngineClient(url, TECH, timeout_s=30) as api,
        CuttableProxy(host, int(port)) as proxy,
    ):
        sw = fleet.switch(DEVICE)
        cli: list[asyncio.subprocess.Process] = []
        try:

            async def start() -> None:
                cli.append(await cli_apply(path, proxy.url))

            apply_id = await until_verifying(api, sw, start)
            proc = cli[0]
            assert proc.stderr is not None and proc.stdout is not None
            assert proxy.cut() >= 1  # the CLI's stream (and any idle connection) is gone
            seen: list[str] = []
            line = await read_until(proc.stderr, "engine alive", seen)
            assert f"engine alive; apply #{apply_id} continues" in line, seen
            assert engine.returncode is None
            sw.clear_faults()  # the converter answers again: the apply verifies and confirms
            out, err = await asyncio.wait_for(proc.communicate(), 60)
        finally:
            sw.clear_faults()
            for p in cli:
                if p.returncode is None:
                    p.kill()
                    await p.wait()
        text = "".join(seen) + err.decode()
        assert proc.returncode == 0, (out, text)
        assert f"{DEVICE}" in out.decode() and "1 applied" in out.decode(), out
        assert "unreachable" not in text and "Traceback" not in text
        assert await vlans_over_restconf(profile) == [110]  # confirmed, kept
        detail = await api.provision_apply_detail(apply_id)
        assert detail.state == "finished" and detail.results[0].result == "applied"


# -- probe accept --server ------------------------------------------------------------------

LINK = "fibre-police"


def probe_profile(path: Path, sink_port: int, refl_port: int) -> None:
    """fibre-police's probe at our far end, at 20 Mbit/s (light on a shared CI box)."""
    text = path.read_text(encoding="utf-8")
    old = 'probe = { reflector = "127.0.0.1:18862", sink = "127.0.0.1:18901" }'
    assert old in text
    text = text.replace(
        old, f'probe = {{ reflector = "127.0.0.1:{refl_port}", sink = "127.0.0.1:{sink_port}" }}'
    )
    text = re.sub(r"(id = \"fibre-police\"(?:\n[^\[]*?)capacity_mbps = )500", r"\g<1>20", text)
    assert "capacity_mbps = 20" in text
    path.write_text(text, encoding="utf-8")


async def cli_accept(url: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "eventops", "probe", "accept", LINK,
        "--steps", "50,100", "--step-time", "5", "--hold", "0", "--size", "1000",
        "--server", url, "--token", "env:EVO_T",
        cwd=REPO, env={**os.environ, "EVO_T": TECH},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def until_measuring(api: EngineClient, start: Callable[[], Awaitable[Any]]) -> None:
    """Run ``start`` (a client starting an acceptance of LINK); return once the engine
    reports the run's first step on its live stream."""
    opened = asyncio.Event()
    stepping = asyncio.Event()

    async def on_open() -> None:
        opened.set()

    async def follow() -> None:
        async for msg in api.stream_once(idle_timeout_s=None, on_open=on_open):
            if msg.type == "probe.progress" and msg.data.get("subject") == LINK:
                stepping.set()
                return

    follower = asyncio.create_task(follow())
    try:
        async with asyncio.timeout(60):
            await opened.wait()
        await start()
        async with asyncio.timeout(60):
            await stepping.wait()
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)


@pytest.mark.parametrize("lost", ["engine-killed", "connection-cut"])
async def test_probe_accept_server_says_what_a_lost_run_means(tmp_path: Path, lost: str) -> None:
    path, url = engine_profile(tmp_path)
    sink = await probe.start_sink("127.0.0.1", 0)
    refl = await probe.start_reflector("127.0.0.1", 0, stateful=True)
    probe_profile(path, sink.port, refl.port)
    host, port = url.removeprefix("http://").split(":")
    cli: list[asyncio.subprocess.Process] = []
    try:
        async with (
            SimFleet(load_profile(path)),
            engine_process(*serve(path, tmp_path / "e.sqlite3")) as engine,
            EngineClient(url, TECH, timeout_s=30) as api,
            CuttableProxy(host, int(port)) as proxy,
        ):

            async def start() -> None:
                cli.append(await cli_accept(proxy.url))

            await until_measuring(api, start)
            if lost == "engine-killed":
                engine.send_signal(signal.SIGKILL)
                await engine.wait()
            else:
                assert proxy.cut() >= 1
            out, err = await asyncio.wait_for(cli[0].communicate(), 60)
            text = err.decode()
            assert cli[0].returncode != 0, (out, text)
            where = f"GET /api/v1/probe/results?link={LINK}"
            if lost == "engine-killed":
                assert (
                    f"engine unreachable; the acceptance run on {LINK}: state unknown until it "
                    f"returns (then: {where})"
                ) in text, text
            else:
                assert engine.returncode is None
                assert (
                    f"engine alive; the acceptance run on {LINK} continues (its result: {where})"
                ) in text, text

                async def stored() -> bool:
                    return bool(await api.probe_results(LINK, kind="acceptance"))

                await wait_for(stored)  # and it did continue: its result is on record
            assert "Traceback" not in text
    finally:
        for p in cli:
            if p.returncode is None:
                p.kill()
                await p.wait()
        await sink.close()
        await refl.close()
