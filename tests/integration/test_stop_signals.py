"""``eventops serve`` and ``eventops demo`` stop cleanly on SIGTERM and SIGINT, also when
started in the background (where a shell sets SIGINT to "ignore"): a summary, the store
closed (SQLite's WAL file checkpointed away), exit 0, no traceback."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from .test_cli_engine import EVENTOPS, demo_copy


def _as_background_job() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # what `cmd &` in a script does


async def _start(args: list[str], background: bool) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *EVENTOPS,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_as_background_job if background else None,
    )


async def _until_line(proc: asyncio.subprocess.Process, prefix: str) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(60):
        while True:
            raw = await proc.stdout.readline()
            assert raw, f"ended before {prefix!r}: {lines}"
            lines.append(raw.decode())
            if lines[-1].startswith(prefix):
                return lines


async def _stop(proc: asyncio.subprocess.Process, sig: signal.Signals) -> tuple[int, str, str]:
    assert proc.stdout is not None and proc.stderr is not None
    proc.send_signal(sig)
    async with asyncio.timeout(60):
        out, err = await asyncio.gather(proc.stdout.read(), proc.stderr.read())
        code = await proc.wait()
    return code, out.decode(), err.decode()


CASES = [
    (signal.SIGTERM, False),
    (signal.SIGINT, False),
    (signal.SIGINT, True),
    (signal.SIGTERM, True),
]


@pytest.mark.parametrize(("sig", "background"), CASES)
async def test_serve_stops_cleanly(tmp_path: Path, sig: signal.Signals, background: bool) -> None:
    path, _ = demo_copy(tmp_path)
    db = tmp_path / "serve.sqlite3"
    proc = await _start(["serve", str(path), "--db", str(db)], background)
    try:
        await _until_line(proc, "eventops: serving ")
        assert await asyncio.to_thread(Path(f"{db}-wal").exists)  # open, in WAL mode
        code, out, err = await _stop(proc, sig)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0, (out, err)
    assert f"eventops: stopped by {sig.name} after " in out and f"store {db} closed" in out
    assert "Traceback" not in err
    assert not await asyncio.to_thread(Path(f"{db}-wal").exists)  # the last connection closed


@pytest.mark.parametrize(("sig", "background"), CASES)
async def test_demo_stops_cleanly_with_a_summary(
    tmp_path: Path, sig: signal.Signals, background: bool
) -> None:
    path, api = demo_copy(tmp_path)
    db = tmp_path / "demo.sqlite3"
    args = ["demo", "--headless", "--duration", "600", "--profile", str(path), "--db", str(db)]
    proc = await _start([*args, "--listen", f"127.0.0.1:{api}"], background)
    try:
        await _until_line(proc, "eventops demo: ")
        code, out, err = await _stop(proc, sig)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0, (out, err)
    assert f"eventops demo: stopped by {sig.name}" in out
    assert "--- eventops demo: " in out and "polls: " in out  # the summary
    assert out.rstrip().endswith("eventops demo: store closed")
    assert "Traceback" not in err and "interrupted" not in err
    assert not await asyncio.to_thread(Path(f"{db}-wal").exists)
