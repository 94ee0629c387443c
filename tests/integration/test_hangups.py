"""Clients that hang up leave no traceback in the engine's log (issue 19).

A real ``eventops serve`` (the demo profile against the simulated fleet in
this process) is left by every kind of client that goes away without saying
goodbye, while events flow: live-stream clients reset mid-write (one that
stopped reading, so the engine sits in a blocked write when the reset comes),
the terminal app killed with SIGKILL, and the equivalent of ``curl`` stopped
with ^C on the status page, the wall display page and its stream. Then the
engine is stopped with SIGTERM: its whole log has no traceback and no
"Error handling request", and it still answered everyone else throughout.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import struct
import sys
from collections.abc import Awaitable
from pathlib import Path

import aiohttp
from eventops_hardware.fleet import SimFleet

from eventops.profile import load_profile
from tests.integration.enginekit import (
    REPO,
    TECH,
    engine_process,
    engine_profile,
    serve,
    wait_for,
)

POLICE = "demo-police-token"
TUI_CONFIG = 'language = "en"\ntimezone = "UTC"\nrefresh_s = 0.1\nbackoff_s = [0.2, 0.5]\n'
BAD = ("Traceback", "Error handling request", "exception was never retrieved", "Exception ignored")


async def raw_get(
    port: int, path: str, token: str | None = None, *, rcvbuf: int | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A bare HTTP/1.1 GET on its own socket (a small receive buffer when asked)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Accept: */*\r\n\r\n".encode()
    )
    await writer.drain()
    return reader, writer


def reset(writer: asyncio.StreamWriter) -> None:
    """Hang up hard: RST, as a killed process or ^C on a half-read answer does."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _is_zero(value: Awaitable[float]) -> bool:
    return await value == 0


async def read_some(reader: asyncio.StreamReader, needle: bytes) -> bytes:
    got = b""
    async with asyncio.timeout(30):
        while needle not in got:
            chunk = await reader.read(4096)
            assert chunk, got[-300:]
            got += chunk
    return got


async def test_clients_hanging_up_leave_no_traceback_in_the_engine_log(tmp_path: Path) -> None:
    path, url = engine_profile(tmp_path)
    port = int(url.rsplit(":", 1)[1])
    profile = load_profile(path)
    event = profile.event.id
    cfg = tmp_path / "tui.toml"
    cfg.write_text(TUI_CONFIG)
    tech = {"Authorization": f"Bearer {TECH}"}
    async with (
        SimFleet(profile),
        engine_process(*serve(path, tmp_path / "hangup.sqlite3")) as engine,
        aiohttp.ClientSession() as http,
    ):
        assert engine.stderr is not None
        log = bytearray()

        async def drain_log() -> None:  # keep reading, or a full pipe would block the engine
            assert engine.stderr is not None
            while chunk := await engine.stderr.read(65536):
                log.extend(chunk)

        logger = asyncio.create_task(drain_log())
        devices = [d.id for d in profile.devices]
        writes = 0

        async def burst(n: int) -> None:
            """Audited writes, each a few live-stream events."""
            nonlocal writes
            for _ in range(n):
                dev = devices[writes % len(devices)]
                async with http.post(
                    f"{url}/api/v1/devices/{dev}/maintenance",
                    json={"on": writes % 2 == 0, "note": "hang-up test"},
                    headers=tech,
                ) as r:
                    assert r.status == 200, await r.text()
                writes += 1

        # live-stream clients, reset while events flow; one no longer reads (a blocked write)
        streams = [await raw_get(port, "/api/v1/stream", TECH) for _ in range(6)]
        stuck = await raw_get(port, "/api/v1/stream", TECH, rcvbuf=2048)
        for reader, _ in streams:
            await read_some(reader, b"event: snapshot")
        await read_some(stuck[0], b"text/event-stream")
        await burst(60)  # the stuck client's buffers fill; the engine waits on its write
        for k, (_, writer) in enumerate(streams):
            reset(writer)
            if k % 2:
                await burst(2)
        reset(stuck[1])

        # the terminal app, killed
        tui = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.helpers.tui_child", url, TECH, str(cfg),
            cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            assert tui.stdout is not None
            async with asyncio.timeout(60):
                line = await tui.stdout.readline()
            assert line.strip() == b"connected", line
            await burst(10)
        finally:
            tui.send_signal(signal.SIGKILL)
            await tui.wait()

        # curl ^C: the status page, the wall display and its stream, reset half-read
        for target, token, needle in (
            (f"/status?token={POLICE}", None, b"HTTP/1.1 200"),
            (f"/wall/{event}", None, b"HTTP/1.1 200"),
            (f"/wall/{event}/stream", None, b"event: snapshot"),
            ("/api/v1/timeline?limit=1000", TECH, b"HTTP/1.1 200"),
            ("/api/v1/stream", TECH, b"event: snapshot"),
        ):
            for _ in range(3):
                reader, writer = await raw_get(port, target, token, rcvbuf=2048)
                await read_some(reader, needle)
                reset(writer)
            for _ in range(3):  # and some that hang up before reading anything
                _, writer = await raw_get(port, target, token)
                reset(writer)
        await burst(10)

        # everyone else was served all along, and the engine still answers
        async with http.get(f"{url}/api/v1/devices", headers=tech) as r:
            assert r.status == 200

        async def streams_open() -> float:
            async with http.get(f"{url}/metrics", headers=tech) as r:
                text = await r.text()
            (line,) = [ln for ln in text.splitlines() if ln.startswith("eventops_stream_clients ")]
            return float(line.split()[1])

        # every hung-up stream ended in the engine, the one stuck in a write too
        await wait_for(lambda: _is_zero(streams_open()))
        engine.send_signal(signal.SIGTERM)
        async with asyncio.timeout(60):
            await engine.wait()
            await logger
    text = log.decode(errors="replace")
    assert engine.returncode == 0, text[-3000:]
    for bad in BAD:
        assert bad not in text, text[-4000:]
